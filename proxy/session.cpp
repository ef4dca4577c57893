// The client session: read head, route, answer (return / proxy), repeat.
// Errors on the hot path are values (as_tuple), timeouts are one timer per
// connection whose expiry cancels the pending socket operation.
#include "proxy/session.h"

#include <sys/socket.h>

#include <span>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>

#include "common/error_log.h"
#include "proxy/exact_allocator.h"
#include "proxy/exchange.h"
#include "proxy/http_status.h"

namespace tg::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {
constexpr size_t kPooledHead = 1024;  // nginx's client_header_buffer_size default
constexpr size_t kPooledHeads = 512;
thread_local std::vector<std::unique_ptr<char[]>> t_spare_heads;
}  // namespace

void ByteBuffer::release() {
  if (data && capacity == kPooledHead && t_spare_heads.size() < kPooledHeads) {
    t_spare_heads.push_back(std::move(data));
  }
  data.reset();
  capacity = end = 0;
}

void ByteBuffer::reserve(size_t n) {
  if (n <= capacity) return;
  if (!data && n <= kPooledHead && !t_spare_heads.empty()) {
    data = std::move(t_spare_heads.back());
    t_spare_heads.pop_back();
    capacity = kPooledHead;
    return;
  }
  if (!data && n < kPooledHead) n = kPooledHead;  // poolable size
  auto bigger = std::make_unique_for_overwrite<char[]>(n);
  if (end) std::memcpy(bigger.get(), data.get(), end);
  data = std::move(bigger);
  capacity = n;
}

ClientSession::ClientSession(Worker& worker, Socket socket,
                             std::shared_ptr<WorkerGeneration> generation,
                             const ListenGroup* listen)
    : worker_(worker),
      client_(std::move(socket)),
      gen_(std::move(generation)),
      listen_(listen),
      created_(Clock::now()),
      idle_timeout_(listen->default_server->client_header_timeout),
      tls_pending_(listen->tls != nullptr),
      proxy_protocol_pending_(listen->proxy_protocol) {
  static std::atomic<uint64_t> next_id{1};
  info_.id = next_id.fetch_add(1, std::memory_order_relaxed);
  boost::system::error_code ec;
  auto remote = client_.socket().remote_endpoint(ec);
  auto local = client_.socket().local_endpoint(ec);
  set_remote_address(info_, remote.address());
  info_.remote_port = remote.port();
  info_.server_addr = local.address().to_string();
  info_.server_port = local.port();
  client_.socket().set_option(tcp::no_delay(true), ec);
  ++gen_->connections;
  worker_.add_session(this);
  WorkerCounters::add(worker_.counters().active, 1);
}

ClientSession::~ClientSession() {
  --gen_->connections;
  set_idle(false);
  WorkerCounters::add(worker_.counters().active, -1);
  worker_.remove_session(this);
}

void ClientSession::start(std::shared_ptr<ClientSession> session) {
  session->wait_for_request(session->idle_timeout_);
}

// Between requests a connection owns no coroutine and no buffers: only a
// readiness wait and its deadline slot (an idle keep-alive connection costs ~730 B).
namespace {
/// How long a connection that just finished a request waits with its buffers
/// before it gives them up (see serve_requests).
constexpr std::chrono::milliseconds kHotWait{25};

thread_local std::vector<std::unique_ptr<char[]>> t_spare_buffers;
constexpr size_t kSpareBuffers = 64;

// Per-request state is recycled per worker thread: its buffers and strings keep
// their capacity, so a request on a warm worker allocates almost nothing.
thread_local std::vector<std::unique_ptr<ClientSession::Exchange>> t_spare_exchanges;
constexpr size_t kSpareExchanges = 64;
}  // namespace

std::unique_ptr<char[]> PooledBuffer::acquire() {
  if (t_spare_buffers.empty()) return std::make_unique_for_overwrite<char[]>(kIoBuffer);
  auto b = std::move(t_spare_buffers.back());
  t_spare_buffers.pop_back();
  return b;
}

void PooledBuffer::release(std::unique_ptr<char[]> buffer) {
  if (t_spare_buffers.size() < kSpareBuffers) t_spare_buffers.push_back(std::move(buffer));
}

void ClientSession::recycle_exchange() {
  if (!x_) return;
  x_->conn_holds.clear();
  if (t_spare_exchanges.size() < kSpareExchanges) {
    x_->io.reset();  // body buffers are rare; keep only the common ones
    t_spare_exchanges.push_back(std::move(x_));
  }
  x_.reset();
}

std::unique_ptr<ClientSession::Exchange> ClientSession::take_exchange() {
  if (t_spare_exchanges.empty()) return std::make_unique<Exchange>();
  auto x = std::move(t_spare_exchanges.back());
  t_spare_exchanges.pop_back();
  return x;
}

void ClientSession::wait_for_request(std::chrono::milliseconds timeout) {
  recycle_exchange();
  in_.release();
  set_idle(true);
  if (quit_ || worker_.quitting()) {
    close();
    return;
  }
  arm(timeout);
  // The wait lives as long as the connection idles: allocated at its own size
  // (ExactAllocator), ~100 B instead of a recycled ~450 B block.
  client_.async_wait_readable(asio::bind_allocator(
      ExactAllocator<void>(),
      [self = shared_from_this()](const boost::system::error_code& ec) { self->on_readable(ec); }));
}

void ClientSession::on_readable(const boost::system::error_code& ec) {
  if (ec || timed_out_ || quit_) {
    close();
    return;
  }
  set_idle(false);
  asio::co_spawn(client_.socket().get_executor(), serve_requests(),
                 [self = shared_from_this()](std::exception_ptr e) {
                   if (!e) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     log(LogLevel::kAlert,
                         std::string("unexpected exception in a connection: ") + ex.what());
                   }
                   self->close();
                 });
}

void ClientSession::set_idle(bool idle) {
  if (idle == idle_) return;
  idle_ = idle;
  WorkerCounters::add(worker_.counters().idle, idle ? 1 : -1);
}

void ClientSession::close() {
  disarm();
  client_.shutdown_tls();
  boost::system::error_code ec;
  client_.socket().close(ec);
}

void ClientSession::on_quit() {
  quit_ = true;
  if (idle_) {
    boost::system::error_code ec;
    client_.socket().cancel(ec);
  }
}

const conf::LocationSettings& ClientSession::settings() const {
  const auto& ctx = x_->ctx;
  if (ctx.location) return ctx.location->settings;
  if (ctx.server) return ctx.server->settings;
  return listen_->default_server->settings;
}

// ---- timeouts ----

// Timeouts are deadlines in the worker's table, checked every 100 ms (see
// Worker::tick): arming one is a store, and an idle connection holds no timer.
void ClientSession::arm(std::chrono::milliseconds timeout) {
  timed_out_ = false;
  worker_.set_deadline(slot_, Clock::now() + timeout);
}

void ClientSession::disarm() {
  worker_.set_deadline(slot_, Clock::time_point::max());
}

void ClientSession::arm_upstream(Socket& upstream, std::chrono::milliseconds timeout) {
  upstream_socket_ = &upstream;
  arm(timeout);
}

bool ClientSession::disarm_upstream() {
  disarm();
  upstream_socket_ = nullptr;
  return timed_out_;
}

void ClientSession::on_deadline() {
  timed_out_ = true;
  boost::system::error_code ignored;
  client_.socket().cancel(ignored);
  if (upstream_socket_) upstream_socket_->cancel(ignored);
}

// ---- the connection loop ----

Task<void> ClientSession::serve_requests() {
  // Runs while the connection is busy: as long as requests keep coming
  // (pipelined bytes already held), then hands back to wait_for_request().
  if (proxy_protocol_pending_ && !co_await read_proxy_protocol()) {
    close();
    co_return;
  }
  if (tls_pending_ && !co_await start_tls()) {
    close();
    co_return;
  }
  for (;;) {
    if (!x_) x_ = take_exchange();
    if (!co_await read_head()) break;
    co_await handle_request();
    if (tunnel_) {
      // Upgraded: the tunnel runs on callbacks; this coroutine's frames go away.
      run_tunnel();
      co_return;
    }
    idle_timeout_ = settings().keepalive_timeout;
    finish_request();
    if (!keep_alive_ || quit_ || worker_.quitting()) break;
    if (in_.end == 0) {
      // Hot wait: a client that just got an answer usually sends again soon.
      // Reading straight into the head buffer costs no syscall until epoll
      // reports data (asio skips the speculative read once a socket is
      // drained), unlike a readiness wait, which re-arms epoll every time.
      // After kHotWait without a request the connection cools down to the
      // light idle state, which holds no buffers.
      const auto hot = std::min(idle_timeout_, kHotWait);
      recycle_exchange();  // only the head buffer is held while waiting
      auto& in = in_;
      if (in.capacity > 4096) in.release();  // a rare huge head: do not keep it
      in.reserve(listen_->default_server->client_header_buffer_size);
      set_idle(true);
      arm(hot);
      auto [ec, n] =
          co_await client_.async_read_some(asio::buffer(in.data.get(), in.capacity), kTuple);
      set_idle(false);
      if (!ec) {
        in.end = n;
        continue;
      }
      if (timed_out_ && !quit_ && !worker_.quitting() && hot < idle_timeout_) {
        wait_for_request(idle_timeout_ - hot);
        co_return;
      }
      timed_out_ = false;  // an idle keep-alive timeout is not a timed-out request
      break;               // closed by the client, idle timeout, or shutting down
    }
  }
  disarm();
  if (client_timed_out_ && x_ && settings().reset_timedout_connection) {
    // nginx's reset_timedout_connection: a request that timed out ends with a
    // reset (SO_LINGER 0), which frees the socket's buffers at once.
    const linger reset{1, 0};
    ::setsockopt(client_.socket().native_handle(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    close();
    co_return;
  }
  const conf::LocationSettings& last = x_ ? settings() : listen_->default_server->settings;
  using Lingering = conf::LocationSettings::Lingering;
  if (last.lingering_close == Lingering::kAlways ||
      (last.lingering_close == Lingering::kOn && !keep_alive_ && (in_.end > 0 || unread_input_))) {
    // Lingering close (nginx's): closing with unread bytes would send a reset
    // that can destroy our response before the client reads it.
    client_.shutdown_tls();
    boost::system::error_code ec;
    client_.socket().shutdown(tcp::socket::shutdown_send, ec);
    // The bytes are thrown away, so one buffer per thread serves every connection.
    thread_local char sink[4096];
    const auto until = Clock::now() + last.lingering_time;
    for (auto now = Clock::now(); now < until && !quit_; now = Clock::now()) {
      arm(std::min<std::chrono::milliseconds>(
          last.lingering_timeout, std::chrono::ceil<std::chrono::milliseconds>(until - now)));
      auto [rec, n] =
          co_await client_.socket().async_read_some(asio::buffer(sink, sizeof sink), kTuple);
      if (rec) break;
    }
    disarm();
  }
  close();
}

Task<bool> ClientSession::read_head() {
  auto& x = *x_;
  auto& ctx = x.ctx;
  const auto& server = *listen_->default_server;
  // The parser applies nginx's per-line rule; the buffer holds the whole head.
  const size_t max_head =
      server.client_header_buffer_size +
      static_cast<size_t>(server.large_header_buffers) * server.large_header_buffer_size;
  x.parser.reset();
  x.parser.set_limits(http::HeadLimits{static_cast<uint32_t>(server.client_header_buffer_size),
                                       static_cast<uint32_t>(server.large_header_buffer_size),
                                       static_cast<uint32_t>(server.large_header_buffers)});
  ctx.reset();
  ctx.config = gen_->runtime->config.get();
  ctx.conn = ctx.peer = &info_;
  x.realip_done = false;
  x.consumed = 0;
  x.body_bytes = 0;
  x.body_from_socket = false;
  x.sent_continue = false;
  x.body_base = nullptr;
  x.forced_status = 0;
  x.error_page_get = false;
  // client_header_timeout covers the whole head, not each read (slowloris).
  arm(server.client_header_timeout);
  for (;;) {
    if (in_.end > x.consumed) {
      x.consumed += x.parser.feed(in_.data.get(), x.consumed, in_.end);
    }
    if (x.parser.failed() || (!x.parser.headers_done() && in_.end >= max_head)) {
      // nginx's answer for each refusal: 400, 414, 494 (sent as 400), 501, 505.
      const auto error =
          x.parser.failed() ? x.parser.error() : http::ParseError::kHeaderLineTooLong;
      keep_alive_ = false;
      ctx.start = Clock::now();
      begin_request();
      ctx.start_wall = std::chrono::system_clock::now();
      log(LogLevel::kInfo,
          "*" + std::to_string(info_.id) + " client sent " + std::string(http::describe(error)) +
              (x.parser.request_line_done() ? " while reading client request headers"
                                            : " while reading client request line") +
              ", client: " + client_addr());
      co_await respond_error(http::status_for(error));
      finish_request();
      co_return false;
    }
    if (x.parser.headers_done()) break;
    if (in_.end == in_.capacity) {
      size_t next = in_.capacity ? in_.capacity * 2 : server.client_header_buffer_size;
      in_.reserve(std::min(std::max(next, size_t{1024}), max_head));
    }
    auto [ec, n] = co_await client_.async_read_some(
        asio::buffer(in_.data.get() + in_.end, in_.capacity - in_.end), kTuple);
    if (ec) {
      if (timed_out_ && in_.end > 0) {
        client_timed_out_ = true;
        log(LogLevel::kInfo, "*" + std::to_string(info_.id) +
                                 " client timed out (110: Connection timed out) while reading "
                                 "client request headers, client: " +
                                 client_addr());
      }
      keep_alive_ = false;
      in_.end = 0;
      co_return false;
    }
    in_.end += n;
  }
  // Head complete: fill the request context.
  const char* base = in_.data.get();
  ctx.base = base;
  ctx.head = &x.parser;
  ctx.start = Clock::now();
  ctx.start_wall = std::chrono::system_clock::now();
  ctx.method = http::method_name(x.parser.method());
  if (ctx.method.empty()) ctx.method = x.parser.method_text().in(base);
  ctx.protocol = x.parser.http_minor() == 0 && x.parser.http_major() == 1 ? "HTTP/1.0" : "HTTP/1.1";
  ctx.request_target = x.parser.url().in(base);
  ctx.request_length = static_cast<int64_t>(x.parser.head_bytes());
  ++info_.requests;
  x.body_base = base;
  std::string_view target = ctx.request_target;
  std::string_view uri_host;
  if (!target.starts_with("/")) {
    // Absolute form (the parser checked `scheme://authority`): the host is the URI's,
    // and only the path and query after it ever reach an upstream ($request_uri, as
    // nginx). The scheme is not looked at: `HTTPS://internal/x` asks for "/x" too.
    target.remove_prefix(target.find("//") + 2);
    size_t end = target.find_first_of("/?");
    uri_host = target.substr(0, end);
    target = end == std::string_view::npos ? std::string_view() : target.substr(end);
  }
  ctx.request_uri = target.empty() ? std::string_view("/") : target;
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (path.empty()) path = "/";  // `http://host` and `http://host?a=1`
  if (q != std::string_view::npos) ctx.args = target.substr(q + 1);
  bool bad = !normalize_uri(path, ctx.uri);
  std::string_view host_header;
  int host_count = 0;
  for (const auto& h : x.parser.headers()) {
    if (iequals(h.name.in(base), "host")) {
      host_header = trim(h.value.in(base));
      ++host_count;
    }
  }
  if (host_count > 1 || (host_count == 1 && host_header.empty())) bad = true;
  if (!bad && !normalize_host(uri_host.empty() ? host_header : uri_host, ctx.host)) bad = true;
  // RFC 9112 §3.2 (and nginx): an HTTP/1.1 request needs Host, absolute form or not.
  if (!bad && host_count == 0 && x.parser.http_minor() >= 1) {
    log(LogLevel::kInfo,
        "*" + std::to_string(info_.id) +
            " client sent HTTP/1.1 request without \"Host\" header, client: " + client_addr());
    bad = true;
  }
  ctx.server = find_server(*listen_, ctx.host);
  if (!bad) apply_realip(ctx.server->settings);  // nginx's post-read phase: server level
  begin_request();
  ctx.host_from_request = !ctx.host.empty();
  if (ctx.host.empty()) ctx.host = ctx.server->names.first;
  if (bad) {
    keep_alive_ = false;
    co_await respond_error(400);
    finish_request();
    co_return false;
  }
  if (x.parser.method() == http::Method::kConnect || x.parser.method() == http::Method::kTrace) {
    // Not a forward proxy (CONNECT); TRACE would echo credentials. nginx: 405.
    keep_alive_ = false;
    log(LogLevel::kInfo, "*" + std::to_string(info_.id) + " client sent " +
                             std::string(ctx.method) + " method, client: " + client_addr());
    co_await respond_error(405);
    finish_request();
    co_return false;
  }
  if (listen_->tls && !co_await check_tls_request()) co_return false;
  // An upgrade request we do not tunnel ends the connection after the answer:
  // the client may already be sending the new protocol.
  keep_alive_ = x.parser.keep_alive() && !x.parser.upgrade();
  co_return true;
}

void ClientSession::finish_request() {
  if (!x_) return;
  auto& x = *x_;
  auto& ctx = x.ctx;
  if (ctx.in_progress) record_request();
  if (ctx.status == 0) return;  // nothing was answered (connection dropped before a request)
  ctx.request_length += x.body_bytes;
  const auto& s = settings();
  for (const auto& a : s.access_log) {
    auto it = gen_->runtime->access_logs.find(a.path);
    if (it == gen_->runtime->access_logs.end()) continue;
    std::string line;
    expand_log(ctx.config->http.log_formats[a.format], ctx, line);
    worker_.access_log().append(it->second, line, a.buffer);
  }
  // Leftover pipelined bytes move to the front for the next request.
  if (x.parser.message_done() && x.consumed < in_.end) {
    std::memmove(in_.data.get(), in_.data.get() + x.consumed, in_.end - x.consumed);
    in_.end -= x.consumed;
  } else {
    in_.end = 0;
  }
  if (!x.leftover.empty()) {
    in_.reserve(in_.end + x.leftover.size());
    std::memcpy(in_.data.get() + in_.end, x.leftover.data(), x.leftover.size());
    in_.end += x.leftover.size();
    x.leftover.clear();
  }
  x.consumed = 0;
  if (!x.parser.message_done()) {
    // An unread body or a refused head: the next request cannot be found, and
    // the client may still be sending (lingering close, see serve_requests).
    keep_alive_ = false;
    unread_input_ = true;
  }
  ctx.status = 0;
}

void ClientSession::begin_request() {
  auto& ctx = x_->ctx;
  ctx.in_progress = true;
  // nginx counts a request when it begins (stub_status, NGINX Plus's total >= current).
  WorkerCounters::add(worker_.counters().current, 1);
  WorkerCounters::add(worker_.counters().requests);
  if (ctx.server && !ctx.server->status_zone.empty()) {
    ctx.server_zone = gen_->runtime->server_zone(ctx.server->status_zone);
    if (ctx.server_zone) ctx.server_zone->begin(worker_.slot());
  }
}

void ClientSession::record_request() {
  auto& ctx = x_->ctx;
  ctx.in_progress = false;
  x_->conn_holds.clear();  // limit_conn: this request no longer counts
  auto& counters = worker_.counters();
  WorkerCounters::add(counters.current, -1);
  ZoneStats* location_zone = ctx.location && !ctx.location->status_zone.empty()
                                 ? gen_->runtime->location_zone(ctx.location->status_zone)
                                 : nullptr;
  if (!ctx.server_zone && !location_zone) return;  // no zone: no clock read
  const bool answered = ctx.status != 0 && ctx.status != 499 && ctx.bytes_sent > 0;
  const auto micros = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - ctx.start).count());
  const balancing::ServerStats::Response r{
      ctx.status, micros, micros, ctx.bytes_sent,
      static_cast<uint64_t>(ctx.request_length) + static_cast<uint64_t>(x_->body_bytes)};
  for (ZoneStats* zone : {ctx.server_zone, location_zone}) {
    if (!zone) continue;
    if (answered) {
      zone->responses().record(worker_.slot(), r);
    } else {
      zone->discarded(worker_.slot());
    }
  }
  if (ctx.server_zone) ctx.server_zone->end(worker_.slot());
  ctx.server_zone = nullptr;
}

// ---- routing and handlers ----

// Routing is synchronous: this returns the task that answers (a frame fewer per
// request than a coroutine that awaits it). Texts the answer refers to are kept in
// the request state, since the task runs after this returns.
Task<void> ClientSession::handle_request() {
  auto& x = *x_;
  auto& ctx = x.ctx;
  ctx.user_values.resize(ctx.config->http.user_variables.size());
  const auto& server = *ctx.server;
  for (const auto& op : server.rewrite) {
    if (op.kind == conf::RewriteOp::Kind::kSet) {
      ctx.user_values[op.slot] = expand(op.value, ctx);
    } else {
      std::string& text = x.answer_text;
      text = op.has_value ? expand(op.value, ctx) : std::string();
      bool redirect =
          op.code == 301 || op.code == 302 || op.code == 303 || op.code == 307 || op.code == 308;
      return respond(op.code, redirect ? std::string_view{} : std::string_view(text), {},
                     redirect ? std::string_view(text) : std::string_view{}, 0);
    }
  }
  ctx.capture_subject = ctx.uri;
  bool auto_redirect = false;
  const conf::Location* loc = find_location(server, ctx.uri, &ctx.captures, &auto_redirect);
  if (auto_redirect) {
    // nginx: `location /x/ { proxy_pass ...; }` answers /x with a 301 to /x/.
    ctx.location = loc;
    return redirect_with_slash(0);
  }
  if (loc && loc->internal) {
    ctx.location = loc;
    return respond_error(404);  // `internal`: reachable only through error_page
  }
  return run_location(loc, 0);
}

Task<void> ClientSession::run_location(const conf::Location* loc, int redirects) {
  auto& ctx = x_->ctx;
  ctx.location = loc;
  if (!loc) {
    // No location: the server's own settings serve the file (nginx).
    co_await serve_files(nullptr, redirects);
    co_return;
  }
  for (const auto& op : loc->rewrite) {
    if (op.kind == conf::RewriteOp::Kind::kSet) {
      ctx.user_values[op.slot] = expand(op.value, ctx);
      continue;
    }
    std::string text = op.has_value ? expand(op.value, ctx) : std::string();
    bool redirect =
        op.code == 301 || op.code == 302 || op.code == 303 || op.code == 307 || op.code == 308;
    if (redirect || !op.has_value) {
      co_await respond(op.code, {}, {}, redirect ? std::string_view(text) : std::string_view{},
                       redirects);
    } else {
      co_await respond(op.code, text, loc->settings.default_type, {}, redirects);
    }
    co_return;
  }
  apply_realip(loc->settings);  // nginx's preaccess phase, unless done at server level
  if (!loc->settings.limit_req.empty() && !co_await limit_requests(*loc)) co_return;
  if (!loc->settings.limit_conn.empty() && !co_await limit_connections(*loc)) co_return;
  // Only locations with access rules pay for the access phase's coroutine.
  if ((!loc->settings.access.empty() || !loc->settings.auth_basic.empty()) &&
      !co_await check_access(*loc)) {
    co_return;
  }
  if (loc->proxy) {
    co_await proxy(*loc, redirects);
    co_return;
  }
  if (loc->control) {
    co_await serve_control(*loc, redirects);
    co_return;
  }
  // No handler of its own: nginx's static module serves the file.
  co_await serve_files(loc, redirects);
}

RequestContext& ClientSession::request() {
  return x_->ctx;
}

Task<void> ClientSession::redirect_with_slash(int redirects) {
  auto& x = *x_;
  std::string& target = x.answer_text;  // lives as long as the request
  target.clear();
  escape_uri(x.ctx.uri, target);
  target += '/';
  if (!x.ctx.args.empty()) {
    target += '?';
    target += x.ctx.args;
  }
  return respond(301, {}, {}, target, redirects);
}

Task<void> ClientSession::proxy(const conf::Location& loc, int redirects) {
  // Not a coroutine itself: the exchange's frame is the only one it costs.
  auto& x = *x_;
  return UpstreamExchange::run(
      *this, UpstreamRequest{worker_, *gen_, *listen_->default_server, x.upstream, loc, redirects,
                             x.forced_status, x.error_page_get});
}

}  // namespace tg::proxy
