#include "balancing/hash_ring.h"

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

namespace tg::balancing {
namespace {

bool has_point(const HashRing& ring, std::uint32_t hash) {
  auto points = ring.points();
  return std::binary_search(points.begin(), points.end(), hash);
}

TEST(HashRing, GivesEachServer160PointsPerWeightUnit) {
  const HashRing::Server servers[] = {{"10.0.0.1:80", 1}, {"10.0.0.2:80", 3}};
  const HashRing ring(servers);
  EXPECT_EQ(ring.size(), 4u * HashRing::kPointsPerWeight);
  std::size_t first = 0;
  for (std::size_t i = 0; i < ring.size(); ++i) first += ring.owner(i) == 0 ? 1 : 0;
  EXPECT_EQ(first, HashRing::kPointsPerWeight);
}

// Weights a client can set through the API (up to 10^9) must not make the ring
// allocate weight x 160 points: past kMaxPoints every server's share is scaled down
// in proportion, so the split between servers stays what the weights say.
TEST(HashRing, HugeWeightsAreScaledToABoundedRing) {
  const HashRing::Server servers[] = {
      {"10.0.0.1:80", 1'000'000'000}, {"10.0.0.2:80", 300'000'000}, {"10.0.0.3:80", 1}};
  const HashRing ring(servers);
  EXPECT_LE(ring.size(), HashRing::kMaxPoints + 3);
  std::size_t owned[3] = {};
  for (std::size_t i = 0; i < ring.size(); ++i) ++owned[ring.owner(i)];
  EXPECT_GT(owned[0], 700'000u);
  EXPECT_NEAR(static_cast<double>(owned[0]) / static_cast<double>(owned[1]), 10.0 / 3.0, 0.05);
  EXPECT_GE(owned[2], 1u);  // a server keeps at least one point
}

TEST(HashRing, PointsAreNginxsCrc32OfHostZeroPortAndThePreviousPoint) {
  // crc32("10.0.0.1" "\0" "80" + 00 00 00 00) = 0xa2ad5d56, then crc32(... + 56 5d ad a2).
  const HashRing::Server servers[] = {{"10.0.0.1:80", 1}};
  const HashRing ring(servers);
  EXPECT_TRUE(has_point(ring, 0xa2ad5d56));
  EXPECT_TRUE(has_point(ring, 0x0bdeb0ab));
}

TEST(HashRing, UnixPathsAndPortlessNamesHashWhole) {
  const HashRing::Server unix_socket[] = {{"unix:/tmp/s", 1}};
  EXPECT_TRUE(has_point(HashRing(unix_socket), 0x347e2e66));  // crc32("/tmp/s\0" 00 00 00 00)
  const HashRing::Server portless[] = {{"backend", 1}};
  EXPECT_TRUE(has_point(HashRing(portless), 0x1ae70921));  // crc32("backend\0" 00 00 00 00)
}

TEST(HashRing, ServersPointsDoNotDependOnTheOthers) {
  const HashRing::Server one[] = {{"10.0.0.1:80", 1}};
  const HashRing::Server two[] = {{"10.0.0.2:80", 1}, {"10.0.0.1:80", 1}};
  const HashRing alone(one);
  const HashRing shared(two);
  std::set<std::uint32_t> owned_in_shared;
  for (std::size_t i = 0; i < shared.size(); ++i) {
    if (shared.owner(i) == 1) owned_in_shared.insert(shared.points()[i]);
  }
  EXPECT_EQ(owned_in_shared, std::set<std::uint32_t>(alone.points().begin(), alone.points().end()));
}

TEST(HashRing, LowerBoundFindsTheFirstPointAtOrAfterAndWraps) {
  const HashRing::Server servers[] = {{"10.0.0.1:80", 1}, {"10.0.0.2:80", 1}};
  const HashRing ring(servers);
  const auto points = ring.points();
  EXPECT_EQ(ring.lower_bound(points[5]), 5u);
  EXPECT_EQ(ring.lower_bound(points[5] + 1), 6u);
  EXPECT_EQ(ring.lower_bound(0), 0u);
  // Past the last point: position size(), which owner() wraps to the first point.
  EXPECT_EQ(ring.owner(ring.lower_bound(0xffffffff)), ring.owner(0));
  EXPECT_TRUE(std::is_sorted(points.begin(), points.end()));
}

}  // namespace
}  // namespace tg::balancing
