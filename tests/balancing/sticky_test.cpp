// sticky cookie / sticky route, and drain, through GroupPicker.
#include "balancing/sticky.h"

#include <gtest/gtest.h>

#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

BalancerConfig sticky_cookie(Algorithm algorithm = Algorithm::kRoundRobin) {
  BalancerConfig config = balancer(algorithm);
  config.sticky.mode = StickyConfig::Mode::kCookie;
  config.sticky.cookie_name = "srv_id";
  return config;
}

BalancerConfig sticky_route() {
  BalancerConfig config = balancer(Algorithm::kRoundRobin);
  config.sticky.mode = StickyConfig::Mode::kRoute;
  return config;
}

ServerConfig routed(std::string name, std::string route) {
  ServerConfig config = server(std::move(name));
  config.route = std::move(route);
  return config;
}

/// The sticky id of server `name` in the picker's group.
std::string id_of(GroupPicker& picker, std::string_view name) {
  return std::string(picker.group().sticky_id_of(*picker.group().find(name)));
}

/// One request bound by `id`: "name" or "name*" when chosen by the binding.
std::string bound(GroupPicker& picker, std::string_view id, TimePoint now = kStart) {
  Attempt attempt;
  auto lease = picker.pick(attempt, now, sticky(id));
  if (!lease) return "-";
  return lease->peer().name() + (lease->sticky_hit() ? "*" : "");
}

TEST(Sticky, IdIsTheLowercaseHexMd5OfAddressAndPort) {
  EXPECT_EQ(sticky_id_for(server("127.0.0.1:8080")), "5958c386bf5e9109ac10d2a628645aea");
  EXPECT_EQ(sticky_id_for(server("10.0.0.1:80")), "1484b8b3753313249a03bcfd7b96938d");
}

TEST(Sticky, RouteParameterIsTheId) {
  EXPECT_EQ(sticky_id_for(routed("10.0.0.1:80", "a1")), "a1");
}

TEST(Sticky, CookieRoundTripKeepsTheClientOnItsServer) {
  GroupPicker picker(group(sticky_cookie(), {server("a"), server("b"), server("c")}));
  // First request: no cookie, balanced; the proxy then sets the cookie to the id.
  Attempt attempt;
  auto first = picker.pick(attempt, kStart);
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->sticky_hit());
  const std::string id = first->sticky_id();
  const std::string name = first->peer().name();
  first->release(Outcome::kSuccess, kStart);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(bound(picker, id), name + "*");
}

TEST(Sticky, RouteBindsToTheServerWithThatRoute) {
  GroupPicker picker(group(sticky_route(), {routed("a", "r1"), routed("b", "r2"), server("c")}));
  EXPECT_EQ(bound(picker, "r2"), "b*");
  EXPECT_EQ(bound(picker, "r2"), "b*");
  EXPECT_EQ(bound(picker, "r1"), "a*");
  // A server without route= answers to its MD5 id.
  EXPECT_EQ(bound(picker, id_of(picker, "c")), "c*");
}

TEST(Sticky, UnknownOrEmptyIdIsBalancedAsUnbound) {
  GroupPicker picker(group(sticky_cookie(), {server("a"), server("b")}));
  EXPECT_EQ(bound(picker, "no-such-server"), "a");
  EXPECT_EQ(bound(picker, ""), "b");
}

TEST(Sticky, IgnoredWhenTheGroupHasNoSticky) {
  GroupPicker picker(group(Algorithm::kRoundRobin, {server("a"), server("b")}));
  const std::string b_id = id_of(picker, "b");
  EXPECT_EQ(bound(picker, b_id), "a");
  EXPECT_EQ(bound(picker, b_id), "b");
  EXPECT_EQ(bound(picker, b_id), "a");
}

TEST(Sticky, DrainingServerGetsOnlyItsBoundRequests) {
  auto b = server("b");
  b.drain = true;
  GroupPicker picker(group(sticky_cookie(), {server("a"), b}));
  const std::string b_id = id_of(picker, "b");
  EXPECT_EQ(sequence(picker, 4, kStart), "aaaa");  // no new clients
  EXPECT_EQ(bound(picker, b_id), "b*");            // its clients stay
  EXPECT_EQ(pick_with(picker, sticky(id_of(picker, "a"))), "a");
}

TEST(Sticky, DrainingSetAtRuntimeKeepsBoundRequests) {
  GroupPicker picker(group(sticky_cookie(), {server("a"), server("b")}));
  const std::string a_id = id_of(picker, "a");
  peer(picker, "a").set_draining(true, kStart);
  EXPECT_EQ(bound(picker, a_id), "a*");
  EXPECT_EQ(sequence(picker, 3, kStart), "bbb");
}

TEST(Sticky, FallsBackToTheAlgorithmWhenItsServerIsDown) {
  GroupPicker picker(group(sticky_cookie(), {server("a"), server("b"), server("c")}));
  const std::string b_id = id_of(picker, "b");
  peer(picker, "b").set_down(true);
  EXPECT_EQ(bound(picker, b_id), "a");  // round robin, not a hit: the proxy re-binds
  EXPECT_EQ(bound(picker, b_id), "c");
  peer(picker, "b").set_down(false);
  EXPECT_EQ(bound(picker, b_id), "b*");
}

TEST(Sticky, FallsBackWhenItsServerFailedIsUnhealthyOrAtMaxConns) {
  auto capped = server("b");
  capped.max_conns = 1;
  GroupPicker picker(group(sticky_cookie(), {server("a"), capped}));
  const std::string b_id = id_of(picker, "b");
  {
    Lease busy = hold(picker, "b", kStart);
    EXPECT_EQ(bound(picker, b_id), "a");
  }
  peer(picker, "b").set_healthy(false);
  EXPECT_EQ(bound(picker, b_id), "a");
  peer(picker, "b").set_healthy(true);
  hold(picker, "b", kStart).release(Outcome::kFailure, kStart);
  EXPECT_EQ(bound(picker, b_id, kStart + 1s), "a");
  EXPECT_EQ(bound(picker, b_id, kStart + 11s), "b*");  // fail_timeout is over
}

TEST(Sticky, RetryOfABoundRequestGoesElsewhere) {
  GroupPicker picker(group(sticky_cookie(), {server("a"), server("b")}));
  const std::string b_id = id_of(picker, "b");
  Attempt attempt;
  auto first = picker.pick(attempt, kStart, sticky(b_id));
  auto retry = picker.pick(attempt, kStart, sticky(b_id));
  ASSERT_TRUE(first && retry);
  EXPECT_EQ(first->peer().name(), "b");
  EXPECT_TRUE(first->sticky_hit());
  EXPECT_EQ(retry->peer().name(), "a");
  EXPECT_FALSE(retry->sticky_hit());
}

TEST(Sticky, BoundBackupIsUsedOnlyWhenNoPrimaryIsEligible) {
  GroupPicker picker(group(sticky_cookie(), {server("a"), backup("x"), backup("y")}));
  const std::string y_id = id_of(picker, "y");
  EXPECT_EQ(bound(picker, y_id), "a");
  peer(picker, "a").set_down(true);
  EXPECT_EQ(bound(picker, y_id), "y*");
  EXPECT_EQ(bound(picker, y_id), "y*");
}

TEST(Sticky, WorksOverEveryAlgorithm) {
  for (Algorithm algorithm : {Algorithm::kLeastConn, Algorithm::kIpHash, Algorithm::kHash,
                              Algorithm::kRandom, Algorithm::kLeastTime, Algorithm::kPeakEwma}) {
    GroupPicker picker(group(sticky_cookie(algorithm), {server("a"), server("b"), server("c")}));
    const std::string c_id = id_of(picker, "c");
    for (int i = 0; i < 5; ++i) EXPECT_EQ(bound(picker, c_id), "c*");
  }
}

}  // namespace
}  // namespace tg::balancing
