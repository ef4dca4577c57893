#include "proxy/websocket_frames.h"

#include <gtest/gtest.h>

#include <string>

namespace tg::proxy {
namespace {

std::string frame(unsigned char opcode, size_t payload, bool masked) {
  std::string f;
  f += static_cast<char>(0x80 | opcode);
  const unsigned char mask_bit = masked ? 0x80 : 0;
  if (payload < 126) {
    f += static_cast<char>(mask_bit | payload);
  } else if (payload < 65536) {
    f += static_cast<char>(mask_bit | 126);
    f += static_cast<char>(payload >> 8);
    f += static_cast<char>(payload & 0xff);
  } else {
    f += static_cast<char>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8) f += static_cast<char>((payload >> shift) & 0xff);
  }
  if (masked) f += std::string("\x01\x02\x03\x04", 4);
  f += std::string(payload, 'x');
  return f;
}

void feed(FrameBoundary& b, const std::string& bytes) {
  b.feed(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

TEST(FrameBoundary, StartsAtABoundary) {
  FrameBoundary b;
  EXPECT_TRUE(b.at_boundary());
}

TEST(FrameBoundary, FollowsEveryLengthEncodingMaskedOrNot) {
  for (size_t payload : {0UL, 5UL, 125UL, 126UL, 1000UL, 65535UL, 65536UL, 200000UL}) {
    for (bool masked : {false, true}) {
      FrameBoundary b;
      const std::string f = frame(0x2, payload, masked);
      feed(b, f.substr(0, f.size() - 1));
      EXPECT_FALSE(b.at_boundary()) << payload << " masked=" << masked;
      feed(b, f.substr(f.size() - 1));
      EXPECT_TRUE(b.at_boundary()) << payload << " masked=" << masked;
    }
  }
}

TEST(FrameBoundary, ByteByByteAcrossSeveralFrames) {
  const std::string stream = frame(0x1, 3, true) + frame(0x9, 0, true) + frame(0x2, 300, true);
  FrameBoundary b;
  size_t boundaries = 0;
  for (char c : stream) {
    feed(b, std::string(1, c));
    if (b.at_boundary()) ++boundaries;
  }
  EXPECT_EQ(boundaries, 3u);
}

TEST(FrameBoundary, CountsMessagesNotControlFramesOrFragments) {
  FrameBoundary b;
  std::string fragmented = frame(0x1, 4, true);
  fragmented[0] = 0x01;  // text without FIN: the first fragment
  std::string middle = frame(0x0, 2, true);
  middle[0] = 0x00;  // continuation without FIN
  const std::string stream = frame(0x1, 3, true) + frame(0x9, 0, true) + fragmented + middle +
                             frame(0xA, 0, true) + frame(0x0, 5, true) + frame(0x2, 70000, false) +
                             frame(0x8, 2, true);
  // Byte by byte: heads split across feeds count once, when complete.
  for (char c : stream) feed(b, std::string(1, c));
  EXPECT_EQ(b.take_messages(), 3u);  // text, the fragmented text, binary
  EXPECT_EQ(b.take_messages(), 0u);
}

TEST(FrameBoundary, MidHeaderIsNotABoundary) {
  FrameBoundary b;
  feed(b, frame(0x2, 1000, true).substr(0, 3));  // opcode, length marker, half the length
  EXPECT_FALSE(b.at_boundary());
}

TEST(WebSocketCloseFrame, UnmaskedCarriesCodeAndReason) {
  const std::string f = websocket_close_frame(1001, "going away", false);
  ASSERT_EQ(f.size(), 2u + 2u + 10u);
  EXPECT_EQ(static_cast<unsigned char>(f[0]), 0x88);
  EXPECT_EQ(static_cast<unsigned char>(f[1]), 12);
  EXPECT_EQ(static_cast<unsigned char>(f[2]), 0x03);
  EXPECT_EQ(static_cast<unsigned char>(f[3]), 0xE9);
  EXPECT_EQ(f.substr(4), "going away");
}

TEST(WebSocketCloseFrame, MaskedPayloadUnmasksToCodeAndReason) {
  const std::string f = websocket_close_frame(1001, "bye", true, 0x11223344);
  ASSERT_EQ(f.size(), 2u + 4u + 5u);
  EXPECT_EQ(static_cast<unsigned char>(f[1]), 0x80 | 5);
  const unsigned char key[4] = {0x11, 0x22, 0x33, 0x44};
  std::string payload;
  for (size_t i = 0; i < 5; ++i) payload += static_cast<char>(f[6 + i] ^ key[i % 4]);
  EXPECT_EQ(payload, std::string("\x03\xE9"
                                 "bye",
                                 5));
  FrameBoundary b;
  feed(b, f);
  EXPECT_TRUE(b.at_boundary());
}

}  // namespace
}  // namespace tg::proxy
