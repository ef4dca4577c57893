// The simulator on tiny traces whose figures can be worked out by hand: one-second
// steps, capacity 400 req/s per instance, start-up 60 s unless a test says otherwise.
#include "scaling/simulator.h"

#include <gtest/gtest.h>

#include <cmath>

namespace tg::scaling {
namespace {

using std::chrono::seconds;

MetricRef metric(MetricKind kind, bool per_server, std::string text) {
  return MetricRef{kind, per_server, "", std::move(text)};
}

AutoscaleSpec bounds(int min, int max) {
  AutoscaleSpec s;
  s.min = min;
  s.max = max;
  return s;
}

/// `rps` flat at `rps` from 0 to `until` seconds.
std::vector<TracePoint> flat(double rps, double until) {
  return {TracePoint{0, rps, {}, {}}, TracePoint{until, rps, {}, {}}};
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(ParseTrace, ReadsColumnsInAnyOrderWithCommentsAndEmptyOptionalFields) {
  const auto rows = parse_trace(
      "# a comment line\n"
      "rps, time ,latency_ms,connections\n"
      "\n"
      "100,0,20,5   # trailing comment\r\n"
      "200,10,,\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].time, 0);
  EXPECT_EQ(rows[0].rps, 100);
  EXPECT_EQ(rows[0].latency_ms, 20);
  EXPECT_EQ(rows[0].connections, 5);
  EXPECT_EQ(rows[1].time, 10);
  EXPECT_FALSE(rows[1].latency_ms);
  EXPECT_FALSE(rows[1].connections);
}

TEST(ParseTrace, ReportsTheLineOfEachError) {
  auto error = [](std::string_view csv) {
    try {
      parse_trace(csv);
    } catch (const TraceError& e) {
      return std::to_string(e.line) + ": " + e.what();
    }
    return std::string("no error");
  };
  EXPECT_EQ(error("time,rps\n0,1\n# x\n5,abc\n"), "4: invalid number \"abc\"");
  EXPECT_EQ(error("time,rps\n0,1e999\n"), "2: invalid number \"1e999\"");
  EXPECT_EQ(error("time,rps\n0,-1\n"), "2: negative value \"-1\"");
  EXPECT_EQ(error("time,rps\n0,1,2\n"), "2: 3 fields, the header has 2");
  EXPECT_EQ(error("time,rps\n10,1\n5,1\n"), "3: time 5 is before the previous row's 10");
  EXPECT_EQ(error("time,load\n"),
            "1: unknown column \"load\" (time,rps[,connections][,latency_ms])");
  EXPECT_EQ(error("time,time\n"), "1: duplicate column \"time\"");
  EXPECT_EQ(error("time,connections\n"), "1: the header must name \"time\" and \"rps\"");
  EXPECT_EQ(error("# nothing\ntime,rps\n"), "0: no rows");
}

TEST(TraceAt, InterpolatesLinearlyAndHoldsTheEnds) {
  const std::vector<TracePoint> trace = {{10, 100, 4, {}}, {20, 300, 8, 30}, {20, 50, {}, {}}};
  EXPECT_EQ(trace_at(trace, 0).rps, 100);  // before the first row
  EXPECT_EQ(trace_at(trace, 15).rps, 200);
  EXPECT_EQ(trace_at(trace, 15).connections, 6);
  EXPECT_FALSE(trace_at(trace, 15).latency_ms);  // one side unknown
  EXPECT_EQ(trace_at(trace, 20).rps, 50);        // two rows at one time: a step
  EXPECT_EQ(trace_at(trace, 99).rps, 50);        // after the last row
}

TEST(Simulate, DeficitOverloadAndInstanceHoursAreIntegratedPerSecond) {
  // 1,000 req/s needs ceil(1000 / 400) = 3 instances; max 2 allows 2: one short for 100 s.
  const SimResult r = simulate(bounds(2, 2), flat(1000, 100), InstanceModel{});
  EXPECT_EQ(r.summary.duration_s, 100);
  EXPECT_DOUBLE_EQ(r.summary.deficit_instance_s, 100);
  EXPECT_DOUBLE_EQ(r.summary.overloaded_s, 100);
  EXPECT_DOUBLE_EQ(r.summary.instance_hours, 2 * 100 / 3600.0);
  EXPECT_DOUBLE_EQ(r.summary.limit_instance_hours, 2 * 100 / 3600.0);  // clamped to max
  EXPECT_EQ(r.summary.changes, 0);
  ASSERT_EQ(r.ticks.size(), 100u);
  EXPECT_EQ(r.ticks[0].needed, 3);
  EXPECT_DOUBLE_EQ(r.ticks[0].error_rate, 20);  // 200 of 1,000 above 800
}

TEST(Simulate, NewInstancesServeOnlyAfterTheStartUp) {
  AutoscaleSpec spec = bounds(1, 2);
  ThresholdRule out;
  out.metric = metric(MetricKind::kRps, false, "rps");
  out.value = 500;
  spec.rules.push_back(out);
  InstanceModel model;
  model.initial = 1;
  // t=0 has no measured second yet; t=1 reads 600 > 500 and starts one instance,
  // serving at 61: one instance short from 0 to 61.
  const SimResult r = simulate(spec, flat(600, 200), model);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].time, 1);
  EXPECT_EQ(r.events[0].from, 1);
  EXPECT_EQ(r.events[0].to, 2);
  EXPECT_EQ(r.ticks[60].current, 2);
  EXPECT_EQ(r.ticks[60].serving, 1);
  EXPECT_EQ(r.ticks[61].serving, 2);
  EXPECT_DOUBLE_EQ(r.summary.deficit_instance_s, 61);
  EXPECT_DOUBLE_EQ(r.summary.instance_hours, (1 * 1 + 2 * 199) / 3600.0);
  // The limit starts the second instance 60 s ahead of need: two for the whole run.
  EXPECT_DOUBLE_EQ(r.summary.limit_instance_hours, 2 * 200 / 3600.0);
}

TEST(Simulate, MinAndMaxBoundTheCount) {
  AutoscaleSpec spec = bounds(3, 4);
  TargetPolicy target;
  target.metric = metric(MetricKind::kRps, true, "rps_per_server");
  target.target = 100;
  spec.targets.push_back(target);
  InstanceModel model;
  model.initial = 1;
  model.startup = seconds(0);
  const SimResult r = simulate(spec, flat(10'000, 30), model);
  ASSERT_GE(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].cause, "min");  // below min: at once, without data
  EXPECT_EQ(r.events[0].time, 0);
  EXPECT_EQ(r.events[0].to, 3);
  EXPECT_EQ(r.events[1].to, 4);  // wants 100, gets max
  EXPECT_EQ(r.summary.max_instances, 4);
}

TEST(Simulate, ScheduledActionsFireAtTheSimulatedWallClock) {
  AutoscaleSpec spec = bounds(1, 10);
  spec.schedules.push_back(ScheduledAction{"30 0 * * *", "UTC", 5, 8, {}});
  InstanceModel model;
  model.initial = 1;
  SimResult r = simulate(spec, flat(100, 3600), model);  // from 2026-01-05T00:00:00Z
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_TRUE(r.events[0].scheduled);
  EXPECT_EQ(r.events[0].time, 1800);
  EXPECT_EQ(r.events[1].time, 1800);  // below the new min: moved at once
  EXPECT_EQ(r.events[1].to, 5);
  EXPECT_EQ(r.events[1].cause, "min");

  model.start = std::chrono::sys_days{std::chrono::year{2026} / 6 / 1} + seconds(600);
  r = simulate(spec, flat(100, 3600), model);
  ASSERT_FALSE(r.events.empty());
  EXPECT_EQ(r.events[0].time, 1200);  // 00:10 + 20 minutes
}

TEST(Simulate, LatencyFollowsTheQueueModelAndLittlesLaw) {
  // 400 req/s on two instances of 400: ρ = 0.5, mean 50 / 0.5 = 100 ms.
  const SimResult r = simulate(bounds(2, 2), flat(400, 20), InstanceModel{});
  EXPECT_NEAR(r.ticks[5].p95_ms, 100 * -std::log(0.05), 1e-9);
  EXPECT_NEAR(r.ticks[5].active, 400 * 0.1, 1e-9);
  EXPECT_NEAR(r.summary.p95_mean_ms, 100 * -std::log(0.05), 1e-9);
}

TEST(Simulate, PoliciesReadATenSecondWindowAndTheMetricLag) {
  // 0 req/s, then 1,000 from t=100: at t=105 the policies read seconds 95 to 104.
  const std::vector<TracePoint> step = {
      {0, 0, {}, {}}, {100, 0, {}, {}}, {100, 1000, {}, {}}, {200, 1000, {}, {}}};
  const AutoscaleSpec spec = bounds(3, 3);
  SimResult r = simulate(spec, step, InstanceModel{});
  EXPECT_DOUBLE_EQ(r.ticks[105].rps_seen, 500);
  InstanceModel lagged;
  lagged.metric_lag = seconds(30);
  r = simulate(spec, step, lagged);
  EXPECT_DOUBLE_EQ(r.ticks[105].rps_seen, 0);
  EXPECT_DOUBLE_EQ(r.ticks[135].rps_seen, 500);
}

TEST(Simulate, LongIntervalsTickLessButScoreEverySecond) {
  AutoscaleSpec spec = bounds(2, 2);
  spec.interval = std::chrono::milliseconds(15'000);
  const SimResult r = simulate(spec, flat(1000, 60), InstanceModel{});
  ASSERT_EQ(r.ticks.size(), 4u);
  EXPECT_EQ(r.ticks[1].time, 15);
  EXPECT_DOUBLE_EQ(r.summary.deficit_instance_s, 60);
}

/// A predictive target on a ramp: enough moving parts for the writers and determinism.
SimResult ramp_run() {
  AutoscaleSpec spec = bounds(2, 12);
  TargetPolicy target;
  target.metric = metric(MetricKind::kRps, true, "rps_per_server");
  target.target = 300;
  target.predictive = true;
  spec.targets.push_back(target);
  spec.cooldown_out = seconds(0);
  spec.schedules.push_back(ScheduledAction{"10 0 * * *", "UTC", 3, {}, {}});
  const std::vector<TracePoint> trace = {
      {0, 300, {}, {}}, {300, 300, {}, {}}, {600, 3000, {}, {}}, {1800, 300, {}, {}}};
  return simulate(spec, trace, InstanceModel{});
}

TEST(Simulate, TwoRunsAreEqual) {
  const SimResult a = ramp_run(), b = ramp_run();
  EXPECT_EQ(ticks_csv(a), ticks_csv(b));
  ASSERT_EQ(a.events.size(), b.events.size());
  for (std::size_t i = 0; i < a.events.size(); ++i)
    EXPECT_EQ(a.events[i].reason, b.events[i].reason);
  EXPECT_EQ(a.summary.instance_hours, b.summary.instance_hours);
}

TEST(TicksCsv, WritesAHeaderAndOneLinePerTick) {
  // Overloaded: ρ capped at 0.98, mean 50 / 0.02 = 2,500 ms, Little: 1,000 × 2.5 s.
  const SimResult r = simulate(bounds(2, 2), flat(1000, 3), InstanceModel{});
  EXPECT_EQ(ticks_csv(r),
            "time,load_rps,rps_seen,active,p95_ms,error_pct,current,serving,needed,cause\n"
            "0,1000,0,2500,7489.33,20,2,2,3,hold\n"
            "1,1000,1000,2500,7489.33,20,2,2,3,hold\n"
            "2,1000,1000,2500,7489.33,20,2,2,3,hold\n");
}

TEST(SvgChart, IsOneSvgWithItsSeriesAndAMarkerPerScalingChange) {
  const SimResult r = ramp_run();
  std::size_t changes = 0, scheduled = 0;
  for (const auto& e : r.events) (e.scheduled ? scheduled : changes)++;
  ASSERT_GT(changes, 2u);
  ASSERT_EQ(scheduled, 1u);
  const std::string svg = svg_chart(r, "a <title> & more");
  EXPECT_TRUE(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_TRUE(svg.ends_with("</svg>\n"));
  EXPECT_EQ(count(svg, "<svg"), 1u);
  for (const char* series : {"load", "capacity", "current", "serving", "p95"}) {
    EXPECT_EQ(count(svg, std::string("<polyline class=\"") + series + "\" points=\""), 1u)
        << series;
  }
  EXPECT_EQ(count(svg, "class=\"event "), changes);
  EXPECT_EQ(count(svg, "class=\"schedule\""), scheduled);
  EXPECT_EQ(count(svg, "<title>"), count(svg, "</title>"));
  EXPECT_NE(svg.find("a &lt;title&gt; &amp; more"), std::string::npos);
  EXPECT_EQ(count(svg, " -&gt; "), changes);  // "2 -> 3: ...", escaped
}

}  // namespace
}  // namespace tg::scaling
