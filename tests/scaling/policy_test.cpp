// The policy engine with a fake clock: every expectation is computed by hand from
// AWS's and Kubernetes' documented rules.
#include "scaling/policy.h"

#include <gtest/gtest.h>

#include <map>

namespace tg::scaling {
namespace {

using std::chrono::seconds;

/// Metric values set by the test, by the text the conf would have written.
class FakeMetrics : public MetricSource {
 public:
  std::map<std::string, double> values;
  std::optional<double> value(const MetricRef& m) const override {
    auto it = values.find(m.text);
    if (it == values.end()) return std::nullopt;
    return it->second;
  }
};

MetricRef rps_per_server() {
  return MetricRef{MetricKind::kRps, true, "", "rps_per_server"};
}

ThresholdRule rule(bool out, Compare c, double value, int hold_s, double by) {
  ThresholdRule r;
  r.out = out;
  r.metric = rps_per_server();
  r.compare = c;
  r.value = value;
  r.hold = seconds(hold_s);
  r.by.value = by;
  return r;
}

/// Drives one engine with a clock that starts at zero and a current count it keeps,
/// acting on every decision as the live loop would.
struct Harness {
  explicit Harness(AutoscaleSpec spec) : engine(std::move(spec)) {}
  PolicyEngine engine;
  FakeMetrics metrics;
  TimePoint now{};
  int current = 2;
  int ready = -1;  // -1: same as current

  Decision tick(bool act = true) {
    Observation o{now, current, ready < 0 ? current : ready, &metrics};
    Decision d = engine.evaluate(o);
    if (act && d.direction != Direction::kNone) {
      engine.acted(d, now);
      current = d.desired;
    }
    return d;
  }
  /// Ticks once a second for `s` seconds; returns the last decision.
  Decision run(int s, bool act = true) {
    Decision d;
    for (int i = 0; i < s; ++i) {
      d = tick(act);
      now += seconds(1);
    }
    return d;
  }
};

AutoscaleSpec bounds(int min, int max) {
  AutoscaleSpec s;
  s.min = min;
  s.max = max;
  return s;
}

TEST(AdjustedCapacity, FollowsAwsRoundingForPercentChanges) {
  Adjustment a{Adjustment::Type::kPercent, 12.7, 0};
  EXPECT_EQ(adjusted_capacity(a, 10), 11);  // +1.27 rounds down to +1
  a.value = -66.7;
  EXPECT_EQ(adjusted_capacity(a, 10), 4);  // -6.67 rounds up to -6
  a.value = 5;
  EXPECT_EQ(adjusted_capacity(a, 10), 11);  // +0.5 becomes +1
  a.value = -5;
  EXPECT_EQ(adjusted_capacity(a, 10), 9);  // -0.5 becomes -1
  a.value = 10;
  a.min_magnitude = 2;
  EXPECT_EQ(adjusted_capacity(a, 10), 12);  // +1, raised to MinAdjustmentMagnitude 2
  EXPECT_EQ(adjusted_capacity({Adjustment::Type::kExact, 4, 0}, 9), 4);
  EXPECT_EQ(adjusted_capacity({Adjustment::Type::kChange, -2, 0}, 9), 7);
}

TEST(ThresholdRule, FiresOnlyAfterTheConditionHeldForTheWholeWindow) {
  AutoscaleSpec spec = bounds(2, 12);
  spec.rules.push_back(rule(true, Compare::kGreater, 300, 180, 1));
  Harness h(spec);
  h.metrics.values["rps_per_server"] = 400;
  Decision d = h.run(180);  // evaluations at 0..179 s
  EXPECT_EQ(d.direction, Direction::kNone);
  EXPECT_EQ(d.reason, "scale_out rps_per_server 400 > 300, held 2m59s of 3m");
  EXPECT_EQ(h.current, 2);
  d = h.tick();  // 180 s after the first evaluation that met it
  EXPECT_EQ(d.direction, Direction::kOut);
  EXPECT_EQ(d.desired, 3);
  EXPECT_EQ(d.reason, "scale_out rps_per_server 400 > 300 for 3m");
  ASSERT_EQ(d.values.size(), 1u);
  EXPECT_EQ(d.values[0].second, 400);
}

TEST(ThresholdRule, NoisyMetricAroundTheThresholdDoesNotFire) {
  AutoscaleSpec spec = bounds(2, 12);
  spec.rules.push_back(rule(true, Compare::kGreater, 300, 30, 1));
  spec.rules.push_back(rule(false, Compare::kLess, 280, 30, -1));
  Harness h(spec);
  for (int i = 0; i < 600; ++i) {
    // 20 s above, one second below, and so on: the window never completes.
    h.metrics.values["rps_per_server"] = (i % 21 == 20) ? 290 : 310;
    EXPECT_EQ(h.tick().direction, Direction::kNone) << "at " << i << " s";
    h.now += seconds(1);
  }
  EXPECT_EQ(h.current, 2);
}

TEST(ThresholdRule, WarningLevelIsReportedOncePerEpisode) {
  AutoscaleSpec spec = bounds(2, 12);
  auto r = rule(true, Compare::kGreater, 300, 60, 1);
  r.warn = 250;
  spec.rules.push_back(r);
  Harness h(spec);
  h.metrics.values["rps_per_server"] = 260;
  EXPECT_EQ(h.tick().warnings.size(), 1u);
  h.now += seconds(1);
  EXPECT_TRUE(h.tick().warnings.empty());
  h.metrics.values["rps_per_server"] = 200;
  h.tick();
  h.metrics.values["rps_per_server"] = 270;
  EXPECT_EQ(h.tick().warnings.size(), 1u);
}

TEST(Cooldown, ScaleOutWaitsForItsCooldownAndScaleInForAnyChange) {
  AutoscaleSpec spec = bounds(2, 12);
  spec.rules.push_back(rule(true, Compare::kGreater, 300, 0, 1));
  spec.rules.push_back(rule(false, Compare::kLess, 150, 0, -1));
  Harness h(spec);  // defaults: out 60 s, in 300 s
  h.metrics.values["rps_per_server"] = 400;
  EXPECT_EQ(h.tick().desired, 3);
  h.now += seconds(30);
  Decision d = h.tick();
  EXPECT_EQ(d.direction, Direction::kNone);
  EXPECT_EQ(d.cause, "cooldown");
  EXPECT_EQ(d.reason, "in scale-out cooldown, 31s left: scale_out rps_per_server 400 > 300");
  h.now += seconds(30);  // 60 s after the scale-out
  EXPECT_EQ(h.tick().desired, 4);
  h.metrics.values["rps_per_server"] = 100;
  h.now += seconds(299);
  EXPECT_EQ(h.tick().cause, "cooldown");
  h.now += seconds(1);  // 300 s after the last change
  d = h.tick();
  EXPECT_EQ(d.direction, Direction::kIn);
  EXPECT_EQ(d.desired, 3);
}

TEST(Bounds, BelowMinScalesOutAtOnceEvenInCooldownAndMaxCapsPolicies) {
  AutoscaleSpec spec = bounds(2, 4);
  spec.rules.push_back(rule(true, Compare::kGreater, 300, 0, 3));
  Harness h(spec);
  h.current = 0;
  Decision d = h.tick();
  EXPECT_EQ(d.desired, 2);
  EXPECT_EQ(d.cause, "min");
  h.metrics.values["rps_per_server"] = 400;
  h.now += seconds(60);
  EXPECT_EQ(h.tick().desired, 4);  // 2 + 3 capped at max 4
  h.now += seconds(60);
  d = h.tick();
  EXPECT_EQ(d.direction, Direction::kNone);
  EXPECT_EQ(d.cause, "max");
  EXPECT_EQ(d.reason, "at max 4: scale_out rps_per_server 400 > 300");
}

TEST(StepScaling, PicksTheStepByBreachWithAwsBoundInclusivity) {
  AutoscaleSpec spec = bounds(1, 20);
  StepPolicy p;
  p.metric = rps_per_server();
  p.threshold = 300;
  p.steps.push_back({0.0, 500.0, {Adjustment::Type::kChange, 1, 0}});
  p.steps.push_back({500.0, std::nullopt, {Adjustment::Type::kChange, 2, 0}});
  spec.steps.push_back(p);
  for (const auto& [value, want] :
       std::vector<std::pair<double, int>>{{600, 5}, {799, 5}, {800, 6}, {1300, 6}, {300, 4}}) {
    Harness h(spec);
    h.current = 4;
    h.metrics.values["rps_per_server"] = value;
    EXPECT_EQ(h.tick(false).desired, want) << "at " << value;
  }
}

TEST(StepScaling, BelowTheThresholdTheUpperBoundIsInclusive) {
  AutoscaleSpec spec = bounds(1, 20);
  StepPolicy p;
  p.metric = rps_per_server();
  p.compare = Compare::kLess;
  p.threshold = 150;
  p.steps.push_back({-50.0, 0.0, {Adjustment::Type::kChange, -1, 0}});
  p.steps.push_back({std::nullopt, -50.0, {Adjustment::Type::kPercent, -50, 0}});
  spec.steps.push_back(p);
  for (const auto& [value, want] :
       std::vector<std::pair<double, int>>{{120, 7}, {100, 4}, {101, 7}, {10, 4}}) {
    Harness h(spec);
    h.current = 8;
    h.metrics.values["rps_per_server"] = value;
    EXPECT_EQ(h.tick(false).desired, want) << "at " << value;
  }
}

TargetPolicy target(double value) {
  TargetPolicy t;
  t.metric = rps_per_server();
  t.target = value;
  return t;
}

TEST(TargetTracking, FollowsHpaRuleAndTolerance) {
  AutoscaleSpec spec = bounds(1, 20);
  spec.targets.push_back(target(300));
  Harness h(spec);
  h.current = 4;
  h.metrics.values["rps_per_server"] = 450;  // ratio 1.5: ceil(4 × 1.5) = 6
  EXPECT_EQ(h.tick(false).desired, 6);
  h.metrics.values["rps_per_server"] = 329;  // ratio 1.097, inside 10%
  EXPECT_EQ(h.tick(false).direction, Direction::kNone);
  h.metrics.values["rps_per_server"] = 331;  // ratio 1.103: ceil(4.41) = 5
  EXPECT_EQ(h.tick(false).desired, 5);
}

TEST(TargetTracking, ServersStillWarmingCountAsIdleOnTheWayUp) {
  AutoscaleSpec spec = bounds(1, 20);
  spec.targets.push_back(target(300));
  Harness h(spec);
  h.current = 4;
  h.ready = 2;
  h.metrics.values["rps_per_server"] = 450;  // ceil(2 × 1.5) = 3 <= 4: covered
  EXPECT_EQ(h.tick(false).direction, Direction::kNone);
  h.metrics.values["rps_per_server"] = 900;  // ceil(2 × 3) = 6
  EXPECT_EQ(h.tick(false).desired, 6);
  h.metrics.values["rps_per_server"] = 30;  // would scale in, but servers are coming up
  EXPECT_EQ(h.tick(false).direction, Direction::kNone);
}

TEST(TargetTracking, ScaleInTakesTheHighestRecommendationOfTheStabilizationWindow) {
  AutoscaleSpec spec = bounds(1, 20);
  spec.cooldown_in = seconds(0);
  spec.targets.push_back(target(100));
  Harness h(spec);
  h.current = 8;
  h.metrics.values["rps_per_server"] = 100;  // recommendation 8
  h.tick();
  h.now += seconds(100);
  h.metrics.values["rps_per_server"] = 50;  // recommendation 4
  h.tick();
  h.now += seconds(100);
  h.metrics.values["rps_per_server"] = 75;  // recommendation 6
  Decision d = h.tick();
  EXPECT_EQ(d.direction, Direction::kNone);  // 8 is still in the 300 s window
  h.now += seconds(100);                     // 300 s after the 8: the window's highest is 6
  h.metrics.values["rps_per_server"] = 25;
  d = h.tick();
  EXPECT_EQ(d.desired, 6);
}

TEST(TargetTracking, PredictiveModeScalesForTheLoadToCome) {
  AutoscaleSpec spec = bounds(1, 50);
  spec.cooldown_out = seconds(0);
  auto plain = target(100);
  auto predictive = plain;
  predictive.predictive = true;
  predictive.trend = seconds(30);
  predictive.lead = seconds(60);
  predictive.panic = 0;
  spec.targets.push_back(plain);
  Harness a(spec);
  spec.targets[0] = predictive;
  Harness b(spec);
  a.current = b.current = 10;
  Decision da, db;
  for (int i = 0; i <= 30; ++i) {
    // The load (per server × 10 ready) grows 10 req/s each second: 1000 -> 1300.
    a.metrics.values["rps_per_server"] = b.metrics.values["rps_per_server"] = 100 + i;
    da = a.tick(false);
    db = b.tick(false);
    a.now += seconds(1);
    b.now += seconds(1);
  }
  EXPECT_EQ(da.desired, 13);  // ceil(10 × 1.30)
  // 1300 + 10/s × 60 s = 1900 req/s ahead: 19 servers.
  EXPECT_EQ(db.desired, 19);
}

TEST(TargetTracking, PredictiveTrendFollowsTheGroupNotReadyServersTimesTheirAverage) {
  AutoscaleSpec spec = bounds(1, 50);
  auto t = target(100);
  t.predictive = true;
  t.trend = seconds(30);
  t.lead = seconds(60);
  t.panic = 0;
  spec.targets.push_back(t);
  Harness h(spec);
  h.current = 10;
  // A flat 1000 req/s over the group. Until 15 s a warming server takes 100 of them
  // and does not count: the ready servers' average is 900/8, times 8 only 900. Then it
  // counts (1000/9 each): 900 -> 1000 would look like a rising load.
  Decision d;
  for (int i = 0; i <= 30; ++i) {
    h.ready = i < 15 ? 8 : 9;
    h.metrics.values["rps"] = 1000;
    h.metrics.values["rps_per_server"] = i < 15 ? 900.0 / 8 : 1000.0 / 9;
    d = h.tick(false);
    h.now += seconds(1);
  }
  EXPECT_EQ(d.reason.find("predicted"), std::string::npos) << d.reason;
  EXPECT_EQ(d.direction, Direction::kNone);  // ceil(9 × 1.11) = 10 = current
}

TEST(TargetTracking, PanicScalesOutThroughTheCooldown) {
  AutoscaleSpec spec = bounds(1, 50);
  spec.targets.push_back(target(100));
  Harness h(spec);
  h.current = 4;
  h.metrics.values["rps_per_server"] = 150;
  EXPECT_EQ(h.tick().desired, 6);
  h.now += seconds(5);
  h.metrics.values["rps_per_server"] = 180;  // ceil(6 × 1.8) = 11 < 2 × 6: waits
  EXPECT_EQ(h.tick().cause, "cooldown");
  h.metrics.values["rps_per_server"] = 250;  // 15 >= 2 × 6: panic
  Decision d = h.tick();
  EXPECT_EQ(d.desired, 15);
  EXPECT_NE(d.reason.find("panic"), std::string::npos);
}

TEST(Combining, ScaleOutIfAnySaysOutScaleInOnlyIfAllSayIn) {
  AutoscaleSpec spec = bounds(1, 20);
  spec.cooldown_in = seconds(0);
  spec.stabilize_in = seconds(0);
  MetricRef p95{MetricKind::kP95, false, "", "p95"};
  auto latency_out = rule(true, Compare::kGreater, 800, 0, 2);
  latency_out.metric = p95;
  auto latency_in = rule(false, Compare::kLess, 200, 0, -1);
  latency_in.metric = p95;
  spec.rules = {latency_out, latency_in};
  spec.targets.push_back(target(100));
  Harness h(spec);
  h.current = 4;
  h.metrics.values["rps_per_server"] = 50;  // target says 2 (in)
  h.metrics.values["p95"] = 900;            // latency says +2 (out)
  EXPECT_EQ(h.tick(false).desired, 6);
  h.metrics.values["p95"] = 500;  // latency holds: no scale-in
  Decision d = h.tick(false);
  EXPECT_EQ(d.direction, Direction::kNone);
  h.metrics.values["p95"] = 100;  // both say in: the smaller cut (3 over 2)
  EXPECT_EQ(h.tick(false).desired, 3);
}

TEST(Combining, NoDataHoldsAndSaysSo) {
  AutoscaleSpec spec = bounds(1, 20);
  spec.rules.push_back(rule(true, Compare::kGreater, 300, 0, 1));
  Harness h(spec);
  Decision d = h.tick();
  EXPECT_EQ(d.direction, Direction::kNone);
  EXPECT_EQ(d.cause, "no_data");
  EXPECT_EQ(d.reason, "scale_out rps_per_server: no data");
}

TEST(Limits, CapServersChangedPerPeriodTakingTheMostPermissive) {
  AutoscaleSpec spec = bounds(1, 100);
  spec.cooldown_out = seconds(0);
  spec.targets.push_back(target(100));
  spec.limits.push_back({true, false, 4, seconds(60)});
  spec.limits.push_back({true, true, 100, seconds(60)});
  Harness h(spec);
  h.current = 2;
  h.metrics.values["rps_per_server"] = 1000;  // wants 20
  Decision d = h.tick();
  EXPECT_EQ(d.desired, 6);  // max(2 + 4, 2 × 2)
  h.now += seconds(10);
  h.metrics.values["rps_per_server"] = 1000 * 2 / 6.0;  // still 20
  d = h.tick();
  EXPECT_EQ(d.direction, Direction::kNone);  // base 2 at the period's start: 6 already
  EXPECT_EQ(d.cause, "limit");
  h.now += seconds(51);  // the first change left the period
  d = h.tick();
  EXPECT_EQ(d.desired, 12);  // max(6 + 4, 6 × 2)
}

TEST(Schedule, SetsBoundsAndDesiredOnceWhateverTheCooldown) {
  AutoscaleSpec spec = bounds(1, 4);
  spec.rules.push_back(rule(true, Compare::kGreater, 300, 0, 1));
  Harness h(spec);
  h.metrics.values["rps_per_server"] = 400;
  EXPECT_EQ(h.tick().desired, 3);
  h.engine.apply_schedule({"0 12 * * *", "UTC", 2, 8, 6});
  h.now += seconds(1);
  Decision d = h.tick();
  EXPECT_EQ(d.desired, 6);
  EXPECT_EQ(d.cause, "schedule");
  EXPECT_EQ(h.engine.max(), 8);
  h.now += seconds(1);
  EXPECT_EQ(h.tick().cause, "cooldown");  // policies are back, with their cooldown
}

}  // namespace
}  // namespace tg::scaling
