#include "health/check_state.h"

#include <gtest/gtest.h>

namespace tg::health {
namespace {

TEST(CheckState, FailsConsecutiveFailuresMakeItUnhealthy) {
  CheckState s;
  EXPECT_EQ(record(s, false, 3, 1, false), Transition::kNone);
  EXPECT_EQ(record(s, false, 3, 1, false), Transition::kNone);
  EXPECT_EQ(record(s, true, 3, 1, false), Transition::kNone);  // a pass starts over
  EXPECT_EQ(record(s, false, 3, 1, false), Transition::kNone);
  EXPECT_EQ(record(s, false, 3, 1, false), Transition::kNone);
  EXPECT_EQ(record(s, false, 3, 1, false), Transition::kBecameUnhealthy);
  EXPECT_FALSE(s.healthy);
  EXPECT_EQ(record(s, false, 3, 1, false), Transition::kNone);
}

TEST(CheckState, PassesConsecutivePassesMakeItHealthyAgain) {
  CheckState s;
  record(s, false, 1, 2, false);
  ASSERT_FALSE(s.healthy);
  EXPECT_EQ(record(s, true, 1, 2, false), Transition::kNone);
  EXPECT_EQ(record(s, false, 1, 2, false), Transition::kNone);  // a failure starts over
  EXPECT_EQ(record(s, true, 1, 2, false), Transition::kNone);
  EXPECT_EQ(record(s, true, 1, 2, false), Transition::kBecameHealthy);
  EXPECT_TRUE(s.healthy);
}

TEST(CheckState, TheFirstResultOfACheckingServerDecidesAtOnce) {
  CheckState failing;
  EXPECT_EQ(record(failing, false, 3, 3, true), Transition::kBecameUnhealthy);
  EXPECT_TRUE(failing.checked);
  CheckState passing;
  passing.healthy = false;  // as after a failed first check, then checked again
  EXPECT_EQ(record(passing, true, 3, 3, true), Transition::kBecameHealthy);
}

}  // namespace
}  // namespace tg::health
