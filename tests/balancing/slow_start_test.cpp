// slow_start: the ramp of a joining or recovering server (Peer, PickerTier).
#include "balancing/slow_start.h"

#include <gtest/gtest.h>

#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

/// Group {a, b} of weight 10 where b (slow_start 10 s) joins an existing group {a}.
std::shared_ptr<const UpstreamGroup> b_joins(Algorithm algorithm = Algorithm::kRoundRobin) {
  std::vector<ServerConfig> before{server("a", 10)};
  auto first = make_group("backend", algorithm, before, 1);
  std::vector<ServerConfig> after{server("a", 10), slow_server("b", 10, 10s)};
  return make_group("backend", algorithm, after, 1, first.get());
}

int share_of_b(GroupPicker& picker, TimePoint now, int picks = 110) {
  int b = 0;
  for (int i = 0; i < picks; ++i) b += pick_once(picker, now) == "b" ? 1 : 0;
  return b;
}

TEST(SlowStart, RampIsWeightTimesElapsedOverRampAtLeastOne) {
  EXPECT_EQ(slow_start_weight(10, 0, 1000), 1);
  EXPECT_EQ(slow_start_weight(10, 50, 1000), 1);
  EXPECT_EQ(slow_start_weight(10, 250, 1000), 2);
  EXPECT_EQ(slow_start_weight(10, 999, 1000), 9);
  EXPECT_EQ(slow_start_weight(10, 1000, 1000), 10);
  EXPECT_EQ(slow_start_weight(1'000, 500'000'000'000, 1'000'000'000'000), 500);  // no overflow
}

TEST(SlowStart, PeerRampBeginsAtTheFirstObservation) {
  Peer p(slow_server("b", 10, 10s), 1);
  p.begin_slow_start();
  EXPECT_EQ(p.slow_start_weight(10, kStart), 10);  // pending: not begun yet
  p.observe(kStart);
  EXPECT_EQ(p.slow_start_ends(), kStart + 10s);
  EXPECT_EQ(p.slow_start_weight(10, kStart), 1);  // at least 1: never starved
  EXPECT_EQ(p.slow_start_weight(10, kStart + 3s), 3);
  EXPECT_EQ(p.slow_start_weight(10, kStart + 7500ms), 7);
  EXPECT_EQ(p.slow_start_weight(10, kStart + 10s), 10);
  EXPECT_EQ(p.slow_start_weight(10, kStart + 1h), 10);
}

TEST(SlowStart, JoiningServersShareGrowsOverTheRamp) {
  GroupPicker picker(b_joins());
  // The ramp begins at the first pick (kStart). Weights 10 : w(b) with w = 10 * t / 10 s.
  EXPECT_EQ(share_of_b(picker, kStart), 10);             // 10 : 1 -> 1 in 11
  EXPECT_EQ(share_of_b(picker, kStart + 5s, 150), 50);   // 10 : 5 -> 1 in 3
  EXPECT_EQ(share_of_b(picker, kStart + 10s, 100), 50);  // ramp over: 10 : 10
}

TEST(SlowStart, ServersOfTheFirstSnapshotStartAtFullWeight) {
  GroupPicker picker(group(Algorithm::kRoundRobin, {server("a", 10), slow_server("b", 10, 10s)}));
  EXPECT_EQ(share_of_b(picker, kStart, 100), 50);
}

TEST(SlowStart, ServerComingBackFromDownRampsAgain) {
  GroupPicker picker(group(Algorithm::kRoundRobin, {server("a", 10), slow_server("b", 10, 10s)}));
  peer(picker, "b").set_down(true);
  EXPECT_EQ(share_of_b(picker, kStart), 0);
  peer(picker, "b").set_down(false);
  const auto back = kStart + 1min;
  EXPECT_EQ(share_of_b(picker, back), 10);
  EXPECT_EQ(share_of_b(picker, back + 10s, 100), 50);
}

TEST(SlowStart, ServerComingBackFromFailedRampsAgain) {
  GroupPicker picker(group(Algorithm::kRoundRobin, {server("a", 10), slow_server("b", 10, 10s)}));
  hold(picker, "b", kStart).release(Outcome::kFailure, kStart);
  EXPECT_EQ(share_of_b(picker, kStart + 1s), 0);
  // After fail_timeout one probe gets through; its success ends the failed state.
  const auto probe = kStart + 11s;
  hold(picker, "b", probe).release(Outcome::kSuccess, probe);
  EXPECT_EQ(peer(picker, "b").fails(), 0);
  EXPECT_LE(share_of_b(picker, probe + 1s), 20);
  EXPECT_NEAR(share_of_b(picker, probe + 12s, 100), 50, 3);
}

TEST(SlowStart, IndexedPickerMatchesTheScanDuringAndAfterTheRamp) {
  auto g = b_joins();
  GroupPicker indexed(g);
  auto g2 = b_joins();
  GroupPicker scanned(g2, PickerMode::kScan);
  for (int step = 0; step < 2'000; ++step) {
    const auto now = kStart + step * 10ms;
    ASSERT_EQ(pick_once(indexed, now), pick_once(scanned, now)) << "step " << step;
  }
}

TEST(SlowStart, LeastConnComparesRampedWeights) {
  auto g = b_joins(Algorithm::kLeastConn);
  GroupPicker picker(g);
  GroupPicker other(g);
  EXPECT_EQ(share_of_b(picker, kStart), 10);  // idle: ties broken by the ramped round robin
  // a: 2 active over weight 10 < b: 1 active over ramped weight 2 (at 2 s).
  std::vector<Lease> busy;
  busy.push_back(hold(other, "a", kStart));
  busy.push_back(hold(other, "a", kStart));
  busy.push_back(hold(other, "b", kStart));
  EXPECT_EQ(pick_once(picker, kStart + 2s), "a");
  EXPECT_EQ(pick_once(picker, kStart + 10s), "b");  // full weight: 1/10 < 2/10
}

TEST(SlowStart, LeastTimeComparesRampedWeights) {
  auto g = b_joins(Algorithm::kLeastTime);
  GroupPicker picker(g);
  record(picker, "a", kStart, 10ms);
  record(picker, "b", kStart, 4ms);
  EXPECT_EQ(pick_once(picker, kStart + 1s), "a");   // 10 / 10 < 4 / 1
  EXPECT_EQ(pick_once(picker, kStart + 10s), "b");  // 10 / 10 > 4 / 10
}

TEST(SlowStart, IgnoredByRandom) {
  std::vector<ServerConfig> before{server("a", 1)};
  auto first = make_group("backend", Algorithm::kRandom, before, 1);
  std::vector<ServerConfig> after{server("a", 1), slow_server("b", 1, 10s)};
  GroupPicker picker(make_group("backend", Algorithm::kRandom, after, 1, first.get()),
                     PickerMode::kIndexed, 3);
  auto counts = tally(1'000, [&](int) { return pick_once(picker, kStart); });
  EXPECT_NEAR(counts["b"], 500, 80);
}

}  // namespace
}  // namespace tg::balancing
