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
    for (const auto& peer : peers) tables.weights.push_back(peer->config().weight);
  }
  if (balancer.algorithm == Algorithm::kHash && balancer.consistent) {
    std::vector<HashRing::Server> servers;
    servers.reserve(peers.size());
    for (const auto& peer : peers) servers.push_back({peer->name(), peer->config().weight});
    tables.ring = HashRing(servers);
  }
  return tables;
}

}  // namespace

UpstreamGroup::UpstreamGroup(std::string name, BalancerConfig balancer, Peers primaries,
                             Peers backups)
    : name_(std::move(name)),
      balancer_(std::move(balancer)),
      primaries_(std::move(primaries)),
      backups_(std::move(backups)),
      primary_tables_(make_tables(balancer_, primaries_)),
      backup_tables_(make_tables(balancer_, backups_)) {
  if (balancer_.sticky.mode != StickyConfig::Mode::kNone) {
    for (std::uint32_t i = 0; i < primaries_.size(); ++i) {
      sticky_.add(primaries_[i]->sticky_id(), StickyTarget{false, i});
    }
    for (std::uint32_t i = 0; i < backups_.size(); ++i) {
      sticky_.add(backups_[i]->sticky_id(), StickyTarget{true, i});
    }
  }
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
  // drain and drain_timeout are operator state, not identity: a server that starts or
  // stops draining in a reload keeps its Peer, so the requests and tunnels it already
  // has are the ones that drain.
  auto same_server = [](const ServerConfig& a, const ServerConfig& b) {
    ServerConfig x = a;
    x.drain = b.drain;
    x.drain_timeout = b.drain_timeout;
    return x == b;
  };
  auto take_or_make = [&](const ServerConfig& config) {
    auto [first, last] = reusable.equal_range(config.name);
    for (auto it = first; it != last; ++it) {
      if (same_server(it->second->config(), config) &&
          it->second->stats().slots() >= worker_slots) {
        auto peer = std::move(it->second);
        reusable.erase(it);
        if (peer->draining() != config.drain) {
          if (now) {
            peer->set_draining(config.drain, *now);
          } else {
            peer->set_draining(config.drain);
          }
        }
        peer->set_drain_timeout(config.drain_timeout);
        return peer;
      }
    }
    auto peer = std::make_shared<Peer>(config, worker_slots);
    if (config.drain && now) peer->set_draining(true, *now);
    if (previous != nullptr) peer->begin_slow_start();  // joins a running group
    return peer;
  };

  UpstreamGroup::Peers primaries;
  UpstreamGroup::Peers backups;
  for (const ServerConfig& config : servers) {
    (config.backup ? backups : primaries).push_back(take_or_make(config));
  }
  return std::make_shared<const UpstreamGroup>(std::move(name), std::move(balancer),
                                               std::move(primaries), std::move(backups));
}

}  // namespace tg::balancing
