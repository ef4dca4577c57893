#include "balancing/server_stats.h"

#include <algorithm>

namespace tg::balancing {

ServerStatsSnapshot& ServerStatsSnapshot::operator+=(const ServerStatsSnapshot& other) noexcept {
  requests += other.requests;
  for (std::size_t i = 0; i < responses.size(); ++i) responses[i] += other.responses[i];
  for (std::size_t i = 0; i < codes.size(); ++i) codes[i] += other.codes[i];
  failed_attempts += other.failed_attempts;
  connects += other.connects;
  sent += other.sent;
  received += other.received;
  latency += other.latency;
  header_latency += other.header_latency;
  return *this;
}

ServerStats::ServerStats(std::size_t worker_slots)
    : slot_count_(std::max<std::size_t>(worker_slots, 1)),
      slots_(std::make_unique<Slot[]>(slot_count_)) {}

ServerStatsSnapshot ServerStats::snapshot(Detail detail) const {
  ServerStatsSnapshot out;
  for (std::size_t i = 0; i < slot_count_; ++i) {
    const Slot& s = slots_[i];
    out.requests += s.requests.load(std::memory_order_relaxed);
    for (std::size_t c = 0; c < s.responses.size(); ++c) {
      out.responses[c] += s.responses[c].load(std::memory_order_relaxed);
    }
    if (detail == Detail::kAll) {
      for (std::size_t c = 0; c < s.codes.size(); ++c) {
        out.codes[c] += s.codes[c].load(std::memory_order_relaxed);
      }
    }
    out.failed_attempts += s.failed_attempts.load(std::memory_order_relaxed);
    out.connects += s.connects.load(std::memory_order_relaxed);
    out.sent += s.sent.load(std::memory_order_relaxed);
    out.received += s.received.load(std::memory_order_relaxed);
    s.latency.merge_into(out.latency);
    s.header_latency.merge_into(out.header_latency);
  }
  return out;
}

}  // namespace tg::balancing
