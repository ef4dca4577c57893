// least_time header|last_byte [inflight]: lowest average response time and fewest active
// connections, per weight (nginx 1.31.0, formerly NGINX Plus).
#pragma once

#include <algorithm>
#include <cstdint>

#include "balancing/picker_tier.h"

namespace tg::balancing {

/// least_time's load from an average response time and an active count:
/// (average + 1 ns) * (active + 1), i.e. the expected wait behind the requests a server
/// already has. Inputs are clamped (average to ~18 min, active to 4M) so it cannot
/// overflow.
inline std::uint64_t least_time_load(std::int64_t average_ns, std::int64_t active) noexcept {
  constexpr std::int64_t kMaxAverage = std::int64_t{1} << 40;
  constexpr std::int64_t kMaxActive = std::int64_t{1} << 22;
  return static_cast<std::uint64_t>(std::clamp<std::int64_t>(average_ns, 0, kMaxAverage) + 1) *
         static_cast<std::uint64_t>(std::clamp<std::int64_t>(active, 0, kMaxActive) + 1);
}

/// least_time's load of `peer`. The average is the peer's moving average of `metric`
/// (Peer::response_time), 0 until measured, so a server no response came back from yet
/// looks fastest and gets traffic right away (until its first response it is compared
/// on active connections only). With `inflight`, requests still running count too: the
/// average is at least the mean age of the peer's in-flight requests, so a server that
/// stopped answering loses traffic before any response reports it.
inline std::uint64_t least_time_load(const Peer& peer, TimeMetric metric, bool inflight,
                                     TimePoint now) noexcept {
  std::int64_t average = peer.response_time(metric).count();
  if (inflight) average = std::max(average, peer.inflight_age(now).count());
  return least_time_load(average, peer.active());
}

/// load_a / weight_a < load_b / weight_b, exactly (128-bit cross products).
inline bool lighter(std::uint64_t load_a, int weight_a, std::uint64_t load_b,
                    int weight_b) noexcept {
  return static_cast<unsigned __int128>(load_a) * static_cast<unsigned>(weight_b) <
         static_cast<unsigned __int128>(load_b) * static_cast<unsigned>(weight_a);
}

/// least_time over the tier's eligible peers: the least least_time_load per weight
/// (during slow_start the ramped weight); ties go to smooth weighted round robin among
/// the tied, as least_conn. O(n) over the members with good standing, one cache line
/// per peer. (random two least_time compares with lighter(), exactly.)
PickerSlot* select_least_time(PickerTier& tier, const PickContext& ctx);

}  // namespace tg::balancing
