// The `digitalocean` provider: a *capacity* provider for one service of a DigitalOcean
// App Platform app. The app is reached at one address; scaling sets how many instances
// of the service run behind it.
//
//   provider digitalocean app=APP_ID service=web address=10.0.0.5:443
//                         token_file=/etc/tidegate/do.token;
//
// list():   GET /v2/apps/{app}: the spec's services[name=service].instance_count (1 when
//           absent), reported as the address that many times, ids "web-1".."web-N".
// add(n):   the same GET, then PUT /v2/apps/{app} {"spec": ...} with instance_count + n.
//           The apps API replaces the whole spec, so every other field goes back as it was
//           read. The new instances are "web-(N+1)".."web-(N+n)".
// remove(): the same with instance_count minus the number of instances given, never
//           below 1.
// A service with an `autoscaling` block is refused, non-retryably: App Platform's own
// autoscaler and this one would fight. 429, 5xx and network errors are retryable, other
// statuses not; DigitalOcean's {"id","message"} error body is quoted in the message.
#pragma once

#include <memory>

#include "scaling/provider.h"

namespace tg::scaling {

/// Builds the provider from app=, service=, address= (host:port) and token= or
/// token_file= (required; the file is read now, a trailing newline dropped), timeout=
/// (30s), spec_file= (an app spec in YAML, .do/app.yaml: read now, only to refuse a
/// service that is not in it or that has an autoscaling block before the first call;
/// the live spec is always the one read from the API), and the test override api=
/// (https://api.digitalocean.com); throws std::invalid_argument with the [emerg] text.
std::unique_ptr<Provider> make_digitalocean_provider(const ProviderSpec& spec,
                                                     const ProviderContext& context);

}  // namespace tg::scaling
