// sticky cookie / sticky route: server ids and the id -> server lookup of a group.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "balancing/server_config.h"

namespace tg::balancing {

/// A server's sticky id: `route=` when set, else the lowercase hex MD5 of its name
/// ("address:port", nginx: "MD5 hash of the IP address and port"), 32 characters.
std::string sticky_id_for(const ServerConfig& config);

/// Where a sticky id points in a group: which tier, and the index in it.
struct StickyTarget {
  bool backup = false;
  std::uint32_t index = 0;
};

/// Immutable id -> server map of one group snapshot (built by UpstreamGroup).
/// Several servers with one id (duplicate lines or routes): the first in config order
/// (primaries before backups) wins.
class StickyIndex {
 public:
  /// `id` must outlive the index (it points into the Peer).
  void add(std::string_view id, StickyTarget target) { map_.try_emplace(id, target); }
  std::optional<StickyTarget> find(std::string_view id) const noexcept {
    if (id.empty() || map_.empty()) return std::nullopt;
    auto it = map_.find(id);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }
  std::size_t size() const noexcept { return map_.size(); }

 private:
  std::unordered_map<std::string_view, StickyTarget> map_;
};

}  // namespace tg::balancing
