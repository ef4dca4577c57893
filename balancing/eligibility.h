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

/// The one place that decides whether `peer` may be picked for `attempt` at `now`.
/// Algorithms only rank eligible peers; they never repeat these checks (nginx copies
/// them into every module).
///
/// The order matters to callers: the first two reasons are the peer's *standing*, which
/// changes only together with Peer::standing_epoch() or at Peer::failed_until(), so a
/// picker may cache "standing is fine" (kEligible or kAtMaxConns for an empty attempt
/// means exactly that); the last two are per request and per moment.
/// kFailed lets the picker apply nginx's "all peers failed" recovery.
inline Eligibility eligibility(const Peer& peer, const Attempt& attempt, TimePoint now) noexcept {
  if (!peer.available()) return Eligibility::kUnavailable;
  if (peer.failed(now)) return Eligibility::kFailed;
  if (attempt.tried(peer)) return Eligibility::kTried;
  if (peer.at_max_conns()) return Eligibility::kAtMaxConns;
  return Eligibility::kEligible;
}

}  // namespace tg::balancing
