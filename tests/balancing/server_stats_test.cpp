#include "balancing/server_stats.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "balancing/stats_window.h"

namespace tg::balancing {
namespace {

TEST(ServerStats, RecordCountsRequestsByStatusClass) {
  ServerStats stats(1);
  for (int status : {101, 200, 204, 301, 404, 502, 503, 599}) stats.record(0, status, 100);
  const auto s = stats.snapshot();
  EXPECT_EQ(s.requests, 8u);
  EXPECT_EQ(s.responses, (std::array<std::uint64_t, 5>{1, 2, 1, 1, 3}));
  EXPECT_EQ(s.latency.count(), 8u);
}

TEST(ServerStats, StatusOutsideTheClassesCountsOnlyAsARequest) {
  ServerStats stats(1);
  stats.record(0, 0, 10);
  stats.record(0, 600, 10);
  const auto s = stats.snapshot();
  EXPECT_EQ(s.requests, 2u);
  EXPECT_EQ(s.responses, (std::array<std::uint64_t, 5>{}));
}

TEST(ServerStats, SnapshotMergesAllWorkerSlots) {
  ServerStats stats(3);
  stats.record(0, 200, 100);
  stats.record(1, 200, 200);
  stats.record(2, 500, 10'000);
  stats.record_failed_attempt(1);
  const auto s = stats.snapshot();
  EXPECT_EQ(s.requests, 3u);
  EXPECT_EQ(s.responses[1], 2u);
  EXPECT_EQ(s.responses[4], 1u);
  EXPECT_EQ(s.failed_attempts, 1u);
  EXPECT_EQ(s.latency.count(), 3u);
  EXPECT_DOUBLE_EQ(s.latency.mean(), 10'300 / 3.0);
}

TEST(ServerStats, FailedAttemptsAreCountedApartFromResponses) {
  ServerStats stats(1);
  stats.record_failed_attempt(0);
  stats.record_failed_attempt(0);
  const auto s = stats.snapshot();
  EXPECT_EQ(s.failed_attempts, 2u);
  EXPECT_EQ(s.requests, 0u);
}

TEST(ServerStats, SnapshotsOfTwoServersAdd) {
  ServerStats a(1);
  ServerStats b(1);
  a.record(0, 200, 10);
  b.record(0, 404, 20);
  auto sum = a.snapshot();
  sum += b.snapshot();
  EXPECT_EQ(sum.requests, 2u);
  EXPECT_EQ(sum.latency.count(), 2u);
  EXPECT_EQ(sum.responses[3], 1u);
}

TEST(ServerStats, WorkersWritingTheirOwnSlotsLoseNothing) {
  constexpr std::size_t kWorkers = 4;
  constexpr int kPerWorker = 50'000;
  ServerStats stats(kWorkers);
  std::vector<std::thread> workers;
  for (std::size_t w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      for (int i = 0; i < kPerWorker; ++i) stats.record(w, 200, static_cast<std::uint64_t>(i));
    });
  }
  for (auto& t : workers) t.join();
  const auto s = stats.snapshot();
  EXPECT_EQ(s.requests, kWorkers * kPerWorker);
  EXPECT_EQ(s.latency.count(), kWorkers * kPerWorker);
}

// The sampler reads only the buckets that changed since its previous read, with
// their cumulative counts; the others read as 0 and are not in `used`.
TEST(ServerStats, SampleChangesReadsOnlyWhatChanged) {
  ServerStats stats(2);
  ServerStatsSnapshot s;
  stats.record(0, 200, 100);
  stats.record(1, 200, 100);
  stats.record(1, 503, 50'000);
  stats.sample_changes(s);
  EXPECT_EQ(s.requests, 3u);
  EXPECT_EQ(s.responses[4], 1u);
  EXPECT_EQ(s.latency.count(), 3u);

  stats.record(0, 200, 50'000);  // only the 50 ms bucket changes
  stats.sample_changes(s);
  EXPECT_EQ(s.requests, 4u);
  EXPECT_EQ(s.latency.buckets[HistogramLayout::bucket_index(50'000)], 2u);  // cumulative
  EXPECT_EQ(s.latency.buckets[HistogramLayout::bucket_index(100)], 0u);     // not read
  std::vector<std::size_t> used;
  s.latency.for_each_used([&](std::size_t b) { used.push_back(b); });
  EXPECT_EQ(used, std::vector<std::size_t>{HistogramLayout::bucket_index(50'000)});

  stats.sample_changes(s);  // nothing new
  EXPECT_EQ(s.requests, 4u);
  EXPECT_EQ(s.latency.count(), 0u);
  // snapshot() still reads everything
  EXPECT_EQ(stats.snapshot().latency.count(), 4u);
}

// Workers record while the sampler samples: the growth the windows see, second by
// second, adds up to every value recorded (none is lost or counted twice).
TEST(ServerStats, SamplingWhileWorkersRecordLosesNothing) {
  constexpr std::size_t kWorkers = 3;
  constexpr int kPerWorker = 30'000;
  ServerStats stats(kWorkers);
  StatsWindows windows;
  ServerStatsSnapshot s;
  std::uint64_t seen = 0, seen_header = 0;
  auto sample = [&] {
    stats.sample_changes(s);
    windows.push(s, Gauges{});
    for (const auto& [bucket, n] : windows.last_latency().buckets) seen += n;
    for (const auto& [bucket, n] : windows.last_header_latency().buckets) seen_header += n;
  };
  sample();  // the baseline (nothing recorded yet)
  std::atomic<int> running{static_cast<int>(kWorkers)};
  std::vector<std::thread> workers;
  for (std::size_t w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      for (int i = 0; i < kPerWorker; ++i) {
        stats.record(w, 200, static_cast<std::uint64_t>(i * 37 % 100'000));
      }
      running.fetch_sub(1);
    });
  }
  while (running.load() > 0) sample();
  for (auto& t : workers) t.join();
  sample();
  EXPECT_EQ(seen, kWorkers * kPerWorker);
  EXPECT_EQ(seen_header, kWorkers * kPerWorker);
}

}  // namespace
}  // namespace tg::balancing
