// Per-server request metrics, written by each worker into its own slot without locks.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "balancing/latency_histogram.h"

namespace tg::balancing {

/// Plain merged copy of a server's metrics (control thread, admin API, tests).
struct ServerStatsSnapshot {
  std::uint64_t requests = 0;                ///< responses recorded (any status)
  std::array<std::uint64_t, 5> responses{};  ///< by status class: [0] = 1xx ... [4] = 5xx
  std::uint64_t failed_attempts = 0;         ///< attempts that failed before a response
  HistogramSnapshot latency;                 ///< response latency, microseconds

  ServerStatsSnapshot& operator+=(const ServerStatsSnapshot& other) noexcept;
};

/// Per-worker single-writer counters for one server.
///
/// Slot i is written only by worker i (one cache line-aligned slot each, so workers never
/// share a written line); any thread may read through snapshot(). Each slot is ~3 KiB,
/// mostly the latency histogram.
class ServerStats {
 public:
  /// `worker_slots`: number of worker threads that will record (at least 1).
  explicit ServerStats(std::size_t worker_slots);

  std::size_t slots() const noexcept { return slot_count_; }

  /// Records one response from this server: status (100..599; others only count as a
  /// request) and latency in microseconds. Caller must own `worker_slot`.
  void record(std::size_t worker_slot, int status, std::uint64_t latency_us) noexcept {
    Slot& s = slots_[worker_slot];
    detail::add_single_writer(s.requests);
    const unsigned status_class = static_cast<unsigned>(status) / 100u - 1u;
    if (status_class < s.responses.size()) detail::add_single_writer(s.responses[status_class]);
    s.latency.record(latency_us);
  }

  /// Records one attempt that failed before a response (connect error, timeout, reset).
  void record_failed_attempt(std::size_t worker_slot) noexcept {
    detail::add_single_writer(slots_[worker_slot].failed_attempts);
  }

  /// Merges every slot into a plain struct (relaxed reads: a consistent-enough view).
  ServerStatsSnapshot snapshot() const;

 private:
  struct alignas(64) Slot {
    std::atomic<std::uint64_t> requests{0};
    std::array<std::atomic<std::uint64_t>, 5> responses{};
    std::atomic<std::uint64_t> failed_attempts{0};
    LatencyHistogram latency;
  };

  std::size_t slot_count_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace tg::balancing
