#include "balancing/picker_tier.h"

#include <algorithm>
#include <chrono>

#include "balancing/consistent_hash.h"
#include "balancing/eligibility.h"
#include "balancing/hash.h"
#include "balancing/ip_hash.h"
#include "balancing/least_conn.h"
#include "balancing/least_time.h"
#include "balancing/peak_ewma.h"
#include "balancing/random.h"
#include "balancing/round_robin.h"

namespace tg::balancing {

namespace {

std::int64_t ticks(TimePoint t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

/// True if any peer has an active connection. Four independent accumulators let the
/// loads overlap (this loop is most of an idle least_conn pick).
bool any_active(std::span<const Peer* const> peers) noexcept {
  std::int64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  std::size_t i = 0;
  for (; i + 4 <= peers.size(); i += 4) {
    a0 |= peers[i]->active();
    a1 |= peers[i + 1]->active();
    a2 |= peers[i + 2]->active();
    a3 |= peers[i + 3]->active();
  }
  for (; i < peers.size(); ++i) a0 |= peers[i]->active();
  return (a0 | a1 | a2 | a3) != 0;
}

TimingFeed timing_feed_for(const BalancerConfig& b) {
  TimingFeed feed;
  feed.peak_metric = b.metric;
  if (b.algorithm == Algorithm::kPeakEwma) {
    const auto decay = std::chrono::nanoseconds(b.ewma_decay).count();
    feed.peak_decay_ns = static_cast<double>(decay > 0 ? decay : 1);
  }
  const bool least_time =
      b.algorithm == Algorithm::kLeastTime || (b.algorithm == Algorithm::kRandom && b.two &&
                                               b.two_mode == BalancerConfig::TwoMode::kLeastTime);
  feed.track_inflight = least_time && b.inflight;
  return feed;
}

}  // namespace

PickerTier::PickerTier(const UpstreamGroup& group, Kind kind, PickerMode mode)
    : balancer_(group.balancer()),
      tables_(kind == Kind::kPrimaries ? group.primary_tables() : group.backup_tables()),
      mode_(mode),
      passive_(kind == Kind::kPrimaries && group.single() ? PassiveHealth::kIgnored
                                                          : PassiveHealth::kApplies),
      feed_(timing_feed_for(group.balancer())),
      epoch_(group.epoch().get()),
      uses_slow_start_(passive_ == PassiveHealth::kApplies &&
                       (balancer_.algorithm == Algorithm::kRoundRobin ||
                        balancer_.algorithm == Algorithm::kLeastConn ||
                        balancer_.algorithm == Algorithm::kLeastTime)) {
  const bool backup = kind == Kind::kBackups;
  const auto& peers = backup ? group.backups() : group.primaries();
  slots_.reserve(peers.size());
  for (std::uint32_t i = 0; i < peers.size(); ++i) {
    slots_.emplace_back(*peers[i], group.sticky_id(backup, i));
  }
  ties_.reserve(slots_.size());
  members_.reserve(slots_.size());
  member_peers_.reserve(slots_.size());
  member_inv_weights_.reserve(slots_.size());
}

PickerSlot* PickerTier::pick(const PickContext& ctx) {
  if (slots_.empty()) return nullptr;
  switch (balancer_.algorithm) {
    case Algorithm::kRoundRobin:
    case Algorithm::kLeastConn:
      if (ctx.attempt.empty()) {
        // A request's first pick: usually answered from the index without a scan.
        bool fallback = false;
        if (PickerSlot* slot = pick_fast(ctx.now, fallback)) return slot;
        if (!fallback) return nullptr;
      }
      return pick_general(ctx);
    case Algorithm::kIpHash:
      return select_ip_hash(*this, ctx);
    case Algorithm::kHash:
      return balancer_.consistent ? select_consistent_hash(*this, ctx) : select_hash(*this, ctx);
    case Algorithm::kRandom:
      return balancer_.two ? select_random_two(*this, ctx) : select_random(*this, ctx);
    case Algorithm::kLeastTime:
      return select_least_time(*this, ctx);
    case Algorithm::kPeakEwma:
      return select_peak_ewma(*this, ctx);
  }
  return nullptr;
}

PickerSlot* PickerTier::pick_fast(TimePoint now, bool& fallback) {
  if (mode_ == PickerMode::kScan) {
    fallback = true;
    return nullptr;
  }
  if (members_.empty()) return nullptr;
  for (std::uint32_t slot : capped_members_) {
    if (slots_[slot].peer->at_max_conns()) {
      fallback = true;
      return nullptr;
    }
  }
  // least_conn with every member idle: all tie at 0, and nginx's tie-break is a round
  // over all of them, which is what the index does. Any load at all: scan.
  if (balancer_.algorithm == Algorithm::kLeastConn && any_active(member_peers_)) {
    fallback = true;
    return nullptr;
  }
  // A ramping member's round weight differs from its weight: the index cannot model it.
  if (ramping(now) || (!index_valid_ && !build_index())) {
    fallback = true;
    return nullptr;
  }
  return &slots_[index_.pick()];
}

PickerSlot* PickerTier::pick_general(const PickContext& ctx) {
  update_ramp(ctx.now);
  if (balancer_.algorithm == Algorithm::kRoundRobin) return pick_round_robin(ctx);
  least_loaded(slots_, ctx.attempt, ctx.now, ties_, passive_);
  if (ties_.size() <= 1) return ties_.empty() ? nullptr : &slots_[ties_.front()];
  return break_tie(ties_);  // only a tie-break round touches current weights
}

PickerSlot* PickerTier::pick_round_robin(const PickContext& ctx) {
  store_index();
  return select_round_robin(slots_, ctx.attempt, ctx.now, passive_);
}

PickerSlot* PickerTier::pick_sticky(std::uint32_t index, const PickContext& ctx) noexcept {
  PickerSlot& slot = slots_[index];
  return eligibility(*slot.peer, ctx.attempt, ctx.now, passive_, Binding::kSticky) ==
                 Eligibility::kEligible
             ? &slot
             : nullptr;
}

PickerSlot* PickerTier::break_tie(std::span<const std::uint32_t> ties) {
  store_index();
  SmoothWeightedChoice choice;
  for (std::uint32_t slot : ties) choice.offer(slots_[slot]);
  return choice.finish();
}

void PickerTier::on_failure(std::uint32_t slot) noexcept {
  if (passive_ == PassiveHealth::kIgnored) return;
  store_index();
  slots_[slot].on_failure();
}

std::ptrdiff_t PickerTier::find(const Peer& peer) const noexcept {
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].peer == &peer) return static_cast<std::ptrdiff_t>(i);
  }
  return -1;
}

WeightState PickerTier::weights(std::uint32_t slot) const noexcept {
  WeightState w{slots_[slot].current_weight, slots_[slot].effective_weight};
  if (index_valid_) {
    if (auto current = index_.current_weight(slot)) w.current_weight = *current;
  }
  return w;
}

void PickerTier::set_weights(std::uint32_t slot, WeightState w) noexcept {
  store_index();
  slots_[slot].current_weight = w.current_weight;
  slots_[slot].effective_weight = std::clamp(w.effective_weight, 0, slots_[slot].weight);
}

void PickerTier::refresh(TimePoint now) {
  if (slots_.empty()) return;  // e.g. no backups
  const std::uint64_t epoch = epoch_->load(std::memory_order_acquire);
  const std::int64_t t = ticks(now);
  if (standing_valid_ && epoch == standing_epoch_ && t < standing_valid_until_) return;

  store_index();  // the member set may change
  standing_valid_ = true;
  standing_epoch_ = epoch;
  standing_valid_until_ = std::numeric_limits<std::int64_t>::max();
  ramp_until_ = std::numeric_limits<std::int64_t>::min();
  members_.clear();
  member_peers_.clear();
  capped_members_.clear();
  member_inv_weights_.clear();
  draw_weights_.clear();
  const bool weighted_draws =
      balancer_.algorithm == Algorithm::kRandom || balancer_.algorithm == Algorithm::kPeakEwma;
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    Peer& peer = *slots_[i].peer;
    peer.observe(now);
    if (uses_slow_start_) {
      if (auto ends = peer.slow_start_ends(); ends && *ends > now) {
        ramp_until_ = std::max(ramp_until_, ticks(*ends));
      }
    }
    switch (standing(peer, now, passive_)) {
      case Eligibility::kEligible:  // max_conns and tried are checked per pick
        members_.push_back(i);
        member_peers_.push_back(&peer);
        if (peer.max_conns() > 0) capped_members_.push_back(i);
        member_inv_weights_.push_back(1.0 / slots_[i].ramped_weight);
        if (weighted_draws) draw_weights_.push_back(slots_[i].weight);
        break;
      case Eligibility::kFailed:
        standing_valid_until_ = std::min(standing_valid_until_, ticks(peer.failed_until()));
        break;
      default:
        break;
    }
  }
  if (weighted_draws) member_draws_.build(draw_weights_);
}

bool PickerTier::ramping(TimePoint now) const noexcept {
  return ticks(now) < ramp_until_;
}

void PickerTier::update_ramp(TimePoint now) noexcept {
  if (ramping(now)) {
    for (PickerSlot& slot : slots_) {
      slot.ramped_weight = slot.peer->slow_start_weight(slot.weight, now);
    }
    ramped_ = true;
  } else if (ramped_) {
    for (PickerSlot& slot : slots_) slot.ramped_weight = slot.weight;
    ramped_ = false;
  } else {
    return;
  }
  for (std::size_t k = 0; k < members_.size(); ++k) {
    member_inv_weights_[k] = 1.0 / slots_[members_[k]].ramped_weight;
  }
}

bool PickerTier::build_index() {
  for (std::uint32_t slot : members_) {
    if (slots_[slot].effective_weight != slots_[slot].weight) return false;  // recovering
  }
  index_.build(slots_, members_);
  index_valid_ = true;
  return true;
}

void PickerTier::store_index() noexcept {
  if (!index_valid_) return;
  index_.store(slots_);
  index_valid_ = false;
}

}  // namespace tg::balancing
