// What a health check response must be (NGINX Plus's `match` block), evaluated
// without I/O so it can be tested alone.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conf/config.h"

namespace tg::health {

/// A health check response as read: status, headers, and the start of the body.
struct CheckResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  ///< as received
  std::string body;                                          ///< at most kMaxCheckBody bytes
};

/// How much of a response body a check reads (the rest is not looked at).
constexpr size_t kMaxCheckBody = 256 * 1024;

/// Whether `r` passes `match` (nullptr: NGINX Plus's default, a 2xx or 3xx status).
/// On failure `stage` says which test failed, in the error log's words
/// ("checking status code of upstream", "checking headers of upstream", "checking
/// body of upstream").
bool passes(const conf::MatchBlock* match, const CheckResponse& r, std::string_view& stage);

}  // namespace tg::health
