// One worker's picker for one upstream group: sticky binding, then the group's algorithm.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "balancing/attempt.h"
#include "balancing/lease.h"
#include "balancing/pick_input.h"
#include "balancing/picker_tier.h"
#include "balancing/random_source.h"
#include "balancing/upstream_group.h"

namespace tg::balancing {

/// Per-worker picking state for one group (round-robin current weights and the random
/// source live here, so no lock is taken on the request path; counts that must be
/// shared are atomics in Peer).
///
/// pick() first honours a sticky binding: when the group has `sticky` and
/// PickInput::sticky names a server (Peer::sticky_id) that is eligible for a bound
/// request (draining is then fine: nginx's `drain`), that server is picked and the lease
/// says sticky_hit(). Otherwise (no binding, unknown id, or the server is down, failed,
/// unhealthy, at max_conns or already tried) the request is balanced as if unbound, and
/// the proxy binds it to the new server. A binding to a backup server is honoured only
/// once no primary is eligible, like any use of a backup.
///
/// Then it runs the group's algorithm over the primaries, then, only if no primary is
/// eligible, over the backups, as nginx 1.22's ngx_http_upstream_get_round_robin_peer
/// (and least_conn's equivalent) does; every algorithm gets this backup fallback.
/// When nothing is eligible it returns std::nullopt (nginx: NGX_BUSY, logged "no live
/// upstreams", answered 502): failed peers are not revived early; each comes back once
/// its fail_timeout has passed (see Peer).
///
/// The one exception is nginx's `peers->single`: in a group with exactly one primary
/// server (UpstreamGroup::single(), counting `down` servers) that server is never
/// considered failed, for any algorithm. max_fails/fail_timeout are ignored for it
/// (its failures are still counted in Peer::fails() for metrics, but do not keep it out
/// or lower its effective weight); `down`/draining/unhealthy and max_conns still apply,
/// and then the backups are used. Backups never get this treatment, even a lone one.
/// (nginx also ends a request's retries once its single primary was tried: free_peer
/// sets tries = 0. That is the caller's retry policy; a retry here is offered the backups.)
///
/// Each worker runs its own smooth round robin (nginx shares one under the zone lock):
/// a worker's sequence is exactly nginx's, and N workers together still split traffic
/// by weight. Round robin picks cost O(distinct weights + log n) in the common case (see
/// PickerTier); retries, max_conns limits, recovering weights, slow_start ramps and
/// loaded least_conn scan all peers as nginx does.
///
/// Not thread-safe: one picker per worker per group, used on that worker only.
/// It pins its UpstreamGroup (hence the Peers), and leases point into it: keep a picker
/// alive until outstanding_leases() is 0 (e.g. after a membership swap, park the old
/// picker until its requests finish).
class GroupPicker {
 public:
  /// `seed` seeds the random source of random, random two and peak_ewma: give each
  /// worker its own (e.g. its index), or they all draw the same sequence.
  explicit GroupPicker(std::shared_ptr<const UpstreamGroup> group,
                       PickerMode mode = PickerMode::kIndexed,
                       std::uint64_t seed = SplitMix64::kDefaultSeed);
  /// Picker for a new snapshot that carries over `previous`'s round-robin weights for
  /// the peers both snapshots share, and its random source, so a membership change does
  /// not reset rotation.
  GroupPicker(std::shared_ptr<const UpstreamGroup> group, const GroupPicker& previous,
              PickerMode mode = PickerMode::kIndexed);
  ~GroupPicker();

  GroupPicker(const GroupPicker&) = delete;
  GroupPicker& operator=(const GroupPicker&) = delete;

  /// Picks a peer not yet tried by `attempt`, records it there, and returns the lease;
  /// std::nullopt when no peer is eligible ("no live upstreams", see class comment).
  /// `input` carries what hash, ip_hash and sticky need (PickInput).
  std::optional<Lease> pick(Attempt& attempt, TimePoint now, const PickInput& input = {});

  /// True when pick() would find a peer for `attempt` at `now`; takes no lease and
  /// changes nothing (not even round-robin state): whether a retry has anyone to go to.
  bool has_eligible(const Attempt& attempt, TimePoint now) const noexcept;

  const UpstreamGroup& group() const noexcept { return *group_; }
  const std::shared_ptr<const UpstreamGroup>& shared_group() const noexcept { return group_; }

  /// Leases picked here and not yet released.
  std::size_t outstanding_leases() const noexcept {
    return primaries_.outstanding() + backups_.outstanding();
  }

  /// This worker's weights for `peer` (admin API, tests); nullopt if not in the group.
  std::optional<WeightState> weights_of(const Peer& peer) const noexcept;

 private:
  std::shared_ptr<const UpstreamGroup> group_;
  bool sticky_;
  SplitMix64 rng_;
  PickerTier primaries_;
  PickerTier backups_;
};

}  // namespace tg::balancing
