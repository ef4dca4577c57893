// A server of an upstream group: configuration plus live state shared by all workers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "balancing/balancer_config.h"
#include "balancing/pick_input.h"
#include "balancing/server_config.h"
#include "balancing/server_stats.h"

namespace tg::balancing {

/// Outcome reported when a lease is released (nginx's peer.free state).
enum class Outcome { kSuccess, kFailure };

/// Whether a request is bound to the peer it asks about (see eligibility()).
enum class Binding : bool {
  kNone,    ///< a new pick: draining peers are out
  kSticky,  ///< the request's sticky cookie/route names this peer: draining does not keep it out
};

/// What a released lease's response times update besides the least_time averages, and
/// whether picks track in-flight start times. Set per tier from the group's config.
struct TimingFeed {
  TimeMetric peak_metric = TimeMetric::kHeader;
  double peak_decay_ns = 0;     ///< > 0: maintain the peak EWMA (peak_ewma groups only)
  bool track_inflight = false;  ///< maintain inflight_age() (least_time ... inflight)
};

/// peak_ewma's stored estimate: its value at the time of its last sample.
struct PeakEwmaSample {
  double value_ns = 0;  ///< 0 = unmeasured
  TimePoint at;
};

/// A server of a group: its identity (id, name, address, backup), its settings and
/// live state shared by all workers, and its metrics. Owned by shared_ptr so live state
/// survives membership changes.
///
/// Identity never changes. The settings that NGINX Plus lets an operator change at run
/// time (weight, max_conns, max_fails, fail_timeout, slow_start, down, drain,
/// drain_timeout) are atomics changed in place by apply(), so counters, active counts
/// and leases carry over; `route` (the sticky id) lives in the group snapshot.
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
/// slow_start: the ramp (re)starts when the server joins an existing group (make_group
/// with a previous snapshot), when a flag among down/draining/unhealthy clears, and when
/// a success ends a failed state. The library reads no clock, so those events only mark
/// the ramp pending; it begins at the first pick that sees the peer (observe()).
/// Draining peers keep the time the drain began the same way (draining_since()).
///
/// Thread safety: all live state is relaxed atomics (counters and flags; nothing else
/// is published through them). Read-mostly fields and per-pick counters sit on separate
/// cache lines so round-robin scans by other workers do not contend with pick counting.
/// The response-time averages are updated by plain load-then-store: two workers
/// releasing at once may lose one sample, which a moving average does not mind.
class Peer {
 public:
  /// The standing epoch shared by the peers of one group (see standing_epoch()).
  using Epoch = std::shared_ptr<std::atomic<std::uint64_t>>;

  /// `worker_slots`: number of workers that will record into stats(). `epoch`: the
  /// group's standing epoch (a fresh one when none is given).
  Peer(const ServerConfig& config, std::size_t worker_slots, Epoch epoch = {});
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  /// Stable id, unique among every Peer of the process and never reused (NGINX Plus's
  /// server id).
  std::uint64_t id() const noexcept { return id_; }
  const std::string& name() const noexcept { return name_; }
  const boost::asio::ip::tcp::endpoint& endpoint() const noexcept { return endpoint_; }
  bool backup() const noexcept { return backup_; }

  /// Current settings (apply() changes them).
  int weight() const noexcept { return weight_.load(std::memory_order_relaxed); }
  int max_fails() const noexcept { return max_fails_.load(std::memory_order_relaxed); }
  int max_conns() const noexcept { return max_conns_.load(std::memory_order_relaxed); }
  std::chrono::milliseconds fail_timeout() const noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::nanoseconds(fail_timeout_.load(std::memory_order_relaxed)));
  }
  std::chrono::milliseconds slow_start() const noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::nanoseconds(slow_start_.load(std::memory_order_relaxed)));
  }

  /// Takes the changeable settings of `config` (its name, address and backup flag must be
  /// this peer's): weight, max_conns, max_fails, fail_timeout, slow_start, down, drain
  /// (dated `now` when given) and drain_timeout. Counters and leases carry over.
  void apply(const ServerConfig& config, std::optional<TimePoint> now) noexcept;

  /// Requests currently holding a lease on this server (nginx: conns).
  std::int64_t active() const noexcept { return active_.load(std::memory_order_relaxed); }
  /// Leases ever taken on this server (nginx: requests).
  std::uint64_t requests() const noexcept { return requests_.load(std::memory_order_relaxed); }
  /// Times max_fails was reached, making the server unavailable (NGINX Plus: unavail).
  std::uint64_t unavail() const noexcept { return unavail_.load(std::memory_order_relaxed); }
  /// When a lease was last taken on it (NGINX Plus: selected); nullopt before the first.
  std::optional<TimePoint> selected() const noexcept {
    const std::int64_t t = selected_.load(std::memory_order_relaxed);
    if (t == 0) return std::nullopt;
    return from_ticks(t);
  }
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

  /// Operator/health availability: false while down, draining or unhealthy. With
  /// Binding::kSticky draining does not count (nginx's `drain`: bound requests still go).
  bool available(Binding binding = Binding::kNone) const noexcept {
    const std::uint32_t mask = binding == Binding::kSticky ? ~std::uint32_t{kDraining} : ~0u;
    return (flags_.load(std::memory_order_relaxed) & mask) == 0;
  }
  /// True while max_conns > 0 and active() >= max_conns.
  bool at_max_conns() const noexcept {
    const int cap = max_conns();
    return cap > 0 && active() >= cap;
  }
  /// True while passive health keeps the server out (see class comment); pickers ignore
  /// it for the only primary of a group (nginx's `single`).
  bool failed(TimePoint now) const noexcept {
    return counts_as_failed(fails_.load(std::memory_order_relaxed)) &&
           ticks(now) - checked_.load(std::memory_order_relaxed) <=
               fail_timeout_.load(std::memory_order_relaxed);
  }
  /// First instant at which a failed() server is let through again: checked + fail_timeout
  /// + 1 ns.
  TimePoint failed_until() const noexcept {
    return from_ticks(checked_.load(std::memory_order_relaxed) +
                      fail_timeout_.load(std::memory_order_relaxed) + 1);
  }

  /// The group's counter, bumped after any change that can flip a peer's standing
  /// (available(), failed()) or restart its slow start; time-based recovery is not a
  /// change (see failed_until()). Pickers cache their eligible set and rescan only when
  /// it moves. One per group: a flip in one group does not make other groups rescan.
  std::uint64_t standing_epoch() const noexcept { return epoch_->load(std::memory_order_acquire); }
  const Epoch& epoch() const noexcept { return epoch_; }

  /// `down`: starts as ServerConfig::down; the admin API may flip it.
  bool down() const noexcept { return has(kDown); }
  void set_down(bool on) noexcept { set(kDown, on); }
  /// Draining: no new picks; requests bound by `sticky` still come, and leases already
  /// held run to completion. Starts as ServerConfig::drain.
  bool draining() const noexcept { return has(kDraining); }
  /// Starts or ends draining; a drain started here is dated by the next pick (observe()).
  void set_draining(bool on) noexcept;
  /// Starts (dated `now`, unless already draining) or ends draining.
  void set_draining(bool on, TimePoint now) noexcept;
  /// When the current drain began; nullopt when not draining or not dated yet (a drain
  /// from the config or from set_draining(bool) is dated by the first pick after it).
  std::optional<TimePoint> draining_since() const noexcept;
  /// Active health-check verdict (health/); separate from passive fails. Default healthy.
  bool healthy() const noexcept { return !has(kUnhealthy); }
  void set_healthy(bool on) noexcept { set(kUnhealthy, !on); }
  /// NGINX Plus's `checking`: a `mandatory` health check has not passed yet; no requests.
  bool checking() const noexcept { return has(kChecking); }
  void set_checking(bool on) noexcept { set(kChecking, on); }
  /// NGINX Plus's `health_checks` object: written by the checker (control thread).
  struct HealthCounters {
    std::atomic<std::uint64_t> checks{0};     ///< checks made
    std::atomic<std::uint64_t> fails{0};      ///< of those, failed
    std::atomic<std::uint64_t> unhealthy{0};  ///< times it became unhealthy
    std::atomic<int> last_passed{-1};         ///< -1: no check yet; else 0 or 1
  };
  HealthCounters& health() noexcept { return health_; }
  const HealthCounters& health() const noexcept { return health_; }

  /// Outlier detection (`outlier_detection`): while the group asks for it, workers
  /// count the server's consecutive 5xx answers and gateway failures; the control
  /// thread ejects (no requests) and returns it.
  void set_outlier_counting(bool on) noexcept {
    outlier_counting_.store(on, std::memory_order_relaxed);
  }
  void note_response(bool server_error) noexcept {
    if (!outlier_counting_.load(std::memory_order_relaxed)) return;
    if (server_error) {
      consecutive_errors_.fetch_add(1, std::memory_order_relaxed);
    } else if (consecutive_errors_.load(std::memory_order_relaxed) != 0) {
      consecutive_errors_.store(0, std::memory_order_relaxed);
    }
  }
  std::int32_t consecutive_errors() const noexcept {
    return consecutive_errors_.load(std::memory_order_relaxed);
  }
  void reset_consecutive_errors() noexcept {
    consecutive_errors_.store(0, std::memory_order_relaxed);
  }
  bool ejected() const noexcept { return has(kEjected); }
  void set_ejected(bool on) noexcept { set(kEjected, on); }

  /// Long-lived tunnels (WebSocket, CONNECT) open on this server; the drain feature waits
  /// for them. Counted by the proxy, independently of leases.
  std::int64_t tunnels() const noexcept { return tunnels_.load(std::memory_order_relaxed); }
  void tunnel_opened() noexcept { tunnels_.fetch_add(1, std::memory_order_relaxed); }
  void tunnel_closed() noexcept { tunnels_.fetch_sub(1, std::memory_order_relaxed); }
  /// WebSocket messages through this server's tunnels, both directions (tunnels add
  /// them per read, not per message); the autoscaler's `ws_messages` rate.
  std::uint64_t ws_messages() const noexcept {
    return ws_messages_.load(std::memory_order_relaxed);
  }
  void add_ws_messages(std::uint64_t n) noexcept {
    ws_messages_.fetch_add(n, std::memory_order_relaxed);
  }

  /// drain_timeout (tidegate extension): how long tunnels may stay open on this server
  /// once it drains; zero = no limit. Starts as ServerConfig::drain_timeout; a reload
  /// that keeps the server updates it (make_group), so open tunnels see the new value.
  std::chrono::milliseconds drain_timeout() const noexcept {
    return std::chrono::milliseconds(drain_timeout_ms_.load(std::memory_order_relaxed));
  }
  void set_drain_timeout(std::chrono::milliseconds t) noexcept {
    drain_timeout_ms_.store(t.count(), std::memory_order_relaxed);
  }

  /// Marks a slow-start ramp pending (no-op without slow_start): it begins at the next
  /// observe(). make_group calls it for servers joining an existing group.
  void begin_slow_start() noexcept;
  /// A picker saw this peer at `now`: begins a pending slow-start ramp and dates a
  /// pending drain. Idempotent; the first observer's time wins.
  void observe(TimePoint now) noexcept;
  /// End of the current slow-start ramp; nullopt when none is running or pending.
  std::optional<TimePoint> slow_start_ends() const noexcept;
  /// `weight` as slow_start allows it at `now`: weight * elapsed / slow_start, at least 1,
  /// during the ramp; `weight` before a pending ramp begins and after it ends.
  int slow_start_weight(int weight, TimePoint now) const noexcept;

  /// least_time's moving average of the response time, by metric; 0 until measured.
  /// Each sample weighs 1/8 (the first one sets it); samples count from 1 ns up to
  /// 2^40 ns (~18 min).
  std::chrono::nanoseconds response_time(TimeMetric metric) const noexcept {
    return std::chrono::nanoseconds(static_cast<std::int64_t>(response_time_ns(metric)));
  }
  /// response_time() as kept: a fractional number of nanoseconds (least_time's scan).
  double response_time_ns(TimeMetric metric) const noexcept {
    return ewma(metric).load(std::memory_order_relaxed);
  }
  /// Mean age at `now` of the leases whose picks tracked it (least_time ... inflight);
  /// 0 when there are none.
  std::chrono::nanoseconds inflight_age(TimePoint now) const noexcept;
  /// peak_ewma's estimate at `now`, in nanoseconds (0 until measured): the peak-sensitive
  /// average, decayed towards 0 by exp(-elapsed / decay) since its last sample.
  double peak_ewma_ns(TimePoint now, double decay_ns) const noexcept;
  /// The stored estimate and when it was set (peak_ewma_ns decays it to a `now`).
  PeakEwmaSample peak_ewma_sample() const noexcept {
    return {peak_ewma_.load(std::memory_order_relaxed),
            from_ticks(peak_at_.load(std::memory_order_relaxed))};
  }
  /// Records one response's times (also done by Lease::release): the least_time
  /// averages always, the peak EWMA when `feed` asks for it.
  void record_times(const ResponseTimes& times, TimePoint now, const TimingFeed& feed) noexcept;

  ServerStats& stats() noexcept { return stats_; }
  const ServerStats& stats() const noexcept { return stats_; }

 private:
  friend class Lease;

  enum Flag : std::uint32_t {
    kDown = 1,
    kDraining = 2,
    kUnhealthy = 4,
    kChecking = 8,
    kEjected = 16
  };

  /// started_ / draining_since_ values that are not times.
  static constexpr std::int64_t kNotRunning = std::numeric_limits<std::int64_t>::min();
  static constexpr std::int64_t kPending = kNotRunning + 1;

  static std::int64_t ticks(TimePoint t) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  }
  static TimePoint from_ticks(std::int64_t ns) noexcept {
    return TimePoint(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
  }
  bool has(Flag f) const noexcept { return (flags_.load(std::memory_order_relaxed) & f) != 0; }
  /// Sets or clears `f`; true if it changed. Clearing restarts slow start.
  bool set(Flag f, bool on) noexcept;
  void bump_standing() noexcept { epoch_->fetch_add(1, std::memory_order_release); }
  bool counts_as_failed(std::int32_t fails) const noexcept {
    const std::int32_t max = max_fails_.load(std::memory_order_relaxed);
    return max > 0 && fails >= max;
  }
  std::atomic<double>& ewma(TimeMetric m) noexcept {
    return m == TimeMetric::kHeader ? header_ewma_ : last_byte_ewma_;
  }
  const std::atomic<double>& ewma(TimeMetric m) const noexcept {
    return m == TimeMetric::kHeader ? header_ewma_ : last_byte_ewma_;
  }

  /// A lease was taken (nginx: get_peer's tail). Moves `checked` forward once
  /// fail_timeout has passed, which is what lets one request probe a failed server and
  /// what makes the next success forgive earlier failures. With `track_inflight` the
  /// start time joins inflight_start_sum_ before inflight_count_ rises (see
  /// inflight_age()).
  void on_picked(std::int64_t now_ticks, bool track_inflight) noexcept {
    if (track_inflight) {
      inflight_start_sum_.fetch_add(now_ticks, std::memory_order_relaxed);
      inflight_count_.fetch_add(1, std::memory_order_release);
    }
    active_.fetch_add(1, std::memory_order_relaxed);
    requests_.fetch_add(1, std::memory_order_relaxed);
    selected_.store(now_ticks, std::memory_order_relaxed);
    if (now_ticks - checked_.load(std::memory_order_relaxed) >
        fail_timeout_.load(std::memory_order_relaxed)) {
      checked_.store(now_ticks, std::memory_order_relaxed);
      // A failed server just let its one probe through and is out again.
      if (counts_as_failed(fails_.load(std::memory_order_relaxed))) bump_standing();
    }
  }

  /// A lease was released (nginx: free_peer). `now` is only read on failure.
  /// `inflight_start`: the pick's time when it was tracked, else nullopt.
  void on_released(Outcome outcome, TimePoint now,
                   std::optional<std::int64_t> inflight_start) noexcept;

  // Read on every scan; written rarely (failures, operator actions).
  alignas(64) std::atomic<std::uint32_t> flags_;
  std::atomic<std::int32_t> fails_{0};
  std::atomic<std::int32_t> max_fails_;
  std::atomic<std::int32_t> max_conns_;
  std::atomic<std::int32_t> weight_;
  std::atomic<std::int64_t> fail_timeout_;  ///< nanoseconds
  std::atomic<std::int64_t> slow_start_;    ///< nanoseconds, 0 = off
  std::atomic<std::int64_t> checked_{0};
  std::atomic<std::int64_t> accessed_{0};
  std::atomic<std::int64_t> started_{kNotRunning};  ///< slow-start ramp start
  std::atomic<std::int64_t> draining_since_;
  std::atomic<std::int64_t> tunnels_{0};
  std::atomic<std::uint64_t> ws_messages_{0};
  std::atomic<std::int64_t> drain_timeout_ms_;
  std::atomic<std::uint64_t> unavail_{0};

  // Written on every pick and release (one line, so least_time reads one line per peer).
  alignas(64) std::atomic<std::int64_t> active_{0};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::int64_t> selected_{0};
  std::atomic<std::int64_t> inflight_start_sum_{0};  ///< sum of tracked leases' pick times
  std::atomic<std::int64_t> inflight_count_{0};      ///< tracked leases
  std::atomic<double> header_ewma_{0};               ///< ns, 0 = unmeasured
  std::atomic<double> last_byte_ewma_{0};            ///< ns, 0 = unmeasured
  std::atomic<double> peak_ewma_{0};                 ///< ns, 0 = unmeasured
  std::atomic<std::int64_t> peak_at_{0};             ///< time of the last peak sample

  alignas(64) const std::uint64_t id_;
  const std::string name_;
  const boost::asio::ip::tcp::endpoint endpoint_;
  const bool backup_;
  const Epoch epoch_;
  std::atomic<bool> outlier_counting_{false};
  std::atomic<std::int32_t> consecutive_errors_{0};
  HealthCounters health_;
  ServerStats stats_;
};

}  // namespace tg::balancing
