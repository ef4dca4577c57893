// Passive health (max_fails / fail_timeout) as nginx's round-robin module applies it.
#include "balancing/peer.h"

#include <gtest/gtest.h>

#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

// Group {a, b}: b is always healthy, so picks show whether a is in or out.
std::shared_ptr<const UpstreamGroup> a_and_b(int max_fails = 1) {
  auto a = server("a");
  a.max_fails = max_fails;
  a.fail_timeout = 10s;
  return group(Algorithm::kRoundRobin, {a, server("b")});
}

TEST(Peer, FailureCountsAndStampsCheckedAndAccessed) {
  GroupPicker picker(a_and_b());
  hold(picker, "a", kStart).release(Outcome::kFailure, kStart + 1s);
  const Peer& a = peer(picker, "a");
  EXPECT_EQ(a.fails(), 1);
  EXPECT_EQ(a.checked(), kStart + 1s);
  EXPECT_EQ(a.accessed(), kStart + 1s);
}

TEST(Peer, SkippedWhileFailedWithinFailTimeout) {
  GroupPicker picker(a_and_b());
  hold(picker, "a", kStart).release(Outcome::kFailure, kStart);
  for (auto t = kStart; t <= kStart + 10s; t += 500ms) EXPECT_EQ(pick_once(picker, t), "b");
}

TEST(Peer, TriedAgainAfterFailTimeout) {
  GroupPicker picker(a_and_b());
  hold(picker, "a", kStart).release(Outcome::kFailure, kStart);
  const auto later = kStart + 11s;
  // a's effective weight dropped to 0 on failure, so b may win the first round.
  EXPECT_NE(sequence(picker, 3, later).find('a'), std::string::npos);
  EXPECT_EQ(peer(picker, "a").checked(), later);  // the pick moved the window
  EXPECT_EQ(peer(picker, "a").fails(), 0);        // and its success forgave the failure
}

TEST(Peer, OneProbeAfterTimeoutKeepsServerOutUntilItSucceeds) {
  GroupPicker picker(a_and_b());
  hold(picker, "a", kStart).release(Outcome::kFailure, kStart);

  const auto probe_time = kStart + 11s;
  Lease probe = hold(picker, "a", probe_time);
  EXPECT_EQ(peer(picker, "a").checked(), probe_time);
  // While the probe is in flight the server is failed again (checked just moved).
  EXPECT_EQ(sequence(picker, 4, probe_time + 1s), "bbbb");

  probe.release(Outcome::kSuccess, probe_time + 2s);
  EXPECT_EQ(peer(picker, "a").fails(), 0);
  EXPECT_NE(sequence(picker, 4, probe_time + 2s).find('a'), std::string::npos);
}

TEST(Peer, FailedProbeStartsAnotherFailTimeout) {
  GroupPicker picker(a_and_b());
  hold(picker, "a", kStart).release(Outcome::kFailure, kStart);
  const auto probe_time = kStart + 11s;
  hold(picker, "a", probe_time).release(Outcome::kFailure, probe_time + 1s);
  EXPECT_EQ(peer(picker, "a").fails(), 2);
  EXPECT_EQ(sequence(picker, 4, probe_time + 11s), "bbbb");
  EXPECT_NE(sequence(picker, 4, probe_time + 11s + 1ms).find('a'), std::string::npos);
}

TEST(Peer, SuccessWithinFailTimeoutDoesNotForgiveFailures) {
  GroupPicker picker(a_and_b(/*max_fails=*/2));
  hold(picker, "a", kStart).release(Outcome::kFailure, kStart);
  hold(picker, "a", kStart + 1s).release(Outcome::kSuccess, kStart + 1s);
  EXPECT_EQ(peer(picker, "a").fails(), 1);  // accessed == checked: no check passed yet
  hold(picker, "a", kStart + 2s).release(Outcome::kFailure, kStart + 2s);
  EXPECT_EQ(peer(picker, "a").fails(), 2);
  EXPECT_EQ(sequence(picker, 4, kStart + 3s), "bbbb");
}

TEST(Peer, SuccessAfterFailTimeoutResetsFails) {
  GroupPicker picker(a_and_b(/*max_fails=*/2));
  hold(picker, "a", kStart).release(Outcome::kFailure, kStart);
  hold(picker, "a", kStart + 11s).release(Outcome::kSuccess, kStart + 11s);
  EXPECT_EQ(peer(picker, "a").fails(), 0);
}

TEST(Peer, FailuresFarApartStillAddUpWithoutASuccessBetween) {
  // nginx counts failures until a success after a passed check, not in a sliding window.
  GroupPicker picker(a_and_b(/*max_fails=*/2));
  hold(picker, "a", kStart).release(Outcome::kFailure, kStart);
  hold(picker, "a", kStart + 30s).release(Outcome::kFailure, kStart + 30s);
  EXPECT_EQ(peer(picker, "a").fails(), 2);
  EXPECT_EQ(sequence(picker, 4, kStart + 31s), "bbbb");
}

TEST(Peer, ActiveAndRequestsCountLeases) {
  GroupPicker picker(a_and_b());
  {
    Lease l1 = hold(picker, "a", kStart);
    Lease l2 = hold(picker, "a", kStart);
    EXPECT_EQ(peer(picker, "a").active(), 2);
  }
  EXPECT_EQ(peer(picker, "a").active(), 0);
  EXPECT_EQ(peer(picker, "a").requests(), 2u);
}

}  // namespace
}  // namespace tg::balancing
