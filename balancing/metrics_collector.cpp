#include "balancing/metrics_collector.h"

namespace tg::balancing {

std::string_view state_name(const Peer& peer, TimePoint now) {
  if (peer.down()) return "down";
  if (peer.checking()) return "checking";
  if (peer.failed(now)) return "unavail";
  if (!peer.healthy() || peer.ejected()) return "unhealthy";
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
  using Dense = std::array<std::uint64_t, HistogramLayout::kBucketCount>;
  Dense latency{}, header_latency{};
  ServerStatsSnapshot stats;  // reused: sample_changes() writes what it reads
  for (const auto& group : groups) {
    // The group's counters are its members' plus the retired ones (exact across
    // removals); its histograms' growth is the sum of its members' growth (a zombie
    // folded away between two samples takes its last second of latencies with it).
    ServerStatsSnapshot counters = group->retired();
    latency.fill(0);
    header_latency.fill(0);
    Gauges group_gauges;
    auto visit = [&](Peer& peer, bool member) {
      peer.stats().sample_changes(stats);
      counters.requests += stats.requests;
      for (std::size_t i = 0; i < counters.responses.size(); ++i)
        counters.responses[i] += stats.responses[i];
      counters.failed_attempts += stats.failed_attempts;
      counters.connects += stats.connects;
      group_gauges.active += peer.active();
      group_gauges.tunnels += peer.tunnels();
      ServerEntry& e = servers_[peer.id()];
      e.seen = round_;
      e.windows.push(stats, Gauges{peer.active(), peer.tunnels()});
      for (const auto& [b, n] : e.windows.last_latency().buckets) latency[b] += n;
      for (const auto& [b, n] : e.windows.last_header_latency().buckets) header_latency[b] += n;
      if (!member) return;  // a zombie's downtime is not reported
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
    auto sparse = [](const Dense& dense, StatsWindows::SparseHistogram& out) {
      out.buckets.clear();  // keeps its storage from the last group
      for (std::size_t i = 0; i < dense.size(); ++i) {
        if (dense[i] != 0)
          out.buckets.emplace_back(static_cast<std::uint16_t>(i),
                                   static_cast<std::uint32_t>(dense[i]));
      }
    };
    sparse(latency, group_latency_);
    sparse(header_latency, group_header_latency_);
    auto it = groups_.find(group->name());
    if (it == groups_.end()) it = groups_.emplace(group->name(), GroupEntry{}).first;
    it->second.seen = round_;
    it->second.windows.push(counters, group_gauges, group_latency_, group_header_latency_);
  }
  // Servers and groups no longer configured are forgotten.
  std::erase_if(servers_, [this](const auto& kv) { return kv.second.seen != round_; });
  std::erase_if(groups_, [this](const auto& kv) { return kv.second.seen != round_; });
}

const StatsWindows* MetricsCollector::server(std::uint64_t id) const {
  auto it = servers_.find(id);
  return it == servers_.end() ? nullptr : &it->second.windows;
}

const StatsWindows* MetricsCollector::group(std::string_view name) const {
  auto it = groups_.find(name);
  return it == groups_.end() ? nullptr : &it->second.windows;
}

const MetricsCollector::Downtime* MetricsCollector::downtime(std::uint64_t id) const {
  auto it = servers_.find(id);
  if (it == servers_.end()) return nullptr;
  return &it->second.downtime;
}

}  // namespace tg::balancing
