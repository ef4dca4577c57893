// llhttp wrapped for our session model: headers are recorded as offsets into the
// connection's buffer (so they survive buffer growth while a head arrives in
// pieces) and body bytes come back as spans into the bytes just fed.
// One model for client requests, upstream responses, health checks and admin.
#pragma once

#include <llhttp.h>

#include <cstdint>
#include <string_view>
#include <vector>

namespace tg::proxy {

/// A byte range inside a buffer: offset and length.
struct Span {
  uint32_t offset = 0;
  uint32_t length = 0;
  std::string_view in(const char* base) const { return {base + offset, length}; }
};

struct HeaderSpan {
  Span name;
  Span value;
};

class HttpParser {
 public:
  explicit HttpParser(llhttp_type_t type);
  HttpParser(const HttpParser&) = delete;
  HttpParser& operator=(const HttpParser&) = delete;

  /// Starts a new message (keeps nothing of the previous one).
  void reset();

  /// Feeds bytes [begin, end) of `base`. Stops after a complete message
  /// (`message_done()`), so pipelined bytes stay unread. Returns bytes consumed.
  size_t feed(const char* base, size_t begin, size_t end);

  bool headers_done() const { return headers_done_; }
  bool message_done() const { return message_done_; }
  bool failed() const { return failed_; }
  /// The request wants to switch protocols (llhttp paused for upgrade).
  bool upgrade() const { return upgrade_; }
  /// llhttp's reason for a parse error.
  const char* error_reason() const { return error_reason_; }
  llhttp_errno_t error() const { return error_; }

  /// Head fields (valid once headers_done()).
  Span url() const { return url_; }
  Span status_text() const { return status_; }
  const std::vector<HeaderSpan>& headers() const { return headers_; }
  int method() const { return parser_.method; }
  int status_code() const { return parser_.status_code; }
  int http_major() const { return parser_.http_major; }
  int http_minor() const { return parser_.http_minor; }
  bool keep_alive() const { return keep_alive_; }
  bool chunked() const { return (parser_.flags & F_CHUNKED) != 0; }
  /// Content-Length, or -1 when absent.
  int64_t content_length() const {
    return (parser_.flags & F_CONTENT_LENGTH) ? content_length_ : -1;
  }
  /// The body continues until the connection closes (response without length).
  bool body_until_close() const;

  /// Tells a response parser that the request was HEAD (no body follows).
  void set_no_body(bool no_body) { no_body_ = no_body; }

  /// Body bytes found by the last feed(), in order, as spans of `base`.
  std::vector<Span>& body() { return body_; }

  /// Signals end of input (connection closed) for a body that lasts until close.
  bool finish();

 private:
  static int on_url(llhttp_t* p, const char* at, size_t len);
  static int on_status(llhttp_t* p, const char* at, size_t len);
  static int on_header_field(llhttp_t* p, const char* at, size_t len);
  static int on_header_value(llhttp_t* p, const char* at, size_t len);
  static int on_headers_complete(llhttp_t* p);
  static int on_body(llhttp_t* p, const char* at, size_t len);
  static int on_message_complete(llhttp_t* p);
  static void extend(Span& span, uint32_t offset, size_t len);

  mutable llhttp_t parser_;
  llhttp_settings_t settings_;
  const char* base_ = nullptr;
  Span url_, status_;
  std::vector<HeaderSpan> headers_;
  std::vector<Span> body_;
  bool in_value_ = false;
  bool headers_done_ = false;
  bool message_done_ = false;
  bool failed_ = false;
  bool upgrade_ = false;
  bool keep_alive_ = false;
  bool no_body_ = false;
  int64_t content_length_ = 0;
  llhttp_errno_t error_ = HPE_OK;
  const char* error_reason_ = "";
};

/// Case-insensitive ASCII comparison of header names.
bool iequals(std::string_view a, std::string_view b);

/// Trims spaces and tabs at both ends.
std::string_view trim(std::string_view s);

/// True when comma-separated `list` contains `token` (case-insensitive).
bool has_token(std::string_view list, std::string_view token);

}  // namespace tg::proxy
