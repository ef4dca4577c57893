#include "health/outlier.h"

#include <algorithm>

#include "common/error_log.h"

namespace tg::health {

namespace {

std::string duration_text(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

}  // namespace

void OutlierDetector::tick(const conf::OutlierDetection& cfg,
                           const balancing::GroupMembership& group, balancing::TimePoint now) {
  Group& g = groups_[group.name()];
  const auto& servers = group.servers();
  // Servers gone from the group are forgotten.
  std::erase_if(g.servers, [&](const auto& kv) {
    return std::none_of(servers.begin(), servers.end(),
                        [&](const auto& s) { return s.peer->id() == kv.first; });
  });
  const std::string in = " in upstream \"" + group.name() + "\"";
  std::size_t ejected = 0;
  for (const auto& s : servers) {
    balancing::Peer& peer = *s.peer;
    Server& st = g.servers[peer.id()];
    if (!peer.ejected()) continue;
    if (!st.until) st.until = now;  // ejected by a state this detector lost: returns now
    if (now >= *st.until) {
      st.until.reset();
      st.quiet_since = now;
      peer.reset_consecutive_errors();
      peer.set_ejected(false);
      log(LogLevel::kNotice, "peer is back from ejection, peer " + peer.name() + in);
    } else {
      ++ejected;
    }
  }
  // Envoy's rule: never more than the share, but one server always may go. And,
  // as nginx never takes a group's only primary out for passive failures, the last
  // primary still available stays (else every request would get a 502).
  const std::size_t allowed =
      std::max<std::size_t>(1, servers.size() * cfg.max_ejection_percent / 100);
  std::size_t primaries_up = 0;
  for (const auto& s : servers) {
    if (!s.config.backup && s.peer->available()) ++primaries_up;
  }
  for (const auto& s : servers) {
    balancing::Peer& peer = *s.peer;
    if (peer.ejected() || peer.consecutive_errors() < cfg.consecutive_5xx) continue;
    if (ejected >= allowed) break;
    const bool primary_up = !s.config.backup && peer.available();
    if (primary_up && primaries_up <= 1) continue;
    if (primary_up) --primaries_up;
    Server& st = g.servers[peer.id()];
    ++st.ejections;
    const auto for_ms = std::min(cfg.base_ejection_time * st.ejections, cfg.max_ejection_time);
    st.until = now + for_ms;
    peer.set_ejected(true);
    ++ejected;
    log(LogLevel::kWarn, "peer is ejected for " + duration_text(for_ms) + " after " +
                             std::to_string(peer.consecutive_errors()) +
                             " consecutive errors, peer " + peer.name() + in);
  }
  // Each whole interval a server spends back in the group takes one ejection off
  // its backoff.
  for (const auto& s : servers) {
    Server& st = g.servers[s.peer->id()];
    if (s.peer->ejected() || st.ejections == 0) continue;
    if (now - st.quiet_since >= cfg.interval) {
      --st.ejections;
      st.quiet_since = now;
    }
  }
}

int OutlierDetector::ejections(std::uint64_t id) const {
  for (const auto& [name, g] : groups_) {
    auto it = g.servers.find(id);
    if (it != g.servers.end()) return it->second.ejections;
  }
  return 0;
}

}  // namespace tg::health
