// tidegate's `autoscale { ... }` block (upstream): bounds, provider, policies, schedules
// and stability settings (grammar in README "Autoscaling"). Each line names the AWS or
// Kubernetes semantics it follows where it is parsed.
#include <boost/asio/io_context.hpp>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "conf/directive_args.h"
#include "conf/modules/modules.h"
#include "scaling/provider.h"
#include "scaling/schedule.h"

namespace tg::conf::modules {
namespace {

using scaling::Adjustment;
using scaling::AutoscaleSpec;
using scaling::Compare;
using scaling::MetricKind;
using scaling::MetricRef;
using scaling::Seconds;

[[noreturn]] void invalid(const Directive& d, const std::string& arg) {
  fail(d, "invalid parameter \"" + arg + "\"");
}

bool split_param(const std::string& arg, std::string& key, std::string& value) {
  const size_t eq = arg.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  key = arg.substr(0, eq);
  value = arg.substr(eq + 1);
  return true;
}

/// A duration in nginx's syntax ("30s", "5m", "1h", "500ms"), whole seconds at least 0.
Seconds seconds_value(const Directive& d, const std::string& arg, const std::string& text) {
  int64_t ms = 0;
  if (!parse_nginx_time(text, false, ms) || ms < 0 || ms > 366LL * 86'400'000) invalid(d, arg);
  return std::chrono::duration_cast<Seconds>(Millis(ms));
}

/// A number with an optional unit: "300", "2.5", "2%", "800ms", "0.8s" (latencies are
/// milliseconds, rates percent).
bool parse_value(const std::string& text, double& out) {
  std::string number = text;
  double scale = 1;
  if (number.ends_with("ms")) {
    number.resize(number.size() - 2);
  } else if (number.ends_with("s")) {
    number.resize(number.size() - 1);
    scale = 1000;
  } else if (number.ends_with("%")) {
    number.resize(number.size() - 1);
  }
  if (number.empty()) return false;
  try {
    size_t used = 0;
    out = std::stod(number, &used) * scale;
    return used == number.size() && std::isfinite(out);
  } catch (const std::exception&) {
    return false;
  }
}

int count_value(const Directive& d, const std::string& arg, const std::string& text, int min,
                int max) {
  int n = 0;
  if (!parse_int(text, n) || n < min || n > max) invalid(d, arg);
  return n;
}

/// `rps`, `rps_per_server`, `p95`, ... or the name of a `metric` line.
MetricRef metric_ref(const Directive& d, const std::string& text, const AutoscaleSpec& spec) {
  MetricRef m;
  m.text = text;
  std::string base = text;
  if (base.ends_with("_per_server")) {
    base.resize(base.size() - std::string_view("_per_server").size());
    m.per_server = true;
  }
  static const std::pair<std::string_view, MetricKind> kNames[] = {
      {"rps", MetricKind::kRps},
      {"active", MetricKind::kActive},
      {"tunnels", MetricKind::kTunnels},
      {"p50", MetricKind::kP50},
      {"p95", MetricKind::kP95},
      {"p99", MetricKind::kP99},
      {"error_rate", MetricKind::kErrorRate},
      {"connects", MetricKind::kConnects},
      {"ws_messages", MetricKind::kWsMessages},
  };
  for (const auto& [name, kind] : kNames) {
    if (base != name) continue;
    m.kind = kind;
    const bool additive = kind == MetricKind::kRps || kind == MetricKind::kActive ||
                          kind == MetricKind::kTunnels || kind == MetricKind::kConnects ||
                          kind == MetricKind::kWsMessages;
    if (m.per_server && !additive) fail(d, "metric \"" + text + "\" is group-wide only");
    return m;
  }
  for (const auto& e : spec.metrics) {
    if (e.name == text) {
      m.kind = MetricKind::kExternal;
      m.external = text;
      m.per_server = false;
      return m;
    }
  }
  fail(d, "unknown metric \"" + text + "\"");
}

Compare compare_op(const Directive& d, const std::string& text) {
  if (text == ">") return Compare::kGreater;
  if (text == ">=") return Compare::kGreaterEqual;
  if (text == "<") return Compare::kLess;
  if (text == "<=") return Compare::kLessEqual;
  fail(d, "invalid comparison \"" + text + "\" (>, >=, < or <=)");
}

/// "+1", "-2", "+50%", "-25%" (a change) or "4" (an exact count), AWS's three types.
bool parse_adjustment(const std::string& text, Adjustment& out) {
  if (text.empty()) return false;
  const bool signed_ = text[0] == '+' || text[0] == '-';
  std::string number = signed_ ? text.substr(1) : text;
  const bool percent = number.ends_with("%");
  if (percent) number.pop_back();
  int n = 0;
  if (!parse_int(number, n)) return false;
  if (!signed_) {
    if (percent) return false;
    out.type = Adjustment::Type::kExact;
    out.value = n;
    return true;
  }
  out.type = percent ? Adjustment::Type::kPercent : Adjustment::Type::kChange;
  out.value = text[0] == '-' ? -n : n;
  return true;
}

// scale_out METRIC OP VALUE [for=T] [by=ADJ] [min_adjustment=N] [warn=V]: the seeds'
// threshold rules; fires when the condition held at every evaluation for `for`.
void threshold_rule(const Directive& d, AutoscaleSpec& spec) {
  if (d.args.size() < 3) fail(d, "invalid number of arguments in \"" + d.name + "\" directive");
  scaling::ThresholdRule r;
  r.out = d.name == "scale_out";
  r.metric = metric_ref(d, d.args[0], spec);
  r.compare = compare_op(d, d.args[1]);
  if (!parse_value(d.args[2], r.value)) invalid(d, d.args[2]);
  r.by.value = r.out ? 1 : -1;
  for (size_t i = 3; i < d.args.size(); ++i) {
    std::string key, value;
    if (!split_param(d.args[i], key, value)) invalid(d, d.args[i]);
    if (key == "for") {
      r.hold = seconds_value(d, d.args[i], value);
    } else if (key == "by") {
      if (!parse_adjustment(value, r.by) || r.by.type == Adjustment::Type::kExact ||
          (r.by.value > 0) != r.out || r.by.value == 0) {
        invalid(d, d.args[i]);
      }
    } else if (key == "min_adjustment") {
      r.by.min_magnitude = count_value(d, d.args[i], value, 1, 1000);
    } else if (key == "warn") {
      double w = 0;
      if (!parse_value(value, w)) invalid(d, d.args[i]);
      r.warn = w;
    } else {
      invalid(d, d.args[i]);
    }
  }
  spec.rules.push_back(std::move(r));
}

// step METRIC OP THRESHOLD [for=T] [min_adjustment=N] LOWER:UPPER=ADJ...: AWS step
// scaling; bounds are offsets from the threshold, an empty side is unbounded.
void step_policy(const Directive& d, AutoscaleSpec& spec) {
  if (d.args.size() < 4) fail(d, "invalid number of arguments in \"step\" directive");
  scaling::StepPolicy p;
  p.metric = metric_ref(d, d.args[0], spec);
  p.compare = compare_op(d, d.args[1]);
  if (!parse_value(d.args[2], p.threshold)) invalid(d, d.args[2]);
  int min_adjustment = 0;
  for (size_t i = 3; i < d.args.size(); ++i) {
    const std::string& a = d.args[i];
    std::string key, value;
    if (!split_param(a, key, value)) invalid(d, a);
    const size_t colon = key.find(':');
    if (colon == std::string::npos) {
      if (key == "for") {
        p.hold = seconds_value(d, a, value);
      } else if (key == "min_adjustment") {
        min_adjustment = count_value(d, a, value, 1, 1000);
      } else {
        invalid(d, a);
      }
      continue;
    }
    scaling::StepPolicy::Step s;
    const std::string lo = key.substr(0, colon), hi = key.substr(colon + 1);
    double bound = 0;
    if (!lo.empty()) {
      if (!parse_value(lo, bound)) invalid(d, a);
      s.lower = bound;
    }
    if (!hi.empty()) {
      if (!parse_value(hi, bound)) invalid(d, a);
      s.upper = bound;
    }
    if ((s.lower && s.upper && *s.lower >= *s.upper) || !parse_adjustment(value, s.adjustment)) {
      invalid(d, a);
    }
    p.steps.push_back(s);
  }
  if (p.steps.empty()) fail(d, "\"step\" directive needs at least one LOWER:UPPER=ADJUSTMENT");
  for (auto& s : p.steps) s.adjustment.min_magnitude = min_adjustment;
  spec.steps.push_back(std::move(p));
}

// target METRIC VALUE [tolerance=P%] [predictive] [trend=T] [lead=T] [panic=N|off]:
// Kubernetes HPA's target tracking (tidegate's predictive mode).
void target_policy(const Directive& d, AutoscaleSpec& spec) {
  if (d.args.size() < 2) fail(d, "invalid number of arguments in \"target\" directive");
  scaling::TargetPolicy t;
  t.metric = metric_ref(d, d.args[0], spec);
  if (!parse_value(d.args[1], t.target) || t.target <= 0) invalid(d, d.args[1]);
  bool trend_given = false;
  for (size_t i = 2; i < d.args.size(); ++i) {
    const std::string& a = d.args[i];
    if (a == "predictive") {
      t.predictive = true;
      continue;
    }
    std::string key, value;
    if (!split_param(a, key, value)) invalid(d, a);
    if (key == "tolerance") {
      double pct = 0;
      if (!value.ends_with("%") || !parse_value(value, pct) || pct < 0 || pct >= 100) {
        invalid(d, a);
      }
      t.tolerance = pct / 100;
    } else if (key == "trend") {
      t.trend = seconds_value(d, a, value);
      trend_given = true;
      if (t.trend.count() < 3) invalid(d, a);
    } else if (key == "lead") {
      t.lead = seconds_value(d, a, value);
    } else if (key == "panic") {
      if (value == "off") {
        t.panic = 0;
      } else if (!parse_value(value, t.panic) || t.panic <= 1) {
        invalid(d, a);
      }
    } else {
      invalid(d, a);
    }
  }
  if (!trend_given) t.trend = t.lead * 3 / 2;
  spec.targets.push_back(std::move(t));
}

// schedule "CRON" [tz=ZONE] [min=N] [max=N] [desired=N]: AWS's scheduled actions.
void schedule(const Directive& d, AutoscaleSpec& spec) {
  scaling::ScheduledAction s;
  s.cron = d.args[0];
  for (size_t i = 1; i < d.args.size(); ++i) {
    std::string key, value;
    if (!split_param(d.args[i], key, value)) invalid(d, d.args[i]);
    if (key == "tz") {
      s.tz = value;
    } else if (key == "min") {
      s.min = count_value(d, d.args[i], value, 0, 10'000);
    } else if (key == "max") {
      s.max = count_value(d, d.args[i], value, 1, 10'000);
    } else if (key == "desired") {
      s.desired = count_value(d, d.args[i], value, 0, 10'000);
    } else {
      invalid(d, d.args[i]);
    }
  }
  if (!s.min && !s.max && !s.desired)
    fail(d, "\"schedule\" directive sets none of min=, max=, desired=");
  if (const std::string error = scaling::Schedules::check(s); !error.empty()) fail(d, error);
  spec.schedules.push_back(std::move(s));
}

// limit out|in N/T|P%/T...: HPA behavior policies (the most permissive applies).
void limit(const Directive& d, AutoscaleSpec& spec) {
  if (d.args.size() < 2 || (d.args[0] != "out" && d.args[0] != "in")) {
    fail(d, "invalid parameters in \"limit\" directive: limit out|in N/PERIOD|P%/PERIOD ...");
  }
  for (size_t i = 1; i < d.args.size(); ++i) {
    const std::string& a = d.args[i];
    const size_t slash = a.find('/');
    if (slash == std::string::npos) invalid(d, a);
    scaling::ChangeLimit l;
    l.out = d.args[0] == "out";
    std::string amount = a.substr(0, slash);
    l.percent = amount.ends_with("%");
    if (l.percent) amount.pop_back();
    l.value = count_value(d, a, amount, 1, l.percent ? 1000 : 10'000);
    l.period = seconds_value(d, a, a.substr(slash + 1));
    if (l.period.count() < 1) invalid(d, a);
    spec.limits.push_back(l);
  }
}

// metric NAME prometheus=URL query=PROMQL [interval=T]: an external metric.
void external_metric(const Directive& d, AutoscaleSpec& spec) {
  scaling::ExternalMetric m;
  m.name = d.args[0];
  for (size_t i = 1; i < d.args.size(); ++i) {
    std::string key, value;
    if (!split_param(d.args[i], key, value)) invalid(d, d.args[i]);
    if (key == "prometheus") {
      if (!value.starts_with("http://") && !value.starts_with("https://")) invalid(d, d.args[i]);
      m.url = value;
    } else if (key == "query") {
      m.query = value;
    } else if (key == "interval") {
      m.interval = seconds_value(d, d.args[i], value);
      if (m.interval.count() < 1) invalid(d, d.args[i]);
    } else {
      invalid(d, d.args[i]);
    }
  }
  if (m.url.empty() || m.query.empty())
    fail(d, "\"metric\" directive needs prometheus= and query=");
  for (const auto& e : spec.metrics) {
    if (e.name == m.name) fail(d, "duplicate metric \"" + m.name + "\"");
  }
  spec.metrics.push_back(std::move(m));
}

// cooldown out=T in=T (AWS: 60 s and 300 s) / stabilization out=T in=T (HPA: 0 and 300 s).
void pair_of_times(const Directive& d, Seconds& out, Seconds& in) {
  for (const auto& a : d.args) {
    std::string key, value;
    if (!split_param(a, key, value)) invalid(d, a);
    if (key == "out") {
      out = seconds_value(d, a, value);
    } else if (key == "in") {
      in = seconds_value(d, a, value);
    } else {
      invalid(d, a);
    }
  }
}

}  // namespace

bool autoscale(const Directive& block, std::optional<AutoscaleSpec>& out,
               const std::function<void(const Directive&)>& server_params) {
  if (block.name != "autoscale") return false;
  if (out) fail(block, "\"autoscale\" directive is duplicate");
  AutoscaleSpec spec;
  bool have_max = false, have_provider = false;
  // `metric` lines first, so that policies may name them wherever they are written.
  for (const auto& d : block.block) {
    if (d.name == "metric") external_metric(d, spec);
  }
  for (const auto& d : block.block) {
    const std::string& n = d.name;
    if (n == "provider") {
      if (have_provider) fail(d, "\"provider\" directive is duplicate");
      have_provider = true;
      spec.provider.type = d.args[0];
      for (size_t i = 1; i < d.args.size(); ++i) {
        std::string key, value;
        if (!split_param(d.args[i], key, value)) invalid(d, d.args[i]);
        spec.provider.params.emplace_back(key, value);
      }
      // Built once here (not started) so that -t reports a bad provider line.
      try {
        boost::asio::io_context io;
        scaling::make_provider(spec.provider, scaling::ProviderContext{io, "check"});
      } catch (const std::invalid_argument& e) {
        fail(d, e.what());
      }
    } else if (n == "min") {
      spec.min = count_value(d, d.args[0], d.args[0], 0, 10'000);
    } else if (n == "max") {
      spec.max = count_value(d, d.args[0], d.args[0], 1, 10'000);
      have_max = true;
    } else if (n == "interval") {
      spec.interval = time_arg(d, 0);
      if (spec.interval.count() < 100) fail(d, "\"interval\" must be at least 100ms");
    } else if (n == "dry_run") {
      spec.dry_run = lower(d.args[0]) == "on";
    } else if (n == "cooldown") {
      pair_of_times(d, spec.cooldown_out, spec.cooldown_in);
    } else if (n == "stabilization") {
      pair_of_times(d, spec.stabilize_out, spec.stabilize_in);
    } else if (n == "warmup") {
      spec.warmup = std::chrono::duration_cast<Seconds>(time_arg(d, 0));
    } else if (n == "drain_timeout") {
      spec.drain_timeout = time_arg(d, 0);
    } else if (n == "scale_out" || n == "scale_in") {
      threshold_rule(d, spec);
    } else if (n == "step") {
      step_policy(d, spec);
    } else if (n == "target") {
      target_policy(d, spec);
    } else if (n == "schedule") {
      schedule(d, spec);
    } else if (n == "limit") {
      limit(d, spec);
    } else if (n == "server_params") {
      server_params(d);
    }
  }
  if (!have_provider) fail(block, "\"autoscale\" block has no \"provider\"");
  if (!have_max) fail(block, "\"autoscale\" block has no \"max\"");
  if (spec.min > spec.max) fail(block, "\"autoscale\" min is greater than max");
  out = std::move(spec);
  return true;
}

}  // namespace tg::conf::modules
