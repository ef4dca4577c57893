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

class GroupPickerByAlgorithm : public ::testing::TestWithParam<Algorithm> {};

INSTANTIATE_TEST_SUITE_P(Algorithms, GroupPickerByAlgorithm,
                         ::testing::Values(Algorithm::kRoundRobin, Algorithm::kLeastConn),
                         [](const auto& info) {
                           return info.param == Algorithm::kRoundRobin ? "RoundRobin" : "LeastConn";
                         });

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

TEST_P(GroupPickerByAlgorithm, AllFailedPeersAreResetAndPickedAgain) {
  GroupPicker picker(group(GetParam(), {server("a"), server("b")}));
  fail(picker, "a", kStart);
  fail(picker, "b", kStart);
  EXPECT_NE(pick_once(picker, kStart + 1s), "-");
  EXPECT_EQ(peer(picker, "a").fails(), 0);
  EXPECT_EQ(peer(picker, "b").fails(), 0);
}

TEST_P(GroupPickerByAlgorithm, AllFailedResetCoversBackupsToo) {
  GroupPicker picker(two_primaries_one_backup(GetParam()));
  fail(picker, "a", kStart);
  fail(picker, "b", kStart);
  fail(picker, "c", kStart);
  EXPECT_NE(pick_once(picker, kStart + 1s), "-");
  for (const char* name : {"a", "b", "c"}) EXPECT_EQ(peer(picker, name).fails(), 0) << name;
}

TEST_P(GroupPickerByAlgorithm, FailedAndDownMixStillResetsTheFailedOnes) {
  GroupPicker picker(group(GetParam(), {server("a"), server("b")}));
  peer(picker, "a").set_down(true);
  fail(picker, "b", kStart);
  EXPECT_EQ(pick_once(picker, kStart + 1s), "b");
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

TEST_P(GroupPickerByAlgorithm, TriedFailedPeerIsNotResetIntoTheSameRequest) {
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
