#include "balancing/hash_ring.h"

#include <algorithm>

#include "balancing/crc32.h"

namespace tg::balancing {

namespace {

/// nginx's split of a server name into host and port for the point hash.
void split_host_port(std::string_view name, std::string_view& host, std::string_view& port) {
  host = name;
  port = {};
  if (name.size() >= 5 && name.substr(0, 5) == "unix:") {
    host = name.substr(5);
    return;
  }
  for (std::size_t j = 0; j < name.size(); ++j) {
    const char c = name[name.size() - j - 1];
    if (c == ':') {
      host = name.substr(0, name.size() - j - 1);
      port = name.substr(name.size() - j);
      return;
    }
    if (c < '0' || c > '9') return;
  }
}

}  // namespace

HashRing::HashRing(std::span<const Server> servers) {
  struct Point {
    std::uint32_t hash;
    std::uint32_t owner;
  };
  std::vector<Point> points;
  std::size_t total = 0;
  for (const Server& s : servers)
    total += kPointsPerWeight * static_cast<std::size_t>(std::max(1, s.weight));
  auto points_of = [&](const Server& s) {
    const std::size_t n = kPointsPerWeight * static_cast<std::size_t>(std::max(1, s.weight));
    if (total <= kMaxPoints) return static_cast<std::uint32_t>(n);
    return static_cast<std::uint32_t>(std::max<std::size_t>(
        1, static_cast<std::size_t>(static_cast<double>(n) * kMaxPoints / total)));
  };
  points.reserve(std::min(total, kMaxPoints + servers.size()));

  for (std::uint32_t i = 0; i < servers.size(); ++i) {
    std::string_view host;
    std::string_view port;
    split_host_port(servers[i].name, host, port);
    Crc32 base;
    base.update(host).update(std::string_view("\0", 1)).update(port);

    const std::uint32_t n = points_of(servers[i]);
    std::uint32_t prev = 0;
    for (std::uint32_t j = 0; j < n; ++j) {
      // nginx feeds prev_hash's bytes in memory order; on little-endian that is LSB first.
      const std::uint8_t bytes[4] = {
          static_cast<std::uint8_t>(prev), static_cast<std::uint8_t>(prev >> 8),
          static_cast<std::uint8_t>(prev >> 16), static_cast<std::uint8_t>(prev >> 24)};
      const std::uint32_t hash = Crc32(base).update(bytes).final();
      points.push_back(Point{hash, i});
      prev = hash;
    }
  }
  // Of equal points one survives (nginx: whichever its qsort put first; here the first in
  // config order, so the ring is deterministic).
  std::stable_sort(points.begin(), points.end(),
                   [](const Point& a, const Point& b) { return a.hash < b.hash; });
  hashes_.reserve(points.size());
  owners_.reserve(points.size());
  for (const Point& p : points) {
    if (!hashes_.empty() && hashes_.back() == p.hash) continue;
    hashes_.push_back(p.hash);
    owners_.push_back(p.owner);
  }
}

std::size_t HashRing::lower_bound(std::uint32_t hash) const noexcept {
  return static_cast<std::size_t>(std::lower_bound(hashes_.begin(), hashes_.end(), hash) -
                                  hashes_.begin());
}

}  // namespace tg::balancing
