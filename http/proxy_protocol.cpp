#include "http/proxy_protocol.h"

#include <arpa/inet.h>

#include <cstring>

namespace tg::http {

namespace {

constexpr std::string_view kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);
constexpr size_t kV1Max = 107;  // "PROXY TCP6 <39> <39> 65535 65535\r\n"

bool parse_port(std::string_view text, uint16_t& out) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  unsigned v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 65535) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

bool parse_address(std::string_view text, bool v6, std::string& out) {
  if (text.empty() || text.size() > 45) return false;
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  unsigned char bin[16];
  if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, bin) != 1) return false;
  out.assign(text);
  return true;
}

ProxyProtocolResult parse_v1(std::string_view data, ProxyProtocolHeader& out) {
  const size_t end = data.find("\r\n");
  if (end == std::string_view::npos) {
    return data.size() >= kV1Max ? ProxyProtocolResult::kBroken : ProxyProtocolResult::kNeedMore;
  }
  if (end + 2 > kV1Max) return ProxyProtocolResult::kBroken;
  std::string_view line = data.substr(6, end - 6);  // after "PROXY "
  out = {};
  out.length = end + 2;
  if (line.starts_with("UNKNOWN")) {
    out.local = true;
    return ProxyProtocolResult::kComplete;
  }
  std::string_view fields[5];
  for (auto& f : fields) {
    const size_t space = line.find(' ');
    f = line.substr(0, space);
    line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  }
  if (!line.empty()) return ProxyProtocolResult::kBroken;
  const bool v6 = fields[0] == "TCP6";
  if (!v6 && fields[0] != "TCP4") return ProxyProtocolResult::kBroken;
  if (!parse_address(fields[1], v6, out.source_addr) ||
      !parse_address(fields[2], v6, out.dest_addr) || !parse_port(fields[3], out.source_port) ||
      !parse_port(fields[4], out.dest_port)) {
    return ProxyProtocolResult::kBroken;
  }
  return ProxyProtocolResult::kComplete;
}

ProxyProtocolResult parse_v2(std::string_view data, ProxyProtocolHeader& out) {
  if (data.size() < 16) return ProxyProtocolResult::kNeedMore;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  if ((p[12] >> 4) != 2) return ProxyProtocolResult::kBroken;  // version 2
  const unsigned command = p[12] & 0x0f;
  const size_t length = (size_t{p[14]} << 8) | p[15];
  if (data.size() < 16 + length) return ProxyProtocolResult::kNeedMore;
  out = {};
  out.length = 16 + length;
  if (command == 0) {  // LOCAL: the balancer's own connection
    out.local = true;
    return ProxyProtocolResult::kComplete;
  }
  if (command != 1) return ProxyProtocolResult::kBroken;
  const unsigned family = p[13] >> 4;
  const unsigned transport = p[13] & 0x0f;
  char text[INET6_ADDRSTRLEN];
  if (family == 1 && length >= 12 && (transport == 1 || transport == 2)) {  // IPv4
    out.source_addr = inet_ntop(AF_INET, p + 16, text, sizeof text);
    out.dest_addr = inet_ntop(AF_INET, p + 20, text, sizeof text);
    out.source_port = static_cast<uint16_t>((p[24] << 8) | p[25]);
    out.dest_port = static_cast<uint16_t>((p[26] << 8) | p[27]);
    return ProxyProtocolResult::kComplete;
  }
  if (family == 2 && length >= 36 && (transport == 1 || transport == 2)) {  // IPv6
    out.source_addr = inet_ntop(AF_INET6, p + 16, text, sizeof text);
    out.dest_addr = inet_ntop(AF_INET6, p + 32, text, sizeof text);
    out.source_port = static_cast<uint16_t>((p[48] << 8) | p[49]);
    out.dest_port = static_cast<uint16_t>((p[50] << 8) | p[51]);
    return ProxyProtocolResult::kComplete;
  }
  // Another family (unix sockets, unspecified): the connection's own addresses stay.
  out.local = true;
  return ProxyProtocolResult::kComplete;
}

}  // namespace

ProxyProtocolResult parse_proxy_protocol(std::string_view data, ProxyProtocolHeader& out) {
  const size_t v2 = std::min(data.size(), kV2Signature.size());
  if (data.substr(0, v2) == kV2Signature.substr(0, v2) && !data.empty() && data[0] == '\r') {
    return data.size() < kV2Signature.size() ? ProxyProtocolResult::kNeedMore : parse_v2(data, out);
  }
  const std::string_view prefix = "PROXY ";
  const size_t n = std::min(data.size(), prefix.size());
  if (data.substr(0, n) != prefix.substr(0, n)) return ProxyProtocolResult::kBroken;
  if (data.size() < prefix.size()) return ProxyProtocolResult::kNeedMore;
  return parse_v1(data, out);
}

}  // namespace tg::http
