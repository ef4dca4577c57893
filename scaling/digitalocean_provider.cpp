// placeholder: being written
#include "scaling/digitalocean_provider.h"
#include <stdexcept>
namespace tg::scaling {
std::unique_ptr<Provider> make_digitalocean_provider(const ProviderSpec&, const ProviderContext&) {
  throw std::invalid_argument("provider \"digitalocean\" is not available yet");
}
}  // namespace tg::scaling
