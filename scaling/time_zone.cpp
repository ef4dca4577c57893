#include "scaling/time_zone.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <system_error>

namespace tg::scaling {
namespace {

using detail::PosixDate;
using detail::PosixRule;
namespace chr = std::chrono;

constexpr std::int64_t kDay = 86400;
// TZif allows offsets of -25:59:59..+25:59:59; anything beyond is a corrupt file.
constexpr std::int32_t kMaxOffset = 26 * 3600 - 1;
// Far enough for any zone, near enough that std::chrono::year (+-32767) cannot overflow.
constexpr std::int64_t kYearClamp = 900'000'000'000;
// Real TZif files are a few KiB; a bigger "zone" is not one.
constexpr std::uintmax_t kMaxFileSize = 1 << 20;

bool is_digit(char c) {
  return std::isdigit(static_cast<unsigned char>(c)) != 0;
}

std::nullopt_t refuse(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return std::nullopt;
}

// ---- The footer: POSIX TZ strings with RFC 8536's extensions -------------------------

// A cursor over a TZ string; each reader consumes what it accepts and reports success.
class TzStringReader {
 public:
  explicit TzStringReader(std::string_view s) : s_(s) {}
  bool done() const { return pos_ == s_.size(); }
  bool take(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) return ++pos_, true;
    return false;
  }
  bool peek_digit() const { return pos_ < s_.size() && is_digit(s_[pos_]); }
  template <class Pred>
  std::size_t span(Pred accept) {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && accept(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    return pos_ - start;
  }

  // "<+0330>" or three or more letters; the name itself is not needed.
  bool name() {
    if (take('<')) {
      return span([](int c) { return std::isalnum(c) || c == '+' || c == '-'; }) >= 3 && take('>');
    }
    return span([](int c) { return std::isalpha(c); }) >= 3;
  }

  bool number(int max_digits, int lo, int hi, int& out) {
    int digits = 0;
    out = 0;
    while (peek_digit() && digits < max_digits) out = out * 10 + (s_[pos_++] - '0'), ++digits;
    return digits > 0 && !peek_digit() && out >= lo && out <= hi;
  }

  // [+-]h[hh][:mm[:ss]] in seconds; POSIX offsets allow 24 hours, rule times 167 (RFC 8536).
  bool duration(int max_hours, std::int32_t& out) {
    const bool negative = take('-');
    if (!negative) take('+');
    int h = 0, m = 0, sec = 0;
    if (!number(3, 0, max_hours, h)) return false;
    if (take(':') && (!number(2, 0, 59, m) || (take(':') && !number(2, 0, 59, sec)))) {
      return false;
    }
    out = (h * 3600 + m * 60 + sec) * (negative ? -1 : 1);
    return true;
  }

  bool date(PosixDate& d) {
    if (take('M')) {
      d.kind = PosixDate::Kind::kMonthWeekDay;
      if (!number(2, 1, 12, d.month) || !take('.') || !number(1, 1, 5, d.week) || !take('.') ||
          !number(1, 0, 6, d.day)) {
        return false;
      }
    } else {
      const bool julian = take('J');
      d.kind = julian ? PosixDate::Kind::kJulianNoLeap : PosixDate::Kind::kZeroBased;
      if (!number(3, julian ? 1 : 0, 365, d.day)) return false;
    }
    return !take('/') || duration(167, d.time);
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

std::optional<PosixRule> parse_tz_string(std::string_view s) {
  TzStringReader in(s);
  PosixRule rule;
  std::int32_t west = 0;  // POSIX counts hours west of Greenwich
  if (!in.name() || !in.duration(24, west)) return std::nullopt;
  rule.std_offset = -west;
  if (in.done()) return rule;
  rule.has_dst = true;
  if (!in.name()) return std::nullopt;
  rule.dst_offset = rule.std_offset + 3600;  // POSIX: one hour ahead unless given
  bool has_rule = in.take(',');
  if (!has_rule && !in.done()) {
    if (!in.duration(24, west)) return std::nullopt;
    rule.dst_offset = -west;
    has_rule = in.take(',');
  }
  if (!has_rule) {
    if (!in.done()) return std::nullopt;
    // No rule after a DST name: tzcode and glibc fall back to the US rule, so do we.
    rule.start = {PosixDate::Kind::kMonthWeekDay, 0, 3, 2, 7200};
    rule.end = {PosixDate::Kind::kMonthWeekDay, 0, 11, 1, 7200};
    return rule;
  }
  if (!in.date(rule.start) || !in.take(',') || !in.date(rule.end) || !in.done()) {
    return std::nullopt;
  }
  return rule;
}

int year_of(std::int64_t t) {
  t = std::clamp(t, -kYearClamp, kYearClamp);
  const chr::sys_seconds s{chr::seconds{t}};
  return static_cast<int>(chr::year_month_day{chr::floor<chr::days>(s)}.year());
}

// The day a rule date names in `year`.
chr::sys_days rule_day(const PosixDate& d, int year) {
  const chr::year y{year};
  switch (d.kind) {
    case PosixDate::Kind::kJulianNoLeap:  // never counts February 29: J60 is always March 1
      return chr::sys_days{y / 1 / 1} + chr::days{d.day - (y.is_leap() && d.day >= 60 ? 0 : 1)};
    case PosixDate::Kind::kZeroBased:
      return chr::sys_days{y / 1 / 1} + chr::days{d.day};
    case PosixDate::Kind::kMonthWeekDay:
      break;
  }
  const chr::month m{static_cast<unsigned>(d.month)};
  const chr::sys_days first{y / m / 1}, last{y / m / chr::last};
  auto day = first + (chr::weekday{static_cast<unsigned>(d.day)} - chr::weekday{first}) +
             chr::weeks{d.week - 1};
  while (day > last) day -= chr::weeks{1};  // week 5 means "the last one"
  return day;
}

struct RuleEvent {
  std::int64_t at;
  bool to_dst;
};

RuleEvent year_start(const PosixRule& r, int year) {
  const auto day = rule_day(r.start, year).time_since_epoch().count();
  return {day * kDay + r.start.time - r.std_offset, true};
}
RuleEvent year_end(const PosixRule& r, int year) {
  const auto day = rule_day(r.end, year).time_since_epoch().count();
  return {day * kDay + r.end.time - r.dst_offset, false};
}

// The rule's transitions from the year before t's to `years_after` years after it, in
// order. Where one year's end and the next one's start coincide (DST all year,
// "EST5EDT,0/0,J365/25") the start comes last and wins.
std::vector<RuleEvent> rule_events(const PosixRule& r, std::int64_t t, int years_after) {
  std::vector<RuleEvent> events;
  const int y = year_of(t);
  for (int year = y - 1; year <= y + years_after; ++year) {
    events.push_back(year_start(r, year));
    events.push_back(year_end(r, year));
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const RuleEvent& a, const RuleEvent& b) { return a.at < b.at; });
  return events;
}

std::int32_t rule_offset(const PosixRule& r, std::int64_t t) {
  if (!r.has_dst) return r.std_offset;
  std::int32_t offset = r.std_offset;
  for (const RuleEvent& e : rule_events(r, t, 1)) {
    if (e.at > t) break;
    offset = e.to_dst ? r.dst_offset : r.std_offset;
  }
  return offset;
}

std::optional<std::int64_t> rule_next_change(const PosixRule& r, std::int64_t t,
                                             std::int32_t current) {
  if (!r.has_dst) return std::nullopt;
  const std::vector<RuleEvent> events = rule_events(r, t, 3);
  // Events from the last year generated may lack a partner at the same instant (the next
  // year's start), so only those before that year's first event are trusted.
  const int last_year = year_of(t) + 3;
  const std::int64_t cutoff = std::min(year_start(r, last_year).at, year_end(r, last_year).at);
  for (std::size_t i = 0; i < events.size() && events[i].at < cutoff; ++i) {
    if (events[i].at <= t) continue;
    std::size_t j = i;  // the last event at this instant decides the offset
    while (j + 1 < events.size() && events[j + 1].at == events[i].at) ++j;
    if ((events[j].to_dst ? r.dst_offset : r.std_offset) != current) return events[i].at;
    i = j;
  }
  return std::nullopt;
}

// ---- The TZif container -------------------------------------------------------------

class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}
  bool has(std::uint64_t n) const { return bytes_.size() - pos_ >= n; }
  void skip(std::size_t n) { pos_ += n; }
  std::string_view rest() const { return bytes_.substr(pos_); }
  std::uint8_t u8() { return static_cast<std::uint8_t>(bytes_[pos_++]); }
  std::uint64_t unsigned_be(int size) {
    std::uint64_t v = 0;
    for (int i = 0; i < size; ++i) v = v << 8 | u8();
    return v;
  }
  std::int64_t signed_be(int size) {
    const std::uint64_t v = unsigned_be(size);
    return size == 4 ? static_cast<std::int32_t>(v) : static_cast<std::int64_t>(v);
  }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

struct TzifHeader {
  char version = 0;
  std::uint64_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;

  std::uint64_t data_size(int time_size) const {
    return timecnt * time_size + timecnt + typecnt * 6 + charcnt + leapcnt * (time_size + 4) +
           isstdcnt + isutcnt;
  }
};

std::optional<TzifHeader> read_header(ByteReader& in, int time_size, std::string* error) {
  if (!in.has(44) || in.rest().substr(0, 4) != "TZif") return refuse(error, "not a TZif file");
  in.skip(4);
  TzifHeader h;
  h.version = static_cast<char>(in.u8());
  if (h.version != 0 && (h.version < '2' || h.version > '9')) {
    return refuse(error, "unsupported TZif version");
  }
  in.skip(15);
  for (std::uint64_t* count :
       {&h.isutcnt, &h.isstdcnt, &h.leapcnt, &h.timecnt, &h.typecnt, &h.charcnt}) {
    *count = in.unsigned_be(4);
  }
  if (!in.has(h.data_size(time_size))) return refuse(error, "truncated TZif data");
  return h;
}

}  // namespace

std::optional<TimeZone> TimeZone::load(std::string_view name, std::string* error,
                                       std::string_view directory) {
  if (name.empty() || name.front() == '/' || name.find("..") != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return refuse(error, "invalid time zone name \"" + std::string(name) + "\"");
  }
  const std::filesystem::path path = std::filesystem::path(directory) / std::string(name);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec) ||
      std::filesystem::file_size(path, ec) > kMaxFileSize) {
    if (name == "UTC") return utc();  // needed even on a host without tzdata
    return refuse(error, "unknown time zone \"" + std::string(name) + "\"");
  }
  std::ifstream file(path, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  std::string why;
  std::optional<TimeZone> zone = parse(bytes, &why);
  if (!zone) return refuse(error, "time zone \"" + std::string(name) + "\": " + why);
  zone->name_ = std::string(name);
  return zone;
}

std::optional<TimeZone> TimeZone::parse(std::string_view tzif_bytes, std::string* error) {
  ByteReader in(tzif_bytes);
  std::optional<TzifHeader> header = read_header(in, 4, error);
  if (!header) return std::nullopt;
  const bool v1 = header->version == 0;
  if (!v1) {  // version 2+ repeats everything with 64-bit times after the v1 block
    in.skip(header->data_size(4));
    if (!(header = read_header(in, 8, error))) return std::nullopt;
  }
  const TzifHeader& h = *header;
  const int time_size = v1 ? 4 : 8;
  // Checked only for the block in use: readers are to ignore a v2+ file's v1 block.
  if (h.typecnt == 0) return refuse(error, "TZif has no time types");
  if ((h.isutcnt != 0 && h.isutcnt != h.typecnt) || (h.isstdcnt != 0 && h.isstdcnt != h.typecnt)) {
    return refuse(error, "TZif indicator counts do not match the time types");
  }

  TimeZone zone;
  zone.transition_times_.resize(h.timecnt);
  for (std::int64_t& t : zone.transition_times_) t = in.signed_be(time_size);
  if (std::adjacent_find(zone.transition_times_.begin(), zone.transition_times_.end(),
                         std::greater_equal<>()) != zone.transition_times_.end()) {
    return refuse(error, "TZif transition times are not ascending");
  }
  std::vector<std::uint8_t> type_of(h.timecnt);
  for (std::uint8_t& index : type_of) {
    index = in.u8();
    if (index >= h.typecnt) return refuse(error, "TZif transition names a missing time type");
  }
  std::vector<std::int32_t> type_offsets(h.typecnt);
  for (std::int32_t& offset : type_offsets) {
    offset = static_cast<std::int32_t>(in.signed_be(4));
    in.skip(2);  // isdst and the abbreviation: cron needs neither
    if (std::abs(offset) > kMaxOffset) return refuse(error, "TZif UTC offset out of range");
  }
  // Abbreviations, leap seconds and the std/UT indicators (used only with POSIX TZ
  // strings lacking rules, which TZif footers never are) are not needed.
  in.skip(h.charcnt + h.leapcnt * (time_size + 4) + h.isstdcnt + h.isutcnt);

  zone.initial_offset_ = type_offsets[0];
  for (std::uint8_t index : type_of) zone.transition_offsets_.push_back(type_offsets[index]);

  if (!v1) {
    const std::string_view rest = in.rest();
    const std::size_t end = rest.find('\n', 1);
    if (!rest.starts_with('\n') || end == std::string_view::npos) {
      return refuse(error, "TZif footer is missing");
    }
    const std::string_view footer = rest.substr(1, end - 1);
    if (!footer.empty()) {  // empty: nothing is known after the last transition
      zone.rule_ = parse_tz_string(footer);
      if (!zone.rule_) {
        return refuse(error, "invalid TZ string \"" + std::string(footer) + "\" in TZif footer");
      }
    }
  }
  return zone;
}

TimeZone TimeZone::utc() {
  TimeZone zone;
  zone.name_ = "UTC";
  return zone;
}

std::chrono::seconds TimeZone::offset(std::chrono::sys_seconds t) const {
  return std::chrono::seconds{offset_at(t.time_since_epoch().count())};
}

std::optional<std::chrono::sys_seconds> TimeZone::next_transition(
    std::chrono::sys_seconds t) const {
  const std::optional<std::int64_t> at = next_change(t.time_since_epoch().count());
  if (!at) return std::nullopt;
  return std::chrono::sys_seconds{std::chrono::seconds{*at}};
}

std::int32_t TimeZone::offset_at(std::int64_t t) const {
  const auto& times = transition_times_;
  if (times.empty()) return rule_ ? rule_offset(*rule_, t) : initial_offset_;
  if (t < times.front()) return initial_offset_;
  if (rule_ && t > times.back()) return rule_offset(*rule_, t);
  const auto it = std::upper_bound(times.begin(), times.end(), t);
  return transition_offsets_[it - times.begin() - 1];
}

std::optional<std::int64_t> TimeZone::next_change(std::int64_t t) const {
  const std::int32_t current = offset_at(t);
  const auto& times = transition_times_;
  for (auto it = std::upper_bound(times.begin(), times.end(), t); it != times.end(); ++it) {
    if (transition_offsets_[it - times.begin()] != current) return *it;
  }
  if (!rule_) return std::nullopt;
  return rule_next_change(*rule_, times.empty() ? t : std::max(t, times.back()), current);
}

LocalTimeMapping TimeZone::map_local(std::chrono::local_seconds t) const {
  // Walk the stretches of constant offset around t (offsets stay within +-26 h): each
  // shows the wall-clock range [start + offset, end + offset). t falls in one of them,
  // in two (fall back), or in the gap before one (spring forward).
  const std::int64_t wall = t.time_since_epoch().count();
  std::int64_t start = wall - 2 * kDay;
  const std::int64_t stop = wall + 2 * kDay;
  std::vector<std::int64_t> matches;
  std::optional<std::int64_t> gap_end;
  while (true) {
    const std::int32_t offset = offset_at(start);
    const std::optional<std::int64_t> end = next_change(start);
    const std::int64_t instant = wall - offset;
    if (instant >= start && (!end || instant < *end)) {
      matches.push_back(instant);
    } else if (matches.empty() && instant < start) {
      gap_end = start;
      break;
    }
    if (!end || *end > stop) break;
    start = *end;
  }

  const auto as_sys = [](std::int64_t s) { return chr::sys_seconds{chr::seconds{s}}; };
  using Kind = LocalTimeMapping::Kind;
  if (matches.empty()) {  // the fallback guards a corrupt table only
    const auto end = as_sys(gap_end.value_or(wall - offset_at(wall)));
    return {Kind::kSkipped, end, end};
  }
  return {matches.size() == 1 ? Kind::kUnique : Kind::kRepeated, as_sys(matches.front()),
          as_sys(matches.back())};
}

}  // namespace tg::scaling
