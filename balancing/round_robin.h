// Smooth weighted round robin (nginx's ngx_http_upstream_get_peer).
#pragma once

#include <span>

#include "balancing/attempt.h"
#include "balancing/eligibility.h"
#include "balancing/picker_slot.h"

namespace tg::balancing {

/// One round of nginx's smooth weighted round robin over the peers offered to it:
/// each offered peer gains its effective_weight (which recovers by 1 towards weight;
/// slow_start caps what it adds, see PickerSlot::round_weight), the highest
/// current_weight wins (first one on ties) and pays back the total.
/// Weights 5, 1, 1 give a a b a c a a. Also the tie-breaker of least_conn and least_time.
class SmoothWeightedChoice {
 public:
  void offer(PickerSlot& slot) noexcept {
    const int w = slot.round_weight();
    slot.current_weight += w;
    total_ += w;
    if (slot.effective_weight < slot.weight) ++slot.effective_weight;
    if (best_ == nullptr || slot.current_weight > best_->current_weight) best_ = &slot;
  }

  /// The winner (nullptr if nothing was offered), after paying back the total.
  PickerSlot* finish() noexcept {
    if (best_ != nullptr) best_->current_weight -= total_;
    return best_;
  }

 private:
  PickerSlot* best_ = nullptr;
  std::int64_t total_ = 0;
};

/// Picks among the eligible peers of `tier` (see eligibility(); `passive` says whether
/// max_fails can keep them out) by smooth weighted round robin. Returns nullptr when none
/// is eligible.
PickerSlot* select_round_robin(std::span<PickerSlot> tier, const Attempt& attempt, TimePoint now,
                               PassiveHealth passive = PassiveHealth::kApplies) noexcept;

}  // namespace tg::balancing
