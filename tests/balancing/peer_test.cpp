// Passive health (max_fails / fail_timeout) as nginx's round-robin module applies it.
#include "balancing/peer.h"

#include <gtest/gtest.h>

#include "balancing/metrics_collector.h"
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

TEST(Peer, IdsAreUniqueAndNeverReused) {
  std::uint64_t first = 0;
  {
    Peer a(server("a"), 1);
    first = a.id();
  }
  Peer b(server("a"), 1);
  Peer c(server("a"), 1);
  EXPECT_GT(b.id(), first);
  EXPECT_GT(c.id(), b.id());
}

TEST(Peer, ApplyChangesSettingsInPlace) {
  Peer p(server("a"), 1);
  const auto epoch = p.standing_epoch();
  auto next = server("a");
  next.weight = 5;
  next.max_conns = 3;
  next.max_fails = 0;
  next.fail_timeout = std::chrono::seconds(2);
  next.down = true;
  p.apply(next, kStart);
  EXPECT_EQ(p.weight(), 5);
  EXPECT_EQ(p.max_conns(), 3);
  EXPECT_EQ(p.max_fails(), 0);
  EXPECT_EQ(p.fail_timeout(), std::chrono::seconds(2));
  EXPECT_TRUE(p.down());
  EXPECT_GT(p.standing_epoch(), epoch);
}

TEST(Peer, CountsTunnels) {
  Peer p(server("a"), 1);
  p.tunnel_opened();
  p.tunnel_opened();
  p.tunnel_closed();
  EXPECT_EQ(p.tunnels(), 1);
}

TEST(Peer, ConfiguredDrainStartsDrainingAndIsDatedByTheFirstPick) {
  auto a = server("a");
  a.drain = true;
  GroupPicker picker(group(Algorithm::kRoundRobin, {a, server("b")}));
  const Peer& p = peer(picker, "a");
  EXPECT_TRUE(p.draining());
  EXPECT_EQ(p.draining_since(), std::nullopt);
  EXPECT_EQ(pick_once(picker, kStart + 5s), "b");
  EXPECT_EQ(p.draining_since(), kStart + 5s);
  EXPECT_EQ(pick_once(picker, kStart + 9s), "b");
  EXPECT_EQ(p.draining_since(), kStart + 5s);
}

TEST(Peer, SetDrainingWithATimeDatesTheDrainOnce) {
  Peer p(server("a"), 1);
  EXPECT_EQ(p.draining_since(), std::nullopt);
  p.set_draining(true, kStart);
  p.set_draining(true, kStart + 1s);  // already draining: keeps the start
  EXPECT_EQ(p.draining_since(), kStart);
  p.set_draining(false);
  EXPECT_FALSE(p.draining());
  EXPECT_EQ(p.draining_since(), std::nullopt);
  p.set_draining(true);  // undated until observed
  EXPECT_EQ(p.draining_since(), std::nullopt);
  p.observe(kStart + 2s);
  EXPECT_EQ(p.draining_since(), kStart + 2s);
}

TEST(Peer, ResponseTimeAverageWeighsEachSampleOneEighth) {
  Peer p(server("a"), 1);
  const TimingFeed feed;
  EXPECT_EQ(p.response_time(TimeMetric::kHeader), 0ns);  // unmeasured
  p.record_times(ResponseTimes{80ms, 400ms}, kStart, feed);
  EXPECT_EQ(p.response_time(TimeMetric::kHeader), 80ms);  // the first sample sets it
  EXPECT_EQ(p.response_time(TimeMetric::kLastByte), 400ms);
  p.record_times(ResponseTimes{160ms, std::nullopt}, kStart, feed);
  EXPECT_EQ(p.response_time(TimeMetric::kHeader), 90ms);  // 80 + (160 - 80) / 8
  EXPECT_EQ(p.response_time(TimeMetric::kLastByte), 400ms);
}

TEST(Peer, PeakEwmaJumpsToPeaksAndDecaysTowardsLowerSamples) {
  Peer p(server("a"), 1);
  TimingFeed feed;
  feed.peak_decay_ns = 1e9;  // 1 s
  const double ms = 1e6;
  p.record_times(ResponseTimes{10ms, {}}, kStart, feed);
  EXPECT_DOUBLE_EQ(p.peak_ewma_ns(kStart, 1e9), 10 * ms);
  p.record_times(ResponseTimes{100ms, {}}, kStart + 1ms, feed);
  EXPECT_DOUBLE_EQ(p.peak_ewma_ns(kStart + 1ms, 1e9), 100 * ms);  // jumps
  // A lower sample 1 s later: 100 * e^-1 + 20 * (1 - e^-1).
  p.record_times(ResponseTimes{20ms, {}}, kStart + 1001ms, feed);
  EXPECT_NEAR(p.peak_ewma_ns(kStart + 1001ms, 1e9), 100 * ms * 0.367879 + 20 * ms * 0.632121,
              0.01 * ms);
  // Without samples the estimate decays towards 0: e^-2 after 2 s.
  EXPECT_NEAR(p.peak_ewma_ns(kStart + 3001ms, 1e9) / p.peak_ewma_ns(kStart + 1001ms, 1e9), 0.135335,
              1e-5);
}

TEST(Peer, PeakEwmaIsKeptOnlyWhenTheFeedAsksForIt) {
  Peer p(server("a"), 1);
  p.record_times(ResponseTimes{10ms, {}}, kStart, TimingFeed{});
  EXPECT_EQ(p.peak_ewma_ns(kStart, 1e9), 0);
  EXPECT_EQ(p.response_time(TimeMetric::kHeader), 10ms);
}

TEST(Peer, InflightAgeIsTheMeanAgeOfTrackedLeases) {
  BalancerConfig config = balancer(Algorithm::kLeastTime);
  config.inflight = true;
  GroupPicker picker(group(config, {server("a"), server("b")}));
  Lease first = hold(picker, "a", kStart);
  Lease second = hold(picker, "a", kStart + 2s);
  const Peer& a = peer(picker, "a");
  EXPECT_EQ(a.inflight_age(kStart + 4s), 3s);  // (4 s + 2 s) / 2
  first.release(Outcome::kSuccess, kStart + 4s);
  EXPECT_EQ(a.inflight_age(kStart + 4s), 2s);
  second.release(Outcome::kSuccess, kStart + 4s);
  EXPECT_EQ(a.inflight_age(kStart + 4s), 0s);
}

TEST(Peer, InflightAgeIgnoresLeasesPickedWithoutTracking) {
  // e.g. leases from before a reload turned `inflight` on: they count as active only.
  auto servers = std::vector{server("a"), server("b")};
  auto plain = group(balancer(Algorithm::kLeastTime), servers);
  BalancerConfig config = balancer(Algorithm::kLeastTime);
  config.inflight = true;
  auto tracked = make_group("backend", config, servers, 1, plain.get());
  GroupPicker old_picker(plain);
  GroupPicker new_picker(tracked);
  Lease untracked = hold(old_picker, "a", kStart);
  Lease counted = hold(new_picker, "a", kStart + 1s);
  const Peer& a = peer(new_picker, "a");
  EXPECT_EQ(a.active(), 2);
  EXPECT_EQ(a.inflight_age(kStart + 3s), 2s);
}

// Active health (checking, unhealthy), outlier ejection, operator flags (down,
// drain) and passive health (max_fails) each keep a server out on their own; the
// state a reader sees names the first of them, as NGINX Plus orders its states.
TEST(Peer, ActiveHealthEjectionDownDrainAndPassiveFailuresCombine) {
  GroupPicker picker(a_and_b());
  Peer& a = const_cast<Peer&>(peer(picker, "a"));
  a.set_checking(true);
  EXPECT_FALSE(a.available());
  EXPECT_EQ(state_name(a, kStart), "checking");
  EXPECT_EQ(pick_with(picker, {}, kStart), "b");
  a.set_checking(false);
  a.set_healthy(false);
  EXPECT_EQ(state_name(a, kStart), "unhealthy");
  a.set_draining(true, kStart);
  EXPECT_FALSE(a.available(Binding::kSticky));  // unhealthy: not even for sticky requests
  EXPECT_EQ(state_name(a, kStart), "unhealthy");
  a.set_healthy(true);
  EXPECT_EQ(state_name(a, kStart), "draining");
  EXPECT_TRUE(a.available(Binding::kSticky));
  a.set_draining(false, kStart);
  a.set_ejected(true);
  EXPECT_EQ(state_name(a, kStart), "unhealthy");
  EXPECT_FALSE(a.available());
  a.set_ejected(false);
  a.set_down(true);
  EXPECT_EQ(state_name(a, kStart), "down");
  a.set_down(false);
  // passive failures: unavail while within fail_timeout, whatever the checks say
  hold(picker, "a", kStart).release(Outcome::kFailure, kStart);
  EXPECT_EQ(state_name(a, kStart + 1s), "unavail");
  EXPECT_EQ(state_name(a, kStart + 11s), "up");
}

TEST(Peer, ComingBackFromCheckingOrUnhealthyStartsTheSlowStartRamp) {
  auto a = server("a");
  a.slow_start = 10s;
  GroupPicker picker(group(Algorithm::kRoundRobin, {a, server("b")}));
  Peer& p = const_cast<Peer&>(peer(picker, "a"));
  p.set_checking(true);
  p.set_checking(false);  // passed its first check
  p.observe(kStart);
  EXPECT_EQ(p.slow_start_ends(), kStart + 10s);
  EXPECT_EQ(p.slow_start_weight(10, kStart + 5s), 5);
  p.observe(kStart + 20s);
  p.set_healthy(false);
  p.set_healthy(true);
  p.observe(kStart + 30s);
  EXPECT_EQ(p.slow_start_ends(), kStart + 40s);
}

}  // namespace
}  // namespace tg::balancing
