// nginx's access phase for a location: allow / deny, then auth_basic (with
// `satisfy all`, nginx's default). It runs after the rewrite phase, as in
// nginx: a location's `return` answers before its access rules are checked.
#include <algorithm>
#include <array>

#include "common/error_log.h"
#include "proxy/exchange.h"
#include "proxy/session.h"

namespace tg::proxy {

namespace {

bool rule_matches(const conf::AccessRule& rule, const ConnectionInfo& conn) {
  if (rule.all) return true;
  const bool v4 = rule.network.is_v4();
  if ((conn.remote_bytes_len == 4) != v4) return false;
  std::array<uint8_t, 16> net{};
  size_t size = 4;
  if (v4) {
    const auto b = rule.network.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), net.begin());
  } else {
    const auto b = rule.network.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), net.begin());
    size = 16;
  }
  unsigned bits = rule.prefix;
  for (size_t i = 0; i < size && bits > 0; ++i) {
    const unsigned take = bits >= 8 ? 8 : bits;
    const auto mask = static_cast<uint8_t>(0xff << (8 - take));
    if ((conn.remote_bytes[i] & mask) != net[i]) return false;
    bits -= take;
  }
  return true;
}

}  // namespace

Task<bool> ClientSession::check_access(const conf::Location& loc) {
  const auto& s = loc.settings;
  auto& ctx = x_->ctx;
  auto describe = [&] {
    std::string text = ", client: " + info_.remote_addr + ", server: " + ctx.server->names.first +
                       ", request: \"" + std::string(ctx.method) + " " +
                       std::string(ctx.request_target) + " " + std::string(ctx.protocol) + "\"";
    std::string_view host = ctx.header("host");
    if (!host.empty()) text += ", host: \"" + std::string(host) + "\"";
    return text;
  };
  for (const auto& rule : s.access) {
    if (!rule_matches(rule, info_)) continue;
    if (rule.allow) break;
    log(LogLevel::kError,
        "*" + std::to_string(info_.id) + " access forbidden by rule" + describe());
    co_await respond_error(403);
    co_return false;
  }
  if (s.auth_basic.empty()) co_return true;
  auto credentials = basic_credentials(ctx.header("authorization"));
  if (credentials) {
    std::string error;
    switch (worker_.user_files().check(s.auth_basic_user_file, credentials->first,
                                       credentials->second, error)) {
      case UserFiles::Result::kAllowed:
        co_return true;
      case UserFiles::Result::kNoUser:
        log(LogLevel::kError, "*" + std::to_string(info_.id) + " user \"" + credentials->first +
                                  "\" was not found in \"" + s.auth_basic_user_file + "\"" +
                                  describe());
        break;
      case UserFiles::Result::kMismatch:
        log(LogLevel::kError, "*" + std::to_string(info_.id) + " user \"" + credentials->first +
                                  "\": password mismatch" + describe());
        break;
      case UserFiles::Result::kFileError:
        // nginx: a missing file is 403, any other failure 500.
        log(LogLevel::kError, "*" + std::to_string(info_.id) + " " + error + describe());
        co_await respond_error(error.find("(2: ") != std::string::npos ? 403 : 500);
        co_return false;
    }
  }
  std::string challenge = "WWW-Authenticate: Basic realm=\"" + s.auth_basic + "\"\r\n";
  co_await respond(401, {}, {}, {}, 0, challenge);
  co_return false;
}

}  // namespace tg::proxy
