#include "balancing/least_time.h"

#include <gtest/gtest.h>

#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

BalancerConfig least_time(TimeMetric metric = TimeMetric::kHeader, bool inflight = false) {
  BalancerConfig config = balancer(Algorithm::kLeastTime);
  config.metric = metric;
  config.inflight = inflight;
  return config;
}

TEST(LeastTime, PrefersTheFasterServer) {
  GroupPicker picker(group(least_time(), {server("a"), server("b"), server("c")}));
  record(picker, "a", kStart, 50ms);
  record(picker, "b", kStart, 10ms);
  record(picker, "c", kStart, 30ms);
  EXPECT_EQ(sequence(picker, 5, kStart), "bbbbb");
}

TEST(LeastTime, LearnsFromReleasedLeasesUntilTheSlowServerLosesItsShare) {
  GroupPicker picker(group(least_time(), {server("fast"), server("slow")}));
  auto counts = tally(200, [&](int i) {
    const auto now = kStart + i * 10ms;
    Attempt attempt;
    auto lease = picker.pick(attempt, now);
    const std::string name = lease->peer().name();
    lease->release(Outcome::kSuccess, now, ResponseTimes{name == "fast" ? 5ms : 200ms, {}});
    return name;
  });
  EXPECT_LE(counts["slow"], 2);  // only until its first response came back
  EXPECT_GE(counts["fast"], 198);
}

TEST(LeastTime, UnmeasuredServerGetsTraffic) {
  GroupPicker picker(group(least_time(), {server("a"), server("b"), server("new")}));
  record(picker, "a", kStart, 10ms);
  record(picker, "b", kStart, 10ms);
  EXPECT_EQ(pick_once(picker, kStart), "new");
}

TEST(LeastTime, ActiveConnectionsMultiplyTheAverage) {
  auto g = group(least_time(), {server("a"), server("b")});
  GroupPicker picker(g);
  GroupPicker other(g);
  record(picker, "a", kStart, 10ms);
  record(picker, "b", kStart, 25ms);
  EXPECT_EQ(pick_once(picker, kStart), "a");  // 10 ms x 1 < 25 ms x 1
  std::vector<Lease> on_a;
  for (int i = 0; i < 2; ++i) on_a.push_back(hold(other, "a", kStart));
  EXPECT_EQ(pick_once(picker, kStart), "b");  // 10 ms x 3 > 25 ms x 1
}

TEST(LeastTime, WeightDividesTheScore) {
  GroupPicker picker(group(least_time(), {server("a", 2), server("b", 1)}));
  record(picker, "a", kStart, 15ms);
  record(picker, "b", kStart, 10ms);
  EXPECT_EQ(pick_once(picker, kStart), "a");  // 15 / 2 < 10 / 1
}

TEST(LeastTime, LastByteMetricUsesTheFullResponseTime) {
  auto servers = std::vector{server("a"), server("b")};
  GroupPicker by_header(group(least_time(TimeMetric::kHeader), servers));
  GroupPicker by_last_byte(group(least_time(TimeMetric::kLastByte), servers));
  for (GroupPicker* p : {&by_header, &by_last_byte}) {
    record(*p, "a", kStart, 5ms, 500ms);  // quick header, long body
    record(*p, "b", kStart, 20ms, 30ms);
  }
  EXPECT_EQ(pick_once(by_header, kStart), "a");
  EXPECT_EQ(pick_once(by_last_byte, kStart), "b");
}

TEST(LeastTime, InflightCountsRequestsStillRunning) {
  auto servers = std::vector{server("a"), server("b")};
  auto plain_group = group(least_time(), servers);
  auto inflight_group = group(least_time(TimeMetric::kHeader, /*inflight=*/true), servers);
  GroupPicker plain(plain_group);
  GroupPicker inflight(inflight_group);
  for (GroupPicker* p : {&plain, &inflight}) {
    record(*p, "a", kStart, 10ms);
    record(*p, "b", kStart, 50ms);
  }
  // A request on a that has been running for 2 s without an answer.
  Lease stuck_plain = hold(plain, "a", kStart);
  Lease stuck_inflight = hold(inflight, "a", kStart);
  const auto later = kStart + 2s;
  EXPECT_EQ(pick_once(plain, later), "a");     // 10 ms x 2 < 50 ms x 1
  EXPECT_EQ(pick_once(inflight, later), "b");  // max(10 ms, 2 s) x 2 > 50 ms x 1
}

TEST(LeastTime, TiesGoToRoundRobin) {
  GroupPicker picker(group(least_time(), {server("a"), server("b"), server("c")}));
  EXPECT_EQ(sequence(picker, 6, kStart), "abcabc");  // all unmeasured and idle
}

TEST(LeastTime, SkipsTriedAndUnavailableServers) {
  GroupPicker picker(group(least_time(), {server("a"), server("b"), server("c")}));
  record(picker, "a", kStart, 1ms);
  record(picker, "b", kStart, 2ms);
  record(picker, "c", kStart, 3ms);
  peer(picker, "a").set_draining(true);
  Attempt attempt;
  auto first = picker.pick(attempt, kStart);
  auto second = picker.pick(attempt, kStart);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->peer().name(), "b");
  EXPECT_EQ(second->peer().name(), "c");
}

}  // namespace
}  // namespace tg::balancing
