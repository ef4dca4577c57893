#include "balancing/group_picker.h"

#include <cassert>
#include <utility>

namespace tg::balancing {

GroupPicker::GroupPicker(std::shared_ptr<const UpstreamGroup> group, PickerMode mode,
                         std::uint64_t seed)
    : group_(std::move(group)),
      sticky_(group_->balancer().sticky.mode != StickyConfig::Mode::kNone),
      rng_(seed),
      primaries_(*group_, PickerTier::Kind::kPrimaries, mode),
      backups_(*group_, PickerTier::Kind::kBackups, mode) {}

GroupPicker::GroupPicker(std::shared_ptr<const UpstreamGroup> group, const GroupPicker& previous,
                         PickerMode mode)
    : GroupPicker(std::move(group), mode) {
  rng_ = previous.rng_;
  for (PickerTier* tier : {&primaries_, &backups_}) {
    for (const PickerSlot& slot : tier->slots()) {
      if (auto w = previous.weights_of(*slot.peer)) tier->set_weights(tier->index_of(slot), *w);
    }
  }
}

GroupPicker::~GroupPicker() {
  // A lease outliving its picker would write into freed slots.
  assert(outstanding_leases() == 0 && "GroupPicker destroyed with leases outstanding");
}

std::optional<Lease> GroupPicker::pick(Attempt& attempt, TimePoint now, const PickInput& input) {
  primaries_.refresh(now);
  backups_.refresh(now);
  const PickContext ctx{attempt, now, input, rng_};
  const std::optional<StickyTarget> bound =
      sticky_ ? group_->find_sticky(input.sticky) : std::nullopt;

  PickerTier* tier = &primaries_;
  PickerSlot* slot = nullptr;
  bool sticky_hit = false;
  if (bound && !bound->backup) {
    slot = primaries_.pick_sticky(bound->index, ctx);
    sticky_hit = slot != nullptr;
  }
  if (slot == nullptr) slot = primaries_.pick(ctx);
  if (slot == nullptr) {
    tier = &backups_;
    if (bound && bound->backup) {
      slot = backups_.pick_sticky(bound->index, ctx);
      sticky_hit = slot != nullptr;
    }
    if (slot == nullptr) slot = backups_.pick(ctx);
  }
  if (slot == nullptr) return std::nullopt;  // nginx: NGX_BUSY, "no live upstreams"
  attempt.record_pick(*slot->peer);          // may allocate: before the lease raises counts
  return Lease(*tier, *slot, now, sticky_hit);
}

bool GroupPicker::has_eligible(const Attempt& attempt, TimePoint now) const noexcept {
  for (const PickerTier* tier : {&primaries_, &backups_}) {
    for (const PickerSlot& slot : tier->slots()) {
      if (eligibility(*slot.peer, attempt, now, tier->passive_health()) == Eligibility::kEligible) {
        return true;
      }
    }
  }
  return false;
}

std::optional<WeightState> GroupPicker::weights_of(const Peer& peer) const noexcept {
  for (const PickerTier* tier : {&primaries_, &backups_}) {
    if (auto i = tier->find(peer); i >= 0) return tier->weights(static_cast<std::uint32_t>(i));
  }
  return std::nullopt;
}

}  // namespace tg::balancing
