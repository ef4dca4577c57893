#include "balancing/round_robin.h"

#include <map>

#include <gtest/gtest.h>

#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

TEST(RoundRobin, WeightsFiveOneOneGiveNginxSequence) {
  GroupPicker picker(group(Algorithm::kRoundRobin, {server("a", 5), server("b"), server("c")}));
  EXPECT_EQ(sequence(picker, 14, kStart), "aabacaaaabacaa");
}

TEST(RoundRobin, EqualWeightsRotateInConfigOrder) {
  GroupPicker picker(group(Algorithm::kRoundRobin, {server("a"), server("b"), server("c")}));
  EXPECT_EQ(sequence(picker, 7, kStart), "abcabca");
}

TEST(RoundRobin, DistributionFollowsWeightsOver10000Picks) {
  GroupPicker picker(group(Algorithm::kRoundRobin,
                           {server("a", 1), server("b", 2), server("c", 3), server("d", 4)}));
  std::map<std::string, int> counts;
  for (int i = 0; i < 10'000; ++i) ++counts[pick_once(picker, kStart)];
  EXPECT_NEAR(counts["a"], 1'000, 10);
  EXPECT_NEAR(counts["b"], 2'000, 10);
  EXPECT_NEAR(counts["c"], 3'000, 10);
  EXPECT_NEAR(counts["d"], 4'000, 10);
}

TEST(RoundRobin, SmoothSequenceNeverBurstsAHeavyServer) {
  // Smooth WRR interleaves: with weights 2 and 1 the heavy server never runs 3 in a row.
  GroupPicker picker(group(Algorithm::kRoundRobin, {server("a", 2), server("b", 1)}));
  EXPECT_EQ(sequence(picker, 9, kStart), "abaabaaba");
}

TEST(RoundRobin, SkipsPeersAlreadyTriedByTheRequest) {
  GroupPicker picker(group(Algorithm::kRoundRobin, {server("a"), server("b"), server("c")}));
  Attempt attempt;
  std::vector<Lease> leases;
  std::string picked;
  while (auto lease = picker.pick(attempt, kStart)) {
    picked += lease->peer().name();
    leases.push_back(std::move(*lease));
  }
  EXPECT_EQ(picked, "abc");
  EXPECT_EQ(attempt.tries(), 3);
}

TEST(RoundRobin, NeverPicksADownServer) {
  auto down = server("b");
  down.down = true;
  GroupPicker picker(group(Algorithm::kRoundRobin, {server("a"), down, server("c")}));
  EXPECT_EQ(sequence(picker, 6, kStart), "acacac");
}

TEST(RoundRobin, FailureLowersEffectiveWeightWhichRecoversOnePerPick) {
  auto a = server("a", 10);
  a.max_fails = 5;
  GroupPicker picker(group(Algorithm::kRoundRobin, {a, server("b", 10)}));
  auto weights = [&] { return picker.weights_of(peer(picker, "a"))->effective_weight; };

  hold(picker, "a", kStart).release(Outcome::kFailure, kStart);
  EXPECT_EQ(weights(), 8);  // 10 - weight / max_fails

  pick_once(picker, kStart);
  EXPECT_EQ(weights(), 9);
  pick_once(picker, kStart);
  EXPECT_EQ(weights(), 10);
  pick_once(picker, kStart);
  EXPECT_EQ(weights(), 10);  // capped at weight
}

TEST(RoundRobin, LoweredEffectiveWeightShiftsTrafficAway) {
  auto a = server("a", 4);
  a.max_fails = 2;
  auto make = [&] { return group(Algorithm::kRoundRobin, {a, server("b", 4)}); };
  GroupPicker healthy(make());
  GroupPicker flaky(make());
  hold(healthy, "a", kStart).release(Outcome::kSuccess, kStart);
  hold(flaky, "a", kStart).release(Outcome::kFailure, kStart);  // effective 4 -> 2

  EXPECT_EQ(sequence(healthy, 4, kStart), "abab");
  EXPECT_EQ(sequence(flaky, 4, kStart), "baba");
}

}  // namespace
}  // namespace tg::balancing
