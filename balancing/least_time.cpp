#include "balancing/least_time.h"

#include <limits>

namespace tg::balancing {

namespace {

/// least_time_load per weight, as a double (1 / weight is precomputed per member).
/// Exact for equal weights; across different weights two loads in exactly the weights'
/// ratio may round apart and skip the round-robin tie-break, which only shifts who of
/// two equally good servers goes first.
template <TimeMetric kMetric, bool kInflight>
double key_of(const Peer& peer, double inv_weight, TimePoint now) noexcept {
  double average = peer.response_time_ns(kMetric);
  if constexpr (kInflight) {
    average = std::max(average, static_cast<double>(peer.inflight_age(now).count()));
  }
  // In doubles: nothing to clamp, and exact while the product stays below 2^53.
  return (average + 1) * (static_cast<double>(peer.active()) + 1) * inv_weight;
}

/// The scan, specialised so the common case (a first try, no max_conns, no inflight) is
/// a tight loop over contiguous member arrays: per member one pointer, one 1/weight,
/// two loads from the peer's hot line, a multiply and a compare. Ties are only counted
/// here; a second pass collects them in the rare case there are several.
template <TimeMetric kMetric, bool kInflight, bool kRequestChecks>
PickerSlot* scan(PickerTier& tier, const PickContext& ctx) {
  const auto peers = tier.member_peers();
  const auto inv_weights = tier.member_inv_weights();
  const auto members = tier.members();
  double best = std::numeric_limits<double>::infinity();
  std::size_t best_k = members.size();
  std::size_t tied = 0;
  const std::size_t n = peers.size();
  const Peer* const* p = peers.data();
  const double* w = inv_weights.data();
  auto consider = [&](std::size_t k, double key) {
    if (key > best) return;
    if (key < best) {
      best = key;
      best_k = k;
      tied = 0;
    }
    ++tied;
  };
  if constexpr (kRequestChecks) {
    for (std::size_t k = 0; k < n; ++k) {
      if (request_eligibility(*p[k], ctx.attempt) != Eligibility::kEligible) continue;
      consider(k, key_of<kMetric, kInflight>(*p[k], w[k], ctx.now));
    }
  } else {
    // Two members per step, one well-predicted branch for both: most keys lose.
    std::size_t k = 0;
    for (; k + 2 <= n; k += 2) {
      const double k0 = key_of<kMetric, kInflight>(*p[k], w[k], ctx.now);
      const double k1 = key_of<kMetric, kInflight>(*p[k + 1], w[k + 1], ctx.now);
      if (k0 > best && k1 > best) continue;
      consider(k, k0);
      consider(k + 1, k1);
    }
    if (k < n) consider(k, key_of<kMetric, kInflight>(*p[k], w[k], ctx.now));
  }
  if (best_k == members.size()) return nullptr;
  std::span<PickerSlot> slots = tier.slots();
  if (tied == 1) return &slots[members[best_k]];

  // Several at the best key: nginx breaks the tie by weighted round robin among them.
  // Other workers may have moved loads since; whoever still ties joins (the winner of
  // the first pass always does).
  std::vector<std::uint32_t>& ties = tier.ties();
  ties.clear();
  for (std::size_t k = 0; k < peers.size(); ++k) {
    if (k != best_k) {
      if constexpr (kRequestChecks) {
        if (request_eligibility(*peers[k], ctx.attempt) != Eligibility::kEligible) continue;
      }
      if (key_of<kMetric, kInflight>(*peers[k], inv_weights[k], ctx.now) != best) continue;
    }
    ties.push_back(members[k]);
  }
  return tier.break_tie(ties);
}

template <TimeMetric kMetric, bool kInflight>
PickerSlot* scan(PickerTier& tier, const PickContext& ctx, bool request_checks) {
  return request_checks ? scan<kMetric, kInflight, true>(tier, ctx)
                        : scan<kMetric, kInflight, false>(tier, ctx);
}

}  // namespace

PickerSlot* select_least_time(PickerTier& tier, const PickContext& ctx) {
  tier.update_ramp(ctx.now);
  // Tried and max_conns can only matter on a retry or with a capped member.
  const bool checks = !ctx.attempt.empty() || tier.has_capped_members();
  const bool header = tier.balancer().metric == TimeMetric::kHeader;
  if (tier.balancer().inflight) {
    return header ? scan<TimeMetric::kHeader, true>(tier, ctx, checks)
                  : scan<TimeMetric::kLastByte, true>(tier, ctx, checks);
  }
  return header ? scan<TimeMetric::kHeader, false>(tier, ctx, checks)
                : scan<TimeMetric::kLastByte, false>(tier, ctx, checks);
}

}  // namespace tg::balancing
