// Forwarding the upstream's response: its head through the client side
// (hop-by-hop headers dropped, proxy_hide_header / proxy_pass_header, charset,
// the sticky cookie), then its body piece by piece as it arrives, then the
// peer's outcome (metrics, passive health, the lease) and the connection back
// to the keep-alive pool when it can carry another request. A 101 becomes a
// tunnel instead.
#include <ctime>

#include "common/error_log.h"
#include "proxy/http_status.h"
#include "proxy/upstream_exchange.h"

namespace tg::proxy {

namespace asio = boost::asio;

namespace {

bool hop_by_hop_response(std::string_view name) {
  return iequals(name, "connection") || iequals(name, "keep-alive") ||
         iequals(name, "transfer-encoding") || iequals(name, "te") || iequals(name, "trailer") ||
         iequals(name, "upgrade") || iequals(name, "proxy-connection");
}

/// Case-insensitive membership in a small set of lower-case names, without
/// building a lower-case copy per header.
bool contains_ci(const std::vector<std::string>& set, std::string_view name) {
  for (const auto& item : set) {
    if (iequals(item, name)) return true;
  }
  return false;
}

/// Appends a sticky cookie's value and attributes (the Set-Cookie header value):
/// `name=id; expires=...; max-age=N; domain=...; path=...; ...`, as nginx writes it.
void append_sticky_cookie(const balancing::StickyConfig& sticky, const conf::Template& samesite,
                          std::string_view id, RequestContext& ctx, std::string& out) {
  out += sticky.cookie_name;
  out += '=';
  out += id;
  if (!sticky.expires.empty()) {
    // expires=max: nginx's "Thu, 31-Dec-37 23:55:55 GMT", ten years of max-age.
    const long long seconds = sticky.expires_max ? 315360000LL : sticky.expires_seconds.count();
    const std::time_t at =
        sticky.expires_max
            ? std::time_t{2145916555}
            : std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()) +
                  static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&at, &tm);
    char date[40];
    std::strftime(date, sizeof date, "%a, %d-%b-%y %H:%M:%S GMT", &tm);
    out += "; expires=";
    out += date;
    out += "; max-age=";
    out += std::to_string(seconds);
  }
  if (!sticky.domain.empty()) {
    out += "; domain=";
    out += sticky.domain;
  }
  if (!sticky.path.empty()) {
    out += "; path=";
    out += sticky.path;
  }
  if (!samesite.source().empty()) {
    std::string value;
    expand_header_value(samesite, ctx, value);
    if (!value.empty()) {
      out += "; samesite=";
      out += value;
    }
  } else if (!sticky.samesite.empty()) {
    out += "; samesite=";
    out += sticky.samesite;
  }
  if (sticky.secure) out += "; secure";
  if (sticky.httponly) out += "; httponly";
}

uint64_t micros(std::chrono::steady_clock::duration d) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

}  // namespace

bool UpstreamExchange::rewrite_redirect(std::string_view value, bool location, std::string& out) {
  if (s_.proxy_redirect_off) return false;
  // Refresh: "5; url=..." is rewritten after its "url=".
  size_t at = 0;
  if (!location) {
    for (at = 0; at + 4 <= value.size() && !iequals(value.substr(at, 4), "url="); ++at) {
    }
    if (at + 4 > value.size()) return false;
    at += 4;
  }
  const std::string_view url = value.substr(at);
  for (const auto& rule : s_.proxy_redirect) {
    std::string from, to;
    if (rule.from.empty()) {
      // nginx's default: the proxy_pass URL as written becomes the location's name
      // ("http://be" without a URI stands for "http://be/" and becomes "/").
      from = target_.url + (target_.has_uri ? "" : "/");
      to = target_.has_uri ? loc_.pattern : "/";
    } else {
      from = rule.from;
      to = expand(rule.to, ctx_);
    }
    if (!url.starts_with(from)) continue;
    std::string replaced = to;
    replaced += url.substr(from.size());
    // A relative result becomes absolute (nginx's header filter, absolute_redirect).
    if (location) client_.make_absolute(replaced);
    out.assign(value.substr(0, at));
    out += replaced;
    return true;
  }
  return false;
}

bool UpstreamExchange::pass_response_head(UpstreamAttempt& a) {
  const http::HttpParser& up = buf_.response;
  const int status = up.status_code();
  ctx_.upstream_headers = &up.headers();
  if (ctx_.config->uses(conf::Var::kUpstreamHttp)) {
    // Body reads reuse the buffer; keep the head for variables read later (access log).
    size_t head_end = 0;
    for (const auto& h : up.headers()) {
      head_end = std::max<size_t>(head_end, h.value.offset + h.value.length);
    }
    buf_.response_head_copy.assign(upbuf_, head_end);
    ctx_.upstream_base = buf_.response_head_copy.data();
  } else {
    ctx_.upstream_base = upbuf_;
  }
  // nginx: a 101 becomes a tunnel when the client asked to upgrade.
  const bool upgrading = status == 101 && !ctx_.header("upgrade").empty();
  const bool no_body = ctx_.method == "HEAD" || status_has_no_body(status);
  const int wire_status = forced_status_ ? forced_status_ : status;
  std::string_view reason = reason_phrase(wire_status);
  std::string reason_text;
  if (reason.empty()) {
    reason_text = std::string(up.status_text().in(upbuf_));
    reason = reason_text;
  }
  client_.begin_response_head(wire_status, reason);
  const bool record_sent = ctx_.config->uses(conf::Var::kSentHttp);
  std::string_view up_connection;
  for (const auto& h : up.headers()) {
    if (iequals(h.name.in(upbuf_), "connection")) up_connection = h.value.in(upbuf_);
  }
  std::string with_charset;
  for (const auto& h : up.headers()) {
    std::string_view name = h.name.in(upbuf_);
    // A 101's Upgrade header says what the tunnel speaks: it goes to the client.
    const bool upgrade_header = upgrading && iequals(name, "upgrade");
    if (hop_by_hop_response(name) && !upgrade_header) continue;
    if (!up_connection.empty() && has_token(up_connection, name) && !upgrade_header) continue;
    bool hidden =
        contains_ci(s_.proxy_hide_header, name) && !contains_ci(s_.proxy_pass_header, name);
    if (hidden) continue;
    std::string_view value = trim(h.value.in(upbuf_));
    std::string redirected;
    if (iequals(name, "location") || iequals(name, "refresh")) {
      if (rewrite_redirect(value, iequals(name, "location"), redirected)) value = redirected;
    }
    if (!s_.charset.empty() && iequals(name, "content-type")) {
      const std::string suffix = charset_suffix(value, s_.charset, s_.charset_types);
      if (!suffix.empty()) {
        with_charset.assign(value);
        with_charset += suffix;
        value = with_charset;
      }
    }
    client_.add_response_header(name, value);
    if (record_sent) ctx_.sent_headers.emplace_back(std::string(name), std::string(value));
  }
  client_.set_response_body(no_body                                   ? ResponseBody::kNone
                            : up.chunked() || up.content_length() < 0 ? ResponseBody::kStream
                                                                      : ResponseBody::kLength);
  const auto& sticky = picker_->group().balancer().sticky;
  if (sticky.mode == balancing::StickyConfig::Mode::kCookie && !a.lease.sticky_hit()) {
    // Binds the client to the server that answered (nginx's sticky cookie).
    std::string cookie;
    append_sticky_cookie(sticky, ucfg_.sticky_samesite, a.lease.sticky_id(), ctx_, cookie);
    client_.add_response_header("Set-Cookie", cookie);
  }
  client_.end_response_head(upgrading);
  return upgrading;
}

Task<void> UpstreamExchange::forward_response(UpstreamAttempt& a) {
  http::HttpParser& up = buf_.response;
  const int status = up.status_code();
  if (pass_response_head(a)) {
    // The head, then the tunnel (it takes the socket, the lease and whatever
    // the upstream sent after its head).
    if (!co_await client_.write_response(nullptr, {}, false)) {
      a.close();
      co_return;
    }
    const auto header_us = micros(a.header_time);
    a.peer.stats().record(worker_.slot(), balancing::ServerStats::Response{
                                              status, header_us, header_us, a.bytes_to_upstream,
                                              a.bytes_from_upstream});
    client_.open_tunnel(std::move(a.conn->stream), std::move(picker_), std::move(a.lease),
                        a.header_time, std::string(upbuf_ + a.fed, a.held - a.fed));
    co_return;
  }

  const bool no_body = ctx_.method == "HEAD" || status_has_no_body(status);
  // Bytes past the end of the response (more than Content-Length, or a body
  // on a HEAD answer) would poison the next request on this connection.
  bool extra_bytes = up.message_done() && a.fed < a.held;
  bool head_pending = true;
  bool upstream_ok = true;
  bool client_ok = true;
  uint64_t body_sent = 0;
  for (;;) {
    const auto& body = up.body();
    for (const auto& sp : body) body_sent += sp.length;
    const bool finished = no_body || up.message_done();
    if (head_pending || finished || !body.empty()) {
      if (!co_await client_.write_response(upbuf_, body, finished)) {
        client_ok = false;
        break;
      }
    }
    up.body().clear();
    head_pending = false;
    if (finished) break;
    client_.arm_upstream(a.conn->stream.socket(), s_.proxy_read_timeout);
    auto [ec, n] =
        co_await a.conn->stream.async_read_some(asio::buffer(upbuf_, upbuf_size_), kTuple);
    const bool timed_out = client_.disarm_upstream();
    a.bytes_from_upstream += n;
    if (ec) {
      if (ec == asio::error::eof && up.body_until_close()) {
        up.finish();
        if (!co_await client_.end_response_body()) client_ok = false;
        break;
      }
      upstream_ok = false;
      log_upstream_error(ctx_,
                         timed_out ? "upstream timed out (110: Connection timed out) while "
                                     "reading upstream"
                                   : "upstream prematurely closed connection while reading "
                                     "upstream",
                         upstream_url(a.peer));
      break;
    }
    size_t used = up.feed(upbuf_, 0, n);
    if (up.message_done() && used < n) extra_bytes = true;
    if (up.failed()) {
      upstream_ok = false;
      log_upstream_error(ctx_, "upstream sent invalid chunked response while reading upstream",
                         upstream_url(a.peer));
      break;
    }
  }
  ctx_.body_bytes_sent = body_sent;
  finish_with_peer(a, upstream_ok, client_ok, extra_bytes);
}

void UpstreamExchange::finish_with_peer(UpstreamAttempt& a, bool upstream_ok, bool client_ok,
                                        bool extra_bytes) {
  const http::HttpParser& up = buf_.response;
  const int status = up.status_code();
  const auto total = Clock::now() - a.start;
  if (keep_times_) append_list(ctx_.upstream_response_time, seconds_text(total));
  // The client's view is now broken if either side failed mid-body: close.
  if (!upstream_ok || !client_ok) client_.close_after_response();
  if (!client_ok && ctx_.status < 400) ctx_.status = status;
  if (extra_bytes) {
    log(LogLevel::kWarn, "*" + std::to_string(ctx_.conn->id) +
                             " upstream sent more data than specified in \"Content-Length\" "
                             "header while reading upstream, upstream: \"" +
                             upstream_url(a.peer) + "\"");
  }
  // A 101 switched protocols even when no tunnel follows: never reused (nginx).
  const bool reusable = status != 101 && !extra_bytes && upstream_ok && client_ok &&
                        up.message_done() && up.keep_alive() && ucfg_.keepalive > 0 &&
                        (!has_body_ || req_.message_done());
  // Recorded before the release: a removed server's counters are folded into its
  // group's once it has no lease left.
  a.peer.stats().record(
      worker_.slot(), balancing::ServerStats::Response{status, micros(total), micros(a.header_time),
                                                       a.bytes_to_upstream, a.bytes_from_upstream});
  a.peer.note_response(status >= 500 || !upstream_ok);
  a.lease.release(upstream_ok ? balancing::Outcome::kSuccess : balancing::Outcome::kFailure,
                  Clock::now(), balancing::ResponseTimes{a.header_time, total});
  // A TLS 1.3 server's session tickets came with its answer: the session is kept
  // for the next connection to this server under these settings.
  SSL* ssl = a.conn->stream.tls();
  if (ssl && upstream_ok && loc_.upstream_tls->session_reuse()) {
    worker_.pool().keep_tls_session(a.peer.id(), loc_.upstream_tls->id(), ssl);
  }
  if (reusable) {
    a.conn->requests++;
    worker_.pool().put(ucfg_.name,
                       UpstreamPool::Limits{ucfg_.keepalive, ucfg_.keepalive_timeout,
                                            ucfg_.keepalive_requests, ucfg_.keepalive_time},
                       std::move(*a.conn), Clock::now());
  } else {
    a.close();
  }
}

}  // namespace tg::proxy
