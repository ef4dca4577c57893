#include "scaling/cron.h"

#include <array>
#include <bit>
#include <cctype>
#include <vector>

namespace tg::scaling {
namespace {

namespace chr = std::chrono;

constexpr std::array<std::string_view, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kDayNames = {"SUN", "MON", "TUE", "WED",
                                                       "THU", "FRI", "SAT"};

struct Field {
  std::string_view what;  // for error messages
  int lo, hi;
  const std::string_view* names = nullptr;  // names[i] is the value lo + i
  int name_count = 0;
};

constexpr Field kMinute{"minute", 0, 59};
constexpr Field kHour{"hour", 0, 23};
constexpr Field kDayOfMonth{"day of month", 1, 31};
constexpr Field kMonth{"month", 1, 12, kMonthNames.data(), 12};
constexpr Field kDayOfWeek{"day of week", 0, 7, kDayNames.data(), 7};

struct Macro {
  std::string_view name, fields;
};
constexpr std::array<Macro, 7> kMacros = {{{"@yearly", "0 0 1 1 *"},
                                           {"@annually", "0 0 1 1 *"},
                                           {"@monthly", "0 0 1 * *"},
                                           {"@weekly", "0 0 * * 0"},
                                           {"@daily", "0 0 * * *"},
                                           {"@midnight", "0 0 * * *"},
                                           {"@hourly", "0 * * * *"}}};

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

bool same_letters(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

// A number or (where the field has them) a name; consumes it from `s`.
bool parse_value(std::string_view& s, const Field& field, int& out) {
  std::size_t n = 0;
  if (!s.empty() && std::isdigit(static_cast<unsigned char>(s[0]))) {
    out = 0;
    while (n < s.size() && std::isdigit(static_cast<unsigned char>(s[n]))) {
      if (++n > 4) return false;  // also keeps `out` from overflowing
      out = out * 10 + (s[n - 1] - '0');
    }
    s.remove_prefix(n);
    return out >= field.lo && out <= field.hi;
  }
  while (n < s.size() && std::isalpha(static_cast<unsigned char>(s[n]))) ++n;
  for (int i = 0; i < field.name_count; ++i) {
    if (same_letters(s.substr(0, n), field.names[i])) {
      out = field.lo + i;
      s.remove_prefix(n);
      return true;
    }
  }
  return false;
}

// A comma-separated list of `*`, `a`, `a-b`, each optionally with `/step`.
bool parse_field(std::string_view text, const Field& field, std::uint64_t& bits,
                 std::string* error) {
  const auto fail = [&](std::string_view why) {
    if (error) {
      *error = "invalid cron field \"" + std::string(text) + "\" (" + std::string(field.what) +
               " " + std::to_string(field.lo) + "-" + std::to_string(field.hi);
      if (field.names) {
        *error += " or " + std::string(field.names[0]) + "-" +
                  std::string(field.names[field.name_count - 1]);
      }
      *error += ")";
      if (!why.empty()) *error += ": " + std::string(why);
    }
    return false;
  };
  std::string_view rest = text;
  while (true) {
    const std::string_view item = rest.substr(0, rest.find(','));
    std::string_view s = item;
    int first = field.lo, last = field.hi, step = 1;
    if (s.starts_with('*')) {
      s.remove_prefix(1);
    } else {
      if (!parse_value(s, field, first)) return fail("");
      last = first;
      if (s.starts_with('-')) {
        s.remove_prefix(1);
        if (!parse_value(s, field, last)) return fail("");
        if (last < first) return fail("range runs backwards");
      } else if (s.starts_with('/')) {
        last = field.hi;
      }
    }
    if (s.starts_with('/')) {
      s.remove_prefix(1);
      const Field steps{"step", 1, field.hi - field.lo + 1};
      if (!parse_value(s, steps, step)) return fail("step must be 1 or more, within the field");
    }
    if (!s.empty()) return fail("");
    for (int v = first; v <= last; v += step) bits |= std::uint64_t{1} << v;
    if (item.size() == rest.size()) return true;
    rest.remove_prefix(item.size() + 1);
  }
}

// The lowest allowed value >= from, or -1.
int next_allowed(std::uint64_t bits, int from, int limit) {
  if (from >= limit) return -1;
  const std::uint64_t left = bits >> from;
  return left == 0 ? -1 : from + std::countr_zero(left);
}

}  // namespace

std::optional<CronSchedule> CronSchedule::parse(std::string_view text, std::string* error) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  if (text.starts_with('@')) {
    const Macro* macro = nullptr;
    for (const Macro& m : kMacros) {
      if (m.name == text) macro = &m;
    }
    if (!macro) {
      if (error) *error = "unknown cron macro \"" + std::string(text) + "\"";
      return std::nullopt;
    }
    text = macro->fields;
  }

  std::vector<std::string_view> fields;
  for (std::size_t i = 0; i < text.size();) {
    if (is_space(text[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && !is_space(text[j])) ++j;
    fields.push_back(text.substr(i, j - i));
    i = j;
  }
  if (fields.size() != 5) {
    if (error) {
      *error = "cron needs 5 fields (MIN HOUR DOM MON DOW), got " + std::to_string(fields.size()) +
               " in \"" + std::string(text) + "\"";
    }
    return std::nullopt;
  }

  CronSchedule s;
  if (!parse_field(fields[0], kMinute, s.minutes_, error) ||
      !parse_field(fields[1], kHour, s.hours_, error) ||
      !parse_field(fields[2], kDayOfMonth, s.days_of_month_, error) ||
      !parse_field(fields[3], kMonth, s.months_, error) ||
      !parse_field(fields[4], kDayOfWeek, s.days_of_week_, error)) {
    return std::nullopt;
  }
  if (s.days_of_week_ & (1u << 7)) s.days_of_week_ = (s.days_of_week_ & 0x7f) | 1;  // 7: Sunday
  // Vixie cron decides "unrestricted" by the first character, so "*/2" counts as `*`.
  s.dom_starred_ = fields[2].starts_with('*');
  s.dow_starred_ = fields[4].starts_with('*');
  return s;
}

std::optional<std::chrono::sys_seconds> CronSchedule::next(std::chrono::sys_seconds after,
                                                           const TimeZone& tz) const {
  // Matching wall-clock times, taken in order, fire at non-decreasing instants (a skipped
  // time maps to the end of its gap, a repeated one to its first occurrence), and none
  // before the wall clock at `after` fires after it. So the answer is the first match
  // from there whose instant lies past `after`; at most a repeated hour's worth of
  // matches are passed over.
  const chr::local_seconds wall{after.time_since_epoch() + tz.offset(after)};
  const chr::year_month_day today{chr::floor<chr::days>(wall)};
  // Feb 29 plus 8 years may not exist; local_days then counts on into March.
  const chr::local_days last_day{(today.year() + chr::years{8}) / today.month() / today.day()};
  chr::local_seconds from = chr::floor<chr::minutes>(wall) + chr::minutes{1};
  while (const std::optional<chr::local_seconds> match = next_local_match(from, last_day)) {
    const chr::sys_seconds fires = tz.map_local(*match).earliest;
    if (fires > after) return fires;
    from = *match + chr::minutes{1};
  }
  return std::nullopt;
}

std::optional<std::chrono::local_seconds> CronSchedule::next_local_match(
    std::chrono::local_seconds from, std::chrono::local_days last_day) const {
  // Skips whole months, days and hours that cannot match, so even "0 0 30 2 *" costs a
  // few hundred steps over 8 years.
  chr::local_days day = chr::floor<chr::days>(from);
  const chr::hh_mm_ss<chr::seconds> time{from - day};
  int hour = static_cast<int>(time.hours().count());
  int minute = static_cast<int>(time.minutes().count());
  while (day <= last_day) {
    const chr::year_month_day ymd{day};
    if (!(months_ >> static_cast<unsigned>(ymd.month()) & 1)) {
      day = chr::local_days{(chr::year_month{ymd.year(), ymd.month()} + chr::months{1}) / 1};
      hour = minute = 0;
      continue;
    }
    const int h = day_matches(day) ? next_allowed(hours_, hour, 24) : -1;
    if (h < 0) {
      day += chr::days{1};
      hour = minute = 0;
      continue;
    }
    const int m = next_allowed(minutes_, h == hour ? minute : 0, 60);
    if (m < 0) {
      hour = h + 1;
      minute = 0;
      continue;
    }
    return day + chr::hours{h} + chr::minutes{m};
  }
  return std::nullopt;
}

bool CronSchedule::day_matches(std::chrono::local_days day) const {
  const chr::year_month_day ymd{day};
  const bool dom = days_of_month_ >> static_cast<unsigned>(ymd.day()) & 1;
  const bool dow = days_of_week_ >> chr::weekday{day}.c_encoding() & 1;
  return dom_starred_ || dow_starred_ ? dom && dow : dom || dow;
}

}  // namespace tg::scaling
