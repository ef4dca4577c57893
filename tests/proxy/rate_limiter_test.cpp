// limit_req's leaky bucket, with the clock given (milliseconds).
#include "proxy/rate_limiter.h"

#include <gtest/gtest.h>

namespace tg::proxy {
namespace {

constexpr int64_t kTwoPerSecond = 2000;  // thousandths of a request per second

TEST(RateLimiter, BurstThenRefuseThenDrain) {
  RateLimiter z(100);
  EXPECT_FALSE(z.lookup("k", 0, kTwoPerSecond, 1, true).busy);  // first: excess 0
  auto second = z.lookup("k", 0, kTwoPerSecond, 1, true);
  EXPECT_FALSE(second.busy);  // within burst=1
  EXPECT_EQ(second.excess, 1000);
  auto third = z.lookup("k", 0, kTwoPerSecond, 1, true);
  EXPECT_TRUE(third.busy);
  EXPECT_EQ(third.excess, 2000);
  // 500 ms at 2 r/s drain one request
  auto later = z.lookup("k", 500, kTwoPerSecond, 1, true);
  EXPECT_FALSE(later.busy);
  EXPECT_EQ(later.excess, 1000);
  EXPECT_FALSE(z.lookup("other", 500, kTwoPerSecond, 0, true).busy);  // keys apart
}

TEST(RateLimiter, ALookWithoutAccountingChangesNothing) {
  RateLimiter z(100);
  EXPECT_FALSE(z.lookup("k", 0, kTwoPerSecond, 0, false).busy);  // unknown key: not created
  EXPECT_EQ(z.size(), 0u);
  z.lookup("k", 0, kTwoPerSecond, 0, true);
  EXPECT_TRUE(z.lookup("k", 0, kTwoPerSecond, 0, false).busy);
  EXPECT_FALSE(z.lookup("k", 500, kTwoPerSecond, 0, false).busy);
  EXPECT_FALSE(z.lookup("k", 500, kTwoPerSecond, 0, true).busy);
}

TEST(RateLimiter, TheLeastRecentlySeenKeysMakeRoom) {
  RateLimiter z(2);
  z.lookup("a", 0, kTwoPerSecond, 0, true);
  z.lookup("b", 0, kTwoPerSecond, 0, true);
  z.lookup("a", 1, kTwoPerSecond, 5, true);  // a seen again
  z.lookup("c", 2, kTwoPerSecond, 0, true);  // b goes
  EXPECT_EQ(z.size(), 2u);
  EXPECT_FALSE(z.lookup("b", 3, kTwoPerSecond, 0, true).busy);  // a fresh b
  EXPECT_TRUE(z.lookup("c", 3, kTwoPerSecond, 0, false).busy);  // c still counted
}

TEST(ConnLimiter, PlacesAreTakenAndGivenBackByTheHolds) {
  auto zone = std::make_shared<ConnLimiter>(2);
  EXPECT_EQ(zone->acquire("a", 2), ConnLimiter::Verdict::kTaken);
  {
    ConnHold first(zone, "a");
    EXPECT_EQ(zone->acquire("a", 2), ConnLimiter::Verdict::kTaken);
    ConnHold second(zone, "a");
    EXPECT_EQ(zone->acquire("a", 2), ConnLimiter::Verdict::kBusy);
    EXPECT_EQ(zone->acquire("b", 1), ConnLimiter::Verdict::kTaken);
    ConnHold b(zone, "b");
    EXPECT_EQ(zone->acquire("c", 1), ConnLimiter::Verdict::kZoneFull);  // two keys fit
    ConnHold moved = std::move(second);
    EXPECT_EQ(zone->count("a"), 2);
  }
  EXPECT_EQ(zone->count("a"), 0);
  EXPECT_EQ(zone->count("b"), 0);
  EXPECT_EQ(zone->acquire("c", 1), ConnLimiter::Verdict::kTaken);
}

}  // namespace
}  // namespace tg::proxy
