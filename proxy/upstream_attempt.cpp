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
  conn->stream.close();
}

namespace {

/// nginx's words for a failed read or write: the system call's, or OpenSSL's.
std::string io_failure(const Stream& stream, const char* plain, const char* tls,
                       const boost::system::error_code& ec) {
  if (stream.tls()) return std::string(tls) + " failed" + stream.last_error();
  return std::string(plain) + " failed " + errno_text(ec.value());
}

/// proxy_ssl_name's host: $proxy_host without its port.
std::string without_port(std::string name) {
  const auto colon = name.rfind(':');
  if (colon != std::string::npos && name.find(']', colon) == std::string::npos &&
      (name.front() == '[' || name.find(':') == colon)) {
    name.resize(colon);
  }
  if (name.size() > 2 && name.front() == '[' && name.back() == ']')
    name = name.substr(1, name.size() - 2);
  return name;
}

bool is_ip_address(const std::string& name) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(name, ec);
  return !ec;
}

}  // namespace

Task<void> UpstreamExchange::start_upstream_tls(UpstreamAttempt& a) {
  const tls::ClientContext& tls_ctx = *loc_.upstream_tls;
  const std::string name = without_port(
      s_.proxy_ssl_name.source().empty() ? target_.proxy_host : expand(s_.proxy_ssl_name, ctx_));
  // SNI carries host names only (RFC 6066), as nginx sends it.
  const std::string sni = s_.proxy_ssl_server_name && !is_ip_address(name) ? name : std::string();
  Stream& stream = a.conn->stream;
  SSL* ssl = tls_ctx.new_connection(stream.socket().native_handle(), sni,
                                    worker_.pool().tls_session(a.peer.id(), tls_ctx.id()));
  if (!ssl) {
    a.failure = Failure::kError;
    a.what = "SSL_new() failed" + tls::openssl_errors() + " while SSL handshaking to upstream";
    co_return;
  }
  stream.adopt_tls(ssl);
  client_.arm_upstream(stream.socket(), s_.proxy_connect_timeout);
  auto [ec] = co_await stream.async_handshake(kTuple);
  const bool timed_out = client_.disarm_upstream();
  if (ec) {
    a.failure = timed_out ? Failure::kTimeout : Failure::kError;
    a.what = timed_out
                 ? "upstream timed out (110: Connection timed out) while SSL handshaking "
                   "to upstream"
                 : "SSL_do_handshake() failed" +
                       (stream.last_error().empty() ? " (unexpected eof)" : stream.last_error()) +
                       " while SSL handshaking to upstream";
    co_return;
  }
  if (const std::string bad = tls_ctx.check_server(ssl, name); !bad.empty()) {
    a.failure = Failure::kError;
    a.what = bad + " while SSL handshaking to upstream";
    co_return;
  }
  if (tls_ctx.session_reuse()) worker_.pool().keep_tls_session(a.peer.id(), tls_ctx.id(), ssl);
}

Task<void> UpstreamExchange::attempt(UpstreamAttempt& a) {
  balancing::Peer& peer = a.peer;
  append_list(ctx_.upstream_addr, peer.name());

  // ---- connect or reuse ----
  if (ucfg_.keepalive > 0 && !retried_cached_) {
    a.conn = worker_.pool().take(ucfg_.name, peer.id(), tls_context_id(), a.start);
    a.cached = a.conn.has_value();
  }
  if (!a.conn) {
    a.conn.emplace(UpstreamConnection{Stream(Socket(worker_.context().get_executor())), peer.id(),
                                      tls_context_id(), a.start, a.start, 0});
    Socket& socket = a.conn->stream.socket();
    client_.arm_upstream(socket, s_.proxy_connect_timeout);
    auto [ec] = co_await socket.async_connect(peer.endpoint(), kTuple);
    const bool timed_out = client_.disarm_upstream();
    if (ec) {
      a.failure = timed_out ? Failure::kTimeout : Failure::kError;
      a.what = timed_out
                   ? "upstream timed out (110: Connection timed out) while connecting to "
                     "upstream"
                   : "connect() failed " + errno_text(ec.value()) + " while connecting to upstream";
    } else {
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      peer.stats().record_connect(worker_.slot());
      if (target_.https) co_await start_upstream_tls(a);
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
      client_.arm_upstream(a.conn->stream.socket(), s_.proxy_send_timeout);
      auto [ec, n] =
          co_await a.conn->stream.async_write(std::span<const asio::const_buffer>(bufs), kTuple);
      const bool timed_out = client_.disarm_upstream();
      a.request_sent = true;
      a.bytes_to_upstream += n;
      if (ec) {
        a.failure = timed_out ? Failure::kTimeout : Failure::kError;
        a.what = timed_out ? "upstream timed out (110: Connection timed out) while sending "
                             "request to upstream"
                           : io_failure(a.conn->stream, "writev()", "SSL_write()", ec) +
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
    client_.arm_upstream(a.conn->stream.socket(), s_.proxy_read_timeout);
    auto [ec, n] = co_await a.conn->stream.async_read_some(
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
                     : io_failure(a.conn->stream, "recv()", "SSL_read()", ec) +
                           " while reading response header from upstream";
      }
      break;
    }
    held += n;
    a.bytes_from_upstream += n;
  }
}

}  // namespace tg::proxy
