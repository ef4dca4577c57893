#include "balancing/consistent_hash.h"

#include "balancing/crc32.h"

namespace tg::balancing {

PickerSlot* select_consistent_hash(PickerTier& tier, const PickContext& ctx) {
  const HashRing& ring = tier.tables().ring;
  if (ctx.input.hash_key.empty() || ring.empty() ||
      tier.passive_health() == PassiveHealth::kIgnored) {
    return tier.pick_round_robin(ctx);
  }
  std::span<PickerSlot> slots = tier.slots();
  const std::size_t start = ring.lower_bound(crc32(ctx.input.hash_key));
  for (std::size_t tries = 0;; ++tries) {
    PickerSlot& slot = slots[ring.owner(start + tries)];
    if (eligibility(*slot.peer, ctx.attempt, ctx.now, tier.passive_health()) ==
        Eligibility::kEligible) {
      return &slot;
    }
    if (tries + 1 > 20) return tier.pick_round_robin(ctx);
  }
}

}  // namespace tg::balancing
