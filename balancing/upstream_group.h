// An immutable membership snapshot of one `upstream` block.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "balancing/balancer_config.h"
#include "balancing/hash_ring.h"
#include "balancing/peer.h"
#include "balancing/server_config.h"
#include "balancing/sticky.h"
#include "balancing/weight_table.h"

namespace tg::balancing {

/// Lookup tables of one tier (primaries or backups) that depend only on membership, so
/// they are built once per snapshot and shared by every worker's picker.
struct TierTables {
  /// Configured weights of every server of the tier, down ones included, so a server
  /// going down does not remap the others' keys (hash, ip_hash; empty otherwise).
  WeightTable weights;
  /// hash ... consistent's ring over every server of the tier (empty otherwise).
  HashRing ring;
};

/// An immutable group snapshot built by the control thread.
///
/// Membership changes (reload, admin API, autoscaler, DNS) build a new snapshot with
/// make_group, reusing the Peer objects of servers that stay so their live state
/// (active, fails, stats) carries over; workers then swap to a GroupPicker on it.
class UpstreamGroup {
 public:
  using Peers = std::vector<std::shared_ptr<Peer>>;

  /// `primary_ids` / `backup_ids`: each server's sticky id (sticky_id_for its current
  /// config), in tier order; empty vectors: computed from the peers' names. `epoch`: the
  /// peers' shared standing epoch (the first peer's when not given).
  UpstreamGroup(std::string name, BalancerConfig balancer, Peers primaries, Peers backups,
                std::vector<std::string> primary_ids = {}, std::vector<std::string> backup_ids = {},
                Peer::Epoch epoch = {});

  const std::string& name() const noexcept { return name_; }
  const BalancerConfig& balancer() const noexcept { return balancer_; }
  Algorithm algorithm() const noexcept { return balancer_.algorithm; }
  const Peers& primaries() const noexcept { return primaries_; }
  /// `backup` servers: used only when no primary is eligible.
  const Peers& backups() const noexcept { return backups_; }
  /// Exactly one primary server, counting `down` ones (nginx's `peers->single`): that
  /// server is never considered failed, whatever max_fails says (see GroupPicker).
  bool single() const noexcept { return primaries_.size() == 1; }

  const TierTables& primary_tables() const noexcept { return primary_tables_; }
  const TierTables& backup_tables() const noexcept { return backup_tables_; }
  /// The server a sticky cookie value / route names (empty unless `sticky` is on).
  std::optional<StickyTarget> find_sticky(std::string_view id) const noexcept {
    return sticky_.find(id);
  }
  /// The sticky id (cookie value, route) of server `index` of a tier.
  const std::string& sticky_id(bool backup, std::uint32_t index) const noexcept {
    return backup ? backup_ids_[index] : primary_ids_[index];
  }
  /// The sticky id of `peer` (a member of this snapshot), or empty.
  std::string_view sticky_id_of(const Peer& peer) const noexcept;

  /// First server (primary, then backup) named `server_name`, or nullptr.
  std::shared_ptr<Peer> find(std::string_view server_name) const;
  /// The server with id `id`, or nullptr.
  std::shared_ptr<Peer> find_id(std::uint64_t id) const;

  /// The standing epoch of this group's peers (Peer::standing_epoch()).
  std::uint64_t standing_epoch() const noexcept { return epoch_->load(std::memory_order_acquire); }
  const Peer::Epoch& epoch() const noexcept { return epoch_; }

 private:
  std::string name_;
  BalancerConfig balancer_;
  Peers primaries_;
  Peers backups_;
  std::vector<std::string> primary_ids_;
  std::vector<std::string> backup_ids_;
  Peer::Epoch epoch_;
  TierTables primary_tables_;
  TierTables backup_tables_;
  StickyIndex sticky_;
};

/// Builds a snapshot from resolved server lines, in order, splitting out `backup`
/// servers. A server whose name and backup flag equal one in `previous` (matched in
/// order, so duplicate lines pair up one to one) is the same server: it reuses that Peer
/// (its id, live state and counters) and takes the line's settings (Peer::apply; a
/// drain is dated `now` when given, else by its next pick). Other lines get fresh Peers
/// sharing the group's standing epoch. `worker_slots` sizes each new Peer's ServerStats.
/// With a `previous` snapshot, fresh Peers are joining servers: their slow_start ramp
/// begins at the first pick (in the first snapshot every server is up from the start).
std::shared_ptr<const UpstreamGroup> make_group(std::string name, BalancerConfig balancer,
                                                std::span<const ServerConfig> servers,
                                                std::size_t worker_slots,
                                                const UpstreamGroup* previous = nullptr,
                                                std::optional<TimePoint> now = std::nullopt);

/// make_group for a method with no parameters and no `sticky`.
inline std::shared_ptr<const UpstreamGroup> make_group(
    std::string name, Algorithm algorithm, std::span<const ServerConfig> servers,
    std::size_t worker_slots, const UpstreamGroup* previous = nullptr,
    std::optional<TimePoint> now = std::nullopt) {
  BalancerConfig balancer;
  balancer.algorithm = algorithm;
  return make_group(std::move(name), std::move(balancer), servers, worker_slots, previous, now);
}

}  // namespace tg::balancing
