#include "health/check_state.h"

namespace tg::health {

Transition record(CheckState& s, bool passed, int fails, int passes, bool checking) {
  const bool was = s.healthy;
  s.checked = true;
  if (passed) {
    s.consecutive_fails = 0;
    ++s.consecutive_passes;
    if (!s.healthy && (checking || s.consecutive_passes >= passes)) s.healthy = true;
  } else {
    s.consecutive_passes = 0;
    ++s.consecutive_fails;
    if (s.healthy && (checking || s.consecutive_fails >= fails)) s.healthy = false;
  }
  if (was == s.healthy) return Transition::kNone;
  return s.healthy ? Transition::kBecameHealthy : Transition::kBecameUnhealthy;
}

}  // namespace tg::health
