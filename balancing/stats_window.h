// Rolling windows over a server's (or a group's) counters: what happened in the last
// 10 seconds, minute and five minutes. Fed once a second by the control thread; read by
// the admin API, Prometheus and the autoscaler's policies. The clock is the caller's.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#include "balancing/server_config.h"
#include "balancing/server_stats.h"

namespace tg::balancing {

/// What one window says.
struct WindowStats {
  double seconds = 0;  ///< time actually covered (less than asked right after a start)
  std::uint64_t requests = 0;
  std::array<std::uint64_t, 5> responses{};  ///< 1xx .. 5xx
  std::uint64_t failed_attempts = 0;
  std::uint64_t connects = 0;
  double rps = 0;             ///< responses per second
  double connects_per_s = 0;  ///< new upstream connections per second
  /// (5xx responses + failed attempts) / (responses + failed attempts); 0 with no traffic.
  double error_rate = 0;
  /// Response time and header time quantiles in microseconds (0 without responses).
  std::uint64_t p50_us = 0, p95_us = 0, p99_us = 0;
  std::uint64_t header_p50_us = 0, header_p95_us = 0, header_p99_us = 0;
  /// Active requests and open tunnels, sampled once a second.
  double active_avg = 0;
  std::int64_t active_max = 0;
  double tunnels_avg = 0;
  std::int64_t tunnels_max = 0;
};

/// The gauges sampled with each second's counters.
struct Gauges {
  std::int64_t active = 0;
  std::int64_t tunnels = 0;
};

/// Windows of 10 s (at 1-second resolution), 1 min and 5 min (at 10-second resolution:
/// the current partial ten seconds plus whole tens, so they step every 10 s).
///
/// Memory is bounded whatever the traffic: ten 1-second and thirty 10-second deltas,
/// with histograms kept sparse (only non-empty buckets).
class StatsWindows {
 public:
  static constexpr std::chrono::seconds k10s{10};
  static constexpr std::chrono::seconds k1m{60};
  static constexpr std::chrono::seconds k5m{300};

  /// A histogram's growth: (bucket, count) pairs sorted by bucket, non-empty only.
  struct SparseHistogram {
    std::vector<std::pair<std::uint16_t, std::uint32_t>> buckets;
    void add_to(HistogramSnapshot& dense) const;
    void merge(const SparseHistogram& from);
  };

  /// Adds one second: `cumulative` counters since the server started (their growth
  /// since the previous push is this second's traffic; counters that went back, after
  /// a reset, start a new baseline) and the gauges now. Only the histogram buckets in
  /// `used` are read (a full snapshot, or ServerStats::sample_changes's changed ones).
  void push(const ServerStatsSnapshot& cumulative, const Gauges& gauges);
  /// The same for a group: cumulative counters, and the histograms' growth this second
  /// given (the sum of its servers' last_latency()s).
  void push(const ServerStatsSnapshot& counters, const Gauges& gauges,
            const SparseHistogram& latency, const SparseHistogram& header_latency);
  /// The histograms' growth in the second pushed last (empty before a push).
  const SparseHistogram& last_latency() const;
  const SparseHistogram& last_header_latency() const;

  /// The last `span` (10 s, 1 min or 5 min; others round to the nearest of these).
  WindowStats window(std::chrono::seconds span) const;

  /// Seconds pushed so far.
  std::uint64_t pushes() const noexcept { return pushes_; }

 private:
  using Sparse = SparseHistogram;
  /// The traffic of one second, or of ten.
  struct Delta {
    std::uint32_t seconds = 0;
    std::uint64_t requests = 0;
    std::array<std::uint64_t, 5> responses{};
    std::uint64_t failed_attempts = 0;
    std::uint64_t connects = 0;
    Sparse latency;
    Sparse header_latency;
    std::int64_t active_sum = 0, active_max = 0;
    std::int64_t tunnels_sum = 0, tunnels_max = 0;
    void add(const Delta& other);
    /// Back to an empty delta, keeping the histograms' capacity.
    void clear();
  };
  /// The last N deltas, oldest first; a new one reuses the oldest one's storage.
  template <std::size_t N>
  struct Ring {
    std::array<Delta, N> items;
    std::size_t next = 0;
    std::size_t size = 0;
    /// The slot of a new delta (cleared).
    Delta& add() {
      Delta& d = items[next];
      next = (next + 1) % N;
      if (size < N) ++size;
      d.clear();
      return d;
    }
    const Delta& newest() const { return items[(next + N - 1) % N]; }
    /// i = 0 is the oldest.
    const Delta& at(std::size_t i) const { return items[(next + N - size + i) % N]; }
  };
  /// Writes the growth from `before` to `now` (buckets in now.used) into `out`.
  static void sparse_diff(const HistogramSnapshot& now, const HistogramSnapshot& before,
                          Sparse& out);
  /// Starts this second: counters (and gauges) against last_, which it then updates;
  /// sets `comparable` when last_ is a baseline for `cumulative` (so are its histograms).
  Delta& begin_second(const ServerStatsSnapshot& cumulative, const Gauges& gauges,
                      bool& comparable);
  /// Adds the second begun last to the current ten.
  void end_second();

  std::uint64_t pushes_ = 0;
  bool have_last_ = false;
  /// What push() compares the next cumulative snapshot with (no per-code counters).
  struct Last {
    std::uint64_t requests = 0;
    std::array<std::uint64_t, 5> responses{};
    std::uint64_t failed_attempts = 0;
    std::uint64_t connects = 0;
    HistogramSnapshot latency;
    HistogramSnapshot header_latency;
  } last_;
  Ring<10> seconds_;   ///< the last 10 seconds
  Delta current_ten_;  ///< seconds since the last whole ten
  Ring<30> tens_;      ///< the last 30 whole tens
};

}  // namespace tg::balancing
