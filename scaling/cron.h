// Cron schedules for the autoscaler's scheduled actions (`schedule "0 12 * * *" tz=...`),
// evaluated in a time zone's wall clock like AWS Auto Scaling's Recurrence + TimeZone.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "scaling/time_zone.h"

namespace tg::scaling {

/// A standard five-field cron schedule, "MIN HOUR DOM MON DOW", matched against local time.
///
/// Fields: `*`, numbers, ranges `a-b`, steps `*/n`, `a-b/n` and `a/n` (from a to the field's
/// end, as cronie reads it), lists `a,b-c`; month names JAN-DEC and day names SUN-SAT in any
/// case; day of week 0-7 with 0 and 7 both Sunday. Macros: @yearly, @annually, @monthly,
/// @weekly, @daily, @midnight, @hourly. Vixie cron's day rule: when both DOM and DOW are
/// restricted, a day matches if EITHER does; a field starting with `*` (also `*/2`) counts
/// as unrestricted, and then both must match.
///
/// Daylight saving time (cronie's rule for fixed-time jobs, applied to every schedule):
/// - A wall-clock time the clock skips (spring forward) fires at the first instant after
///   the gap: in Berlin on 2026-03-29, "30 2 * * *" fires at 03:00 CEST, once, however many
///   skipped minutes match.
/// - A wall-clock time the clock shows twice (fall back) fires once, at its first
///   occurrence. Unlike cronie's wildcard jobs, an hourly or every-minute schedule
///   therefore does not fire in the repeated hour: a scheduled action is not re-applied.
class CronSchedule {
 public:
  /// Parses five fields or a macro; on failure sets `error` (if given), e.g.
  /// `invalid cron field "61" (minute 0-59)` or `cron needs 5 fields ...`.
  static std::optional<CronSchedule> parse(std::string_view text, std::string* error);

  /// The first instant strictly after `after` whose wall-clock time in `tz` matches, at a
  /// whole minute; nullopt when nothing matches within 8 years ("0 0 30 2 *").
  std::optional<std::chrono::sys_seconds> next(std::chrono::sys_seconds after,
                                               const TimeZone& tz) const;

 private:
  std::optional<std::chrono::local_seconds> next_local_match(
      std::chrono::local_seconds from, std::chrono::local_days last_day) const;
  bool day_matches(std::chrono::local_days day) const;

  // One bit per allowed value: minute 0-59, hour 0-23, dom 1-31, month 1-12, dow 0-6.
  std::uint64_t minutes_ = 0, hours_ = 0, days_of_month_ = 0, months_ = 0, days_of_week_ = 0;
  bool dom_starred_ = false, dow_starred_ = false;
};

}  // namespace tg::scaling
