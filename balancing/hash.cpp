#include "balancing/hash.h"

#include <charconv>
#include <cstdint>

#include "balancing/crc32.h"

namespace tg::balancing {

PickerSlot* select_hash(PickerTier& tier, const PickContext& ctx) {
  const std::string_view key = ctx.input.hash_key;
  if (key.empty() || tier.passive_health() == PassiveHealth::kIgnored) {
    return tier.pick_round_robin(ctx);
  }
  const WeightTable& weights = tier.tables().weights;
  std::span<PickerSlot> slots = tier.slots();
  std::uint64_t hash = 0;  // nginx: ngx_uint_t
  for (int rehash = 0, tries = 0;; ++rehash) {
    Crc32 crc;
    if (rehash > 0) {
      char digits[16];
      const auto end = std::to_chars(digits, digits + sizeof digits, rehash).ptr;
      crc.update(std::string_view(digits, static_cast<std::size_t>(end - digits)));
    }
    hash += (crc.update(key).final() >> 16) & 0x7fff;
    PickerSlot& slot = slots[weights.find(hash % weights.total())];
    if (eligibility(*slot.peer, ctx.attempt, ctx.now, tier.passive_health()) ==
        Eligibility::kEligible) {
      return &slot;
    }
    if (++tries > 20) return tier.pick_round_robin(ctx);
  }
}

}  // namespace tg::balancing
