#include "balancing/picker_tier.h"

#include <algorithm>
#include <chrono>

#include "balancing/eligibility.h"
#include "balancing/least_conn.h"
#include "balancing/round_robin.h"

namespace tg::balancing {

namespace {

std::int64_t ticks(TimePoint t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

const Attempt kFirstAttempt;

/// True if any peer has an active connection. Four independent accumulators let the
/// loads overlap (this loop is most of an idle least_conn pick).
bool any_active(const std::vector<const Peer*>& peers) noexcept {
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

}  // namespace

PickerTier::PickerTier(const UpstreamGroup::Peers& peers, PickerMode mode, PassiveHealth passive)
    : mode_(mode), passive_(passive) {
  slots_.reserve(peers.size());
  for (const auto& peer : peers) slots_.emplace_back(*peer);
  ties_.reserve(slots_.size());
  members_.reserve(slots_.size());
  member_peers_.reserve(slots_.size());
}

PickerSlot* PickerTier::pick_fast(Algorithm algorithm, TimePoint now, bool& fallback) {
  if (mode_ == PickerMode::kScan || slots_.empty()) {
    fallback = !slots_.empty();
    return nullptr;
  }
  refresh_standing(now);
  if (members_.empty()) return nullptr;
  for (std::uint32_t slot : capped_members_) {
    if (slots_[slot].peer->at_max_conns()) {
      fallback = true;
      return nullptr;
    }
  }
  // least_conn with every member idle: all tie at 0, and nginx's tie-break is a round
  // over all of them, which is what the index does. Any load at all: scan.
  if (algorithm == Algorithm::kLeastConn && any_active(member_peers_)) {
    fallback = true;
    return nullptr;
  }
  if (!index_valid_ && !build_index()) {
    fallback = true;
    return nullptr;
  }
  return &slots_[index_.pick()];
}

PickerSlot* PickerTier::pick_general(Algorithm algorithm, const Attempt& attempt, TimePoint now) {
  if (algorithm == Algorithm::kRoundRobin) {
    store_index();
    return select_round_robin(slots_, attempt, now, passive_);
  }
  least_loaded(slots_, attempt, now, ties_, passive_);
  if (ties_.size() <= 1) return ties_.empty() ? nullptr : &slots_[ties_.front()];
  store_index();  // only a tie-break round touches current weights
  SmoothWeightedChoice choice;
  for (std::uint32_t slot : ties_) choice.offer(slots_[slot]);
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

void PickerTier::refresh_standing(TimePoint now) {
  const std::uint64_t epoch = Peer::standing_epoch();
  const std::int64_t t = ticks(now);
  if (standing_valid_ && epoch == standing_epoch_ && t < standing_valid_until_) return;

  store_index();  // the member set may change
  standing_valid_ = true;
  standing_epoch_ = epoch;
  standing_valid_until_ = std::numeric_limits<std::int64_t>::max();
  members_.clear();
  member_peers_.clear();
  capped_members_.clear();
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    const Peer& peer = *slots_[i].peer;
    switch (eligibility(peer, kFirstAttempt, now, passive_)) {
      case Eligibility::kEligible:
      case Eligibility::kTried:
      case Eligibility::kAtMaxConns:  // standing is fine; max_conns is checked per pick
        members_.push_back(i);
        member_peers_.push_back(&peer);
        if (peer.config().max_conns > 0) capped_members_.push_back(i);
        break;
      case Eligibility::kFailed:
        standing_valid_until_ = std::min(standing_valid_until_, ticks(peer.failed_until()));
        break;
      case Eligibility::kUnavailable:
        break;
    }
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
