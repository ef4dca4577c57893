// slow_start=T: the weight of a joining or recovering server ramps up over T (nginx).
#pragma once

#include <algorithm>
#include <cstdint>

namespace tg::balancing {

/// The weight slow_start allows `elapsed_ns` into a ramp of `ramp_ns`:
/// weight * elapsed / ramp, at least 1 so the server is never starved, and the full
/// weight once the ramp is over. Where ramps start and who applies them: see Peer
/// (begin_slow_start, observe) and PickerTier (round robin, least_conn, least_time only).
inline int slow_start_weight(int weight, std::int64_t elapsed_ns, std::int64_t ramp_ns) noexcept {
  if (elapsed_ns >= ramp_ns) return weight;
  if (elapsed_ns <= 0) return 1;
  // Weights are small and times below 2^63 ns: the product fits 128 bits.
  const auto ramped =
      static_cast<std::int64_t>(static_cast<__int128>(weight) * elapsed_ns / ramp_ns);
  return static_cast<int>(std::max<std::int64_t>(1, ramped));
}

}  // namespace tg::balancing
