#include "balancing/hash.h"

#include <gtest/gtest.h>

#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

std::shared_ptr<const UpstreamGroup> abc(std::vector<ServerConfig> servers = {
                                             server("a"), server("b"), server("c")}) {
  return group(Algorithm::kHash, std::move(servers));
}

TEST(Hash, SameKeyAlwaysSameServer) {
  GroupPicker picker(abc());
  const std::string first = pick_with(picker, key("/img/logo.png"));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(pick_with(picker, key("/img/logo.png")), first);
}

TEST(Hash, FollowsNginxFormula) {
  // ((crc32(key) >> 16) & 0x7fff) % total weight: crc32("foo") = 0x8c736521 -> 0x0c73 = 3187,
  // 3187 % 3 = 1; crc32("user42") = 0x7c2fbeb6 -> 0x7c2f = 31791, % 3 = 0.
  GroupPicker picker(abc());
  EXPECT_EQ(pick_with(picker, key("foo")), "b");
  EXPECT_EQ(pick_with(picker, key("user42")), "a");
  EXPECT_EQ(pick_with(picker, key("/index.html")), "c");
}

TEST(Hash, IneligibleServerRehashesFollowingNginxChain) {
  // "foo": 3187 -> b; + (crc32("1foo") >> 16 & 0x7fff) -> a; + crc32("2foo") part -> c.
  GroupPicker picker(abc());
  peer(picker, "b").set_down(true);
  EXPECT_EQ(pick_with(picker, key("foo")), "a");
  peer(picker, "a").set_down(true);
  EXPECT_EQ(pick_with(picker, key("foo")), "c");
}

TEST(Hash, DownServerMovesOnlyItsOwnKeys) {
  GroupPicker picker(abc());
  std::vector<std::string> before;
  for (int i = 0; i < 1'000; ++i) before.push_back(pick_with(picker, key(std::to_string(i))));
  peer(picker, "c").set_down(true);
  int moved = 0;
  for (int i = 0; i < 1'000; ++i) {
    const std::string now = pick_with(picker, key(std::to_string(i)));
    if (before[static_cast<std::size_t>(i)] == "c") {
      EXPECT_NE(now, "c");
      ++moved;
    } else {
      EXPECT_EQ(now, before[static_cast<std::size_t>(i)]) << i;
    }
  }
  EXPECT_NEAR(moved, 333, 60);
}

TEST(Hash, DistributionFollowsWeightsOver10000Keys) {
  GroupPicker picker(abc({server("a", 1), server("b", 2), server("c", 3), server("d", 4)}));
  auto counts =
      tally(10'000, [&](int i) { return pick_with(picker, key("/item/" + std::to_string(i))); });
  EXPECT_NEAR(counts["a"], 1'000, 150);
  EXPECT_NEAR(counts["b"], 2'000, 150);
  EXPECT_NEAR(counts["c"], 3'000, 150);
  EXPECT_NEAR(counts["d"], 4'000, 150);
}

TEST(Hash, EmptyKeyFallsBackToRoundRobin) {
  GroupPicker picker(abc());
  EXPECT_EQ(sequence(picker, 6, kStart), "abcabc");
}

TEST(Hash, RetryNeverRepeatsTheTriedServer) {
  GroupPicker picker(abc());
  Attempt attempt;
  std::string picked;
  std::vector<Lease> leases;
  while (auto lease = picker.pick(attempt, kStart, key("foo"))) {
    picked += lease->peer().name();
    leases.push_back(std::move(*lease));
  }
  EXPECT_EQ(picked, "bac");  // the rehash chain of "foo"
}

TEST(Hash, FallsBackToRoundRobinWhenRehashesKeepMissing) {
  GroupPicker picker(abc({server("a", 1), server("b", 30'000)}));
  Attempt attempt;
  attempt.mark_tried(peer(picker, "b"));
  auto lease = picker.pick(attempt, kStart, key("foo"));
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->peer().name(), "a");
}

}  // namespace
}  // namespace tg::balancing
