#include "balancing/metrics_collector.h"

namespace tg::balancing {

std::string_view state_name(const Peer& peer, TimePoint now) {
  if (peer.down()) return "down";
  if (peer.failed(now)) return "unavail";
  if (!peer.healthy()) return "unhealthy";
  if (peer.draining()) return "draining";
  return "up";
}

ServerStatsSnapshot group_totals(const GroupMembership& group) {
  ServerStatsSnapshot total = group.retired();
  for (const auto& s : group.servers()) total += s.peer->stats().snapshot();
  for (const auto& z : group.zombies()) total += z->stats().snapshot();
  return total;
}

void MetricsCollector::sample(std::span<const std::shared_ptr<GroupMembership>> groups,
                              TimePoint now, std::chrono::system_clock::time_point wall) {
  ++round_;
  for (const auto& group : groups) {
    ServerStatsSnapshot total = group->retired();
    Gauges group_gauges;
    auto visit = [&](const Peer& peer, bool member) {
      const ServerStatsSnapshot stats = peer.stats().snapshot(ServerStats::Detail::kNoCodes);
      total += stats;
      group_gauges.active += peer.active();
      group_gauges.tunnels += peer.tunnels();
      if (!member) return;  // zombies count in the group only
      ServerEntry& e = servers_[peer.id()];
      e.seen = round_;
      e.windows.push(stats, Gauges{peer.active(), peer.tunnels()});
      const std::string_view state = state_name(peer, now);
      const bool out = state == "unavail" || state == "unhealthy";
      if (out && !e.down_since) {
        e.down_since = now;
        e.downtime.downstart = wall;
      } else if (!out && e.down_since) {
        e.downtime.total +=
            std::chrono::duration_cast<std::chrono::milliseconds>(now - *e.down_since);
        e.down_since.reset();
        e.downtime.downstart.reset();
      }
    };
    for (const auto& s : group->servers()) visit(*s.peer, true);
    for (const auto& z : group->zombies()) visit(*z, false);
    auto it = groups_.find(group->name());
    if (it == groups_.end()) it = groups_.emplace(group->name(), StatsWindows{}).first;
    it->second.push(total, group_gauges);
  }
  // Servers no longer in any group are forgotten.
  std::erase_if(servers_, [this](const auto& kv) { return kv.second.seen != round_; });
}

const StatsWindows* MetricsCollector::server(std::uint64_t id) const {
  auto it = servers_.find(id);
  return it == servers_.end() ? nullptr : &it->second.windows;
}

const StatsWindows* MetricsCollector::group(std::string_view name) const {
  auto it = groups_.find(name);
  return it == groups_.end() ? nullptr : &it->second;
}

const MetricsCollector::Downtime* MetricsCollector::downtime(std::uint64_t id) const {
  auto it = servers_.find(id);
  if (it == servers_.end()) return nullptr;
  return &it->second.downtime;
}

}  // namespace tg::balancing
