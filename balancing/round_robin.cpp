#include "balancing/round_robin.h"

#include "balancing/eligibility.h"

namespace tg::balancing {

PickerSlot* select_round_robin(std::span<PickerSlot> tier, const Attempt& attempt, TimePoint now,
                               bool& saw_failed) noexcept {
  SmoothWeightedChoice choice;
  for (PickerSlot& slot : tier) {
    const Eligibility e = eligibility(*slot.peer, attempt, now);
    if (e != Eligibility::kEligible) {
      saw_failed |= e == Eligibility::kFailed;
      continue;
    }
    choice.offer(slot);
  }
  return choice.finish();
}

}  // namespace tg::balancing
