#include "balancing/upstream_group.h"

#include <unordered_map>
#include <utility>

namespace tg::balancing {

UpstreamGroup::UpstreamGroup(std::string name, Algorithm algorithm, Peers primaries, Peers backups)
    : name_(std::move(name)),
      algorithm_(algorithm),
      primaries_(std::move(primaries)),
      backups_(std::move(backups)) {}

std::shared_ptr<Peer> UpstreamGroup::find(std::string_view server_name) const {
  for (const Peers* tier : {&primaries_, &backups_}) {
    for (const auto& peer : *tier) {
      if (peer->name() == server_name) return peer;
    }
  }
  return nullptr;
}

std::shared_ptr<const UpstreamGroup> make_group(std::string name, Algorithm algorithm,
                                                std::span<const ServerConfig> servers,
                                                std::size_t worker_slots,
                                                const UpstreamGroup* previous) {
  // Reusable peers of the previous snapshot by name; each is handed out at most once.
  std::unordered_multimap<std::string_view, std::shared_ptr<Peer>> reusable;
  if (previous != nullptr) {
    for (const auto* tier : {&previous->primaries(), &previous->backups()}) {
      for (const auto& peer : *tier) reusable.emplace(peer->name(), peer);
    }
  }
  auto take_or_make = [&](const ServerConfig& config) {
    auto [first, last] = reusable.equal_range(config.name);
    for (auto it = first; it != last; ++it) {
      if (it->second->config() == config && it->second->stats().slots() >= worker_slots) {
        auto peer = std::move(it->second);
        reusable.erase(it);
        return peer;
      }
    }
    return std::make_shared<Peer>(config, worker_slots);
  };

  UpstreamGroup::Peers primaries;
  UpstreamGroup::Peers backups;
  for (const ServerConfig& config : servers) {
    (config.backup ? backups : primaries).push_back(take_or_make(config));
  }
  return std::make_shared<const UpstreamGroup>(std::move(name), algorithm, std::move(primaries),
                                               std::move(backups));
}

}  // namespace tg::balancing
