// Cumulative weights: maps a number in [0, total) to the item whose weight range holds it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace tg::balancing {

/// nginx's "w = hash % total_weight; while (w >= peer->weight) { w -= peer->weight; ...}"
/// walk (hash, ip_hash) and random's ranges, as a binary search: O(log n) instead of O(n),
/// same answer.
class WeightTable {
 public:
  void clear() noexcept { ends_.clear(); }
  void reserve(std::size_t n) { ends_.reserve(n); }
  /// Appends the next item; weights < 1 count as 1 (as ServerConfig::weight).
  void push_back(int weight) {
    const std::uint64_t w = weight < 1 ? 1 : static_cast<std::uint64_t>(weight);
    ends_.push_back(total() + w);
  }

  std::size_t size() const noexcept { return ends_.size(); }
  bool empty() const noexcept { return ends_.empty(); }
  std::uint64_t total() const noexcept { return ends_.empty() ? 0 : ends_.back(); }

  /// Index of the item whose range [end of previous, end) holds `w`. Precondition:
  /// w < total().
  std::uint32_t find(std::uint64_t w) const noexcept {
    return static_cast<std::uint32_t>(std::upper_bound(ends_.begin(), ends_.end(), w) -
                                      ends_.begin());
  }

 private:
  std::vector<std::uint64_t> ends_;  ///< running sums of the weights
};

}  // namespace tg::balancing
