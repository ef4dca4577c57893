#include "balancing/peak_ewma.h"

#include <gtest/gtest.h>

#include "test_groups.h"

namespace tg::balancing {
namespace {

using namespace testing;

BalancerConfig peak_ewma(std::chrono::milliseconds decay = 10s) {
  BalancerConfig config = balancer(Algorithm::kPeakEwma);
  config.ewma_decay = decay;
  return config;
}

/// One request at `now` answered after `latency(name)`.
template <typename Latency>
std::string request(GroupPicker& picker, TimePoint now, Latency latency) {
  Attempt attempt;
  auto lease = picker.pick(attempt, now);
  if (!lease) return "-";
  const std::string name = lease->peer().name();
  lease->release(Outcome::kSuccess, now, ResponseTimes{latency(name), {}});
  return name;
}

TEST(PeakEwma, SteersAwayFromASlowServer) {
  GroupPicker picker(group(peak_ewma(), {server("a"), server("b"), server("slow"), server("d")}),
                     PickerMode::kIndexed, 41);
  auto latency = [](const std::string& name) -> Clock::duration {
    return name == "slow" ? 300ms : 5ms;
  };
  auto counts = tally(2'000, [&](int i) { return request(picker, kStart + i * 1ms, latency); });
  // Until its first answer it is unmeasured like the rest; after that it is avoided.
  EXPECT_LE(counts["slow"], 3);
  EXPECT_GE(counts["a"] + counts["b"] + counts["d"], 1'997);
}

TEST(PeakEwma, OutstandingRequestsRaiseTheCost) {
  auto g = group(peak_ewma(), {server("a"), server("b")});
  GroupPicker picker(g, PickerMode::kIndexed, 43);
  GroupPicker other(g);
  record(picker, "a", kStart, 10ms);
  record(picker, "b", kStart, 15ms);
  EXPECT_EQ(pick_once(picker, kStart), "a");  // 10 ms x 1 < 15 ms x 1
  Lease busy = hold(other, "a", kStart);
  EXPECT_EQ(pick_once(picker, kStart), "b");  // 10 ms x 2 > 15 ms x 1
}

TEST(PeakEwma, ASinglePeakOutweighsEarlierFastAnswers) {
  GroupPicker picker(group(peak_ewma(), {server("a"), server("b")}), PickerMode::kIndexed, 47);
  for (int i = 0; i < 50; ++i) record(picker, "a", kStart, 5ms);
  record(picker, "b", kStart, 20ms);
  record(picker, "a", kStart, 400ms);  // one stall: the estimate jumps to it
  EXPECT_EQ(pick_once(picker, kStart + 1ms), "b");
}

TEST(PeakEwma, SlowServerIsProbedAgainOnceItsEstimateHasDecayed) {
  GroupPicker picker(group(peak_ewma(1s), {server("fast"), server("slow")}), PickerMode::kIndexed,
                     53);
  record(picker, "fast", kStart, 10ms);
  record(picker, "slow", kStart, 1s);
  EXPECT_EQ(pick_once(picker, kStart + 1s), "fast");
  // fast keeps answering in 10 ms; slow's 1 s estimate decays by e every second and
  // drops below 10 ms after about ln(100) = 4.6 s.
  std::string picks;
  for (int s = 1; s <= 6; ++s) {
    const auto now = kStart + std::chrono::seconds(s);
    record(picker, "fast", now, 10ms);
    picks += pick_once(picker, now + 1ms) == "slow" ? 's' : 'f';
  }
  EXPECT_EQ(picks, "ffffss");
}

TEST(PeakEwma, UnmeasuredServersGoToTheOneWithFewerActive) {
  auto g = group(peak_ewma(), {server("a"), server("b")});
  GroupPicker picker(g, PickerMode::kIndexed, 59);
  GroupPicker other(g);
  Lease busy = hold(other, "b", kStart);
  EXPECT_EQ(sequence(picker, 5, kStart), "aaaaa");
}

}  // namespace
}  // namespace tg::balancing
