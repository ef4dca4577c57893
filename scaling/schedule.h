// Scheduled actions (AWS's `Recurrence` with a `TimeZone`): which of an `autoscale`
// block's `schedule` lines are due, each once, on the wall clock.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "scaling/cron.h"
#include "scaling/spec.h"
#include "scaling/time_zone.h"

namespace tg::scaling {

/// The `schedule` lines of one block with their next firing times.
class Schedules {
 public:
  /// Checks one line: its cron text and time zone ("" when fine, else the message).
  static std::string check(const ScheduledAction& action);

  /// Throws std::invalid_argument (check()'s message) for a bad line. Actions fire
  /// only after `now`: a restart does not replay the past.
  Schedules(const std::vector<ScheduledAction>& actions, std::chrono::sys_seconds now);

  /// The actions due at or before `now`, oldest first; each fires once per match.
  std::vector<const ScheduledAction*> due(std::chrono::sys_seconds now);

 private:
  struct Entry {
    ScheduledAction action;
    CronSchedule cron;
    TimeZone zone;
    std::optional<std::chrono::sys_seconds> next;
  };
  std::vector<Entry> entries_;
};

}  // namespace tg::scaling
