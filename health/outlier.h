// Outlier detection (tidegate's `outlier_detection`, after Envoy's consecutive-5xx
// detection): the control thread's view of which servers answer errors in a row,
// ejecting them for a time that grows with each ejection. Workers only count
// (Peer::note_response); this decides, with the clock given.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "balancing/membership.h"
#include "conf/config.h"

namespace tg::health {

class OutlierDetector {
 public:
  /// One pass over `group` (named `upstream` in the log) at `now`: returns the
  /// servers whose ejection ended, ejects those past the threshold while the
  /// group's share allows, and takes one off the ejection count of a server for
  /// each whole interval it has been back.
  void tick(const conf::OutlierDetection& cfg, const balancing::GroupMembership& group,
            balancing::TimePoint now);
  /// Times server `id` was ejected (its backoff multiplier), 0 if never.
  int ejections(std::uint64_t id) const;
  /// Forgets group `name` (a reload dropped its outlier_detection).
  void forget(std::string_view name) {
    if (auto it = groups_.find(name); it != groups_.end()) groups_.erase(it);
  }

 private:
  struct Server {
    int ejections = 0;
    std::optional<balancing::TimePoint> until;
    balancing::TimePoint quiet_since{};  ///< back in the group since (for the decay)
  };
  struct Group {
    std::map<std::uint64_t, Server> servers;
  };
  std::map<std::string, Group, std::less<>> groups_;
};

}  // namespace tg::health
