// `tidegate simulate`: a load trace replayed through the very PolicyEngine the live loop
// runs, on a simulated clock, against a model of instances. Pure: no conf, no files, no
// wall clock, so a day of one-second ticks runs in a fraction of a second and two runs
// are equal.
//
// The model, per step (one second, or the evaluation interval when it is shorter):
// - Load: the trace, read linearly between its rows (held flat after the last one).
// - Instances: a scale-out starts instances that serve `startup` seconds later and count
//   as ready (in per-server averages, HPA's "ready pods") `warmup` seconds after that;
//   until they serve they are paid for and counted in Observation::current. A scale-in
//   removes instances at once, the youngest first (so still-starting ones go first):
//   draining is not modelled, the live loop's drain only delays a removal the load no
//   longer needs. Provider calls take no time (the start-up covers them).
// - Latency: each instance is an M/M/1 queue. With ρ = load / (serving × capacity),
//   capped at 0.98, the response time is exponential with mean latency / (1 − ρ), so
//   p50, p95 and p99 are that mean × 0.69, 3.00 and 4.61. Load above serving × capacity
//   is answered 5xx (the overload).
// - Metrics, as the live loop measures them: `rps` counts every response, 5xx too, so it
//   is the load offered; rates, quantiles and error_rate are means over the last 10 s
//   (quantiles weighted by load), read `metric_lag` seconds late (0: the balancer's own
//   counters; HPA's metrics pipeline is about 30 s). `active` is the last second's: the
//   trace's connections, or Little's law load × mean latency without them. Per-server
//   values divide by the serving instances (each gets an equal share). Tunnels,
//   connects, WebSocket messages and external metrics are unknown.
// - The run starts with the instances the first row needs, serving, and ends at the
//   last row. Scheduled actions fire on the simulated wall clock `start` + trace time.
// - Scores: deficit and overload against ceil(load / capacity) on serving instances;
//   cost on every instance paid for; the limit is the cost of a policy that knows the
//   load start-up + warm-up ahead (the anchor).
// - `dry_run` is ignored: a simulation shows what the policies would do.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "scaling/spec.h"

namespace tg::scaling {

/// One row of a load trace: `time,rps[,connections][,latency_ms]`.
struct TracePoint {
  double time = 0;                    ///< seconds from the trace's start
  double rps = 0;                     ///< requests per second offered
  std::optional<double> connections;  ///< concurrent connections (else Little's law)
  std::optional<double> latency_ms;   ///< idle service time (else the model's)
};

/// A bad trace line; `line` is 1-based (0: the trace as a whole).
class TraceError : public std::runtime_error {
 public:
  TraceError(int line, const std::string& message) : std::runtime_error(message), line(line) {}
  int line;
};

/// Parses a trace CSV: a header naming `time,rps` and optionally `connections` and
/// `latency_ms` (in any order), then rows with times that do not go back. Blank lines
/// and `#` comments are skipped. Throws TraceError ("invalid number \"abc\"").
std::vector<TracePoint> parse_trace(std::string_view csv);

/// The trace read at any time: linear between rows, flat before the first and after the
/// last. A column some rows lack is unknown between them.
TracePoint trace_at(const std::vector<TracePoint>& trace, double time);

/// The instances and how they answer. Defaults: the anchors.
struct InstanceModel {
  std::chrono::seconds startup{60};    ///< `--startup`: from scale-out to serving
  double capacity = 400;               ///< `--capacity`: req/s per instance before overload
  double latency_ms = 50;              ///< `--latency`: mean service time at idle
  std::chrono::seconds metric_lag{0};  ///< `--metric-lag`: metrics pipeline delay
  /// Instances serving at the start; 0: ceil(first load / capacity) within min..max.
  int initial = 0;
  /// `--start`: the wall-clock time of trace time 0, for scheduled actions (a Monday).
  std::chrono::sys_seconds start{
      std::chrono::sys_days{std::chrono::year{2026} / std::chrono::January / 5}};
};

/// One evaluation tick.
struct SimTick {
  double time = 0;        ///< seconds from the trace's start
  double load = 0;        ///< req/s offered now
  double rps_seen = 0;    ///< the `rps` the policies read (windowed, lagged)
  double active = 0;      ///< concurrent connections now
  double p95_ms = 0;      ///< now
  double error_rate = 0;  ///< percent answered 5xx now
  int current = 0;        ///< instances paid for after the decision (starting included)
  int serving = 0;        ///< instances past start-up
  int needed = 0;         ///< ceil(load / capacity)
  std::string cause;      ///< the decision's cause ("policy", "hold", "cooldown", ...)
};

/// A scaling change, or a scheduled action firing (`from` == `to`, cause "schedule").
struct SimEvent {
  double time = 0;
  int from = 0, to = 0;
  std::string cause;
  std::string reason;
  bool scheduled = false;  ///< a `schedule` line fired (not itself a change)
};

/// The run's score. Deficit and overload count serving instances only.
struct SimSummary {
  double duration_s = 0;
  double deficit_instance_s = 0;  ///< ∫ max(0, ceil(load / capacity) − serving) dt
  double overloaded_s = 0;        ///< time with load > serving × capacity
  double instance_hours = 0;      ///< ∫ current dt: what the instances cost
  int changes = 0;                ///< scaling changes made (any cause)
  int max_instances = 0;
  double p95_max_ms = 0;
  double p95_mean_ms = 0;  ///< weighted by load: a typical request's p95
  /// The limit: instances = clamp(ceil(load / capacity), min, max), each started
  /// start-up + warm-up ahead of need by a policy that knows the load that far ahead.
  double limit_instance_hours = 0;
};

/// What a run produced.
struct SimResult {
  std::vector<SimTick> ticks;  ///< one per evaluation
  std::vector<SimEvent> events;
  SimSummary summary;
  double capacity = 0;  ///< the model's, for the chart
};

/// Replays `trace` (at least one row) from time 0 to its last row through `spec`'s
/// policies. Throws std::invalid_argument for a schedule line Schedules refuses and for
/// a trace of more than 6,000,000 steps (69 days at 1 s).
SimResult simulate(const AutoscaleSpec& spec, const std::vector<TracePoint>& trace,
                   const InstanceModel& model);

/// `ticks.csv`: a header, then one line per tick.
std::string ticks_csv(const SimResult& result);

/// `chart.svg`: load and serving capacity, instances with a marker per scaling change
/// (class "event out"/"event in") and scheduled actions, and p95, over time.
std::string svg_chart(const SimResult& result, std::string_view title);

}  // namespace tg::scaling
