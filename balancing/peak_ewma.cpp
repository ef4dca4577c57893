#include "balancing/peak_ewma.h"

#include <chrono>
#include <cmath>

#include "balancing/random.h"

namespace tg::balancing {

PickerSlot* select_peak_ewma(PickerTier& tier, const PickContext& ctx) {
  PickerSlot* two[2] = {nullptr, nullptr};
  const int found = draw_two(tier, ctx, two);
  if (found == 0) return tier.members().empty() ? nullptr : tier.pick_round_robin(ctx);
  if (found == 1) return two[0];
  // cost_a < cost_b with both decayed to `now` needs one exp, of the difference of the
  // two decays: v_a * e^(-age_a/d) * n_a < v_b * e^(-age_b/d) * n_b
  //   <=> v_a * n_a * e^((age_b - age_a)/d) < v_b * n_b.
  const Peer& a = *two[0]->peer;
  const Peer& b = *two[1]->peer;
  const PeakEwmaSample sa = a.peak_ewma_sample();
  const PeakEwmaSample sb = b.peak_ewma_sample();
  const double load_a = sa.value_ns * static_cast<double>(a.active() + 1);
  const double load_b = sb.value_ns * static_cast<double>(b.active() + 1);
  double cost_a = load_a;
  if (load_a != 0 && load_b != 0 && sa.at != sb.at) {
    const double decay = tier.timing_feed().peak_decay_ns;
    cost_a *= std::exp(std::chrono::duration<double, std::nano>(sa.at - sb.at).count() / decay);
  }
  if (cost_a != load_b) return cost_a < load_b ? two[0] : two[1];
  return b.active() < a.active() ? two[1] : two[0];
}

}  // namespace tg::balancing
