// One worker's picker for one upstream group: applies the group's algorithm.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>

#include "balancing/attempt.h"
#include "balancing/lease.h"
#include "balancing/picker_tier.h"
#include "balancing/upstream_group.h"

namespace tg::balancing {

/// Per-worker picking state for one group (round-robin current weights live here,
/// so no lock is taken on the request path; counts that must be shared are atomics
/// in Peer).
///
/// pick() runs the group's algorithm over the primaries, then, only if no primary is
/// eligible, over the backups. If still nothing is eligible and some peer was passed
/// over because of max_fails, it clears `fails` on every peer of the group (nginx:
/// "all peers failed, mark them as live for quick recovery") and picks once more.
/// nginx answers that request 502 and lets the next one find the peers live; we retry
/// at once instead, so a request is refused (std::nullopt, "no live upstreams") only
/// when every peer is down, draining, unhealthy, already tried or at max_conns.
///
/// Each worker runs its own smooth round robin (nginx shares one under the zone lock):
/// a worker's sequence is exactly nginx's, and N workers together still split traffic
/// by weight. Picks cost O(distinct weights + log n) in the common case (see
/// PickerTier); retries, max_conns limits, recovering weights and loaded least_conn
/// scan all peers as nginx does.
///
/// Not thread-safe: one picker per worker per group, used on that worker only.
/// It pins its UpstreamGroup (hence the Peers), and leases point into it: keep a picker
/// alive until outstanding_leases() is 0 (e.g. after a membership swap, park the old
/// picker until its requests finish).
class GroupPicker {
 public:
  explicit GroupPicker(std::shared_ptr<const UpstreamGroup> group,
                       PickerMode mode = PickerMode::kIndexed);
  /// Picker for a new snapshot that carries over `previous`'s round-robin weights for
  /// the peers both snapshots share, so a membership change does not reset rotation.
  GroupPicker(std::shared_ptr<const UpstreamGroup> group, const GroupPicker& previous,
              PickerMode mode = PickerMode::kIndexed);
  ~GroupPicker();

  GroupPicker(const GroupPicker&) = delete;
  GroupPicker& operator=(const GroupPicker&) = delete;

  /// Picks a peer not yet tried by `attempt`, records it there, and returns the lease;
  /// std::nullopt when no peer can take the request (see class comment).
  std::optional<Lease> pick(Attempt& attempt, TimePoint now);

  const UpstreamGroup& group() const noexcept { return *group_; }
  const std::shared_ptr<const UpstreamGroup>& shared_group() const noexcept { return group_; }

  /// Leases picked here and not yet released.
  std::size_t outstanding_leases() const noexcept {
    return primaries_.outstanding() + backups_.outstanding();
  }

  /// This worker's weights for `peer` (admin API, tests); nullopt if not in the group.
  std::optional<WeightState> weights_of(const Peer& peer) const noexcept;

 private:
  PickerSlot* select_general(const Attempt& attempt, TimePoint now, bool& saw_failed,
                             PickerTier*& tier);

  std::shared_ptr<const UpstreamGroup> group_;
  Algorithm algorithm_;
  PickerTier primaries_;
  PickerTier backups_;
};

}  // namespace tg::balancing
