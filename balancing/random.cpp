#include "balancing/random.h"

#include "balancing/least_time.h"

namespace tg::balancing {

namespace {

/// One weighted draw among the members; nullptr when the draw is not eligible.
PickerSlot* draw(PickerTier& tier, const PickContext& ctx) noexcept {
  PickerSlot& slot = tier.slots()[tier.draw_member(ctx.rng)];
  return request_eligibility(*slot.peer, ctx.attempt) == Eligibility::kEligible ? &slot : nullptr;
}

}  // namespace

PickerSlot* select_random(PickerTier& tier, const PickContext& ctx) {
  if (tier.members().empty()) return nullptr;
  for (int tries = 0;;) {
    if (PickerSlot* slot = draw(tier, ctx)) return slot;
    if (++tries > 20) return tier.pick_round_robin(ctx);
  }
}

int draw_two(PickerTier& tier, const PickContext& ctx, PickerSlot* out[2]) {
  if (tier.members().empty()) return 0;
  if (tier.members().size() == 1) {  // no second to find: skip the 20 draws
    out[0] = draw(tier, ctx);
    return out[0] != nullptr ? 1 : 0;
  }
  int found = 0;
  for (int tries = 0; tries <= 20; ++tries) {
    PickerSlot* slot = draw(tier, ctx);
    if (slot == nullptr || (found == 1 && slot == out[0])) continue;
    out[found++] = slot;
    if (found == 2) break;
  }
  return found;
}

PickerSlot* select_random_two(PickerTier& tier, const PickContext& ctx) {
  PickerSlot* two[2] = {nullptr, nullptr};
  const int found = draw_two(tier, ctx, two);
  if (found == 0) return tier.members().empty() ? nullptr : tier.pick_round_robin(ctx);
  if (found == 1) return two[0];
  const PickerSlot& first = *two[0];
  const PickerSlot& second = *two[1];
  bool first_wins;
  if (tier.balancer().two_mode == BalancerConfig::TwoMode::kLeastTime) {
    const TimeMetric metric = tier.balancer().metric;
    const bool inflight = tier.balancer().inflight;
    first_wins = lighter(least_time_load(*first.peer, metric, inflight, ctx.now), first.weight,
                         least_time_load(*second.peer, metric, inflight, ctx.now), second.weight);
  } else {
    first_wins = lighter(static_cast<std::uint64_t>(first.peer->active()), first.weight,
                         static_cast<std::uint64_t>(second.peer->active()), second.weight);
  }
  return first_wins ? two[0] : two[1];
}

}  // namespace tg::balancing
