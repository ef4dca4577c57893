// Status lines and the built-in error pages, worded as nginx words them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tg::proxy {

/// "OK", "Bad Gateway", ...; empty for unknown codes.
std::string_view reason_phrase(int status);

/// nginx's HTML body for an error or redirect status.
std::string error_page_body(int status, bool server_tokens);

/// nginx's statuses that go out as 400 with a page naming the cause: 494 "Request
/// Header Or Cookie Too Large", 495 "The SSL certificate error", 496 "No required SSL
/// certificate was sent", 497 "The plain HTTP request was sent to HTTPS port".
/// Empty for every other status.
std::string_view bad_request_variant(int status);

/// The `; charset=` nginx's `charset` adds to `content_type` (empty when it
/// adds none: charset off, a MIME type outside charset_types, or a charset
/// already given).
std::string charset_suffix(std::string_view content_type, const std::string& charset,
                           const std::vector<std::string>& charset_types);

/// The product token of the Server header and error pages (server_tokens).
std::string_view server_token(bool with_version);

/// True for statuses that never carry a body (1xx, 204, 304).
inline bool status_has_no_body(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

/// Statuses that `add_header` (without `always`) applies to.
bool add_header_applies(int status);

/// %-escapes what nginx escapes in a URI it sends upstream (NGX_ESCAPE_URI).
void escape_uri(std::string_view in, std::string& out);

}  // namespace tg::proxy
