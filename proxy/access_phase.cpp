// nginx's access phase for a location: allow / deny, then auth_basic (with
// `satisfy all`, nginx's default). It runs after the rewrite phase, as in
// nginx: a location's `return` answers before its access rules are checked.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <optional>

#include <boost/asio/basic_waitable_timer.hpp>

#include "common/error_log.h"
#include "proxy/exchange.h"
#include "proxy/session.h"

namespace tg::proxy {

namespace {

bool rule_matches(const conf::AccessRule& rule, const ConnectionInfo& conn) {
  if (rule.all) return true;
  const bool v4 = rule.network.is_v4();
  if ((conn.remote_bytes_len == 4) != v4) return false;
  if (conn.remote_bytes_len == 0) return false;
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

/// An address as a realip header gives it: "1.2.3.4", "1.2.3.4:80", "::1", "[::1]:80".
std::optional<boost::asio::ip::address> header_address(std::string_view text) {
  text = trim(text);
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(text, ec);
  if (!ec) return a;
  std::string_view host = text;
  if (text.starts_with('[')) {
    const size_t end = text.find(']');
    if (end == std::string_view::npos) return std::nullopt;
    host = text.substr(1, end - 1);
  } else if (const size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
  }
  a = boost::asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  return a;
}

}  // namespace

void set_remote_address(ConnectionInfo& conn, const boost::asio::ip::address& address) {
  conn.remote_addr = address.to_string();
  if (address.is_v4()) {
    const auto b = address.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), conn.remote_bytes.begin());
    conn.remote_bytes_len = 4;
    return;
  }
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) {
    const auto b = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_bytes();
    std::copy(b.begin(), b.end(), conn.remote_bytes.begin());
    conn.remote_bytes_len = 4;
    return;
  }
  const auto b = v6.to_bytes();
  std::copy(b.begin(), b.end(), conn.remote_bytes.begin());
  conn.remote_bytes_len = 16;
}

const std::string& ClientSession::client_addr() const {
  return x_ && x_->ctx.conn ? x_->ctx.conn->remote_addr : info_.remote_addr;
}

void ClientSession::apply_realip(const conf::LocationSettings& s) {
  auto& x = *x_;
  if (x.realip_done || s.real_ip_from.empty()) return;
  auto trusted = [&](const ConnectionInfo& c) {
    return std::any_of(s.real_ip_from.begin(), s.real_ip_from.end(),
                       [&](const conf::AccessRule& r) { return rule_matches(r, c); });
  };
  if (!trusted(info_)) return;
  // Every line of the header, in order (several X-Forwarded-For lines make one list);
  // `proxy_protocol`: the address the PROXY header gave.
  std::string values;
  if (s.real_ip_header == "proxy_protocol") {
    if (info_.proxy_protocol && !info_.proxy_protocol->local) {
      values = info_.proxy_protocol->source_addr;
    }
  } else {
    for (const auto& h : x.parser.headers()) {
      if (!iequals(h.name.in(x.ctx.base), s.real_ip_header)) continue;
      if (!values.empty()) values += ',';
      values += h.value.in(x.ctx.base);
    }
  }
  if (values.empty()) return;
  // From the right: the address the last proxy saw; with real_ip_recursive, past
  // every trusted proxy to the first address that is not one (or the leftmost).
  ConnectionInfo candidate = info_;
  std::string_view rest = values;
  bool found = false;
  while (!rest.empty()) {
    const size_t comma = rest.rfind(',');
    const std::string_view item = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    auto address = header_address(item);
    if (!address) break;  // nginx stops at what it cannot parse
    set_remote_address(candidate, *address);
    candidate.remote_port = 0;
    found = true;
    if (!s.real_ip_recursive || !trusted(candidate)) break;
  }
  if (!found) return;
  x.realip_done = true;  // nginx: once applied, the location's settings are not looked at
  x.real_client = std::move(candidate);
  x.ctx.conn = &x.real_client;
}

std::string ClientSession::describe_request() const {
  const auto& ctx = x_->ctx;
  std::string text = ", client: " + client_addr() + ", server: " + ctx.server->names.first +
                     ", request: \"" + std::string(ctx.method) + " " +
                     std::string(ctx.request_target) + " " + std::string(ctx.protocol) + "\"";
  std::string_view host = ctx.header("host");
  if (!host.empty()) text += ", host: \"" + std::string(host) + "\"";
  return text;
}

Task<bool> ClientSession::limit_requests(const conf::Location& loc) {
  const auto& s = loc.settings;
  auto& ctx = x_->ctx;
  const auto& zones = ctx.config->http.limit_req_zones;
  const auto& limiters = gen_->runtime->limit_req_zones;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  auto excess_text = [](int64_t excess) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(excess / 1000),
                  static_cast<long long>(excess % 1000));
    return std::string(buf);
  };
  const std::string dry = s.limit_req_dry_run ? ", dry run" : "";
  std::vector<std::string> keys(s.limit_req.size());
  // nginx's order: every limit is looked at first, and only a request that none
  // refuses is accounted in all of them.
  for (size_t i = 0; i < s.limit_req.size(); ++i) {
    const auto& r = s.limit_req[i];
    keys[i] = expand(zones[r.zone].key, ctx);
    if (keys[i].empty()) continue;  // an empty key is not limited
    const auto result = limiters[r.zone]->lookup(keys[i], now_ms, zones[r.zone].rate, r.burst,
                                                 /*account=*/false);
    if (!result.busy) continue;
    log(s.limit_req_log_level, "*" + std::to_string(info_.id) + " limiting requests" + dry +
                                   ", excess: " + excess_text(result.excess) + " by zone \"" +
                                   zones[r.zone].name + "\"" + describe_request());
    if (s.limit_req_dry_run) continue;
    co_await respond_error(s.limit_req_status);
    co_return false;
  }
  int64_t delay_ms = 0, delay_excess = 0;
  size_t delay_zone = 0;
  for (size_t i = 0; i < s.limit_req.size(); ++i) {
    const auto& r = s.limit_req[i];
    if (keys[i].empty()) continue;
    const auto& zone = zones[r.zone];
    const auto result = limiters[r.zone]->lookup(keys[i], now_ms, zone.rate, r.burst, true);
    if (result.busy || r.delay == conf::LimitReq::kNoDelay) continue;
    const int64_t allowed = static_cast<int64_t>(r.delay) * 1000;
    if (result.excess <= allowed) continue;
    const int64_t ms = (result.excess - allowed) * 1000 / zone.rate;
    if (ms > delay_ms) {
      delay_ms = ms;
      delay_excess = result.excess;
      delay_zone = r.zone;
    }
  }
  if (delay_ms == 0) co_return true;
  // Logged one level below limit_req_log_level, as nginx does (not below info).
  const auto level = s.limit_req_log_level == LogLevel::kInfo
                         ? LogLevel::kInfo
                         : static_cast<LogLevel>(static_cast<int>(s.limit_req_log_level) - 1);
  log(level, "*" + std::to_string(info_.id) + " delaying request" + dry +
                 ", excess: " + excess_text(delay_excess) + ", by zone \"" +
                 zones[delay_zone].name + "\"" + describe_request());
  if (s.limit_req_dry_run) co_return true;
  boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                    boost::asio::wait_traits<std::chrono::steady_clock>, Executor>
      timer(client_.socket().get_executor(), std::chrono::milliseconds(delay_ms));
  co_await timer.async_wait(kTuple);
  co_return !quit_;
}

Task<bool> ClientSession::limit_connections(const conf::Location& loc) {
  const auto& s = loc.settings;
  auto& x = *x_;
  const auto& zones = x.ctx.config->http.limit_conn_zones;
  const auto& limiters = gen_->runtime->limit_conn_zones;
  const std::string dry = s.limit_conn_dry_run ? ", dry run" : "";
  for (const auto& c : s.limit_conn) {
    std::string key = expand(zones[c.zone].key, x.ctx);
    if (key.empty()) continue;  // an empty key is not limited
    const auto verdict = limiters[c.zone]->acquire(key, c.limit);
    if (verdict == ConnLimiter::Verdict::kTaken) {
      x.conn_holds.emplace_back(limiters[c.zone], std::move(key));
      continue;
    }
    if (verdict == ConnLimiter::Verdict::kZoneFull) {
      log(LogLevel::kAlert, "*" + std::to_string(info_.id) +
                                " could not allocate node in limit_conn zone \"" +
                                zones[c.zone].name + "\"" + describe_request());
    } else {
      log(s.limit_conn_log_level, "*" + std::to_string(info_.id) + " limiting connections" + dry +
                                      " by zone \"" + zones[c.zone].name + "\"" +
                                      describe_request());
    }
    if (s.limit_conn_dry_run) continue;
    x.conn_holds.clear();  // the places taken by the lines before are given back
    co_await respond_error(s.limit_conn_status);
    co_return false;
  }
  co_return true;
}

Task<bool> ClientSession::check_access(const conf::Location& loc) {
  const auto& s = loc.settings;
  auto& ctx = x_->ctx;
  auto describe = [&] { return describe_request(); };
  for (const auto& rule : s.access) {
    if (!rule_matches(rule, *ctx.conn)) continue;
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
