#include "balancing/round_robin.h"

#include "balancing/eligibility.h"

namespace tg::balancing {

PickerSlot* select_round_robin(std::span<PickerSlot> tier, const Attempt& attempt, TimePoint now,
                               PassiveHealth passive) noexcept {
  SmoothWeightedChoice choice;
  for (PickerSlot& slot : tier) {
    if (eligibility(*slot.peer, attempt, now, passive) == Eligibility::kEligible) {
      choice.offer(slot);
    }
  }
  return choice.finish();
}

}  // namespace tg::balancing
