// The ketama-style ring of `hash key consistent` (nginx's ngx_http_upstream_chash_points).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace tg::balancing {

/// The sorted points of `hash ... consistent`, built as nginx builds them: a server with
/// weight w gets 160 * w points; its base hash is crc32 of "HOST\0PORT" (its name split
/// at the last ':' followed by digits; "unix:" paths hash whole, with no port), and point j
/// is crc32 of that base continued with the 4 bytes of point j-1 (0 for the first), so
/// a server's points do not depend on the other servers. Equal points keep the first.
///
/// nginx hashes the text of the `server` line; tidegate hashes the resolved
/// "address:port" name, which is the same text for servers given by address.
class HashRing {
 public:
  /// Points per unit of weight (nginx).
  static constexpr std::uint32_t kPointsPerWeight = 160;
  /// At most this many points (8 MiB): beyond it each server's points are scaled down
  /// in proportion to its weight (nginx would allocate weight x 160 whatever it is).
  static constexpr std::size_t kMaxPoints = std::size_t{1} << 20;

  /// One server: its name and weight (< 1 counts as 1).
  struct Server {
    std::string_view name;
    int weight = 1;
  };

  HashRing() = default;
  /// Builds the ring; a point's owner is the server's index in `servers`.
  explicit HashRing(std::span<const Server> servers);

  bool empty() const noexcept { return hashes_.empty(); }
  std::size_t size() const noexcept { return hashes_.size(); }

  /// Position of the first point with hash >= `hash` (nginx's find_chash_point), which
  /// may be size(): owner() wraps around.
  std::size_t lower_bound(std::uint32_t hash) const noexcept;
  /// The sorted point hashes (admin API, tests).
  std::span<const std::uint32_t> points() const noexcept { return hashes_; }
  /// Owner of point `position % size()`. Precondition: !empty().
  std::uint32_t owner(std::size_t position) const noexcept {
    return owners_[position % owners_.size()];
  }

 private:
  std::vector<std::uint32_t> hashes_;  ///< sorted
  std::vector<std::uint32_t> owners_;  ///< server index of each point
};

}  // namespace tg::balancing
