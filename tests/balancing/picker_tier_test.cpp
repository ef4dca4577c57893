// The indexed fast path must choose exactly what nginx's scan chooses, whatever happens.
#include "balancing/picker_tier.h"

#include <random>

#include <gtest/gtest.h>

#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

struct Side {
  std::shared_ptr<const UpstreamGroup> group;
  GroupPicker picker;
  std::vector<Lease> held;

  Side(Algorithm algorithm, const std::vector<ServerConfig>& servers, PickerMode mode)
      : group(make_group("backend", algorithm, servers, 1)), picker(group, mode) {}

  Peer& nth(std::size_t i) {
    const auto& p = group->primaries();
    return i < p.size() ? *p[i] : *group->backups()[i - p.size()];
  }
};

std::string name_of(const std::optional<Lease>& lease) {
  return lease ? lease->peer().name() : "-";
}

// Drives an indexed and a scanning picker through the same random life: requests with
// retries, leases held and released with random outcomes, time passing over
// fail_timeouts, servers going down and draining, max_conns limits, backups.
// `single_primary`: every server but the first is a backup (nginx's `single` group).
void run_differential(Algorithm algorithm, unsigned seed, bool single_primary = false) {
  std::mt19937 rng(seed);
  auto roll = [&](int lo, int hi) { return std::uniform_int_distribution(lo, hi)(rng); };

  std::vector<ServerConfig> servers;
  const int n = roll(1, 12);
  for (int i = 0; i < n; ++i) {
    ServerConfig s = server(std::string(1, static_cast<char>('a' + i)), roll(1, 5));
    s.max_fails = roll(0, 3);
    s.fail_timeout = std::chrono::milliseconds(roll(1, 4) * 1000);
    s.max_conns = roll(0, 4) == 0 ? roll(1, 3) : 0;
    s.backup = i > 0 && (single_primary || roll(0, 5) == 0);
    servers.push_back(s);
  }
  Side indexed(algorithm, servers, PickerMode::kIndexed);
  Side scanned(algorithm, servers, PickerMode::kScan);

  TimePoint now = kStart;
  for (int step = 0; step < 3'000; ++step) {
    const int op = roll(0, 99);
    if (op < 50) {  // a request, with up to two retries
      Attempt a1;
      Attempt a2;
      const int tries = roll(0, 3) == 0 ? roll(2, 3) : 1;
      for (int t = 0; t < tries; ++t) {
        auto l1 = indexed.picker.pick(a1, now);
        auto l2 = scanned.picker.pick(a2, now);
        ASSERT_EQ(name_of(l1), name_of(l2)) << "seed " << seed << " step " << step;
        if (!l1) break;
        if (roll(0, 2) == 0) {  // still in flight
          indexed.held.push_back(std::move(*l1));
          scanned.held.push_back(std::move(*l2));
        } else {
          const auto outcome = roll(0, 3) == 0 ? Outcome::kFailure : Outcome::kSuccess;
          l1->release(outcome, now);
          l2->release(outcome, now);
        }
      }
    } else if (op < 75 && !indexed.held.empty()) {  // a request in flight finishes
      const auto i = static_cast<std::size_t>(roll(0, static_cast<int>(indexed.held.size()) - 1));
      const auto outcome = roll(0, 3) == 0 ? Outcome::kFailure : Outcome::kSuccess;
      indexed.held[i].release(outcome, now);
      scanned.held[i].release(outcome, now);
      indexed.held.erase(indexed.held.begin() + static_cast<std::ptrdiff_t>(i));
      scanned.held.erase(scanned.held.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (op < 90) {
      now += std::chrono::milliseconds(roll(0, 1500));
    } else {
      const auto i = static_cast<std::size_t>(roll(0, n - 1));
      const bool on = roll(0, 1) == 0;
      if (roll(0, 1) == 0) {
        indexed.nth(i).set_down(on);
        scanned.nth(i).set_down(on);
      } else {
        indexed.nth(i).set_draining(on);
        scanned.nth(i).set_draining(on);
      }
    }
    if (step % 100 == 0) {
      for (int i = 0; i < n; ++i) {
        const auto w1 = indexed.picker.weights_of(indexed.nth(static_cast<std::size_t>(i)));
        const auto w2 = scanned.picker.weights_of(scanned.nth(static_cast<std::size_t>(i)));
        ASSERT_EQ(w1->current_weight, w2->current_weight) << "seed " << seed << " step " << step;
        ASSERT_EQ(w1->effective_weight, w2->effective_weight);
      }
    }
  }
  indexed.held.clear();
  scanned.held.clear();
}

TEST(PickerTier, IndexedRoundRobinPicksExactlyAsTheScan) {
  for (unsigned seed = 1; seed <= 60; ++seed) run_differential(Algorithm::kRoundRobin, seed);
}

TEST(PickerTier, IndexedLeastConnPicksExactlyAsTheScan) {
  for (unsigned seed = 1; seed <= 60; ++seed) run_differential(Algorithm::kLeastConn, seed);
}

TEST(PickerTier, IndexedPicksExactlyAsTheScanWithASinglePrimary) {
  for (unsigned seed = 1; seed <= 30; ++seed) {
    run_differential(Algorithm::kRoundRobin, seed, /*single_primary=*/true);
    run_differential(Algorithm::kLeastConn, seed, /*single_primary=*/true);
  }
}

TEST(PickerTier, FastPathSurvivesManyPicksWithoutDrift) {
  auto g = group(Algorithm::kRoundRobin, {server("a", 3), server("b", 2), server("c", 3)});
  GroupPicker indexed(g);
  auto g2 = group(Algorithm::kRoundRobin, {server("a", 3), server("b", 2), server("c", 3)});
  GroupPicker scanned(g2, PickerMode::kScan);
  for (int i = 0; i < 100'000; ++i)
    ASSERT_EQ(pick_once(indexed, kStart), pick_once(scanned, kStart));
}

}  // namespace
}  // namespace tg::balancing
