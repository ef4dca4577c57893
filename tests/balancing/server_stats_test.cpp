#include "balancing/server_stats.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace tg::balancing
