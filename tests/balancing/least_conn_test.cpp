#include "balancing/least_conn.h"

#include <gtest/gtest.h>

#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

// Leases held through `other` stand for requests in flight on other workers: they raise
// the shared active counts without touching this picker's round-robin state.

TEST(LeastConn, PrefersServerWithFewerActiveConnections) {
  auto g = group(Algorithm::kLeastConn, {server("a"), server("b"), server("c")});
  GroupPicker picker(g);
  GroupPicker other(g);
  Lease a1 = hold(other, "a", kStart);
  Lease a2 = hold(other, "a", kStart);
  Lease b1 = hold(other, "b", kStart);
  EXPECT_EQ(sequence(picker, 3, kStart), "ccc");
}

TEST(LeastConn, ComparesActiveConnectionsPerWeight) {
  auto g = group(Algorithm::kLeastConn, {server("a", 1), server("b", 3)});
  GroupPicker picker(g);
  GroupPicker other(g);
  Lease a1 = hold(other, "a", kStart);
  std::vector<Lease> on_b;
  on_b.push_back(hold(other, "b", kStart));
  on_b.push_back(hold(other, "b", kStart));
  EXPECT_EQ(pick_once(picker, kStart), "b");  // 2/3 < 1/1
  on_b.push_back(hold(other, "b", kStart));
  on_b.push_back(hold(other, "b", kStart));
  EXPECT_EQ(pick_once(picker, kStart), "a");  // 4/3 > 1/1
}

TEST(LeastConn, TiesBrokenBySmoothWeightedRoundRobin) {
  GroupPicker picker(group(Algorithm::kLeastConn, {server("a", 5), server("b"), server("c")}));
  EXPECT_EQ(sequence(picker, 7, kStart), "aabacaa");
}

TEST(LeastConn, TieBreakRotatesOnlyAmongTheLeastLoaded) {
  auto g = group(Algorithm::kLeastConn, {server("a"), server("b"), server("c")});
  GroupPicker picker(g);
  GroupPicker other(g);
  Lease busy = hold(other, "a", kStart);
  EXPECT_EQ(sequence(picker, 6, kStart), "bcbcbc");
  EXPECT_EQ(picker.weights_of(peer(picker, "a"))->current_weight, 0);
}

TEST(LeastConn, UniqueWinnerLeavesRoundRobinWeightsUntouched) {
  auto g = group(Algorithm::kLeastConn, {server("a", 3), server("b", 2)});
  GroupPicker picker(g);
  GroupPicker other(g);
  Lease busy = hold(other, "a", kStart);
  EXPECT_EQ(pick_once(picker, kStart), "b");
  EXPECT_EQ(picker.weights_of(peer(picker, "a"))->current_weight, 0);
  EXPECT_EQ(picker.weights_of(peer(picker, "b"))->current_weight, 0);
}

TEST(LeastConn, HeldLeasesSpreadRequestsEvenly) {
  GroupPicker picker(group(Algorithm::kLeastConn, {server("a"), server("b"), server("c")}));
  std::vector<Lease> in_flight;
  for (int i = 0; i < 9; ++i) {
    Attempt attempt;
    in_flight.push_back(std::move(*picker.pick(attempt, kStart)));
  }
  for (const char* name : {"a", "b", "c"}) EXPECT_EQ(peer(picker, name).active(), 3) << name;
}

TEST(LeastConn, SkipsTriedPeersEvenWhenLeastLoaded) {
  auto g = group(Algorithm::kLeastConn, {server("a"), server("b")});
  GroupPicker picker(g);
  GroupPicker other(g);
  Lease busy = hold(other, "b", kStart);
  Attempt attempt;
  attempt.mark_tried(peer(picker, "a"));
  auto lease = picker.pick(attempt, kStart);
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->peer().name(), "b");
}

}  // namespace
}  // namespace tg::balancing
