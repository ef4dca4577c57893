// An immutable membership snapshot of one `upstream` block.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "balancing/peer.h"
#include "balancing/server_config.h"

namespace tg::balancing {

/// Balancing algorithm of a group.
enum class Algorithm {
  kRoundRobin,  ///< default: smooth weighted round robin
  kLeastConn,   ///< least_conn;
};

/// An immutable group snapshot built by the control thread.
///
/// Membership changes (reload, admin API, autoscaler, DNS) build a new snapshot with
/// make_group, reusing the Peer objects of servers that stay so their live state
/// (active, fails, stats) carries over; workers then swap to a GroupPicker on it.
class UpstreamGroup {
 public:
  using Peers = std::vector<std::shared_ptr<Peer>>;

  UpstreamGroup(std::string name, Algorithm algorithm, Peers primaries, Peers backups);

  const std::string& name() const noexcept { return name_; }
  Algorithm algorithm() const noexcept { return algorithm_; }
  const Peers& primaries() const noexcept { return primaries_; }
  /// `backup` servers: used only when no primary is eligible.
  const Peers& backups() const noexcept { return backups_; }
  /// Exactly one primary server, counting `down` ones (nginx's `peers->single`): that
  /// server is never considered failed, whatever max_fails says (see GroupPicker).
  bool single() const noexcept { return primaries_.size() == 1; }

  /// First server (primary, then backup) named `server_name`, or nullptr.
  std::shared_ptr<Peer> find(std::string_view server_name) const;

 private:
  std::string name_;
  Algorithm algorithm_;
  Peers primaries_;
  Peers backups_;
};

/// Builds a snapshot from resolved server lines, in order, splitting out `backup`
/// servers. A server whose name and whole config equal one in `previous` (matched in
/// order, so duplicate lines pair up one to one) reuses that Peer and its live state; a
/// changed config gets a fresh Peer. `worker_slots` sizes each new Peer's ServerStats.
std::shared_ptr<const UpstreamGroup> make_group(std::string name, Algorithm algorithm,
                                                std::span<const ServerConfig> servers,
                                                std::size_t worker_slots,
                                                const UpstreamGroup* previous = nullptr);

}  // namespace tg::balancing
