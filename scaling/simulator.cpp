// The simulator: trace parsing, the instance model stepping alongside the PolicyEngine,
// and the two writers. Windows are read from prefix sums so a step costs O(1) besides
// the engine's own evaluation.
#include "scaling/simulator.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <deque>

#include "scaling/policy.h"
#include "scaling/schedule.h"

namespace tg::scaling {
namespace {

constexpr double kWindowSeconds = 10;  // the live loop's rate and quantile window
constexpr double kMaxUtilisation = 0.98;
constexpr long kMaxSteps = 6'000'000;
// M/M/1 response time is exponential: quantile q = mean × −ln(1 − q).
const double kP50 = -std::log(0.5), kP95 = -std::log(0.05), kP99 = -std::log(0.01);

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto comma = line.find(',');
    out.push_back(trim(line.substr(0, comma)));
    if (comma == std::string_view::npos) return out;
    line.remove_prefix(comma + 1);
  }
}

double number(std::string_view field, int line) {
  double v = 0;
  const char* end = field.data() + field.size();
  const auto [p, ec] = std::from_chars(field.data(), end, v);
  if (field.empty() || ec != std::errc() || p != end || !std::isfinite(v)) {
    throw TraceError(line, "invalid number \"" + std::string(field) + "\"");
  }
  if (v < 0) throw TraceError(line, "negative value \"" + std::string(field) + "\"");
  return v;
}

std::optional<double> mix(const std::optional<double>& a, const std::optional<double>& b,
                          double f) {
  if (!a || !b) return std::nullopt;
  return *a + (*b - *a) * f;
}

/// A number as both writers print it (tidegate never calls setlocale: '.' decimals).
std::string fmt(double v, const char* format = "%.6g") {
  char buf[32];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

/// The metrics of one evaluation, computed from the model's windows.
class ModelMetrics : public MetricSource {
 public:
  std::optional<double> rps, active, p50, p95, p99, error_rate;
  int serving = 0, ready = 0;

  std::optional<double> value(const MetricRef& m) const override {
    std::optional<double> v;
    switch (m.kind) {
      case MetricKind::kRps:
        v = rps;
        break;
      case MetricKind::kActive:
        v = active;
        break;
      case MetricKind::kP50:
        return p50;
      case MetricKind::kP95:
        return p95;
      case MetricKind::kP99:
        return p99;
      case MetricKind::kErrorRate:
        return error_rate;
      default:
        return std::nullopt;
    }
    if (!m.per_server || !v) return v;
    if (ready <= 0 || serving <= 0) return std::nullopt;
    return *v / serving;
  }
};

/// Prefix sums of the per-step samples, so any window is two subtractions.
struct Samples {
  std::vector<double> load{0}, errors{0}, p50{0}, p95{0}, p99{0};  // p: × load
  std::vector<double> active;
  void push(double l, double e, double mean_ms, double a) {
    load.push_back(load.back() + l);
    errors.push_back(errors.back() + e);
    p50.push_back(p50.back() + l * mean_ms * kP50);
    p95.push_back(p95.back() + l * mean_ms * kP95);
    p99.push_back(p99.back() + l * mean_ms * kP99);
    active.push_back(a);
  }
  /// Steps [from, to) as the live loop's 10-second window reads them.
  void read(long from, long to, double dt, ModelMetrics& m) const {
    const double l = load[to] - load[from];
    const double seconds = static_cast<double>(to - from) * dt;
    m.rps = l / seconds;
    m.error_rate = l > 0 ? 100.0 * (errors[to] - errors[from]) / l : 0.0;
    m.p50 = l > 0 ? (p50[to] - p50[from]) / l : 0.0;
    m.p95 = l > 0 ? (p95[to] - p95[from]) / l : 0.0;
    m.p99 = l > 0 ? (p99[to] - p99[from]) / l : 0.0;
    m.active = active[to - 1];
  }
};

}  // namespace

std::vector<TracePoint> parse_trace(std::string_view csv) {
  std::vector<TracePoint> rows;
  int columns[4] = {-1, -1, -1, -1};  // time, rps, connections, latency_ms
  std::size_t width = 0;
  int line_no = 0;
  while (!csv.empty()) {
    const auto nl = csv.find('\n');
    std::string_view line = csv.substr(0, nl);
    csv.remove_prefix(nl == std::string_view::npos ? csv.size() : nl + 1);
    ++line_no;
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const auto fields = split_fields(line);
    if (width == 0) {
      static constexpr std::string_view kNames[] = {"time", "rps", "connections", "latency_ms"};
      for (std::size_t i = 0; i < fields.size(); ++i) {
        const auto* it = std::find(std::begin(kNames), std::end(kNames), fields[i]);
        if (it == std::end(kNames)) {
          throw TraceError(line_no, "unknown column \"" + std::string(fields[i]) +
                                        "\" (time,rps[,connections][,latency_ms])");
        }
        if (columns[it - kNames] >= 0) {
          throw TraceError(line_no, "duplicate column \"" + std::string(fields[i]) + "\"");
        }
        columns[it - kNames] = static_cast<int>(i);
      }
      if (columns[0] < 0 || columns[1] < 0) {
        throw TraceError(line_no, "the header must name \"time\" and \"rps\"");
      }
      width = fields.size();
      continue;
    }
    if (fields.size() != width) {
      throw TraceError(line_no, std::to_string(fields.size()) + " fields, the header has " +
                                    std::to_string(width));
    }
    TracePoint p;
    p.time = number(fields[columns[0]], line_no);
    p.rps = number(fields[columns[1]], line_no);
    // An empty optional field leaves the value unknown.
    if (columns[2] >= 0 && !fields[columns[2]].empty()) {
      p.connections = number(fields[columns[2]], line_no);
    }
    if (columns[3] >= 0 && !fields[columns[3]].empty()) {
      p.latency_ms = number(fields[columns[3]], line_no);
    }
    if (!rows.empty() && p.time < rows.back().time) {
      throw TraceError(line_no, "time " + fmt(p.time) + " is before the previous row's " +
                                    fmt(rows.back().time));
    }
    rows.push_back(p);
  }
  if (rows.empty()) throw TraceError(0, "no rows");
  return rows;
}

TracePoint trace_at(const std::vector<TracePoint>& trace, double time) {
  const auto next = std::upper_bound(trace.begin(), trace.end(), time,
                                     [](double t, const TracePoint& p) { return t < p.time; });
  if (next == trace.begin()) return trace.front();
  if (next == trace.end()) return trace.back();
  const TracePoint& a = *(next - 1);
  const TracePoint& b = *next;
  const double f = (time - a.time) / (b.time - a.time);  // b.time > time >= a.time
  return TracePoint{time, a.rps + (b.rps - a.rps) * f, mix(a.connections, b.connections, f),
                    mix(a.latency_ms, b.latency_ms, f)};
}

SimResult simulate(const AutoscaleSpec& spec, const std::vector<TracePoint>& trace,
                   const InstanceModel& model) {
  if (trace.empty()) throw std::invalid_argument("empty trace");
  using std::chrono::nanoseconds;
  // Step at most a second, a whole fraction of the interval, so windows stay honest
  // when the evaluation interval is long (HPA's 15 s).
  const auto interval = std::chrono::duration_cast<nanoseconds>(spec.interval);
  const long per_eval =
      std::max<long>(1, static_cast<long>(std::ceil(static_cast<double>(interval.count()) / 1e9)));
  const nanoseconds step = interval / per_eval;
  const double dt = static_cast<double>(step.count()) / 1e9;
  const long steps = std::max<long>(1, std::lround(std::ceil(trace.back().time / dt - 1e-9)));
  const long window = std::max<long>(1, std::lround(kWindowSeconds / dt));
  const long lag = std::lround(static_cast<double>(model.metric_lag.count()) / dt);
  const double startup = static_cast<double>(model.startup.count());
  const double warmup = static_cast<double>(spec.warmup.count());
  // About 150 bytes a step are kept: a bound that still allows two months at 1 s.
  if (steps > kMaxSteps) {
    throw std::invalid_argument("the trace is too long: " + std::to_string(steps) +
                                " steps at the interval's resolution (at most " +
                                std::to_string(kMaxSteps) + ")");
  }

  PolicyEngine engine(spec);
  Schedules schedules(spec.schedules, model.start);
  SimResult result;
  result.capacity = model.capacity;
  SimSummary& sum = result.summary;
  // Serving times, ascending: new instances go at the back, scale-in pops the youngest.
  // By default the run starts with what the first load needs, so no policy is blamed for
  // a deficit it inherited.
  const int first_need = static_cast<int>(std::ceil(trace.front().rps / model.capacity - 1e-9));
  std::vector<double> instances(
      model.initial > 0 ? model.initial : std::clamp(first_need, spec.min, spec.max), -1e18);
  Samples samples;
  double load_total = 0;
  std::vector<int> needed_by_step;
  needed_by_step.reserve(steps);
  result.ticks.reserve(steps / per_eval + 1);

  // Instances serving since `since` or earlier.
  auto count_at = [&](double since) {
    return static_cast<int>(std::upper_bound(instances.begin(), instances.end(), since) -
                            instances.begin());
  };
  for (long i = 0; i < steps; ++i) {
    const double t = static_cast<double>(i) * dt;
    const bool evaluating = i % per_eval == 0;
    std::string cause;
    double rps_seen = 0;
    if (evaluating) {
      const auto wall = model.start + std::chrono::seconds(static_cast<long>(std::floor(t)));
      for (const ScheduledAction* a : schedules.due(wall)) {
        engine.apply_schedule(*a);
        const int n = static_cast<int>(instances.size());
        result.events.push_back({t, n, n, "schedule",
                                 "scheduled action \"" + a->cron + "\" (" + a->tz + "): min " +
                                     std::to_string(engine.min()) + ", max " +
                                     std::to_string(engine.max()) +
                                     (a->desired ? ", desired " + std::to_string(*a->desired) : ""),
                                 true});
      }
      ModelMetrics metrics;
      metrics.serving = count_at(t);
      metrics.ready = count_at(t - warmup);
      const long to = i - lag;  // steps before `to` are measured
      if (to > 0) samples.read(std::max(0L, to - window), to, dt, metrics);
      rps_seen = metrics.rps.value_or(0);
      Observation o{TimePoint{} + step * i, static_cast<int>(instances.size()), metrics.ready,
                    &metrics};
      const Decision d = engine.evaluate(o);
      cause = d.cause;
      if (d.direction != Direction::kNone) {
        engine.acted(d, o.now);
        if (d.desired > d.current) {
          instances.insert(instances.end(), static_cast<std::size_t>(d.desired - d.current),
                           t + startup);
        } else {
          instances.resize(static_cast<std::size_t>(std::max(0, d.desired)));
        }
        ++sum.changes;
        result.events.push_back({t, d.current, d.desired, d.cause, d.reason, false});
      }
    }
    // This step's traffic on the instances serving after the decision.
    const TracePoint load = trace_at(trace, t);
    const int serving = count_at(t);
    const double capacity = serving * model.capacity;
    const double rho =
        capacity > 0 ? std::min(load.rps / capacity, kMaxUtilisation) : kMaxUtilisation;
    const double mean_ms = load.latency_ms.value_or(model.latency_ms) / (1 - rho);
    const double errors = std::max(0.0, load.rps - capacity);
    const double active = load.connections.value_or(load.rps * mean_ms / 1000);
    samples.push(load.rps, errors, mean_ms, active);
    const int needed = static_cast<int>(std::ceil(load.rps / model.capacity - 1e-9));
    needed_by_step.push_back(needed);
    const int current = static_cast<int>(instances.size());
    sum.deficit_instance_s += std::max(0, needed - serving) * dt;
    if (load.rps > capacity + 1e-9) sum.overloaded_s += dt;
    sum.instance_hours += current * dt;  // seconds until the end
    sum.max_instances = std::max(sum.max_instances, current);
    sum.p95_max_ms = std::max(sum.p95_max_ms, mean_ms * kP95);
    sum.p95_mean_ms += load.rps * mean_ms * kP95;
    load_total += load.rps;
    if (evaluating) {
      result.ticks.push_back(SimTick{t, load.rps, rps_seen, active, mean_ms * kP95,
                                     load.rps > 0 ? 100 * errors / load.rps : 0, current, serving,
                                     needed, std::move(cause)});
    }
  }
  sum.duration_s = static_cast<double>(steps) * dt;
  sum.p95_mean_ms = load_total > 0 ? sum.p95_mean_ms / load_total : 0;

  // The limit: the most instances needed within start-up + warm-up from now, each
  // step, as a sliding maximum from the end.
  const long ahead = std::lround(std::ceil((startup + warmup) / dt - 1e-9));
  std::deque<long> best;  // step indices, their needs decreasing
  auto bounded = [&](long j) { return std::clamp(needed_by_step[j], spec.min, spec.max); };
  for (long i = steps - 1; i >= 0; --i) {
    while (!best.empty() && bounded(best.back()) <= bounded(i)) best.pop_back();
    best.push_back(i);
    while (best.front() > i + ahead) best.pop_front();
    sum.limit_instance_hours += bounded(best.front()) * dt;
  }
  sum.instance_hours /= 3600;
  sum.limit_instance_hours /= 3600;
  return result;
}

std::string ticks_csv(const SimResult& result) {
  std::string out = "time,load_rps,rps_seen,active,p95_ms,error_pct,current,serving,needed,cause\n";
  out.reserve(out.size() + result.ticks.size() * 64);
  for (const auto& t : result.ticks) {
    out += fmt(t.time, "%.10g") + ',' + fmt(t.load) + ',' + fmt(t.rps_seen) + ',' + fmt(t.active) +
           ',' + fmt(t.p95_ms) + ',' + fmt(t.error_rate) + ',' + std::to_string(t.current) + ',' +
           std::to_string(t.serving) + ',' + std::to_string(t.needed) + ',' + t.cause + '\n';
  }
  return out;
}

namespace {

constexpr double kWidth = 960, kLeft = 70, kRight = 20, kHeight = 548;
constexpr int kColumns = 870;  // one bucket per pixel of the plot's width

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    const char* entity = c == '&'   ? "&amp;"
                         : c == '<' ? "&lt;"
                         : c == '>' ? "&gt;"
                         : c == '"' ? "&quot;"
                                    : nullptr;
    if (entity) {
      out += entity;
    } else {
      out += c;
    }
  }
  return out;
}

/// The smallest of 1, 2, 2.5, 5 × 10^n at least `v`: an axis maximum a reader can use.
double nice_ceil(double v) {
  if (v <= 0) return 1;
  const double p = std::pow(10, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 2.5, 5.0}) {
    if (m * p >= v * (1 - 1e-9)) return m * p;
  }
  return 10 * p;
}

/// One horizontal band of the chart sharing the time axis.
struct Panel {
  double top, height, max;
  double y(double v) const { return top + height - std::clamp(v / max, 0.0, 1.0) * height; }
};

/// Chart geometry over a run's duration.
struct Frame {
  double duration;
  double x(double t) const { return kLeft + t / duration * (kWidth - kLeft - kRight); }
};

/// `value(tick)` reduced to one point per pixel column, as polyline points: the worst of
/// the column (the maximum, or with `lowest` the minimum) so a short dip or peak shows.
template <typename F>
std::string points(const SimResult& r, const Frame& f, const Panel& p, F value,
                   bool lowest = false) {
  std::vector<std::optional<double>> cols(kColumns);
  for (const auto& t : r.ticks) {
    const auto c = std::min<std::size_t>(kColumns - 1,
                                         static_cast<std::size_t>(t.time / f.duration * kColumns));
    const double v = value(t);
    cols[c] = !cols[c] ? v : lowest ? std::min(*cols[c], v) : std::max(*cols[c], v);
  }
  std::string out;
  for (std::size_t c = 0; c < cols.size(); ++c) {
    if (!cols[c]) continue;
    const double x = f.x((static_cast<double>(c) + 0.5) * f.duration / kColumns);
    out += fmt(x, "%.1f") + ',' + fmt(p.y(*cols[c]), "%.1f") + ' ';
  }
  if (!out.empty()) out.pop_back();
  return out;
}

std::string panel_frame(const Panel& p, std::string_view title, std::string_view unit) {
  std::string out = "<rect class=\"frame\" x=\"" + fmt(kLeft) + "\" y=\"" + fmt(p.top) +
                    "\" width=\"" + fmt(kWidth - kLeft - kRight) + "\" height=\"" + fmt(p.height) +
                    "\"/>\n";
  out += "<text class=\"title\" x=\"" + fmt(kLeft) + "\" y=\"" + fmt(p.top - 6) + "\">" +
         escape(title) + "</text>\n";
  for (double f : {0.0, 0.5, 1.0}) {
    const double y = p.y(p.max * f);
    if (f == 0.5) {
      out += "<line class=\"grid\" x1=\"" + fmt(kLeft) + "\" x2=\"" + fmt(kWidth - kRight) +
             "\" y1=\"" + fmt(y, "%.1f") + "\" y2=\"" + fmt(y, "%.1f") + "\"/>\n";
    }
    out += "<text class=\"axis\" x=\"" + fmt(kLeft - 6) + "\" y=\"" + fmt(y + 4, "%.1f") +
           "\" text-anchor=\"end\">" + fmt(p.max * f) + (f == 1.0 ? std::string(unit) : "") +
           "</text>\n";
  }
  return out;
}

}  // namespace

std::string svg_chart(const SimResult& r, std::string_view title) {
  const Frame f{std::max(r.summary.duration_s, 1e-9)};
  double load_max = 0, p95_max = 0;
  int instances_max = 0;
  for (const auto& t : r.ticks) {
    load_max = std::max({load_max, t.load, t.serving * r.capacity});
    p95_max = std::max(p95_max, t.p95_ms);
    instances_max = std::max({instances_max, t.current, t.serving});
  }
  const Panel load{40, 170, nice_ceil(load_max)};
  const Panel inst{240, 130, static_cast<double>((instances_max + 3) / 2 * 2)};  // even, room
  const Panel p95{400, 110, nice_ceil(p95_max)};
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt(kWidth) +
                    "\" height=\"" + fmt(kHeight) + "\" viewBox=\"0 0 " + fmt(kWidth) + " " +
                    fmt(kHeight) + "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  out +=
      "<style>.frame{fill:#fff;stroke:#999}.grid{stroke:#ddd}.title{font-weight:bold}"
      ".axis{fill:#555}.load{fill:none;stroke:#1f77b4;stroke-width:1.5}"
      ".capacity{fill:none;stroke:#777;stroke-dasharray:4 3}"
      ".current{fill:none;stroke:#ff7f0e;stroke-width:1.5}.serving{fill:none;stroke:#2ca02c}"
      ".p95{fill:none;stroke:#d62728;stroke-width:1.2}.event.out{fill:#ff7f0e}"
      ".event.in{fill:#9467bd}.schedule{stroke:#8c564b;stroke-dasharray:2 4}</style>\n";
  out += "<rect width=\"100%\" height=\"100%\" fill=\"#fafafa\"/>\n";
  out += "<text x=\"" + fmt(kLeft) + "\" y=\"18\" font-size=\"13\">" + escape(title) + "</text>\n";
  out += panel_frame(load, "load, req/s (blue); capacity of the serving instances (dashed)", "");
  out += panel_frame(inst, "instances: paid for (orange), serving (green); ▲ out, ▼ in", "");
  out += panel_frame(p95, "p95 latency", " ms");
  // Time axis: about ten ticks at a round step.
  double tick = 60;
  for (double s : {60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400}) {
    tick = s;
    if (f.duration / s <= 12) break;
  }
  for (double t = 0; t <= f.duration + 1e-9; t += tick) {
    const auto minutes = static_cast<long>(std::lround(t / 60));
    char label[32];
    std::snprintf(label, sizeof label, "%ld:%02ld", minutes / 60, minutes % 60);
    out += "<line class=\"grid\" x1=\"" + fmt(f.x(t), "%.1f") + "\" x2=\"" + fmt(f.x(t), "%.1f") +
           "\" y1=\"" + fmt(load.top) + "\" y2=\"" + fmt(p95.top + p95.height) + "\"/>\n";
    out += "<text class=\"axis\" x=\"" + fmt(f.x(t), "%.1f") + "\" y=\"" +
           fmt(p95.top + p95.height + 16) + "\" text-anchor=\"middle\">" + label + "</text>\n";
  }
  auto polyline = [&](std::string_view cls, const std::string& pts) {
    out += "<polyline class=\"" + std::string(cls) + "\" points=\"" + pts + "\"/>\n";
  };
  // Capacity and serving instances at their lowest per pixel, load and cost at their
  // highest: the chart shows the worst of each column.
  const auto capacity = [&](const SimTick& t) { return t.serving * r.capacity; };
  const auto serving = [](const SimTick& t) { return double(t.serving); };
  polyline("capacity", points(r, f, load, capacity, true));
  polyline("load", points(r, f, load, [](const SimTick& t) { return t.load; }));
  polyline("serving", points(r, f, inst, serving, true));
  polyline("current", points(r, f, inst, [](const SimTick& t) { return double(t.current); }));
  polyline("p95", points(r, f, p95, [](const SimTick& t) { return t.p95_ms; }));
  for (const auto& e : r.events) {
    const std::string x = fmt(f.x(e.time), "%.1f");
    const std::string when = fmt(e.time, "%.0f") + " s: ";
    if (e.scheduled) {
      out += "<line class=\"schedule\" x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + fmt(load.top) +
             "\" y2=\"" + fmt(p95.top + p95.height) + "\"><title>" + escape(when + e.reason) +
             "</title></line>\n";
      continue;
    }
    const bool up = e.to > e.from;
    const double y = inst.y(e.to);
    // A triangle on the new count: pointing up for a scale-out, down for a scale-in.
    out += "<path class=\"event " + std::string(up ? "out" : "in") + "\" d=\"M" +
           fmt(f.x(e.time) - 4, "%.1f") + "," + fmt(y, "%.1f") +
           (up ? " h8 l-4,-8 z" : " h8 l-4,8 z") + "\"><title>" +
           escape(when + std::to_string(e.from) + " -> " + std::to_string(e.to) + ": " + e.reason) +
           "</title></path>\n";
  }
  out += "</svg>\n";
  return out;
}

}  // namespace tg::scaling
