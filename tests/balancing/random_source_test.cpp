#include "balancing/random_source.h"

#include <array>
#include <set>

#include <gtest/gtest.h>

namespace tg::balancing {
namespace {

TEST(SplitMix64, SameSeedGivesTheSameSequence) {
  SplitMix64 a(42);
  SplitMix64 b(42);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next(), b.next());
}

TEST(SplitMix64, MatchesTheReferenceOutput) {
  // First outputs of the reference splitmix64.c seeded with 0.
  SplitMix64 rng(0);
  EXPECT_EQ(rng.next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(rng.next(), 0x6e789e6aa1b965f4ULL);
}

TEST(SplitMix64, DifferentSeedsDiverge) {
  SplitMix64 a(1);
  SplitMix64 b(2);
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 10; ++i) {
    seen.insert(a.next());
    seen.insert(b.next());
  }
  EXPECT_EQ(seen.size(), 20u);
}

TEST(SplitMix64, BelowStaysInRangeAndCoversIt) {
  SplitMix64 rng(7);
  std::array<int, 5> counts{};
  for (int i = 0; i < 10'000; ++i) {
    const auto v = rng.below(5);
    ASSERT_LT(v, 5u);
    ++counts[v];
  }
  for (int c : counts) EXPECT_NEAR(c, 2'000, 200);
}

}  // namespace
}  // namespace tg::balancing
