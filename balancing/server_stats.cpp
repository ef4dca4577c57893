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

ServerStatsSnapshot ServerStats::snapshot() const {
  ServerStatsSnapshot out;
  for (std::size_t i = 0; i < slot_count_; ++i) {
    const Slot& s = slots_[i];
    read_counters(s, out);
    for (std::size_t c = 0; c < s.codes.size(); ++c) {
      out.codes[c] += s.codes[c].load(std::memory_order_relaxed);
    }
    s.latency.merge_into(out.latency);
    s.header_latency.merge_into(out.header_latency);
  }
  return out;
}

void ServerStats::sample_changes(ServerStatsSnapshot& out) {
  out.requests = out.failed_attempts = out.connects = out.sent = out.received = 0;
  out.responses = {};
  for (HistogramSnapshot* h : {&out.latency, &out.header_latency}) {
    h->for_each_used([h](std::size_t b) { h->buckets[b] = 0; });
    h->used = {};
    h->sum_us = 0;
  }
  for (std::size_t i = 0; i < slot_count_; ++i) {
    Slot& s = slots_[i];
    s.latency.take_changed(out.latency.used);
    s.header_latency.take_changed(out.header_latency.used);
  }
  // Counters after the bits: a count whose bit was taken is already in them.
  for (std::size_t i = 0; i < slot_count_; ++i) read_counters(slots_[i], out);
  auto sum = [&](HistogramSnapshot& h, const LatencyHistogram Slot::*member) {
    h.for_each_used([&](std::size_t b) {
      for (std::size_t i = 0; i < slot_count_; ++i) h.buckets[b] += (slots_[i].*member).count_in(b);
    });
  };
  sum(out.latency, &Slot::latency);
  sum(out.header_latency, &Slot::header_latency);
}

void ServerStats::read_counters(const Slot& s, ServerStatsSnapshot& out) {
  out.requests += s.requests.load(std::memory_order_relaxed);
  for (std::size_t c = 0; c < s.responses.size(); ++c) {
    out.responses[c] += s.responses[c].load(std::memory_order_relaxed);
  }
  out.failed_attempts += s.failed_attempts.load(std::memory_order_relaxed);
  out.connects += s.connects.load(std::memory_order_relaxed);
  out.sent += s.sent.load(std::memory_order_relaxed);
  out.received += s.received.load(std::memory_order_relaxed);
}

}  // namespace tg::balancing
