// least_conn: fewest active connections per weight (nginx's
// ngx_http_upstream_get_least_conn_peer).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "balancing/attempt.h"
#include "balancing/picker_slot.h"

namespace tg::balancing {

/// Picks the eligible peer of `tier` with the least active/weight, comparing the cross
/// products `a.active * b.weight < b.active * a.weight` (configured weights, as nginx).
/// Peers tied for least are separated by smooth weighted round robin among them only;
/// a unique winner leaves every current_weight unchanged (nginx's `many == 0`).
/// `ties` is caller-owned scratch (reserve tier.size() to avoid allocation).
/// Returns nullptr when none is eligible; sets `saw_failed` as select_round_robin.
PickerSlot* select_least_conn(std::span<PickerSlot> tier, const Attempt& attempt, TimePoint now,
                              std::vector<std::uint32_t>& ties, bool& saw_failed) noexcept;

}  // namespace tg::balancing
