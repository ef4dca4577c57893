#include "balancing/group_picker.h"

#include <array>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

/// A balancing method under test: every algorithm, and the variants that pick differently.
struct Method {
  const char* name;
  BalancerConfig config;
};

std::vector<Method> all_methods() {
  std::vector<Method> methods;
  auto add = [&](const char* name, Algorithm algorithm, auto&& tweak) {
    BalancerConfig config = balancer(algorithm);
    tweak(config);
    methods.push_back({name, config});
  };
  auto none = [](BalancerConfig&) {};
  add("RoundRobin", Algorithm::kRoundRobin, none);
  add("LeastConn", Algorithm::kLeastConn, none);
  add("IpHash", Algorithm::kIpHash, none);
  add("Hash", Algorithm::kHash, none);
  add("HashConsistent", Algorithm::kHash, [](BalancerConfig& c) { c.consistent = true; });
  add("Random", Algorithm::kRandom, none);
  add("RandomTwo", Algorithm::kRandom, [](BalancerConfig& c) { c.two = true; });
  add("RandomTwoLeastTime", Algorithm::kRandom, [](BalancerConfig& c) {
    c.two = true;
    c.two_mode = BalancerConfig::TwoMode::kLeastTime;
  });
  add("LeastTime", Algorithm::kLeastTime, none);
  add("LeastTimeInflight", Algorithm::kLeastTime, [](BalancerConfig& c) { c.inflight = true; });
  add("PeakEwma", Algorithm::kPeakEwma, none);
  add("StickyCookie", Algorithm::kRoundRobin,
      [](BalancerConfig& c) { c.sticky.mode = StickyConfig::Mode::kCookie; });
  return methods;
}

/// Varied per-request input, so hash and ip_hash really hash.
struct VariedInput {
  std::string key;
  std::array<std::uint8_t, 4> address{};
  PickInput input;

  explicit VariedInput(int i)
      : key("/item/" + std::to_string(i)),
        address{10, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i), 1} {
    input.hash_key = key;
    input.client_addr = address;
  }
};

std::string pick_varied(GroupPicker& picker, int i, TimePoint now = kStart) {
  const VariedInput varied(i);
  return pick_once(picker, now, Outcome::kSuccess, varied.input);
}

std::shared_ptr<const UpstreamGroup> two_primaries_one_backup(const BalancerConfig& config) {
  return group(config, {server("a"), server("b"), backup("c")});
}

void fail(GroupPicker& picker, std::string_view name, TimePoint now) {
  hold(picker, name, now).release(Outcome::kFailure, now);
}

class GroupPickerByAlgorithm : public ::testing::TestWithParam<Method> {};

INSTANTIATE_TEST_SUITE_P(Algorithms, GroupPickerByAlgorithm, ::testing::ValuesIn(all_methods()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_P(GroupPickerByAlgorithm, BackupUsedOnlyWhenNoPrimaryIsEligible) {
  GroupPicker picker(two_primaries_one_backup(GetParam().config));
  EXPECT_EQ(sequence(picker, 100, kStart).find('c'), std::string::npos);

  peer(picker, "a").set_down(true);
  peer(picker, "b").set_draining(true);
  EXPECT_EQ(sequence(picker, 3, kStart), "ccc");

  peer(picker, "b").set_draining(false);
  EXPECT_EQ(sequence(picker, 3, kStart), "bbb");
}

TEST_P(GroupPickerByAlgorithm, BackupTakesOverFromFailedPrimariesWithoutResettingThem) {
  GroupPicker picker(two_primaries_one_backup(GetParam().config));
  fail(picker, "a", kStart);
  fail(picker, "b", kStart);
  EXPECT_EQ(sequence(picker, 3, kStart + 1s), "ccc");
  EXPECT_EQ(peer(picker, "a").fails(), 1);
  EXPECT_EQ(peer(picker, "b").fails(), 1);
}

TEST_P(GroupPickerByAlgorithm, BackupUsedWhenEveryPrimaryWasTried) {
  GroupPicker picker(two_primaries_one_backup(GetParam().config));
  Attempt attempt;
  auto first = picker.pick(attempt, kStart);
  auto second = picker.pick(attempt, kStart);
  auto third = picker.pick(attempt, kStart);
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(third->peer().name(), "c");
  EXPECT_FALSE(picker.pick(attempt, kStart));
  EXPECT_EQ(attempt.tries(), 3);
}

TEST_P(GroupPickerByAlgorithm, NothingEligibleWhenEveryPeerIsDown) {
  GroupPicker picker(two_primaries_one_backup(GetParam().config));
  for (const char* name : {"a", "b", "c"}) peer(picker, name).set_down(true);
  EXPECT_EQ(pick_once(picker, kStart), "-");
}

TEST_P(GroupPickerByAlgorithm, NothingEligibleWhenEveryPeerIsAtMaxConns) {
  auto a = server("a");
  a.max_conns = 1;
  GroupPicker picker(group(GetParam().config, {a}));
  Lease busy = hold(picker, "a", kStart);
  EXPECT_EQ(pick_once(picker, kStart), "-");
}

TEST_P(GroupPickerByAlgorithm, SingleServerIsNotPickedTwiceForOneRequest) {
  GroupPicker picker(group(GetParam().config, {server("a")}));
  Attempt attempt;
  auto lease = picker.pick(attempt, kStart);
  ASSERT_TRUE(lease);
  lease->release(Outcome::kFailure, kStart);
  EXPECT_FALSE(picker.pick(attempt, kStart));
}

TEST_P(GroupPickerByAlgorithm, CountsOutstandingLeases) {
  GroupPicker picker(two_primaries_one_backup(GetParam().config));
  Lease a = hold(picker, "a", kStart);
  {
    Lease b = hold(picker, "b", kStart);
    EXPECT_EQ(picker.outstanding_leases(), 2u);
  }
  EXPECT_EQ(picker.outstanding_leases(), 1u);
  a.release(Outcome::kSuccess, kStart);
  EXPECT_EQ(picker.outstanding_leases(), 0u);
}

TEST_P(GroupPickerByAlgorithm, BackupTakesOverForEveryRequestWhenPrimariesAreOut) {
  GroupPicker picker(two_primaries_one_backup(GetParam().config));
  for (int i = 0; i < 50; ++i) EXPECT_NE(pick_varied(picker, i), "c") << i;
  peer(picker, "a").set_down(true);
  peer(picker, "b").set_healthy(false);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(pick_varied(picker, i), "c") << i;
}

TEST_P(GroupPickerByAlgorithm, MaxConnsIsRespected) {
  auto a = server("a");
  a.max_conns = 1;
  GroupPicker picker(group(GetParam().config, {a, server("b"), server("c")}));
  Lease busy = hold(picker, "a", kStart);
  for (int i = 0; i < 100; ++i) EXPECT_NE(pick_varied(picker, i), "a") << i;
  busy.release(Outcome::kSuccess, kStart);
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(pick_varied(picker, i));
  EXPECT_TRUE(seen.count("a")) << "a never came back";
}

TEST_P(GroupPickerByAlgorithm, DrainingServerGetsNoNewRequests) {
  GroupPicker picker(group(GetParam().config, {server("a"), server("b"), server("c")}));
  peer(picker, "b").set_draining(true, kStart);
  for (int i = 0; i < 100; ++i) EXPECT_NE(pick_varied(picker, i), "b") << i;
}

TEST_P(GroupPickerByAlgorithm, RetriesVisitEveryServerOnce) {
  GroupPicker picker(
      group(GetParam().config, {server("a"), server("b"), server("c"), backup("d")}));
  const VariedInput varied(7);
  Attempt attempt;
  std::set<std::string> picked;
  std::vector<Lease> leases;
  while (auto lease = picker.pick(attempt, kStart, varied.input)) {
    EXPECT_TRUE(picked.insert(lease->peer().name()).second) << lease->peer().name();
    leases.push_back(std::move(*lease));
  }
  EXPECT_EQ(picked, (std::set<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(leases.back().peer().name(), "d");
}

TEST_P(GroupPickerByAlgorithm, FourThreadsPickingAndReleasingLeaveNoActiveConnections) {
  constexpr int kThreads = 4;
  constexpr int kRequests = 20'000;
  auto capped = server("d", 2);
  capped.max_conns = 3;
  auto g = make_group("backend", GetParam().config,
                      std::vector{server("a", 3), server("b"), server("c", 2), capped, backup("e")},
                      kThreads);
  std::atomic<std::uint64_t> leased{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < kThreads; ++w) {
    workers.emplace_back([&, w] {
      GroupPicker picker(g, PickerMode::kIndexed, static_cast<std::uint64_t>(w) + 1);
      std::vector<Lease> in_flight;
      std::uint64_t mine = 0;
      for (int i = 0; i < kRequests; ++i) {
        const auto now = kStart + std::chrono::milliseconds(i);
        Attempt attempt;
        const VariedInput varied(i);
        if (auto lease = picker.pick(attempt, now, varied.input)) {
          ++mine;
          lease->peer().stats().record(static_cast<std::size_t>(w), 200, 100);
          in_flight.push_back(std::move(*lease));
        }
        if (in_flight.size() == 3 || i % 5 == 0) {
          for (auto& l : in_flight) {
            l.release((i + w) % 13 == 0 ? Outcome::kFailure : Outcome::kSuccess, now,
                      ResponseTimes{std::chrono::microseconds(100 + i % 900), {}});
          }
          in_flight.clear();
        }
      }
      in_flight.clear();
      EXPECT_EQ(picker.outstanding_leases(), 0u);
      leased.fetch_add(mine);
    });
  }
  for (auto& t : workers) t.join();

  std::uint64_t requests = 0;
  std::uint64_t recorded = 0;
  for (const auto* tier : {&g->primaries(), &g->backups()}) {
    for (const auto& p : *tier) {
      EXPECT_EQ(p->active(), 0) << p->name();
      requests += p->requests();
      recorded += p->stats().snapshot().requests;
    }
  }
  EXPECT_EQ(requests, leased.load());
  EXPECT_EQ(recorded, leased.load());
  EXPECT_GT(leased.load(), 0u);
}

// nginx 1.22 has no "all peers failed" reset: with nothing eligible the request is
// refused (NGX_BUSY, "no live upstreams", 502) and each server comes back on its own once
// its fail_timeout has run out.
TEST(GroupPicker, AllPrimariesFailedReturnsNoPeer) {
  for (const Method& method : all_methods()) {
    SCOPED_TRACE(method.name);
    const BalancerConfig& algorithm = method.config;
    GroupPicker picker(group(algorithm, {server("a"), server("b")}));
    fail(picker, "a", kStart);
    fail(picker, "b", kStart);
    EXPECT_EQ(pick_once(picker, kStart + 1s), "-");
    EXPECT_EQ(pick_once(picker, kStart + 10s), "-");
    EXPECT_EQ(peer(picker, "a").fails(), 1);
    EXPECT_EQ(peer(picker, "b").fails(), 1);

    const std::string probe = pick_once(picker, kStart + 11s);  // fail_timeout is over
    ASSERT_NE(probe, "-");
    EXPECT_EQ(peer(picker, probe).fails(), 0);  // the probe succeeded
  }
}

TEST(GroupPicker, AllPrimariesAndBackupsFailedReturnsNoPeer) {
  for (const Method& method : all_methods()) {
    SCOPED_TRACE(method.name);
    const BalancerConfig& algorithm = method.config;
    GroupPicker picker(two_primaries_one_backup(algorithm));
    for (const char* name : {"a", "b", "c"}) fail(picker, name, kStart);
    EXPECT_EQ(pick_once(picker, kStart + 1s), "-");
    for (const char* name : {"a", "b", "c"}) EXPECT_EQ(peer(picker, name).fails(), 1) << name;
  }
}

TEST(GroupPicker, FailedAndDownPrimariesReturnNoPeer) {
  // nginx counts `down` servers towards `single`: {a down, b} has two primaries, so b's
  // failure keeps it out.
  for (const Method& method : all_methods()) {
    SCOPED_TRACE(method.name);
    const BalancerConfig& algorithm = method.config;
    GroupPicker picker(group(algorithm, {server("a"), server("b")}));
    peer(picker, "a").set_down(true);
    fail(picker, "b", kStart);
    EXPECT_FALSE(picker.group().single());
    EXPECT_EQ(pick_once(picker, kStart + 1s), "-");
  }
}

// nginx's `peers->single`: the only primary server ignores max_fails / fail_timeout.
TEST(GroupPicker, SingleServerIsNeverConsideredFailed) {
  for (const Method& method : all_methods()) {
    SCOPED_TRACE(method.name);
    const BalancerConfig& algorithm = method.config;
    GroupPicker picker(group(algorithm, {server("a", 4)}));
    ASSERT_TRUE(picker.group().single());
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(pick_once(picker, kStart + i * 1s, Outcome::kFailure), "a");
    }
    EXPECT_EQ(sequence(picker, 3, kStart + 4s), "aaa");
    // Nor does a failure lower its effective weight (nginx's free_peer returns early).
    EXPECT_EQ(picker.weights_of(peer(picker, "a"))->effective_weight, 4);
  }
}

TEST(GroupPicker, SingleServerFailuresAreStillCounted) {
  for (const Method& method : all_methods()) {
    SCOPED_TRACE(method.name);
    const BalancerConfig& algorithm = method.config;
    auto a = server("a");
    a.max_fails = 2;
    GroupPicker picker(group(algorithm, {a}));
    const Peer& p = peer(picker, "a");
    fail(picker, "a", kStart);
    fail(picker, "a", kStart);
    EXPECT_EQ(p.fails(), 2);
    EXPECT_TRUE(p.failed(kStart + 1s));  // visible as failed, yet still picked
    EXPECT_EQ(pick_once(picker, kStart + 1s), "a");
    EXPECT_EQ(p.fails(), 2);  // a success within fail_timeout forgives nothing
    EXPECT_EQ(pick_once(picker, kStart + 11s), "a");
    EXPECT_EQ(p.fails(), 0);  // after it, as for any server
  }
}

TEST(GroupPicker, FailedSinglePrimaryDoesNotHandOverToBackups) {
  for (const Method& method : all_methods()) {
    SCOPED_TRACE(method.name);
    const BalancerConfig& algorithm = method.config;
    GroupPicker picker(group(algorithm, {server("a"), backup("c")}));
    fail(picker, "a", kStart);
    fail(picker, "a", kStart);
    EXPECT_EQ(sequence(picker, 3, kStart + 1s), "aaa");
  }
}

TEST(GroupPicker, BackupsServeWhenTheSinglePrimaryIsUnavailable) {
  for (const Method& method : all_methods()) {
    SCOPED_TRACE(method.name);
    const BalancerConfig& algorithm = method.config;
    GroupPicker picker(group(algorithm, {server("a"), backup("c")}));
    peer(picker, "a").set_down(true);
    EXPECT_EQ(sequence(picker, 2, kStart), "cc");
    peer(picker, "a").set_down(false);
    peer(picker, "a").set_healthy(false);
    EXPECT_EQ(sequence(picker, 2, kStart), "cc");
    peer(picker, "a").set_healthy(true);
    EXPECT_EQ(sequence(picker, 2, kStart), "aa");
  }
}

TEST(GroupPicker, BackupsServeWhenTheSinglePrimaryIsAtMaxConns) {
  for (const Method& method : all_methods()) {
    SCOPED_TRACE(method.name);
    const BalancerConfig& algorithm = method.config;
    auto a = server("a");
    a.max_conns = 1;
    GroupPicker picker(group(algorithm, {a, backup("c")}));
    {
      Lease busy = hold(picker, "a", kStart);
      EXPECT_EQ(pick_once(picker, kStart), "c");
    }
    EXPECT_EQ(pick_once(picker, kStart), "a");
  }
}

TEST(GroupPicker, SingleDownServerReturnsNoPeer) {
  for (const Method& method : all_methods()) {
    SCOPED_TRACE(method.name);
    const BalancerConfig& algorithm = method.config;
    auto a = server("a");
    a.down = true;
    GroupPicker picker(group(algorithm, {a}));
    EXPECT_TRUE(picker.group().single());
    EXPECT_EQ(pick_once(picker, kStart), "-");
  }
}

TEST(GroupPicker, LoneBackupIsNotSingle) {
  // Only the primaries can be `single` (nginx: backup->single = 0).
  for (const Method& method : all_methods()) {
    SCOPED_TRACE(method.name);
    const BalancerConfig& algorithm = method.config;
    GroupPicker picker(group(algorithm, {server("a"), backup("c")}));
    peer(picker, "a").set_down(true);
    fail(picker, "c", kStart);
    EXPECT_EQ(pick_once(picker, kStart + 1s), "-");
  }
}

TEST(GroupPicker, SingleIsDecidedPerSnapshot) {
  for (const Method& method : all_methods()) {
    SCOPED_TRACE(method.name);
    const BalancerConfig& algorithm = method.config;
    const std::vector<ServerConfig> pair{server("a"), server("b")};
    const std::vector<ServerConfig> lone{server("a")};
    auto first = make_group("backend", algorithm, pair, 1);
    GroupPicker two(first);
    fail(two, "a", kStart);
    EXPECT_EQ(sequence(two, 2, kStart), "bb");

    auto second = make_group("backend", algorithm, lone, 1, first.get());
    GroupPicker one(second, two);
    ASSERT_EQ(&peer(one, "a"), &peer(two, "a"));  // same live state, still failed
    EXPECT_EQ(sequence(one, 2, kStart), "aa");

    auto third = make_group("backend", algorithm, pair, 1, second.get());
    GroupPicker two_again(third, one);
    EXPECT_EQ(sequence(two_again, 2, kStart), "bb");
  }
}

TEST(GroupPicker, CarriesRoundRobinWeightsOverToTheNextSnapshot) {
  std::vector<ServerConfig> servers{server("a", 5), server("b"), server("c")};
  auto first = make_group("backend", Algorithm::kRoundRobin, servers, 1);
  GroupPicker before(first);
  EXPECT_EQ(sequence(before, 3, kStart), "aab");

  servers.push_back(server("d", 0));
  servers.back().down = true;
  auto second = make_group("backend", Algorithm::kRoundRobin, servers, 1, first.get());
  GroupPicker after(second, before);
  EXPECT_EQ(sequence(after, 4, kStart), "acaa");  // continues a a b | a c a a
}

TEST(GroupPicker, FreshPickerStartsRotationOver) {
  auto g = group(Algorithm::kRoundRobin, {server("a", 5), server("b"), server("c")});
  GroupPicker before(g);
  EXPECT_EQ(sequence(before, 3, kStart), "aab");
  GroupPicker fresh(g);
  EXPECT_EQ(sequence(fresh, 3, kStart), "aab");
}

}  // namespace
}  // namespace tg::balancing
