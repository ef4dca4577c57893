// One attempt against one picked peer: take a cached connection to it or
// connect, send the request head and its body (held pieces first, then what
// the client still sends), and read the response head. Every failure is
// classified in proxy_next_upstream's terms (error, timeout, invalid_header)
// with nginx's error-log text; the retry loop decides what follows.
#include <span>

#include <boost/asio/write.hpp>

#include "common/error_log.h"
#include "proxy/upstream_exchange.h"

namespace tg::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using Failure = UpstreamAttempt::Failure;

void UpstreamAttempt::close() {
  boost::system::error_code ignored;
  conn->socket.close(ignored);
}

Task<void> UpstreamExchange::attempt(UpstreamAttempt& a) {
  balancing::Peer& peer = a.peer;
  append_list(ctx_.upstream_addr, peer.name());

  // ---- connect or reuse ----
  if (ucfg_.keepalive > 0 && !retried_cached_) {
    a.conn = worker_.pool().take(ucfg_.name, peer.id(), a.start);
    a.cached = a.conn.has_value();
  }
  if (!a.conn) {
    a.conn.emplace(UpstreamConnection{Socket(worker_.context().get_executor()), peer.id(), a.start,
                                      a.start, 0});
    client_.arm_upstream(a.conn->socket, s_.proxy_connect_timeout);
    auto [ec] = co_await a.conn->socket.async_connect(peer.endpoint(), kTuple);
    const bool timed_out = client_.disarm_upstream();
    if (ec) {
      a.failure = timed_out ? Failure::kTimeout : Failure::kError;
      a.what = timed_out
                   ? "upstream timed out (110: Connection timed out) while connecting to "
                     "upstream"
                   : "connect() failed " + errno_text(ec.value()) + " while connecting to upstream";
    } else {
      boost::system::error_code ignored;
      a.conn->socket.set_option(tcp::no_delay(true), ignored);
      peer.stats().record_connect(worker_.slot());
    }
  }
  if (keep_times_)  // nginx: "-" for an attempt that never connected
    append_list(ctx_.upstream_connect_time, a.failure == Failure::kNone
                                                ? seconds_text(Clock::now() - a.start)
                                                : std::string("-"));

  // ---- send head and body ----
  if (a.failure == Failure::kNone) {
    auto& bufs = buf_.bufs;  // reused: a warm worker allocates nothing per request here
    bufs.clear();
    bufs.push_back(asio::buffer(buf_.head));
    const auto& held = buf_.held_body;
    BodyGather gather(bufs, buf_.chunk_lines, chunked_up_, held.size());
    for (const auto& piece : held) gather.add(static_cast<const char*>(piece.data()), piece.size());
    if (body_held_) gather.finish();
    bool done = body_held_;
    for (;;) {
      client_.arm_upstream(a.conn->socket, s_.proxy_send_timeout);
      // A span, not the vector: async_write copies its buffer sequence.
      auto [ec, n] = co_await asio::async_write(a.conn->socket,
                                                std::span<const asio::const_buffer>(bufs), kTuple);
      const bool timed_out = client_.disarm_upstream();
      a.request_sent = true;
      a.bytes_to_upstream += n;
      if (ec) {
        a.failure = timed_out ? Failure::kTimeout : Failure::kError;
        a.what = timed_out ? "upstream timed out (110: Connection timed out) while sending "
                             "request to upstream"
                           : "writev() failed " + errno_text(ec.value()) +
                                 " while sending request to upstream";
        break;
      }
      if (done) break;
      auto& piece = buf_.piece;
      piece.clear();
      const BodyRead read = co_await client_.read_body_piece(piece);
      if (read == BodyRead::kClosed || read == BodyRead::kInvalid) {
        a.body_failure = UpstreamAttempt::BodyFailure::kClient;
        a.body_read = read;
        co_return;
      }
      if (s_.client_max_body_size > 0 && client_.body_progress().bytes > s_.client_max_body_size) {
        a.body_failure = UpstreamAttempt::BodyFailure::kTooLarge;
        co_return;
      }
      bufs.clear();
      BodyGather more(bufs, buf_.chunk_lines, chunked_up_, piece.size());
      for (const auto& p : piece) more.add(static_cast<const char*>(p.data()), p.size());
      if (read == BodyRead::kComplete) {
        more.finish();
        done = true;
      }
    }
  }

  // ---- response head ----
  http::HttpParser& up = buf_.response;
  // The whole response head must fit in one buffer (nginx's proxy_buffer_size).
  const http::HeadLimits head_limits{static_cast<uint32_t>(s_.proxy_buffer_size), 0, 0};
  up.reset();
  up.set_limits(head_limits);
  up.set_no_body(ctx_.method == "HEAD");
  if (a.failure != Failure::kNone) co_return;
  size_t& held = a.held;
  size_t& fed = a.fed;
  for (;;) {
    if (held > fed) fed += up.feed(upbuf_, fed, held);
    if (up.failed()) {
      a.failure = Failure::kInvalidHeader;
      a.what = up.error() == http::ParseError::kHeaderLineTooLong
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
        std::memmove(upbuf_, upbuf_ + fed, held - fed);
        held -= fed;
        fed = 0;
        up.reset();
        up.set_limits(head_limits);
        up.set_no_body(ctx_.method == "HEAD");
        continue;
      }
      if (code == 101 && ctx_.header("upgrade").empty()) {
        // Switching protocols the client did not ask for: both sides would
        // go on reading HTTP from a connection that no longer carries it.
        a.failure = Failure::kInvalidHeader;
        a.what =
            "upstream sent \"101 Switching Protocols\" to a request without \"Upgrade\" "
            "while reading response header from upstream";
      }
      break;
    }
    if (held == upbuf_size_) {
      a.failure = Failure::kInvalidHeader;
      a.what = "upstream sent too big header while reading response header from upstream";
      break;
    }
    client_.arm_upstream(a.conn->socket, s_.proxy_read_timeout);
    auto [ec, n] = co_await a.conn->socket.async_read_some(
        asio::buffer(upbuf_ + held, upbuf_size_ - held), kTuple);
    const bool timed_out = client_.disarm_upstream();
    if (ec) {
      if (timed_out) {
        a.failure = Failure::kTimeout;
        a.what =
            "upstream timed out (110: Connection timed out) while reading response "
            "header from upstream";
      } else {
        a.failure = Failure::kError;
        a.what = ec == asio::error::eof
                     ? "upstream prematurely closed connection while reading response header "
                       "from upstream"
                     : "recv() failed " + errno_text(ec.value()) +
                           " while reading response header from upstream";
      }
      break;
    }
    held += n;
    a.bytes_from_upstream += n;
  }
}

}  // namespace tg::proxy
