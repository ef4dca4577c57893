#include "balancing/alias_table.h"

#include <gtest/gtest.h>

namespace tg::balancing {
namespace {

/// Share of each index over `draws` seeded draws.
std::vector<double> shares(const std::vector<int>& weights, int draws, std::uint64_t seed) {
  AliasTable table;
  table.build(weights);
  SplitMix64 rng(seed);
  std::vector<double> counts(weights.size(), 0);
  for (int i = 0; i < draws; ++i) counts[table.draw(rng)] += 1;
  for (double& c : counts) c /= draws;
  return counts;
}

TEST(AliasTable, DrawsFollowTheWeights) {
  const std::vector<int> weights{1, 2, 3, 4};
  const auto got = shares(weights, 100'000, 1);
  for (std::size_t i = 0; i < weights.size(); ++i) {
    EXPECT_NEAR(got[i], weights[i] / 10.0, 0.006) << i;
  }
}

TEST(AliasTable, HandlesSkewedAndEqualWeights) {
  const auto skewed = shares({100, 1, 1, 1, 1}, 100'000, 2);
  EXPECT_NEAR(skewed[0], 100.0 / 104, 0.004);
  for (std::size_t i = 1; i < 5; ++i) EXPECT_NEAR(skewed[i], 1.0 / 104, 0.002);
  const auto equal = shares({3, 3, 3}, 90'000, 3);
  for (double s : equal) EXPECT_NEAR(s, 1.0 / 3, 0.006);
}

TEST(AliasTable, SingleItemAlwaysDrawn) {
  AliasTable table;
  const std::vector<int> one{7};
  table.build(one);
  SplitMix64 rng(4);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(table.draw(rng), 0u);
}

TEST(AliasTable, ZeroWeightCountsAsOne) {
  const auto got = shares({0, 1}, 40'000, 5);
  EXPECT_NEAR(got[0], 0.5, 0.01);
}

TEST(AliasTable, RebuildReplacesTheTable) {
  AliasTable table;
  table.build(std::vector<int>{1, 1, 1});
  table.build(std::vector<int>{5});
  EXPECT_EQ(table.size(), 1u);
  SplitMix64 rng(6);
  EXPECT_EQ(table.draw(rng), 0u);
}

}  // namespace
}  // namespace tg::balancing
