// The servers of one upstream group as the control thread changes them (reload,
// admin API, health checks, autoscaler), and the immutable snapshot workers pick from.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "balancing/balancer_config.h"
#include "balancing/peer.h"
#include "balancing/server_config.h"
#include "balancing/server_stats.h"
#include "balancing/upstream_group.h"

namespace tg::balancing {

/// One place that changes a group's membership.
///
/// Every change (load(), add(), update(), remove()) builds the next UpstreamGroup and
/// publishes it with a new version; a worker compares version() (one load) on each pick
/// and rebuilds its picker when it moved. Servers keep their Peer (id, counters, active
/// counts) across every change except removal. A removed server is no longer picked by
/// the next snapshot; while leases or tunnels still hold it, it is a *zombie*
/// (NGINX Plus's word); once idle, its counters fold into retired().
///
/// Control thread only, except version(), snapshot(), name() and dynamic(), which any
/// thread may call.
class GroupMembership {
 public:
  struct Server {
    std::shared_ptr<Peer> peer;
    ServerConfig config;    ///< current settings, as the API shows them
    bool from_conf = true;  ///< a `server` line (false: added at run time)
    bool modified = false;  ///< settings changed at run time (kept by a reload)
  };

  /// `dynamic`: the group has a `zone` (run-time changes allowed and kept by reloads,
  /// as NGINX Plus). `worker_slots` sizes every Peer's stats.
  GroupMembership(std::string name, std::size_t worker_slots);

  // ---- any thread ----
  const std::string& name() const noexcept { return name_; }
  /// Moves on every published change.
  std::uint64_t version() const noexcept { return version_.load(std::memory_order_acquire); }
  /// The current snapshot. Takes a lock: call when version() moved, not per pick.
  std::shared_ptr<const UpstreamGroup> snapshot() const {
    std::lock_guard lock(snapshot_mutex_);
    return snapshot_;
  }
  bool dynamic() const noexcept { return dynamic_.load(std::memory_order_relaxed); }

  // ---- control thread ----
  /// Takes the conf's `server` lines and method (start and reload). Without a zone the
  /// conf is the whole truth (servers matched by address and tier keep their Peer). With
  /// one (NGINX Plus), servers added at run time stay, and a conf server whose settings
  /// were changed at run time keeps those settings; conf servers no longer in the conf
  /// are removed. `now` dates drains.
  void load(std::span<const ServerConfig> servers, const BalancerConfig& balancer, bool dynamic,
            std::optional<TimePoint> now);

  /// The group's active health checks (the conf's `health_check` lines for it), set
  /// before load(): with `mandatory`, servers new to the group start `checking` (no
  /// requests until their first pass), and a reload puts every server back there,
  /// but with `persistent` the healthy ones. Without checks, no server stays checking
  /// or unhealthy.
  struct Checks {
    bool active = false;
    bool mandatory = false;
    bool persistent = false;
  };
  void set_checks(const Checks& checks) { checks_ = checks; }
  const Checks& checks() const noexcept { return checks_; }

  /// Adds a server (run time); returns its id. `checking`: it takes no requests until
  /// its first health check passes (the autoscaler's new instances), as with `mandatory`.
  std::uint64_t add(const ServerConfig& config, TimePoint now, bool checking = false);
  /// Changes the settings of server `id` (its address and tier stay); false if unknown.
  bool update(std::uint64_t id, const ServerConfig& config, TimePoint now);
  /// Removes server `id`; false if unknown.
  bool remove(std::uint64_t id);

  const std::vector<Server>& servers() const noexcept { return servers_; }
  const Server* find(std::uint64_t id) const noexcept;
  const BalancerConfig& balancer() const noexcept { return balancer_; }

  /// Removed servers still holding leases or tunnels; ends the zombies that have none
  /// (their counters fold into retired()). Returns how many remain.
  std::size_t collect_zombies();
  const std::vector<std::shared_ptr<Peer>>& zombies() const noexcept { return zombies_; }
  /// Counters of removed servers that are gone for good.
  const ServerStatsSnapshot& retired() const noexcept { return retired_; }

 private:
  void publish();
  void retire(std::shared_ptr<Peer> peer);

  const std::string name_;
  const std::size_t worker_slots_;
  BalancerConfig balancer_;
  std::vector<Server> servers_;
  std::vector<std::shared_ptr<Peer>> zombies_;
  ServerStatsSnapshot retired_;
  Peer::Epoch epoch_ = std::make_shared<std::atomic<std::uint64_t>>(0);
  bool loaded_ = false;
  Checks checks_;
  std::atomic<bool> dynamic_{false};
  std::atomic<std::uint64_t> version_{0};
  // A mutex, not std::atomic<std::shared_ptr>: read only when the version moves, and
  // libstdc++'s lock-bit implementation of the latter is opaque to ThreadSanitizer.
  mutable std::mutex snapshot_mutex_;
  std::shared_ptr<const UpstreamGroup> snapshot_;
};

}  // namespace tg::balancing
