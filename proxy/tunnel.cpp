// Upgraded connections (101 Switching Protocols, e.g. WebSocket): once the
// upstream switches protocols the session copies bytes both ways until both
// sides are done, as nginx's ngx_http_upstream_upgrade.
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/write.hpp>

#include "common/error_log.h"
#include "proxy/exchange.h"
#include "proxy/session.h"
#include "proxy/websocket_frames.h"

namespace tg::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

/// State of an open tunnel, reachable from the worker (drain_timeout).
struct ClientSession::Tunnel {
  balancing::Peer* peer = nullptr;
  Socket* upstream = nullptr;
  std::chrono::milliseconds idle_timeout{0};  ///< proxy_read_timeout
  bool websocket = false;
  bool going_away = false;  ///< drain_timeout passed: close with 1001
  bool failed = false;      ///< a read or write failed (not an orderly EOF)
  bool cut = false;         ///< a write was cut short: frame boundaries are lost
  FrameBoundary to_client;
  FrameBoundary to_upstream;
};

bool ClientSession::tunnel_past_drain_deadline(Clock::time_point now) const {
  if (!tunnel_ || tunnel_->going_away) return false;
  const auto& peer = *tunnel_->peer;
  const auto timeout = peer.drain_timeout();
  if (timeout.count() <= 0 || !peer.draining()) return false;
  const auto since = peer.draining_since();
  return since && now >= *since + timeout;
}

void ClientSession::close_tunnel_going_away() {
  if (!tunnel_) return;
  tunnel_->going_away = true;
  boost::system::error_code ignored;
  client_.cancel(ignored);
  tunnel_->upstream->cancel(ignored);
}

Task<void> ClientSession::pump(Socket& from, Socket& to, bool to_client) {
  auto& t = *tunnel_;
  auto& boundary = to_client ? t.to_client : t.to_upstream;
  for (;;) {
    // Waiting holds no buffer: an idle tunnel costs its sockets and two waits.
    auto [wait_ec] = co_await from.async_wait(tcp::socket::wait_read, kTuple);
    if (wait_ec) break;
    PooledBuffer buf;
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buf.get(), kIoBuffer), kTuple);
    if (ec == asio::error::eof) {
      // The client's EOF is a half-close: the upstream gets it and may still answer
      // (the other direction keeps flowing). The upstream's EOF ends the tunnel, as
      // in nginx: nobody is left to take what the client would send.
      boost::system::error_code ignored;
      to.shutdown(tcp::socket::shutdown_send, ignored);
      if (!to_client) co_return;
      break;
    }
    if (ec) {
      t.failed = !t.going_away && !timed_out_;
      break;
    }
    arm(t.idle_timeout);
    if (t.websocket) boundary.feed(reinterpret_cast<const unsigned char*>(buf.get()), n);
    auto [write_ec, written] = co_await asio::async_write(to, asio::buffer(buf.get(), n), kTuple);
    if (write_ec) {
      t.failed = !t.going_away && !timed_out_;
      t.cut = written < n;
      break;
    }
    if (to_client) x_->ctx.bytes_sent += n;
  }
  // This direction failed or was cancelled: end the other one too.
  boost::system::error_code ignored;
  from.cancel(ignored);
  to.cancel(ignored);
}

Task<void> ClientSession::tunnel(Socket& upstream, balancing::Peer& peer,
                                 std::string_view from_upstream) {
  using namespace asio::experimental::awaitable_operators;
  auto& x = *x_;
  auto& ctx = x.ctx;
  Tunnel t;
  t.peer = &peer;
  t.upstream = &upstream;
  t.idle_timeout = settings().proxy_read_timeout;
  t.websocket = iequals(ctx.header("upgrade"), "websocket");

  // Bytes that came with the heads: the upstream's first frames go to the client;
  // what the client sent after its request goes upstream.
  if (!from_upstream.empty()) {
    if (t.websocket) {
      t.to_client.feed(reinterpret_cast<const unsigned char*>(from_upstream.data()),
                       from_upstream.size());
    }
    if (!co_await write_client(from_upstream)) co_return;
    ctx.bytes_sent += from_upstream.size();
  }
  std::string from_client;
  if (x.consumed < in_.end) from_client.assign(in_.data.get() + x.consumed, in_.end - x.consumed);
  from_client += x.leftover;
  in_.end = x.consumed;
  x.leftover.clear();
  if (!from_client.empty()) {
    if (t.websocket) {
      t.to_upstream.feed(reinterpret_cast<const unsigned char*>(from_client.data()),
                         from_client.size());
    }
    arm(settings().proxy_send_timeout);
    auto [ec, n] = co_await asio::async_write(upstream, asio::buffer(from_client), kTuple);
    disarm();
    if (ec) co_return;
  }
  // An idle tunnel keeps no buffers: give back the head buffer and the request
  // state's spare capacity (the access-log line still needs the request itself).
  std::string().swap(from_client);
  in_.release();
  x.upstream_head.clear();
  x.upstream_head.shrink_to_fit();
  x.out.clear();
  x.out.shrink_to_fit();
  x.uri_out.shrink_to_fit();
  x.bufs = {};
  std::string().swap(x.chunk_lines);

  tunnel_ = &t;
  worker_.tunnel_opened();
  peer.tunnel_opened();
  upstream_socket_ = &upstream;
  arm(t.idle_timeout);
  co_await (pump(client_, upstream, false) && pump(upstream, client_, true));
  disarm();
  upstream_socket_ = nullptr;
  peer.tunnel_closed();
  worker_.tunnel_closed();
  tunnel_ = nullptr;

  if (timed_out_) {
    log_upstream_error(
        "upstream timed out (110: Connection timed out) while proxying upgraded connection",
        "http://" + peer.name() + x.uri_out);
  }
  if (t.going_away && t.websocket && !t.cut && t.to_client.at_boundary() &&
      t.to_upstream.at_boundary()) {
    // drain_timeout: close both sides cleanly so the client reconnects elsewhere.
    const auto to_client = websocket_close_frame(1001, "server draining", false);
    const auto to_upstream = websocket_close_frame(1001, "server draining", true);
    arm(settings().send_timeout);
    auto [ec1, n1] = co_await asio::async_write(client_, asio::buffer(to_client), kTuple);
    if (!ec1) ctx.bytes_sent += n1;
    co_await asio::async_write(upstream, asio::buffer(to_upstream), kTuple);
    disarm();
  }
  keep_alive_ = false;
}

}  // namespace tg::proxy
