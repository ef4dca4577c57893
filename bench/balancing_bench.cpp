// Micro-benchmarks of the balancing hot path: one pick + release per iteration.
//
//   balancing_bench                      # full table
//   balancing_bench --benchmark_filter='PickRelease/.*/100$'
//
// BM_PickRelease/<method>/<servers>: servers 2, 10, 100, 1000 with weights cycling
// 1, 2, 3. Each iteration picks with a varying PickInput (1024 hash keys, client
// addresses and sticky ids, cycled) and releases with response times, as the proxy does,
// while `now` advances 1 us. Threads(4) runs 4 "workers", each with its own GroupPicker
// (seeded with its index) on one shared UpstreamGroup, so they contend on the peers'
// shared atomics as real workers do.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "balancing/metrics_collector.h"
#include "balancing/upstream.h"

namespace {

using namespace tg::balancing;

constexpr std::size_t kWorkerSlots = 4;
constexpr std::size_t kInputs = 1024;

enum class Method {
  kRoundRobin,
  kLeastConn,
  kIpHash,
  kHash,
  kHashConsistent,
  kRandom,
  kRandomTwo,
  kLeastTime,
  kPeakEwma,
  kStickyCookie,
};

BalancerConfig config_for(Method method) {
  BalancerConfig c;
  switch (method) {
    case Method::kRoundRobin:
      c.algorithm = Algorithm::kRoundRobin;
      break;
    case Method::kLeastConn:
      c.algorithm = Algorithm::kLeastConn;
      break;
    case Method::kIpHash:
      c.algorithm = Algorithm::kIpHash;
      break;
    case Method::kHash:
      c.algorithm = Algorithm::kHash;
      break;
    case Method::kHashConsistent:
      c.algorithm = Algorithm::kHash;
      c.consistent = true;
      break;
    case Method::kRandom:
      c.algorithm = Algorithm::kRandom;
      break;
    case Method::kRandomTwo:
      c.algorithm = Algorithm::kRandom;
      c.two = true;
      break;
    case Method::kLeastTime:
      c.algorithm = Algorithm::kLeastTime;
      break;
    case Method::kPeakEwma:
      c.algorithm = Algorithm::kPeakEwma;
      break;
    case Method::kStickyCookie:  // round robin behind it; every request carries a valid id
      c.sticky.mode = StickyConfig::Mode::kCookie;
      c.sticky.cookie_name = "route";
      break;
  }
  return c;
}

std::vector<ServerConfig> servers(int n, const std::string& prefix) {
  std::vector<ServerConfig> configs;
  for (int i = 0; i < n; ++i) {
    ServerConfig c;
    c.name = prefix + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":8080";
    c.weight = 1 + i % 3;
    configs.push_back(std::move(c));
  }
  return configs;
}

/// One group per (method, size), shared by the threads of a benchmark.
std::shared_ptr<const UpstreamGroup> shared_group(Method method, int n) {
  static std::mutex mutex;
  static std::map<std::pair<Method, int>, std::shared_ptr<const UpstreamGroup>> groups;
  std::lock_guard lock(mutex);
  auto& g = groups[{method, n}];
  if (!g) g = make_group("backend", config_for(method), servers(n, "10.0."), kWorkerSlots);
  return g;
}

/// The per-request inputs a worker cycles through, and the response times it reports.
struct Inputs {
  std::vector<std::string> keys;
  std::vector<std::array<std::uint8_t, 4>> addresses;
  std::vector<PickInput> inputs;
  std::vector<ResponseTimes> times;

  explicit Inputs(const UpstreamGroup& group) {
    keys.reserve(kInputs);
    addresses.reserve(kInputs);
    for (std::size_t i = 0; i < kInputs; ++i) {
      keys.push_back("/api/v1/users/" + std::to_string(i * 7919));
      addresses.push_back({192, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i),
                           static_cast<std::uint8_t>(i * 13)});
      const auto& peers = group.primaries();
      PickInput in;
      in.hash_key = keys.back();
      in.client_addr = addresses.back();
      in.sticky = group.sticky_id(false, static_cast<std::uint32_t>(i % peers.size()));
      inputs.push_back(in);
      // 0.5 .. 20 ms, varying by server and request.
      const auto header = std::chrono::microseconds(500 + (i * 2654435761u) % 19'500);
      times.push_back(ResponseTimes{header, header + std::chrono::microseconds(300)});
    }
  }
};

void BM_PickRelease(benchmark::State& state, Method method) {
  auto group = shared_group(method, static_cast<int>(state.range(0)));
  const Inputs inputs(*group);
  GroupPicker picker(group, PickerMode::kIndexed,
                     static_cast<std::uint64_t>(state.thread_index()) + 1);
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 131;
  for (auto _ : state) {
    const std::size_t k = i++ % kInputs;
    Attempt attempt;
    auto lease = picker.pick(attempt, now, inputs.inputs[k]);
    benchmark::DoNotOptimize(lease);
    lease->release(Outcome::kSuccess, now, inputs.times[k]);
    now += std::chrono::microseconds(1);
  }
  state.SetItemsProcessed(state.iterations());
}

void all_sizes(benchmark::internal::Benchmark* b) {
  for (int n : {2, 10, 100, 1000}) b->Arg(n);
}

#define TG_PICK_RELEASE(label, method)                                \
  BENCHMARK_CAPTURE(BM_PickRelease, label, method)->Apply(all_sizes); \
  BENCHMARK_CAPTURE(BM_PickRelease, label, method)->Apply(all_sizes)->Threads(4)

TG_PICK_RELEASE(rr, Method::kRoundRobin);
TG_PICK_RELEASE(least_conn, Method::kLeastConn);
TG_PICK_RELEASE(ip_hash, Method::kIpHash);
TG_PICK_RELEASE(hash, Method::kHash);
TG_PICK_RELEASE(hash_consistent, Method::kHashConsistent);
TG_PICK_RELEASE(random, Method::kRandom);
TG_PICK_RELEASE(random_two, Method::kRandomTwo);
TG_PICK_RELEASE(least_time, Method::kLeastTime);
TG_PICK_RELEASE(peak_ewma, Method::kPeakEwma);
TG_PICK_RELEASE(sticky_cookie_hit, Method::kStickyCookie);

// Least-connections with half the servers busy (a lease held on every other one by
// another "worker"): no all-idle shortcut, so every pick scans as nginx does.
void BM_PickRelease_LeastConnLoaded(benchmark::State& state) {
  auto group = make_group("loaded", Algorithm::kLeastConn,
                          servers(static_cast<int>(state.range(0)), "10.1."), kWorkerSlots);
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
BENCHMARK(BM_PickRelease_LeastConnLoaded)->Apply(all_sizes);

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

// The control thread's once-a-second merge: every server's per-worker counters and two
// histograms into its windows (target: 1,000 servers x 4 workers in under 5 ms).
void BM_MetricsSample(benchmark::State& state) {
  const auto servers = static_cast<std::size_t>(state.range(0));
  auto group = std::make_shared<GroupMembership>("backend", 4);
  std::vector<ServerConfig> configs;
  for (std::size_t i = 0; i < servers; ++i) {
    ServerConfig c;
    c.name = "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ":80";
    configs.push_back(c);
  }
  group->load(configs, BalancerConfig{}, true, std::nullopt);
  std::vector<std::shared_ptr<GroupMembership>> groups{group};
  MetricsCollector collector;
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  std::uint64_t latency = 1;
  for (auto _ : state) {
    state.PauseTiming();
    // A second of traffic: 20 responses per server per worker, spread over latencies.
    for (const auto& s : group->servers()) {
      for (std::size_t w = 0; w < 4; ++w) {
        for (int r = 0; r < 20; ++r) {
          s.peer->stats().record(w, 200, latency);
          latency = latency * 7 % 200'003;
        }
      }
    }
    state.ResumeTiming();
    now += std::chrono::seconds(1);
    collector.sample(groups, now, std::chrono::system_clock::now());
  }
}
BENCHMARK(BM_MetricsSample)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
