// A server of an upstream group: configuration plus live state shared by all workers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "balancing/server_config.h"
#include "balancing/server_stats.h"

namespace tg::balancing {

/// Outcome reported when a lease is released (nginx's peer.free state).
enum class Outcome { kSuccess, kFailure };

/// A server of a group: its configuration, live state shared by all workers,
/// and its metrics. Owned by shared_ptr so live state survives membership changes.
///
/// Passive health follows ngx_http_upstream_round_robin.c exactly:
/// - a failed attempt does fails++, accessed = checked = now;
/// - the server is "failed" while max_fails > 0, fails >= max_fails and
///   now - checked <= fail_timeout;
/// - every pick moves `checked` to now once fail_timeout has passed since it, so after
///   fail_timeout one request gets through and the server is out again for another
///   fail_timeout unless that request succeeds;
/// - a success resets fails to 0 only if `checked` moved past the last failure
///   (accessed < checked), i.e. successes within fail_timeout of a failure do not
///   forgive it, and failures more than fail_timeout apart only add up when no
///   successful request came in between.
/// When every peer of a group is failed, nothing is picked until one's fail_timeout runs
/// out (nginx has no early reset: requests get "no live upstreams", 502).
/// nginx skips all of this for the only primary server of a group (`peers->single`);
/// here its failures are still counted (fails(), failed() report them as above), but
/// GroupPicker ignores failed() for it (see GroupPicker, UpstreamGroup::single()).
///
/// Thread safety: all live state is relaxed atomics (counters and flags; nothing else
/// is published through them). Read-mostly fields and per-pick counters sit on separate
/// cache lines so round-robin scans by other workers do not contend with pick counting.
class Peer {
 public:
  /// `worker_slots`: number of workers that will record into stats().
  Peer(ServerConfig config, std::size_t worker_slots);
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  const ServerConfig& config() const noexcept { return config_; }
  const std::string& name() const noexcept { return config_.name; }

  /// Requests currently holding a lease on this server (nginx: conns).
  std::int64_t active() const noexcept { return active_.load(std::memory_order_relaxed); }
  /// Leases ever taken on this server (nginx: requests).
  std::uint64_t requests() const noexcept { return requests_.load(std::memory_order_relaxed); }
  /// Failures counted towards max_fails (see class comment).
  int fails() const noexcept { return fails_.load(std::memory_order_relaxed); }
  /// Start of the current fail_timeout window (nginx: checked).
  TimePoint checked() const noexcept {
    return from_ticks(checked_.load(std::memory_order_relaxed));
  }
  /// Time of the last failure (nginx: accessed).
  TimePoint accessed() const noexcept {
    return from_ticks(accessed_.load(std::memory_order_relaxed));
  }

  /// Operator/health availability: false while down, draining or unhealthy.
  bool available() const noexcept { return flags_.load(std::memory_order_relaxed) == 0; }
  /// True while max_conns > 0 and active() >= max_conns.
  bool at_max_conns() const noexcept { return max_conns_ > 0 && active() >= max_conns_; }
  /// True while passive health keeps the server out (see class comment); pickers ignore
  /// it for the only primary of a group (nginx's `single`).
  bool failed(TimePoint now) const noexcept {
    return max_fails_ > 0 && fails_.load(std::memory_order_relaxed) >= max_fails_ &&
           ticks(now) - checked_.load(std::memory_order_relaxed) <= fail_timeout_;
  }
  /// First instant at which a failed() server is let through again: checked + fail_timeout
  /// + 1 ns.
  TimePoint failed_until() const noexcept {
    return from_ticks(checked_.load(std::memory_order_relaxed) + fail_timeout_ + 1);
  }

  /// Process-wide counter bumped after any change that can flip a peer's standing
  /// (available(), failed()); time-based recovery is not a change (see failed_until()).
  /// Pickers cache their eligible set and rescan only when this moves.
  static std::uint64_t standing_epoch() noexcept {
    return standing_epoch_.load(std::memory_order_acquire);
  }

  /// `down`: starts as ServerConfig::down; the admin API may flip it.
  bool down() const noexcept { return has(kDown); }
  void set_down(bool on) noexcept { set(kDown, on); }
  /// Draining: no new picks; leases already held run to completion.
  bool draining() const noexcept { return has(kDraining); }
  void set_draining(bool on) noexcept { set(kDraining, on); }
  /// Active health-check verdict (health/); separate from passive fails. Default healthy.
  bool healthy() const noexcept { return !has(kUnhealthy); }
  void set_healthy(bool on) noexcept { set(kUnhealthy, !on); }

  ServerStats& stats() noexcept { return stats_; }
  const ServerStats& stats() const noexcept { return stats_; }

 private:
  friend class Lease;

  enum Flag : std::uint32_t { kDown = 1, kDraining = 2, kUnhealthy = 4 };

  static std::int64_t ticks(TimePoint t) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  }
  static TimePoint from_ticks(std::int64_t ns) noexcept {
    return TimePoint(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
  }
  bool has(Flag f) const noexcept { return (flags_.load(std::memory_order_relaxed) & f) != 0; }
  void set(Flag f, bool on) noexcept {
    const std::uint32_t old =
        on ? flags_.fetch_or(f, std::memory_order_relaxed)
           : flags_.fetch_and(~static_cast<std::uint32_t>(f), std::memory_order_relaxed);
    if (((old & f) != 0) != on) bump_standing();
  }
  static void bump_standing() noexcept { standing_epoch_.fetch_add(1, std::memory_order_release); }
  bool counts_as_failed(std::int32_t fails) const noexcept {
    return max_fails_ > 0 && fails >= max_fails_;
  }

  /// A lease was taken (nginx: get_peer's tail). Moves `checked` forward once
  /// fail_timeout has passed, which is what lets one request probe a failed server and
  /// what makes the next success forgive earlier failures.
  void on_picked(TimePoint now) noexcept {
    active_.fetch_add(1, std::memory_order_relaxed);
    requests_.fetch_add(1, std::memory_order_relaxed);
    const std::int64_t t = ticks(now);
    if (t - checked_.load(std::memory_order_relaxed) > fail_timeout_) {
      checked_.store(t, std::memory_order_relaxed);
      // A failed server just let its one probe through and is out again.
      if (counts_as_failed(fails_.load(std::memory_order_relaxed))) bump_standing();
    }
  }

  /// A lease was released (nginx: free_peer). `now` is only read on failure.
  void on_released(Outcome outcome, TimePoint now) noexcept {
    if (outcome == Outcome::kFailure) {
      const std::int64_t t = ticks(now);
      const std::int32_t fails = fails_.fetch_add(1, std::memory_order_relaxed) + 1;
      accessed_.store(t, std::memory_order_relaxed);
      checked_.store(t, std::memory_order_relaxed);
      if (counts_as_failed(fails)) bump_standing();
    } else if (fails_.load(std::memory_order_relaxed) != 0 &&
               accessed_.load(std::memory_order_relaxed) <
                   checked_.load(std::memory_order_relaxed)) {
      // "mark peer live if check passed"
      if (counts_as_failed(fails_.exchange(0, std::memory_order_relaxed))) bump_standing();
    }
    active_.fetch_sub(1, std::memory_order_relaxed);
  }

  alignas(64) static inline std::atomic<std::uint64_t> standing_epoch_{0};

  // Read on every scan; written rarely (failures, operator actions).
  alignas(64) std::atomic<std::uint32_t> flags_;
  std::atomic<std::int32_t> fails_{0};
  const std::int32_t max_fails_;
  const std::int32_t max_conns_;
  const std::int64_t fail_timeout_;  ///< nanoseconds
  std::atomic<std::int64_t> checked_{0};
  std::atomic<std::int64_t> accessed_{0};

  // Written on every pick and release.
  alignas(64) std::atomic<std::int64_t> active_{0};
  std::atomic<std::uint64_t> requests_{0};

  alignas(64) const ServerConfig config_;
  ServerStats stats_;
};

}  // namespace tg::balancing
