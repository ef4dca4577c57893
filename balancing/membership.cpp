#include "balancing/membership.h"

#include <algorithm>
#include <utility>

#include "balancing/sticky.h"

namespace tg::balancing {

GroupMembership::GroupMembership(std::string name, std::size_t worker_slots)
    : name_(std::move(name)), worker_slots_(worker_slots) {
  publish();
}

void GroupMembership::load(std::span<const ServerConfig> servers, const BalancerConfig& balancer,
                           bool dynamic, std::optional<TimePoint> now) {
  std::vector<Server> next;
  std::vector<bool> taken(servers_.size(), false);
  for (const ServerConfig& config : servers) {
    // A server is its address and tier; conf servers pair up one to one in order.
    std::size_t match = servers_.size();
    for (std::size_t i = 0; i < servers_.size(); ++i) {
      const Server& s = servers_[i];
      if (!taken[i] && s.config.name == config.name && s.config.backup == config.backup) {
        match = i;
        break;
      }
    }
    if (match == servers_.size()) {
      auto peer = std::make_shared<Peer>(config, worker_slots_, epoch_);
      if (config.drain && now) peer->set_draining(true, *now);
      if (loaded_) peer->begin_slow_start();  // joins a running group
      if (checks_.mandatory) peer->set_checking(true);
      next.push_back(Server{std::move(peer), config, true, false});
      continue;
    }
    taken[match] = true;
    Server kept = std::move(servers_[match]);
    kept.from_conf = true;
    // NGINX Plus: with a zone, settings changed at run time survive the reload.
    if (!(dynamic && kept.modified)) {
      kept.config = config;
      kept.modified = false;
      kept.peer->apply(config, now);
    }
    next.push_back(std::move(kept));
  }
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    if (taken[i]) continue;
    if (dynamic && loaded_ && !servers_[i].from_conf) {
      next.push_back(std::move(servers_[i]));  // added at run time: stays
    } else {
      retire(std::move(servers_[i].peer));
    }
  }
  for (const auto& s : next) {
    if (!checks_.active) {  // no checks (any more): nothing keeps a server out
      s.peer->set_checking(false);
      s.peer->set_healthy(true);
    } else if (checks_.mandatory && (!checks_.persistent || !s.peer->healthy())) {
      // NGINX Plus: checked again after a reload; with `persistent`, only the
      // servers that were not healthy before it.
      s.peer->set_checking(true);
    }
  }
  servers_ = std::move(next);
  balancer_ = balancer;
  dynamic_.store(dynamic, std::memory_order_relaxed);
  loaded_ = true;
  publish();
}

std::uint64_t GroupMembership::add(const ServerConfig& config, TimePoint now, bool checking) {
  auto peer = std::make_shared<Peer>(config, worker_slots_, epoch_);
  if (config.drain) peer->set_draining(true, now);
  peer->begin_slow_start();
  if (checks_.mandatory || (checking && checks_.active)) peer->set_checking(true);
  const std::uint64_t id = peer->id();
  servers_.push_back(Server{std::move(peer), config, false, true});
  publish();
  return id;
}

bool GroupMembership::update(std::uint64_t id, const ServerConfig& config, TimePoint now) {
  for (auto& s : servers_) {
    if (s.peer->id() != id) continue;
    s.config = config;
    s.config.name = s.peer->name();
    s.config.endpoint = s.peer->endpoint();
    s.config.backup = s.peer->backup();
    s.modified = true;
    s.peer->apply(s.config, now);
    publish();
    return true;
  }
  return false;
}

bool GroupMembership::remove(std::uint64_t id) {
  auto it = std::find_if(servers_.begin(), servers_.end(),
                         [id](const Server& s) { return s.peer->id() == id; });
  if (it == servers_.end()) return false;
  auto peer = std::move(it->peer);
  servers_.erase(it);
  // A picker built before this change (a request retrying on the next server
  // holds one until it ends) must not pick it either: down, for everyone.
  peer->set_down(true);
  retire(std::move(peer));
  publish();
  return true;
}

const GroupMembership::Server* GroupMembership::find(std::uint64_t id) const noexcept {
  for (const auto& s : servers_) {
    if (s.peer->id() == id) return &s;
  }
  return nullptr;
}

void GroupMembership::retire(std::shared_ptr<Peer> peer) {
  zombies_.push_back(std::move(peer));
}

std::size_t GroupMembership::collect_zombies() {
  std::erase_if(zombies_, [this](const std::shared_ptr<Peer>& peer) {
    if (peer->active() > 0 || peer->tunnels() > 0) return false;
    retired_ += peer->stats().snapshot();
    return true;
  });
  return zombies_.size();
}

void GroupMembership::publish() {
  UpstreamGroup::Peers primaries;
  UpstreamGroup::Peers backups;
  std::vector<std::string> primary_ids;
  std::vector<std::string> backup_ids;
  for (const auto& s : servers_) {
    (s.config.backup ? backups : primaries).push_back(s.peer);
    (s.config.backup ? backup_ids : primary_ids).push_back(sticky_id_for(s.config));
  }
  auto next = std::make_shared<const UpstreamGroup>(name_, balancer_, std::move(primaries),
                                                    std::move(backups), std::move(primary_ids),
                                                    std::move(backup_ids), epoch_);
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_ = std::move(next);
  }
  version_.fetch_add(1, std::memory_order_release);
}

}  // namespace tg::balancing
