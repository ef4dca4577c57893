// RAII pick/release pair (nginx's get_peer/free_peer).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <utility>

#include "balancing/peer.h"
#include "balancing/pick_input.h"
#include "balancing/picker_tier.h"

namespace tg::balancing {

/// RAII pick/release pair: keeps the peer's active count raised while held.
///
/// Created only by GroupPicker::pick, which raises the peer's active and request counts.
/// release() reports the outcome once: it lowers active, applies passive health
/// (failure: fails++, checked = accessed = now, and the picking worker's
/// effective_weight drops by weight / max_fails), and feeds the response times to the
/// peer's averages (least_time, peak_ewma). The destructor releases as success, without
/// times.
///
/// Single-threaded like its picker: release on the worker that picked, and keep the
/// GroupPicker alive until all its leases are gone (see GroupPicker).
class Lease {
 public:
  Lease(Lease&& other) noexcept
      : tier_(other.tier_),
        peer_(std::exchange(other.peer_, nullptr)),
        slot_(other.slot_),
        held_(std::exchange(other.held_, false)),
        sticky_hit_(other.sticky_hit_),
        tracks_inflight_(other.tracks_inflight_),
        picked_at_(other.picked_at_) {}

  Lease& operator=(Lease&& other) noexcept {
    if (this != &other) {
      release(Outcome::kSuccess, TimePoint{});
      tier_ = other.tier_;
      peer_ = std::exchange(other.peer_, nullptr);
      slot_ = other.slot_;
      held_ = std::exchange(other.held_, false);
      sticky_hit_ = other.sticky_hit_;
      tracks_inflight_ = other.tracks_inflight_;
      picked_at_ = other.picked_at_;
    }
    return *this;
  }

  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  /// Releases as success (a success never reads the time, so none is needed).
  ~Lease() { release(Outcome::kSuccess, TimePoint{}); }

  /// The picked server. Valid until the lease is moved from, also after release().
  Peer& peer() const noexcept { return *peer_; }

  /// The picked server's sticky id (cookie value, route) in the group snapshot.
  const std::string& sticky_id() const noexcept { return *tier_->slots()[slot_].sticky_id; }

  /// True when the request's sticky cookie/route chose this server (PickInput::sticky):
  /// the client is already bound to it, so the proxy need not set the cookie again.
  bool sticky_hit() const noexcept { return sticky_hit_; }

  /// Reports the outcome and gives the peer back; `times`, when measured, feed the
  /// peer's response-time averages (any algorithm records them; least_time and peak_ewma
  /// pick by them). `now` is the time of the outcome. Only the first call has an effect.
  void release(Outcome outcome, TimePoint now, const ResponseTimes& times = {}) noexcept {
    if (!held_) return;
    held_ = false;
    if (outcome == Outcome::kFailure) tier_->on_failure(slot_);
    if (!times.empty()) peer_->record_times(times, now, tier_->timing_feed());
    peer_->on_released(outcome, now,
                       tracks_inflight_ ? std::optional<std::int64_t>(picked_at_) : std::nullopt);
    --tier_->outstanding_;
  }

  /// True once release() ran (or the lease was moved from).
  bool released() const noexcept { return !held_; }

 private:
  friend class GroupPicker;

  Lease(PickerTier& tier, PickerSlot& slot, TimePoint now, bool sticky_hit) noexcept
      : tier_(&tier),
        peer_(slot.peer),
        slot_(tier.index_of(slot)),
        held_(true),
        sticky_hit_(sticky_hit),
        tracks_inflight_(tier.timing_feed().track_inflight),
        picked_at_(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count()) {
    peer_->on_picked(picked_at_, tracks_inflight_);
    ++tier.outstanding_;
  }

  PickerTier* tier_;
  Peer* peer_;
  std::uint32_t slot_;
  bool held_;
  bool sticky_hit_;
  bool tracks_inflight_;
  std::int64_t picked_at_;  ///< ns since the clock's epoch
};

}  // namespace tg::balancing
