#include "balancing/stats_window.h"

#include <gtest/gtest.h>

#include "balancing/metrics_collector.h"
#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

/// Cumulative counters that grow by `per_second` responses of `status` and `latency_us`
/// each call.
struct Traffic {
  ServerStatsSnapshot total;
  ServerStatsSnapshot& add(std::uint64_t n, int status, std::uint64_t latency_us,
                           std::uint64_t header_us = 0) {
    total.requests += n;
    total.responses[static_cast<std::size_t>(status / 100 - 1)] += n;
    total.latency.add(HistogramLayout::bucket_index(latency_us), n);
    total.header_latency.add(HistogramLayout::bucket_index(header_us ? header_us : latency_us), n);
    return total;
  }
};

TEST(StatsWindows, TenSecondWindowIsTheLastTenSeconds) {
  StatsWindows w;
  Traffic t;
  for (int s = 0; s < 5; ++s) w.push(t.add(10, 200, 100), {});
  for (int s = 0; s < 10; ++s) w.push(t.add(100, 200, 100), {});
  const auto last = w.window(StatsWindows::k10s);
  EXPECT_EQ(last.seconds, 10);
  EXPECT_EQ(last.requests, 1000u);
  EXPECT_DOUBLE_EQ(last.rps, 100);
}

TEST(StatsWindows, FirstPushIsTheBaseline) {
  StatsWindows w;
  Traffic t;
  w.push(t.add(5000, 200, 100), {});  // traffic from before the collector started
  EXPECT_EQ(w.window(StatsWindows::k10s).requests, 0u);
  w.push(t.add(7, 200, 100), {});
  EXPECT_EQ(w.window(StatsWindows::k10s).requests, 7u);
}

TEST(StatsWindows, MinuteAndFiveMinuteWindowsStepInTens) {
  StatsWindows w;
  Traffic t;
  // Second 1 is the baseline; seconds 2..300 carry 1 request each, 301..400 three.
  w.push(t.total, {});
  for (int s = 2; s <= 400; ++s) w.push(t.add(s <= 300 ? 1 : 3, 200, 100), {});
  const auto minute = w.window(StatsWindows::k1m);
  EXPECT_EQ(minute.seconds, 60);
  EXPECT_EQ(minute.requests, 180u);
  EXPECT_DOUBLE_EQ(minute.rps, 3);
  const auto five = w.window(StatsWindows::k5m);
  EXPECT_EQ(five.seconds, 300);
  EXPECT_EQ(five.requests, 200u * 1 + 100u * 3);  // seconds 101..400
  // 5 s into the next ten: the partial ten is part of the minute.
  for (int s = 0; s < 5; ++s) w.push(t.add(10, 200, 100), {});
  const auto stepped = w.window(StatsWindows::k1m);
  EXPECT_EQ(stepped.seconds, 55);
  EXPECT_EQ(stepped.requests, 5u * 10 + 50u * 3);
}

TEST(StatsWindows, QuantilesAndErrorRate) {
  StatsWindows w;
  Traffic t;
  w.push(t.total, {});
  t.add(90, 200, 1000, 200);
  t.add(5, 500, 20000, 19000);
  auto& c = t.add(5, 200, 100000, 500);
  c.failed_attempts += 10;
  w.push(c, {});
  const auto s = w.window(StatsWindows::k10s);
  EXPECT_EQ(s.requests, 100u);
  EXPECT_NEAR(s.error_rate, 15.0 / 110.0, 1e-9);
  // Bucket upper bounds: within 1/16 above the value.
  EXPECT_GE(s.p50_us, 1000u);
  EXPECT_LE(s.p50_us, 1063u);
  EXPECT_GE(s.p95_us, 20000u);
  EXPECT_LE(s.p95_us, 21250u);
  EXPECT_GE(s.p99_us, 100000u);
  EXPECT_LE(s.p99_us, 106250u);
  EXPECT_LE(s.header_p50_us, 212u);
  EXPECT_GE(s.header_p95_us, 500u);
  EXPECT_LE(s.header_p95_us, 532u);
  EXPECT_GE(s.header_p99_us, 19000u);
}

TEST(StatsWindows, GaugesAverageAndMax) {
  StatsWindows w;
  for (int a : {2, 4, 6, 8}) w.push({}, Gauges{a, a / 2});
  const auto s = w.window(StatsWindows::k10s);
  EXPECT_DOUBLE_EQ(s.active_avg, 5);
  EXPECT_EQ(s.active_max, 8);
  EXPECT_DOUBLE_EQ(s.tunnels_avg, 2.5);
  EXPECT_EQ(s.tunnels_max, 4);
}

TEST(StatsWindows, ACounterResetStartsANewBaseline) {
  StatsWindows w;
  Traffic t;
  w.push(t.add(100, 200, 10), {});
  w.push(t.add(100, 200, 10), {});
  w.push(ServerStatsSnapshot{}, {});  // statistics reset through the API
  Traffic after;
  w.push(after.add(3, 200, 10), {});
  EXPECT_EQ(w.window(StatsWindows::k10s).requests, 103u);
}

TEST(MetricsCollector, GroupTotalsKeepRemovedServers) {
  auto g = std::make_shared<GroupMembership>("backend", 1);
  std::vector<ServerConfig> servers{server("a"), server("b")};
  g->load(servers, balancer(Algorithm::kRoundRobin), true, std::nullopt);
  MetricsCollector c;
  std::vector<std::shared_ptr<GroupMembership>> groups{g};
  c.sample(groups, kStart, std::chrono::system_clock::now());
  auto a = g->servers()[0].peer;
  a->stats().record(0, 200, 100);
  a->stats().record(0, 503, 100);
  c.sample(groups, kStart + 1s, std::chrono::system_clock::now());
  ASSERT_NE(c.server(a->id()), nullptr);
  EXPECT_EQ(c.server(a->id())->window(StatsWindows::k10s).requests, 2u);
  g->remove(a->id());
  g->collect_zombies();
  c.sample(groups, kStart + 2s, std::chrono::system_clock::now());
  EXPECT_EQ(c.server(a->id()), nullptr);
  EXPECT_EQ(group_totals(*g).requests, 2u);
  EXPECT_EQ(c.group("backend")->window(StatsWindows::k10s).requests, 2u);
  EXPECT_EQ(c.group("backend")->window(StatsWindows::k10s).responses[4], 1u);
}

TEST(MetricsCollector, GroupsNoLongerSampledAreForgotten) {
  auto g = std::make_shared<GroupMembership>("backend", 1);
  std::vector<ServerConfig> servers{server("a")};
  g->load(servers, balancer(Algorithm::kRoundRobin), true, std::nullopt);
  MetricsCollector c;
  std::vector<std::shared_ptr<GroupMembership>> groups{g};
  c.sample(groups, kStart, std::chrono::system_clock::now());
  ASSERT_NE(c.group("backend"), nullptr);
  const auto id = g->servers()[0].peer->id();
  ASSERT_NE(c.server(id), nullptr);
  groups.clear();  // a reload dropped the group
  c.sample(groups, kStart + 1s, std::chrono::system_clock::now());
  EXPECT_EQ(c.group("backend"), nullptr);
  EXPECT_EQ(c.server(id), nullptr);
}

TEST(MetricsCollector, DowntimeCountsUnavailTime) {
  auto g = std::make_shared<GroupMembership>("backend", 1);
  ServerConfig flaky = server("a");
  flaky.max_fails = 1;
  flaky.fail_timeout = 30s;
  std::vector<ServerConfig> servers{flaky, server("b")};
  g->load(servers, balancer(Algorithm::kRoundRobin), true, std::nullopt);
  MetricsCollector c;
  std::vector<std::shared_ptr<GroupMembership>> groups{g};
  GroupPicker picker(g->snapshot());
  Attempt attempt;
  auto lease = picker.pick(attempt, kStart);
  ASSERT_EQ(lease->peer().name(), "a");
  const auto id = lease->peer().id();
  lease->release(Outcome::kFailure, kStart);
  EXPECT_EQ(state_name(*g->snapshot()->find_id(id), kStart), "unavail");
  c.sample(groups, kStart, std::chrono::system_clock::now());
  EXPECT_TRUE(c.downtime(id)->downstart);
  c.sample(groups, kStart + 31s, std::chrono::system_clock::now());
  EXPECT_FALSE(c.downtime(id)->downstart);
  EXPECT_EQ(c.downtime(id)->total, 31s);
}

}  // namespace
}  // namespace tg::balancing
