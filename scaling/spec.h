// What an `autoscale` block says: the group's bounds, its metrics, its policies and
// how stable the result must be. Plain data, read by conf/ and acted on by the
// autoscaler; every default named here is the one the directive documents.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tg::scaling {

using Seconds = std::chrono::seconds;
using Millis = std::chrono::milliseconds;

/// A metric the balancer measures itself, or one a Prometheus query answers.
enum class MetricKind {
  kRps,      ///< responses per second
  kActive,   ///< active requests plus open tunnels
  kTunnels,  ///< open WebSocket/Upgrade tunnels
  kP50,      ///< response time quantiles, milliseconds
  kP95,
  kP99,
  kErrorRate,   ///< percent of responses that were 5xx or failed attempts
  kConnects,    ///< new upstream connections per second
  kWsMessages,  ///< WebSocket messages per second, both directions
  kExternal,    ///< a `metric NAME prometheus=... query=...` of the block
};

/// `rps`, `rps_per_server`, `p95`, `cpu` (an external metric's name), ...
struct MetricRef {
  MetricKind kind = MetricKind::kRps;
  /// Averaged over the servers that count (healthy, warm, not draining) instead of the
  /// group's total. Latency and error rate are group-wide either way.
  bool per_server = false;
  std::string external;  ///< the `metric` name when kind is kExternal
  std::string text;      ///< as written, for logs and the API
};

enum class Compare { kGreater, kGreaterEqual, kLess, kLessEqual };

/// A change of capacity with AWS's adjustment types.
struct Adjustment {
  enum class Type {
    kChange,   ///< ChangeInCapacity: +N / -N servers
    kPercent,  ///< PercentChangeInCapacity: +P% / -P% of the current count
    kExact,    ///< ExactCapacity: N servers
  };
  Type type = Type::kChange;
  double value = 1;
  /// MinAdjustmentMagnitude for kPercent (at least this many servers); 0 = none.
  int min_magnitude = 0;
};

/// `scale_out METRIC > VALUE for=T [by=+N|+P%] [warn=VALUE]` and `scale_in ... < ...`:
/// fires when the condition held at every evaluation for the whole `for` window.
struct ThresholdRule {
  bool out = true;  ///< scale_out (true) or scale_in
  MetricRef metric;
  Compare compare = Compare::kGreater;
  double value = 0;
  Seconds hold{0};  ///< for=T; 0 = fire at the first evaluation that meets it
  Adjustment by;    ///< default +1 (out) / -1 (in)
  /// warn=VALUE: the seeds' "warning" level: crossing it is logged once per episode.
  std::optional<double> warn;
};

/// `step METRIC > THRESHOLD [for=T] LOWER:UPPER=ADJ ...`: AWS step scaling. The bounds
/// are offsets from the threshold (empty = unbounded); the lower bound is inclusive and
/// the upper exclusive, as AWS's MetricIntervalLowerBound/UpperBound.
struct StepPolicy {
  MetricRef metric;
  Compare compare = Compare::kGreater;
  double threshold = 0;
  Seconds hold{0};
  struct Step {
    std::optional<double> lower, upper;
    Adjustment adjustment;
  };
  std::vector<Step> steps;
};

/// `target METRIC VALUE [tolerance=10%] [predictive] [trend=T] [lead=T] [panic=N|off]`:
/// Kubernetes HPA's rule, desired = ceil(ready × value / target), nothing within the
/// tolerance. `predictive` (tidegate) extrapolates the load's recent trend over `lead`
/// (the instance start-up time) and scales for the load to come. Panic (Knative): a
/// recommendation of at least `panic` times the ready servers scales out at once,
/// whatever the scale-out cooldown.
struct TargetPolicy {
  MetricRef metric;
  double target = 0;
  double tolerance = 0.1;
  bool predictive = false;
  /// How far back the trend is fitted: 1.5 × `lead` unless given (shorter fits
  /// extrapolate bursts over the whole start-up: `tidegate simulate` on a noisy trace).
  Seconds trend{90};
  Seconds lead{60};    ///< how far ahead it is extrapolated (start-up time)
  double panic = 2.0;  ///< 0 = off
};

/// `schedule "MIN HOUR DOM MON DOW" [tz=ZONE] [min=N] [max=N] [desired=N]`: AWS's
/// scheduled action: at each match, sets the bounds (kept until the next one) and
/// once the desired count.
struct ScheduledAction {
  std::string cron;  ///< five cron fields (or @daily, @hourly, ...)
  std::string tz = "UTC";
  std::optional<int> min, max, desired;
};

/// `limit out|in N/T | P%/T ...`: HPA `behavior` policies: at most N servers (or P% of
/// the count at the period's start) changed per period; with several, the most
/// permissive applies (HPA's selectPolicy Max).
struct ChangeLimit {
  bool out = true;
  bool percent = false;
  double value = 0;
  Seconds period{15};
};

/// `metric NAME prometheus=URL query=PROMQL [interval=T]`: an instant query whose
/// single value is the metric (per server when the query says so: divide in PromQL).
struct ExternalMetric {
  std::string name;
  std::string url;  ///< Prometheus base URL, http://host:port
  std::string query;
  Seconds interval{15};
};

/// `provider TYPE key=value ...`: which adapter adds and removes instances.
struct ProviderSpec {
  std::string type;  ///< local, exec, webhook, kubernetes, docker, digitalocean, aws
  std::vector<std::pair<std::string, std::string>> params;  ///< in conf order
  /// The first value of `key`, or nullopt.
  std::optional<std::string> param(std::string_view key) const {
    for (const auto& [k, v] : params) {
      if (k == key) return v;
    }
    return std::nullopt;
  }
};

/// One upstream's `autoscale { ... }` block.
struct AutoscaleSpec {
  ProviderSpec provider;
  int min = 1;               ///< `min N`, default 1
  int max = 1;               ///< `max N`, required
  Millis interval{1000};     ///< `interval T`: evaluation tick, default 1 s
  bool dry_run = false;      ///< `dry_run on`: decide and log, never act
  Seconds cooldown_out{60};  ///< `cooldown out=T in=T`: 60 s and 300 s
  Seconds cooldown_in{300};
  Seconds stabilize_out{0};  ///< `stabilization out=T in=T`: 0 s and 300 s (HPA)
  Seconds stabilize_in{300};
  Seconds warmup{0};        ///< `warmup T`: a new server's metrics count after it
  Millis drain_timeout{0};  ///< `drain_timeout T`; 0: the upstream's (or no limit)
  std::vector<ThresholdRule> rules;
  std::vector<StepPolicy> steps;
  std::vector<TargetPolicy> targets;
  std::vector<ScheduledAction> schedules;
  std::vector<ChangeLimit> limits;
  std::vector<ExternalMetric> metrics;
};

}  // namespace tg::scaling
