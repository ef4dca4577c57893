// placeholder: being written
#include "scaling/docker_provider.h"
#include <stdexcept>
namespace tg::scaling {
std::unique_ptr<Provider> make_docker_provider(const ProviderSpec&, const ProviderContext&) {
  throw std::invalid_argument("provider \"docker\" is not available yet");
}
}  // namespace tg::scaling
