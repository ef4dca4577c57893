// Status lines and the built-in error pages, worded as nginx words them.
#pragma once

#include <string>
#include <string_view>

namespace tg::proxy {

/// "OK", "Bad Gateway", ...; empty for unknown codes.
std::string_view reason_phrase(int status);

/// nginx's HTML body for an error or redirect status.
std::string error_page_body(int status);

/// True for statuses that never carry a body (1xx, 204, 304).
inline bool status_has_no_body(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

/// Statuses that `add_header` (without `always`) applies to.
bool add_header_applies(int status);

/// %-escapes what nginx escapes in a URI it sends upstream (NGX_ESCAPE_URI).
void escape_uri(std::string_view in, std::string& out);

}  // namespace tg::proxy
