// The request body of an HTTP/1.1 client: the bytes that came with the head,
// "100 Continue", reading ahead (proxy_request_buffering), streaming piece by
// piece, and discarding an unread body so the connection can be reused. The
// parser undoes Content-Length or chunked framing; pieces are views into the
// head buffer or the session's body buffer, never copies.
#include "common/error_log.h"
#include "proxy/exchange.h"

namespace tg::proxy {

namespace asio = boost::asio;

void ClientSession::take_body_received(std::vector<asio::const_buffer>* pieces) {
  auto& x = *x_;
  auto& spans = x.parser.body();
  if (pieces) {
    for (const auto& sp : spans) {
      pieces->push_back(asio::buffer(x.ctx.base + sp.offset, sp.length));
      x.body_bytes += sp.length;
    }
  }
  spans.clear();
}

Task<BodyRead> ClientSession::start_body(std::vector<asio::const_buffer>& held, size_t read_ahead) {
  auto& x = *x_;
  auto& ctx = x.ctx;
  auto& parser = x.parser;
  // The client waits for "100 Continue" only if none of its body came with the
  // head (what did is counted in body_bytes by take_body_received).
  if (x.body_bytes == 0 && !x.sent_continue && ctx.protocol == "HTTP/1.1" &&
      iequals(ctx.header("expect"), "100-continue")) {
    x.sent_continue = true;
    if (!co_await write_client("HTTP/1.1 100 Continue\r\n\r\n")) co_return BodyRead::kClosed;
  }
  if (read_ahead == 0) co_return BodyRead::kMore;
  if (!x.io) x.io = std::make_unique_for_overwrite<char[]>(kIoBuffer);
  const size_t capacity = std::min(read_ahead, kIoBuffer);
  size_t used = 0;
  while (!parser.message_done() && used < capacity) {
    arm(settings().client_body_timeout);
    auto [ec, n] =
        co_await client_.async_read_some(asio::buffer(x.io.get() + used, capacity - used), kTuple);
    disarm();
    if (ec) {
      body_failed(ec);
      co_return BodyRead::kClosed;
    }
    size_t fed = parser.feed(x.io.get(), used, used + n);
    if (parser.failed()) {
      body_failed({});
      co_return BodyRead::kInvalid;
    }
    if (fed < n) x.leftover.append(x.io.get() + used + fed, n - fed);  // next pipelined request
    for (const auto& sp : parser.body()) {
      held.push_back(asio::buffer(x.io.get() + sp.offset, sp.length));
      x.body_bytes += sp.length;
    }
    parser.body().clear();
    used += n;
  }
  x.body_base = x.io.get();
  co_return parser.message_done() ? BodyRead::kComplete : BodyRead::kMore;
}

// Reads from the client only when the parser holds no more of the body.
Task<BodyRead> ClientSession::read_body_piece(std::vector<asio::const_buffer>& pieces) {
  auto& x = *x_;
  auto& parser = x.parser;
  auto& spans = parser.body();
  if (spans.empty() && !parser.message_done()) {
    if (!x.io) x.io = std::make_unique_for_overwrite<char[]>(kIoBuffer);
    arm(settings().client_body_timeout);
    auto [ec, n] = co_await client_.async_read_some(asio::buffer(x.io.get(), kIoBuffer), kTuple);
    disarm();
    if (ec) {
      body_failed(ec);
      co_return BodyRead::kClosed;
    }
    x.body_from_socket = true;
    x.body_base = x.io.get();
    size_t used = parser.feed(x.io.get(), 0, n);
    if (parser.failed()) {
      body_failed({});
      co_return BodyRead::kInvalid;
    }
    if (used < n) x.leftover.append(x.io.get() + used, n - used);  // next pipelined request
  }
  for (const auto& sp : spans) {
    pieces.push_back(asio::buffer(x.body_base + sp.offset, sp.length));
    x.body_bytes += sp.length;
  }
  spans.clear();
  co_return parser.message_done() ? BodyRead::kComplete : BodyRead::kMore;
}

BodyProgress ClientSession::body_progress() const {
  return BodyProgress{x_->body_bytes, x_->body_from_socket};
}

Task<bool> ClientSession::discard_body() {
  auto& x = *x_;
  int64_t limit = 1 << 20;  // beyond this, closing is cheaper than reading
  if (x.parser.content_length() > limit) co_return false;
  std::vector<asio::const_buffer> ignored;
  for (;;) {
    ignored.clear();
    const BodyRead read = co_await read_body_piece(ignored);
    if (read == BodyRead::kClosed || read == BodyRead::kInvalid) co_return false;
    if (x.body_bytes > limit) co_return false;
    if (read == BodyRead::kComplete) co_return true;
  }
}

void ClientSession::body_failed(const boost::system::error_code& ec) {
  keep_alive_ = false;
  if (ec) {
    client_timed_out_ = timed_out_;
    x_->ctx.status = timed_out_ ? 408 : 499;
    log(LogLevel::kInfo, "*" + std::to_string(info_.id) +
                             (timed_out_ ? " client timed out (110: Connection timed out) "
                                           "while reading client request body"
                                         : " client prematurely closed connection") +
                             ", client: " + client_addr());
    return;
  }
  // A body that breaks its own framing after the head was read (nginx: 400 and
  // this line, at error level).
  x_->ctx.status = 400;
  log(LogLevel::kError, "*" + std::to_string(info_.id) +
                            (x_->parser.chunked() ? " client sent invalid chunked body"
                                                  : " client sent invalid body") +
                            ", client: " + client_addr());
}

}  // namespace tg::proxy
