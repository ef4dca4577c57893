// proxy_pass: pick a peer, connect (or reuse a cached connection), send the
// rewritten head and stream the body, read the response head, stream the body
// back. Failures before anything reached the client go to the next upstream
// as `proxy_next_upstream` allows.
#include <ctime>
#include <span>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "common/error_log.h"
#include "proxy/exchange.h"
#include "proxy/http_status.h"
#include "proxy/session.h"

namespace tg::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
namespace {

constexpr size_t kUpstreamBuffer = kIoBuffer;

/// Request headers a proxy never forwards as they came (nginx's
/// ngx_http_proxy_headers plus the framing we set ourselves).
bool hop_by_hop_request(std::string_view name) {
  return iequals(name, "connection") || iequals(name, "keep-alive") || iequals(name, "te") ||
         iequals(name, "expect") || iequals(name, "upgrade") ||
         iequals(name, "transfer-encoding") || iequals(name, "content-length") ||
         iequals(name, "proxy-connection");
}

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

const std::vector<http::HeaderSpan> kNoHeaders;

bool idempotent(std::string_view method) {
  return method != "POST" && method != "LOCK" && method != "PATCH";
}

void append_list(std::string& list, std::string_view item) {
  if (!list.empty()) list += ", ";
  list += item;
}

/// The proxy_next_upstream condition an upstream status answers to (0: none).
unsigned status_condition(int status) {
  switch (status) {
    case 500:
      return conf::kNuHttp500;
    case 502:
      return conf::kNuHttp502;
    case 503:
      return conf::kNuHttp503;
    case 504:
      return conf::kNuHttp504;
    case 403:
      return conf::kNuHttp403;
    case 404:
      return conf::kNuHttp404;
    case 429:
      return conf::kNuHttp429;
    default:
      return 0;
  }
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

/// What went wrong with one attempt, in nginx's proxy_next_upstream terms.
enum class Failure { kNone, kError, kTimeout, kInvalidHeader };

}  // namespace

Task<void> ClientSession::proxy(const conf::Location& loc, int redirects) {
  auto& x = *x_;
  auto& ctx = x.ctx;
  auto& parser = x.parser;
  const auto& s = loc.settings;
  const auto& target = *loc.proxy;
  ctx.proxy = &target;
  ctx.location = &loc;
  const auto& ucfg = ctx.config->http.upstreams[target.upstream];
  // Held for the whole request (and by a tunnel): its leases point into it, and the
  // worker may replace it meanwhile when the group's membership changes.
  std::shared_ptr<balancing::GroupPicker> picker_owner = worker_.picker(*gen_, target.upstream);
  auto& picker = *picker_owner;
  const bool has_body = !x.error_page_get && (parser.chunked() || parser.content_length() > 0);
  // An error_page fetch is a GET (HEAD stays HEAD) without the original body;
  // otherwise proxy_method, when set, names the upstream's method.
  std::string_view method =
      x.error_page_get && ctx.method != "HEAD" ? std::string_view("GET") : ctx.method;
  std::string method_text;
  if (!x.error_page_get && !s.proxy_method.source().empty()) {
    expand(s.proxy_method, ctx, method_text);
    if (!http::is_token(method_text)) {  // a variable must not break the request line
      log(LogLevel::kError, "*" + std::to_string(info_.id) + " invalid \"proxy_method\" value \"" +
                                method_text + "\", client: " + client_addr());
      co_await respond_error(500, redirects);
      co_return;
    }
    method = method_text;
  }

  if (s.client_max_body_size > 0 && parser.content_length() > s.client_max_body_size) {
    log(LogLevel::kError,
        "*" + std::to_string(info_.id) + " client intended to send too large body: " +
            std::to_string(parser.content_length()) + " bytes, client: " + client_addr());
    keep_alive_ = false;
    co_await respond_error(413, redirects);
    co_return;
  }
  if (has_body && !parser.message_done() && parser.body().empty() && !x.sent_continue &&
      ctx.protocol == "HTTP/1.1" && iequals(ctx.header("expect"), "100-continue")) {
    x.sent_continue = true;
    if (!co_await write_client("HTTP/1.1 100 Continue\r\n\r\n")) co_return;
  }

  // ---- the upstream request head (built once, resent on retries) ----
  std::string& uri_out = x.uri_out;
  uri_out.clear();
  if (!target.has_uri) {
    if (redirects == 0 && ctx.request_uri.starts_with('/')) {
      uri_out = ctx.request_uri;  // unchanged, as the client sent it (origin form)
    } else {
      escape_uri(ctx.uri, uri_out);
      if (!ctx.args.empty()) {
        uri_out += '?';
        uri_out += ctx.args;
      }
    }
  } else {
    // The part of $uri that matched the location prefix is replaced by the URI.
    uri_out = target.uri;
    std::string_view rest = ctx.uri;
    if (loc.match != conf::Location::Match::kNamed && rest.size() >= loc.pattern.size()) {
      rest.remove_prefix(loc.pattern.size());
    }
    escape_uri(rest, uri_out);
    if (!ctx.args.empty()) {
      uri_out += '?';
      uri_out += ctx.args;
    }
  }
  std::string& head = x.upstream_head;
  head.clear();
  head += method;
  head += ' ';
  head += uri_out;
  const bool chunked_up = has_body && parser.chunked();
  // A chunked body needs HTTP/1.1 framing even when proxy_http_version is 1.0
  // (nginx buffers such bodies to disk instead; tidegate streams).
  head += s.proxy_http_version == "1.1" || chunked_up ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n";
  for (const auto& h : s.proxy_set_header) {
    size_t mark = head.size();
    head += h.name;
    head += ": ";
    size_t value_at = head.size();
    expand_header_value(h.value, ctx, head);
    if (head.size() == value_at) {
      head.resize(mark);  // an empty value removes the header
      continue;
    }
    head += "\r\n";
  }
  const char* base = ctx.base;
  const conf::ServerBlock& head_rules = *listen_->default_server;
  std::string_view connection_tokens = ctx.header("connection");
  for (const auto& hs : s.proxy_pass_request_headers ? parser.headers() : kNoHeaders) {
    std::string_view name = hs.name.in(base);
    if (hop_by_hop_request(name)) continue;
    // ignore_invalid_headers (on by default): names that are not tokens, and
    // names with '_' unless underscores_in_headers is on, are not passed.
    if (head_rules.ignore_invalid_headers &&
        (!http::is_token(name) ||
         (!head_rules.underscores_in_headers && name.find('_') != std::string_view::npos))) {
      continue;
    }
    bool overridden = false;
    for (const auto& h : s.proxy_set_header) {
      if (iequals(h.name, name)) {
        overridden = true;
        break;
      }
    }
    if (overridden || (!connection_tokens.empty() && has_token(connection_tokens, name))) continue;
    head += name;
    head += ": ";
    head += trim(hs.value.in(base));
    head += "\r\n";
  }
  if (chunked_up) {
    head += "Transfer-Encoding: chunked\r\n";
  } else if (!x.error_page_get && parser.content_length() >= 0 &&
             (has_body || method == "POST" || method == "PUT")) {
    head += "Content-Length: ";
    head += std::to_string(parser.content_length());
    head += "\r\n";
  }
  head += "\r\n";

  // Body bytes already read are kept so a retry can resend them. With
  // proxy_request_buffering on (nginx's default) up to one I/O buffer of body
  // is read before an upstream is chosen: small bodies are then complete,
  // replayable, and checked against client_max_body_size first. Larger bodies
  // stream (nginx would spool them to disk).
  std::vector<asio::const_buffer> pre;
  for (const auto& sp : has_body ? parser.body() : std::vector<Span>{}) {
    pre.push_back(asio::buffer(ctx.base + sp.offset, sp.length));
    x.body_bytes += sp.length;
  }
  parser.body().clear();
  if (has_body && !parser.message_done() && s.proxy_request_buffering) {
    if (!x.io) x.io = std::make_unique_for_overwrite<char[]>(kIoBuffer);
    size_t used = 0;
    while (!parser.message_done() && used < kIoBuffer) {
      arm(s.client_body_timeout);
      auto [ec, n] = co_await client_.async_read_some(
          asio::buffer(x.io.get() + used, kIoBuffer - used), kTuple);
      disarm();
      if (ec) {
        body_failed(ec);
        co_return;
      }
      size_t fed = parser.feed(x.io.get(), used, used + n);
      if (parser.failed()) {
        body_failed({});
        co_await respond_error(400, redirects);
        co_return;
      }
      if (fed < n) x.leftover.append(x.io.get() + used + fed, n - fed);
      for (const auto& sp : parser.body()) {
        pre.push_back(asio::buffer(x.io.get() + sp.offset, sp.length));
        x.body_bytes += sp.length;
      }
      parser.body().clear();
      used += n;
    }
    x.body_base = x.io.get();
  }
  if (s.client_max_body_size > 0 && x.body_bytes > s.client_max_body_size) {
    log(LogLevel::kError, "*" + std::to_string(info_.id) +
                              " client intended to send too large chunked body: " +
                              std::to_string(x.body_bytes) + "+ bytes, client: " + client_addr());
    keep_alive_ = false;
    co_await respond_error(413, redirects);
    co_return;
  }
  const bool pre_done = !has_body || parser.message_done();
  // nginx's peer.tries: every server once; a single-server group is never
  // retried (ngx_http_upstream_free_round_robin_peer zeroes tries for it).
  const int group_size =
      picker.group().single()
          ? 1
          : static_cast<int>(picker.group().primaries().size() + picker.group().backups().size());

  const auto started = Clock::now();
  // $upstream_*_time strings are built only when some variable reads them.
  const bool keep_times = ctx.config->uses(conf::Var::kUpstreamResponseTime) ||
                          ctx.config->uses(conf::Var::kUpstreamConnectTime) ||
                          ctx.config->uses(conf::Var::kUpstreamHeaderTime);
  balancing::Attempt attempt;
  // nginx's ngx_http_upstream_next() rules, in one place: the condition is
  // listed in proxy_next_upstream, the body can be replayed, tries remain (the
  // group's size, proxy_next_upstream_tries, proxy_next_upstream_timeout), and a
  // non-idempotent request that reached the upstream needs `non_idempotent`.
  auto may_try_next = [&](unsigned condition, bool request_sent) {
    return (s.proxy_next_upstream & condition) && !x.body_from_socket &&
           attempt.tries() < group_size &&
           (s.proxy_next_upstream_tries == 0 || attempt.tries() < s.proxy_next_upstream_tries) &&
           (s.proxy_next_upstream_timeout.count() == 0 ||
            Clock::now() - started < s.proxy_next_upstream_timeout) &&
           (!request_sent || idempotent(method) ||
            (s.proxy_next_upstream & conf::kNuNonIdempotent));
  };
  // What hash, ip_hash and sticky pick by: evaluated once per request.
  const auto& balancer = picker.group().balancer();
  balancing::PickInput pick_input;
  std::string hash_key, sticky_route;
  if (balancer.algorithm == balancing::Algorithm::kHash) {
    expand(ucfg.hash_key, ctx, hash_key);
    pick_input.hash_key = hash_key;
  } else if (balancer.algorithm == balancing::Algorithm::kIpHash) {
    pick_input.client_addr =
        std::span<const uint8_t>(ctx.conn->remote_bytes.data(), ctx.conn->remote_bytes_len);
  }
  if (balancer.sticky.mode == balancing::StickyConfig::Mode::kCookie) {
    pick_input.sticky = request_cookie(ctx, balancer.sticky.cookie_name);
  } else if (balancer.sticky.mode == balancing::StickyConfig::Mode::kRoute) {
    // nginx: the first non-empty variable is the route.
    for (const auto& var : ucfg.sticky_route) {
      expand(var, ctx, sticky_route);
      if (!sticky_route.empty()) break;
    }
    pick_input.sticky = sticky_route;
  }
  // The upstream's head must fit proxy_buffer_size (as nginx); bodies are read
  // through the same buffer. A pooled 16 KB one, or its own when larger.
  PooledBuffer upstream_buf;  // back to the pool when this request is done with it
  std::unique_ptr<char[]> large_upstream_buf;
  const size_t upbuf_size = std::max(kUpstreamBuffer, s.proxy_buffer_size);
  if (upbuf_size > kUpstreamBuffer)
    large_upstream_buf = std::make_unique_for_overwrite<char[]>(upbuf_size);
  char* const upbuf_ptr = large_upstream_buf ? large_upstream_buf.get() : upstream_buf.get();
  auto& bufs = x.bufs;  // reused: a warm worker allocates nothing per request here
  auto& chunk_lines = x.chunk_lines;
  bool retried_cached = false;

  for (;;) {
    auto now = Clock::now();
    auto lease = picker.pick(attempt, now, pick_input);
    if (!lease) {
      log_upstream_error("no live upstreams while connecting to upstream",
                         "http://" + ucfg.name + uri_out);
      append_list(ctx.upstream_addr, ucfg.name);
      append_list(ctx.upstream_status, "502");
      co_await respond_error(502, redirects);
      co_return;
    }
    balancing::Peer& peer = lease->peer();
    // Only error-log lines need the full upstream URL: build it then.
    auto upstream_url = [&] { return "http://" + peer.name() + uri_out; };
    append_list(ctx.upstream_addr, peer.name());
    const auto attempt_start = Clock::now();

    // ---- connect or reuse ----
    std::optional<UpstreamConnection> conn;
    bool cached = false;
    if (ucfg.keepalive > 0 && !retried_cached) {
      conn = worker_.pool().take(ucfg.name, peer.id(), attempt_start);
      cached = conn.has_value();
    }
    Failure failure = Failure::kNone;
    std::string what;
    if (!conn) {
      conn.emplace(UpstreamConnection{Socket(worker_.context().get_executor()), peer.id(),
                                      attempt_start, attempt_start, 0});
      upstream_socket_ = &conn->socket;
      arm(s.proxy_connect_timeout);
      auto [ec] = co_await conn->socket.async_connect(peer.endpoint(), kTuple);
      disarm();
      if (ec) {
        failure = timed_out_ ? Failure::kTimeout : Failure::kError;
        what = timed_out_
                   ? "upstream timed out (110: Connection timed out) while connecting to "
                     "upstream"
                   : "connect() failed " + errno_text(ec.value()) + " while connecting to upstream";
      } else {
        boost::system::error_code ignored;
        conn->socket.set_option(tcp::no_delay(true), ignored);
        peer.stats().record_connect(worker_.slot());
      }
    }
    upstream_socket_ = &conn->socket;
    if (keep_times)  // nginx: "-" for an attempt that never connected
      append_list(ctx.upstream_connect_time, failure == Failure::kNone
                                                 ? seconds_text(Clock::now() - attempt_start)
                                                 : std::string("-"));

    // ---- send head and body ----
    bool request_sent = false;
    uint64_t bytes_to_upstream = 0, bytes_from_upstream = 0;  // the peer's sent / received
    if (failure == Failure::kNone) {
      bufs.clear();
      bufs.push_back(asio::buffer(head));
      BodyGather gather(bufs, chunk_lines, chunked_up, pre.size());
      for (const auto& piece : pre)
        gather.add(static_cast<const char*>(piece.data()), piece.size());
      if (pre_done) gather.finish();
      bool done = pre_done;
      for (;;) {
        arm(s.proxy_send_timeout);
        // A span, not the vector: async_write copies its buffer sequence.
        auto [ec, n] = co_await asio::async_write(
            conn->socket, std::span<const asio::const_buffer>(bufs), kTuple);
        disarm();
        request_sent = true;
        bytes_to_upstream += n;
        if (ec) {
          failure = timed_out_ ? Failure::kTimeout : Failure::kError;
          what = timed_out_ ? "upstream timed out (110: Connection timed out) while sending "
                              "request to upstream"
                            : "writev() failed " + errno_text(ec.value()) +
                                  " while sending request to upstream";
          break;
        }
        if (done) break;
        bufs.clear();
        bool failed = false;
        if (!co_await next_body_piece(bufs, chunked_up, done, failed)) {
          // The client went away (nothing to answer) or sent a broken body (400, as
          // nginx; the upstream connection, holding half a request, is closed).
          lease->release(balancing::Outcome::kSuccess, Clock::now());
          upstream_socket_ = nullptr;
          keep_alive_ = false;
          if (parser.failed()) co_await respond_error(400, redirects);
          co_return;
        }
        if (s.client_max_body_size > 0 && x.body_bytes > s.client_max_body_size) {
          lease->release(balancing::Outcome::kSuccess, Clock::now());
          upstream_socket_ = nullptr;
          keep_alive_ = false;
          co_await respond_error(413, redirects);
          co_return;
        }
      }
    }

    // ---- response head ----
    HttpParser& up = x.upstream;
    // The whole response head must fit in one buffer (nginx's proxy_buffer_size).
    const http::HeadLimits head_limits{static_cast<uint32_t>(s.proxy_buffer_size), 0, 0};
    up.reset();
    up.set_limits(head_limits);
    up.set_no_body(ctx.method == "HEAD");
    size_t held = 0, fed = 0;
    if (failure == Failure::kNone) {
      for (;;) {
        if (held > fed) fed += up.feed(upbuf_ptr, fed, held);
        if (up.failed()) {
          failure = Failure::kInvalidHeader;
          what = up.error() == http::ParseError::kHeaderLineTooLong
                     ? "upstream sent too big header while reading response header from upstream"
                 : up.error() == http::ParseError::kUnknownEncoding
                     ? "upstream sent unknown \"Transfer-Encoding\" while reading response "
                       "header from upstream"
                     : "upstream sent invalid header while reading response header from upstream";
          break;
        }
        if (up.headers_done()) {
          int code = up.status_code();
          if (code >= 100 && code < 200 && code != 101) {
            // Interim responses (100 Continue) are not passed on, as nginx.
            std::memmove(upbuf_ptr, upbuf_ptr + fed, held - fed);
            held -= fed;
            fed = 0;
            up.reset();
            up.set_limits(head_limits);
            up.set_no_body(ctx.method == "HEAD");
            continue;
          }
          if (code == 101 && ctx.header("upgrade").empty()) {
            // Switching protocols the client did not ask for: both sides would
            // go on reading HTTP from a connection that no longer carries it.
            failure = Failure::kInvalidHeader;
            what =
                "upstream sent \"101 Switching Protocols\" to a request without \"Upgrade\" "
                "while reading response header from upstream";
          }
          break;
        }
        if (held == upbuf_size) {
          failure = Failure::kInvalidHeader;
          what = "upstream sent too big header while reading response header from upstream";
          break;
        }
        arm(s.proxy_read_timeout);
        auto [ec, n] = co_await conn->socket.async_read_some(
            asio::buffer(upbuf_ptr + held, upbuf_size - held), kTuple);
        disarm();
        if (ec) {
          if (timed_out_) {
            failure = Failure::kTimeout;
            what =
                "upstream timed out (110: Connection timed out) while reading response "
                "header from upstream";
          } else {
            failure = Failure::kError;
            what = ec == asio::error::eof
                       ? "upstream prematurely closed connection while reading response header "
                         "from upstream"
                       : "recv() failed " + errno_text(ec.value()) +
                             " while reading response header from upstream";
          }
          break;
        }
        held += n;
        bytes_from_upstream += n;
      }
    }

    // ---- decide: answer, or try the next upstream ----
    auto elapsed = Clock::now() - attempt_start;
    if (failure != Failure::kNone) {
      boost::system::error_code ignored;
      conn->socket.close(ignored);
      upstream_socket_ = nullptr;
      // A cached connection the upstream had already closed is not the peer's
      // fault: retry once on a fresh connection to the same peer.
      // Still subject to proxy_next_upstream and the non-idempotent rule: the
      // upstream may have processed the request before closing.
      if (cached && failure == Failure::kError && held == 0 && !x.body_from_socket &&
          (s.proxy_next_upstream & conf::kNuError) &&
          (idempotent(method) || (s.proxy_next_upstream & conf::kNuNonIdempotent))) {
        retried_cached = true;
        lease->release(balancing::Outcome::kSuccess, Clock::now());
        // This try is given back and the peer may be picked again; the servers
        // tried before stay tried and proxy_next_upstream_tries still counts.
        attempt.retry(peer);
        append_list(ctx.upstream_status, "502");
        continue;
      }
      retried_cached = false;
      log_upstream_error(what, upstream_url());
      peer.stats().record_failed_attempt(worker_.slot());
      peer.note_response(true);  // a gateway failure counts as a 5xx for outlier detection
      lease->release(balancing::Outcome::kFailure, Clock::now());
      int status = failure == Failure::kTimeout ? 504 : 502;
      append_list(ctx.upstream_status, std::to_string(status));
      if (keep_times) append_list(ctx.upstream_response_time, seconds_text(elapsed));
      if (keep_times) append_list(ctx.upstream_header_time, "-");
      unsigned bit = failure == Failure::kTimeout         ? conf::kNuTimeout
                     : failure == Failure::kInvalidHeader ? conf::kNuInvalidHeader
                                                          : conf::kNuError;
      if (may_try_next(bit, request_sent)) continue;
      co_await respond_error(status, redirects);
      co_return;
    }

    int status = up.status_code();
    const auto header_time = elapsed;
    if (keep_times) append_list(ctx.upstream_header_time, seconds_text(elapsed));
    const unsigned status_bit = status_condition(status);
    if (status_bit && may_try_next(status_bit, /*request_sent=*/true)) {
      // Is there anyone left to try? Only then drop this response. (A look, not a
      // pick: a probe lease would count as a request and end a failed server's
      // fail_timeout.)
      if (picker.has_eligible(attempt, Clock::now())) {
        boost::system::error_code ignored;
        conn->socket.close(ignored);
        upstream_socket_ = nullptr;
        bool counts = status != 403 && status != 404;  // nginx: these are not peer failures
        lease->release(counts ? balancing::Outcome::kFailure : balancing::Outcome::kSuccess,
                       Clock::now());
        append_list(ctx.upstream_status, std::to_string(status));
        if (keep_times) append_list(ctx.upstream_response_time, seconds_text(elapsed));
        continue;
      }
    }
    append_list(ctx.upstream_status, std::to_string(status));

    // proxy_intercept_errors: an error_page for this status answers instead.
    if (s.proxy_intercept_errors && status >= 300 && s.error_page.count(status) && redirects < 10) {
      boost::system::error_code ignored;
      conn->socket.close(ignored);
      upstream_socket_ = nullptr;
      lease->release(balancing::Outcome::kSuccess, Clock::now());
      if (keep_times)
        append_list(ctx.upstream_response_time, seconds_text(Clock::now() - attempt_start));
      co_await respond(status, {}, {}, {}, redirects);
      co_return;
    }

    // ---- response head to the client ----
    ctx.upstream_headers = &up.headers();
    if (ctx.config->uses(conf::Var::kUpstreamHttp)) {
      // Body reads reuse the buffer; keep the head for variables read later (access log).
      size_t head_end = 0;
      for (const auto& h : up.headers()) {
        head_end = std::max<size_t>(head_end, h.value.offset + h.value.length);
      }
      x.upstream_head_copy.assign(upbuf_ptr, head_end);
      ctx.upstream_base = x.upstream_head_copy.data();
    } else {
      ctx.upstream_base = upbuf_ptr;
    }
    // nginx: a 101 becomes a tunnel when the client asked to upgrade.
    const bool upgrading = status == 101 && !ctx.header("upgrade").empty();
    const bool client_http10 = ctx.protocol == "HTTP/1.0";
    const bool no_body = ctx.method == "HEAD" || status_has_no_body(status);
    const bool until_close = !no_body && up.content_length() < 0 && !up.chunked();
    const bool chunk_to_client = !no_body && !client_http10 && (up.chunked() || until_close);
    const int wire_status = x.forced_status ? x.forced_status : status;
    std::string_view reason = reason_phrase(wire_status);
    std::string reason_text;
    if (reason.empty()) {
      reason_text = std::string(up.status_text().in(upbuf_ptr));
      reason = reason_text;
    }
    begin_response_head(wire_status, reason);
    auto& out = x.out;
    const bool record_sent = ctx.config->uses(conf::Var::kSentHttp);
    std::string_view up_connection;
    for (const auto& h : up.headers()) {
      if (iequals(h.name.in(upbuf_ptr), "connection")) up_connection = h.value.in(upbuf_ptr);
    }
    for (const auto& h : up.headers()) {
      std::string_view name = h.name.in(upbuf_ptr);
      // A 101's Upgrade header says what the tunnel speaks: it goes to the client.
      const bool upgrade_header = upgrading && iequals(name, "upgrade");
      if (hop_by_hop_response(name) && !upgrade_header) continue;
      if (!up_connection.empty() && has_token(up_connection, name) && !upgrade_header) continue;
      bool hidden =
          contains_ci(s.proxy_hide_header, name) && !contains_ci(s.proxy_pass_header, name);
      if (hidden) continue;
      if (iequals(name, "server") || iequals(name, "date")) {
        // passed explicitly with proxy_pass_header: replace ours
        size_t at = out.find(iequals(name, "server") ? "Server: " : "Date: ");
        if (at != std::string::npos) out.erase(at, out.find("\r\n", at) + 2 - at);
      }
      std::string_view value = trim(h.value.in(upbuf_ptr));
      out += name;
      out += ": ";
      const size_t value_at = out.size();
      out += value;
      if (!s.charset.empty() && iequals(name, "content-type")) {
        out += charset_suffix(value, s.charset, s.charset_types);
      }
      if (record_sent) ctx.sent_headers.emplace_back(std::string(name), out.substr(value_at));
      out += "\r\n";
    }
    if (chunk_to_client) out += "Transfer-Encoding: chunked\r\n";
    if (balancer.sticky.mode == balancing::StickyConfig::Mode::kCookie && !lease->sticky_hit()) {
      // Binds the client to the server that answered (nginx's sticky cookie).
      out += "Set-Cookie: ";
      append_sticky_cookie(balancer.sticky, ucfg.sticky_samesite, lease->sticky_id(), ctx, out);
      out += "\r\n";
    }
    finish_response_head(!(until_close || up.chunked()) || chunk_to_client || no_body, upgrading);

    if (upgrading) {
      // The head, then the tunnel (it takes the socket, the lease and whatever
      // the upstream sent after its head).
      upstream_socket_ = nullptr;
      x.head_bytes = out.size();
      if (!co_await write_client(out)) {
        boost::system::error_code ignored;
        conn->socket.close(ignored);
        co_return;
      }
      ctx.bytes_sent += out.size();
      const auto header_us = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(header_time).count());
      peer.stats().record(worker_.slot(),
                          balancing::ServerStats::Response{status, header_us, header_us,
                                                           bytes_to_upstream, bytes_from_upstream});
      open_tunnel(std::move(conn->socket), std::move(picker_owner), std::move(*lease), header_time,
                  std::string(upbuf_ptr + fed, held - fed));
      co_return;
    }

    // ---- stream the body ----
    const size_t worker_slot = worker_.slot();
    // Bytes past the end of the response (more than Content-Length, or a body
    // on a HEAD answer) would poison the next request on this connection.
    bool extra_bytes = up.message_done() && fed < held;
    bool head_pending = true;
    bool upstream_ok = true;
    bool client_ok = true;
    uint64_t body_sent = 0;
    for (;;) {
      bufs.clear();
      if (head_pending) bufs.push_back(asio::buffer(out));
      BodyGather gather(bufs, chunk_lines, chunk_to_client, up.body().size());
      for (const auto& sp : up.body()) {
        gather.add(upbuf_ptr + sp.offset, sp.length);
        body_sent += sp.length;
      }
      up.body().clear();
      bool finished = no_body || up.message_done();
      if (finished) gather.finish();
      if (!bufs.empty()) {
        size_t bytes = asio::buffer_size(bufs);
        if (!co_await write_client(bufs)) {
          client_ok = false;
          break;
        }
        ctx.bytes_sent += bytes;
      }
      head_pending = false;
      if (finished) break;
      arm(s.proxy_read_timeout);
      auto [ec, n] =
          co_await conn->socket.async_read_some(asio::buffer(upbuf_ptr, upbuf_size), kTuple);
      disarm();
      bytes_from_upstream += n;
      if (ec) {
        if (ec == asio::error::eof && up.body_until_close()) {
          up.finish();
          if (chunk_to_client) {
            if (!co_await write_client("0\r\n\r\n")) client_ok = false;
          }
          break;
        }
        upstream_ok = false;
        log_upstream_error(timed_out_ ? "upstream timed out (110: Connection timed out) while "
                                        "reading upstream"
                                      : "upstream prematurely closed connection while reading "
                                        "upstream",
                           upstream_url());
        break;
      }
      size_t used = up.feed(upbuf_ptr, 0, n);
      if (up.message_done() && used < n) extra_bytes = true;
      if (up.failed()) {
        upstream_ok = false;
        log_upstream_error("upstream sent invalid chunked response while reading upstream",
                           upstream_url());
        break;
      }
    }
    ctx.body_bytes_sent = body_sent;
    upstream_socket_ = nullptr;
    auto total = Clock::now() - attempt_start;
    if (keep_times) append_list(ctx.upstream_response_time, seconds_text(total));
    // The client's view is now broken if either side failed mid-body: close.
    if (!upstream_ok || !client_ok) keep_alive_ = false;
    if (!client_ok && ctx.status < 400) ctx.status = status;
    if (extra_bytes) {
      log(LogLevel::kWarn, "*" + std::to_string(info_.id) +
                               " upstream sent more data than specified in \"Content-Length\" "
                               "header while reading upstream, upstream: \"" +
                               upstream_url() + "\"");
    }
    // A 101 switched protocols even when no tunnel follows: never reused (nginx).
    const bool reusable = status != 101 && !extra_bytes && upstream_ok && client_ok &&
                          up.message_done() && up.keep_alive() && ucfg.keepalive > 0 &&
                          (!has_body || parser.message_done());
    // Recorded before the release: a removed server's counters are folded into its
    // group's once it has no lease left.
    auto micros = [](Clock::duration d) {
      return static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(d).count());
    };
    peer.stats().record(worker_slot,
                        balancing::ServerStats::Response{status, micros(total), micros(header_time),
                                                         bytes_to_upstream, bytes_from_upstream});
    peer.note_response(status >= 500 || !upstream_ok);
    lease->release(upstream_ok ? balancing::Outcome::kSuccess : balancing::Outcome::kFailure,
                   Clock::now(), balancing::ResponseTimes{header_time, total});
    if (reusable) {
      conn->requests++;
      worker_.pool().put(ucfg.name,
                         UpstreamPool::Limits{ucfg.keepalive, ucfg.keepalive_timeout,
                                              ucfg.keepalive_requests, ucfg.keepalive_time},
                         std::move(*conn), Clock::now());
    } else {
      boost::system::error_code ignored;
      conn->socket.close(ignored);
    }
    co_return;
  }
}

}  // namespace tg::proxy
