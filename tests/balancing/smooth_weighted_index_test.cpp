#include "balancing/smooth_weighted_index.h"

#include <random>

#include <gtest/gtest.h>

#include "balancing/round_robin.h"
#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

const std::string kNoStickyId;

struct Fixture {
  std::vector<std::unique_ptr<Peer>> peers;
  std::vector<PickerSlot> slots;

  explicit Fixture(const std::vector<int>& weights, const std::vector<int>& start = {}) {
    for (std::size_t i = 0; i < weights.size(); ++i) {
      peers.push_back(std::make_unique<Peer>(server(std::to_string(i), weights[i]), 1));
    }
    for (std::size_t i = 0; i < weights.size(); ++i) {
      slots.emplace_back(*peers[i], kNoStickyId);
      if (!start.empty()) slots.back().current_weight = start[i];
    }
  }
};

// nginx's scan over every slot: the behaviour the index must reproduce.
std::uint32_t scan_pick(std::vector<PickerSlot>& slots) {
  SmoothWeightedChoice choice;
  for (PickerSlot& s : slots) choice.offer(s);
  return static_cast<std::uint32_t>(choice.finish() - slots.data());
}

std::vector<std::uint32_t> all(std::size_t n) {
  std::vector<std::uint32_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint32_t>(i);
  return v;
}

TEST(SmoothWeightedIndex, WeightsFiveOneOneGiveNginxSequence) {
  Fixture f({5, 1, 1});
  SmoothWeightedIndex index;
  index.build(f.slots, all(3));
  std::string seq;
  for (int i = 0; i < 7; ++i) seq += "abc"[index.pick()];
  EXPECT_EQ(seq, "aabacaa");
}

TEST(SmoothWeightedIndex, MatchesTheScanForRandomWeightsAndStartingWeights) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    const auto n = std::uniform_int_distribution<std::size_t>(1, 40)(rng);
    std::vector<int> weights(n);
    std::vector<int> start(n);
    for (auto& w : weights) w = std::uniform_int_distribution(1, 6)(rng);
    for (auto& c : start) c = std::uniform_int_distribution(-20, 20)(rng);
    Fixture indexed(weights, start);
    Fixture scanned(weights, start);
    SmoothWeightedIndex index;
    index.build(indexed.slots, all(n));
    for (int i = 0; i < 300; ++i) ASSERT_EQ(index.pick(), scan_pick(scanned.slots)) << i;
    index.store(indexed.slots);
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(indexed.slots[i].current_weight, scanned.slots[i].current_weight);
    }
  }
}

TEST(SmoothWeightedIndex, OnlyMembersTakePart) {
  Fixture f({1, 1, 1, 1});
  SmoothWeightedIndex index;
  const std::vector<std::uint32_t> members{1, 3};
  index.build(f.slots, members);
  EXPECT_EQ(index.pick(), 1u);
  EXPECT_EQ(index.pick(), 3u);
  EXPECT_EQ(index.pick(), 1u);
  EXPECT_EQ(index.current_weight(0), std::nullopt);
  EXPECT_EQ(index.current_weight(1), -1);  // picked last: +1 - 2
}

TEST(SmoothWeightedIndex, StoreWritesCurrentWeightsBack) {
  Fixture f({2, 1});
  SmoothWeightedIndex index;
  index.build(f.slots, all(2));
  index.pick();  // (2,1) -> a -> (-1,1)
  index.store(f.slots);
  EXPECT_EQ(f.slots[0].current_weight, -1);
  EXPECT_EQ(f.slots[1].current_weight, 1);
}

}  // namespace
}  // namespace tg::balancing
