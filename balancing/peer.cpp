#include "balancing/peer.h"

#include <utility>

namespace tg::balancing {

Peer::Peer(ServerConfig config, std::size_t worker_slots)
    : flags_(config.down ? kDown : 0u),
      max_fails_(config.max_fails),
      max_conns_(config.max_conns),
      fail_timeout_(std::chrono::nanoseconds(config.fail_timeout).count()),
      config_(std::move(config)),
      stats_(worker_slots) {}

}  // namespace tg::balancing
