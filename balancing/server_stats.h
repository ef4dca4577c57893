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
  std::array<std::uint64_t, 500> codes{};    ///< by status code: [0] = 100 ... [499] = 599
  std::uint64_t failed_attempts = 0;         ///< attempts that failed before a response
  std::uint64_t connects = 0;                ///< new connections opened to the server
  std::uint64_t sent = 0;                    ///< bytes sent to the server
  std::uint64_t received = 0;                ///< bytes received from the server
  HistogramSnapshot latency;                 ///< response time (to the last byte), microseconds
  HistogramSnapshot header_latency;          ///< time to the response head, microseconds

  ServerStatsSnapshot& operator+=(const ServerStatsSnapshot& other) noexcept;
};

/// Per-worker single-writer counters for one server.
///
/// Slot i is written only by worker i (one cache line-aligned slot each, so workers never
/// share a written line); any thread may read through snapshot(). Each slot is ~10 KiB:
/// two latency histograms and a counter per status code.
class ServerStats {
 public:
  /// `worker_slots`: number of worker threads that will record (at least 1).
  explicit ServerStats(std::size_t worker_slots);

  std::size_t slots() const noexcept { return slot_count_; }

  /// What one response from this server cost.
  struct Response {
    int status = 0;  ///< 100..599; others only count as a request
    std::uint64_t latency_us = 0;
    std::uint64_t header_us = 0;
    std::uint64_t sent = 0;      ///< request bytes sent to the server
    std::uint64_t received = 0;  ///< response bytes received from it
  };

  /// Records one response. Caller must own `worker_slot`.
  void record(std::size_t worker_slot, const Response& r) noexcept {
    Slot& s = slots_[worker_slot];
    detail::add_single_writer(s.requests);
    const unsigned status_class = static_cast<unsigned>(r.status) / 100u - 1u;
    if (status_class < s.responses.size()) {
      detail::add_single_writer(s.responses[status_class]);
      detail::add_single_writer(s.codes[static_cast<unsigned>(r.status) - 100u]);
    }
    detail::add_single_writer(s.sent, r.sent);
    detail::add_single_writer(s.received, r.received);
    s.latency.record(r.latency_us);
    s.header_latency.record(r.header_us);
  }

  /// Records one response with only its status and latency (header time = latency).
  void record(std::size_t worker_slot, int status, std::uint64_t latency_us) noexcept {
    record(worker_slot, Response{status, latency_us, latency_us, 0, 0});
  }

  /// Records a new connection opened to the server (not one from the keep-alive cache).
  void record_connect(std::size_t worker_slot) noexcept {
    detail::add_single_writer(slots_[worker_slot].connects);
  }

  /// Records one attempt that failed before a response (connect error, timeout, reset).
  void record_failed_attempt(std::size_t worker_slot) noexcept {
    detail::add_single_writer(slots_[worker_slot].failed_attempts);
  }

  /// Merges every slot into a plain struct (relaxed reads: a consistent-enough view).
  ServerStatsSnapshot snapshot() const;

  /// The once-a-second sampler's read (one caller: it takes the histograms' changed
  /// bits). Every counter but the per-code ones, cumulative; of each histogram only
  /// the buckets counted in since the previous call, with their cumulative counts and
  /// `used` naming them (the others read as 0). A busy server changes a few dozen of
  /// its buckets a second, so this reads a tenth of what snapshot() reads. Writes into
  /// `out` (reused from server to server: its per-code counters are left alone).
  void sample_changes(ServerStatsSnapshot& out);

 private:
  struct alignas(64) Slot {
    std::atomic<std::uint64_t> requests{0};
    std::array<std::atomic<std::uint64_t>, 5> responses{};
    std::array<std::atomic<std::uint64_t>, 500> codes{};
    std::atomic<std::uint64_t> failed_attempts{0};
    std::atomic<std::uint64_t> connects{0};
    std::atomic<std::uint64_t> sent{0};
    std::atomic<std::uint64_t> received{0};
    LatencyHistogram latency;
    LatencyHistogram header_latency;
  };

  static void read_counters(const Slot& s, ServerStatsSnapshot& out);

  std::size_t slot_count_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace tg::balancing
