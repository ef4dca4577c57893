// IANA time zones read from TZif files (RFC 8536), for cron schedules in a zone's wall
// clock. libstdc++ 12 has no std::chrono::tzdb, so this is a small reader of its own:
// the transition table, then the footer's POSIX TZ rule for instants after the table.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tg::scaling {

/// How one local wall-clock time maps onto instants (std::chrono::local_info's cases).
struct LocalTimeMapping {
  enum class Kind {
    kUnique,    ///< the wall clock shows this time once
    kSkipped,   ///< the clock jumps over it (spring forward)
    kRepeated,  ///< the clock shows it twice (fall back)
  };
  Kind kind = Kind::kUnique;  ///< which of the three cases applies
  /// kUnique: the instant; kRepeated: the first occurrence; kSkipped: the instant the gap
  /// ends, i.e. the first instant whose wall clock is past the skipped time.
  std::chrono::sys_seconds earliest;
  /// kRepeated: the second occurrence; otherwise equal to `earliest`.
  std::chrono::sys_seconds latest;
};

namespace detail {

/// Internal: one end of a footer DST rule, the day (Jn, n or Mm.w.d) and local time of day.
struct PosixDate {
  enum class Kind : std::uint8_t { kJulianNoLeap, kZeroBased, kMonthWeekDay };
  Kind kind = Kind::kMonthWeekDay;
  int day = 0;               ///< Jn: 1-365; n: 0-365; Mm.w.d: d, 0 (Sunday) to 6
  int month = 0;             ///< Mm.w.d: 1-12
  int week = 0;              ///< Mm.w.d: 1-5, 5 meaning the last in the month
  std::int32_t time = 7200;  ///< seconds after local midnight, -167 h..167 h; default 02:00
};

/// Internal: a TZif footer such as "CET-1CEST,M3.5.0,M10.5.0/3", offsets east of UTC.
struct PosixRule {
  std::int32_t std_offset = 0;
  bool has_dst = false;
  std::int32_t dst_offset = 0;
  PosixDate start;  ///< DST begins, in local standard time
  PosixDate end;    ///< DST ends, in local daylight time
};

}  // namespace detail

/// A time zone's UTC offsets over time, from a TZif file (versions 1 to 4).
///
/// Uses the 64-bit data of version 2+ files and ignores the 32-bit block. Before the first
/// transition the first time type applies (RFC 8536 3.2); after the last one, the footer's
/// POSIX TZ rule (or, without a footer, the last type). Leap-second records are ignored,
/// so the "right/" zones are off by the leap seconds. Immutable and cheap to copy.
class TimeZone {
 public:
  /// Where load() looks by default: Debian's tzdata.
  static constexpr std::string_view kZoneinfoDirectory = "/usr/share/zoneinfo";

  /// Reads `<directory>/<name>` ("Europe/Berlin"). Names that are empty, absolute or
  /// contain ".." are refused so a conf file cannot read arbitrary files. "UTC" works
  /// without the file. On failure sets `error` (if given), e.g. `unknown time zone "X"`.
  static std::optional<TimeZone> load(std::string_view name, std::string* error,
                                      std::string_view directory = kZoneinfoDirectory);
  /// Parses the bytes of a TZif file; on failure sets `error` (if given).
  static std::optional<TimeZone> parse(std::string_view tzif_bytes, std::string* error);
  /// Coordinated Universal Time: offset 0, no transitions.
  static TimeZone utc();

  /// The name given to load() ("Europe/Berlin"); empty for parse().
  const std::string& name() const { return name_; }

  /// The UTC offset in effect at instant `t` (local = t + offset).
  std::chrono::seconds offset(std::chrono::sys_seconds t) const;
  /// The first instant after `t` at which the offset changes; nullopt when it never does.
  /// Transitions that only rename the zone (same offset) are not reported.
  std::optional<std::chrono::sys_seconds> next_transition(std::chrono::sys_seconds t) const;
  /// Where the wall-clock time `t` falls: once, in a gap, or twice.
  LocalTimeMapping map_local(std::chrono::local_seconds t) const;

 private:
  std::int32_t offset_at(std::int64_t t) const;
  std::optional<std::int64_t> next_change(std::int64_t t) const;

  std::string name_;
  std::vector<std::int64_t> transition_times_;    ///< ascending, seconds since the epoch
  std::vector<std::int32_t> transition_offsets_;  ///< offset from each transition on
  std::int32_t initial_offset_ = 0;               ///< time type 0, before the first transition
  std::optional<detail::PosixRule> rule_;         ///< the footer, after the last transition
};

}  // namespace tg::scaling
