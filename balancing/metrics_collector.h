// Once a second, the control thread samples every group's servers into rolling
// windows (stats_window.h) and keeps the bookkeeping the admin API reports
// (downtime); the windows are what the autoscaler's policies read.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "balancing/membership.h"
#include "balancing/stats_window.h"

namespace tg::balancing {

/// A server's state as NGINX Plus names it: "down" (operator), "unavail" (max_fails),
/// "unhealthy" (active health checks), "draining", or "up".
std::string_view state_name(const Peer& peer, TimePoint now);

/// Every counter of a group: its servers, its zombies and the removed servers already
/// folded into GroupMembership::retired(). Never goes back when a server is removed.
ServerStatsSnapshot group_totals(const GroupMembership& group);

class MetricsCollector {
 public:
  /// NGINX Plus's downtime bookkeeping of one server (unavail and unhealthy time).
  struct Downtime {
    std::optional<std::chrono::system_clock::time_point> downstart;  ///< while down now
    std::chrono::milliseconds total{0};
  };

  /// Samples every server and group (call once a second). `now` and `wall` are the
  /// sampling time on the steady and the system clock.
  void sample(std::span<const std::shared_ptr<GroupMembership>> groups, TimePoint now,
              std::chrono::system_clock::time_point wall);

  /// Windows of server `id` / group `name`; nullptr before their first sample.
  const StatsWindows* server(std::uint64_t id) const;
  const StatsWindows* group(std::string_view name) const;
  const Downtime* downtime(std::uint64_t id) const;

 private:
  struct ServerEntry {
    StatsWindows windows;
    Downtime downtime;
    std::optional<TimePoint> down_since;
    std::uint64_t seen = 0;  ///< sample round it was last seen in
  };
  struct GroupEntry {
    StatsWindows windows;
    std::uint64_t seen = 0;
  };
  std::map<std::uint64_t, ServerEntry> servers_;
  std::map<std::string, GroupEntry, std::less<>> groups_;
  /// A group's histograms' growth in one second, refilled for each group.
  StatsWindows::SparseHistogram group_latency_, group_header_latency_;
  std::uint64_t round_ = 0;
};

}  // namespace tg::balancing
