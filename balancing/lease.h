// RAII pick/release pair (nginx's get_peer/free_peer).
#pragma once

#include <cstdint>
#include <utility>

#include "balancing/peer.h"
#include "balancing/picker_tier.h"

namespace tg::balancing {

/// RAII pick/release pair: keeps the peer's active count raised while held.
///
/// Created only by GroupPicker::pick, which raises the peer's active and request counts.
/// release() reports the outcome once: it lowers active and applies passive health
/// (failure: fails++, checked = accessed = now, and the picking worker's
/// effective_weight drops by weight / max_fails). The destructor releases as success.
///
/// Single-threaded like its picker: release on the worker that picked, and keep the
/// GroupPicker alive until all its leases are gone (see GroupPicker).
class Lease {
 public:
  Lease(Lease&& other) noexcept
      : tier_(other.tier_),
        peer_(std::exchange(other.peer_, nullptr)),
        slot_(other.slot_),
        held_(std::exchange(other.held_, false)) {}

  Lease& operator=(Lease&& other) noexcept {
    if (this != &other) {
      release(Outcome::kSuccess, TimePoint{});
      tier_ = other.tier_;
      peer_ = std::exchange(other.peer_, nullptr);
      slot_ = other.slot_;
      held_ = std::exchange(other.held_, false);
    }
    return *this;
  }

  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  /// Releases as success (a success never reads the time, so none is needed).
  ~Lease() { release(Outcome::kSuccess, TimePoint{}); }

  /// The picked server. Valid until the lease is moved from, also after release().
  Peer& peer() const noexcept { return *peer_; }

  /// Reports the outcome and gives the peer back. Only the first call has an effect.
  void release(Outcome outcome, TimePoint now) noexcept {
    if (!held_) return;
    held_ = false;
    if (outcome == Outcome::kFailure) tier_->on_failure(slot_);
    peer_->on_released(outcome, now);
    --tier_->outstanding_;
  }

  /// True once release() ran (or the lease was moved from).
  bool released() const noexcept { return !held_; }

 private:
  friend class GroupPicker;

  Lease(PickerTier& tier, PickerSlot& slot, TimePoint now) noexcept
      : tier_(&tier), peer_(slot.peer), slot_(tier.index_of(slot)), held_(true) {
    peer_->on_picked(now);
    ++tier.outstanding_;
  }

  PickerTier* tier_;
  Peer* peer_;
  std::uint32_t slot_;
  bool held_;
};

}  // namespace tg::balancing
