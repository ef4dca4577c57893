#include "balancing/random.h"

#include <set>

#include <gtest/gtest.h>

#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

BalancerConfig random_two(BalancerConfig::TwoMode mode = BalancerConfig::TwoMode::kLeastConn) {
  BalancerConfig config = balancer(Algorithm::kRandom);
  config.two = true;
  config.two_mode = mode;
  return config;
}

TEST(Random, SameSeedGivesTheSameSequence) {
  auto g = group(Algorithm::kRandom, {server("a"), server("b"), server("c"), server("d")});
  GroupPicker first(g, PickerMode::kIndexed, 1234);
  GroupPicker second(g, PickerMode::kIndexed, 1234);
  GroupPicker other(g, PickerMode::kIndexed, 99);
  const std::string s1 = sequence(first, 40, kStart);
  EXPECT_EQ(sequence(second, 40, kStart), s1);
  EXPECT_NE(sequence(other, 40, kStart), s1);
}

TEST(Random, DistributionFollowsWeightsOver10000Picks) {
  GroupPicker picker(
      group(Algorithm::kRandom, {server("a", 1), server("b", 2), server("c", 3), server("d", 4)}),
      PickerMode::kIndexed, 7);
  auto counts = tally(10'000, [&](int) { return pick_once(picker, kStart); });
  // Binomial standard deviations are 30..49; allow about 4 of them.
  EXPECT_NEAR(counts["a"], 1'000, 150);
  EXPECT_NEAR(counts["b"], 2'000, 200);
  EXPECT_NEAR(counts["c"], 3'000, 200);
  EXPECT_NEAR(counts["d"], 4'000, 200);
}

TEST(Random, NeverPicksAServerThatIsDownOrAtMaxConns) {
  auto capped = server("c");
  capped.max_conns = 1;
  GroupPicker picker(group(Algorithm::kRandom, {server("a"), server("b"), capped}),
                     PickerMode::kIndexed, 3);
  peer(picker, "a").set_down(true);
  Lease busy = hold(picker, "c", kStart);
  EXPECT_EQ(sequence(picker, 50, kStart), std::string(50, 'b'));
}

TEST(Random, RetryNeverRepeatsATriedServer) {
  GroupPicker picker(group(Algorithm::kRandom, {server("a"), server("b"), server("c")}),
                     PickerMode::kIndexed, 5);
  Attempt attempt;
  std::set<std::string> picked;
  std::vector<Lease> leases;
  while (auto lease = picker.pick(attempt, kStart)) {
    EXPECT_TRUE(picked.insert(lease->peer().name()).second);
    leases.push_back(std::move(*lease));
  }
  EXPECT_EQ(picked.size(), 3u);
}

TEST(RandomTwo, PrefersTheLessLoadedOfTwoServers) {
  auto g = group(random_two(), {server("a"), server("b")});
  GroupPicker picker(g, PickerMode::kIndexed, 11);
  GroupPicker other(g);
  std::vector<Lease> on_a;
  for (int i = 0; i < 3; ++i) on_a.push_back(hold(other, "a", kStart));
  // With two servers both are always the candidates: the idle one wins every time.
  EXPECT_EQ(sequence(picker, 30, kStart), std::string(30, 'b'));
}

TEST(RandomTwo, PrefersTheLessLoadedAmongMany) {
  auto g = group(random_two(), {server("a"), server("b"), server("c")});
  GroupPicker picker(g, PickerMode::kIndexed, 13);
  GroupPicker other(g);
  std::vector<Lease> busy;
  for (int i = 0; i < 5; ++i) {
    busy.push_back(hold(other, "a", kStart));
    busy.push_back(hold(other, "b", kStart));
  }
  // c wins whenever it is one of the two candidates (2 pairs in 3).
  auto counts = tally(3'000, [&](int) { return pick_once(picker, kStart); });
  EXPECT_NEAR(counts["c"], 2'000, 150);
}

TEST(RandomTwo, ComparesActiveConnectionsPerWeight) {
  auto g = group(random_two(), {server("a", 1), server("b", 3)});
  GroupPicker picker(g, PickerMode::kIndexed, 17);
  GroupPicker other(g);
  Lease a1 = hold(other, "a", kStart);
  Lease b1 = hold(other, "b", kStart);
  Lease b2 = hold(other, "b", kStart);
  EXPECT_EQ(sequence(picker, 10, kStart), std::string(10, 'b'));  // 2/3 < 1/1
}

TEST(RandomTwo, LeastTimeModePrefersTheFasterServer) {
  auto g = group(random_two(BalancerConfig::TwoMode::kLeastTime), {server("a"), server("b")});
  GroupPicker picker(g, PickerMode::kIndexed, 19);
  record(picker, "a", kStart, 80ms);
  record(picker, "b", kStart, 10ms);
  EXPECT_EQ(sequence(picker, 20, kStart), std::string(20, 'b'));
}

TEST(RandomTwo, LeastTimeModeUsesTheConfiguredMetric) {
  BalancerConfig config = random_two(BalancerConfig::TwoMode::kLeastTime);
  config.metric = TimeMetric::kLastByte;
  GroupPicker picker(group(config, {server("a"), server("b")}), PickerMode::kIndexed, 23);
  record(picker, "a", kStart, 5ms, 900ms);  // fast header, slow body
  record(picker, "b", kStart, 50ms, 60ms);
  EXPECT_EQ(sequence(picker, 10, kStart), std::string(10, 'b'));
}

TEST(RandomTwo, TakesTheOnlyEligibleServer) {
  GroupPicker picker(group(random_two(), {server("a"), server("b"), server("c")}),
                     PickerMode::kIndexed, 29);
  peer(picker, "a").set_down(true);
  peer(picker, "c").set_healthy(false);
  EXPECT_EQ(sequence(picker, 5, kStart), "bbbbb");
}

}  // namespace
}  // namespace tg::balancing
