// placeholder: being written
#include "scaling/aws_provider.h"
#include <stdexcept>
namespace tg::scaling {
std::unique_ptr<Provider> make_aws_provider(const ProviderSpec&, const ProviderContext&) {
  throw std::invalid_argument("provider \"aws\" is not available yet");
}
}  // namespace tg::scaling
