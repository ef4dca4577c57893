// Weighted draws in O(1): Vose's alias method, for random, random two and peak_ewma.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "balancing/random_source.h"

namespace tg::balancing {

/// Draws index i with probability weights[i] / sum(weights), in O(1) per draw (one
/// random number, one multiply, one compare) after an O(n) build: Vose's alias method,
/// in integers so the probabilities are exact. Replaces nginx's binary search over
/// cumulative ranges; same distribution.
class AliasTable {
 public:
  /// Rebuilds over `weights` (values < 1 count as 1).
  void build(std::span<const int> weights);

  bool empty() const noexcept { return columns_.empty(); }
  std::size_t size() const noexcept { return columns_.size(); }

  /// A weighted random index. Precondition: !empty().
  std::uint32_t draw(SplitMix64& rng) const noexcept {
    const auto spread = static_cast<unsigned __int128>(rng.next()) * columns_.size();
    const auto column = static_cast<std::uint32_t>(spread >> 64);
    // The low half is what is left of the draw: scale it to [0, total).
    const auto y = static_cast<std::uint64_t>(
        (static_cast<unsigned __int128>(static_cast<std::uint64_t>(spread)) * total_) >> 64);
    const Column& c = columns_[column];
    return y < c.keep ? column : c.alias;
  }

 private:
  struct Column {
    std::uint64_t keep;  ///< the column keeps its own index below this (out of total_)
    std::uint32_t alias;
  };
  std::vector<Column> columns_;
  std::uint64_t total_ = 0;            ///< sum of the weights: each column's height
  std::vector<std::uint64_t> scaled_;  ///< build scratch
  std::vector<std::uint32_t> small_;   ///< build scratch
  std::vector<std::uint32_t> large_;   ///< build scratch
};

}  // namespace tg::balancing
