#include "balancing/upstream_group.h"

#include <gtest/gtest.h>

#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

std::vector<std::string> names(const UpstreamGroup::Peers& peers) {
  std::vector<std::string> out;
  for (const auto& p : peers) out.push_back(p->name());
  return out;
}

TEST(UpstreamGroup, MakeGroupSplitsBackupsAndKeepsOrder) {
  auto g = group(Algorithm::kLeastConn, {server("a"), backup("x"), server("b"), backup("y")});
  EXPECT_EQ(g->name(), "backend");
  EXPECT_EQ(g->algorithm(), Algorithm::kLeastConn);
  EXPECT_EQ(names(g->primaries()), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(names(g->backups()), (std::vector<std::string>{"x", "y"}));
}

TEST(UpstreamGroup, ServersThatStayKeepTheirPeerAndLiveState) {
  std::vector<ServerConfig> servers{server("a"), server("b")};
  auto first = make_group("backend", Algorithm::kRoundRobin, servers, 2);
  GroupPicker picker(first);
  Lease in_flight = hold(picker, "a", kStart);

  servers.erase(servers.begin() + 1);
  servers.push_back(server("c"));
  auto second = make_group("backend", Algorithm::kRoundRobin, servers, 2, first.get());
  EXPECT_EQ(second->find("a"), first->find("a"));
  EXPECT_EQ(second->find("a")->active(), 1);
  EXPECT_EQ(second->find("b"), nullptr);
  EXPECT_NE(second->find("c"), nullptr);
}

TEST(UpstreamGroup, ChangedSettingsKeepThePeer) {
  std::vector<ServerConfig> servers{server("a", 1)};
  auto first = make_group("backend", Algorithm::kRoundRobin, servers, 1);
  servers[0].weight = 2;
  servers[0].route = "r";
  auto second = make_group("backend", Algorithm::kRoundRobin, servers, 1, first.get());
  EXPECT_EQ(second->find("a"), first->find("a"));
  EXPECT_EQ(second->find("a")->weight(), 2);
  EXPECT_EQ(second->sticky_id_of(*second->find("a")), "r");
  EXPECT_EQ(second->standing_epoch(), first->standing_epoch());
}

TEST(UpstreamGroup, ServerMovedToBackupGetsAFreshPeer) {
  std::vector<ServerConfig> servers{server("a", 1), server("b", 1)};
  auto first = make_group("backend", Algorithm::kRoundRobin, servers, 1);
  servers[1].backup = true;
  auto second = make_group("backend", Algorithm::kRoundRobin, servers, 1, first.get());
  EXPECT_EQ(second->find("a"), first->find("a"));
  EXPECT_NE(second->find("b"), first->find("b"));
  EXPECT_NE(second->find("b")->id(), first->find("b")->id());
  EXPECT_EQ(second->find_id(first->find("a")->id()), first->find("a"));
}

TEST(UpstreamGroup, DrainingInAReloadKeepsThePeerAndDatesTheDrain) {
  std::vector<ServerConfig> servers{server("a"), server("b")};
  auto first = make_group("backend", Algorithm::kRoundRobin, servers, 1);
  GroupPicker picker(first);
  Lease tunnel = hold(picker, "b", kStart);

  servers[1].drain = true;
  servers[1].drain_timeout = std::chrono::seconds(5);
  const TimePoint reload_at = kStart + std::chrono::seconds(3);
  auto second = make_group("backend", Algorithm::kRoundRobin, servers, 1, first.get(), reload_at);
  ASSERT_EQ(second->find("b"), first->find("b"));  // the held lease drains on the same Peer
  const Peer& b = *second->find("b");
  EXPECT_TRUE(b.draining());
  EXPECT_EQ(b.draining_since(), reload_at);
  EXPECT_EQ(b.drain_timeout(), std::chrono::seconds(5));
  EXPECT_EQ(b.active(), 1);

  servers[1].drain = false;
  auto third = make_group("backend", Algorithm::kRoundRobin, servers, 1, second.get(), reload_at);
  EXPECT_EQ(third->find("b"), first->find("b"));
  EXPECT_FALSE(third->find("b")->draining());
  EXPECT_EQ(third->find("b")->draining_since(), std::nullopt);
}

TEST(UpstreamGroup, DuplicateServerLinesPairUpOneToOne) {
  std::vector<ServerConfig> servers{server("a"), server("a")};
  auto first = make_group("backend", Algorithm::kRoundRobin, servers, 1);
  auto second = make_group("backend", Algorithm::kRoundRobin, servers, 1, first.get());
  ASSERT_EQ(second->primaries().size(), 2u);
  EXPECT_NE(second->primaries()[0], second->primaries()[1]);
  for (const auto& p : second->primaries()) {
    EXPECT_TRUE(p == first->primaries()[0] || p == first->primaries()[1]);
  }
}

TEST(UpstreamGroup, MoreWorkersThanStatsSlotsGetsAFreshPeer) {
  std::vector<ServerConfig> servers{server("a")};
  auto first = make_group("backend", Algorithm::kRoundRobin, servers, 1);
  auto second = make_group("backend", Algorithm::kRoundRobin, servers, 4, first.get());
  EXPECT_NE(second->find("a"), first->find("a"));
  EXPECT_EQ(second->find("a")->stats().slots(), 4u);
}

TEST(UpstreamGroup, KeepsTheBalancerConfig) {
  BalancerConfig config = balancer(Algorithm::kRandom);
  config.two = true;
  config.two_mode = BalancerConfig::TwoMode::kLeastTime;
  config.metric = TimeMetric::kLastByte;
  auto g = group(config, {server("a")});
  EXPECT_EQ(g->algorithm(), Algorithm::kRandom);
  EXPECT_EQ(g->balancer(), config);
}

TEST(UpstreamGroup, HashGroupsTableEveryServerOfEachTier) {
  auto g = group(Algorithm::kHash, {server("a", 2), server("b"), backup("x", 5)});
  EXPECT_EQ(g->primary_tables().weights.total(), 3u);
  EXPECT_EQ(g->backup_tables().weights.total(), 5u);
  EXPECT_TRUE(g->primary_tables().ring.empty());
  BalancerConfig consistent = balancer(Algorithm::kHash);
  consistent.consistent = true;
  auto c = group(consistent, {server("a", 2), server("b")});
  EXPECT_EQ(c->primary_tables().ring.size(), 3u * HashRing::kPointsPerWeight);
}

TEST(UpstreamGroup, FindsServersByStickyIdOnlyWithSticky) {
  auto routed = server("b");
  routed.route = "r2";
  BalancerConfig config = balancer(Algorithm::kRoundRobin);
  config.sticky.mode = StickyConfig::Mode::kRoute;
  auto g = group(config, {server("a"), routed, backup("x")});
  ASSERT_TRUE(g->find_sticky("r2"));
  EXPECT_FALSE(g->find_sticky("r2")->backup);
  EXPECT_EQ(g->find_sticky("r2")->index, 1u);
  const auto x = g->find_sticky(g->sticky_id_of(*g->find("x")));
  ASSERT_TRUE(x);
  EXPECT_TRUE(x->backup);
  EXPECT_FALSE(g->find_sticky("nope"));
  EXPECT_FALSE(g->find_sticky(""));
  EXPECT_FALSE(group(Algorithm::kRoundRobin, {routed})->find_sticky("r2"));
}

TEST(UpstreamGroup, OnlyServersJoiningAnExistingGroupSlowStart) {
  std::vector<ServerConfig> servers{slow_server("a", 1, 5s)};
  auto first = make_group("backend", Algorithm::kRoundRobin, servers, 1);
  EXPECT_EQ(first->find("a")->slow_start_ends(), std::nullopt);
  servers.push_back(slow_server("b", 1, 5s));
  auto second = make_group("backend", Algorithm::kRoundRobin, servers, 1, first.get());
  EXPECT_EQ(second->find("a")->slow_start_ends(), std::nullopt);      // stays: no ramp
  EXPECT_EQ(second->find("b")->slow_start_ends(), TimePoint::max());  // pending first pick
}

}  // namespace
}  // namespace tg::balancing
