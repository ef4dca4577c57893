// least_conn: fewest active connections per weight (nginx's
// ngx_http_upstream_get_least_conn_peer).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "balancing/attempt.h"
#include "balancing/eligibility.h"
#include "balancing/picker_slot.h"

namespace tg::balancing {

/// Collects in `ties` the eligible slots of `tier` with the least active/weight, comparing
/// the cross products `a.active * b.weight < b.active * a.weight` (configured weights, as
/// nginx; during slow_start the ramped weights). `ties` is caller-owned scratch (reserve
/// tier.size() to avoid allocation); empty when none is eligible. `passive` as for eligibility().
void least_loaded(std::span<const PickerSlot> tier, const Attempt& attempt, TimePoint now,
                  std::vector<std::uint32_t>& ties,
                  PassiveHealth passive = PassiveHealth::kApplies) noexcept;

/// nginx's least_conn pick: the least loaded; several tied are separated by smooth
/// weighted round robin among them only, and a unique winner leaves every current_weight
/// unchanged (nginx's `many == 0`). Returns nullptr when none is eligible.
PickerSlot* select_least_conn(std::span<PickerSlot> tier, const Attempt& attempt, TimePoint now,
                              std::vector<std::uint32_t>& ties,
                              PassiveHealth passive = PassiveHealth::kApplies) noexcept;

}  // namespace tg::balancing
