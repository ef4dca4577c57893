#include "http/parser.h"

#include <cstring>
#include <limits>

namespace tg::http {
namespace {

/// Chunk extensions and trailers are dropped (tidegate re-frames bodies); they
/// are still bounded so a peer cannot keep a connection busy on them forever.
constexpr uint32_t kMaxChunkExtension = 4096;
constexpr uint32_t kMaxTrailers = 16 * 1024;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// nginx's ngx_atoof: decimal digits only (leading zeros allowed), no sign,
/// no list; -1 when invalid or beyond 10^18.
int64_t parse_length(std::string_view s) {
  if (s.empty()) return -1;
  while (s.size() > 1 && s.front() == '0') s.remove_prefix(1);
  if (s.size() > 18) return -1;
  int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

void HttpParser::reset() {
  state_ = State::kHead;
  error_ = ParseError::kNone;
  request_ = {};
  status_ = {};
  first_line_done_ = upgrade_ = keep_alive_ = chunked_ = no_body_ = started_ = false;
  content_length_headers_ = transfer_encoding_headers_ = 0;
  content_length_ = -1;
  remaining_ = 0;
  head_start_ = line_start_ = buffer_used_ = buffer_size_ = large_used_ = skipped_ = 0;
  head_bytes_ = 0;
  headers_.clear();
  body_.clear();
  transfer_encoding_ = content_length_text_ = {};
  connection_close_ = connection_keep_alive_ = connection_upgrade_ = has_upgrade_header_ = false;
}

bool HttpParser::fail(ParseError e) {
  error_ = e;
  return false;
}

size_t HttpParser::feed(const char* base, size_t begin, size_t end) {
  if (state_ == State::kDone || failed() || begin >= end) return 0;
  size_t pos = begin;
  if (state_ == State::kHead) {
    if (!started_) {
      started_ = true;
      head_start_ = line_start_ = static_cast<uint32_t>(begin);
    }
    pos += feed_head(base, begin, end);
    if (state_ == State::kHead || state_ == State::kDone || failed()) return pos - begin;
  }
  switch (state_) {
    case State::kBody: {
      const size_t take =
          static_cast<size_t>(std::min<int64_t>(remaining_, static_cast<int64_t>(end - pos)));
      if (take > 0) {
        body_.push_back(Span{static_cast<uint32_t>(pos), static_cast<uint32_t>(take)});
      }
      remaining_ -= static_cast<int64_t>(take);
      pos += take;
      if (remaining_ == 0) state_ = State::kDone;
      break;
    }
    case State::kUntilClose:
      if (end > pos) {
        body_.push_back(Span{static_cast<uint32_t>(pos), static_cast<uint32_t>(end - pos)});
      }
      pos = end;
      break;
    default:
      pos += feed_chunked(base, pos, end);
      break;
  }
  return pos - begin;
}

// ---- the head: complete lines, each checked against nginx's buffers ----

bool HttpParser::fits(uint32_t length) {
  if (buffer_size_ == 0) buffer_size_ = limits_.first_buffer;
  if (buffer_used_ + length <= buffer_size_) {
    buffer_used_ += length;
    return true;
  }
  if (large_used_ >= limits_.large_buffers || length > limits_.large_buffer) return false;
  ++large_used_;
  buffer_size_ = limits_.large_buffer;
  buffer_used_ = length;
  return true;
}

bool HttpParser::may_fit(uint32_t partial) const {
  // The line needs at least one more byte (its LF).
  const uint32_t size = buffer_size_ ? buffer_size_ : limits_.first_buffer;
  if (buffer_used_ + partial + 1 <= size) return true;
  return large_used_ < limits_.large_buffers && partial + 1 <= limits_.large_buffer;
}

size_t HttpParser::feed_head(const char* base, size_t begin, size_t end) {
  size_t pos = begin;
  // nginx: 414 while the request line is incomplete, 494 ("400 Request Header
  // Or Cookie Too Large") for a header line.
  auto too_long = [this] {
    return fail(type_ == MessageType::kRequest && !first_line_done_
                    ? ParseError::kRequestLineTooLong
                    : ParseError::kHeaderLineTooLong);
  };
  while (pos < end) {
    const void* found = std::memchr(base + pos, '\n', end - pos);
    if (!found) {
      if (!may_fit(static_cast<uint32_t>(end - line_start_))) too_long();
      return end - begin;
    }
    const size_t lf = static_cast<size_t>(static_cast<const char*>(found) - base);
    const uint32_t start = line_start_;
    uint32_t length = static_cast<uint32_t>(lf - start);
    if (!fits(length + 1)) {
      too_long();
      return lf + 1 - begin;
    }
    // CRLF or a bare LF (RFC 9112 §2.2 lets a recipient accept it; nginx does).
    // A CR anywhere else is refused by the line parsers.
    if (length > 0 && base[lf - 1] == '\r') --length;
    pos = lf + 1;
    line_start_ = static_cast<uint32_t>(pos);
    if (!head_line(base, start, length)) return pos - begin;
    if (state_ != State::kHead) {
      head_bytes_ = pos - head_start_;
      return pos - begin;
    }
  }
  return pos - begin;
}

bool HttpParser::head_line(const char* base, uint32_t start, uint32_t length) {
  const std::string_view line(base + start, length);
  if (!first_line_done_) {
    // Empty lines before a request line are skipped (RFC 9112 §2.2, nginx).
    if (length == 0 && type_ == MessageType::kRequest) return true;
    ParseError e = type_ == MessageType::kRequest ? parse_request_line(line, start, request_)
                                                  : parse_status_line(line, start, status_);
    if (e != ParseError::kNone) return fail(e);
    first_line_done_ = true;
    return true;
  }
  if (length == 0) return head_complete(base);
  HeaderSpan h;
  ParseError e = parse_header_line(line, start, h);
  if (e != ParseError::kNone) return fail(e);
  const std::string_view name = h.name.in(base);
  const std::string_view value = h.value.in(base);
  switch (name.size()) {
    case 7:
      if (iequals(name, "upgrade")) has_upgrade_header_ = true;
      break;
    case 10:
      if (iequals(name, "connection")) {
        connection_close_ |= has_token(value, "close");
        connection_keep_alive_ |= has_token(value, "keep-alive");
        connection_upgrade_ |= has_token(value, "upgrade");
      }
      break;
    case 14:
      if (iequals(name, "content-length")) {
        ++content_length_headers_;
        content_length_text_ = h.value;
      }
      break;
    case 17:
      if (iequals(name, "transfer-encoding")) {
        ++transfer_encoding_headers_;
        transfer_encoding_ = h.value;
      }
      break;
    default:
      break;
  }
  headers_.push_back(h);
  return true;
}

bool HttpParser::head_complete(const char* base) {
  const bool request = type_ == MessageType::kRequest;
  const bool http11 = http_major() > 1 || (http_major() == 1 && http_minor() >= 1);
  keep_alive_ = http11 ? !connection_close_ : connection_keep_alive_;
  // A second Content-Length or Transfer-Encoding could be read either way.
  if (content_length_headers_ > 1 || transfer_encoding_headers_ > 1) {
    return fail(ParseError::kDuplicateHeader);
  }
  if (content_length_headers_ == 1) {
    content_length_ = parse_length(content_length_text_.in(base));
    if (content_length_ < 0) return fail(ParseError::kInvalidContentLength);
  }
  if (transfer_encoding_headers_ == 1) {
    const std::string_view te = transfer_encoding_.in(base);
    // nginx (1.23 on for responses): only "chunked" itself, never with a length;
    // in a request only in HTTP/1.1. A response "gzip, chunked" would be relayed
    // rechunked without its gzip coding: refused (502) rather than corrupted.
    if (request && !http11) return fail(ParseError::kEncodingInHttp10);
    if (!iequals(te, "chunked")) return fail(ParseError::kUnknownEncoding);
    if (content_length_ >= 0) return fail(ParseError::kLengthAndEncoding);
    chunked_ = true;
  }
  if (request) {
    upgrade_ = has_upgrade_header_ && connection_upgrade_;
  } else {
    const int code = status_.status;
    if (code == 101) upgrade_ = true;
    // RFC 9112 §6.3: these never have a body, whatever their headers say.
    if (no_body_ || code < 200 || code == 204 || code == 304) {
      state_ = State::kDone;
      return true;
    }
    if (!chunked_ && content_length_ < 0) {
      keep_alive_ = false;
      state_ = State::kUntilClose;
      return true;
    }
  }
  if (chunked_) {
    state_ = State::kChunkSize;
  } else if (content_length_ > 0) {
    remaining_ = content_length_;
    state_ = State::kBody;
  } else {
    state_ = State::kDone;
  }
  return true;
}

// ---- chunked bodies (RFC 9112 §7.1; nginx's ngx_http_parse_chunked) ----

size_t HttpParser::feed_chunked(const char* base, size_t begin, size_t end) {
  size_t pos = begin;
  auto size_line_done = [&] {
    skipped_ = 0;
    state_ = remaining_ == 0 ? State::kTrailerLineStart : State::kChunkData;
  };
  while (pos < end && !failed() && state_ != State::kDone) {
    const char c = base[pos];
    switch (state_) {
      case State::kChunkSize: {
        const int v = hex_value(c);
        if (v < 0) {
          fail(ParseError::kInvalidChunk);
          return pos - begin;
        }
        remaining_ = v;
        state_ = State::kChunkSizeDigits;
        ++pos;
        break;
      }
      case State::kChunkSizeDigits: {
        const int v = hex_value(c);
        if (v >= 0) {
          if (remaining_ > (std::numeric_limits<int64_t>::max() >> 4)) {
            fail(ParseError::kInvalidChunk);
            return pos - begin;
          }
          remaining_ = remaining_ * 16 + v;
        } else if (c == ';' || c == ' ' || c == '\t') {
          state_ = State::kChunkExtension;  // nginx: whitespace after the size starts one too
        } else if (c == '\r') {
          state_ = State::kChunkSizeLf;
        } else if (c == '\n') {
          size_line_done();
        } else {
          fail(ParseError::kInvalidChunk);
          return pos - begin;
        }
        ++pos;
        break;
      }
      case State::kChunkExtension:
        if (c == '\r') {
          state_ = State::kChunkSizeLf;
        } else if (c == '\n') {
          size_line_done();
        } else if (++skipped_ > kMaxChunkExtension) {
          fail(ParseError::kInvalidChunk);
          return pos - begin;
        }
        ++pos;
        break;
      case State::kChunkSizeLf:
        if (c != '\n') {
          fail(ParseError::kInvalidChunk);
          return pos - begin;
        }
        size_line_done();
        ++pos;
        break;
      case State::kChunkData: {
        const size_t take =
            static_cast<size_t>(std::min<int64_t>(remaining_, static_cast<int64_t>(end - pos)));
        body_.push_back(Span{static_cast<uint32_t>(pos), static_cast<uint32_t>(take)});
        remaining_ -= static_cast<int64_t>(take);
        pos += take;
        if (remaining_ == 0) state_ = State::kChunkDataCr;
        break;
      }
      case State::kChunkDataCr:
        // The data must be followed by its line ending: anything else means the
        // two sides disagree on where the chunk ended (request smuggling).
        if (c == '\r') {
          state_ = State::kChunkDataLf;
        } else if (c == '\n') {
          state_ = State::kChunkSize;
        } else {
          fail(ParseError::kInvalidChunk);
          return pos - begin;
        }
        ++pos;
        break;
      case State::kChunkDataLf:
        if (c != '\n') {
          fail(ParseError::kInvalidChunk);
          return pos - begin;
        }
        state_ = State::kChunkSize;
        ++pos;
        break;
      case State::kTrailerLineStart:
        if (c == '\r') {
          state_ = State::kTrailerEndLf;
        } else if (c == '\n') {
          state_ = State::kDone;
        } else {
          state_ = State::kTrailerLine;
          ++skipped_;
        }
        ++pos;
        break;
      case State::kTrailerLine:
        if (c == '\r') {
          state_ = State::kTrailerLineLf;
        } else if (c == '\n') {
          state_ = State::kTrailerLineStart;
        } else if (++skipped_ > kMaxTrailers) {
          fail(ParseError::kInvalidChunk);
          return pos - begin;
        }
        ++pos;
        break;
      case State::kTrailerLineLf:
      case State::kTrailerEndLf:
        if (c != '\n') {
          fail(ParseError::kInvalidChunk);
          return pos - begin;
        }
        state_ = state_ == State::kTrailerEndLf ? State::kDone : State::kTrailerLineStart;
        ++pos;
        break;
      default:
        return pos - begin;
    }
  }
  return pos - begin;
}

bool HttpParser::finish() {
  if (failed()) return false;
  if (state_ == State::kUntilClose) {
    state_ = State::kDone;
    return true;
  }
  if (state_ == State::kDone ||
      (state_ == State::kHead && !first_line_done_ && line_start_ == head_start_)) {
    return true;
  }
  return fail(ParseError::kTruncated);
}

}  // namespace tg::http
