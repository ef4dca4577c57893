// Smooth weighted round robin in O(distinct weights + log n) per pick.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "balancing/picker_slot.h"

namespace tg::balancing {

/// nginx's smooth weighted round robin over a fixed set of peers, without the O(n) scan.
///
/// While the offered set and the weights do not change, every round adds each member's
/// weight to its current weight. Keeping `base = current - rounds * weight` per member
/// turns that into one shared counter: current = base + rounds * weight. Within one
/// weight, comparing current weights is comparing bases, which only the winner's
/// payback changes; so each weight class is a heap on (base desc, slot asc), and a round
/// compares the class tops only, pays the total back from the winner and sifts it down. The winner
/// (first highest current weight in slot order) is exactly the one nginx's scan finds; the index
/// tests check that.
///
/// Valid only while every member is offered each round with effective_weight == weight;
/// the owner falls back to the scan (after store()) whenever that does not hold.
class SmoothWeightedIndex {
 public:
  /// Builds over `members` (indices into `slots`), starting from their current weights.
  /// Precondition: each member's effective_weight == weight.
  void build(std::span<const PickerSlot> slots, std::span<const std::uint32_t> members);

  bool empty() const noexcept { return classes_.empty(); }

  /// One round over all members; returns the winner's slot index. Precondition: !empty().
  std::uint32_t pick() noexcept;

  /// Writes every member's current weight back into `slots`.
  void store(std::span<PickerSlot> slots) const noexcept;

  /// Current weight of `slot` if it is a member (linear search: admin and tests only).
  std::optional<std::int64_t> current_weight(std::uint32_t slot) const noexcept;

 private:
  struct Node {
    std::int64_t base;
    std::uint32_t slot;
  };
  struct WeightClass {
    std::int64_t weight;
    std::vector<Node> heap;  ///< heap[0] is the class's next winner
  };

  /// Heap order: higher base first, then lower slot (nginx's first-in-order tie-break).
  static bool lower_priority(const Node& a, const Node& b) noexcept {
    return a.base < b.base || (a.base == b.base && a.slot > b.slot);
  }
  static void sift_down_root(std::vector<Node>& heap) noexcept;

  std::vector<WeightClass> classes_;
  std::int64_t rounds_ = 0;
  std::int64_t total_ = 0;  ///< sum of member weights, paid back by each winner
};

}  // namespace tg::balancing
