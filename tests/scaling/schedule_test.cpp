// Scheduled actions fire once per match, on the wall clock of their zone.
#include "scaling/schedule.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace tg::scaling {
namespace {

using std::chrono::sys_days;
using namespace std::chrono_literals;

std::chrono::sys_seconds at(int y, unsigned m, unsigned d, int hh, int mm) {
  return sys_days{std::chrono::year{y} / m / d} + std::chrono::hours(hh) + std::chrono::minutes(mm);
}

TEST(Schedules, FireOnceAtNoonInTheirZoneAcrossMidnight) {
  // Noon in Berlin is 11:00 UTC in winter; midnight Berlin is 23:00 UTC the day before.
  ScheduledAction noon{"0 12 * * *", "Europe/Berlin", 2, 8, 4};
  ScheduledAction midnight{"0 0 * * *", "Europe/Berlin", 1, 4, std::nullopt};
  Schedules s({noon, midnight}, at(2026, 1, 5, 10, 0));
  EXPECT_TRUE(s.due(at(2026, 1, 5, 10, 59)).empty());
  auto fired = s.due(at(2026, 1, 5, 11, 0));
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0]->desired, 4);
  EXPECT_TRUE(s.due(at(2026, 1, 5, 11, 30)).empty());  // once
  EXPECT_TRUE(s.due(at(2026, 1, 5, 22, 59)).empty());
  fired = s.due(at(2026, 1, 5, 23, 0));
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0]->max, 4);
}

TEST(Schedules, AClockJumpOverSeveralMatchesFiresEachLineOnceInTimeOrder) {
  ScheduledAction noon{"0 12 * * *", "UTC", std::nullopt, std::nullopt, 4};
  ScheduledAction evening{"0 18 * * *", "UTC", std::nullopt, std::nullopt, 2};
  Schedules s({evening, noon}, at(2026, 3, 1, 0, 0));
  const auto fired = s.due(at(2026, 3, 3, 19, 0));  // two days late
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_EQ(fired[0]->desired, 4);  // noon of the 3rd, then 18:00
  EXPECT_EQ(fired[1]->desired, 2);
}

TEST(Schedules, DoNotReplayThePastAtStart) {
  Schedules s({{"* * * * *", "UTC", std::nullopt, std::nullopt, 3}}, at(2026, 3, 1, 12, 0));
  EXPECT_TRUE(s.due(at(2026, 3, 1, 12, 0)).empty());
  EXPECT_EQ(s.due(at(2026, 3, 1, 12, 1)).size(), 1u);
}

TEST(Schedules, CheckNamesTheBadCronOrZone) {
  EXPECT_EQ(Schedules::check({"0 12 * * *", "Asia/Kolkata", 1, 2, 1}), "");
  EXPECT_NE(Schedules::check({"0 24 * * *", "UTC", 1, 2, 1}).find("hour"), std::string::npos);
  EXPECT_EQ(Schedules::check({"0 12 * * *", "Mars/Base", 1, 2, 1}),
            "unknown time zone \"Mars/Base\"");
  EXPECT_THROW(Schedules({{"nope", "UTC", 1, 2, 1}}, at(2026, 1, 1, 0, 0)), std::invalid_argument);
}

}  // namespace
}  // namespace tg::scaling
