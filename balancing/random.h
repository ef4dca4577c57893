// random [two [least_conn|least_time=header|last_byte]] (nginx's
// ngx_http_upstream_random_module).
#pragma once

#include "balancing/picker_tier.h"

namespace tg::balancing {

/// nginx's `random`: a server drawn with probability weight / total weight among those
/// whose standing is fine (the tier's members; nginx draws among all and rejects).
/// A drawn server that is tried or at max_conns is redrawn, up to 20 times, then round
/// robin decides. O(1) per draw (AliasTable). slow_start does not apply (nginx forbids it
/// here).
PickerSlot* select_random(PickerTier& tier, const PickContext& ctx);

/// nginx's `random two`: two distinct servers drawn as select_random does (up to 20
/// draws), and the less loaded one wins: fewer active connections per weight (least_conn,
/// the default), or the lower least_time_load per weight (BalancerConfig::TwoMode::
/// kLeastTime, with BalancerConfig::metric). Equal loads go to the second draw (nginx).
/// When only one eligible server turns up it is taken; none: round robin decides.
PickerSlot* select_random_two(PickerTier& tier, const PickContext& ctx);

/// Draws up to two distinct eligible members by weight; the shared first half of
/// random two and peak_ewma. Returns how many were found (0, 1 or 2) in `out`.
int draw_two(PickerTier& tier, const PickContext& ctx, PickerSlot* out[2]);

}  // namespace tg::balancing
