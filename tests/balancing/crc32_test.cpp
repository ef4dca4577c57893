#include "balancing/crc32.h"

#include <span>
#include <vector>

#include <gtest/gtest.h>

namespace tg::balancing {
namespace {

TEST(Crc32, MatchesTheStandardCheckValues) {
  EXPECT_EQ(crc32(""), 0u);
  EXPECT_EQ(crc32("123456789"), 0xcbf43926u);
  EXPECT_EQ(crc32("The quick brown fox jumps over the lazy dog"), 0x414fa339u);
}

TEST(Crc32, IncrementalUpdatesEqualOneShot) {
  Crc32 crc;
  crc.update("1234").update("").update("56789");
  EXPECT_EQ(crc.final(), crc32("123456789"));
}

TEST(Crc32, HashesZeroBytes) {
  const std::uint8_t zeros[4] = {0, 0, 0, 0};
  EXPECT_EQ(Crc32().update(zeros).final(), 0x2144df1cu);
}

TEST(Crc32, LongInputsMatchTheBitwiseDefinitionAtAnySplit) {
  // The table-driven update folds eight bytes at a time; check it against one bit at a time.
  auto bitwise = [](std::span<const std::uint8_t> bytes) {
    std::uint32_t c = 0xffffffff;
    for (std::uint8_t b : bytes) {
      c ^= b;
      for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? 0xedb88320 ^ (c >> 1) : c >> 1;
    }
    return ~c;
  };
  std::vector<std::uint8_t> data(1'000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 131 + 7);
  const std::uint32_t expected = bitwise(data);
  for (std::size_t split : {0, 1, 7, 8, 9, 500, 999, 1000}) {
    Crc32 crc;
    crc.update(std::span(data).first(split)).update(std::span(data).subspan(split));
    EXPECT_EQ(crc.final(), expected) << split;
  }
}

}  // namespace
}  // namespace tg::balancing
