#include "proxy/runtime.h"

#include <algorithm>

#include "common/error_log.h"

namespace tg::proxy {

namespace {

void collect_log_paths(const conf::LocationSettings& s, std::vector<std::string>& out) {
  for (const auto& a : s.access_log) out.push_back(a.path);
}

void collect_log_paths(const std::vector<std::unique_ptr<conf::Location>>& locations,
                       std::vector<std::string>& out) {
  for (const auto& l : locations) {
    collect_log_paths(l->settings, out);
    collect_log_paths(l->children, out);
  }
}

}  // namespace

balancing::GroupMembership* Runtime::find_group(std::string_view name) const {
  for (const auto& g : groups) {
    if (g->name() == name) return g.get();
  }
  return nullptr;
}

namespace {

ZoneStats* zone_in(const std::map<std::string, std::shared_ptr<ZoneStats>, std::less<>>& zones,
                   std::string_view name) {
  auto it = zones.find(name);
  return it == zones.end() ? nullptr : it->second.get();
}

/// limit_req / limit_conn zones: one state per configured zone, the previous
/// generation's when a zone of that name was there (its keys and counts stay).
template <typename Zone, typename State>
void keep_zones(const std::vector<Zone>& configured, const std::vector<Zone>& before,
                const std::vector<std::shared_ptr<State>>& before_state,
                std::vector<std::shared_ptr<State>>& out) {
  for (const auto& z : configured) {
    std::shared_ptr<State> kept;
    for (size_t j = 0; j < before.size() && j < before_state.size(); ++j) {
      if (before[j].name == z.name) kept = before_state[j];
    }
    out.push_back(kept ? kept : std::make_shared<State>(z.max_entries));
  }
}

void collect_location_zones(const std::vector<std::unique_ptr<conf::Location>>& locations,
                            std::vector<std::string>& out) {
  for (const auto& l : locations) {
    if (!l->status_zone.empty()) out.push_back(l->status_zone);
    collect_location_zones(l->children, out);
  }
}

}  // namespace

ZoneStats* Runtime::server_zone(std::string_view name) const {
  return zone_in(server_zones, name);
}

ZoneStats* Runtime::location_zone(std::string_view name) const {
  return zone_in(location_zones, name);
}

std::vector<std::string> access_log_paths(const conf::Config& config) {
  std::vector<std::string> paths;
  for (const auto& s : config.http.servers) {
    collect_log_paths(s.settings, paths);
    collect_log_paths(s.locations, paths);
  }
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  return paths;
}

std::shared_ptr<const Runtime> build_runtime(std::shared_ptr<const conf::Config> config,
                                             size_t worker_slots, const Runtime* previous,
                                             uint64_t generation,
                                             std::map<std::string, UniqueFd>* opened) {
  std::shared_ptr<Runtime> rt(new Runtime, [](Runtime* r) {
    if (r->superseded.load()) {
      log(LogLevel::kNotice, "configuration generation " + std::to_string(r->generation) +
                                 " retired: its last connection closed");
    }
    delete r;
  });
  rt->generation = generation;
  rt->listeners = group_listeners(*config);
  for (const auto& path : access_log_paths(*config)) {
    if (previous) {
      auto it = previous->access_logs.find(path);
      if (it != previous->access_logs.end()) {
        rt->access_logs.emplace(path, it->second);
        continue;
      }
    }
    if (opened) {
      auto it = opened->find(path);
      if (it != opened->end()) {
        rt->access_logs.emplace(path, AccessLogFile::adopt(path, std::move(it->second)));
        continue;
      }
    }
    std::string error;
    auto file = AccessLogFile::open(path, error);
    if (!file) throw conf::ConfError(error);
    rt->access_logs.emplace(path, file);
  }
  if (previous) {
    keep_zones(config->http.limit_req_zones, previous->config->http.limit_req_zones,
               previous->limit_req_zones, rt->limit_req_zones);
    keep_zones(config->http.limit_conn_zones, previous->config->http.limit_conn_zones,
               previous->limit_conn_zones, rt->limit_conn_zones);
  } else {
    keep_zones(config->http.limit_req_zones, {}, {}, rt->limit_req_zones);
    keep_zones(config->http.limit_conn_zones, {}, {}, rt->limit_conn_zones);
  }
  std::vector<std::string> location_zone_names;
  for (const auto& s : config->http.servers) {
    if (!s.status_zone.empty() && !rt->server_zones.count(s.status_zone)) {
      auto kept = previous ? previous->server_zones.find(s.status_zone) : rt->server_zones.end();
      rt->server_zones.emplace(s.status_zone, previous && kept != previous->server_zones.end()
                                                  ? kept->second
                                                  : std::make_shared<ZoneStats>(worker_slots));
    }
    collect_location_zones(s.locations, location_zone_names);
  }
  for (const auto& name : location_zone_names) {
    if (rt->location_zones.count(name)) continue;
    auto kept = previous ? previous->location_zones.find(name) : rt->location_zones.end();
    rt->location_zones.emplace(name, previous && kept != previous->location_zones.end()
                                         ? kept->second
                                         : std::make_shared<ZoneStats>(worker_slots));
  }
  // Last: groups hand live peers their new settings (drain, weights), so
  // nothing after this may fail.
  const auto now = balancing::Clock::now();
  for (const auto& u : config->http.upstreams) {
    std::shared_ptr<balancing::GroupMembership> group;
    if (previous) {
      for (const auto& g : previous->groups) {
        if (g->name() == u.name) group = g;
      }
    }
    const bool first = !group;
    if (first) group = std::make_shared<balancing::GroupMembership>(u.name, worker_slots);
    balancing::GroupMembership::Checks checks;
    for (const auto& hc : config->http.health_checks) {
      if (hc.upstream != rt->groups.size()) continue;
      checks.active = true;
      checks.mandatory = checks.mandatory || hc.mandatory;
      checks.persistent = checks.persistent || hc.persistent;
    }
    group->set_checks(checks);
    // In the first generation every server is up from the start (no slow_start ramp,
    // drains dated by their first pick).
    group->load(u.servers, u.balancer, !u.zone.empty(),
                first ? std::nullopt : std::optional<balancing::TimePoint>(now));
    rt->groups.push_back(std::move(group));
  }
  rt->config = std::move(config);
  return rt;
}

}  // namespace tg::proxy
