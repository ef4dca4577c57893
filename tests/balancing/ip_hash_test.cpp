#include "balancing/ip_hash.h"

#include <array>
#include <cstdint>

#include <gtest/gtest.h>

#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

std::shared_ptr<const UpstreamGroup> abc(std::vector<ServerConfig> servers = {
                                             server("a"), server("b"), server("c")}) {
  return group(Algorithm::kIpHash, std::move(servers));
}

std::string from(GroupPicker& picker, std::span<const std::uint8_t> address) {
  PickInput input;
  input.client_addr = address;
  return pick_with(picker, input);
}

std::string from_ipv4(GroupPicker& picker, std::uint8_t a, std::uint8_t b, std::uint8_t c,
                      std::uint8_t d) {
  const std::array<std::uint8_t, 4> address{a, b, c, d};
  return from(picker, address);
}

std::array<std::uint8_t, 16> ipv6(std::uint8_t last) {
  return {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
}

TEST(IpHash, SameClientAlwaysSameServer) {
  GroupPicker picker(abc());
  const std::string first = from_ipv4(picker, 203, 0, 113, 7);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(from_ipv4(picker, 203, 0, 113, 7), first);
}

TEST(IpHash, FollowsNginxFormulaForIpv4) {
  // hash = 89; for 192, 168, 1: hash = (hash * 113 + byte) % 6271 -> 154; 154 % 3 = 1.
  GroupPicker picker(abc());
  EXPECT_EQ(from_ipv4(picker, 192, 168, 1, 20), "b");
  // 10.0.0 -> 2565; 2565 % 3 = 0.
  EXPECT_EQ(from_ipv4(picker, 10, 0, 0, 1), "a");
}

TEST(IpHash, ClientsDifferingOnlyInTheLastIpv4OctetMapTogether) {
  GroupPicker picker(abc());
  const std::string first = from_ipv4(picker, 192, 168, 1, 0);
  for (int last = 1; last < 256; ++last) {
    EXPECT_EQ(from_ipv4(picker, 192, 168, 1, static_cast<std::uint8_t>(last)), first) << last;
  }
}

TEST(IpHash, Ipv6UsesTheWholeAddress) {
  // 2001:db8::N hashes to 2599 + N here: 2599 % 3 = 1, 2600 % 3 = 2, 2601 % 3 = 0.
  GroupPicker picker(abc());
  EXPECT_EQ(from(picker, ipv6(0)), "b");
  EXPECT_EQ(from(picker, ipv6(1)), "c");
  EXPECT_EQ(from(picker, ipv6(2)), "a");
}

TEST(IpHash, OtherAddressLengthsHashAsThePseudoAddress) {
  GroupPicker picker(abc());
  const std::string pseudo = from_ipv4(picker, 0, 0, 0, 99);
  EXPECT_EQ(pick_with(picker, {}), pseudo);
  const std::array<std::uint8_t, 2> odd{1, 2};
  EXPECT_EQ(from(picker, odd), pseudo);
}

TEST(IpHash, IneligibleServerRehashesFollowingNginxChain) {
  // 192.168.1: candidates 1, 2, 2, 0, ... (b, c, c, a): with b down it goes to c.
  GroupPicker picker(abc());
  peer(picker, "b").set_down(true);
  EXPECT_EQ(from_ipv4(picker, 192, 168, 1, 1), "c");
  // Both b and c out: the chain reaches a on its fourth try.
  peer(picker, "c").set_down(true);
  EXPECT_EQ(from_ipv4(picker, 192, 168, 1, 1), "a");
}

TEST(IpHash, DownServerMovesOnlyItsOwnClients) {
  GroupPicker picker(abc());
  std::map<int, std::string> before;
  for (int net = 0; net < 200; ++net) {
    before[net] = from_ipv4(picker, 10, 1, static_cast<std::uint8_t>(net), 1);
  }
  peer(picker, "b").set_down(true);
  int moved = 0;
  for (int net = 0; net < 200; ++net) {
    const std::string now = from_ipv4(picker, 10, 1, static_cast<std::uint8_t>(net), 1);
    if (before[net] != "b") {
      EXPECT_EQ(now, before[net]) << net;
    } else {
      EXPECT_NE(now, "b");
      ++moved;
    }
  }
  EXPECT_GT(moved, 0);
}

TEST(IpHash, WeightsShareTheClients) {
  GroupPicker picker(abc({server("a", 3), server("b", 1)}));
  auto counts = tally(10'000, [&](int i) {
    return from_ipv4(picker, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i), 7, 1);
  });
  EXPECT_NEAR(counts["a"], 7'500, 300);
  EXPECT_NEAR(counts["b"], 2'500, 300);
}

TEST(IpHash, FallsBackToRoundRobinWhenRehashesKeepMissing) {
  // b takes 9999 of 10000 weight units and is tried: 21 hashes all but surely land on it,
  // and round robin then finds a.
  GroupPicker picker(abc({server("a", 1), server("b", 9'999)}));
  Attempt attempt;
  attempt.mark_tried(peer(picker, "b"));
  const std::array<std::uint8_t, 4> address{10, 0, 0, 1};
  PickInput input;
  input.client_addr = address;
  auto lease = picker.pick(attempt, kStart, input);
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->peer().name(), "a");
}

TEST(IpHash, RetryNeverRepeatsTheTriedServer) {
  GroupPicker picker(abc());
  const std::array<std::uint8_t, 4> address{192, 168, 1, 1};
  PickInput input;
  input.client_addr = address;
  Attempt attempt;
  std::string picked;
  std::vector<Lease> leases;
  while (auto lease = picker.pick(attempt, kStart, input)) {
    picked += lease->peer().name();
    leases.push_back(std::move(*lease));
  }
  EXPECT_EQ(picked, "bca");  // the rehash chain: b, c, (c), a
}

TEST(IpHash, SingleServerGroupUsesRoundRobin) {
  GroupPicker picker(abc({server("a"), backup("z")}));
  EXPECT_EQ(from_ipv4(picker, 192, 168, 1, 1), "a");
  EXPECT_EQ(from_ipv4(picker, 10, 0, 0, 1), "a");
}

}  // namespace
}  // namespace tg::balancing
