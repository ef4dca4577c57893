// The PROXY protocol parser: v1 and v2 headers, partial input, broken input.
#include "http/proxy_protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace tg::http {
namespace {

using R = ProxyProtocolResult;

const std::string kSig("\r\n\r\n\0\r\nQUIT\n", 12);

TEST(ProxyProtocol, V1Tcp4AndTheBytesAfterIt) {
  const std::string header = "PROXY TCP4 203.0.113.7 198.51.100.2 40000 443\r\n";
  ProxyProtocolHeader h;
  ASSERT_EQ(parse_proxy_protocol(header + "GET / HTTP/1.1\r\n", h), R::kComplete);
  EXPECT_EQ(h.length, header.size());
  EXPECT_FALSE(h.local);
  EXPECT_EQ(h.source_addr, "203.0.113.7");
  EXPECT_EQ(h.source_port, 40000);
  EXPECT_EQ(h.dest_addr, "198.51.100.2");
  EXPECT_EQ(h.dest_port, 443);
}

TEST(ProxyProtocol, V1Tcp6AndUnknown) {
  ProxyProtocolHeader h;
  ASSERT_EQ(parse_proxy_protocol("PROXY TCP6 2001:db8::1 ::1 5 6\r\n", h), R::kComplete);
  EXPECT_EQ(h.source_addr, "2001:db8::1");
  EXPECT_EQ(h.dest_port, 6);
  ASSERT_EQ(parse_proxy_protocol("PROXY UNKNOWN ffff::1 ::1 1 2\r\n", h), R::kComplete);
  EXPECT_TRUE(h.local);
}

TEST(ProxyProtocol, V1PartialAndBroken) {
  ProxyProtocolHeader h;
  EXPECT_EQ(parse_proxy_protocol("PRO", h), R::kNeedMore);
  EXPECT_EQ(parse_proxy_protocol("PROXY TCP4 1.2.3.4", h), R::kNeedMore);
  EXPECT_EQ(parse_proxy_protocol("GET / HTTP/1.1\r\n", h), R::kBroken);
  EXPECT_EQ(parse_proxy_protocol("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", h), R::kBroken);
  EXPECT_EQ(parse_proxy_protocol("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", h), R::kBroken);
  EXPECT_EQ(parse_proxy_protocol("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", h), R::kBroken);
  EXPECT_EQ(parse_proxy_protocol("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", h), R::kBroken);
  EXPECT_EQ(parse_proxy_protocol("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 extra\r\n", h), R::kBroken);
  EXPECT_EQ(parse_proxy_protocol("PROXY " + std::string(120, 'x'), h), R::kBroken);  // no CRLF
}

std::string v2(unsigned char command, unsigned char family, const std::string& addresses) {
  std::string out = kSig;
  out += static_cast<char>(command);
  out += static_cast<char>(family);
  out += static_cast<char>(addresses.size() >> 8);
  out += static_cast<char>(addresses.size() & 0xff);
  return out + addresses;
}

TEST(ProxyProtocol, V2Ipv4Ipv6AndLocal) {
  const std::string v4("\xc0\x00\x02\x0a\xc0\x00\x02\x14\x04\xd2\x00\x50", 12);
  ProxyProtocolHeader h;
  const std::string header = v2(0x21, 0x11, v4);
  ASSERT_EQ(parse_proxy_protocol(header + "rest", h), R::kComplete);
  EXPECT_EQ(h.length, header.size());
  EXPECT_EQ(h.source_addr, "192.0.2.10");
  EXPECT_EQ(h.source_port, 1234);
  EXPECT_EQ(h.dest_addr, "192.0.2.20");
  EXPECT_EQ(h.dest_port, 80);
  std::string v6(36, '\0');
  v6[15] = 1;  // ::1
  v6[31] = 2;  // ::2
  v6[33] = 7;  // port 7
  v6[35] = 8;  // port 8
  ASSERT_EQ(parse_proxy_protocol(v2(0x21, 0x21, v6), h), R::kComplete);
  EXPECT_EQ(h.source_addr, "::1");
  EXPECT_EQ(h.dest_addr, "::2");
  EXPECT_EQ(h.source_port, 7);
  EXPECT_EQ(h.dest_port, 8);
  ASSERT_EQ(parse_proxy_protocol(v2(0x20, 0x00, ""), h), R::kComplete);
  EXPECT_TRUE(h.local);
  // TLVs after the addresses are skipped with them.
  ASSERT_EQ(parse_proxy_protocol(v2(0x21, 0x11, v4 + std::string("\x04\x00\x01x", 4)), h),
            R::kComplete);
  EXPECT_EQ(h.length, 16u + 12u + 4u);
}

TEST(ProxyProtocol, V2PartialAndBroken) {
  const std::string v4("\xc0\x00\x02\x0a\xc0\x00\x02\x14\x04\xd2\x00\x50", 12);
  const std::string header = v2(0x21, 0x11, v4);
  ProxyProtocolHeader h;
  for (size_t n : {1u, 5u, 12u, 15u, 20u}) {
    EXPECT_EQ(parse_proxy_protocol(header.substr(0, n), h), R::kNeedMore) << n;
  }
  EXPECT_EQ(parse_proxy_protocol(v2(0x11, 0x11, v4), h), R::kBroken);  // version 1
  EXPECT_EQ(parse_proxy_protocol(v2(0x22, 0x11, v4), h), R::kBroken);  // unknown command
  EXPECT_EQ(parse_proxy_protocol(kSig.substr(0, 5) + "x", h), R::kBroken);
}

}  // namespace
}  // namespace tg::http
