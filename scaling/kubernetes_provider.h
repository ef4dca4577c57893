// placeholder: being written
#pragma once
#include <memory>
#include "scaling/provider.h"
namespace tg::scaling {
std::unique_ptr<Provider> make_kubernetes_provider(const ProviderSpec& spec, const ProviderContext& context);
}  // namespace tg::scaling
