#include "balancing/group_picker.h"

#include <algorithm>
#include <cassert>
#include <unordered_map>
#include <utility>

#include "balancing/least_conn.h"
#include "balancing/round_robin.h"

namespace tg::balancing {

namespace {

std::vector<PickerSlot> make_slots(const UpstreamGroup::Peers& peers) {
  std::vector<PickerSlot> slots;
  slots.reserve(peers.size());
  for (const auto& peer : peers) slots.emplace_back(*peer);
  return slots;
}

}  // namespace

GroupPicker::GroupPicker(std::shared_ptr<const UpstreamGroup> group)
    : group_(std::move(group)),
      algorithm_(group_->algorithm()),
      primaries_(make_slots(group_->primaries())),
      backups_(make_slots(group_->backups())) {
  ties_.reserve(std::max(primaries_.size(), backups_.size()));
}

GroupPicker::GroupPicker(std::shared_ptr<const UpstreamGroup> group, const GroupPicker& previous)
    : GroupPicker(std::move(group)) {
  std::unordered_map<const Peer*, const PickerSlot*> old;
  for (const auto* tier : {&previous.primaries_, &previous.backups_}) {
    for (const PickerSlot& slot : *tier) old.emplace(slot.peer, &slot);
  }
  for (auto* tier : {&primaries_, &backups_}) {
    for (PickerSlot& slot : *tier) {
      if (auto it = old.find(slot.peer); it != old.end()) {
        slot.current_weight = it->second->current_weight;
        slot.effective_weight = it->second->effective_weight;
      }
    }
  }
}

GroupPicker::~GroupPicker() {
  // A lease outliving its picker would write into freed slots.
  assert(outstanding_ == 0 && "GroupPicker destroyed with leases outstanding");
}

std::optional<Lease> GroupPicker::pick(Attempt& attempt, TimePoint now) {
  bool saw_failed = false;
  PickerSlot* slot = select_primary_then_backup(attempt, now, saw_failed);
  if (slot == nullptr) {
    if (!saw_failed) return std::nullopt;
    reset_fails();
    slot = select_primary_then_backup(attempt, now, saw_failed);
    if (slot == nullptr) return std::nullopt;
  }
  attempt.record_pick(*slot->peer);  // may allocate: before the lease raises counts
  return Lease(*slot, outstanding_, now);
}

const PickerSlot* GroupPicker::slot_of(const Peer& peer) const noexcept {
  for (const auto* tier : {&primaries_, &backups_}) {
    for (const PickerSlot& slot : *tier) {
      if (slot.peer == &peer) return &slot;
    }
  }
  return nullptr;
}

PickerSlot* GroupPicker::select(std::span<PickerSlot> tier, const Attempt& attempt, TimePoint now,
                                bool& saw_failed) noexcept {
  switch (algorithm_) {
    case Algorithm::kLeastConn:
      return select_least_conn(tier, attempt, now, ties_, saw_failed);
    case Algorithm::kRoundRobin:
      break;
  }
  return select_round_robin(tier, attempt, now, saw_failed);
}

PickerSlot* GroupPicker::select_primary_then_backup(const Attempt& attempt, TimePoint now,
                                                    bool& saw_failed) noexcept {
  if (PickerSlot* slot = select(primaries_, attempt, now, saw_failed)) return slot;
  if (backups_.empty()) return nullptr;
  return select(backups_, attempt, now, saw_failed);
}

void GroupPicker::reset_fails() noexcept {
  for (auto* tier : {&primaries_, &backups_}) {
    for (PickerSlot& slot : *tier) slot.peer->reset_fails();
  }
}

}  // namespace tg::balancing
