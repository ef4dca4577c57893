#include "balancing/lease.h"

#include <type_traits>

#include <gtest/gtest.h>

#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

static_assert(!std::is_copy_constructible_v<Lease>);
static_assert(std::is_nothrow_move_constructible_v<Lease>);

TEST(Lease, PickRaisesActiveAndRequests) {
  GroupPicker picker(group(Algorithm::kRoundRobin, {server("a")}));
  Attempt attempt;
  auto lease = picker.pick(attempt, kStart);
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->peer().active(), 1);
  EXPECT_EQ(lease->peer().requests(), 1u);
  EXPECT_FALSE(lease->released());
}

TEST(Lease, ReleaseLowersActiveOnlyOnce) {
  GroupPicker picker(group(Algorithm::kRoundRobin, {server("a")}));
  Lease first = hold(picker, "a", kStart);
  Lease second = hold(picker, "a", kStart);
  first.release(Outcome::kSuccess, kStart);
  first.release(Outcome::kFailure, kStart);  // no effect
  EXPECT_TRUE(first.released());
  EXPECT_EQ(peer(picker, "a").active(), 1);
  EXPECT_EQ(peer(picker, "a").fails(), 0);
}

TEST(Lease, DestructorReleasesAsSuccess) {
  auto a = server("a");
  a.max_fails = 3;
  GroupPicker picker(group(Algorithm::kRoundRobin, {a}));
  hold(picker, "a", kStart).release(Outcome::kFailure, kStart);
  { Lease lease = hold(picker, "a", kStart + 11s); }  // moves checked, then succeeds
  EXPECT_EQ(peer(picker, "a").active(), 0);
  EXPECT_EQ(peer(picker, "a").fails(), 0);
}

TEST(Lease, MoveTransfersTheHold) {
  GroupPicker picker(group(Algorithm::kRoundRobin, {server("a")}));
  Lease original = hold(picker, "a", kStart);
  Lease moved = std::move(original);
  EXPECT_TRUE(original.released());
  EXPECT_FALSE(moved.released());
  EXPECT_EQ(moved.peer().active(), 1);
  moved.release(Outcome::kSuccess, kStart);
  EXPECT_EQ(peer(picker, "a").active(), 0);
}

TEST(Lease, MoveAssignmentReleasesTheOverwrittenLease) {
  GroupPicker picker(group(Algorithm::kRoundRobin, {server("a"), server("b")}));
  Lease on_a = hold(picker, "a", kStart);
  Lease on_b = hold(picker, "b", kStart);
  on_a = std::move(on_b);
  EXPECT_EQ(peer(picker, "a").active(), 0);
  EXPECT_EQ(peer(picker, "b").active(), 1);
  EXPECT_EQ(on_a.peer().name(), "b");
  EXPECT_EQ(picker.outstanding_leases(), 1u);
}

TEST(Lease, FailureMarksPeerAndLowersThisWorkersEffectiveWeight) {
  auto g = group(Algorithm::kRoundRobin, {server("a", 6), server("b")});
  GroupPicker picker(g);
  GroupPicker other_worker(g);
  hold(picker, "a", kStart).release(Outcome::kFailure, kStart);
  EXPECT_EQ(peer(picker, "a").fails(), 1);
  EXPECT_EQ(picker.weights_of(peer(picker, "a"))->effective_weight, 0);  // 6 - 6 / 1
  EXPECT_EQ(other_worker.weights_of(peer(picker, "a"))->effective_weight, 6);
}

TEST(Lease, PeerStaysReadableAfterRelease) {
  GroupPicker picker(group(Algorithm::kRoundRobin, {server("a")}));
  Lease lease = hold(picker, "a", kStart);
  lease.release(Outcome::kSuccess, kStart);
  EXPECT_EQ(lease.peer().name(), "a");  // e.g. for $upstream_addr in the access log
}

TEST(Lease, IsNotAStickyHitWithoutABinding) {
  BalancerConfig config = balancer(Algorithm::kRoundRobin);
  config.sticky.mode = StickyConfig::Mode::kCookie;
  GroupPicker picker(group(config, {server("a")}));
  Attempt attempt;
  auto lease = picker.pick(attempt, kStart);
  ASSERT_TRUE(lease);
  EXPECT_FALSE(lease->sticky_hit());
  const std::string id = lease->sticky_id();
  lease->release(Outcome::kSuccess, kStart);
  Attempt bound;
  PickInput input;
  input.sticky = id;
  auto hit = picker.pick(bound, kStart, input);
  ASSERT_TRUE(hit);
  EXPECT_TRUE(hit->sticky_hit());
  Lease moved = std::move(*hit);
  EXPECT_TRUE(moved.sticky_hit());
}

TEST(Lease, ReleaseRecordsResponseTimesForEveryAlgorithm) {
  for (Algorithm algorithm : {Algorithm::kRoundRobin, Algorithm::kHash, Algorithm::kPeakEwma}) {
    GroupPicker picker(group(algorithm, {server("a")}));
    hold(picker, "a", kStart).release(Outcome::kSuccess, kStart, ResponseTimes{3ms, 9ms});
    EXPECT_EQ(peer(picker, "a").response_time(TimeMetric::kHeader), 3ms);
    EXPECT_EQ(peer(picker, "a").response_time(TimeMetric::kLastByte), 9ms);
  }
}

TEST(Lease, DestructorRecordsNoTimes) {
  GroupPicker picker(group(Algorithm::kLeastTime, {server("a")}));
  { Lease lease = hold(picker, "a", kStart); }
  EXPECT_EQ(peer(picker, "a").response_time(TimeMetric::kHeader), 0ns);
}

}  // namespace
}  // namespace tg::balancing
