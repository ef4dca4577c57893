// The `webhook` provider: each call is a signed JSON POST to the operator's own endpoint,
// which does the actual work (a CI job, a cloud SDK script, a chat-ops bot).
//
//   provider webhook url=https://hooks.example/scale secret_file=/etc/tidegate/hook.key;
//
// Body: {"action":"list"|"add"|"remove","group":"api","count":N,"instances":[...]}.
// Headers: Content-Type: application/json, User-Agent: tidegate/VERSION,
// X-Tidegate-Delivery: a fresh UUID per call, and with a secret
// X-Tidegate-Signature-256: sha256=HEX (GitHub's X-Hub-Signature-256 scheme, so existing
// verifiers work). A 2xx answer {"instances":[{"id":..,"address":..}]} completes list and
// add; remove needs only the 2xx. 408, 409, 429, 5xx and network errors are retryable,
// other statuses are not; a 2xx whose JSON is unusable is a retryable error.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "scaling/provider.h"

namespace tg::scaling {

/// Builds the provider from url= (required), secret= or secret_file= (the file is read
/// now; a trailing newline is dropped), ca_file= and timeout= (default 30s); throws
/// std::invalid_argument with the [emerg] text.
std::unique_ptr<Provider> make_webhook_provider(const ProviderSpec& spec,
                                                const ProviderContext& context);

/// The X-Tidegate-Signature-256 value: "sha256=" and the lowercase hex HMAC-SHA256 of
/// `body` under `secret`.
std::string webhook_signature(std::string_view secret, std::string_view body);

}  // namespace tg::scaling
