#include "http/head_line.h"

#include <array>

namespace tg::http {
namespace {

constexpr std::array<bool, 256> make_tchar() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}

constexpr std::array<bool, 256> make_field_vchar() {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7f; ++c) t[c] = true;
  for (int c = 0x80; c < 0x100; ++c) t[c] = true;
  t['\t'] = true;
  return t;
}

constexpr auto kTchar = make_tchar();
constexpr auto kFieldVchar = make_field_vchar();

/// A byte that may appear in a request target: nginx (1.21.1+) refuses
/// control characters, SP and DEL there; bytes >= 0x80 pass.
bool target_char(unsigned char c) {
  return c > 0x20 && c != 0x7f;
}

bool digit(char c) {
  return c >= '0' && c <= '9';
}

bool alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/// `HTTP/major.minor` at the start of `s`; advances past it. As nginx: the
/// major has no leading zero, each part at most two digits.
bool parse_version(std::string_view& s, int& major, int& minor) {
  if (!s.starts_with("HTTP/")) return false;
  s.remove_prefix(5);
  auto number = [&](int& out, bool no_leading_zero) {
    size_t n = 0;
    out = 0;
    while (n < s.size() && digit(s[n])) {
      if (n == 0 && no_leading_zero && s[n] == '0') return false;
      if (n == 2) return false;
      out = out * 10 + (s[n] - '0');
      ++n;
    }
    if (n == 0) return false;
    s.remove_prefix(n);
    return true;
  };
  if (!number(major, true)) return false;
  if (s.empty() || s.front() != '.') return false;
  s.remove_prefix(1);
  return number(minor, false);
}

void skip_spaces(std::string_view& s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
}

Method identify(std::string_view m) {
  switch (m.size()) {
    case 3:
      if (m == "GET") return Method::kGet;
      if (m == "PUT") return Method::kPut;
      break;
    case 4:
      if (m == "HEAD") return Method::kHead;
      if (m == "POST") return Method::kPost;
      break;
    case 5:
      if (m == "PATCH") return Method::kPatch;
      if (m == "TRACE") return Method::kTrace;
      break;
    case 6:
      if (m == "DELETE") return Method::kDelete;
      break;
    case 7:
      if (m == "OPTIONS") return Method::kOptions;
      if (m == "CONNECT") return Method::kConnect;
      break;
    default:
      break;
  }
  return Method::kOther;
}

/// Validates an absolute-form target's `scheme://authority` prefix (nginx's
/// sw_schema .. sw_port): letters, "://", a host of [A-Za-z0-9.-] or an IPv6
/// literal, an optional port; then the path, query or nothing. Userinfo
/// (`user@host`) is refused: the authority must not be read two ways.
ParseError check_absolute_form(std::string_view t) {
  size_t i = 0;
  while (i < t.size() && alpha(t[i])) ++i;
  if (i == 0 || t.substr(i, 3) != "://") return ParseError::kInvalidRequest;
  i += 3;
  const size_t host_start = i;
  if (i < t.size() && t[i] == '[') {
    while (i < t.size() && t[i] != ']') {
      char c = t[i];
      if (!(digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.' ||
            c == '[')) {
        return ParseError::kInvalidRequest;
      }
      ++i;
    }
    if (i == t.size()) return ParseError::kInvalidRequest;
    ++i;
  } else {
    while (i < t.size() && (alpha(t[i]) || digit(t[i]) || t[i] == '.' || t[i] == '-')) ++i;
  }
  if (i == host_start) return ParseError::kInvalidHostInRequestLine;
  if (i < t.size() && t[i] == ':') {
    ++i;
    while (i < t.size() && digit(t[i])) ++i;
  }
  if (i < t.size() && t[i] != '/' && t[i] != '?') return ParseError::kInvalidRequest;
  return ParseError::kNone;
}

}  // namespace

std::string_view describe(ParseError e) {
  switch (e) {
    case ParseError::kNone:
      return "";
    case ParseError::kInvalidRequest:
      return "invalid request";
    case ParseError::kInvalidMethod:
      return "invalid method";
    case ParseError::kInvalidHostInRequestLine:
      return "invalid host in request line";
    case ParseError::kUnsupportedVersion:
      return "unsupported HTTP version";
    case ParseError::kInvalidHeader:
      return "invalid header line";
    case ParseError::kInvalidContentLength:
      return "invalid \"Content-Length\" header";
    case ParseError::kDuplicateHeader:
      return "duplicate header line";
    case ParseError::kLengthAndEncoding:
      return "\"Content-Length\" and \"Transfer-Encoding\" headers at the same time";
    case ParseError::kEncodingInHttp10:
      return "HTTP/1.0 request with \"Transfer-Encoding\" header";
    case ParseError::kUnknownEncoding:
      return "unknown \"Transfer-Encoding\"";
    case ParseError::kInvalidChunk:
      return "invalid chunked body";
    case ParseError::kRequestLineTooLong:
      return "too long URI";
    case ParseError::kHeaderLineTooLong:
      return "too long header line";
    case ParseError::kInvalidStatusLine:
      return "invalid status line";
    case ParseError::kTruncated:
      return "truncated message";
  }
  return "invalid request";
}

int status_for(ParseError e) {
  switch (e) {
    case ParseError::kUnsupportedVersion:
      return 505;
    case ParseError::kUnknownEncoding:
      return 501;
    case ParseError::kRequestLineTooLong:
      return 414;
    case ParseError::kHeaderLineTooLong:
      return 494;
    default:
      return 400;
  }
}

bool is_tchar(unsigned char c) {
  return kTchar[c];
}

bool is_field_vchar(unsigned char c) {
  return kFieldVchar[c];
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!kTchar[c]) return false;
  }
  return true;
}

std::string_view method_name(Method m) {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kDelete:
      return "DELETE";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kPatch:
      return "PATCH";
    case Method::kConnect:
      return "CONNECT";
    case Method::kTrace:
      return "TRACE";
    case Method::kOther:
      break;
  }
  return {};
}

ParseError parse_request_line(std::string_view line, uint32_t offset, RequestLine& out) {
  std::string_view s = line;
  size_t n = 0;
  while (n < s.size() && ((s[n] >= 'A' && s[n] <= 'Z') || s[n] == '_' || s[n] == '-')) ++n;
  if (n == 0 || n == s.size() || s[n] != ' ') {
    // A lower-case or otherwise odd method is nginx's "invalid method"; a
    // line that ends after the method (an HTTP/0.9 request) is invalid too.
    return n < s.size() && s[n] != ' ' ? ParseError::kInvalidMethod : ParseError::kInvalidRequest;
  }
  out.method = Span{offset, static_cast<uint32_t>(n)};
  out.method_id = identify(s.substr(0, n));
  s.remove_prefix(n);
  skip_spaces(s);
  size_t t = 0;
  while (t < s.size() && s[t] != ' ') {
    if (!target_char(static_cast<unsigned char>(s[t]))) return ParseError::kInvalidRequest;
    ++t;
  }
  if (t == 0 || t == s.size()) return ParseError::kInvalidRequest;  // no version: HTTP/0.9
  std::string_view target = s.substr(0, t);
  if (target.front() != '/') {
    ParseError e = check_absolute_form(target);
    if (e != ParseError::kNone) return e;
  }
  out.target =
      Span{offset + static_cast<uint32_t>(target.data() - line.data()), static_cast<uint32_t>(t)};
  s.remove_prefix(t);
  skip_spaces(s);
  if (!parse_version(s, out.major, out.minor)) return ParseError::kInvalidRequest;
  skip_spaces(s);
  if (!s.empty()) return ParseError::kInvalidRequest;
  if (out.major > 1) return ParseError::kUnsupportedVersion;
  return ParseError::kNone;
}

ParseError parse_status_line(std::string_view line, uint32_t offset, StatusLine& out) {
  std::string_view s = line;
  if (!parse_version(s, out.major, out.minor) || out.major != 1) {
    return ParseError::kInvalidStatusLine;
  }
  if (s.size() < 4 || s[0] != ' ' || !digit(s[1]) || !digit(s[2]) || !digit(s[3]) || s[1] == '0') {
    return ParseError::kInvalidStatusLine;
  }
  out.status = (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  s.remove_prefix(4);
  if (s.empty()) {
    out.reason = Span{offset + static_cast<uint32_t>(line.size()), 0};
    return ParseError::kNone;
  }
  if (s.front() != ' ') return ParseError::kInvalidStatusLine;
  s.remove_prefix(1);
  for (unsigned char c : s) {
    if (!kFieldVchar[c]) return ParseError::kInvalidStatusLine;
  }
  out.reason =
      Span{offset + static_cast<uint32_t>(s.data() - line.data()), static_cast<uint32_t>(s.size())};
  return ParseError::kNone;
}

ParseError parse_header_line(std::string_view line, uint32_t offset, HeaderSpan& out) {
  size_t colon = 0;
  while (colon < line.size() && line[colon] != ':') {
    unsigned char c = static_cast<unsigned char>(line[colon]);
    // nginx (1.21.1+) refuses SP, CTL and DEL in a name (and so a line that
    // starts with whitespace: obs-fold, RFC 9112 §5.2); other odd bytes are
    // kept here and left to ignore_invalid_headers.
    if (c <= 0x20 || c == 0x7f) return ParseError::kInvalidHeader;
    ++colon;
  }
  if (colon == 0 || colon == line.size()) return ParseError::kInvalidHeader;
  size_t begin = colon + 1;
  size_t end = line.size();
  while (begin < end && (line[begin] == ' ' || line[begin] == '\t')) ++begin;
  while (end > begin && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
  for (size_t i = begin; i < end; ++i) {
    if (!kFieldVchar[static_cast<unsigned char>(line[i])]) return ParseError::kInvalidHeader;
  }
  out.name = Span{offset, static_cast<uint32_t>(colon)};
  out.value = Span{offset + static_cast<uint32_t>(begin), static_cast<uint32_t>(end - begin)};
  return ParseError::kNone;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  // ASCII only (header names are tokens): no locale lookups on the hot path.
  auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c | 0x20 : c; };
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(static_cast<unsigned char>(a[i])) != lower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = trim(list.substr(0, comma));
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace tg::http
