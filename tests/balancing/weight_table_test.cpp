#include "balancing/weight_table.h"

#include <gtest/gtest.h>

namespace tg::balancing {
namespace {

TEST(WeightTable, MapsEachNumberToTheItemWhoseRangeHoldsIt) {
  // nginx's walk: weights 2, 1, 3 cover [0,2) [2,3) [3,6).
  WeightTable table;
  for (int w : {2, 1, 3}) table.push_back(w);
  EXPECT_EQ(table.total(), 6u);
  const std::uint32_t expected[] = {0, 0, 1, 2, 2, 2};
  for (std::uint64_t w = 0; w < 6; ++w) EXPECT_EQ(table.find(w), expected[w]) << w;
}

TEST(WeightTable, WeightsBelowOneCountAsOne) {
  WeightTable table;
  table.push_back(0);
  table.push_back(-3);
  EXPECT_EQ(table.total(), 2u);
  EXPECT_EQ(table.find(1), 1u);
}

TEST(WeightTable, ClearEmpties) {
  WeightTable table;
  table.push_back(4);
  table.clear();
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(table.total(), 0u);
}

}  // namespace
}  // namespace tg::balancing
