// Threshold, step and target-tracking policies, combined as AWS combines them and
// stabilized as Kubernetes' HPA stabilizes, with the cooldowns and change limits of
// both. Every reason string is what the log and the API show.
#include "scaling/policy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace tg::scaling {
namespace {

std::string number(double v) {
  char buf[32];
  if (std::fabs(v - std::round(v)) < 1e-9 && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f", v);
  }
  return buf;
}

/// "45s", "3m", "2m59s", "1h", "1h30m".
std::string duration(Seconds s) {
  auto n = s.count();
  if (n == 0) return "0s";
  std::string out;
  if (n >= 3600) {
    out += std::to_string(n / 3600) + "h";
    n %= 3600;
  }
  if (n >= 60) {
    out += std::to_string(n / 60) + "m";
    n %= 60;
  }
  if (n > 0) out += std::to_string(n) + "s";
  return out;
}

Seconds whole_seconds(Clock::duration d) {
  return std::chrono::duration_cast<Seconds>(d);
}

/// Least-squares slope of (time, value) points, per second.
double slope(const std::deque<std::pair<TimePoint, double>>& points) {
  const double n = static_cast<double>(points.size());
  const TimePoint t0 = points.front().first;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& [t, y] : points) {
    const double x = std::chrono::duration<double>(t - t0).count();
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const double den = n * sxx - sx * sx;
  return den <= 0 ? 0 : (n * sxy - sx * sy) / den;
}

int ceil_int(double v) {
  if (!std::isfinite(v)) return v > 0 ? std::numeric_limits<int>::max() / 2 : 0;
  return static_cast<int>(std::ceil(v - 1e-9));
}

}  // namespace

bool compare(double value, Compare c, double threshold) {
  switch (c) {
    case Compare::kGreater:
      return value > threshold;
    case Compare::kGreaterEqual:
      return value >= threshold;
    case Compare::kLess:
      return value < threshold;
    case Compare::kLessEqual:
      return value <= threshold;
  }
  return false;
}

std::string_view compare_text(Compare c) {
  switch (c) {
    case Compare::kGreater:
      return ">";
    case Compare::kGreaterEqual:
      return ">=";
    case Compare::kLess:
      return "<";
    case Compare::kLessEqual:
      return "<=";
  }
  return "?";
}

int adjusted_capacity(const Adjustment& a, int current) {
  switch (a.type) {
    case Adjustment::Type::kExact:
      return static_cast<int>(a.value);
    case Adjustment::Type::kChange:
      return current + static_cast<int>(a.value);
    case Adjustment::Type::kPercent: {
      const double raw = current * a.value / 100.0;
      int change = 0;
      if (raw > 0) {
        change = raw < 1 ? 1 : static_cast<int>(std::floor(raw));
      } else if (raw < 0) {
        change = raw > -1 ? -1 : static_cast<int>(std::ceil(raw));
      }
      if (a.min_magnitude > 0 && change != 0 && std::abs(change) < a.min_magnitude) {
        change = change > 0 ? a.min_magnitude : -a.min_magnitude;
      }
      return current + change;
    }
  }
  return current;
}

PolicyEngine::PolicyEngine(AutoscaleSpec spec)
    : spec_(std::move(spec)),
      min_(spec_.min),
      max_(spec_.max),
      rules_(spec_.rules.size()),
      steps_(spec_.steps.size()),
      targets_(spec_.targets.size()) {}

void PolicyEngine::apply_schedule(const ScheduledAction& action) {
  if (action.min) min_ = *action.min;
  if (action.max) max_ = *action.max;
  if (min_ > max_) max_ = min_;
  if (action.desired) scheduled_desired_ = *action.desired;
}

std::optional<double> PolicyEngine::read(const MetricRef& metric, const Observation& o,
                                         Decision& d) {
  std::optional<double> v = o.metrics ? o.metrics->value(metric) : std::nullopt;
  if (v && std::none_of(d.values.begin(), d.values.end(),
                        [&](const auto& e) { return e.first == metric.text; })) {
    d.values.emplace_back(metric.text, *v);
  }
  return v;
}

bool PolicyEngine::held(bool met, Seconds hold, RuleState& state, TimePoint now,
                        std::string& progress) {
  if (!met) {
    state.since.reset();
    return false;
  }
  if (!state.since) state.since = now;
  const auto elapsed = now - *state.since;
  if (elapsed >= hold) return true;
  progress = ", held " + duration(whole_seconds(elapsed)) + " of " + duration(hold);
  return false;
}

PolicyEngine::Vote PolicyEngine::rule_vote(const ThresholdRule& rule, RuleState& state,
                                           const Observation& o, Decision& d) {
  Vote v;
  v.can_scale_in = !rule.out;
  const std::string name = std::string(rule.out ? "scale_out " : "scale_in ") + rule.metric.text;
  const auto value = read(rule.metric, o, d);
  if (!value) {
    state.since.reset();
    v.reason = name + ": no data";
    return v;
  }
  if (rule.warn) {
    if (compare(*value, rule.compare, *rule.warn)) {
      if (!state.warned) {
        d.warnings.push_back(name + " " + number(*value) + " " +
                             std::string(compare_text(rule.compare)) + " warning level " +
                             number(*rule.warn));
      }
      state.warned = true;
    } else {
      state.warned = false;
    }
  }
  const bool met = compare(*value, rule.compare, rule.value);
  const std::string condition = name + " " + number(*value) + " " +
                                std::string(compare_text(rule.compare)) + " " + number(rule.value);
  std::string progress;
  if (!held(met, rule.hold, state, o.now, progress)) {
    if (met) v.reason = condition + progress;
    return v;
  }
  v.direction = rule.out ? Direction::kOut : Direction::kIn;
  v.desired = adjusted_capacity(rule.by, o.current);
  v.reason = condition + (rule.hold.count() ? " for " + duration(rule.hold) : "");
  return v;
}

PolicyEngine::Vote PolicyEngine::step_vote(const StepPolicy& step, RuleState& state,
                                           const Observation& o, Decision& d) {
  Vote v;
  const bool below = step.compare == Compare::kLess || step.compare == Compare::kLessEqual;
  v.can_scale_in = below;
  const std::string name = "step " + step.metric.text;
  const auto value = read(step.metric, o, d);
  if (!value) {
    state.since.reset();
    v.reason = name + ": no data";
    return v;
  }
  const std::string condition = name + " " + number(*value) + " " +
                                std::string(compare_text(step.compare)) + " " +
                                number(step.threshold);
  std::string progress;
  if (!held(compare(*value, step.compare, step.threshold), step.hold, state, o.now, progress)) {
    if (state.since) v.reason = condition + progress;
    return v;
  }
  // AWS: above the threshold a bound's lower end is inclusive and its upper end
  // exclusive; below it, the other way round.
  const double breach = *value - step.threshold;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  for (const auto& s : step.steps) {
    const double lo = s.lower.value_or(-kInf), hi = s.upper.value_or(kInf);
    const bool inside = below ? (breach > lo && breach <= hi) : (breach >= lo && breach < hi);
    if (!inside) continue;
    v.desired = adjusted_capacity(s.adjustment, o.current);
    v.direction = v.desired > o.current   ? Direction::kOut
                  : v.desired < o.current ? Direction::kIn
                                          : Direction::kNone;
    v.reason = condition + " (breach " + number(breach) + ")";
    return v;
  }
  v.reason = condition + ": no step for breach " + number(breach);
  return v;
}

PolicyEngine::Vote PolicyEngine::target_vote(const TargetPolicy& target, TargetState& state,
                                             const Observation& o, Decision& d) {
  Vote v;
  v.can_scale_in = true;
  const std::string name = "target " + target.metric.text + " " + number(target.target);
  const auto value = read(target.metric, o, d);
  if (!value || o.ready <= 0 || target.target <= 0) {
    v.reason = name + ": no data";
    return v;
  }
  // HPA: ratio of the measured value to the target over the ready servers.
  double ratio = *value / target.target;
  std::string how = "ratio " + number(ratio);
  if (target.predictive) {
    // The trend is the group's: a per-server average times the ready servers would miss
    // the traffic of servers still warming up, then see it jump in when they count.
    double load = *value;
    if (target.metric.per_server) {
      MetricRef group = target.metric;
      group.per_server = false;
      group.text = group.text.substr(0, group.text.size() - std::string_view("_per_server").size());
      load = o.metrics->value(group).value_or(*value * o.ready);
    }
    state.trend.emplace_back(o.now, load);
    while (o.now - state.trend.front().first > target.trend) state.trend.pop_front();
    if (state.trend.size() >= 3) {
      const double rising = std::max(0.0, slope(state.trend));
      const double predicted = load + rising * static_cast<double>(target.lead.count());
      const double predicted_ratio = target.metric.per_server
                                         ? predicted / (o.ready * target.target)
                                         : predicted / load * ratio;
      if (predicted_ratio > ratio) {
        how += ", predicted " + number(predicted_ratio) + " in " + duration(target.lead);
        ratio = predicted_ratio;
      }
    }
  }
  int recommended = o.current;
  if (std::fabs(ratio - 1.0) > target.tolerance) {
    recommended = ceil_int(o.ready * ratio);
    // HPA: servers not ready yet count as idle on the way up; if they already make up
    // for the load, or the servers are still coming up on the way down, hold.
    if ((ratio > 1 && recommended <= o.current) || (ratio < 1 && o.ready < o.current)) {
      recommended = o.current;
    }
  }
  state.recommendations.emplace_back(o.now, recommended);
  const Seconds keep = std::max(spec_.stabilize_in, spec_.stabilize_out);
  while (o.now - state.recommendations.front().first > keep) state.recommendations.pop_front();
  // HPA's stabilization: up to the lowest recommendation of the scale-out window, down to
  // the highest of the scale-in window (each including this one).
  int up = recommended, down = recommended;
  for (const auto& [t, r] : state.recommendations) {
    if (o.now - t < spec_.stabilize_out) up = std::min(up, r);
    if (o.now - t < spec_.stabilize_in) down = std::max(down, r);
  }
  v.reason = name + ": " + number(*value) + " (" + how + ")";
  if (o.current < up) {
    v.desired = up;
    v.direction = Direction::kOut;
    v.bypass_cooldown = target.panic > 0 && up >= target.panic * o.ready;
    if (v.bypass_cooldown) v.reason += ", panic";
  } else if (o.current > down) {
    v.desired = down;
    v.direction = Direction::kIn;
  } else if (recommended < o.current) {
    v.reason += ", scale-in held by stabilization (" + duration(spec_.stabilize_in) + ")";
  }
  return v;
}

int PolicyEngine::limited(int current, int desired, TimePoint now) const {
  const bool out = desired > current;
  int allowed = out ? std::numeric_limits<int>::min() : std::numeric_limits<int>::max();
  bool any = false;
  for (const auto& limit : spec_.limits) {
    if (limit.out != out) continue;
    any = true;
    int moved = 0;  // servers already changed in this direction within the period
    for (const auto& [t, change] : changes_) {
      if (now - t <= limit.period && (change > 0) == out) moved += std::abs(change);
    }
    const int base = out ? current - moved : current + moved;
    int bound = 0;
    if (out) {
      bound = limit.percent ? ceil_int(base * (1 + limit.value / 100)) : base + int(limit.value);
      allowed = std::max(allowed, bound);
    } else {
      bound = limit.percent ? ceil_int(base * (1 - limit.value / 100)) : base - int(limit.value);
      allowed = std::min(allowed, bound);
    }
  }
  if (!any) return desired;
  return out ? std::max(current, std::min(desired, allowed))
             : std::min(current, std::max(desired, allowed));
}

Decision PolicyEngine::evaluate(const Observation& o) {
  Decision d;
  d.current = o.current;
  std::vector<Vote> votes;
  for (std::size_t i = 0; i < spec_.rules.size(); ++i) {
    votes.push_back(rule_vote(spec_.rules[i], rules_[i], o, d));
  }
  for (std::size_t i = 0; i < spec_.steps.size(); ++i) {
    votes.push_back(step_vote(spec_.steps[i], steps_[i], o, d));
  }
  for (std::size_t i = 0; i < spec_.targets.size(); ++i) {
    votes.push_back(target_vote(spec_.targets[i], targets_[i], o, d));
  }

  // AWS: out if any says out (the largest), in only if all that can scale in say in
  // (the least of the cuts).
  const Vote* out = nullptr;
  const Vote* in = nullptr;
  bool all_in = false;
  for (const auto& v : votes) {
    if (v.direction == Direction::kOut && (!out || v.desired > out->desired)) out = &v;
  }
  for (const auto& v : votes) {
    if (!v.can_scale_in) continue;
    if (v.direction != Direction::kIn) {
      all_in = false;
      break;
    }
    all_in = true;
    if (!in || v.desired > in->desired) in = &v;
  }
  int desired = o.current;
  bool bypass_cooldown = false;
  d.cause = "policy";
  if (out) {
    desired = out->desired;
    d.reason = out->reason;
    bypass_cooldown = out->bypass_cooldown;
  } else if (all_in && in) {
    desired = in->desired;
    d.reason = in->reason;
  } else {
    d.cause = "hold";
    for (const auto& v : votes) {
      if (!v.reason.empty()) {
        d.reason = v.reason;
        break;
      }
    }
    if (d.reason.empty()) d.reason = "no policy asks for a change";
    if (std::all_of(votes.begin(), votes.end(),
                    [](const Vote& v) { return v.reason.ends_with(": no data"); }) &&
        !votes.empty()) {
      d.cause = "no_data";
    }
  }
  if (scheduled_desired_) {
    desired = *scheduled_desired_;
    scheduled_desired_.reset();
    d.cause = "schedule";
    d.reason = "scheduled action: desired " + std::to_string(desired);
  }

  // Bounds first: a group outside them moves back at once, whatever the cooldown.
  if (o.current < min_) {
    desired = std::max(desired, min_);
    d.cause = "min";
    d.reason = "below min " + std::to_string(min_);
  } else if (o.current > max_) {
    desired = std::min(desired, max_);
    d.cause = "max";
    d.reason = "above max " + std::to_string(max_);
  } else if (desired > max_) {
    desired = max_;
    if (desired <= o.current) {
      d.reason = "at max " + std::to_string(max_) + ": " + d.reason;
      d.cause = "max";
    }
  } else if (desired < min_) {
    desired = min_;
    if (desired >= o.current) {
      d.reason = "at min " + std::to_string(min_) + ": " + d.reason;
      d.cause = "min";
    }
  }

  if (d.cause == "policy" && desired != o.current) {
    const bool scale_out = desired > o.current;
    const auto since = scale_out ? last_out_ : last_change_;
    const Seconds cooldown = scale_out ? spec_.cooldown_out : spec_.cooldown_in;
    if (since && o.now - *since < cooldown && !(scale_out && bypass_cooldown)) {
      const auto left = whole_seconds(cooldown - (o.now - *since)) + Seconds(1);
      d.reason = std::string("in scale-") + (scale_out ? "out" : "in") + " cooldown, " +
                 duration(left) + " left: " + d.reason;
      d.cause = "cooldown";
      desired = o.current;
    }
  }
  if (desired != o.current) {
    const int allowed = limited(o.current, desired, o.now);
    if (allowed != desired) {
      d.reason += " (limited to " + std::to_string(allowed) + " by `limit`)";
      if (allowed == o.current) d.cause = "limit";
      desired = allowed;
    }
  }
  d.desired = desired;
  d.direction = desired > o.current   ? Direction::kOut
                : desired < o.current ? Direction::kIn
                                      : Direction::kNone;
  return d;
}

void PolicyEngine::acted(const Decision& decision, TimePoint now) {
  if (decision.direction == Direction::kNone) return;
  if (decision.direction == Direction::kOut) last_out_ = now;
  last_change_ = now;
  changes_.emplace_back(now, decision.desired - decision.current);
  Seconds keep{0};
  for (const auto& l : spec_.limits) keep = std::max(keep, l.period);
  while (!changes_.empty() && now - changes_.front().first > keep) changes_.pop_front();
}

}  // namespace tg::scaling
