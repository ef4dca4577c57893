// Scheduled actions: the next match of each cron line in its zone, fired once.
#include "scaling/schedule.h"

#include <algorithm>
#include <stdexcept>

namespace tg::scaling {

std::string Schedules::check(const ScheduledAction& action) {
  std::string error;
  if (!CronSchedule::parse(action.cron, &error)) return error;
  if (!TimeZone::load(action.tz, &error)) return error;
  return {};
}

Schedules::Schedules(const std::vector<ScheduledAction>& actions, std::chrono::sys_seconds now) {
  for (const auto& a : actions) {
    std::string error;
    auto cron = CronSchedule::parse(a.cron, &error);
    if (!cron) throw std::invalid_argument(error);
    auto zone = TimeZone::load(a.tz, &error);
    if (!zone) throw std::invalid_argument(error);
    Entry e{a, std::move(*cron), std::move(*zone), std::nullopt};
    e.next = e.cron.next(now, e.zone);
    entries_.push_back(std::move(e));
  }
}

std::vector<const ScheduledAction*> Schedules::due(std::chrono::sys_seconds now) {
  std::vector<std::pair<std::chrono::sys_seconds, const ScheduledAction*>> fired;
  for (auto& e : entries_) {
    // A clock jump over several matches fires the line once, for the latest.
    std::optional<std::chrono::sys_seconds> at;
    while (e.next && *e.next <= now) {
      at = e.next;
      e.next = e.cron.next(*e.next, e.zone);
    }
    if (at) fired.emplace_back(*at, &e.action);
  }
  std::sort(fired.begin(), fired.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<const ScheduledAction*> out;
  for (const auto& [t, a] : fired) out.push_back(a);
  return out;
}

}  // namespace tg::scaling
