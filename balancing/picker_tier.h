// One worker's view of one tier (primaries or backups) of a group.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "balancing/attempt.h"
#include "balancing/eligibility.h"
#include "balancing/picker_slot.h"
#include "balancing/smooth_weighted_index.h"
#include "balancing/upstream_group.h"

namespace tg::balancing {

/// The current and effective weights a worker keeps for one peer.
struct WeightState {
  int current_weight = 0;
  int effective_weight = 0;
};

/// How a picker runs the algorithms.
enum class PickerMode {
  kIndexed,  ///< default: cached eligible set + SmoothWeightedIndex, scan when needed
  kScan,     ///< nginx's full scan on every pick (reference behaviour, for verification)
};

/// A worker's picking state for one tier of a group: its per-peer weights, a cache of
/// which peers' standing is fine, and the smooth-WRR index over them.
///
/// Fast path (pick_fast): when the request has tried nothing yet, no capped peer is at
/// max_conns, every cached member has recovered its effective weight, and (least_conn)
/// no member has an active connection, every member would be offered and tie, so the
/// pick is one SmoothWeightedIndex round: O(distinct weights + log n) instead of O(n).
/// Otherwise pick_general runs nginx's scan over the slots, after storing the index's
/// weights back. The cache is rebuilt when Peer::standing_epoch() moves or when the
/// earliest failed member's fail_timeout runs out.
///
/// With PassiveHealth::kIgnored (the primaries of a group with exactly one primary,
/// nginx's `peers->single`) no member is ever left out for max_fails, and a failed lease
/// does not lower the effective weight (nginx's free_peer returns early for `single`);
/// Peer::fails() still counts the failures.
class PickerTier {
 public:
  PickerTier(const UpstreamGroup::Peers& peers, PickerMode mode,
             PassiveHealth passive = PassiveHealth::kApplies);

  PickerTier(const PickerTier&) = delete;
  PickerTier& operator=(const PickerTier&) = delete;

  /// The fast path. Returns the winner; or nullptr with `fallback` false when no peer of
  /// the tier has good standing, or `fallback` true when pick_general must decide.
  PickerSlot* pick_fast(Algorithm algorithm, TimePoint now, bool& fallback);

  /// nginx's scan; nullptr when no peer of the tier is eligible.
  PickerSlot* pick_general(Algorithm algorithm, const Attempt& attempt, TimePoint now);

  /// Lease release with failure: effective_weight -= weight / max_fails (not when
  /// passive health is ignored).
  void on_failure(std::uint32_t slot) noexcept;

  PassiveHealth passive_health() const noexcept { return passive_; }

  std::uint32_t index_of(const PickerSlot& slot) const noexcept {
    return static_cast<std::uint32_t>(&slot - slots_.data());
  }
  /// Slot index of `peer`, or -1.
  std::ptrdiff_t find(const Peer& peer) const noexcept;
  WeightState weights(std::uint32_t slot) const noexcept;
  void set_weights(std::uint32_t slot, WeightState w) noexcept;
  const std::vector<PickerSlot>& slots() const noexcept { return slots_; }

  /// Leases from this tier not yet released.
  std::size_t outstanding() const noexcept { return outstanding_; }

 private:
  friend class Lease;

  void refresh_standing(TimePoint now);
  bool build_index();
  void store_index() noexcept;

  PickerMode mode_;
  PassiveHealth passive_;
  std::size_t outstanding_ = 0;
  std::vector<PickerSlot> slots_;
  std::vector<std::uint32_t> ties_;  ///< least_conn scratch

  // Cached standing: which slots are available and not failed.
  bool standing_valid_ = false;
  std::uint64_t standing_epoch_ = 0;
  std::int64_t standing_valid_until_ = std::numeric_limits<std::int64_t>::max();
  std::vector<std::uint32_t> members_;
  std::vector<const Peer*> member_peers_;
  std::vector<std::uint32_t> capped_members_;  ///< members with max_conns > 0

  bool index_valid_ = false;  ///< index holds the members' current weights
  SmoothWeightedIndex index_;
};

}  // namespace tg::balancing
