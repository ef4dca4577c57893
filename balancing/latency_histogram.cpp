#include "balancing/latency_histogram.h"

#include <cmath>

namespace tg::balancing {

std::uint64_t HistogramLayout::bucket_lower_bound(std::size_t index) noexcept {
  if (index < 2 * kSubBuckets) return index;
  const auto k = static_cast<int>(index / kSubBuckets) + kSubBucketBits - 1;
  const std::uint64_t sub = index % kSubBuckets;
  return (kSubBuckets + sub) << (k - kSubBucketBits);
}

std::uint64_t HistogramLayout::bucket_upper_bound(std::size_t index) noexcept {
  if (index < 2 * kSubBuckets) return index;
  const auto k = static_cast<int>(index / kSubBuckets) + kSubBucketBits - 1;
  return bucket_lower_bound(index) + (std::uint64_t{1} << (k - kSubBucketBits)) - 1;
}

std::uint64_t HistogramSnapshot::count() const noexcept {
  std::uint64_t n = 0;
  for (auto b : buckets) n += b;
  return n;
}

std::uint64_t HistogramSnapshot::percentile(double q) const noexcept {
  const std::uint64_t n = count();
  if (n == 0) return 0;
  if (q < 0) q = 0;
  if (q > 1) q = 1;
  // Rank of the q-quantile (1-based, nearest-rank definition).
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(n)));
  if (rank == 0) rank = 1;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    seen += buckets[i];
    if (seen >= rank) return HistogramLayout::bucket_upper_bound(i);
  }
  return HistogramLayout::bucket_upper_bound(buckets.size() - 1);
}

double HistogramSnapshot::mean() const noexcept {
  const std::uint64_t n = count();
  return n == 0 ? 0.0 : static_cast<double>(sum_us) / static_cast<double>(n);
}

HistogramSnapshot& HistogramSnapshot::operator+=(const HistogramSnapshot& other) noexcept {
  for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += other.buckets[i];
  for (std::size_t w = 0; w < used.size(); ++w) used[w] |= other.used[w];
  sum_us += other.sum_us;
  return *this;
}

void LatencyHistogram::merge_into(HistogramSnapshot& into) const noexcept {
  for (std::size_t w = 0; w < used_.size(); ++w) {
    std::uint64_t bits = used_[w].load(std::memory_order_relaxed);
    into.used[w] |= bits;
    for (; bits != 0; bits &= bits - 1) {
      const std::size_t i = w * 64 + static_cast<std::size_t>(std::countr_zero(bits));
      into.buckets[i] += buckets_[i].load(std::memory_order_relaxed);
    }
  }
  into.sum_us += sum_us_.load(std::memory_order_relaxed);
}

HistogramSnapshot LatencyHistogram::snapshot() const noexcept {
  HistogramSnapshot s;
  merge_into(s);
  return s;
}

}  // namespace tg::balancing
