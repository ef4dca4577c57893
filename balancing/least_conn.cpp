#include "balancing/least_conn.h"

#include "balancing/eligibility.h"
#include "balancing/round_robin.h"

namespace tg::balancing {

void least_loaded(std::span<const PickerSlot> tier, const Attempt& attempt, TimePoint now,
                  std::vector<std::uint32_t>& ties, PassiveHealth passive) noexcept {
  ties.clear();
  std::int64_t best_active = 0;
  std::int64_t best_weight = 0;
  for (std::uint32_t i = 0; i < tier.size(); ++i) {
    const PickerSlot& slot = tier[i];
    if (eligibility(*slot.peer, attempt, now, passive) != Eligibility::kEligible) continue;
    // Read once: other workers change it concurrently, and both comparisons below must
    // see the same number.
    const std::int64_t active = slot.peer->active();
    if (!ties.empty()) {
      const std::int64_t lhs = active * best_weight;
      const std::int64_t rhs = best_active * slot.ramped_weight;
      if (lhs > rhs) continue;
      if (lhs == rhs) {
        ties.push_back(i);  // capacity reserved by the caller: no allocation
        continue;
      }
      ties.clear();
    }
    best_active = active;
    best_weight = slot.ramped_weight;
    ties.push_back(i);
  }
}

PickerSlot* select_least_conn(std::span<PickerSlot> tier, const Attempt& attempt, TimePoint now,
                              std::vector<std::uint32_t>& ties, PassiveHealth passive) noexcept {
  least_loaded(tier, attempt, now, ties, passive);
  if (ties.size() <= 1) return ties.empty() ? nullptr : &tier[ties.front()];
  SmoothWeightedChoice choice;
  for (std::uint32_t i : ties) choice.offer(tier[i]);
  return choice.finish();
}

}  // namespace tg::balancing
