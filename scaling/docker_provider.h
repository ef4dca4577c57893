// placeholder: being written
#pragma once
#include <memory>
#include "scaling/provider.h"
namespace tg::scaling {
std::unique_ptr<Provider> make_docker_provider(const ProviderSpec& spec, const ProviderContext& context);
}  // namespace tg::scaling
