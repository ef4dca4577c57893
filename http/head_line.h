// The lines of an HTTP/1 message head, parsed one complete line at a time
// (RFC 9112 §3-5 with nginx's choices where the RFC leaves room): request line,
// status line, field line. Pure functions over a line without its line ending,
// so every rule can be unit-tested on its own.
#pragma once

#include <cstdint>
#include <string_view>

namespace tg::http {

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

/// Why a message was refused. Each maps to nginx's status and log text
/// (see describe() and status_for()).
enum class ParseError : uint8_t {
  kNone,
  kInvalidRequest,            ///< malformed request line (400)
  kInvalidMethod,             ///< method is not [A-Z_-]+ (400)
  kInvalidHostInRequestLine,  ///< absolute-form authority with userinfo or bad chars (400)
  kUnsupportedVersion,        ///< HTTP/2.0 and above in a request line (505)
  kInvalidHeader,             ///< malformed field line, obs-fold, CTL, bare CR (400)
  kInvalidContentLength,      ///< not a decimal number (400)
  kDuplicateHeader,           ///< a second Content-Length or Transfer-Encoding (400)
  kLengthAndEncoding,         ///< Content-Length with Transfer-Encoding (400)
  kEncodingInHttp10,          ///< Transfer-Encoding in an HTTP/1.0 request (400)
  kUnknownEncoding,           ///< Transfer-Encoding other than "chunked" (501)
  kInvalidChunk,              ///< chunked framing broken (400)
  kRequestLineTooLong,        ///< large_client_header_buffers (414)
  kHeaderLineTooLong,         ///< large_client_header_buffers (400, nginx's 494)
  kInvalidStatusLine,         ///< response: malformed status line (502)
  kTruncated,                 ///< the connection ended inside the message
};

/// nginx's words for `e` as they appear after "client sent " in the error log
/// ("invalid request", "too long URI", ...).
std::string_view describe(ParseError e);

/// The status nginx answers a client with for `e` (494: nginx's internal
/// "Request Header Or Cookie Too Large", sent as 400).
int status_for(ParseError e);

/// Lower-level character classes (RFC 9110 §5.6.2 token, field-vchar).
bool is_tchar(unsigned char c);
/// A field-value byte: VCHAR, obs-text, SP, HTAB. Rejects every other CTL and DEL.
bool is_field_vchar(unsigned char c);
/// True when every byte of `s` is a tchar (and `s` is not empty).
bool is_token(std::string_view s);

/// Request methods tidegate treats specially; every other valid method is kOther.
enum class Method : uint8_t {
  kGet,
  kHead,
  kPost,
  kPut,
  kDelete,
  kOptions,
  kPatch,
  kConnect,
  kTrace,
  kOther
};

/// The method's canonical text for the known ones, empty for kOther.
std::string_view method_name(Method m);

struct RequestLine {
  Span method;
  Method method_id = Method::kOther;
  Span target;
  int major = 0;
  int minor = 0;
};

/// Parses `method SP+ request-target SP+ HTTP/x.y SP*` (no line ending) that
/// starts at `offset` of its buffer. As nginx: a method is [A-Z_-]+; the
/// target is origin-form (`/...`) or absolute-form (`scheme://host[:port]...`,
/// no userinfo); control characters, SP and DEL never appear in a target
/// (bytes >= 0x80 may); the version is `HTTP/` digits `.` digits with no
/// leading zero in the major.
ParseError parse_request_line(std::string_view line, uint32_t offset, RequestLine& out);

struct StatusLine {
  int major = 0;
  int minor = 0;
  int status = 0;
  Span reason;
};

/// Parses `HTTP/1.x SP 3DIGIT [SP reason]` (no line ending).
ParseError parse_status_line(std::string_view line, uint32_t offset, StatusLine& out);

/// Parses `name ":" OWS value OWS` (no line ending) into spans relative to the
/// buffer (the line starts at `offset`). A name never contains SP, HTAB, CTL or
/// DEL and is never empty; a line that starts with whitespace (obs-fold) is an
/// error; the value excludes surrounding whitespace and holds only field-vchars.
ParseError parse_header_line(std::string_view line, uint32_t offset, HeaderSpan& out);

/// Case-insensitive ASCII comparison (header names are tokens).
bool iequals(std::string_view a, std::string_view b);

/// Trims spaces and tabs at both ends.
std::string_view trim(std::string_view s);

/// True when comma-separated `list` contains `token` (case-insensitive).
bool has_token(std::string_view list, std::string_view token);

}  // namespace tg::http
