#include "balancing/stats_window.h"

#include <algorithm>

namespace tg::balancing {
namespace {

constexpr std::size_t kSeconds = 10;
constexpr std::size_t kTens = 30;

template <typename Before>
bool went_back(const ServerStatsSnapshot& now, const Before& before) {
  return now.requests < before.requests || now.failed_attempts < before.failed_attempts ||
         now.connects < before.connects;
}

}  // namespace

void StatsWindows::SparseHistogram::add_to(HistogramSnapshot& dense) const {
  for (const auto& [bucket, count] : buckets) dense.add(bucket, count);
}

void StatsWindows::sparse_diff(const HistogramSnapshot& now, const HistogramSnapshot& before,
                               Sparse& out) {
  out.buckets.clear();
  now.for_each_used([&](std::size_t i) {
    if (now.buckets[i] > before.buckets[i]) {
      out.buckets.emplace_back(static_cast<std::uint16_t>(i),
                               static_cast<std::uint32_t>(now.buckets[i] - before.buckets[i]));
    }
  });
}

void StatsWindows::SparseHistogram::merge(const SparseHistogram& from) {
  if (from.buckets.empty()) return;
  if (buckets.empty()) {
    buckets = from.buckets;
    return;
  }
  // Both are sorted by bucket: one linear merge, through a scratch vector so that
  // `buckets` keeps its capacity (no allocation once it has grown).
  thread_local std::vector<std::pair<std::uint16_t, std::uint32_t>> out;
  out.clear();
  auto a = buckets.cbegin();
  auto b = from.buckets.cbegin();
  while (a != buckets.cend() && b != from.buckets.cend()) {
    if (a->first < b->first) {
      out.push_back(*a++);
    } else if (b->first < a->first) {
      out.push_back(*b++);
    } else {
      out.emplace_back(a->first, a->second + b->second);
      ++a;
      ++b;
    }
  }
  out.insert(out.end(), a, buckets.cend());
  out.insert(out.end(), b, from.buckets.cend());
  buckets.assign(out.begin(), out.end());
}

void StatsWindows::Delta::add(const Delta& other) {
  seconds += other.seconds;
  requests += other.requests;
  for (std::size_t i = 0; i < responses.size(); ++i) responses[i] += other.responses[i];
  failed_attempts += other.failed_attempts;
  connects += other.connects;
  latency.merge(other.latency);
  header_latency.merge(other.header_latency);
  active_sum += other.active_sum;
  active_max = std::max(active_max, other.active_max);
  tunnels_sum += other.tunnels_sum;
  tunnels_max = std::max(tunnels_max, other.tunnels_max);
}

void StatsWindows::Delta::clear() {
  seconds = 0;
  requests = 0;
  responses = {};
  failed_attempts = 0;
  connects = 0;
  latency.buckets.clear();
  header_latency.buckets.clear();
  active_sum = active_max = 0;
  tunnels_sum = tunnels_max = 0;
}

StatsWindows::Delta& StatsWindows::begin_second(const ServerStatsSnapshot& cumulative,
                                                const Gauges& gauges, bool& comparable) {
  ++pushes_;
  Delta& d = seconds_.add();
  d.seconds = 1;
  d.active_sum = d.active_max = gauges.active;
  d.tunnels_sum = d.tunnels_max = gauges.tunnels;
  comparable = have_last_ && !went_back(cumulative, last_);
  if (comparable) {
    d.requests = cumulative.requests - last_.requests;
    for (std::size_t i = 0; i < d.responses.size(); ++i) {
      d.responses[i] = cumulative.responses[i] - last_.responses[i];
    }
    d.failed_attempts = cumulative.failed_attempts - last_.failed_attempts;
    d.connects = cumulative.connects - last_.connects;
  }
  last_.requests = cumulative.requests;
  last_.responses = cumulative.responses;
  last_.failed_attempts = cumulative.failed_attempts;
  last_.connects = cumulative.connects;
  have_last_ = true;
  return d;
}

void StatsWindows::end_second() {
  current_ten_.add(seconds_.newest());
  if (current_ten_.seconds == 10) {
    // The ring's oldest ten gives its storage to the next current ten.
    std::swap(tens_.add(), current_ten_);
    current_ten_.clear();
  }
}

void StatsWindows::push(const ServerStatsSnapshot& cumulative, const Gauges& gauges) {
  bool comparable = false;
  Delta& d = begin_second(cumulative, gauges, comparable);
  auto remember = [comparable](const HistogramSnapshot& now, HistogramSnapshot& last) {
    if (!comparable) {
      last = now;
      return;
    }
    now.for_each_used([&](std::size_t i) { last.buckets[i] = now.buckets[i]; });
    for (std::size_t w = 0; w < last.used.size(); ++w) last.used[w] |= now.used[w];
  };
  if (comparable) {
    sparse_diff(cumulative.latency, last_.latency, d.latency);
    sparse_diff(cumulative.header_latency, last_.header_latency, d.header_latency);
  }
  remember(cumulative.latency, last_.latency);
  remember(cumulative.header_latency, last_.header_latency);
  end_second();
}

void StatsWindows::push(const ServerStatsSnapshot& counters, const Gauges& gauges,
                        const SparseHistogram& latency, const SparseHistogram& header_latency) {
  bool comparable = false;
  Delta& d = begin_second(counters, gauges, comparable);
  if (comparable) {  // copied into the ring's slot, whose storage is reused
    d.latency.buckets.assign(latency.buckets.begin(), latency.buckets.end());
    d.header_latency.buckets.assign(header_latency.buckets.begin(), header_latency.buckets.end());
  }
  end_second();
}

const StatsWindows::SparseHistogram& StatsWindows::last_latency() const {
  static const SparseHistogram kEmpty;
  return seconds_.size == 0 ? kEmpty : seconds_.newest().latency;
}

const StatsWindows::SparseHistogram& StatsWindows::last_header_latency() const {
  static const SparseHistogram kEmpty;
  return seconds_.size == 0 ? kEmpty : seconds_.newest().header_latency;
}

WindowStats StatsWindows::window(std::chrono::seconds span) const {
  Delta sum;
  if (span <= std::chrono::seconds(30)) {
    for (std::size_t i = 0; i < seconds_.size; ++i) sum.add(seconds_.at(i));
  } else {
    const std::size_t tens = span <= std::chrono::seconds(150) ? 6 : kTens;
    // The partial ten counts as one of them.
    sum.add(current_ten_);
    const std::size_t whole = current_ten_.seconds > 0 ? tens - 1 : tens;
    const std::size_t take = std::min(whole, tens_.size);
    for (std::size_t i = tens_.size - take; i < tens_.size; ++i) sum.add(tens_.at(i));
  }
  WindowStats w;
  w.seconds = sum.seconds;
  w.requests = sum.requests;
  w.responses = sum.responses;
  w.failed_attempts = sum.failed_attempts;
  w.connects = sum.connects;
  if (sum.seconds > 0) {
    w.rps = static_cast<double>(sum.requests) / sum.seconds;
    w.connects_per_s = static_cast<double>(sum.connects) / sum.seconds;
    w.active_avg = static_cast<double>(sum.active_sum) / sum.seconds;
    w.tunnels_avg = static_cast<double>(sum.tunnels_sum) / sum.seconds;
  }
  w.active_max = sum.active_max;
  w.tunnels_max = sum.tunnels_max;
  const std::uint64_t attempts = sum.requests + sum.failed_attempts;
  if (attempts > 0) {
    w.error_rate =
        static_cast<double>(sum.responses[4] + sum.failed_attempts) / static_cast<double>(attempts);
  }
  HistogramSnapshot latency, header;
  sum.latency.add_to(latency);
  sum.header_latency.add_to(header);
  w.p50_us = latency.percentile(0.50);
  w.p95_us = latency.percentile(0.95);
  w.p99_us = latency.percentile(0.99);
  w.header_p50_us = header.percentile(0.50);
  w.header_p95_us = header.percentile(0.95);
  w.header_p99_us = header.percentile(0.99);
  return w;
}

}  // namespace tg::balancing
