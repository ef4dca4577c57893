#include "balancing/latency_histogram.h"

#include <gtest/gtest.h>

#include <vector>

namespace tg::balancing {
namespace {

constexpr double kMaxRelativeError = 1.0 / 16;

// The reported percentile is the bucket's upper bound: never below the true value and at
// most 1/16 above it.
void expect_close_above(std::uint64_t reported, std::uint64_t truth) {
  EXPECT_GE(reported, truth);
  EXPECT_LE(static_cast<double>(reported), static_cast<double>(truth) * (1 + kMaxRelativeError));
}

TEST(LatencyHistogram, SmallValuesHaveExactBuckets) {
  for (std::uint64_t v = 0; v < 32; ++v) {
    EXPECT_EQ(HistogramLayout::bucket_index(v), v);
    EXPECT_EQ(HistogramLayout::bucket_upper_bound(v), v);
  }
}

TEST(LatencyHistogram, BucketsAreContiguousAndNarrowerThanOneSixteenth) {
  using L = HistogramLayout;
  EXPECT_EQ(L::bucket_lower_bound(0), 0u);
  for (std::size_t i = 0; i < L::kBucketCount; ++i) {
    const auto lo = L::bucket_lower_bound(i);
    const auto hi = L::bucket_upper_bound(i);
    EXPECT_EQ(L::bucket_index(lo), i);
    EXPECT_EQ(L::bucket_index(hi), i);
    if (i + 1 < L::kBucketCount) {
      EXPECT_EQ(L::bucket_lower_bound(i + 1), hi + 1);
    }
    if (lo > 0) {
      EXPECT_LE(static_cast<double>(hi - lo) / static_cast<double>(lo), kMaxRelativeError);
    }
  }
  EXPECT_EQ(L::bucket_upper_bound(L::kBucketCount - 1), L::kMaxTrackable);
  EXPECT_GE(L::kMaxTrackable, 100'000'000u);  // covers 100 s
}

TEST(LatencyHistogram, PercentilesOfUniformDataAreWithinOneSixteenth) {
  LatencyHistogram h;
  for (std::uint64_t v = 1; v <= 10'000; ++v) h.record(v);
  const auto s = h.snapshot();
  EXPECT_EQ(s.count(), 10'000u);
  expect_close_above(s.percentile(0.5), 5'000);
  expect_close_above(s.percentile(0.95), 9'500);
  expect_close_above(s.percentile(0.99), 9'900);
  expect_close_above(s.percentile(1.0), 10'000);
  EXPECT_EQ(s.percentile(0.0), 1u);
}

TEST(LatencyHistogram, PercentilesOfSkewedDataLandInTheRightBucket) {
  LatencyHistogram h;
  for (int i = 0; i < 90; ++i) h.record(100);
  for (int i = 0; i < 9; ++i) h.record(1'000);
  h.record(50'000);
  const auto s = h.snapshot();
  expect_close_above(s.percentile(0.5), 100);
  expect_close_above(s.percentile(0.9), 100);
  expect_close_above(s.percentile(0.95), 1'000);
  expect_close_above(s.percentile(0.99), 1'000);
  expect_close_above(s.percentile(0.999), 50'000);
}

TEST(LatencyHistogram, MeanIsExact) {
  LatencyHistogram h;
  h.record(10);
  h.record(20);
  h.record(1'000'003);
  EXPECT_DOUBLE_EQ(h.snapshot().mean(), (10 + 20 + 1'000'003) / 3.0);
}

TEST(LatencyHistogram, MergedSnapshotsAddUp) {
  LatencyHistogram fast;
  LatencyHistogram slow;
  for (int i = 0; i < 50; ++i) fast.record(200);
  for (int i = 0; i < 50; ++i) slow.record(20'000);
  const HistogramSnapshot both = fast.snapshot() + slow.snapshot();
  EXPECT_EQ(both.count(), 100u);
  expect_close_above(both.percentile(0.5), 200);
  expect_close_above(both.percentile(0.51), 20'000);
  EXPECT_DOUBLE_EQ(both.mean(), 10'100.0);

  HistogramSnapshot merged;
  fast.merge_into(merged);
  slow.merge_into(merged);
  EXPECT_EQ(merged.buckets, both.buckets);
  EXPECT_EQ(merged.sum_us, both.sum_us);
}

// Readers visit only the buckets in the bitmap: every bucket that counted a value,
// including the first and the last one, must be in it.
TEST(LatencyHistogram, UsedBitmapNamesEveryCountedBucket) {
  LatencyHistogram h;
  const std::uint64_t values[] = {0, 31, 32, 200, 20'000, HistogramLayout::kMaxTrackable};
  for (auto v : values) h.record(v);
  const HistogramSnapshot s = h.snapshot();
  std::vector<std::size_t> visited;
  s.for_each_used([&](std::size_t i) { visited.push_back(i); });
  std::vector<std::size_t> expected;
  for (auto v : values) expected.push_back(HistogramLayout::bucket_index(v));
  EXPECT_EQ(visited, expected);
  EXPECT_EQ(expected.back(), HistogramLayout::kBucketCount - 1);
  for (auto i : expected) EXPECT_EQ(s.buckets[i], 1u) << i;
  EXPECT_EQ(s.count(), 6u);

  HistogramSnapshot built;
  built.add(HistogramLayout::bucket_index(200), 3);
  built += s;
  visited.clear();
  built.for_each_used([&](std::size_t i) { visited.push_back(i); });
  EXPECT_EQ(visited, expected);
  EXPECT_EQ(built.buckets[HistogramLayout::bucket_index(200)], 4u);
}

TEST(LatencyHistogram, ValuesBeyondRangeLandInTopBucket) {
  LatencyHistogram h;
  h.record(1'000'000'000'000);
  const auto s = h.snapshot();
  EXPECT_EQ(s.count(), 1u);
  EXPECT_EQ(s.percentile(0.5), HistogramLayout::kMaxTrackable);
}

TEST(LatencyHistogram, EmptySnapshotReportsZero) {
  const HistogramSnapshot s;
  EXPECT_EQ(s.count(), 0u);
  EXPECT_EQ(s.percentile(0.99), 0u);
  EXPECT_EQ(s.mean(), 0.0);
}

}  // namespace
}  // namespace tg::balancing
