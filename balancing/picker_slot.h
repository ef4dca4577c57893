// One worker's smooth weighted round-robin state for one peer.
#pragma once

#include <cstdint>
#include <string>

#include "balancing/peer.h"

namespace tg::balancing {

/// Per-worker, per-peer weights (nginx keeps them in the shared peer under a lock; here
/// each worker owns its own copy, so the request path takes no lock). A worker's
/// sequence is still nginx's smooth sequence; across N workers each runs its own.
struct PickerSlot {
  Peer* peer = nullptr;
  const std::string* sticky_id = nullptr;  ///< in the group snapshot
  int weight = 1;                          ///< configured weight (>= 1)
  int max_fails = 1;  ///< configured max_fails, for the effective_weight penalty
  std::int64_t current_weight = 0;
  int effective_weight = 1;  ///< starts at weight; lowered by failures, +1 per scan
  /// weight as slow_start allows it now (Peer::slow_start_weight); == weight unless the
  /// tier is ramping. Caps effective_weight in rounds and replaces weight in comparisons.
  int ramped_weight = 1;

  PickerSlot(Peer& p, const std::string& id)
      : peer(&p),
        sticky_id(&id),
        weight(p.weight()),
        max_fails(p.max_fails()),
        effective_weight(weight),
        ramped_weight(weight) {}

  /// The weight this slot adds to a smooth round: effective_weight, capped by slow start.
  int round_weight() const noexcept {
    return effective_weight < ramped_weight ? effective_weight : ramped_weight;
  }

  /// nginx free_peer on failure: effective_weight -= weight / max_fails, not below 0,
  /// so a flaky server gets a smaller share until it recovers.
  void on_failure() noexcept {
    if (max_fails > 0) effective_weight -= weight / max_fails;
    if (effective_weight < 0) effective_weight = 0;
  }
};

}  // namespace tg::balancing
