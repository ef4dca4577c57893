#include "balancing/upstream_group.h"

#include <unordered_map>
#include <utility>

namespace tg::balancing {

namespace {

TierTables make_tables(const BalancerConfig& balancer, const UpstreamGroup::Peers& peers) {
  TierTables tables;
  if (balancer.algorithm == Algorithm::kIpHash ||
      (balancer.algorithm == Algorithm::kHash && !balancer.consistent)) {
    tables.weights.reserve(peers.size());
    for (const auto& peer : peers) tables.weights.push_back(peer->weight());
  }
  if (balancer.algorithm == Algorithm::kHash && balancer.consistent) {
    std::vector<HashRing::Server> servers;
    servers.reserve(peers.size());
    for (const auto& peer : peers) servers.push_back({peer->name(), peer->weight()});
    tables.ring = HashRing(servers);
  }
  return tables;
}

std::vector<std::string> ids_or_default(std::vector<std::string> ids,
                                        const UpstreamGroup::Peers& peers) {
  if (ids.size() == peers.size()) return ids;
  ids.clear();
  for (const auto& peer : peers) {
    ServerConfig c;
    c.name = peer->name();
    ids.push_back(sticky_id_for(c));
  }
  return ids;
}

}  // namespace

UpstreamGroup::UpstreamGroup(std::string name, BalancerConfig balancer, Peers primaries,
                             Peers backups, std::vector<std::string> primary_ids,
                             std::vector<std::string> backup_ids, Peer::Epoch epoch)
    : name_(std::move(name)),
      balancer_(std::move(balancer)),
      primaries_(std::move(primaries)),
      backups_(std::move(backups)),
      primary_ids_(ids_or_default(std::move(primary_ids), primaries_)),
      backup_ids_(ids_or_default(std::move(backup_ids), backups_)),
      epoch_(epoch                 ? std::move(epoch)
             : !primaries_.empty() ? primaries_.front()->epoch()
             : !backups_.empty()   ? backups_.front()->epoch()
                                   : std::make_shared<std::atomic<std::uint64_t>>(0)),
      primary_tables_(make_tables(balancer_, primaries_)),
      backup_tables_(make_tables(balancer_, backups_)) {
  if (balancer_.sticky.mode != StickyConfig::Mode::kNone) {
    for (std::uint32_t i = 0; i < primaries_.size(); ++i) {
      sticky_.add(primary_ids_[i], StickyTarget{false, i});
    }
    for (std::uint32_t i = 0; i < backups_.size(); ++i) {
      sticky_.add(backup_ids_[i], StickyTarget{true, i});
    }
  }
}

std::string_view UpstreamGroup::sticky_id_of(const Peer& peer) const noexcept {
  for (std::uint32_t i = 0; i < primaries_.size(); ++i) {
    if (primaries_[i].get() == &peer) return primary_ids_[i];
  }
  for (std::uint32_t i = 0; i < backups_.size(); ++i) {
    if (backups_[i].get() == &peer) return backup_ids_[i];
  }
  return {};
}

std::shared_ptr<Peer> UpstreamGroup::find_id(std::uint64_t id) const {
  for (const Peers* tier : {&primaries_, &backups_}) {
    for (const auto& peer : *tier) {
      if (peer->id() == id) return peer;
    }
  }
  return nullptr;
}

std::shared_ptr<Peer> UpstreamGroup::find(std::string_view server_name) const {
  for (const Peers* tier : {&primaries_, &backups_}) {
    for (const auto& peer : *tier) {
      if (peer->name() == server_name) return peer;
    }
  }
  return nullptr;
}

std::shared_ptr<const UpstreamGroup> make_group(std::string name, BalancerConfig balancer,
                                                std::span<const ServerConfig> servers,
                                                std::size_t worker_slots,
                                                const UpstreamGroup* previous,
                                                std::optional<TimePoint> now) {
  // Reusable peers of the previous snapshot by name; each is handed out at most once.
  std::unordered_multimap<std::string_view, std::shared_ptr<Peer>> reusable;
  if (previous != nullptr) {
    for (const auto* tier : {&previous->primaries(), &previous->backups()}) {
      for (const auto& peer : *tier) reusable.emplace(peer->name(), peer);
    }
  }
  const Peer::Epoch epoch =
      previous != nullptr ? previous->epoch() : std::make_shared<std::atomic<std::uint64_t>>(0);
  // A server is its address and tier; everything else is a setting that changes in
  // place, so its requests, tunnels and counters stay with it.
  auto take_or_make = [&](const ServerConfig& config) {
    auto [first, last] = reusable.equal_range(config.name);
    for (auto it = first; it != last; ++it) {
      if (it->second->backup() == config.backup && it->second->stats().slots() >= worker_slots) {
        auto peer = std::move(it->second);
        reusable.erase(it);
        peer->apply(config, now);
        return peer;
      }
    }
    auto peer = std::make_shared<Peer>(config, worker_slots, epoch);
    if (config.drain && now) peer->set_draining(true, *now);
    if (previous != nullptr) peer->begin_slow_start();  // joins a running group
    return peer;
  };

  UpstreamGroup::Peers primaries;
  UpstreamGroup::Peers backups;
  std::vector<std::string> primary_ids;
  std::vector<std::string> backup_ids;
  for (const ServerConfig& config : servers) {
    (config.backup ? backups : primaries).push_back(take_or_make(config));
    (config.backup ? backup_ids : primary_ids).push_back(sticky_id_for(config));
  }
  return std::make_shared<const UpstreamGroup>(std::move(name), std::move(balancer),
                                               std::move(primaries), std::move(backups),
                                               std::move(primary_ids), std::move(backup_ids));
}

}  // namespace tg::balancing
