#include "balancing/group_picker.h"

#include <thread>

#include <gtest/gtest.h>

#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

std::shared_ptr<const UpstreamGroup> two_primaries_one_backup(Algorithm algorithm) {
  return group(algorithm, {server("a"), server("b"), backup("c")});
}

void fail(GroupPicker& picker, std::string_view name, TimePoint now) {
  hold(picker, name, now).release(Outcome::kFailure, now);
}

constexpr Algorithm kAlgorithms[] = {Algorithm::kRoundRobin, Algorithm::kLeastConn};

const char* algorithm_name(Algorithm algorithm) {
  return algorithm == Algorithm::kRoundRobin ? "RoundRobin" : "LeastConn";
}

class GroupPickerByAlgorithm : public ::testing::TestWithParam<Algorithm> {};

INSTANTIATE_TEST_SUITE_P(Algorithms, GroupPickerByAlgorithm,
                         ::testing::Values(Algorithm::kRoundRobin, Algorithm::kLeastConn),
                         [](const auto& info) { return algorithm_name(info.param); });

TEST_P(GroupPickerByAlgorithm, BackupUsedOnlyWhenNoPrimaryIsEligible) {
  GroupPicker picker(two_primaries_one_backup(GetParam()));
  EXPECT_EQ(sequence(picker, 100, kStart).find('c'), std::string::npos);

  peer(picker, "a").set_down(true);
  peer(picker, "b").set_draining(true);
  EXPECT_EQ(sequence(picker, 3, kStart), "ccc");

  peer(picker, "b").set_draining(false);
  EXPECT_EQ(sequence(picker, 3, kStart), "bbb");
}

TEST_P(GroupPickerByAlgorithm, BackupTakesOverFromFailedPrimariesWithoutResettingThem) {
  GroupPicker picker(two_primaries_one_backup(GetParam()));
  fail(picker, "a", kStart);
  fail(picker, "b", kStart);
  EXPECT_EQ(sequence(picker, 3, kStart + 1s), "ccc");
  EXPECT_EQ(peer(picker, "a").fails(), 1);
  EXPECT_EQ(peer(picker, "b").fails(), 1);
}

TEST_P(GroupPickerByAlgorithm, BackupUsedWhenEveryPrimaryWasTried) {
  GroupPicker picker(two_primaries_one_backup(GetParam()));
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
  GroupPicker picker(two_primaries_one_backup(GetParam()));
  for (const char* name : {"a", "b", "c"}) peer(picker, name).set_down(true);
  EXPECT_EQ(pick_once(picker, kStart), "-");
}

TEST_P(GroupPickerByAlgorithm, NothingEligibleWhenEveryPeerIsAtMaxConns) {
  auto a = server("a");
  a.max_conns = 1;
  GroupPicker picker(group(GetParam(), {a}));
  Lease busy = hold(picker, "a", kStart);
  EXPECT_EQ(pick_once(picker, kStart), "-");
}

TEST_P(GroupPickerByAlgorithm, SingleServerIsNotPickedTwiceForOneRequest) {
  GroupPicker picker(group(GetParam(), {server("a")}));
  Attempt attempt;
  auto lease = picker.pick(attempt, kStart);
  ASSERT_TRUE(lease);
  lease->release(Outcome::kFailure, kStart);
  EXPECT_FALSE(picker.pick(attempt, kStart));
}

TEST_P(GroupPickerByAlgorithm, CountsOutstandingLeases) {
  GroupPicker picker(two_primaries_one_backup(GetParam()));
  Lease a = hold(picker, "a", kStart);
  {
    Lease b = hold(picker, "b", kStart);
    EXPECT_EQ(picker.outstanding_leases(), 2u);
  }
  EXPECT_EQ(picker.outstanding_leases(), 1u);
  a.release(Outcome::kSuccess, kStart);
  EXPECT_EQ(picker.outstanding_leases(), 0u);
}

TEST_P(GroupPickerByAlgorithm, FourThreadsPickingAndReleasingLeaveNoActiveConnections) {
  constexpr int kThreads = 4;
  constexpr int kRequests = 20'000;
  auto capped = server("d", 2);
  capped.max_conns = 3;
  auto g = make_group("backend", GetParam(),
                      std::vector{server("a", 3), server("b"), server("c", 2), capped, backup("e")},
                      kThreads);
  std::atomic<std::uint64_t> leased{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < kThreads; ++w) {
    workers.emplace_back([&, w] {
      GroupPicker picker(g);
      std::vector<Lease> in_flight;
      std::uint64_t mine = 0;
      for (int i = 0; i < kRequests; ++i) {
        const auto now = kStart + std::chrono::milliseconds(i);
        Attempt attempt;
        if (auto lease = picker.pick(attempt, now)) {
          ++mine;
          lease->peer().stats().record(static_cast<std::size_t>(w), 200, 100);
          in_flight.push_back(std::move(*lease));
        }
        if (in_flight.size() == 3 || i % 5 == 0) {
          for (auto& l : in_flight) {
            l.release((i + w) % 13 == 0 ? Outcome::kFailure : Outcome::kSuccess, now);
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
  for (Algorithm algorithm : kAlgorithms) {
    SCOPED_TRACE(algorithm_name(algorithm));
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
  for (Algorithm algorithm : kAlgorithms) {
    SCOPED_TRACE(algorithm_name(algorithm));
    GroupPicker picker(two_primaries_one_backup(algorithm));
    for (const char* name : {"a", "b", "c"}) fail(picker, name, kStart);
    EXPECT_EQ(pick_once(picker, kStart + 1s), "-");
    for (const char* name : {"a", "b", "c"}) EXPECT_EQ(peer(picker, name).fails(), 1) << name;
  }
}

TEST(GroupPicker, FailedAndDownPrimariesReturnNoPeer) {
  // nginx counts `down` servers towards `single`: {a down, b} has two primaries, so b's
  // failure keeps it out.
  for (Algorithm algorithm : kAlgorithms) {
    SCOPED_TRACE(algorithm_name(algorithm));
    GroupPicker picker(group(algorithm, {server("a"), server("b")}));
    peer(picker, "a").set_down(true);
    fail(picker, "b", kStart);
    EXPECT_FALSE(picker.group().single());
    EXPECT_EQ(pick_once(picker, kStart + 1s), "-");
  }
}

// nginx's `peers->single`: the only primary server ignores max_fails / fail_timeout.
TEST(GroupPicker, SingleServerIsNeverConsideredFailed) {
  for (Algorithm algorithm : kAlgorithms) {
    SCOPED_TRACE(algorithm_name(algorithm));
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
  for (Algorithm algorithm : kAlgorithms) {
    SCOPED_TRACE(algorithm_name(algorithm));
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
  for (Algorithm algorithm : kAlgorithms) {
    SCOPED_TRACE(algorithm_name(algorithm));
    GroupPicker picker(group(algorithm, {server("a"), backup("c")}));
    fail(picker, "a", kStart);
    fail(picker, "a", kStart);
    EXPECT_EQ(sequence(picker, 3, kStart + 1s), "aaa");
  }
}

TEST(GroupPicker, BackupsServeWhenTheSinglePrimaryIsUnavailable) {
  for (Algorithm algorithm : kAlgorithms) {
    SCOPED_TRACE(algorithm_name(algorithm));
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
  for (Algorithm algorithm : kAlgorithms) {
    SCOPED_TRACE(algorithm_name(algorithm));
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
  for (Algorithm algorithm : kAlgorithms) {
    SCOPED_TRACE(algorithm_name(algorithm));
    auto a = server("a");
    a.down = true;
    GroupPicker picker(group(algorithm, {a}));
    EXPECT_TRUE(picker.group().single());
    EXPECT_EQ(pick_once(picker, kStart), "-");
  }
}

TEST(GroupPicker, LoneBackupIsNotSingle) {
  // Only the primaries can be `single` (nginx: backup->single = 0).
  for (Algorithm algorithm : kAlgorithms) {
    SCOPED_TRACE(algorithm_name(algorithm));
    GroupPicker picker(group(algorithm, {server("a"), backup("c")}));
    peer(picker, "a").set_down(true);
    fail(picker, "c", kStart);
    EXPECT_EQ(pick_once(picker, kStart + 1s), "-");
  }
}

TEST(GroupPicker, SingleIsDecidedPerSnapshot) {
  for (Algorithm algorithm : kAlgorithms) {
    SCOPED_TRACE(algorithm_name(algorithm));
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
