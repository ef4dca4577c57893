// Micro-benchmarks of the balancing hot path: one pick + release per iteration.
//
//   balancing_bench                      # full table
//   balancing_bench --benchmark_filter=PickRelease/.*/100
//
// Args: servers (2, 10, 100, 1000). Threads(4) runs 4 "workers", each with its own
// GroupPicker on one shared UpstreamGroup, so they contend on the peers' shared atomics
// as real workers do. Weights cycle 1, 2, 3 so the round robin has work to do.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "balancing/upstream.h"

namespace {

using namespace tg::balancing;

constexpr std::size_t kWorkerSlots = 4;

std::shared_ptr<const UpstreamGroup> shared_group(Algorithm algorithm, int servers) {
  static std::mutex mutex;
  static std::map<std::pair<Algorithm, int>, std::shared_ptr<const UpstreamGroup>> groups;
  std::lock_guard lock(mutex);
  auto& g = groups[{algorithm, servers}];
  if (!g) {
    std::vector<ServerConfig> configs;
    for (int i = 0; i < servers; ++i) {
      ServerConfig c;
      c.name = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":8080";
      c.weight = 1 + i % 3;
      configs.push_back(std::move(c));
    }
    g = make_group("backend", algorithm, configs, kWorkerSlots);
  }
  return g;
}

// A private group (its busy leases must not leak into the shared ones).
std::shared_ptr<const UpstreamGroup> make_group_for_loaded(int servers) {
  std::vector<ServerConfig> configs;
  for (int i = 0; i < servers; ++i) {
    ServerConfig c;
    c.name = "10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":8080";
    c.weight = 1 + i % 3;
    configs.push_back(std::move(c));
  }
  return make_group("loaded", Algorithm::kLeastConn, configs, kWorkerSlots);
}

void pick_release(benchmark::State& state, Algorithm algorithm) {
  GroupPicker picker(shared_group(algorithm, static_cast<int>(state.range(0))));
  const TimePoint now = TimePoint{} + std::chrono::hours(1);
  for (auto _ : state) {
    Attempt attempt;
    auto lease = picker.pick(attempt, now);
    benchmark::DoNotOptimize(lease);
    lease->release(Outcome::kSuccess, now);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_PickRelease_RoundRobin(benchmark::State& state) {
  pick_release(state, Algorithm::kRoundRobin);
}
void BM_PickRelease_LeastConn(benchmark::State& state) {
  pick_release(state, Algorithm::kLeastConn);
}

// Least-connections with half the servers busy (a lease held on every other one by
// another "worker"): no all-idle shortcut, so every pick scans as nginx does.
void BM_PickRelease_LeastConnLoaded(benchmark::State& state) {
  auto group = make_group_for_loaded(static_cast<int>(state.range(0)));
  GroupPicker other(group);
  std::vector<Lease> busy;
  for (std::size_t i = 0; i < group->primaries().size(); i += 2) {
    Attempt attempt;
    for (std::size_t j = 0; j < group->primaries().size(); ++j) {
      if (j != i) attempt.mark_tried(*group->primaries()[j]);
    }
    busy.push_back(std::move(*other.pick(attempt, TimePoint{})));
  }
  GroupPicker picker(group);
  const TimePoint now = TimePoint{} + std::chrono::hours(1);
  for (auto _ : state) {
    Attempt attempt;
    auto lease = picker.pick(attempt, now);
    benchmark::DoNotOptimize(lease);
    lease->release(Outcome::kSuccess, now);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_PickRelease_RoundRobin)->Arg(2)->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK(BM_PickRelease_RoundRobin)->Arg(2)->Arg(10)->Arg(100)->Arg(1000)->Threads(4);
BENCHMARK(BM_PickRelease_LeastConn)->Arg(2)->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK(BM_PickRelease_LeastConn)->Arg(2)->Arg(10)->Arg(100)->Arg(1000)->Threads(4);
BENCHMARK(BM_PickRelease_LeastConnLoaded)->Arg(2)->Arg(10)->Arg(100)->Arg(1000);

// The per-response metrics write a worker does after each request.
void BM_ServerStatsRecord(benchmark::State& state) {
  static ServerStats stats(kWorkerSlots);
  const auto slot = static_cast<std::size_t>(state.thread_index());
  std::uint64_t latency = 1;
  for (auto _ : state) {
    stats.record(slot, 200, latency);
    latency = latency * 7 % 1'000'003;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ServerStatsRecord);
BENCHMARK(BM_ServerStatsRecord)->Threads(4);

}  // namespace

BENCHMARK_MAIN();
