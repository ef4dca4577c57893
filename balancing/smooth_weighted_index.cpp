#include "balancing/smooth_weighted_index.h"

#include <algorithm>

namespace tg::balancing {

void SmoothWeightedIndex::build(std::span<const PickerSlot> slots,
                                std::span<const std::uint32_t> members) {
  classes_.clear();
  rounds_ = 0;
  total_ = 0;
  for (std::uint32_t slot : members) {
    const PickerSlot& s = slots[slot];
    total_ += s.weight;
    // Few distinct weights in practice: a linear search beats a map here.
    auto it = std::find_if(classes_.begin(), classes_.end(),
                           [&](const WeightClass& c) { return c.weight == s.weight; });
    if (it == classes_.end()) {
      classes_.push_back(WeightClass{s.weight, {}});
      it = classes_.end() - 1;
    }
    it->heap.push_back(Node{s.current_weight, slot});
  }
  for (WeightClass& c : classes_) std::make_heap(c.heap.begin(), c.heap.end(), lower_priority);
}

std::uint32_t SmoothWeightedIndex::pick() noexcept {
  ++rounds_;
  WeightClass* best = &classes_.front();
  std::int64_t best_current = best->heap.front().base + rounds_ * best->weight;
  for (WeightClass& c : std::span(classes_).subspan(1)) {
    const Node& top = c.heap.front();
    const std::int64_t current = top.base + rounds_ * c.weight;
    if (current > best_current || (current == best_current && top.slot < best->heap.front().slot)) {
      best = &c;
      best_current = current;
    }
  }
  const std::uint32_t winner = best->heap.front().slot;
  best->heap.front().base -= total_;
  sift_down_root(best->heap);
  return winner;
}

void SmoothWeightedIndex::sift_down_root(std::vector<Node>& heap) noexcept {
  const std::size_t n = heap.size();
  const Node moving = heap[0];
  std::size_t hole = 0;
  for (;;) {
    std::size_t child = 2 * hole + 1;
    if (child >= n) break;
    if (child + 1 < n && lower_priority(heap[child], heap[child + 1])) ++child;
    if (!lower_priority(moving, heap[child])) break;
    heap[hole] = heap[child];
    hole = child;
  }
  heap[hole] = moving;
}

void SmoothWeightedIndex::store(std::span<PickerSlot> slots) const noexcept {
  for (const WeightClass& c : classes_) {
    for (const Node& node : c.heap) {
      slots[node.slot].current_weight = node.base + rounds_ * c.weight;
    }
  }
}

std::optional<std::int64_t> SmoothWeightedIndex::current_weight(std::uint32_t slot) const noexcept {
  for (const WeightClass& c : classes_) {
    for (const Node& node : c.heap) {
      if (node.slot == slot) return node.base + rounds_ * c.weight;
    }
  }
  return std::nullopt;
}

}  // namespace tg::balancing
