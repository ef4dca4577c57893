#include "health/outlier.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace tg::health {
namespace {

using namespace std::chrono_literals;
using balancing::GroupMembership;
using balancing::Peer;

const balancing::TimePoint kT0 = balancing::TimePoint{} + std::chrono::hours(1);

struct Fixture {
  explicit Fixture(int n) : group("app", 1) {
    std::vector<balancing::ServerConfig> servers;
    for (int i = 0; i < n; ++i) {
      balancing::ServerConfig c;
      c.name = "s" + std::to_string(i);
      servers.push_back(c);
    }
    group.load(servers, balancing::BalancerConfig{}, true, std::nullopt);
    for (const auto& s : group.servers()) s.peer->set_outlier_counting(true);
  }
  Peer& peer(int i) { return *group.servers()[static_cast<size_t>(i)].peer; }
  void errors(int i, int n) {
    for (int k = 0; k < n; ++k) peer(i).note_response(true);
  }
  GroupMembership group;
  OutlierDetector detector;
  conf::OutlierDetection cfg{3, 10s, 30s, 300s, 50};
};

TEST(Outlier, ConsecutiveErrorsEjectUntilTheTimeEnds) {
  Fixture f(4);
  f.errors(0, 2);
  f.peer(0).note_response(false);  // a success starts the count again
  f.errors(0, 2);
  f.detector.tick(f.cfg, f.group, kT0);
  EXPECT_FALSE(f.peer(0).ejected());
  f.errors(0, 1);
  f.detector.tick(f.cfg, f.group, kT0);
  EXPECT_TRUE(f.peer(0).ejected());
  EXPECT_FALSE(f.peer(0).available());
  f.detector.tick(f.cfg, f.group, kT0 + 29s);
  EXPECT_TRUE(f.peer(0).ejected());
  f.detector.tick(f.cfg, f.group, kT0 + 30s);
  EXPECT_FALSE(f.peer(0).ejected());
  EXPECT_EQ(f.peer(0).consecutive_errors(), 0);
}

TEST(Outlier, EachEjectionLastsLongerUpToTheMaximum) {
  Fixture f(2);
  f.cfg.interval = 1000s;  // no decay in this test
  f.cfg.max_ejection_time = 70s;
  auto now = kT0;
  for (auto want : {30s, 60s, 70s}) {
    f.errors(0, 3);
    f.detector.tick(f.cfg, f.group, now);
    ASSERT_TRUE(f.peer(0).ejected());
    f.detector.tick(f.cfg, f.group, now + want - 1s);
    EXPECT_TRUE(f.peer(0).ejected()) << want.count();
    f.detector.tick(f.cfg, f.group, now + want);
    EXPECT_FALSE(f.peer(0).ejected()) << want.count();
    now += want;
  }
  EXPECT_EQ(f.detector.ejections(f.peer(0).id()), 3);
}

TEST(Outlier, NeverMoreThanTheShareButAlwaysOne) {
  Fixture f(4);  // 50% of 4: two at once
  for (int i = 0; i < 4; ++i) f.errors(i, 3);
  f.detector.tick(f.cfg, f.group, kT0);
  int ejected = 0;
  for (int i = 0; i < 4; ++i) ejected += f.peer(i).ejected();
  EXPECT_EQ(ejected, 2);
  Fixture three(3);  // 10% of 3 rounds to 0: one may go anyway
  three.cfg.max_ejection_percent = 10;
  three.errors(0, 3);
  three.errors(1, 3);
  three.detector.tick(three.cfg, three.group, kT0);
  EXPECT_EQ(three.peer(0).ejected() + three.peer(1).ejected(), 1);
}

TEST(Outlier, AServerEjectedBeforeAReloadStillComesBack) {
  Fixture f(3);
  f.errors(0, 3);
  f.detector.tick(f.cfg, f.group, kT0);
  ASSERT_TRUE(f.peer(0).ejected());
  OutlierDetector after_reload;  // state lost, the Peer's flag kept
  after_reload.tick(f.cfg, f.group, kT0 + 1s);
  EXPECT_FALSE(f.peer(0).ejected());
}

TEST(Outlier, TheLastPrimaryStillAvailableIsNeverEjected) {
  Fixture f(2);
  f.cfg.max_ejection_percent = 100;
  f.errors(0, 3);
  f.errors(1, 3);
  f.detector.tick(f.cfg, f.group, kT0);
  EXPECT_NE(f.peer(0).ejected(), f.peer(1).ejected());  // one goes, one stays
  Fixture single(1);
  single.errors(0, 3);
  single.detector.tick(single.cfg, single.group, kT0);
  EXPECT_FALSE(single.peer(0).ejected());
}

TEST(Outlier, QuietIntervalsTakeTheBackoffDown) {
  Fixture f(2);
  f.errors(0, 3);
  f.detector.tick(f.cfg, f.group, kT0);
  f.detector.tick(f.cfg, f.group, kT0 + 30s);  // back, 1 ejection so far
  ASSERT_EQ(f.detector.ejections(f.peer(0).id()), 1);
  f.detector.tick(f.cfg, f.group, kT0 + 40s);  // a quiet interval
  EXPECT_EQ(f.detector.ejections(f.peer(0).id()), 0);
}

}  // namespace
}  // namespace tg::health
