#include "admin/prometheus.h"

#include <cstdio>
#include <map>
#include <vector>

namespace tg::admin {

namespace {

using balancing::ServerStatsSnapshot;

/// One metric family: its HELP and TYPE lines, then its samples, as the format asks.
class Page {
 public:
  void family(const std::string& name, const char* type, const char* help) {
    current_ = &families_[name];
    if (current_->head.empty()) {
      current_->head = "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
      order_.push_back(name);
    }
  }
  void sample(const std::string& name,
              const std::vector<std::pair<std::string, std::string>>& labels, double value) {
    std::string line = name;
    if (!labels.empty()) {
      line += '{';
      for (size_t i = 0; i < labels.size(); ++i) {
        if (i) line += ',';
        line += labels[i].first + "=\"" + escape(labels[i].second) + '"';
      }
      line += '}';
    }
    char number[64];
    std::snprintf(number, sizeof number, " %.17g\n", value);
    line += number;
    current_->samples += line;
  }
  std::string text() const {
    std::string out;
    for (const auto& name : order_) {
      const auto& f = families_.at(name);
      out += f.head + f.samples;
    }
    return out;
  }

 private:
  static std::string escape(const std::string& v) {
    std::string out;
    for (char c : v) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    return out;
  }
  struct Family {
    std::string head;
    std::string samples;
  };
  std::map<std::string, Family> families_;
  std::vector<std::string> order_;
  Family* current_ = nullptr;
};

using Labels = std::vector<std::pair<std::string, std::string>>;

void responses(Page& p, const std::string& name, const Labels& labels,
               const ServerStatsSnapshot& s) {
  static constexpr const char* kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  p.family(name, "counter", "Total responses sent, by status class");
  for (size_t i = 0; i < s.responses.size(); ++i) {
    Labels l = labels;
    l.emplace_back("code", kClasses[i]);
    p.sample(name, l, static_cast<double>(s.responses[i]));
  }
}

/// tidegate's response-time histogram in seconds, with Prometheus's default buckets.
void histogram(Page& p, const std::string& name, const Labels& labels,
               const balancing::HistogramSnapshot& h) {
  static constexpr double kBounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  p.family(name, "histogram", "Response time of the server (to the last byte), in seconds");
  std::uint64_t count = 0;
  size_t bucket = 0;
  for (double le : kBounds) {
    const auto le_us = static_cast<std::uint64_t>(le * 1e6);
    while (bucket < h.buckets.size() &&
           balancing::HistogramLayout::bucket_upper_bound(bucket) <= le_us) {
      count += h.buckets[bucket++];
    }
    Labels l = labels;
    char text[32];
    std::snprintf(text, sizeof text, "%g", le);
    l.emplace_back("le", text);
    p.sample(name + "_bucket", l, static_cast<double>(count));
  }
  Labels inf = labels;
  inf.emplace_back("le", "+Inf");
  p.sample(name + "_bucket", inf, static_cast<double>(h.count()));
  p.sample(name + "_sum", labels, static_cast<double>(h.sum_us) / 1e6);
  p.sample(name + "_count", labels, static_cast<double>(h.count()));
}

/// nginx-prometheus-exporter's state numbers.
int state_number(std::string_view state) {
  if (state == "up") return 1;
  if (state == "draining") return 2;
  if (state == "down") return 3;
  if (state == "unavail") return 4;
  if (state == "checking") return 5;
  if (state == "unhealthy") return 6;
  return 0;
}

/// tidegate's autoscaler: counts per group and its events by kind and cause.
void autoscale_families(Page& p, const scaling::Autoscaler& autoscaler) {
  for (const auto& g : autoscaler.summaries()) {
    const Labels l{{"upstream", g.group}};
    p.family("tidegate_autoscale_current", "gauge",
             "Servers the group has or is getting, draining ones excluded");
    p.sample("tidegate_autoscale_current", l, g.current);
    p.family("tidegate_autoscale_desired", "gauge", "Servers the last evaluation asked for");
    p.sample("tidegate_autoscale_desired", l, g.desired);
    p.family("tidegate_autoscale_min", "gauge", "Lower bound now (schedules change it)");
    p.sample("tidegate_autoscale_min", l, g.min);
    p.family("tidegate_autoscale_max", "gauge", "Upper bound now (schedules change it)");
    p.sample("tidegate_autoscale_max", l, g.max);
    p.family("tidegate_autoscale_events_total", "counter",
             "Scaling decisions, holds with their cause, instance and provider events");
    for (const auto& [key, n] : g.events) {
      Labels e = l;
      e.emplace_back("kind", key.first);
      e.emplace_back("cause", key.second);
      p.sample("tidegate_autoscale_events_total", e, static_cast<double>(n));
    }
  }
}

}  // namespace

std::string prometheus_text(AdminState& st) {
  Page p;
  const auto [accepted, dropped, total, active, idle, current] = st.totals();
  p.family("nginxplus_connections_accepted", "counter", "Accepted client connections");
  p.sample("nginxplus_connections_accepted", {}, static_cast<double>(accepted));
  p.family("nginxplus_connections_dropped", "counter", "Dropped client connections");
  p.sample("nginxplus_connections_dropped", {}, static_cast<double>(dropped));
  p.family("nginxplus_connections_active", "gauge", "Active client connections");
  p.sample("nginxplus_connections_active", {}, static_cast<double>(active));
  p.family("nginxplus_connections_idle", "gauge", "Idle client connections");
  p.sample("nginxplus_connections_idle", {}, static_cast<double>(idle));
  p.family("nginxplus_http_requests_total", "counter", "Total http requests");
  p.sample("nginxplus_http_requests_total", {}, static_cast<double>(total));
  p.family("nginxplus_http_requests_current", "gauge", "Current http requests");
  p.sample("nginxplus_http_requests_current", {}, static_cast<double>(current));

  // Server zones have `processing`; otherwise both kinds have the same families.
  auto zone_metrics = [&p](const std::string& kind, const std::string& zone,
                           const proxy::ZoneStats& z, bool processing) {
    const std::string prefix = "nginxplus_" + kind + "_";
    const Labels l{{kind, zone}};
    const auto s = z.responses().snapshot();
    if (processing) {
      p.family(prefix + "processing", "gauge",
               "Client requests that are currently being processed");
      p.sample(prefix + "processing", l, static_cast<double>(z.processing()));
    }
    p.family(prefix + "requests", "counter", "Total client requests");
    p.sample(prefix + "requests", l, static_cast<double>(s.requests + z.discarded()));
    responses(p, prefix + "responses", l, s);
    p.family(prefix + "discarded", "counter", "Requests completed without sending a response");
    p.sample(prefix + "discarded", l, static_cast<double>(z.discarded()));
    p.family(prefix + "received", "counter", "Bytes received from clients");
    p.sample(prefix + "received", l, static_cast<double>(s.received));
    p.family(prefix + "sent", "counter", "Bytes sent to clients");
    p.sample(prefix + "sent", l, static_cast<double>(s.sent));
  };
  for (const auto& [zone, z] : st.runtime->server_zones)
    zone_metrics("server_zone", zone, *z, true);
  for (const auto& [zone, z] : st.runtime->location_zones) {
    zone_metrics("location_zone", zone, *z, false);
  }

  const auto now = balancing::Clock::now();
  const auto& ups = st.runtime->config->http.upstreams;
  for (size_t i = 0; i < ups.size(); ++i) {
    if (ups[i].implicit) continue;
    const auto& g = *st.runtime->groups[i];
    const Labels gl{{"upstream", g.name()}};
    p.family("nginxplus_upstream_keepalive", "gauge", "Idle keepalive connections");
    p.sample("nginxplus_upstream_keepalive", gl, static_cast<double>(st.keepalive(g.name())));
    p.family("nginxplus_upstream_zombies", "gauge",
             "Servers removed from the group but still processing active client requests");
    p.sample("nginxplus_upstream_zombies", gl, static_cast<double>(g.zombies().size()));
    for (const auto& server : g.servers()) {
      const auto& peer = *server.peer;
      const Labels l{{"server", peer.name()}, {"upstream", g.name()}};
      const auto s = peer.stats().snapshot();
      p.family("nginxplus_upstream_server_state", "gauge", "Current state");
      p.sample("nginxplus_upstream_server_state", l,
               state_number(balancing::state_name(peer, now)));
      p.family("nginxplus_upstream_server_active", "gauge", "Active connections");
      p.sample("nginxplus_upstream_server_active", l, static_cast<double>(peer.active()));
      p.family("nginxplus_upstream_server_limit", "gauge",
               "Limit for connections which corresponds to the max_conns parameter of the upstream "
               "server. Zero value means there is no limit");
      p.sample("nginxplus_upstream_server_limit", l, peer.max_conns());
      p.family("nginxplus_upstream_server_requests", "counter", "Total client requests");
      p.sample("nginxplus_upstream_server_requests", l,
               static_cast<double>(s.requests + s.failed_attempts));
      responses(p, "nginxplus_upstream_server_responses", l, s);
      p.family("nginxplus_upstream_server_sent", "counter", "Bytes sent to this server");
      p.sample("nginxplus_upstream_server_sent", l, static_cast<double>(s.sent));
      p.family("nginxplus_upstream_server_received", "counter", "Bytes received to this server");
      p.sample("nginxplus_upstream_server_received", l, static_cast<double>(s.received));
      p.family("nginxplus_upstream_server_fails", "counter",
               "Number of unsuccessful attempts to communicate with the server");
      p.sample("nginxplus_upstream_server_fails", l, static_cast<double>(s.failed_attempts));
      p.family("nginxplus_upstream_server_unavail", "counter",
               "How many times the server became unavailable for client requests (state 'unavail') "
               "due to the number of unsuccessful attempts reaching the max_fails threshold");
      p.sample("nginxplus_upstream_server_unavail", l, static_cast<double>(peer.unavail()));
      const auto& hc = peer.health();
      p.family("nginxplus_upstream_server_health_checks_checks", "counter",
               "Total health check requests");
      p.sample("nginxplus_upstream_server_health_checks_checks", l,
               static_cast<double>(hc.checks.load(std::memory_order_relaxed)));
      p.family("nginxplus_upstream_server_health_checks_fails", "counter", "Failed health checks");
      p.sample("nginxplus_upstream_server_health_checks_fails", l,
               static_cast<double>(hc.fails.load(std::memory_order_relaxed)));
      p.family("nginxplus_upstream_server_health_checks_unhealthy", "counter",
               "How many times the server became unhealthy (state 'unhealthy')");
      p.sample("nginxplus_upstream_server_health_checks_unhealthy", l,
               static_cast<double>(hc.unhealthy.load(std::memory_order_relaxed)));
      p.family("nginxplus_upstream_server_header_time", "gauge",
               "Average time to get the response header from the server");
      p.sample("nginxplus_upstream_server_header_time", l, s.header_latency.mean() / 1000.0);
      p.family("nginxplus_upstream_server_response_time", "gauge",
               "Average time to get the full response from the server");
      p.sample("nginxplus_upstream_server_response_time", l, s.latency.mean() / 1000.0);
      p.family("tidegate_upstream_server_tunnels", "gauge",
               "Open tunnels (WebSocket and other upgraded connections)");
      p.sample("tidegate_upstream_server_tunnels", l, static_cast<double>(peer.tunnels()));
      histogram(p, "tidegate_upstream_server_response_seconds", l, s.latency);
    }
  }
  if (st.autoscaler) autoscale_families(p, *st.autoscaler);
  return p.text();
}

proxy::ControlResponse prometheus_response(const proxy::ControlRequest& request,
                                           AdminState& state) {
  return proxy::ControlResponse::read_only(request.method,
                                           "text/plain; version=0.0.4; charset=utf-8",
                                           [&state] { return prometheus_text(state); });
}

}  // namespace tg::admin
