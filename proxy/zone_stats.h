// NGINX Plus's status zones (`status_zone name` in a server or location): per-zone
// request counters, kept per worker like a server's (single-writer slots), and the
// process-wide connection and request counters.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "balancing/server_stats.h"

namespace tg::proxy {

/// One zone's counters: responses (by class and code, with bytes and latency) in a
/// ServerStats, plus requests in progress and requests that got no response.
class ZoneStats {
 public:
  explicit ZoneStats(std::size_t worker_slots)
      : stats_(worker_slots), gauges_(std::make_unique<Slot[]>(stats_.slots())) {}

  balancing::ServerStats& responses() noexcept { return stats_; }
  const balancing::ServerStats& responses() const noexcept { return stats_; }
  void begin(std::size_t slot) noexcept { add(gauges_[slot].processing, 1); }
  void end(std::size_t slot) noexcept { add(gauges_[slot].processing, -1); }
  void discarded(std::size_t slot) noexcept { add(gauges_[slot].discarded, 1); }

  std::int64_t processing() const noexcept { return sum(&Slot::processing); }
  std::int64_t discarded() const noexcept { return sum(&Slot::discarded); }

 private:
  struct alignas(64) Slot {
    std::atomic<std::int64_t> processing{0};
    std::atomic<std::int64_t> discarded{0};
  };
  static void add(std::atomic<std::int64_t>& a, std::int64_t n) noexcept {
    a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::int64_t sum(std::atomic<std::int64_t> Slot::*field) const noexcept {
    std::int64_t n = 0;
    for (std::size_t i = 0; i < stats_.slots(); ++i) {
      n += (gauges_[i].*field).load(std::memory_order_relaxed);
    }
    return n;
  }
  balancing::ServerStats stats_;
  std::unique_ptr<Slot[]> gauges_;
};

/// A worker's connection and request counters (written by the worker only; the
/// control thread sums them for /connections and /http/requests).
/// Idle upstream keep-alive connections per upstream group in one worker's pool
/// (NGINX Plus's upstream `keepalive`). The worker creates a group's gauge once
/// and then stores into it; the API reads from any thread.
class KeepaliveGauges {
 public:
  /// The gauge of `group`, created at first use (worker thread).
  std::atomic<std::int64_t>* gauge(const std::string& group) {
    std::lock_guard lock(mutex_);
    auto& g = gauges_[group];
    if (!g) g = std::make_unique<std::atomic<std::int64_t>>(0);
    return g.get();
  }
  /// Idle connections of `group` now (any thread).
  std::int64_t idle(std::string_view group) const {
    std::lock_guard lock(mutex_);
    auto it = gauges_.find(group);
    return it == gauges_.end() ? 0 : it->second->load(std::memory_order_relaxed);
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<std::atomic<std::int64_t>>, std::less<>> gauges_;
};

struct WorkerCounters {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::int64_t> active{0};  ///< client connections open
  std::atomic<std::int64_t> idle{0};    ///< of those, waiting for a request
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::int64_t> current{0};  ///< requests being served
  KeepaliveGauges keepalive;

  static void add(std::atomic<std::int64_t>& a, std::int64_t n) noexcept {
    a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  static void add(std::atomic<std::uint64_t>& a) noexcept {
    a.store(a.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
};

}  // namespace tg::proxy
