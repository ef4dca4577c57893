#include "balancing/eligibility.h"

#include <gtest/gtest.h>

#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

TEST(Eligibility, FreshPeerIsEligible) {
  Peer p(server("a"), 1);
  EXPECT_EQ(eligibility(p, Attempt{}, kStart), Eligibility::kEligible);
}

TEST(Eligibility, DownDrainingOrUnhealthyPeerIsUnavailable) {
  Peer p(server("a"), 1);
  p.set_down(true);
  EXPECT_EQ(eligibility(p, Attempt{}, kStart), Eligibility::kUnavailable);
  p.set_down(false);
  p.set_draining(true);
  EXPECT_EQ(eligibility(p, Attempt{}, kStart), Eligibility::kUnavailable);
  p.set_draining(false);
  p.set_healthy(false);
  EXPECT_EQ(eligibility(p, Attempt{}, kStart), Eligibility::kUnavailable);
  p.set_healthy(true);
  EXPECT_EQ(eligibility(p, Attempt{}, kStart), Eligibility::kEligible);
}

TEST(Eligibility, ConfiguredDownStartsUnavailable) {
  auto config = server("a");
  config.down = true;
  Peer p(config, 1);
  EXPECT_TRUE(p.down());
  EXPECT_EQ(eligibility(p, Attempt{}, kStart), Eligibility::kUnavailable);
}

TEST(Eligibility, PeerTriedByThisAttemptIsExcluded) {
  Peer p(server("a"), 1);
  Attempt attempt;
  attempt.mark_tried(p);
  EXPECT_EQ(eligibility(p, attempt, kStart), Eligibility::kTried);
  EXPECT_EQ(eligibility(p, Attempt{}, kStart), Eligibility::kEligible);
}

TEST(Eligibility, PeerAtMaxConnsIsExcludedUntilALeaseIsReleased) {
  auto a = server("a");
  a.max_conns = 2;
  GroupPicker picker(group(Algorithm::kRoundRobin, {a}));
  Lease first = hold(picker, "a", kStart);
  Lease second = hold(picker, "a", kStart);
  EXPECT_EQ(eligibility(peer(picker, "a"), Attempt{}, kStart), Eligibility::kAtMaxConns);
  Attempt attempt;
  EXPECT_FALSE(picker.pick(attempt, kStart));
  second.release(Outcome::kSuccess, kStart);
  EXPECT_EQ(eligibility(peer(picker, "a"), Attempt{}, kStart), Eligibility::kEligible);
}

TEST(Eligibility, PeerAtMaxFailsWithinFailTimeoutIsFailed) {
  GroupPicker picker(group(Algorithm::kRoundRobin, {server("a")}));
  hold(picker, "a", kStart).release(Outcome::kFailure, kStart);
  EXPECT_EQ(eligibility(peer(picker, "a"), Attempt{}, kStart + 10s), Eligibility::kFailed);
  EXPECT_EQ(eligibility(peer(picker, "a"), Attempt{}, kStart + 10s + 1ns), Eligibility::kEligible);
}

TEST(Eligibility, IgnoredPassiveHealthNeverFailsButOtherReasonsStand) {
  GroupPicker picker(group(Algorithm::kRoundRobin, {server("a")}));
  hold(picker, "a", kStart).release(Outcome::kFailure, kStart);
  const Peer& a = peer(picker, "a");
  EXPECT_EQ(eligibility(a, Attempt{}, kStart, PassiveHealth::kIgnored), Eligibility::kEligible);
  Attempt attempt;
  attempt.mark_tried(a);
  EXPECT_EQ(eligibility(a, attempt, kStart, PassiveHealth::kIgnored), Eligibility::kTried);
  peer(picker, "a").set_down(true);
  EXPECT_EQ(eligibility(a, Attempt{}, kStart, PassiveHealth::kIgnored), Eligibility::kUnavailable);
}

TEST(Eligibility, MaxFailsZeroNeverFails) {
  auto a = server("a");
  a.max_fails = 0;
  GroupPicker picker(group(Algorithm::kRoundRobin, {a}));
  for (int i = 0; i < 5; ++i) hold(picker, "a", kStart).release(Outcome::kFailure, kStart);
  EXPECT_EQ(peer(picker, "a").fails(), 5);
  EXPECT_EQ(eligibility(peer(picker, "a"), Attempt{}, kStart), Eligibility::kEligible);
  EXPECT_EQ(picker.weights_of(peer(picker, "a"))->effective_weight, 1);
}

TEST(Eligibility, StickyBindingAdmitsADrainingPeerOnly) {
  Peer p(server("a"), 1);
  p.set_draining(true);
  EXPECT_EQ(eligibility(p, Attempt{}, kStart), Eligibility::kUnavailable);
  EXPECT_EQ(eligibility(p, Attempt{}, kStart, PassiveHealth::kApplies, Binding::kSticky),
            Eligibility::kEligible);
  p.set_down(true);
  EXPECT_EQ(eligibility(p, Attempt{}, kStart, PassiveHealth::kApplies, Binding::kSticky),
            Eligibility::kUnavailable);
  p.set_down(false);
  p.set_healthy(false);
  EXPECT_EQ(eligibility(p, Attempt{}, kStart, PassiveHealth::kApplies, Binding::kSticky),
            Eligibility::kUnavailable);
}

TEST(Eligibility, StandingThenRequestReasons) {
  auto a = server("a");
  a.max_conns = 1;
  GroupPicker picker(group(Algorithm::kRoundRobin, {a, server("b")}));
  Lease busy = hold(picker, "a", kStart);
  const Peer& p = peer(picker, "a");
  EXPECT_EQ(standing(p, kStart), Eligibility::kEligible);
  EXPECT_EQ(request_eligibility(p, Attempt{}), Eligibility::kAtMaxConns);
  busy.release(Outcome::kFailure, kStart);
  EXPECT_EQ(standing(p, kStart), Eligibility::kFailed);
  EXPECT_EQ(request_eligibility(p, Attempt{}), Eligibility::kEligible);
}

}  // namespace
}  // namespace tg::balancing
