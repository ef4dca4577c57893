// The autoscaler's decision, made from numbers alone: the metric values of one
// evaluation in, a desired server count and the reason out. No I/O and no clock of its
// own, so the live loop and `tidegate simulate` run the very same code.
#pragma once

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "scaling/spec.h"

namespace tg::scaling {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

/// Where an evaluation reads its metrics from.
class MetricSource {
 public:
  virtual ~MetricSource() = default;
  /// The current value of `metric` (a per-server metric already averaged over the
  /// servers that count); nullopt when it is not known yet (no traffic sample, no
  /// server ready, a Prometheus query that failed).
  virtual std::optional<double> value(const MetricRef& metric) const = 0;
};

/// What the group looks like at one evaluation.
struct Observation {
  TimePoint now;
  /// Servers the group has or is getting: not draining, including those still
  /// `checking` or warming up, and instances a provider is creating.
  int current = 0;
  /// Of those, the servers whose metrics count (healthy, warm): what per-server
  /// averages divide by, and HPA's "ready pods".
  int ready = 0;
  const MetricSource* metrics = nullptr;
};

enum class Direction { kNone, kOut, kIn };

/// The outcome of one evaluation.
struct Decision {
  Direction direction = Direction::kNone;
  int current = 0;
  int desired = 0;  ///< == current when nothing is to be done
  /// Why: the policy that decided and its numbers, or why nothing happens
  /// ("in scale-in cooldown, 42s left", "scale_out rps_per_server: 95s of 180s").
  std::string reason;
  /// A short word for Prometheus labels: "policy", "min", "max", "schedule",
  /// "cooldown", "hold", "pending", "limit", "no_data".
  std::string cause;
  /// The metric values this evaluation read, as written in the conf.
  std::vector<std::pair<std::string, double>> values;
  /// `warn=` levels crossed at this evaluation (logged once per episode).
  std::vector<std::string> warnings;
};

/// The policies of one `autoscale` block and their memory (`for` windows, cooldowns,
/// stabilization, change history).
///
/// Combining (AWS): scale out if any policy says out (to the largest count asked),
/// scale in only if every policy that can scale in says in (to the largest count they
/// ask). Target tracking's recommendations pass HPA's stabilization window (scale-in
/// takes the highest recommendation of the window); threshold and step rules have
/// their `for` window instead. Then min/max, cooldowns (a scale-out blocks scale-out
/// for cooldown_out; any change blocks scale-in for cooldown_in) and the `limit`s.
class PolicyEngine {
 public:
  explicit PolicyEngine(AutoscaleSpec spec);

  /// Decides for one evaluation. Call once per tick; `for` windows count from the
  /// first evaluation that met their condition.
  Decision evaluate(const Observation& observation);

  /// The loop carried out `decision` (or, in dry-run, pretended to): starts its
  /// cooldown and counts it against the `limit`s.
  void acted(const Decision& decision, TimePoint now);

  /// A scheduled action fired: its min/max replace the bounds until the next one,
  /// its desired count is applied at the next evaluation (clamped, whatever the
  /// cooldown), as AWS's scheduled actions.
  void apply_schedule(const ScheduledAction& action);

  int min() const noexcept { return min_; }
  int max() const noexcept { return max_; }
  const AutoscaleSpec& spec() const noexcept { return spec_; }

 private:
  /// One policy's opinion.
  struct Vote {
    Direction direction = Direction::kNone;
    int desired = 0;
    bool can_scale_in = false;     ///< a policy whose silence blocks scale-in
    bool bypass_cooldown = false;  ///< panic: scale out now
    std::string reason;
  };
  struct RuleState {
    std::optional<TimePoint> since;  ///< condition met since
    bool warned = false;
  };
  struct TargetState {
    std::deque<std::pair<TimePoint, double>> trend;  ///< (time, load) for `predictive`
    std::deque<std::pair<TimePoint, int>> recommendations;
  };

  Vote rule_vote(const ThresholdRule& rule, RuleState& state, const Observation& o, Decision& d);
  Vote step_vote(const StepPolicy& step, RuleState& state, const Observation& o, Decision& d);
  Vote target_vote(const TargetPolicy& target, TargetState& state, const Observation& o,
                   Decision& d);
  /// The value of `metric`, recorded into `d.values`.
  std::optional<double> read(const MetricRef& metric, const Observation& o, Decision& d);
  /// Whether the `for` window of a condition is complete (and its progress if not).
  bool held(bool met, Seconds hold, RuleState& state, TimePoint now, std::string& progress);
  /// The count the `limit`s allow from `current` in `direction`.
  int limited(int current, int desired, TimePoint now) const;

  AutoscaleSpec spec_;
  int min_ = 1, max_ = 1;
  std::optional<int> scheduled_desired_;
  std::vector<RuleState> rules_, steps_;
  std::vector<TargetState> targets_;
  std::optional<TimePoint> last_out_, last_change_;
  std::deque<std::pair<TimePoint, int>> changes_;  ///< (time, signed change)
};

/// AWS's rounding of an adjustment applied to `current` (PercentChangeInCapacity: a
/// result between 0 and 1 becomes 1, above 1 rounds down, symmetric for negatives;
/// then MinAdjustmentMagnitude).
int adjusted_capacity(const Adjustment& adjustment, int current);

/// Whether `value` meets `compare` against `threshold`.
bool compare(double value, Compare compare, double threshold);

/// ">", ">=", "<", "<=".
std::string_view compare_text(Compare compare);

}  // namespace tg::scaling
