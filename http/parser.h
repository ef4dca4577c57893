// The HTTP/1 message parser: one model for client requests, upstream
// responses, health checks and the admin API.
//
// tidegate parses HTTP/1 itself rather than through llhttp, as nginx, HAProxy
// and Envoy do: a proxy must read a message exactly one way and refuse every
// message another party could read differently (smuggling), and it must match
// nginx where clients depend on it (bare-LF line endings, raw UTF-8 targets,
// per-line header limits). llhttp 8 cannot give both: its strict mode refuses
// UTF-8 targets and bare LF, its lenient mode skips the CRLF after chunk data
// unchecked. The rules here are RFC 9112's with nginx 1.22's choices; see
// head_line.h for the lines and parser.cpp for the framing.
//
// Headers are recorded as offsets into the caller's buffer (so they survive
// the buffer growing while a head arrives in pieces: the head's bytes must stay
// at the same offsets until the head is complete); body bytes come back as
// spans into the bytes just fed.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "http/head_line.h"

namespace tg::http {

enum class MessageType : uint8_t { kRequest, kResponse };

/// How much head a message may have: nginx's client_header_buffer_size and
/// large_client_header_buffers (requests) or proxy_buffer_size (responses:
/// `large_buffers` 0). A line never spans two buffers; a line that does not
/// fit in the rest of the current one moves to the next large buffer.
struct HeadLimits {
  uint32_t first_buffer = 1024;
  uint32_t large_buffer = 8192;
  uint32_t large_buffers = 4;
};

class HttpParser {
 public:
  explicit HttpParser(MessageType type) : type_(type) {}
  HttpParser(const HttpParser&) = delete;
  HttpParser& operator=(const HttpParser&) = delete;

  /// Starts a new message (keeps nothing of the previous one but the limits).
  void reset();

  void set_limits(const HeadLimits& limits) { limits_ = limits; }

  /// Feeds bytes [begin, end) of `base`. Stops after a complete message
  /// (`message_done()`), so pipelined bytes stay unread. Returns bytes consumed
  /// (up to the error position when the message is refused).
  size_t feed(const char* base, size_t begin, size_t end);

  bool headers_done() const { return state_ > State::kHead; }
  /// The request or status line has been parsed (headers may still be coming).
  bool request_line_done() const { return first_line_done_; }
  bool message_done() const { return state_ == State::kDone; }
  bool failed() const { return error_ != ParseError::kNone; }
  ParseError error() const { return error_; }
  /// nginx's words for the error ("invalid request", ...).
  std::string_view error_reason() const { return describe(error_); }

  /// A request that asks to switch protocols (Upgrade with Connection:
  /// upgrade), or a 101 response.
  bool upgrade() const { return upgrade_; }

  // Head fields (valid once headers_done()).
  Span url() const { return request_.target; }
  Span method_text() const { return request_.method; }
  Method method() const { return request_.method_id; }
  Span status_text() const { return status_.reason; }
  int status_code() const { return status_.status; }
  int http_major() const { return type_ == MessageType::kRequest ? request_.major : status_.major; }
  int http_minor() const { return type_ == MessageType::kRequest ? request_.minor : status_.minor; }
  const std::vector<HeaderSpan>& headers() const { return headers_; }
  /// Bytes of the head including its empty last line ($request_length).
  size_t head_bytes() const { return head_bytes_; }
  bool keep_alive() const { return keep_alive_; }
  bool chunked() const { return chunked_; }
  /// Content-Length, or -1 when absent.
  int64_t content_length() const { return content_length_; }
  /// The body continues until the connection closes (response without length).
  bool body_until_close() const { return state_ == State::kUntilClose; }

  /// Tells a response parser that the request was HEAD (no body follows).
  void set_no_body(bool no_body) { no_body_ = no_body; }

  /// Body bytes found by the last feed(), in order, as spans of `base`.
  std::vector<Span>& body() { return body_; }

  /// Signals end of input (connection closed). True when that completes the
  /// message (a body that lasts until close) or no message had begun.
  bool finish();

 private:
  enum class State : uint8_t {
    kHead,
    kBody,  // Content-Length
    kChunkSize,
    kChunkSizeDigits,
    kChunkExtension,
    kChunkSizeLf,
    kChunkData,
    kChunkDataCr,
    kChunkDataLf,
    kTrailerLineStart,
    kTrailerLine,
    kTrailerLineLf,
    kTrailerEndLf,
    kUntilClose,
    kDone,
  };

  bool fail(ParseError e);
  /// Parses one complete head line [start, start + length) (no line ending).
  bool head_line(const char* base, uint32_t start, uint32_t length);
  /// Whether a line still in progress (`partial` bytes, no LF yet) can fit.
  bool may_fit(uint32_t partial) const;
  /// Accounts a head line of `length` bytes (with its ending) in nginx's buffers.
  bool fits(uint32_t length);
  /// The empty line: checks framing headers and picks how the body is read.
  bool head_complete(const char* base);
  size_t feed_head(const char* base, size_t begin, size_t end);
  size_t feed_chunked(const char* base, size_t begin, size_t end);

  MessageType type_;
  State state_ = State::kHead;
  ParseError error_ = ParseError::kNone;
  HeadLimits limits_;
  RequestLine request_;
  StatusLine status_;
  bool first_line_done_ = false;
  bool upgrade_ = false;
  bool keep_alive_ = false;
  bool chunked_ = false;
  bool no_body_ = false;
  int content_length_headers_ = 0;
  int transfer_encoding_headers_ = 0;
  int64_t content_length_ = -1;
  int64_t remaining_ = 0;  ///< Content-Length or chunk bytes still to come
  bool started_ = false;   ///< a byte of this message was fed
  uint32_t head_start_ = 0;
  uint32_t line_start_ = 0;
  uint32_t buffer_used_ = 0;  ///< nginx's buffer accounting (HeadLimits)
  uint32_t buffer_size_ = 0;
  uint32_t large_used_ = 0;
  uint32_t skipped_ = 0;  ///< chunk extension / trailer bytes (bounded)
  size_t head_bytes_ = 0;
  std::vector<HeaderSpan> headers_;
  std::vector<Span> body_;
  // What the head says about framing and the connection, found while it is parsed.
  Span transfer_encoding_{}, content_length_text_{};
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  bool connection_upgrade_ = false;
  bool has_upgrade_header_ = false;
};

}  // namespace tg::http
