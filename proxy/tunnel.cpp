// Upgraded connections (101 Switching Protocols, e.g. WebSocket): once the
// upstream switches protocols the session copies bytes both ways until the
// upstream closes, as nginx's ngx_http_upstream_upgrade.
//
// A tunnel is a small callback state machine, not a coroutine: the exchange hands it
// the upstream socket and lease and the request's coroutines return, so an idle
// tunnel holds only its two sockets, two readiness waits and this state (no
// coroutine frames, no buffers). Each direction: wait until readable, read what is
// there, write it without blocking; only a write the peer cannot take at once
// goes asynchronous, holding its buffer until it completes.
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/write.hpp>

#include "common/error_log.h"
#include "proxy/exact_allocator.h"
#include "proxy/exchange.h"
#include "proxy/session.h"

namespace tg::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {
constexpr int kToUpstream = 0;
constexpr int kToClient = 1;

/// The two ends of a tunnel, each a stream (TLS or not): `dir` names where bytes go.
struct Ends {
  Stream& client;
  Stream& upstream;

  Stream& from(int dir) { return dir == kToClient ? upstream : client; }
  Stream& to(int dir) { return dir == kToClient ? client : upstream; }
  /// The sender is done: FIN (after TLS's close_notify) to the receiving end.
  void shutdown_send(int dir) {
    boost::system::error_code ignored;
    to(dir).shutdown_tls();
    to(dir).socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
};

}  // namespace

void ClientSession::open_tunnel(Stream upstream, std::shared_ptr<balancing::GroupPicker> picker,
                                balancing::Lease lease, Clock::duration header_time,
                                std::string from_upstream) {
  auto& x = *x_;
  auto& ctx = x.ctx;
  tunnel_ = std::make_unique<Tunnel>(std::move(upstream), std::move(picker), std::move(lease),
                                     header_time);
  x.head_bytes = x.out.size();  // the 101's head, which write_response has sent
  auto& t = *tunnel_;
  t.idle_timeout = settings().proxy_read_timeout;
  t.websocket = iequals(ctx.header("upgrade"), "websocket");
  t.initial[kToClient] = std::move(from_upstream);
  // What the client sent after its request head already belongs to the tunnel.
  if (x.consumed < in_.end) {
    t.initial[kToUpstream].assign(in_.data.get() + x.consumed, in_.end - x.consumed);
  }
  t.initial[kToUpstream] += x.leftover;
  x.leftover.clear();
  in_.end = x.consumed;
  keep_request_head();  // the head buffer goes; the access log still needs the request
  t.lease.peer().tunnel_opened();
  worker_.tunnel_opened();
}

void ClientSession::keep_request_head() {
  auto& x = *x_;
  auto& ctx = x.ctx;
  const char* old_base = in_.data.get();
  const size_t size = x.consumed;
  x.request_head_copy.assign(old_base, size);
  const char* base = x.request_head_copy.data();
  auto rebase = [&](std::string_view& view) {
    if (view.data() >= old_base && view.data() < old_base + size) {
      view = std::string_view(base + (view.data() - old_base), view.size());
    }
  };
  rebase(ctx.method);
  rebase(ctx.request_target);
  rebase(ctx.request_uri);
  rebase(ctx.args);
  rebase(ctx.protocol);
  ctx.base = base;
  in_.release();
  // Spare capacity of the request state is not needed while the tunnel lasts.
  x.upstream.shrink();
  x.out.clear();
  x.out.shrink_to_fit();
  x.bufs = {};
  std::string().swap(x.chunk_lines);
}

void ClientSession::run_tunnel() {
  auto& t = *tunnel_;
  boost::system::error_code ignored;
  client_.socket().non_blocking(true, ignored);
  t.upstream.socket().non_blocking(true, ignored);
  upstream_socket_ = &t.upstream.socket();  // a timeout cancels both sides
  arm(t.idle_timeout);
  for (int dir : {kToUpstream, kToClient}) {
    std::string& first = t.initial[dir];
    if (first.empty()) {
      tunnel_wait(dir);
      continue;
    }
    if (t.websocket) {
      t.boundary[dir].feed(reinterpret_cast<const unsigned char*>(first.data()), first.size());
      if (const auto m = t.boundary[dir].take_messages()) t.lease.peer().add_ws_messages(m);
    }
    t.writing[dir] = asio::buffer(first);
    Ends{client_, t.upstream}.to(dir).async_write(
        std::span<const asio::const_buffer>(&t.writing[dir], 1),
        [self = shared_from_this(), dir](const boost::system::error_code& ec, size_t n) {
          auto& t = *self->tunnel_;
          if (dir == kToClient) self->x_->ctx.bytes_sent += n;
          if (n < t.initial[dir].size()) t.cut = true;  // frame boundaries are lost
          std::string().swap(t.initial[dir]);
          if (ec || t.stopping) {
            self->tunnel_direction_done(dir, !t.stopping);
            return;
          }
          self->tunnel_wait(dir);
        });
  }
}

void ClientSession::tunnel_wait(int dir) {
  // Allocated at its own size, not from asio's recycled blocks (see wait_for_request).
  auto handler =
      asio::bind_allocator(ExactAllocator<void>(),
                           [self = shared_from_this(), dir](const boost::system::error_code& ec) {
                             self->tunnel_readable(dir, ec);
                           });
  Ends{client_, tunnel_->upstream}.from(dir).async_wait_readable(std::move(handler));
}

void ClientSession::tunnel_readable(int dir, const boost::system::error_code& wait_ec) {
  auto& t = *tunnel_;
  if (wait_ec || t.stopping || timed_out_) {
    tunnel_direction_done(dir, !t.stopping);
    return;
  }
  Ends ends{client_, t.upstream};
  PooledBuffer buf;
  boost::system::error_code ec;
  const size_t n = ends.from(dir).read_some(asio::buffer(buf.get(), kIoBuffer), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    tunnel_wait(dir);
    return;
  }
  if (ec == asio::error::eof) {
    // The client's EOF is a half-close: the upstream gets it and may still answer.
    // The upstream's EOF ends the tunnel, as in nginx: nobody is left to take what
    // the client would send.
    ends.shutdown_send(dir);
    if (dir == kToClient) {
      t.stopping = true;
      boost::system::error_code ignored;
      client_.socket().cancel(ignored);
    }
    tunnel_direction_done(dir, false);
    return;
  }
  if (ec) {
    tunnel_direction_done(dir, true);
    return;
  }
  arm(t.idle_timeout);
  if (t.websocket) {
    t.boundary[dir].feed(reinterpret_cast<const unsigned char*>(buf.get()), n);
    if (const auto m = t.boundary[dir].take_messages()) t.lease.peer().add_ws_messages(m);
  }
  const size_t written = ends.to(dir).write_some(asio::buffer(buf.get(), n), ec);
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
    t.cut = true;
    tunnel_direction_done(dir, true);
    return;
  }
  const size_t done = ec ? 0 : written;
  if (done == n) {
    if (dir == kToClient) x_->ctx.bytes_sent += n;
    tunnel_wait(dir);
    return;
  }
  // The peer is slow to take it: finish this piece asynchronously (the buffer waits
  // in the tunnel), then read again. Backpressure: nothing more is read meanwhile.
  char* data = buf.get();
  t.held[dir] = std::move(buf);
  t.writing[dir] = asio::buffer(data + done, n - done);
  ends.to(dir).async_write(
      std::span<const asio::const_buffer>(&t.writing[dir], 1),
      [self = shared_from_this(), dir, done, n](const boost::system::error_code& ec, size_t more) {
        auto& t = *self->tunnel_;
        t.held[dir].reset();
        if (dir == kToClient) self->x_->ctx.bytes_sent += done + more;
        if (ec || t.stopping) {
          if (done + more < n) t.cut = true;
          self->tunnel_direction_done(dir, !t.stopping);
          return;
        }
        self->tunnel_wait(dir);
      });
}

void ClientSession::tunnel_direction_done(int /*dir*/, bool failed) {
  auto& t = *tunnel_;
  if (failed || timed_out_) t.stopping = true;
  if (t.stopping) {
    // End the other direction too (its pending wait or write completes aborted).
    boost::system::error_code ignored;
    client_.socket().cancel(ignored);
    t.upstream.socket().cancel(ignored);
  }
  if (--t.open == 0) close_tunnel();
}

void ClientSession::close_tunnel() {
  auto& t = *tunnel_;
  auto& ctx = x_->ctx;
  disarm();
  upstream_socket_ = nullptr;
  balancing::Peer& peer = t.lease.peer();
  const std::string upstream_url =
      (t.upstream.tls() ? "https://" : "http://") + peer.name() + x_->upstream.uri;
  if (timed_out_) {
    log_upstream_error(
        ctx, "upstream timed out (110: Connection timed out) while proxying upgraded connection",
        upstream_url);
  }
  if (t.going_away && t.websocket && !t.cut && t.boundary[kToClient].at_boundary() &&
      t.boundary[kToUpstream].at_boundary()) {
    // drain_timeout: close both sides the WebSocket way so the client reconnects
    // elsewhere. Best effort without blocking: a close frame is 17 bytes, and a
    // peer that cannot take even that is closed plainly.
    boost::system::error_code ec;
    const auto to_client = websocket_close_frame(1001, "server draining", false);
    const auto to_upstream = websocket_close_frame(1001, "server draining", true);
    ctx.bytes_sent += client_.write_some(asio::buffer(to_client), ec);
    t.upstream.write_some(asio::buffer(to_upstream), ec);
  }
  // nginx: $body_bytes_sent of an upgraded request counts what followed the head,
  // and $upstream_response_time covers the tunnel's life.
  ctx.body_bytes_sent = ctx.bytes_sent - std::min<uint64_t>(ctx.bytes_sent, x_->head_bytes);
  if (ctx.config->uses(conf::Var::kUpstreamResponseTime)) {
    if (!ctx.upstream_response_time.empty()) ctx.upstream_response_time += ", ";
    ctx.upstream_response_time += seconds_text(t.header_time + (Clock::now() - t.opened));
  }
  peer.tunnel_closed();
  worker_.tunnel_closed();
  t.lease.release(balancing::Outcome::kSuccess, Clock::now(),
                  balancing::ResponseTimes{t.header_time, std::nullopt});
  boost::system::error_code ignored;
  t.upstream.close();
  tunnel_.reset();
  keep_alive_ = false;
  finish_request();  // the access-log line, now that $bytes_sent is known
  close();
}

bool ClientSession::tunnel_past_drain_deadline(Clock::time_point now) const {
  if (!tunnel_ || tunnel_->stopping) return false;
  const auto& peer = tunnel_->lease.peer();
  const auto timeout = peer.drain_timeout();
  if (timeout.count() <= 0 || !peer.draining()) return false;
  const auto since = peer.draining_since();
  return since && now >= *since + timeout;
}

void ClientSession::close_tunnel_going_away() {
  if (!tunnel_) return;
  tunnel_->going_away = true;
  tunnel_->stopping = true;
  boost::system::error_code ignored;
  client_.socket().cancel(ignored);
  tunnel_->upstream.socket().cancel(ignored);
}

}  // namespace tg::proxy
