// The single eligibility check shared by every balancing algorithm.
#pragma once

#include <cstdint>

#include "balancing/attempt.h"
#include "balancing/peer.h"

namespace tg::balancing {

/// Why a peer can or cannot take this request.
enum class Eligibility : std::uint8_t {
  kEligible,
  kUnavailable,  ///< down, draining or unhealthy (operator/health state)
  kFailed,       ///< max_fails reached within fail_timeout (passive health)
  kTried,        ///< already picked by this request
  kAtMaxConns,   ///< max_conns reached
};

/// Whether passive health (max_fails / fail_timeout) can keep a peer out.
enum class PassiveHealth : bool {
  kApplies,
  /// nginx's `peers->single`: the only primary server of a group is never considered
  /// failed (its failures are still counted in Peer::fails()).
  kIgnored,
};

/// The one place that decides whether `peer` may be picked for `attempt` at `now`.
/// Algorithms only rank eligible peers; they never repeat these checks (nginx copies
/// them into every module).
///
/// The order matters to callers: the first two reasons are the peer's *standing*, which
/// changes only together with Peer::standing_epoch() or at Peer::failed_until(), so a
/// picker may cache "standing is fine" (kEligible or kAtMaxConns for an empty attempt
/// means exactly that); the last two are per request and per moment.
/// With PassiveHealth::kIgnored the answer is never kFailed.
inline Eligibility eligibility(const Peer& peer, const Attempt& attempt, TimePoint now,
                               PassiveHealth passive = PassiveHealth::kApplies) noexcept {
  if (!peer.available()) return Eligibility::kUnavailable;
  if (passive == PassiveHealth::kApplies && peer.failed(now)) return Eligibility::kFailed;
  if (attempt.tried(peer)) return Eligibility::kTried;
  if (peer.at_max_conns()) return Eligibility::kAtMaxConns;
  return Eligibility::kEligible;
}

}  // namespace tg::balancing
