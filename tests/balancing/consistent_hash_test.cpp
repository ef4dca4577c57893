#include "balancing/consistent_hash.h"

#include <set>

#include <gtest/gtest.h>

#include "balancing/crc32.h"

#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

BalancerConfig consistent() {
  BalancerConfig config = balancer(Algorithm::kHash);
  config.consistent = true;
  return config;
}

std::vector<ServerConfig> servers(int n) {
  std::vector<ServerConfig> out;
  for (int i = 1; i <= n; ++i) out.push_back(server("10.0.0." + std::to_string(i) + ":80"));
  return out;
}

constexpr int kKeys = 10'000;

std::vector<std::string> place_keys(GroupPicker& picker) {
  std::vector<std::string> placed;
  for (int i = 0; i < kKeys; ++i) {
    placed.push_back(pick_with(picker, key("session-" + std::to_string(i))));
  }
  return placed;
}

TEST(ConsistentHash, SameKeyAlwaysSameServer) {
  GroupPicker picker(group(consistent(), servers(5)));
  const std::string first = pick_with(picker, key("user-17"));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(pick_with(picker, key("user-17")), first);
}

TEST(ConsistentHash, AddingAServerMovesAboutOneInNPlusOneKeysAllToIt) {
  constexpr int kServers = 10;
  GroupPicker before(group(consistent(), servers(kServers)));
  GroupPicker after(group(consistent(), servers(kServers + 1)));
  const auto old_placement = place_keys(before);
  const auto new_placement = place_keys(after);
  int moved = 0;
  for (int i = 0; i < kKeys; ++i) {
    const auto k = static_cast<std::size_t>(i);
    if (old_placement[k] == new_placement[k]) continue;
    ++moved;
    EXPECT_EQ(new_placement[k], "10.0.0.11:80") << "a key moved between old servers";
  }
  // 1/11 of 10,000 = 909; 160 points per server keep each share within ~10% of fair.
  EXPECT_NEAR(moved, kKeys / (kServers + 1), 250);
}

TEST(ConsistentHash, RemovingAServerMovesOnlyItsKeys) {
  auto all = servers(10);
  GroupPicker before(group(consistent(), all));
  all.erase(all.begin() + 3);  // 10.0.0.4:80
  GroupPicker after(group(consistent(), all));
  const auto old_placement = place_keys(before);
  const auto new_placement = place_keys(after);
  int moved = 0;
  for (int i = 0; i < kKeys; ++i) {
    const auto k = static_cast<std::size_t>(i);
    if (old_placement[k] == "10.0.0.4:80") {
      ++moved;
    } else {
      EXPECT_EQ(new_placement[k], old_placement[k]) << "key " << i;
    }
  }
  EXPECT_NEAR(moved, kKeys / 10, 250);
}

TEST(ConsistentHash, DownServerHandsOnlyItsKeysToOthers) {
  GroupPicker picker(group(consistent(), servers(5)));
  const auto before = place_keys(picker);
  peer(picker, "10.0.0.2:80").set_down(true);
  const auto after = place_keys(picker);
  for (int i = 0; i < kKeys; ++i) {
    const auto k = static_cast<std::size_t>(i);
    if (before[k] == "10.0.0.2:80") {
      EXPECT_NE(after[k], "10.0.0.2:80");
    } else {
      EXPECT_EQ(after[k], before[k]) << "key " << i;
    }
  }
}

TEST(ConsistentHash, WeightScalesTheShareOfKeys) {
  auto all = servers(3);
  all[0].weight = 2;
  GroupPicker picker(group(consistent(), all));
  auto counts = tally(kKeys, [&](int i) { return pick_with(picker, key(std::to_string(i))); });
  EXPECT_NEAR(counts["10.0.0.1:80"], kKeys / 2, 600);
  EXPECT_NEAR(counts["10.0.0.2:80"], kKeys / 4, 600);
  EXPECT_NEAR(counts["10.0.0.3:80"], kKeys / 4, 600);
}

TEST(ConsistentHash, PicksTheOwnerOfTheFirstPointAtOrAfterTheKeysCrc32) {
  GroupPicker picker(group(consistent(), servers(4)));
  const HashRing& ring = picker.group().primary_tables().ring;
  for (const char* k : {"a", "b", "/x", "user-1"}) {
    const std::uint32_t owner = ring.owner(ring.lower_bound(crc32(k)));
    EXPECT_EQ(pick_with(picker, key(k)), picker.group().primaries()[owner]->name()) << k;
  }
}

TEST(ConsistentHash, RetryWalksToAnotherServer) {
  GroupPicker picker(group(consistent(), servers(3)));
  Attempt attempt;
  std::set<std::string> picked;
  std::vector<Lease> leases;
  while (auto lease = picker.pick(attempt, kStart, key("k"))) {
    picked.insert(lease->peer().name());
    leases.push_back(std::move(*lease));
  }
  EXPECT_EQ(picked.size(), 3u);
  EXPECT_EQ(attempt.tries(), 3);
}

TEST(ConsistentHash, EmptyKeyFallsBackToRoundRobin) {
  GroupPicker picker(group(consistent(), {server("a"), server("b")}));
  EXPECT_EQ(sequence(picker, 4, kStart), "abab");
}

}  // namespace
}  // namespace tg::balancing
