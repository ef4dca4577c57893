#include "balancing/least_conn.h"

#include "balancing/eligibility.h"
#include "balancing/round_robin.h"

namespace tg::balancing {

PickerSlot* select_least_conn(std::span<PickerSlot> tier, const Attempt& attempt, TimePoint now,
                              std::vector<std::uint32_t>& ties, bool& saw_failed) noexcept {
  ties.clear();
  PickerSlot* best = nullptr;
  std::int64_t best_active = 0;
  for (std::uint32_t i = 0; i < tier.size(); ++i) {
    PickerSlot& slot = tier[i];
    const Eligibility e = eligibility(*slot.peer, attempt, now);
    if (e != Eligibility::kEligible) {
      saw_failed |= e == Eligibility::kFailed;
      continue;
    }
    // Read once: other workers change it concurrently, and both comparisons below must
    // see the same number.
    const std::int64_t active = slot.peer->active();
    if (best != nullptr) {
      const std::int64_t lhs = active * best->weight;
      const std::int64_t rhs = best_active * slot.weight;
      if (lhs > rhs) continue;
      if (lhs == rhs) {
        ties.push_back(i);  // capacity reserved by the picker: no allocation
        continue;
      }
    }
    best = &slot;
    best_active = active;
    ties.clear();
    ties.push_back(i);
  }
  if (ties.size() <= 1) return best;

  SmoothWeightedChoice choice;
  for (std::uint32_t i : ties) choice.offer(tier[i]);
  return choice.finish();
}

}  // namespace tg::balancing
