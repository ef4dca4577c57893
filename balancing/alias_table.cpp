#include "balancing/alias_table.h"

namespace tg::balancing {

void AliasTable::build(std::span<const int> weights) {
  const std::size_t n = weights.size();
  columns_.assign(n, Column{0, 0});
  scaled_.resize(n);
  small_.clear();
  large_.clear();
  total_ = 0;
  for (int w : weights) total_ += w < 1 ? 1u : static_cast<std::uint64_t>(w);
  // Column height is total_; item i brings weight * n of area.
  for (std::uint32_t i = 0; i < n; ++i) {
    scaled_[i] = (weights[i] < 1 ? 1u : static_cast<std::uint64_t>(weights[i])) * n;
    (scaled_[i] < total_ ? small_ : large_).push_back(i);
  }
  while (!small_.empty() && !large_.empty()) {
    const std::uint32_t low = small_.back();
    small_.pop_back();
    const std::uint32_t high = large_.back();
    columns_[low] = Column{scaled_[low], high};  // the rest of low's column is high's
    scaled_[high] -= total_ - scaled_[low];
    if (scaled_[high] < total_) {
      large_.pop_back();
      small_.push_back(high);
    }
  }
  // What is left fills its own column exactly (up to rounding, which integers avoid).
  for (std::uint32_t i : large_) columns_[i] = Column{total_, i};
  for (std::uint32_t i : small_) columns_[i] = Column{total_, i};
}

}  // namespace tg::balancing
