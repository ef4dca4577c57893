// Expected instants come from the published rules (EU: last Sunday of March and October at
// 01:00 UTC; US: second Sunday of March, first of November, at 02:00 local), worked out by
// hand, and agree with `zdump -v` on Debian's tzdata 2025b.
#include "scaling/time_zone.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace tg::scaling {
namespace {

using namespace std::chrono;

sys_seconds utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return sys_days{year{y} / mo / d} + hours{h} + minutes{mi} + seconds{s};
}

local_seconds wall(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return local_days{year{y} / mo / d} + hours{h} + minutes{mi} + seconds{s};
}

TimeZone system_zone(std::string_view name) {
  std::string error;
  std::optional<TimeZone> zone = TimeZone::load(name, &error);
  if (!zone) ADD_FAILURE() << error;
  return zone.value_or(TimeZone::utc());
}

// ---- Hand-built TZif files (RFC 8536 section 3) ---------------------------------------

struct TzifData {
  char version = '2';
  std::vector<std::int64_t> times;
  std::vector<std::uint8_t> type_of;  // per transition
  std::vector<std::int32_t> offsets;  // per time type
  std::string footer;
};

void put(std::string& out, std::uint64_t v, int size) {
  for (int i = size - 1; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i) & 0xff));
}

std::string header_and_block(const TzifData& d, int time_size) {
  std::string out = "TZif";
  out.push_back(d.version);
  out.append(15, '\0');
  for (std::size_t count : {0ul, 0ul, 0ul, d.times.size(), d.offsets.size(), 2ul}) {
    put(out, count, 4);  // isut, isstd, leap, time, type, char
  }
  for (std::int64_t t : d.times) put(out, static_cast<std::uint64_t>(t), time_size);
  for (std::uint8_t index : d.type_of) out.push_back(static_cast<char>(index));
  for (std::int32_t offset : d.offsets) {
    put(out, static_cast<std::uint32_t>(offset), 4);
    out.append(2, '\0');  // isdst, abbreviation index
  }
  out.append("X\0", 2);
  return out;
}

// Version 2+ files get a decoy v1 block at +12:34 that a correct reader never uses.
std::string build(const TzifData& d) {
  if (d.version == 0) return header_and_block(d, 4);
  TzifData decoy;
  decoy.version = d.version;
  decoy.offsets = {12 * 3600 + 34 * 60};
  return header_and_block(decoy, 4) + header_and_block(d, 8) + "\n" + d.footer + "\n";
}

// A fictional zone: +00:30 until 2000-01-01, then +01:00, with an EU-style footer.
TzifData one_transition_zone() {
  return {'2', {946684800}, {1}, {1800, 3600}, "XST-1XDT,M3.5.0,M10.5.0/3"};
}

TimeZone parsed(const TzifData& d) {
  std::string error;
  std::optional<TimeZone> zone = TimeZone::parse(build(d), &error);
  if (!zone) ADD_FAILURE() << error;
  return zone.value_or(TimeZone::utc());
}

// A zone that is only a footer: with no transitions the footer covers all time.
TimeZone footer_only(std::string footer) {
  return parsed({'2', {}, {}, {0}, std::move(footer)});
}

std::string parse_error(const TzifData& d) {
  std::string error;
  EXPECT_FALSE(TimeZone::parse(build(d), &error).has_value());
  return error;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tz_test_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  void write(const std::string& name, const std::string& bytes) const {
    std::filesystem::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name, std::ios::binary) << bytes;
  }

 private:
  std::filesystem::path path_;
};

// ---- Parsing hand-built files ---------------------------------------------------------

TEST(TimeZone, HandBuiltFileUsesTransitionTableThenFooter) {
  const TimeZone zone = parsed(one_transition_zone());
  EXPECT_EQ(zone.offset(utc(1999, 12, 31, 23, 59, 59)), minutes{30});
  EXPECT_EQ(zone.offset(utc(2000, 1, 1)), hours{1});
  // After the only transition the footer rules: 2000-03-26 and 2000-10-29 are the last
  // Sundays of March and October.
  EXPECT_EQ(zone.offset(utc(2000, 3, 26, 0, 59, 59)), hours{1});
  EXPECT_EQ(zone.offset(utc(2000, 3, 26, 1)), hours{2});
  EXPECT_EQ(zone.offset(utc(2000, 10, 29, 0, 59, 59)), hours{2});
  EXPECT_EQ(zone.offset(utc(2000, 10, 29, 1)), hours{1});
  EXPECT_EQ(zone.next_transition(utc(1999, 6, 1)), utc(2000, 1, 1));
  EXPECT_EQ(zone.next_transition(utc(2000, 1, 1)), utc(2000, 3, 26, 1));
  EXPECT_EQ(zone.next_transition(utc(2000, 3, 26, 1)), utc(2000, 10, 29, 1));
}

TEST(TimeZone, Version1FileKeepsLastTypeAfterLastTransition) {
  // US Eastern for 2000 only: EDT from 2000-04-02 07:00 UTC to 2000-10-29 06:00 UTC.
  const TimeZone zone = parsed({0, {954658800, 972799200}, {1, 0}, {-18000, -14400}, ""});
  EXPECT_EQ(zone.offset(utc(2000, 4, 2, 6, 59, 59)), hours{-5});
  EXPECT_EQ(zone.offset(utc(2000, 4, 2, 7)), hours{-4});
  EXPECT_EQ(zone.offset(utc(2000, 10, 29, 6)), hours{-5});
  EXPECT_EQ(zone.offset(utc(2030, 7, 1)), hours{-5});
  EXPECT_EQ(zone.next_transition(utc(2001, 1, 1)), std::nullopt);
}

TEST(TimeZone, EmptyFooterKeepsLastTypeAfterLastTransition) {
  const TimeZone zone = parsed({'3', {954658800}, {1}, {-18000, -14400}, ""});
  EXPECT_EQ(zone.offset(utc(2050, 1, 1)), hours{-4});
}

TEST(TimeZone, FooterWithoutDstIsAFixedOffset) {
  const TimeZone zone = footer_only("<+03>-3");
  EXPECT_EQ(zone.offset(utc(1900, 1, 1)), hours{3});
  EXPECT_EQ(zone.offset(utc(2100, 7, 1)), hours{3});
  EXPECT_EQ(zone.next_transition(utc(2026, 1, 1)), std::nullopt);
}

TEST(TimeZone, FooterDstDefaultsToOneHourAheadAndTakesMinutes) {
  const TimeZone zone = footer_only("NST3:30NDT,M3.2.0,M11.1.0");
  EXPECT_EQ(zone.offset(utc(2026, 1, 15)), -(hours{3} + minutes{30}));
  EXPECT_EQ(zone.offset(utc(2026, 7, 15)), -(hours{2} + minutes{30}));
  // Second Sunday of March 2026 is the 8th; 02:00 at -03:30 is 05:30 UTC.
  EXPECT_EQ(zone.next_transition(utc(2026, 1, 1)), utc(2026, 3, 8, 5, 30));
}

TEST(TimeZone, FooterJulianDayNeverCountsFebruary29) {
  const TimeZone zone = footer_only("XST-1XDT,J60/2,J300/2");
  // J60 is March 1 in leap and common years; J300 is October 27.
  EXPECT_EQ(zone.next_transition(utc(2024, 1, 1)), utc(2024, 3, 1, 1));
  EXPECT_EQ(zone.next_transition(utc(2025, 1, 1)), utc(2025, 3, 1, 1));
  EXPECT_EQ(zone.next_transition(utc(2024, 6, 1)), utc(2024, 10, 27, 0));
}

TEST(TimeZone, FooterZeroBasedDayCountsFebruary29) {
  const TimeZone zone = footer_only("XST-1XDT,59/2,299/2");
  // Day 59 (from 0) is February 29 in 2024 but March 1 in 2025; day 299 of 2024 is Oct 26.
  EXPECT_EQ(zone.next_transition(utc(2024, 1, 1)), utc(2024, 2, 29, 1));
  EXPECT_EQ(zone.next_transition(utc(2025, 1, 1)), utc(2025, 3, 1, 1));
  EXPECT_EQ(zone.next_transition(utc(2024, 2, 29, 1)), utc(2024, 10, 26, 0));
}

TEST(TimeZone, FooterAcceptsNegativeTransitionTime) {
  // -1 h on Sunday 2026-03-29 is Saturday 23:00 at +01:00, i.e. 22:00 UTC.
  const TimeZone zone = footer_only("XST-1XDT,M3.5.0/-1,M10.5.0/3");
  EXPECT_EQ(zone.next_transition(utc(2026, 1, 1)), utc(2026, 3, 28, 22));
  EXPECT_EQ(zone.next_transition(utc(2026, 3, 28, 22)), utc(2026, 10, 25, 1));
}

TEST(TimeZone, FooterAcceptsTransitionTimeBeyond24Hours) {
  // Israel: 26:00 on the fourth Thursday of March (2026-03-26) is Friday 02:00 at +02:00.
  const TimeZone zone = footer_only("IST-2IDT,M3.4.4/26,M10.5.0");
  EXPECT_EQ(zone.next_transition(utc(2026, 1, 1)), utc(2026, 3, 27, 0));
  EXPECT_EQ(zone.next_transition(utc(2026, 3, 27)), utc(2026, 10, 24, 23));
}

TEST(TimeZone, FooterWithDstAllYearNeverTransitions) {
  const TimeZone zone = footer_only("EST5EDT,0/0,J365/25");  // RFC 8536's example
  for (const sys_seconds t : {utc(2026, 1, 1, 4, 59, 59), utc(2026, 1, 1, 5), utc(2026, 7, 1),
                              utc(2026, 12, 31, 23, 59)}) {
    EXPECT_EQ(zone.offset(t), hours{-4});
  }
  EXPECT_EQ(zone.next_transition(utc(2026, 1, 1)), std::nullopt);
}

TEST(TimeZone, RejectsMalformedFiles) {
  std::string error;
  EXPECT_FALSE(TimeZone::parse("", &error));
  EXPECT_EQ(error, "not a TZif file");
  EXPECT_FALSE(TimeZone::parse(std::string(60, 'x'), &error));
  EXPECT_EQ(error, "not a TZif file");

  const std::string good = build(one_transition_zone());
  EXPECT_EQ(TimeZone::parse(good.substr(0, good.size() - 40), &error), std::nullopt);
  EXPECT_EQ(error, "truncated TZif data");
  EXPECT_EQ(TimeZone::parse(good.substr(0, good.size() - 1), &error), std::nullopt);
  EXPECT_EQ(error, "TZif footer is missing");

  TzifData d = one_transition_zone();
  d.version = '1';
  EXPECT_EQ(parse_error(d), "unsupported TZif version");
  d = one_transition_zone();
  d.offsets.clear();
  d.type_of.clear();
  d.times.clear();
  EXPECT_EQ(parse_error(d), "TZif has no time types");
  d = one_transition_zone();
  d.type_of = {2};
  EXPECT_EQ(parse_error(d), "TZif transition names a missing time type");
  d = {'2', {100, 100}, {0, 1}, {0, 3600}, ""};
  EXPECT_EQ(parse_error(d), "TZif transition times are not ascending");
  d = {'2', {}, {}, {26 * 3600}, ""};
  EXPECT_EQ(parse_error(d), "TZif UTC offset out of range");
}

TEST(TimeZone, RejectsMalformedFooters) {
  for (const char* footer :
       {"CET", "C-1", "CET-1CEST,", "CET-1CEST,M3.5.0", "CET-1CEST,M13.5.0,M10.5.0",
        "CET-1CEST,M3.6.0,M10.5.0", "CET-1CEST,M3.5.7,M10.5.0", "CET-1CEST,J0,J365",
        "CET-1CEST,0,366", "CET-1CEST,M3.5.0/168,M10.5.0", "CET-25", "CET-1:60", "<+03-3",
        "CET-1CEST-2x", "CET-1CEST,M3.5.0,M10.5.0,"}) {
    TzifData d = one_transition_zone();
    d.footer = footer;
    EXPECT_EQ(parse_error(d), "invalid TZ string \"" + std::string(footer) + "\" in TZif footer");
  }
}

// ---- Loading by name --------------------------------------------------------------------

TEST(TimeZone, LoadsHandBuiltFileByNameFromDirectory) {
  TempDir dir;
  dir.write("Test/Zone", build(one_transition_zone()));
  std::string error;
  const std::optional<TimeZone> zone = TimeZone::load("Test/Zone", &error, dir.path().string());
  ASSERT_TRUE(zone) << error;
  EXPECT_EQ(zone->name(), "Test/Zone");
  EXPECT_EQ(zone->offset(utc(2000, 7, 1)), hours{2});
}

TEST(TimeZone, UtcWorksWithoutTheFile) {
  TempDir empty;
  std::string error;
  const std::optional<TimeZone> zone = TimeZone::load("UTC", &error, empty.path().string());
  ASSERT_TRUE(zone) << error;
  EXPECT_EQ(zone->name(), "UTC");
  EXPECT_EQ(zone->offset(utc(2026, 7, 1)), seconds{0});
  EXPECT_EQ(zone->next_transition(utc(2026, 7, 1)), std::nullopt);
  EXPECT_FALSE(TimeZone::load("Europe/Berlin", &error, empty.path().string()));
  EXPECT_EQ(error, "unknown time zone \"Europe/Berlin\"");
}

TEST(TimeZone, UnknownZoneIsAnError) {
  std::string error;
  EXPECT_FALSE(TimeZone::load("Mars/Base", &error));
  EXPECT_EQ(error, "unknown time zone \"Mars/Base\"");
  EXPECT_FALSE(TimeZone::load("Europe", &error));  // a directory
  EXPECT_EQ(error, "unknown time zone \"Europe\"");
}

TEST(TimeZone, NonTzifFileIsAnError) {
  TempDir dir;
  dir.write("Bad", "# not a zone\n");
  std::string error;
  EXPECT_FALSE(TimeZone::load("Bad", &error, dir.path().string()));
  EXPECT_EQ(error, "time zone \"Bad\": not a TZif file");
}

TEST(TimeZone, RefusesNamesThatLeaveTheZoneinfoDirectory) {
  for (const char* name : {"", "/etc/localtime", "../../etc/passwd", "Europe/../UTC"}) {
    std::string error;
    EXPECT_FALSE(TimeZone::load(name, &error)) << name;
    EXPECT_EQ(error, "invalid time zone name \"" + std::string(name) + "\"");
  }
}

// ---- System zones -------------------------------------------------------------------------

TEST(TimeZone, BerlinSwitchesAtTheEuInstants2026) {
  const TimeZone berlin = system_zone("Europe/Berlin");
  EXPECT_EQ(berlin.offset(utc(2026, 1, 15, 12)), hours{1});
  EXPECT_EQ(berlin.offset(utc(2026, 3, 29, 0, 59, 59)), hours{1});
  EXPECT_EQ(berlin.offset(utc(2026, 3, 29, 1)), hours{2});
  EXPECT_EQ(berlin.offset(utc(2026, 10, 25, 0, 59, 59)), hours{2});
  EXPECT_EQ(berlin.offset(utc(2026, 10, 25, 1)), hours{1});
  EXPECT_EQ(berlin.next_transition(utc(2026, 1, 1)), utc(2026, 3, 29, 1));
  EXPECT_EQ(berlin.next_transition(utc(2026, 3, 29, 1)), utc(2026, 10, 25, 1));
}

TEST(TimeZone, NewYorkSwitchesOnUsDates2026) {
  const TimeZone ny = system_zone("America/New_York");
  EXPECT_EQ(ny.offset(utc(2026, 3, 8, 6, 59, 59)), hours{-5});
  EXPECT_EQ(ny.offset(utc(2026, 3, 8, 7)), hours{-4});
  EXPECT_EQ(ny.offset(utc(2026, 11, 1, 5, 59, 59)), hours{-4});
  EXPECT_EQ(ny.offset(utc(2026, 11, 1, 6)), hours{-5});
}

TEST(TimeZone, LordHoweShiftsByThirtyMinutes) {
  const TimeZone lh = system_zone("Australia/Lord_Howe");
  // DST (+11) ends on the first Sunday of April, starts on the first Sunday of October.
  EXPECT_EQ(lh.offset(utc(2026, 4, 4, 14, 59, 59)), hours{11});
  EXPECT_EQ(lh.offset(utc(2026, 4, 4, 15)), hours{10} + minutes{30});
  EXPECT_EQ(lh.offset(utc(2026, 10, 3, 15, 29, 59)), hours{10} + minutes{30});
  EXPECT_EQ(lh.offset(utc(2026, 10, 3, 15, 30)), hours{11});
}

TEST(TimeZone, KolkataIsFiveAndAHalfHoursAheadWithNoTransitions) {
  const TimeZone kolkata = system_zone("Asia/Kolkata");
  EXPECT_EQ(kolkata.offset(utc(2026, 6, 1)), hours{5} + minutes{30});
  EXPECT_EQ(kolkata.next_transition(utc(2026, 6, 1)), std::nullopt);
}

TEST(TimeZone, FooterRuleGovernsYear2100) {
  // Both files list transitions up to 2037; 2100's come from the footer. In 2100 the last
  // Sundays of March and October are the 28th and 31st; the first Sundays of April and
  // October the 4th and 3rd.
  const TimeZone berlin = system_zone("Europe/Berlin");
  EXPECT_EQ(berlin.next_transition(utc(2100, 1, 1)), utc(2100, 3, 28, 1));
  EXPECT_EQ(berlin.next_transition(utc(2100, 3, 28, 1)), utc(2100, 10, 31, 1));
  EXPECT_EQ(berlin.offset(utc(2100, 7, 1)), hours{2});
  const TimeZone lh = system_zone("Australia/Lord_Howe");
  EXPECT_EQ(lh.offset(utc(2100, 1, 15)), hours{11});
  EXPECT_EQ(lh.next_transition(utc(2100, 1, 1)), utc(2100, 4, 3, 15));
  EXPECT_EQ(lh.next_transition(utc(2100, 4, 3, 15)), utc(2100, 10, 2, 15, 30));
}

// ---- Wall clock to instants ------------------------------------------------------------

TEST(TimeZone, MapsOrdinaryWallClockToOneInstant) {
  const LocalTimeMapping m = system_zone("Europe/Berlin").map_local(wall(2026, 7, 1, 12));
  EXPECT_EQ(m.kind, LocalTimeMapping::Kind::kUnique);
  EXPECT_EQ(m.earliest, utc(2026, 7, 1, 10));
  EXPECT_EQ(m.latest, utc(2026, 7, 1, 10));
}

TEST(TimeZone, MapsSkippedWallClockToTheEndOfTheGap) {
  const TimeZone berlin = system_zone("Europe/Berlin");
  for (const local_seconds t : {wall(2026, 3, 29, 2), wall(2026, 3, 29, 2, 30)}) {
    const LocalTimeMapping m = berlin.map_local(t);
    EXPECT_EQ(m.kind, LocalTimeMapping::Kind::kSkipped);
    EXPECT_EQ(m.earliest, utc(2026, 3, 29, 1));
  }
  EXPECT_EQ(berlin.map_local(wall(2026, 3, 29, 1, 59, 59)).earliest, utc(2026, 3, 29, 0, 59, 59));
  EXPECT_EQ(berlin.map_local(wall(2026, 3, 29, 3)).kind, LocalTimeMapping::Kind::kUnique);
  const LocalTimeMapping lh =
      system_zone("Australia/Lord_Howe").map_local(wall(2026, 10, 4, 2, 15));
  EXPECT_EQ(lh.kind, LocalTimeMapping::Kind::kSkipped);
  EXPECT_EQ(lh.earliest, utc(2026, 10, 3, 15, 30));
}

TEST(TimeZone, MapsRepeatedWallClockToBothInstants) {
  const TimeZone berlin = system_zone("Europe/Berlin");
  const LocalTimeMapping m = berlin.map_local(wall(2026, 10, 25, 2, 30));
  EXPECT_EQ(m.kind, LocalTimeMapping::Kind::kRepeated);
  EXPECT_EQ(m.earliest, utc(2026, 10, 25, 0, 30));
  EXPECT_EQ(m.latest, utc(2026, 10, 25, 1, 30));
  EXPECT_EQ(berlin.map_local(wall(2026, 10, 25, 3)).kind, LocalTimeMapping::Kind::kUnique);
  const LocalTimeMapping ny = system_zone("America/New_York").map_local(wall(2026, 11, 1, 1, 30));
  EXPECT_EQ(ny.kind, LocalTimeMapping::Kind::kRepeated);
  EXPECT_EQ(ny.earliest, utc(2026, 11, 1, 5, 30));
  EXPECT_EQ(ny.latest, utc(2026, 11, 1, 6, 30));
}

}  // namespace
}  // namespace tg::scaling
