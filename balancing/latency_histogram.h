// Log-linear latency histogram (HdrHistogram-like) with single-writer atomic counters.
//
// Buckets, in microseconds: 0..31 are exact; above that every power-of-two range
// [2^k, 2^(k+1)) is split into 16 equal sub-buckets, so a bucket's upper bound is within
// 1/16 of any value in it. Values up to 2^27 - 1 us (~134 s) are tracked; larger values
// land in the top bucket (their exact sum still counts towards the mean).
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace tg::balancing {

namespace detail {
/// Increment for counters with exactly one writing thread: a relaxed load and store is
/// enough (readers see some recent value) and avoids the locked read-modify-write.
inline void add_single_writer(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
}  // namespace detail

/// Histogram geometry shared by LatencyHistogram and HistogramSnapshot.
struct HistogramLayout {
  static constexpr int kSubBucketBits = 4;
  static constexpr std::uint64_t kSubBuckets = 1u << kSubBucketBits;  ///< 16 per power of two
  static constexpr int kMaxExponent = 26;                             ///< top range [2^26, 2^27)
  static constexpr std::uint64_t kMaxTrackable = (std::uint64_t{1} << (kMaxExponent + 1)) - 1;
  static constexpr std::size_t kBucketCount =
      (kMaxExponent - kSubBucketBits + 2) * kSubBuckets;  ///< 384
  /// Words of the bitmap of buckets that ever counted a value.
  static constexpr std::size_t kUsedWords = (kBucketCount + 63) / 64;

  /// Bucket holding `value_us` (values above kMaxTrackable go to the top bucket).
  static std::size_t bucket_index(std::uint64_t value_us) noexcept;
  /// Largest value (inclusive) that falls into bucket `index`.
  static std::uint64_t bucket_upper_bound(std::size_t index) noexcept;
  /// Smallest value that falls into bucket `index`.
  static std::uint64_t bucket_lower_bound(std::size_t index) noexcept;
};

/// A plain, mergeable copy of one or more histograms (control thread, tests).
struct HistogramSnapshot {
  std::array<std::uint64_t, HistogramLayout::kBucketCount> buckets{};
  /// Bit i set: bucket i may be non-zero (every non-zero bucket has its bit), so
  /// readers visit only those; real latencies fill a few octaves of the 24.
  std::array<std::uint64_t, HistogramLayout::kUsedWords> used{};
  std::uint64_t sum_us = 0;  ///< exact sum of recorded values, for mean()

  /// Counts `n` values in bucket `index`.
  void add(std::size_t index, std::uint64_t n) noexcept {
    buckets[index] += n;
    used[index / 64] |= std::uint64_t{1} << (index % 64);
  }
  /// Calls fn(index) for every bucket whose bit is set, in increasing order.
  template <typename Fn>
  void for_each_used(Fn&& fn) const {
    for (std::size_t w = 0; w < used.size(); ++w) {
      for (std::uint64_t bits = used[w]; bits != 0; bits &= bits - 1) {
        fn(w * 64 + static_cast<std::size_t>(std::countr_zero(bits)));
      }
    }
  }

  /// Number of recorded values.
  std::uint64_t count() const noexcept;
  /// Upper bound of the bucket holding the q-quantile (q in [0, 1]), in microseconds;
  /// relative error <= 1/16. 0 when empty.
  std::uint64_t percentile(double q) const noexcept;
  /// Exact arithmetic mean in microseconds; 0 when empty.
  double mean() const noexcept;

  HistogramSnapshot& operator+=(const HistogramSnapshot& other) noexcept;
  friend HistogramSnapshot operator+(HistogramSnapshot a, const HistogramSnapshot& b) noexcept {
    return a += b;
  }
};

/// Latency histogram written by one thread and read by any (relaxed atomics).
class LatencyHistogram {
 public:
  /// Records one value in microseconds. Single writer only.
  void record(std::uint64_t value_us) noexcept {
    const std::size_t i = HistogramLayout::bucket_index(value_us);
    std::atomic<std::uint64_t>& word = used_[i / 64];
    const std::uint64_t bit = std::uint64_t{1} << (i % 64);
    const std::uint64_t bits = word.load(std::memory_order_relaxed);
    if ((bits & bit) == 0) word.store(bits | bit, std::memory_order_relaxed);
    detail::add_single_writer(buckets_[i]);
    detail::add_single_writer(sum_us_, value_us);
    // After the count, with release: a sampler that takes this bit sees the count. The
    // store may bring back bits the sampler took meanwhile; it reads them once more.
    std::atomic<std::uint64_t>& changed = changed_[i / 64];
    changed.store(changed.load(std::memory_order_relaxed) | bit, std::memory_order_release);
  }

  /// For one reader only (the control thread's sampler): ORs into `bits` the buckets
  /// counted in since its previous call, and clears them. Every count is in some
  /// call's bits; a bucket can be named again without a new count.
  void take_changed(std::array<std::uint64_t, HistogramLayout::kUsedWords>& bits) noexcept {
    for (std::size_t w = 0; w < changed_.size(); ++w) {
      if (changed_[w].load(std::memory_order_relaxed) != 0) {
        bits[w] |= changed_[w].exchange(0, std::memory_order_acquire);
      }
    }
  }
  /// Cumulative count of bucket `index`.
  std::uint64_t count_in(std::size_t index) const noexcept {
    return buckets_[index].load(std::memory_order_relaxed);
  }

  /// Adds this histogram's counts into `into` (any thread).
  void merge_into(HistogramSnapshot& into) const noexcept;
  /// A plain copy of this histogram alone.
  HistogramSnapshot snapshot() const noexcept;

 private:
  std::array<std::atomic<std::uint64_t>, HistogramLayout::kBucketCount> buckets_{};
  /// Buckets that ever counted a value (set before the count: a reader that misses a
  /// bit set meanwhile reads that count in its next snapshot).
  std::array<std::atomic<std::uint64_t>, HistogramLayout::kUsedWords> used_{};
  /// Buckets counted in since the sampler last took them (take_changed).
  std::array<std::atomic<std::uint64_t>, HistogramLayout::kUsedWords> changed_{};
  std::atomic<std::uint64_t> sum_us_{0};
};

inline std::size_t HistogramLayout::bucket_index(std::uint64_t value_us) noexcept {
  if (value_us > kMaxTrackable) value_us = kMaxTrackable;
  if (value_us < 2 * kSubBuckets) return static_cast<std::size_t>(value_us);
  // k = position of the highest set bit (>= 5 here); keep the 4 bits below it.
  const int k = 63 - __builtin_clzll(value_us);
  const int shift = k - kSubBucketBits;
  return static_cast<std::size_t>(k - kSubBucketBits + 1) * kSubBuckets +
         ((value_us >> shift) - kSubBuckets);
}

}  // namespace tg::balancing
