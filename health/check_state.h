// One health check's view of one server: consecutive results against `fails`
// and `passes` (NGINX Plus's semantics), without I/O or clocks.
#pragma once

namespace tg::health {

struct CheckState {
  int consecutive_fails = 0;
  int consecutive_passes = 0;
  bool healthy = true;   ///< this check's verdict
  bool checked = false;  ///< at least one check completed
};

enum class Transition { kNone, kBecameUnhealthy, kBecameHealthy };

/// Records one result. The first result of a server in `checking` decides at
/// once (NGINX Plus: `checking` lasts until the first check completes); after
/// that, `fails` consecutive failures make it unhealthy and `passes`
/// consecutive passes healthy again.
Transition record(CheckState& s, bool passed, int fails, int passes, bool checking);

}  // namespace tg::health
