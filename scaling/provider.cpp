// The provider factory and what every adapter's parameters share.
#include "scaling/provider.h"

#include <charconv>
#include <stdexcept>

#include "scaling/aws_provider.h"
#include "scaling/digitalocean_provider.h"
#include "scaling/docker_provider.h"
#include "scaling/exec_provider.h"
#include "scaling/kubernetes_provider.h"
#include "scaling/local_provider.h"
#include "scaling/webhook_provider.h"

namespace tg::scaling {

Millis provider_duration(const std::string& key, const std::string& value) {
  const auto bad = [&] {
    return std::invalid_argument("invalid value \"" + value + "\" of \"" + key + "=\"");
  };
  long long n = 0;
  const char* end = value.data() + value.size();
  const auto [p, ec] = std::from_chars(value.data(), end, n);
  if (ec != std::errc() || p == value.data() || n < 0) throw bad();
  const std::string_view unit(p, static_cast<std::size_t>(end - p));
  if (unit.empty() || unit == "s") return Millis(n * 1000);
  if (unit == "ms") return Millis(n);
  if (unit == "m") return Millis(n * 60'000);
  if (unit == "h") return Millis(n * 3'600'000);
  throw bad();
}

std::unique_ptr<Provider> make_provider(const ProviderSpec& spec, const ProviderContext& context) {
  if (spec.type == "local") return make_local_provider(spec, context);
  if (spec.type == "exec") return make_exec_provider(spec, context);
  if (spec.type == "webhook") return make_webhook_provider(spec, context);
  if (spec.type == "kubernetes") return make_kubernetes_provider(spec, context);
  if (spec.type == "docker") return make_docker_provider(spec, context);
  if (spec.type == "aws") return make_aws_provider(spec, context);
  if (spec.type == "digitalocean") return make_digitalocean_provider(spec, context);
  throw std::invalid_argument("unknown provider \"" + spec.type + "\"");
}

}  // namespace tg::scaling
