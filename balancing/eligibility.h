// The single eligibility check shared by every balancing algorithm.
#pragma once

#include <cstdint>

#include "balancing/attempt.h"
#include "balancing/peer.h"

namespace tg::balancing {

/// Why a peer can or cannot take this request.
enum class Eligibility : std::uint8_t {
  kEligible,
  kUnavailable,  ///< down, draining (unless sticky-bound) or unhealthy (operator/health state)
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

/// The peer's *standing*: the first two reasons of eligibility(), which change only
/// together with the group's standing epoch (Peer::standing_epoch()) or at Peer::failed_until(), so
/// a picker may cache a kEligible standing (PickerTier does) and check only request_eligibility()
/// per pick.
inline Eligibility standing(const Peer& peer, TimePoint now,
                            PassiveHealth passive = PassiveHealth::kApplies,
                            Binding binding = Binding::kNone) noexcept {
  if (!peer.available(binding)) return Eligibility::kUnavailable;
  if (passive == PassiveHealth::kApplies && peer.failed(now)) return Eligibility::kFailed;
  return Eligibility::kEligible;
}

/// The per-request, per-moment reasons of eligibility(): tried, then max_conns.
inline Eligibility request_eligibility(const Peer& peer, const Attempt& attempt) noexcept {
  if (attempt.tried(peer)) return Eligibility::kTried;
  if (peer.at_max_conns()) return Eligibility::kAtMaxConns;
  return Eligibility::kEligible;
}

/// The one place that decides whether `peer` may be picked for `attempt` at `now`.
/// Algorithms only rank eligible peers; they never repeat these checks (nginx copies
/// them into every module).
///
/// The order matters to callers: standing() first, then request_eligibility(); so
/// kEligible or kAtMaxConns for an empty attempt means "standing is fine".
/// With PassiveHealth::kIgnored the answer is never kFailed. With Binding::kSticky (the
/// request's sticky cookie or route names this peer) a draining peer is not unavailable:
/// nginx's `drain` keeps sending it the requests bound to it, and only those.
inline Eligibility eligibility(const Peer& peer, const Attempt& attempt, TimePoint now,
                               PassiveHealth passive = PassiveHealth::kApplies,
                               Binding binding = Binding::kNone) noexcept {
  if (const Eligibility s = standing(peer, now, passive, binding); s != Eligibility::kEligible) {
    return s;
  }
  return request_eligibility(peer, attempt);
}

}  // namespace tg::balancing
