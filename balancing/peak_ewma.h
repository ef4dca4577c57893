// peak_ewma [decay=time] (tidegate extension): power of two choices over a peak-sensitive
// latency estimate, as Finagle's and Linkerd's balancers.
#pragma once

#include "balancing/picker_tier.h"

namespace tg::balancing {

/// Two distinct servers drawn by weight among the eligible (as random two); the lower
/// cost wins, cost = Peer::peak_ewma_ns (the latency estimate that jumps to any higher
/// sample, otherwise moves towards samples with weight 1 - exp(-elapsed / decay), and
/// decays towards 0 while no samples come) * (active + 1). Equal costs (e.g. both
/// unmeasured) go to fewer active connections, then to the first draw. A slow server's
/// estimate keeps it out until the estimate has decayed (decay=, default 10 s), then one
/// request probes it again. O(1) plus two weighted draws; slow_start does not apply.
PickerSlot* select_peak_ewma(PickerTier& tier, const PickContext& ctx);

}  // namespace tg::balancing
