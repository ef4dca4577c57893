// One group's autoscaler loop. Scale-out asks the provider for instances and adds them
// to the group (checking first when the group has health checks); scale-in drains the
// servers with the fewest active requests and tunnels, removes them once drained (or
// at drain_timeout, when their tunnels got close 1001), then has the provider delete
// them. Provider failures are logged, counted and retried with backoff.
#include "scaling/group_scaler.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>
#include <charconv>

#include "common/error_log.h"
#include "scaling/prometheus_query.h"

namespace tg::scaling {
namespace {

namespace json = boost::json;
using balancing::GroupMembership;
using balancing::StatsWindows;

constexpr std::size_t kEventHistory = 100;
constexpr std::chrono::seconds kReconcileEvery{60};
constexpr std::chrono::seconds kMaxBackoff{60};
/// After drain_timeout the proxy closes the server's tunnels (1001); give the closes
/// this long to finish before the server leaves the group.
constexpr std::chrono::seconds kDrainGrace{1};

std::string_view direction_name(Direction d) {
  return d == Direction::kOut ? "scale_out" : d == Direction::kIn ? "scale_in" : "hold";
}

std::string format_value(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string values_text(const std::vector<std::pair<std::string, double>>& values) {
  std::string out;
  for (const auto& [k, v] : values) {
    out += out.empty() ? " (" : ", ";
    out += k + "=" + format_value(v);
  }
  return out.empty() ? out : out + ")";
}

/// "10.0.0.5:8080" or "[::1]:8080" as an endpoint; nullopt when not an IP and a port.
std::optional<boost::asio::ip::tcp::endpoint> parse_endpoint(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  const char* p = address.data() + colon + 1;
  const char* end = address.data() + address.size();
  const auto [q, ec] = std::from_chars(p, end, port);
  if (ec != std::errc() || q != end || port == 0 || port > 65535) return std::nullopt;
  boost::system::error_code error;
  const auto ip = boost::asio::ip::make_address(host, error);
  if (error) return std::nullopt;
  return boost::asio::ip::tcp::endpoint(ip, static_cast<unsigned short>(port));
}

std::string endpoint_name(const boost::asio::ip::tcp::endpoint& e) {
  const auto a = e.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(e.port());
}

std::string iso_time(std::chrono::system_clock::time_point t) {
  const std::time_t s = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&s, &tm);
  char buf[64];
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

/// The metric values of one evaluation: the balancer's own windows (10 s), live gauges,
/// and the latest answers of the external queries.
class GroupScaler::Metrics : public MetricSource {
 public:
  /// `ready`: the servers that count; `instances`: what per-server values divide by
  /// (ready servers, or a capacity provider's ready instances behind one address).
  Metrics(const balancing::MetricsCollector& collector, const GroupMembership& group,
          std::vector<std::uint64_t> ready, int instances,
          const std::map<std::uint64_t, double>& ws_rates, const std::vector<External>& external)
      : collector_(collector),
        group_(group),
        ready_(std::move(ready)),
        instances_(instances),
        ws_rates_(ws_rates),
        external_(external) {}

  std::optional<double> value(const MetricRef& m) const override {
    if (m.kind == MetricKind::kExternal) {
      for (const auto& e : external_) {
        if (e.spec.name == m.external) return e.value;
      }
      return std::nullopt;
    }
    const bool additive = m.kind == MetricKind::kRps || m.kind == MetricKind::kActive ||
                          m.kind == MetricKind::kTunnels || m.kind == MetricKind::kConnects ||
                          m.kind == MetricKind::kWsMessages;
    if (m.per_server && additive) {
      if (ready_.empty() || instances_ <= 0) return std::nullopt;
      double sum = 0;
      for (const auto id : ready_) sum += server_value(m.kind, id);
      return sum / static_cast<double>(instances_);
    }
    if (m.kind == MetricKind::kActive || m.kind == MetricKind::kTunnels ||
        m.kind == MetricKind::kWsMessages) {
      double sum = 0;
      for (const auto& s : group_.servers()) sum += server_value(m.kind, s.peer->id());
      return sum;
    }
    const auto* windows = collector_.group(group_.name());
    if (!windows) return std::nullopt;
    const auto w = windows->window(StatsWindows::k10s);
    switch (m.kind) {
      case MetricKind::kRps:
        return w.rps;
      case MetricKind::kConnects:
        return w.connects_per_s;
      case MetricKind::kP50:
        return static_cast<double>(w.p50_us) / 1000.0;
      case MetricKind::kP95:
        return static_cast<double>(w.p95_us) / 1000.0;
      case MetricKind::kP99:
        return static_cast<double>(w.p99_us) / 1000.0;
      case MetricKind::kErrorRate:
        return w.error_rate * 100.0;
      default:
        return std::nullopt;
    }
  }

 private:
  double server_value(MetricKind kind, std::uint64_t id) const {
    const auto* s = group_.find(id);
    if (kind == MetricKind::kActive) {
      return s ? static_cast<double>(s->peer->active() + s->peer->tunnels()) : 0.0;
    }
    if (kind == MetricKind::kTunnels) return s ? static_cast<double>(s->peer->tunnels()) : 0.0;
    if (kind == MetricKind::kWsMessages) {
      const auto it = ws_rates_.find(id);
      return it == ws_rates_.end() ? 0.0 : it->second;
    }
    const auto* windows = collector_.server(id);
    if (!windows) return 0;
    const auto w = windows->window(StatsWindows::k10s);
    return kind == MetricKind::kConnects ? w.connects_per_s : w.rps;
  }

  const balancing::MetricsCollector& collector_;
  const GroupMembership& group_;
  std::vector<std::uint64_t> ready_;
  int instances_;
  const std::map<std::uint64_t, double>& ws_rates_;
  const std::vector<External>& external_;
};

GroupScaler::GroupScaler(boost::asio::io_context& control,
                         const balancing::MetricsCollector& metrics, Autoscaler::Group group,
                         std::unique_ptr<Provider> provider)
    : control_(control), collector_(metrics), provider_(std::move(provider)), timer_(control) {
  reconfigure(std::move(group));
  reconcile();
  schedule_tick();
}

GroupScaler::~GroupScaler() {
  stop();
}

void GroupScaler::reconfigure(Autoscaler::Group group) {
  group_ = std::move(group);
  engine_ = std::make_unique<PolicyEngine>(group_.spec);
  schedules_ = std::make_unique<Schedules>(
      group_.spec.schedules,
      std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  external_.clear();
  for (const auto& m : group_.spec.metrics) {
    External e;
    e.spec = m;
    e.query = std::make_unique<PrometheusQuery>(control_, m.url, m.query,
                                                std::chrono::milliseconds(m.interval));
    external_.push_back(std::move(e));
  }
}

void GroupScaler::stop() {
  if (stopped_) return;
  stopped_ = true;
  *alive_ = false;
  timer_.cancel();
  external_.clear();
  if (provider_) provider_->shutdown();
}

void GroupScaler::retire() {
  if (provider_ && provider_->instances_end_with_provider()) {
    for (const auto& m : managed_) {
      if (m.state == Managed::State::kDeleting) continue;
      group_.membership->remove(m.server);
      record({std::chrono::system_clock::now(),
              "instance",
              0,
              0,
              "retired",
              "instance " + m.instance.id + " (" + m.instance.address +
                  ") stops with the provider; removed from the group",
              {}});
    }
  }
  stop();
}

void GroupScaler::schedule_tick() {
  timer_.expires_after(group_.spec.interval);
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    tick();
    schedule_tick();
  });
}

bool GroupScaler::capacity() const {
  return provider_->kind() == Provider::Kind::kCapacity;
}

std::vector<std::uint64_t> GroupScaler::ready_servers(TimePoint now) {
  // Servers that count: up, not draining, and warm.
  std::vector<std::uint64_t> ready;
  std::map<std::uint64_t, TimePoint> seen;
  for (const auto& s : group_.membership->servers()) {
    const auto& p = *s.peer;
    if (balancing::state_name(p, now) != "up") continue;
    const auto it = up_since_.find(p.id());
    const TimePoint since = it == up_since_.end() ? now : it->second;
    seen[p.id()] = since;
    if (now - since >= group_.spec.warmup) ready.push_back(p.id());
  }
  up_since_ = std::move(seen);
  return ready;
}

void GroupScaler::sample_websocket_messages(TimePoint now) {
  // Each server's message counter over the last 10 s (the windows' span for rates).
  std::map<std::uint64_t, double> rates;
  std::map<std::uint64_t, std::deque<std::pair<TimePoint, std::uint64_t>>> samples;
  for (const auto& s : group_.membership->servers()) {
    auto& q = samples[s.peer->id()];
    if (auto it = ws_samples_.find(s.peer->id()); it != ws_samples_.end())
      q = std::move(it->second);
    q.emplace_back(now, s.peer->ws_messages());
    while (q.size() > 2 && now - q[1].first >= StatsWindows::k10s) q.pop_front();
    const double span = std::chrono::duration<double>(q.back().first - q.front().first).count();
    if (span > 0) {
      rates[s.peer->id()] = static_cast<double>(q.back().second - q.front().second) / span;
    }
  }
  ws_samples_ = std::move(samples);
  ws_rates_ = std::move(rates);
}

void GroupScaler::fire_schedules() {
  const auto wall = std::chrono::system_clock::now();
  for (const auto* action : schedules_->due(std::chrono::floor<std::chrono::seconds>(wall))) {
    engine_->apply_schedule(*action);
    record({wall,
            "schedule",
            0,
            0,
            "schedule",
            "scheduled action \"" + action->cron + "\" (" + action->tz + "): min " +
                std::to_string(engine_->min()) + ", max " + std::to_string(engine_->max()) +
                (action->desired ? ", desired " + std::to_string(*action->desired) : ""),
            {}});
  }
}

void GroupScaler::tick() {
  const TimePoint now = Clock::now();
  poll_external();
  fire_schedules();
  sample_websocket_messages(now);
  const std::vector<std::uint64_t> ready = ready_servers(now);
  Observation o;
  o.now = now;
  if (capacity()) {
    // N instances behind one address: they serve while its server is up.
    const int instances =
        static_cast<int>(std::count_if(managed_.begin(), managed_.end(), [](const Managed& m) {
          return m.state != Managed::State::kDeleting;
        }));
    o.current = instances + adding_;
    o.ready = ready.empty() ? 0 : instances;
  } else {
    for (const auto& s : group_.membership->servers()) {
      if (!s.peer->draining() && !s.peer->down()) ++o.current;
    }
    o.current += adding_;
    o.ready = static_cast<int>(ready.size());
  }
  const Metrics metrics(collector_, *group_.membership, ready, o.ready, ws_rates_, external_);
  o.metrics = &metrics;
  const Decision d = engine_->evaluate(o);
  last_ = d;
  for (const auto& w : d.warnings) {
    record(
        {std::chrono::system_clock::now(), "warning", d.current, d.current, "warn", w, d.values});
  }
  advance_drains(now);
  if (d.direction == Direction::kNone) {
    note_decision(d);
  } else {
    act(d, now);
  }
  // Reconcile every minute, and until the first list() answered.
  if (!busy_ && (!reconciled_ || now >= next_reconcile_) && now >= retry_at_) reconcile();
}

void GroupScaler::release_server(std::uint64_t server, const Managed& leaving) {
  // A capacity provider's instances share one server: it leaves with the last of them.
  for (const auto& m : managed_) {
    if (&m != &leaving && m.server == server && m.state != Managed::State::kDeleting) return;
  }
  group_.membership->remove(server);
}

void GroupScaler::note_decision(const Decision& d) {
  // A hold is logged when its kind changes, not every tick: its numbers move each time.
  std::string key = d.cause + "|";
  for (char c : d.reason) {
    if (c >= '0' && c <= '9') break;
    key += c;
  }
  if (key == last_hold_key_) return;
  last_hold_key_ = key;
  record({std::chrono::system_clock::now(), "hold", d.current, d.desired, d.cause, d.reason,
          d.values});
}

void GroupScaler::act(const Decision& d, TimePoint now) {
  std::string why;
  if (group_.spec.dry_run) {
    why = "dry run";
  } else if (!reconciled_) {
    why = "waiting for the provider's first list";
  } else if (busy_) {
    why = "a provider call is in flight";
  } else if (now < retry_at_) {
    why = "provider error, retrying in " +
          std::to_string(std::chrono::ceil<std::chrono::seconds>(retry_at_ - now).count()) + "s";
  }
  if (!why.empty() && why != "dry run") {
    Decision held = d;
    held.direction = Direction::kNone;
    held.desired = d.current;
    held.cause = "pending";
    held.reason = why + ": " + d.reason;
    note_decision(held);
    return;
  }
  last_hold_key_.clear();
  const int n = std::abs(d.desired - d.current);
  record({std::chrono::system_clock::now(), std::string(direction_name(d.direction)), d.current,
          d.desired, d.cause, (why.empty() ? "" : "(dry run) ") + d.reason, d.values});
  engine_->acted(d, now);
  if (!why.empty()) return;
  if (d.direction == Direction::kOut) {
    scale_out(n);
  } else {
    scale_in(n, now);
  }
}

void GroupScaler::scale_out(int n) {
  busy_ = true;
  adding_ = n;
  provider_->add(n, [this, alive = alive_](ProviderResult<std::vector<Instance>> result) {
    if (!*alive) return;
    busy_ = false;
    adding_ = 0;
    if (auto* e = std::get_if<ProviderError>(&result)) {
      provider_failed("add", *e);
      return;
    }
    provider_succeeded();
    const TimePoint now = Clock::now();
    for (const auto& instance : std::get<std::vector<Instance>>(result)) join(instance, now);
  });
}

void GroupScaler::join(const Instance& instance, TimePoint now) {
  auto endpoint = parse_endpoint(instance.address);
  if (!endpoint) {
    record({std::chrono::system_clock::now(),
            "provider_error",
            0,
            0,
            "address",
            "instance " + instance.id + " has no IP:port address \"" + instance.address + "\"",
            {}});
    return;
  }
  Managed m;
  m.instance = instance;
  const std::string name = endpoint_name(*endpoint);
  for (const auto& s : group_.membership->servers()) {
    if (s.peer->name() == name) m.server = s.peer->id();  // already there: adopt it
  }
  if (m.server == 0) {
    balancing::ServerConfig config = group_.server_template;
    config.name = name;
    config.address = name;
    config.endpoint = *endpoint;
    config.drain = false;
    m.server = group_.membership->add(config, now, group_.membership->checks().active);
  }
  managed_.push_back(m);
  record({std::chrono::system_clock::now(),
          "instance",
          0,
          0,
          "joined",
          "instance " + instance.id + " joined as " + name +
              (group_.membership->checks().active ? " (checking)" : ""),
          {}});
}

void GroupScaler::scale_in(int n, TimePoint now) {
  if (capacity()) {
    // The platform routes behind one address: nothing to drain, the count goes down.
    int chosen = 0;
    for (auto it = managed_.rbegin(); it != managed_.rend() && chosen < n; ++it) {
      if (it->state != Managed::State::kServing) continue;
      it->state = Managed::State::kDeleting;
      ++chosen;
    }
    delete_next();
    return;
  }
  // Victims: the provider's serving instances with the fewest active requests and
  // tunnels; the newest first on a tie (they have the fewest sticky clients).
  std::vector<Managed*> candidates;
  for (auto& m : managed_) {
    if (m.state == Managed::State::kServing && group_.membership->find(m.server)) {
      candidates.push_back(&m);
    }
  }
  const auto load = [&](const Managed* m) {
    const auto& p = *group_.membership->find(m->server)->peer;
    return p.active() + p.tunnels();
  };
  std::stable_sort(candidates.begin(), candidates.end(), [&](const Managed* a, const Managed* b) {
    return load(a) < load(b) || (load(a) == load(b) && a->server > b->server);
  });
  if (candidates.empty()) {
    record({std::chrono::system_clock::now(),
            "hold",
            0,
            0,
            "no_victim",
            "no server of the provider to remove (servers from the conf stay)",
            {}});
    return;
  }
  for (int i = 0; i < n && i < static_cast<int>(candidates.size()); ++i) {
    Managed& m = *candidates[i];
    balancing::ServerConfig config = group_.membership->find(m.server)->config;
    config.drain = true;
    if (group_.spec.drain_timeout.count() > 0) config.drain_timeout = group_.spec.drain_timeout;
    group_.membership->update(m.server, config, now);
    m.state = Managed::State::kDraining;
    m.drain_started = now;
    record({std::chrono::system_clock::now(),
            "instance",
            0,
            0,
            "draining",
            "instance " + m.instance.id + " (" + m.instance.address + ") draining",
            {}});
  }
}

void GroupScaler::advance_drains(TimePoint now) {
  for (auto& m : managed_) {
    if (m.state != Managed::State::kDraining) continue;
    const auto* s = group_.membership->find(m.server);
    if (s) {
      const auto& p = *s->peer;
      const bool drained = p.active() == 0 && p.tunnels() == 0;
      const auto limit = p.drain_timeout();
      const bool timed_out = limit.count() > 0 && now - m.drain_started >= limit + kDrainGrace;
      if (!drained && !timed_out) continue;
      group_.membership->remove(m.server);
      record({std::chrono::system_clock::now(),
              "instance",
              0,
              0,
              drained ? "drained" : "drain_timeout",
              "instance " + m.instance.id + " left the group " +
                  (drained ? "drained"
                           : "at drain_timeout with " + std::to_string(p.active()) +
                                 " active request(s)"),
              {}});
    }
    m.state = Managed::State::kDeleting;
  }
  delete_next();
}

void GroupScaler::delete_next() {
  if (busy_ || stopped_ || Clock::now() < retry_at_) return;
  std::vector<Instance> batch;
  for (const auto& m : managed_) {
    if (m.state == Managed::State::kDeleting) batch.push_back(m.instance);
  }
  if (batch.empty()) return;
  busy_ = true;
  provider_->remove(batch, [this, batch, alive = alive_](std::optional<ProviderError> error) {
    if (!*alive) return;
    busy_ = false;
    if (error) {
      provider_failed("remove", *error);
      return;
    }
    provider_succeeded();
    for (const auto& m : managed_) {
      const bool gone = m.state == Managed::State::kDeleting &&
                        std::find(batch.begin(), batch.end(), m.instance) != batch.end();
      if (gone && capacity()) release_server(m.server, m);
    }
    std::erase_if(managed_, [&](const Managed& m) {
      return m.state == Managed::State::kDeleting &&
             std::find(batch.begin(), batch.end(), m.instance) != batch.end();
    });
    for (const auto& i : batch) {
      record({std::chrono::system_clock::now(),
              "instance",
              0,
              0,
              "deleted",
              "instance " + i.id + " deleted by the provider",
              {}},
             true);
    }
  });
}

void GroupScaler::reconcile() {
  if (busy_ || stopped_) return;
  busy_ = true;
  next_reconcile_ = Clock::now() + kReconcileEvery;
  provider_->list([this, alive = alive_](ProviderResult<std::vector<Instance>> result) {
    if (!*alive) return;
    busy_ = false;
    if (auto* e = std::get_if<ProviderError>(&result)) {
      provider_failed("list", *e);
      return;
    }
    provider_succeeded();
    reconciled_ = true;
    const auto& listed = std::get<std::vector<Instance>>(result);
    const TimePoint now = Clock::now();
    // Instances gone behind our back leave the group; ones we do not know join it.
    for (auto& m : managed_) {
      if (m.state == Managed::State::kDeleting) continue;
      if (std::find(listed.begin(), listed.end(), m.instance) != listed.end()) continue;
      release_server(m.server, m);
      record({std::chrono::system_clock::now(),
              "instance",
              0,
              0,
              "lost",
              "instance " + m.instance.id + " (" + m.instance.address +
                  ") is gone from the provider; removed from the group",
              {}});
      m.state = Managed::State::kDeleting;
      m.instance.id.clear();  // nothing left to delete
    }
    std::erase_if(managed_, [](const Managed& m) { return m.instance.id.empty(); });
    for (const auto& i : listed) {
      const bool known = std::any_of(managed_.begin(), managed_.end(),
                                     [&](const Managed& m) { return m.instance == i; });
      if (!known) join(i, now);
    }
  });
}

void GroupScaler::provider_failed(const std::string& call, const ProviderError& e) {
  // A request the provider calls wrong (not retryable) may still be fixed by its
  // operator: it is tried again, at the longest interval.
  backoff_ = !e.retryable
                 ? kMaxBackoff
                 : std::min<std::chrono::seconds>(
                       kMaxBackoff, backoff_.count() == 0 ? std::chrono::seconds(1) : backoff_ * 2);
  retry_at_ = Clock::now() + backoff_;
  record({std::chrono::system_clock::now(),
          "provider_error",
          0,
          0,
          call,
          provider_->type() + " provider " + call + " failed: " + e.message + "; retrying in " +
              std::to_string(backoff_.count()) + "s",
          {}});
}

void GroupScaler::provider_succeeded() {
  backoff_ = std::chrono::seconds(0);
  retry_at_ = {};
}

void GroupScaler::poll_external() {
  const TimePoint now = Clock::now();
  for (auto& e : external_) {
    // A value older than three intervals is no value: policies hold rather than act on it.
    if (e.value && now - e.read_at > 3 * e.spec.interval) e.value.reset();
    if (e.in_flight || now < e.next_poll) continue;
    e.in_flight = true;
    e.next_poll = now + e.spec.interval;
    const std::string name = e.spec.name;
    e.query->fetch([this, name, alive = alive_](std::variant<double, std::string> result) {
      if (!*alive) return;
      for (auto& x : external_) {
        if (x.spec.name != name) continue;
        x.in_flight = false;
        if (const double* v = std::get_if<double>(&result)) {
          x.value = *v;
          x.read_at = Clock::now();
          x.error.clear();
        } else if (x.error != std::get<std::string>(result)) {
          x.error = std::get<std::string>(result);
          record({std::chrono::system_clock::now(),
                  "metric_error",
                  0,
                  0,
                  name,
                  "metric \"" + name + "\": " + x.error,
                  {}});
        }
      }
    });
  }
}

void GroupScaler::record(ScalingEvent event, bool log_it) {
  ++counts_[{event.kind, event.cause}];
  if (log_it) {
    const bool error = event.kind == "provider_error" || event.kind == "metric_error";
    std::string line = "autoscale \"" + group_.membership->name() + "\": ";
    if (event.kind == "scale_out" || event.kind == "scale_in") {
      line += (event.kind == "scale_out" ? "scale out " : "scale in ") +
              std::to_string(event.from) + " -> " + std::to_string(event.to) + ": ";
    } else if (event.kind == "hold") {
      line += "no change (" + event.cause + "): ";
    }
    line += event.message + values_text(event.values);
    tg::log(error                     ? LogLevel::kError
            : event.kind == "warning" ? LogLevel::kWarn
                                      : LogLevel::kNotice,
            line);
  }
  events_.push_back(std::move(event));
  while (events_.size() > kEventHistory) events_.pop_front();
}

json::object GroupScaler::status() const {
  json::object o;
  const auto& spec = group_.spec;
  o["provider"] = spec.provider.type;
  o["dry_run"] = spec.dry_run;
  o["min"] = engine_->min();
  o["max"] = engine_->max();
  o["interval_ms"] = spec.interval.count();
  o["current"] = last_.current;
  o["desired"] = last_.desired;
  o["adding"] = adding_;
  json::object decision;
  decision["direction"] = direction_name(last_.direction);
  decision["cause"] = last_.cause;
  decision["reason"] = last_.reason;
  json::object values;
  for (const auto& [k, v] : last_.values) values[k] = v;
  decision["values"] = std::move(values);
  o["decision"] = std::move(decision);
  json::array instances;
  for (const auto& m : managed_) {
    json::object i;
    i["id"] = m.instance.id;
    i["address"] = m.instance.address;
    if (m.state != Managed::State::kDeleting) i["server_id"] = m.server;
    i["state"] = m.state == Managed::State::kServing    ? "serving"
                 : m.state == Managed::State::kDraining ? "draining"
                                                        : "deleting";
    instances.push_back(std::move(i));
  }
  o["instances"] = std::move(instances);
  json::array events;
  for (const auto& e : events_) {
    json::object j;
    j["time"] = iso_time(e.time);
    j["kind"] = e.kind;
    j["cause"] = e.cause;
    if (e.kind == "scale_out" || e.kind == "scale_in") {
      j["from"] = e.from;
      j["to"] = e.to;
    }
    j["message"] = e.message;
    if (!e.values.empty()) {
      json::object v;
      for (const auto& [k, x] : e.values) v[k] = x;
      j["values"] = std::move(v);
    }
    events.push_back(std::move(j));
  }
  o["events"] = std::move(events);
  return o;
}

Autoscaler::Summary GroupScaler::summary() const {
  return {group_.membership->name(),
          last_.current,
          last_.desired,
          engine_->min(),
          engine_->max(),
          counts_};
}

}  // namespace tg::scaling
