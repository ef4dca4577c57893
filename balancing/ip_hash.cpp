#include "balancing/ip_hash.h"

#include <cstdint>
#include <span>

namespace tg::balancing {

PickerSlot* select_ip_hash(PickerTier& tier, const PickContext& ctx) {
  if (tier.passive_health() == PassiveHealth::kIgnored) return tier.pick_round_robin(ctx);
  static constexpr std::uint8_t kPseudoAddress[3] = {0, 0, 0};
  std::span<const std::uint8_t> key = ctx.input.client_addr;
  if (key.size() == 4) {
    key = key.first(3);
  } else if (key.size() != 16) {
    key = kPseudoAddress;
  }

  const WeightTable& weights = tier.tables().weights;
  std::span<PickerSlot> slots = tier.slots();
  std::uint32_t hash = 89;
  for (int tries = 0;;) {
    for (std::uint8_t byte : key) hash = (hash * 113 + byte) % 6271;
    PickerSlot& slot = slots[weights.find(hash % weights.total())];
    if (eligibility(*slot.peer, ctx.attempt, ctx.now, tier.passive_health()) ==
        Eligibility::kEligible) {
      return &slot;
    }
    if (++tries > 20) return tier.pick_round_robin(ctx);
  }
}

}  // namespace tg::balancing
