// Expected instants are worked out by hand from the calendar (2026-01-01 is a Thursday,
// 2026-05-08 a Friday) and the published DST rules: EU 2026-03-29 and 2026-10-25 at
// 01:00 UTC, US 2026-03-08 07:00 UTC and 2026-11-01 06:00 UTC.
#include "scaling/cron.h"

#include <vector>

#include <gtest/gtest.h>

namespace tg::scaling {
namespace {

using namespace std::chrono;

sys_seconds utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return sys_days{year{y} / mo / d} + hours{h} + minutes{mi} + seconds{s};
}

TimeZone zone(std::string_view name) {
  std::string error;
  std::optional<TimeZone> tz = TimeZone::load(name, &error);
  if (!tz) ADD_FAILURE() << error;
  return tz.value_or(TimeZone::utc());
}

CronSchedule cron(std::string_view text) {
  std::string error;
  std::optional<CronSchedule> schedule = CronSchedule::parse(text, &error);
  if (!schedule) ADD_FAILURE() << text << ": " << error;
  return schedule.value_or(*CronSchedule::parse("* * * * *", nullptr));
}

// The next `n` firings after `after`.
std::vector<sys_seconds> firings(std::string_view text, sys_seconds after, int n,
                                 const TimeZone& tz = TimeZone::utc()) {
  const CronSchedule schedule = cron(text);
  std::vector<sys_seconds> out;
  while (static_cast<int>(out.size()) < n) {
    const std::optional<sys_seconds> next = schedule.next(after, tz);
    if (!next) break;
    out.push_back(after = *next);
  }
  return out;
}

std::optional<sys_seconds> next(std::string_view text, sys_seconds after,
                                const TimeZone& tz = TimeZone::utc()) {
  return cron(text).next(after, tz);
}

// ---- Field syntax -----------------------------------------------------------------------

TEST(CronSchedule, StarFiresEveryMinuteDroppingSeconds) {
  EXPECT_EQ(next("* * * * *", utc(2026, 5, 10, 12)), utc(2026, 5, 10, 12, 1));
  EXPECT_EQ(next("* * * * *", utc(2026, 5, 10, 12, 0, 30)), utc(2026, 5, 10, 12, 1));
  EXPECT_EQ(next("* * * * *", utc(2026, 5, 10, 12, 59, 59)), utc(2026, 5, 10, 13));
}

TEST(CronSchedule, NextIsStrictlyAfterAMatchingInstant) {
  EXPECT_EQ(next("0 12 * * *", utc(2026, 5, 10, 12)), utc(2026, 5, 11, 12));
}

TEST(CronSchedule, ListsRangesAndStepsCombine) {
  EXPECT_EQ(
      firings("5,10-12,*/20 * * * *", utc(2026, 5, 10, 12), 8),
      (std::vector{utc(2026, 5, 10, 12, 5), utc(2026, 5, 10, 12, 10), utc(2026, 5, 10, 12, 11),
                   utc(2026, 5, 10, 12, 12), utc(2026, 5, 10, 12, 20), utc(2026, 5, 10, 12, 40),
                   utc(2026, 5, 10, 13), utc(2026, 5, 10, 13, 5)}));
}

TEST(CronSchedule, RangeStepCountsFromRangeStart) {
  EXPECT_EQ(firings("10-30/7 * * * *", utc(2026, 5, 10, 12), 4),
            (std::vector{utc(2026, 5, 10, 12, 10), utc(2026, 5, 10, 12, 17),
                         utc(2026, 5, 10, 12, 24), utc(2026, 5, 10, 13, 10)}));
  EXPECT_EQ(firings("0 9-17/4 * * *", utc(2026, 5, 10), 4),
            (std::vector{utc(2026, 5, 10, 9), utc(2026, 5, 10, 13), utc(2026, 5, 10, 17),
                         utc(2026, 5, 11, 9)}));
}

TEST(CronSchedule, SingleValueWithStepRunsToFieldEnd) {
  EXPECT_EQ(
      firings("50/5 * * * *", utc(2026, 5, 10, 12), 3),
      (std::vector{utc(2026, 5, 10, 12, 50), utc(2026, 5, 10, 12, 55), utc(2026, 5, 10, 13, 50)}));
}

TEST(CronSchedule, MonthAndDayNamesIgnoreCase) {
  EXPECT_EQ(next("0 8 * * mon-FRI", utc(2026, 5, 8, 9)), utc(2026, 5, 11, 8));  // Fri -> Mon
  EXPECT_EQ(firings("0 0 1 feb,Apr *", utc(2026, 1, 15), 2),
            (std::vector{utc(2026, 2, 1), utc(2026, 4, 1)}));
  EXPECT_EQ(next("0 0 1 jul-SEP *", utc(2026, 1, 15)), utc(2026, 7, 1));
}

TEST(CronSchedule, SundayIsZeroAndSeven) {
  for (const char* text : {"0 0 * * 0", "0 0 * * 7", "0 0 * * sun"}) {
    EXPECT_EQ(next(text, utc(2026, 5, 8)), utc(2026, 5, 10)) << text;
  }
  EXPECT_EQ(firings("0 0 * * 5-7", utc(2026, 5, 7), 4),
            (std::vector{utc(2026, 5, 8), utc(2026, 5, 9), utc(2026, 5, 10), utc(2026, 5, 15)}));
}

TEST(CronSchedule, MacrosExpandToTheirFields) {
  const sys_seconds sunday_noon = utc(2026, 5, 10, 12);
  EXPECT_EQ(next("@hourly", sunday_noon), utc(2026, 5, 10, 13));
  EXPECT_EQ(next("@daily", sunday_noon), utc(2026, 5, 11));
  EXPECT_EQ(next("@midnight", sunday_noon), utc(2026, 5, 11));
  EXPECT_EQ(next("@weekly", sunday_noon), utc(2026, 5, 17));
  EXPECT_EQ(next("@monthly", sunday_noon), utc(2026, 6, 1));
  EXPECT_EQ(next("@yearly", sunday_noon), utc(2027, 1, 1));
  EXPECT_EQ(next("  @annually ", sunday_noon), utc(2027, 1, 1));
}

TEST(CronSchedule, RejectsEveryMalformedSchedule) {
  const std::string fields = "cron needs 5 fields (MIN HOUR DOM MON DOW), got ";
  const std::string step = ": step must be 1 or more, within the field";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", fields + "0 in \"\""},
      {"* * * *", fields + "4 in \"* * * *\""},
      {"* * * * * *", fields + "6 in \"* * * * * *\""},
      {"@reboot", "unknown cron macro \"@reboot\""},
      {"@daily 5", "unknown cron macro \"@daily 5\""},
      {"61 * * * *", "invalid cron field \"61\" (minute 0-59)"},
      {"* 24 * * *", "invalid cron field \"24\" (hour 0-23)"},
      {"* * 0 * *", "invalid cron field \"0\" (day of month 1-31)"},
      {"* * 32 * *", "invalid cron field \"32\" (day of month 1-31)"},
      {"* * * 0 *", "invalid cron field \"0\" (month 1-12 or JAN-DEC)"},
      {"* * * 13 *", "invalid cron field \"13\" (month 1-12 or JAN-DEC)"},
      {"* * * * 8", "invalid cron field \"8\" (day of week 0-7 or SUN-SAT)"},
      {"*/0 * * * *", "invalid cron field \"*/0\" (minute 0-59)" + step},
      {"*/61 * * * *", "invalid cron field \"*/61\" (minute 0-59)" + step},
      {"*/ * * * *", "invalid cron field \"*/\" (minute 0-59)" + step},
      {"5-3 * * * *", "invalid cron field \"5-3\" (minute 0-59): range runs backwards"},
      {"1,,2 * * * *", "invalid cron field \"1,,2\" (minute 0-59)"},
      {"1, * * * *", "invalid cron field \"1,\" (minute 0-59)"},
      {"1-2-3 * * * *", "invalid cron field \"1-2-3\" (minute 0-59)"},
      {"1-* * * * *", "invalid cron field \"1-*\" (minute 0-59)"},
      {"*5 * * * *", "invalid cron field \"*5\" (minute 0-59)"},
      {"? * * * *", "invalid cron field \"?\" (minute 0-59)"},
      {"99999 * * * *", "invalid cron field \"99999\" (minute 0-59)"},
      {"x * * * *", "invalid cron field \"x\" (minute 0-59)"},
      {"* * * FOO *", "invalid cron field \"FOO\" (month 1-12 or JAN-DEC)"},
      {"* * * JAN-MON *", "invalid cron field \"JAN-MON\" (month 1-12 or JAN-DEC)"},
      {"* * * * JAN", "invalid cron field \"JAN\" (day of week 0-7 or SUN-SAT)"},
      {"* * * * MONDAY", "invalid cron field \"MONDAY\" (day of week 0-7 or SUN-SAT)"},
  };
  for (const auto& [text, message] : cases) {
    std::string error;
    EXPECT_FALSE(CronSchedule::parse(text, &error)) << text;
    EXPECT_EQ(error, message) << text;
  }
}

// ---- Vixie's day-of-month / day-of-week rule --------------------------------------------

TEST(CronSchedule, RestrictedDomAndDowMatchEither) {
  // April 2026: Fridays are the 3rd, 10th, 17th; the 13th is a Monday.
  EXPECT_EQ(firings("0 0 13 * 5", utc(2026, 4, 4), 3),
            (std::vector{utc(2026, 4, 10), utc(2026, 4, 13), utc(2026, 4, 17)}));
  EXPECT_EQ(firings("0 0 1-31/2 * 1", utc(2026, 4, 1), 4),
            (std::vector{utc(2026, 4, 3), utc(2026, 4, 5), utc(2026, 4, 6), utc(2026, 4, 7)}));
}

TEST(CronSchedule, DowAloneNeedsThatWeekdayAndDomAloneThatDay) {
  EXPECT_EQ(firings("0 0 * * 5", utc(2026, 4, 4), 2),
            (std::vector{utc(2026, 4, 10), utc(2026, 4, 17)}));
  EXPECT_EQ(firings("0 0 13 * *", utc(2026, 4, 4), 2),
            (std::vector{utc(2026, 4, 13), utc(2026, 5, 13)}));
}

TEST(CronSchedule, StarredStepDomCountsAsUnrestrictedSoBothMustMatch) {
  // Mondays on odd days: April 13 and 27, May 11.
  EXPECT_EQ(firings("0 0 */2 * 1", utc(2026, 4, 1), 3),
            (std::vector{utc(2026, 4, 13), utc(2026, 4, 27), utc(2026, 5, 11)}));
}

// ---- Calendar ------------------------------------------------------------------------------

TEST(CronSchedule, CrossesMidnightAndYearEnd) {
  EXPECT_EQ(next("30 0 * * *", utc(2026, 5, 10, 23, 50)), utc(2026, 5, 11, 0, 30));
  EXPECT_EQ(next("0 0 1 1 *", utc(2026, 12, 31, 23, 59)), utc(2027, 1, 1));
  EXPECT_EQ(next("59 23 31 12 *", utc(2026, 12, 31, 23, 59)), utc(2027, 12, 31, 23, 59));
}

TEST(CronSchedule, SkipsMonthsWithoutTheDay) {
  EXPECT_EQ(firings("0 0 31 * *", utc(2026, 4, 1), 4),
            (std::vector{utc(2026, 5, 31), utc(2026, 7, 31), utc(2026, 8, 31), utc(2026, 10, 31)}));
}

TEST(CronSchedule, FebruaryTwentyNinthWaitsForALeapYear) {
  EXPECT_EQ(next("0 0 29 2 *", utc(2026, 1, 1)), utc(2028, 2, 29));
  EXPECT_EQ(firings("0 0 28-31 2 *", utc(2027, 3, 1), 3),
            (std::vector{utc(2028, 2, 28), utc(2028, 2, 29), utc(2029, 2, 28)}));
  // 2100 is not a leap year, so the wait is nearly the full 8 years.
  EXPECT_EQ(next("0 0 29 2 *", utc(2096, 3, 1)), utc(2104, 2, 29));
}

TEST(CronSchedule, ImpossibleDateGivesNothing) {
  EXPECT_EQ(next("0 0 30 2 *", utc(2026, 1, 1)), std::nullopt);
  EXPECT_EQ(next("0 0 31 4,6,9,11 *", utc(2026, 1, 1), zone("Europe/Berlin")), std::nullopt);
}

// ---- Time zones ---------------------------------------------------------------------------

TEST(CronSchedule, FiresAtNoonInTheZoneNotUtc) {
  const TimeZone berlin = zone("Europe/Berlin");
  EXPECT_EQ(next("0 12 * * *", utc(2026, 1, 15), berlin), utc(2026, 1, 15, 11));
  EXPECT_EQ(next("0 12 * * *", utc(2026, 7, 15), berlin), utc(2026, 7, 15, 10));
  const TimeZone ny = zone("America/New_York");
  EXPECT_EQ(next("0 12 * * *", utc(2026, 1, 15), ny), utc(2026, 1, 15, 17));
  EXPECT_EQ(next("0 12 * * *", utc(2026, 7, 15), ny), utc(2026, 7, 15, 16));
  EXPECT_EQ(next("0 12 * * *", utc(2026, 5, 10), TimeZone::utc()), utc(2026, 5, 10, 12));
}

TEST(CronSchedule, HalfHourZonesShiftTheUtcMinute) {
  EXPECT_EQ(next("0 12 * * *", utc(2026, 6, 1), zone("Asia/Kolkata")), utc(2026, 6, 1, 6, 30));
  const TimeZone lord_howe = zone("Australia/Lord_Howe");  // +11 in January, +10:30 in July
  EXPECT_EQ(next("0 12 * * *", utc(2026, 1, 10), lord_howe), utc(2026, 1, 10, 1));
  EXPECT_EQ(next("0 12 * * *", utc(2026, 7, 10), lord_howe), utc(2026, 7, 10, 1, 30));
  // 02:15 on 2026-10-04 lies in the 30-minute gap, which ends at 15:30 UTC the day before.
  EXPECT_EQ(next("15 2 * * *", utc(2026, 10, 3), lord_howe), utc(2026, 10, 3, 15, 30));
}

TEST(CronSchedule, BerlinGapTimeFiresAtTheEndOfTheGap) {
  const TimeZone berlin = zone("Europe/Berlin");
  EXPECT_EQ(firings("30 2 * * *", utc(2026, 3, 28, 12), 2, berlin),
            (std::vector{utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)}));
}

TEST(CronSchedule, EveryMinuteFiresOnceForTheWholeGap) {
  EXPECT_EQ(firings("* * * * *", utc(2026, 3, 29, 0, 59), 2, zone("Europe/Berlin")),
            (std::vector{utc(2026, 3, 29, 1), utc(2026, 3, 29, 1, 1)}));
}

TEST(CronSchedule, BerlinRepeatedTimeFiresOnlyAtItsFirstOccurrence) {
  const TimeZone berlin = zone("Europe/Berlin");
  // 02:30 CEST is 00:30 UTC; 02:30 CET (01:30 UTC) is passed over.
  EXPECT_EQ(firings("30 2 * * *", utc(2026, 10, 24, 12), 2, berlin),
            (std::vector{utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)}));
  EXPECT_EQ(firings("0 * * * *", utc(2026, 10, 24, 23, 30), 2, berlin),
            (std::vector{utc(2026, 10, 25, 0), utc(2026, 10, 25, 2)}));
  // From inside the repeated hour (02:05 CET) the next firing is 03:00 CET.
  EXPECT_EQ(next("*/15 * * * *", utc(2026, 10, 25, 1, 5), berlin), utc(2026, 10, 25, 2));
}

TEST(CronSchedule, NewYorkAcrossBothTransitions) {
  const TimeZone ny = zone("America/New_York");
  EXPECT_EQ(firings("30 2 * * *", utc(2026, 3, 7, 12), 2, ny),
            (std::vector{utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30)}));
  EXPECT_EQ(firings("30 1 * * *", utc(2026, 10, 31, 12), 2, ny),
            (std::vector{utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)}));
}

TEST(CronSchedule, FollowsTheFooterRulePastTheLastTransition) {
  // 2100-03-28 is the last Sunday of March; Berlin's file lists transitions to 2037 only.
  const TimeZone berlin = zone("Europe/Berlin");
  EXPECT_EQ(next("30 2 * * *", utc(2100, 3, 27, 12), berlin), utc(2100, 3, 28, 1));
  EXPECT_EQ(next("0 12 * * *", utc(2100, 7, 1), berlin), utc(2100, 7, 1, 10));
  EXPECT_EQ(next("0 12 * * *", utc(2100, 1, 15), zone("Australia/Lord_Howe")), utc(2100, 1, 15, 1));
}

}  // namespace
}  // namespace tg::scaling
