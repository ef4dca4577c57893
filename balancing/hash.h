// hash key: the request's key picks the server (nginx's ngx_http_upstream_hash_module,
// without `consistent`).
#pragma once

#include "balancing/picker_tier.h"

namespace tg::balancing {

/// nginx's `hash key` over the tier, compatible with Cache::Memcached: the running hash
/// adds ((crc32([REHASH] KEY) >> 16) & 0x7fff), REHASH being the decimal try number,
/// omitted on the first try; the server is where hash % total weight falls in the
/// configured weights (down servers count, so others keep their keys). An ineligible
/// server rehashes up to 20 times, then round robin decides; so does an empty key and a
/// single-server group (nginx). A retry starts the chain over and skips the tried server.
PickerSlot* select_hash(PickerTier& tier, const PickContext& ctx);

}  // namespace tg::balancing
