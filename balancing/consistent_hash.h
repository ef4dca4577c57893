// hash key consistent: ketama consistent hashing (nginx's ngx_http_upstream_get_chash_peer).
#pragma once

#include "balancing/picker_tier.h"

namespace tg::balancing {

/// nginx's `hash key consistent` over the tier's HashRing: crc32(key) finds the first
/// point at or after it; an ineligible owner moves on to the next point, up to 20 times,
/// then round robin decides; so does an empty key and a single-server group (nginx).
/// Adding or removing a server moves only about 1/n of the keys, and a server that goes
/// down hands only its own keys to the next points.
PickerSlot* select_consistent_hash(PickerTier& tier, const PickContext& ctx);

}  // namespace tg::balancing
