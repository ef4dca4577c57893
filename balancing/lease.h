// RAII pick/release pair (nginx's get_peer/free_peer).
#pragma once

#include <cstddef>
#include <utility>

#include "balancing/peer.h"
#include "balancing/picker_slot.h"

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
      : slot_(std::exchange(other.slot_, nullptr)),
        outstanding_(other.outstanding_),
        held_(std::exchange(other.held_, false)) {}

  Lease& operator=(Lease&& other) noexcept {
    if (this != &other) {
      release(Outcome::kSuccess, TimePoint{});
      slot_ = std::exchange(other.slot_, nullptr);
      outstanding_ = other.outstanding_;
      held_ = std::exchange(other.held_, false);
    }
    return *this;
  }

  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  /// Releases as success (a success never reads the time, so none is needed).
  ~Lease() { release(Outcome::kSuccess, TimePoint{}); }

  /// The picked server. Valid until the lease is moved from, also after release().
  Peer& peer() const noexcept { return *slot_->peer; }

  /// Reports the outcome and gives the peer back. Only the first call has an effect.
  void release(Outcome outcome, TimePoint now) noexcept {
    if (!held_) return;
    held_ = false;
    if (outcome == Outcome::kFailure) slot_->on_failure();
    slot_->peer->on_released(outcome, now);
    --*outstanding_;
  }

  /// True once release() ran (or the lease was moved from).
  bool released() const noexcept { return !held_; }

 private:
  friend class GroupPicker;

  Lease(PickerSlot& slot, std::size_t& outstanding, TimePoint now) noexcept
      : slot_(&slot), outstanding_(&outstanding), held_(true) {
    slot.peer->on_picked(now);
    ++outstanding;
  }

  PickerSlot* slot_;
  std::size_t* outstanding_;  ///< the picker's count of unreleased leases
  bool held_;
};

}  // namespace tg::balancing
