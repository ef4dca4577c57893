#include "balancing/group_picker.h"

#include <cassert>
#include <utility>

namespace tg::balancing {

GroupPicker::GroupPicker(std::shared_ptr<const UpstreamGroup> group, PickerMode mode)
    : group_(std::move(group)),
      algorithm_(group_->algorithm()),
      primaries_(group_->primaries(), mode,
                 group_->single() ? PassiveHealth::kIgnored : PassiveHealth::kApplies),
      backups_(group_->backups(), mode) {}

GroupPicker::GroupPicker(std::shared_ptr<const UpstreamGroup> group, const GroupPicker& previous,
                         PickerMode mode)
    : GroupPicker(std::move(group), mode) {
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

std::optional<Lease> GroupPicker::pick(Attempt& attempt, TimePoint now) {
  PickerTier* tier = nullptr;
  PickerSlot* slot = nullptr;
  bool fallback = false;
  if (attempt.empty()) {
    // A request's first pick: usually answered from the index without a scan.
    slot = primaries_.pick_fast(algorithm_, now, fallback);
    tier = &primaries_;
    if (slot == nullptr && !fallback) {
      slot = backups_.pick_fast(algorithm_, now, fallback);
      tier = &backups_;
    }
  }
  if (slot == nullptr) {
    slot = select_general(attempt, now, tier);
    if (slot == nullptr) return std::nullopt;  // nginx: NGX_BUSY, "no live upstreams"
  }
  attempt.record_pick(*slot->peer);  // may allocate: before the lease raises counts
  return Lease(*tier, *slot, now);
}

PickerSlot* GroupPicker::select_general(const Attempt& attempt, TimePoint now, PickerTier*& tier) {
  tier = &primaries_;
  if (PickerSlot* slot = primaries_.pick_general(algorithm_, attempt, now)) return slot;
  tier = &backups_;
  return backups_.pick_general(algorithm_, attempt, now);
}

std::optional<WeightState> GroupPicker::weights_of(const Peer& peer) const noexcept {
  for (const PickerTier* tier : {&primaries_, &backups_}) {
    if (auto i = tier->find(peer); i >= 0) return tier->weights(static_cast<std::uint32_t>(i));
  }
  return std::nullopt;
}

}  // namespace tg::balancing
