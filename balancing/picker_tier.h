// One worker's view of one tier (primaries or backups) of a group.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "balancing/alias_table.h"
#include "balancing/attempt.h"
#include "balancing/eligibility.h"
#include "balancing/pick_input.h"
#include "balancing/picker_slot.h"
#include "balancing/random_source.h"
#include "balancing/smooth_weighted_index.h"
#include "balancing/upstream_group.h"

namespace tg::balancing {

/// The current and effective weights a worker keeps for one peer.
struct WeightState {
  std::int64_t current_weight = 0;
  int effective_weight = 0;
};

/// How a picker runs the algorithms.
enum class PickerMode {
  kIndexed,  ///< default: cached eligible set + SmoothWeightedIndex, scan when needed
  kScan,     ///< nginx's full scan on every round robin / least_conn pick (reference)
};

/// Everything one pick reads besides the tier: the request and the worker's RNG.
struct PickContext {
  const Attempt& attempt;
  TimePoint now;
  const PickInput& input;
  SplitMix64& rng;
};

/// A worker's picking state for one tier of a group: its per-peer weights, a cache of
/// which peers' standing is fine (the "members"), and the smooth-WRR index over them.
/// pick() dispatches to the group's algorithm (one file each); they rank only peers the
/// one eligibility check allows, reading standing from the cache where they can.
///
/// Round robin / least_conn fast path (pick_fast): when the request has tried nothing
/// yet, no capped peer is at max_conns, every cached member has recovered its effective
/// weight, no member is in its slow_start ramp, and (least_conn) no member has an active
/// connection, every member would be offered and tie, so the pick is one
/// SmoothWeightedIndex round: O(distinct weights + log n) instead of O(n). Otherwise
/// pick_general runs nginx's scan over the slots, after storing the index's weights
/// back. The cache is rebuilt when the group's standing epoch moves or when the earliest
/// failed member's fail_timeout runs out; each rebuild also observe()s every peer, which
/// begins pending slow-start ramps and dates pending drains.
///
/// With PassiveHealth::kIgnored (the primaries of a group with exactly one primary,
/// nginx's `peers->single`) no member is ever left out for max_fails, a failed lease
/// does not lower the effective weight (nginx's free_peer returns early for `single`),
/// and slow_start does not apply (nginx ignores it for a single server);
/// Peer::fails() still counts the failures.
class PickerTier {
 public:
  /// Which tier of the group.
  enum class Kind { kPrimaries, kBackups };

  /// The tier's passive health is kIgnored for the primaries of a single() group.
  PickerTier(const UpstreamGroup& group, Kind kind, PickerMode mode);

  PickerTier(const PickerTier&) = delete;
  PickerTier& operator=(const PickerTier&) = delete;

  /// Brings the cached standing up to date; cheap when nothing changed. Call before
  /// every pick.
  void refresh(TimePoint now);

  /// The group's algorithm over this tier; nullptr when no peer is eligible.
  PickerSlot* pick(const PickContext& ctx);

  /// Slot `index` if it may take a request bound to it by `sticky` (draining is fine).
  PickerSlot* pick_sticky(std::uint32_t index, const PickContext& ctx) noexcept;

  /// nginx's round robin over the tier: the fallback of hash, ip_hash and random.
  PickerSlot* pick_round_robin(const PickContext& ctx);

  /// Smooth weighted round robin among `ties` only (tie-break of least_conn, least_time).
  PickerSlot* break_tie(std::span<const std::uint32_t> ties);

  /// Lease release with failure: effective_weight -= weight / max_fails (not when
  /// passive health is ignored).
  void on_failure(std::uint32_t slot) noexcept;

  // For the algorithms.
  std::span<PickerSlot> slots() noexcept { return slots_; }
  const std::vector<PickerSlot>& slots() const noexcept { return slots_; }
  /// Slots whose standing is fine (see standing()), in slot order; current after refresh().
  std::span<const std::uint32_t> members() const noexcept { return members_; }
  /// True if a member has max_conns (then every pick must check it).
  bool has_capped_members() const noexcept { return !capped_members_.empty(); }
  /// The peers of members(), in the same order.
  std::span<const Peer* const> member_peers() const noexcept { return member_peers_; }
  /// 1 / ramped_weight of members(), in the same order (least_time's per-weight keys).
  std::span<const double> member_inv_weights() const noexcept { return member_inv_weights_; }
  /// A member's slot, drawn with probability weight / total weight of the members
  /// (random, random two, peak_ewma). Precondition: !members().empty().
  std::uint32_t draw_member(SplitMix64& rng) const noexcept {
    return members_[member_draws_.draw(rng)];
  }
  const TierTables& tables() const noexcept { return tables_; }
  const BalancerConfig& balancer() const noexcept { return balancer_; }
  PassiveHealth passive_health() const noexcept { return passive_; }
  /// Scratch for algorithms collecting tied slots (capacity: one per slot).
  std::vector<std::uint32_t>& ties() noexcept { return ties_; }
  /// Sets every slot's ramped_weight for `now` (slow_start); no-op when none is ramping.
  void update_ramp(TimePoint now) noexcept;
  const TimingFeed& timing_feed() const noexcept { return feed_; }

  std::uint32_t index_of(const PickerSlot& slot) const noexcept {
    return static_cast<std::uint32_t>(&slot - slots_.data());
  }
  /// Slot index of `peer`, or -1.
  std::ptrdiff_t find(const Peer& peer) const noexcept;
  WeightState weights(std::uint32_t slot) const noexcept;
  void set_weights(std::uint32_t slot, WeightState w) noexcept;

  /// Leases from this tier not yet released.
  std::size_t outstanding() const noexcept { return outstanding_; }

 private:
  friend class Lease;

  /// Round robin / least_conn without a scan; see class comment.
  PickerSlot* pick_fast(TimePoint now, bool& fallback);
  /// nginx's round robin / least_conn scan.
  PickerSlot* pick_general(const PickContext& ctx);
  bool ramping(TimePoint now) const noexcept;
  bool build_index();
  void store_index() noexcept;

  const BalancerConfig& balancer_;
  const TierTables& tables_;
  PickerMode mode_;
  PassiveHealth passive_;
  TimingFeed feed_;
  const std::atomic<std::uint64_t>* epoch_;  ///< the group's standing epoch
  bool uses_slow_start_;  ///< the algorithm weighs by weight (rr, least_conn, least_time)
  std::size_t outstanding_ = 0;
  std::vector<PickerSlot> slots_;
  std::vector<std::uint32_t> ties_;

  // Cached standing: which slots are available and not failed.
  bool standing_valid_ = false;
  std::uint64_t standing_epoch_ = 0;
  std::int64_t standing_valid_until_ = std::numeric_limits<std::int64_t>::max();
  std::vector<std::uint32_t> members_;
  std::vector<const Peer*> member_peers_;
  std::vector<std::uint32_t> capped_members_;  ///< members with max_conns > 0
  std::vector<double> member_inv_weights_;
  AliasTable member_draws_;        ///< random, peak_ewma only
  std::vector<int> draw_weights_;  ///< build scratch

  // slow_start: the latest end of a member's ramp, and whether ramped_weight was lowered.
  std::int64_t ramp_until_ = std::numeric_limits<std::int64_t>::min();
  bool ramped_ = false;

  bool index_valid_ = false;  ///< index holds the members' current weights
  SmoothWeightedIndex index_;
};

}  // namespace tg::balancing
