#include "balancing/membership.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "balancing/group_picker.h"
#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

BalancerConfig round_robin() {
  return balancer(Algorithm::kRoundRobin);
}

std::uint64_t id_of(const GroupMembership& g, std::string_view name) {
  for (const auto& s : g.servers()) {
    if (s.config.name == name) return s.peer->id();
  }
  return 0;
}

TEST(GroupMembership, EveryChangePublishesANewVersion) {
  GroupMembership g("backend", 1);
  const auto v0 = g.version();
  std::vector<ServerConfig> servers{server("a"), server("b")};
  g.load(servers, round_robin(), true, std::nullopt);
  EXPECT_GT(g.version(), v0);
  EXPECT_EQ(g.snapshot()->primaries().size(), 2u);
  const auto v1 = g.version();
  const auto id = g.add(server("c"), kStart);
  EXPECT_GT(g.version(), v1);
  EXPECT_EQ(g.snapshot()->primaries().size(), 3u);
  EXPECT_EQ(g.snapshot()->find_id(id)->name(), "c");
}

TEST(GroupMembership, IdsAndCountersSurviveReloadsAndSettingChanges) {
  GroupMembership g("backend", 1);
  std::vector<ServerConfig> servers{server("a"), server("b")};
  g.load(servers, round_robin(), false, std::nullopt);
  const auto a = id_of(g, "a");
  auto peer = g.snapshot()->find_id(a);
  peer->stats().record(0, 200, 1000);
  servers[0].weight = 7;
  g.load(servers, round_robin(), false, kStart);
  EXPECT_EQ(id_of(g, "a"), a);
  EXPECT_EQ(g.snapshot()->find_id(a), peer);
  EXPECT_EQ(peer->weight(), 7);
  EXPECT_EQ(peer->stats().snapshot().requests, 1u);
  ServerConfig changed = g.find(a)->config;
  changed.weight = 3;
  changed.down = true;
  ASSERT_TRUE(g.update(a, changed, kStart));
  EXPECT_EQ(g.snapshot()->find_id(a), peer);
  EXPECT_EQ(peer->weight(), 3);
  EXPECT_TRUE(peer->down());
}

TEST(GroupMembership, UpdateKeepsAddressAndTier) {
  GroupMembership g("backend", 1);
  std::vector<ServerConfig> servers{server("a")};
  g.load(servers, round_robin(), true, std::nullopt);
  const auto a = id_of(g, "a");
  ServerConfig attempt = backup("elsewhere");
  attempt.weight = 4;
  ASSERT_TRUE(g.update(a, attempt, kStart));
  EXPECT_EQ(g.find(a)->config.name, "a");
  EXPECT_FALSE(g.find(a)->config.backup);
  EXPECT_EQ(g.find(a)->config.weight, 4);
  EXPECT_FALSE(g.update(999999, attempt, kStart));
}

TEST(GroupMembership, ReloadOfAZoneGroupKeepsRunTimeChanges) {
  // NGINX Plus: servers added at run time stay; a conf server changed at run time keeps
  // its settings; a conf server that left the conf goes.
  GroupMembership g("backend", 1);
  std::vector<ServerConfig> conf{server("a"), server("b"), server("gone")};
  g.load(conf, round_robin(), true, std::nullopt);
  const auto added = g.add(server("api"), kStart);
  ServerConfig drained = g.find(id_of(g, "a"))->config;
  drained.drain = true;
  drained.weight = 9;
  g.update(id_of(g, "a"), drained, kStart);
  conf = {server("a", 2), server("b", 5)};
  g.load(conf, round_robin(), true, kStart);
  ASSERT_NE(g.find(added), nullptr);
  EXPECT_EQ(g.find(id_of(g, "a"))->config.weight, 9);
  EXPECT_TRUE(g.snapshot()->find_id(id_of(g, "a"))->draining());
  EXPECT_EQ(g.find(id_of(g, "b"))->config.weight, 5);
  EXPECT_EQ(id_of(g, "gone"), 0u);
  EXPECT_EQ(g.servers().size(), 3u);
}

TEST(GroupMembership, ConfServerRemovedAtRunTimeComesBackAtReload) {
  // The conf's server lines are what a reload reads: a conf server the API removed is
  // in them again (as a new server, with a new id).
  GroupMembership g("backend", 1);
  std::vector<ServerConfig> conf{server("a"), server("b")};
  g.load(conf, round_robin(), true, std::nullopt);
  const auto old_b = id_of(g, "b");
  ASSERT_TRUE(g.remove(old_b));
  EXPECT_EQ(id_of(g, "b"), 0u);
  g.load(conf, round_robin(), true, kStart);
  EXPECT_NE(id_of(g, "b"), 0u);
  EXPECT_NE(id_of(g, "b"), old_b);
  EXPECT_EQ(g.servers().size(), 2u);
}

TEST(GroupMembership, ReloadWithoutAZoneTakesTheConfAsIs) {
  GroupMembership g("backend", 1);
  std::vector<ServerConfig> conf{server("a")};
  g.load(conf, round_robin(), false, std::nullopt);
  g.add(server("api"), kStart);
  ServerConfig heavy = g.find(id_of(g, "a"))->config;
  heavy.weight = 9;
  g.update(id_of(g, "a"), heavy, kStart);
  g.load(conf, round_robin(), false, kStart);
  EXPECT_EQ(g.servers().size(), 1u);
  EXPECT_EQ(g.find(id_of(g, "a"))->config.weight, 1);
}

TEST(GroupMembership, RemovedServerIsAZombieWhileLeasesRemain) {
  GroupMembership g("backend", 1);
  std::vector<ServerConfig> conf{server("a"), server("b")};
  g.load(conf, round_robin(), true, std::nullopt);
  auto picker = std::make_shared<GroupPicker>(g.snapshot());
  Attempt attempt;
  auto lease = picker->pick(attempt, kStart);  // "a": round robin starts with the first
  ASSERT_TRUE(lease);
  const auto id = lease->peer().id();
  lease->peer().stats().record(0, 200, 100);
  ASSERT_TRUE(g.remove(id));
  EXPECT_EQ(g.snapshot()->find_id(id), nullptr);
  EXPECT_EQ(g.collect_zombies(), 1u);
  EXPECT_EQ(g.retired().requests, 0u);
  lease->release(Outcome::kSuccess, kStart);
  EXPECT_EQ(g.collect_zombies(), 0u);
  EXPECT_EQ(g.retired().requests, 1u);
  // A picker on the new snapshot never offers it.
  GroupPicker next(g.snapshot(), *picker);
  for (int i = 0; i < 4; ++i) {
    Attempt a;
    auto l = next.pick(a, kStart);
    ASSERT_TRUE(l);
    EXPECT_NE(l->peer().id(), id);
  }
}

TEST(GroupMembership, APickerFromBeforeARemovalNeverOffersTheRemovedServer) {
  GroupMembership g("backend", 1);
  std::vector<ServerConfig> conf{server("a"), server("b"), server("c")};
  g.load(conf, round_robin(), true, std::nullopt);
  auto stale = std::make_shared<GroupPicker>(g.snapshot());
  const auto id = id_of(g, "b");
  ASSERT_TRUE(g.remove(id));
  for (int i = 0; i < 12; ++i) {
    Attempt a;
    auto l = stale->pick(a, kStart);
    ASSERT_TRUE(l);
    EXPECT_NE(l->peer().id(), id);
    l->release(Outcome::kSuccess, kStart);
  }
}

TEST(GroupMembership, MandatoryChecksPutServersInCheckingAsNginxPlus) {
  GroupMembership g("backend", 1);
  g.set_checks({true, true, false});
  std::vector<ServerConfig> conf{server("a"), server("b")};
  g.load(conf, round_robin(), true, std::nullopt);
  auto a = g.servers()[0].peer, b = g.servers()[1].peer;
  EXPECT_TRUE(a->checking());  // at start
  a->set_checking(false);
  b->set_checking(false);
  const auto id = g.add(server("c"), kStart);
  EXPECT_TRUE(g.find(id)->peer->checking());  // added at run time
  g.find(id)->peer->set_checking(false);
  b->set_healthy(false);
  g.load(conf, round_robin(), true, kStart);  // a reload without persistent: all again
  EXPECT_TRUE(a->checking());
  EXPECT_TRUE(g.find(id)->peer->checking());
  for (const auto& s : g.servers()) s.peer->set_checking(false);
  g.set_checks({true, true, true});  // persistent: the healthy ones stay
  g.load(conf, round_robin(), true, kStart);
  EXPECT_FALSE(a->checking());
  EXPECT_TRUE(b->checking());
  g.set_checks({});  // checks removed: nothing keeps a server out
  g.load(conf, round_robin(), true, kStart);
  EXPECT_FALSE(b->checking());
  EXPECT_TRUE(b->healthy());
}

TEST(GroupMembership, TunnelsKeepAZombie) {
  GroupMembership g("backend", 1);
  std::vector<ServerConfig> conf{server("a")};
  g.load(conf, round_robin(), true, std::nullopt);
  auto peer = g.snapshot()->primaries().front();
  peer->tunnel_opened();
  g.remove(peer->id());
  EXPECT_EQ(g.collect_zombies(), 1u);
  peer->tunnel_closed();
  EXPECT_EQ(g.collect_zombies(), 0u);
}

// Workers pick (and rebuild their pickers on version changes) while the control thread
// adds, changes and removes servers thousands of times. Run under the asan preset too.
TEST(GroupMembership, ChangesWhilePickersPick) {
  GroupMembership g("backend", 4);
  std::vector<ServerConfig> conf;
  for (int i = 0; i < 8; ++i) conf.push_back(server("s" + std::to_string(i)));
  g.load(conf, round_robin(), true, std::nullopt);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> picks{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      std::uint64_t version = g.version();
      auto picker = std::make_shared<GroupPicker>(g.snapshot());
      std::vector<std::pair<std::shared_ptr<GroupPicker>, Lease>> held;
      while (!stop.load()) {
        if (g.version() != version) {
          version = g.version();
          picker = std::make_shared<GroupPicker>(g.snapshot(), *picker);
        }
        Attempt attempt;
        auto lease = picker->pick(attempt, Clock::now());
        if (lease) {
          picks.fetch_add(1);
          held.emplace_back(picker, std::move(*lease));
        }
        if (held.size() > 16) {
          for (auto& [p, l] : held) l.release(Outcome::kSuccess, Clock::now());
          held.clear();
        }
      }
      for (auto& [p, l] : held) l.release(Outcome::kSuccess, Clock::now());
    });
  }
  std::vector<std::uint64_t> added;
  for (int i = 0; i < 3000; ++i) {
    switch (i % 3) {
      case 0:
        added.push_back(g.add(server("dyn" + std::to_string(i)), Clock::now()));
        break;
      case 1: {
        auto id = g.servers()[static_cast<std::size_t>(i) % g.servers().size()].peer->id();
        ServerConfig c = g.find(id)->config;
        c.weight = 1 + i % 5;
        c.drain = (i % 7) == 0;
        g.update(id, c, Clock::now());
        break;
      }
      default:
        if (!added.empty()) {
          g.remove(added.back());
          added.pop_back();
        }
        break;
    }
    g.collect_zombies();
  }
  stop.store(true);
  for (auto& t : workers) t.join();
  EXPECT_GT(picks.load(), 0u);
  EXPECT_EQ(g.collect_zombies(), 0u);
  for (const auto& s : g.servers()) EXPECT_EQ(s.peer->active(), 0);
}

}  // namespace
}  // namespace tg::balancing
