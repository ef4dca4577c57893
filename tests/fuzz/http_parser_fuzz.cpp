// Fuzz target for the HTTP/1 message parser (requests and responses).
//
// Properties checked for every input, beyond "no crash, no sanitizer report":
// - every span lies inside the bytes fed, and feed() never consumes more than given;
// - the parse does not depend on how the bytes are split across feed() calls
//   (one piece, byte by byte and an input-chosen split give the same outcome,
//   head and body);
// - a message that parses re-serialized canonically (CRLF lines, chunked body)
//   parses to the same method, target, status, headers and body.
//
// Built with libFuzzer under clang (`scripts/fuzz`); with any compiler it is
// also linked to a driver that replays the seed corpus (ctest fuzz.*).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "http/parser.h"

namespace {

using tg::http::HttpParser;
using tg::http::MessageType;

struct Outcome {
  bool done = false;
  bool failed = false;
  tg::http::ParseError error{};
  size_t consumed = 0;
  std::string method, target, reason;
  int status = 0, major = 0, minor = 0;
  bool chunked = false, keep_alive = false, upgrade = false;
  int64_t content_length = -1;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool operator==(const Outcome&) const = default;
};

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

/// Feeds `data` in pieces ending at `cuts` (ascending, last == size).
Outcome parse(MessageType type, const std::string& data, const std::vector<size_t>& cuts,
              bool no_body, tg::http::HeadLimits limits = {1024, 2048, 4}) {
  HttpParser p(type);
  p.set_limits(limits);
  p.set_no_body(no_body);
  Outcome o;
  size_t begin = 0;
  for (size_t end : cuts) {
    // The head's bytes stay where they were; later pieces are fresh buffers for
    // the body (as the proxy's body reads are).
    size_t from = begin;
    while (from < end && !p.message_done() && !p.failed()) {
      size_t n = p.feed(data.data(), from, end);
      check(n <= end - from, "consumed more than fed");
      for (const auto& s : p.body()) {
        check(s.offset >= from && s.offset + s.length <= from + n, "body span outside the feed");
        o.body.append(data, s.offset, s.length);
      }
      p.body().clear();
      o.consumed += n;
      from += n;
      if (n == 0) break;
    }
    begin = end;
    if (p.message_done() || p.failed()) break;
  }
  o.done = p.message_done();
  o.failed = p.failed();
  o.error = p.error();
  if (p.headers_done()) {
    auto in = [&](tg::http::Span s) {
      check(s.offset + s.length <= data.size(), "head span outside the input");
      return std::string(data, s.offset, s.length);
    };
    o.method = in(p.method_text());
    o.target = in(p.url());
    o.reason = in(p.status_text());
    o.status = p.status_code();
    o.major = p.http_major();
    o.minor = p.http_minor();
    o.chunked = p.chunked();
    o.keep_alive = p.keep_alive();
    o.upgrade = p.upgrade();
    o.content_length = p.content_length();
    for (const auto& h : p.headers()) o.headers.emplace_back(in(h.name), in(h.value));
  }
  return o;
}

std::string reserialize(MessageType type, const Outcome& o) {
  std::string out;
  if (type == MessageType::kRequest) {
    out = o.method + " " + o.target + " HTTP/" + std::to_string(o.major) + "." +
          std::to_string(o.minor) + "\r\n";
  } else {
    out = "HTTP/" + std::to_string(o.major) + "." + std::to_string(o.minor) + " " +
          std::to_string(o.status) + (o.reason.empty() ? "" : " " + o.reason) + "\r\n";
  }
  for (const auto& [name, value] : o.headers) out += name + ": " + value + "\r\n";
  out += "\r\n";
  if (o.chunked) {
    if (!o.body.empty()) {
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", o.body.size());
      out += size + o.body + "\r\n";
    }
    out += "0\r\n\r\n";
  } else {
    out += o.body;
  }
  return out;
}

void run(MessageType type, const std::string& data, size_t split_seed, bool no_body) {
  const Outcome whole = parse(type, data, {data.size()}, no_body);
  std::vector<size_t> bytes;
  for (size_t i = 1; i <= data.size(); ++i) bytes.push_back(i);
  if (data.size() <= 4096) {
    const Outcome bytewise = parse(type, data, bytes, no_body);
    check(bytewise == whole, "byte-by-byte parse differs from the one-piece parse");
  }
  std::vector<size_t> cuts;
  size_t at = 0, seed = split_seed | 1;
  while (at < data.size()) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    at = std::min(data.size(), at + 1 + (seed >> 33) % 97);
    cuts.push_back(at);
  }
  if (!cuts.empty()) {
    check(parse(type, data, cuts, no_body) == whole, "split parse differs from one-piece parse");
  }
  if (whole.done) {
    // The canonical form may be longer ("X:a" becomes "X: a"): no head limits.
    const std::string again = reserialize(type, whole);
    Outcome second = parse(type, again, {again.size()}, no_body, {1 << 30, 1 << 30, 1});
    check(second.done, "canonical form of a parsed message does not parse");
    check(second.method == whole.method && second.target == whole.target &&
              second.status == whole.status && second.headers == whole.headers &&
              second.body == whole.body,
          "canonical form parses to a different message");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  // First byte: which parser, HEAD or not, and the split seed.
  const uint8_t mode = bytes[0];
  const std::string data(reinterpret_cast<const char*>(bytes + 1), size - 1);
  const MessageType type = (mode & 1) ? MessageType::kResponse : MessageType::kRequest;
  run(type, data, mode, type == MessageType::kResponse && (mode & 2));
  return 0;
}
