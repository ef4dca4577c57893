// proxy_pass: the retry loop of a request exchange. Pick a peer, attempt it,
// settle the attempt, and either forward its answer or go to the next peer as
// proxy_next_upstream allows (failures before anything reached the client only).
#include <span>

#include "common/error_log.h"
#include "proxy/upstream_exchange.h"

namespace tg::proxy {

namespace {

bool idempotent(std::string_view method) {
  return method != "POST" && method != "LOCK" && method != "PATCH";
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

}  // namespace

void append_list(std::string& list, std::string_view item) {
  if (!list.empty()) list += ", ";
  list += item;
}

void log_upstream_error(const RequestContext& ctx, std::string_view what,
                        const std::string& upstream_url) {
  std::string line = "*" + std::to_string(ctx.conn->id) + " ";
  line += what;
  line += ", client: " + ctx.conn->remote_addr + ", server: " + ctx.server->names.first +
          ", request: \"" + std::string(ctx.method) + " " + std::string(ctx.request_target) + " " +
          std::string(ctx.protocol) + "\", upstream: \"" + upstream_url + "\"";
  std::string_view host = ctx.header("host");
  if (!host.empty()) line += ", host: \"" + std::string(host) + "\"";
  log(LogLevel::kError, line);
}

void UpstreamBuffers::shrink() {
  // The URI, the response parser and the response head copy stay: the access
  // log line written when the tunnel closes reads them.
  head.clear();
  head.shrink_to_fit();
  held_body = {};
  piece = {};
  bufs = {};
  std::string().swap(chunk_lines);
}

UpstreamExchange::UpstreamExchange(ClientSide& client, const UpstreamRequest& request)
    : client_(client),
      ctx_(client.request()),
      worker_(request.worker),
      buf_(request.buffers),
      header_rules_(request.header_rules),
      loc_(request.location),
      s_(request.location.settings),
      target_(*request.location.proxy),
      ucfg_(ctx_.config->http.upstreams[target_.upstream]),
      req_(*ctx_.head),
      picker_(request.worker.picker(request.generation, target_.upstream)),
      redirects_(request.redirects),
      forced_status_(request.forced_status),
      error_page_get_(request.error_page_get) {
  ctx_.proxy = &target_;
  ctx_.location = &loc_;
}

Task<void> UpstreamExchange::run(ClientSide& client, UpstreamRequest request) {
  UpstreamExchange x(client, request);
  if (const int refusal = x.prepare_request()) {
    co_await client.respond_with_status(refusal, x.redirects_);
    co_return;
  }
  // Body bytes already read are kept so a retry can resend them. With
  // proxy_request_buffering on (nginx's default) up to one I/O buffer of body
  // is read before an upstream is chosen: small bodies are then complete,
  // replayable, and checked against client_max_body_size first. Larger bodies
  // stream (nginx would spool them to disk).
  auto& held = x.buf_.held_body;
  held.clear();
  if (x.has_body_ || x.error_page_get_) client.take_body_received(x.has_body_ ? &held : nullptr);
  if (x.has_body_ && !x.req_.message_done()) {
    const size_t read_ahead = x.s_.proxy_request_buffering ? kIoBuffer : 0;
    const BodyRead read = co_await client.start_body(held, read_ahead);
    if (read == BodyRead::kClosed) co_return;
    if (read == BodyRead::kInvalid) {
      co_await client.respond_with_status(400, x.redirects_);
      co_return;
    }
  }
  if (x.body_over_limit()) {
    co_await client.respond_with_status(413, x.redirects_);
    co_return;
  }
  x.body_held_ = !x.has_body_ || x.req_.message_done();
  x.prepare_attempts();

  for (;;) {
    auto lease = x.picker_->pick(x.tried_, Clock::now(), x.pick_input_);
    if (!lease) {
      log_upstream_error(x.ctx_, "no live upstreams while connecting to upstream",
                         (x.target_.https ? "https://" : "http://") + x.ucfg_.name + x.buf_.uri);
      append_list(x.ctx_.upstream_addr, x.ucfg_.name);
      append_list(x.ctx_.upstream_status, "502");
      co_await client.respond_with_status(502, x.redirects_);
      co_return;
    }
    UpstreamAttempt a(std::move(*lease), Clock::now());
    co_await x.attempt(a);
    int status = 0;
    switch (x.settle(a, status)) {
      case Next::kRetry:
        continue;
      case Next::kAnswer:
        co_await client.respond_with_status(status, x.redirects_);
        co_return;
      case Next::kEnd:
        co_return;
      case Next::kForward:
        co_await x.forward_response(a);
        co_return;
    }
  }
}

bool UpstreamExchange::body_over_limit() {
  if (s_.client_max_body_size <= 0) return false;
  const int64_t bytes = client_.body_progress().bytes;
  if (bytes <= s_.client_max_body_size) return false;
  log(LogLevel::kError, "*" + std::to_string(ctx_.conn->id) +
                            " client intended to send too large chunked body: " +
                            std::to_string(bytes) + "+ bytes, client: " + ctx_.conn->remote_addr);
  client_.close_after_response();
  return true;
}

void UpstreamExchange::prepare_attempts() {
  const auto& group = picker_->group();
  // nginx's peer.tries: every server once; a single-server group is never
  // retried (ngx_http_upstream_free_round_robin_peer zeroes tries for it).
  group_size_ =
      group.single() ? 1 : static_cast<int>(group.primaries().size() + group.backups().size());
  started_ = Clock::now();
  keep_times_ = ctx_.config->uses(conf::Var::kUpstreamResponseTime) ||
                ctx_.config->uses(conf::Var::kUpstreamConnectTime) ||
                ctx_.config->uses(conf::Var::kUpstreamHeaderTime);
  prepare_pick_input();
  upbuf_size_ = std::max(kIoBuffer, s_.proxy_buffer_size);
  if (upbuf_size_ > kIoBuffer) large_buf_ = std::make_unique_for_overwrite<char[]>(upbuf_size_);
  upbuf_ = large_buf_ ? large_buf_.get() : pooled_buf_.get();
}

void UpstreamExchange::prepare_pick_input() {
  const auto& balancer = picker_->group().balancer();
  if (balancer.algorithm == balancing::Algorithm::kHash) {
    expand(ucfg_.hash_key, ctx_, hash_key_);
    pick_input_.hash_key = hash_key_;
  } else if (balancer.algorithm == balancing::Algorithm::kIpHash) {
    pick_input_.client_addr =
        std::span<const uint8_t>(ctx_.conn->remote_bytes.data(), ctx_.conn->remote_bytes_len);
  }
  if (balancer.sticky.mode == balancing::StickyConfig::Mode::kCookie) {
    pick_input_.sticky = request_cookie(ctx_, balancer.sticky.cookie_name);
  } else if (balancer.sticky.mode == balancing::StickyConfig::Mode::kRoute) {
    // nginx: the first non-empty variable is the route.
    for (const auto& var : ucfg_.sticky_route) {
      expand(var, ctx_, sticky_route_);
      if (!sticky_route_.empty()) break;
    }
    pick_input_.sticky = sticky_route_;
  }
}

// nginx's ngx_http_upstream_next() rules, in one place: the condition is listed
// in proxy_next_upstream, the body can be replayed, tries remain (the group's
// size, proxy_next_upstream_tries, proxy_next_upstream_timeout), and a
// non-idempotent request that reached the upstream needs `non_idempotent`.
bool UpstreamExchange::may_try_next(unsigned condition, bool request_sent) const {
  return (s_.proxy_next_upstream & condition) && !client_.body_progress().streamed &&
         tried_.tries() < group_size_ &&
         (s_.proxy_next_upstream_tries == 0 || tried_.tries() < s_.proxy_next_upstream_tries) &&
         (s_.proxy_next_upstream_timeout.count() == 0 ||
          Clock::now() - started_ < s_.proxy_next_upstream_timeout) &&
         (!request_sent || idempotent(method_) ||
          (s_.proxy_next_upstream & conf::kNuNonIdempotent));
}

std::string UpstreamExchange::upstream_url(const balancing::Peer& peer) const {
  return (target_.https ? "https://" : "http://") + peer.name() + buf_.uri;
}

UpstreamExchange::Next UpstreamExchange::settle(UpstreamAttempt& a, int& status) {
  if (a.body_failure != UpstreamAttempt::BodyFailure::kNone) {
    // The client went away or sent a broken or too large body (400 or 413, as nginx;
    // the upstream connection, holding half a request, is closed).
    a.lease.release(balancing::Outcome::kSuccess, Clock::now());
    client_.close_after_response();
    if (a.body_failure == UpstreamAttempt::BodyFailure::kTooLarge) {
      status = 413;
      return Next::kAnswer;
    }
    status = 400;
    return a.body_read == BodyRead::kInvalid ? Next::kAnswer : Next::kEnd;
  }
  const auto elapsed = Clock::now() - a.start;
  if (a.failure != UpstreamAttempt::Failure::kNone) {
    a.close();
    // A cached connection the upstream had already closed is not the peer's
    // fault: retry once on a fresh connection to the same peer.
    // Still subject to proxy_next_upstream and the non-idempotent rule: the
    // upstream may have processed the request before closing.
    if (a.cached && a.failure == UpstreamAttempt::Failure::kError && a.held == 0 &&
        !client_.body_progress().streamed && (s_.proxy_next_upstream & conf::kNuError) &&
        (idempotent(method_) || (s_.proxy_next_upstream & conf::kNuNonIdempotent))) {
      retried_cached_ = true;
      a.lease.release(balancing::Outcome::kSuccess, Clock::now());
      // This try is given back and the peer may be picked again; the servers
      // tried before stay tried and proxy_next_upstream_tries still counts.
      tried_.retry(a.peer);
      append_list(ctx_.upstream_status, "502");
      return Next::kRetry;
    }
    retried_cached_ = false;
    log_upstream_error(ctx_, a.what, upstream_url(a.peer));
    a.peer.stats().record_failed_attempt(worker_.slot());
    a.peer.note_response(true);  // a gateway failure counts as a 5xx for outlier detection
    a.lease.release(balancing::Outcome::kFailure, Clock::now());
    const bool timeout = a.failure == UpstreamAttempt::Failure::kTimeout;
    status = timeout ? 504 : 502;
    append_list(ctx_.upstream_status, std::to_string(status));
    if (keep_times_) append_list(ctx_.upstream_response_time, seconds_text(elapsed));
    if (keep_times_) append_list(ctx_.upstream_header_time, "-");
    const unsigned bit = timeout ? conf::kNuTimeout
                         : a.failure == UpstreamAttempt::Failure::kInvalidHeader
                             ? conf::kNuInvalidHeader
                             : conf::kNuError;
    return may_try_next(bit, a.request_sent) ? Next::kRetry : Next::kAnswer;
  }

  status = buf_.response.status_code();
  a.header_time = elapsed;
  if (keep_times_) append_list(ctx_.upstream_header_time, seconds_text(elapsed));
  const unsigned status_bit = status_condition(status);
  if (status_bit && may_try_next(status_bit, /*request_sent=*/true)) {
    // Is there anyone left to try? Only then drop this response. (A look, not a
    // pick: a probe lease would count as a request and end a failed server's
    // fail_timeout.)
    if (picker_->has_eligible(tried_, Clock::now())) {
      a.close();
      const bool counts = status != 403 && status != 404;  // nginx: these are not peer failures
      a.lease.release(counts ? balancing::Outcome::kFailure : balancing::Outcome::kSuccess,
                      Clock::now());
      append_list(ctx_.upstream_status, std::to_string(status));
      if (keep_times_) append_list(ctx_.upstream_response_time, seconds_text(elapsed));
      return Next::kRetry;
    }
  }
  append_list(ctx_.upstream_status, std::to_string(status));

  // proxy_intercept_errors: an error_page for this status answers instead.
  if (s_.proxy_intercept_errors && status >= 300 && s_.error_page.count(status) &&
      redirects_ < 10) {
    a.close();
    a.lease.release(balancing::Outcome::kSuccess, Clock::now());
    if (keep_times_) append_list(ctx_.upstream_response_time, seconds_text(Clock::now() - a.start));
    return Next::kAnswer;
  }
  return Next::kForward;
}

}  // namespace tg::proxy
