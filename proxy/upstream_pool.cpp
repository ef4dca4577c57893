#include "proxy/upstream_pool.h"

#include <sys/socket.h>

namespace tg::proxy {

std::optional<UpstreamConnection> UpstreamPool::take(const std::string& group,
                                                     const balancing::Peer* peer,
                                                     std::chrono::steady_clock::time_point now) {
  auto it = idle_.find(group);
  if (it == idle_.end()) return std::nullopt;
  auto& list = it->second;
  for (auto e = list.rbegin(); e != list.rend(); ++e) {
    if (e->conn.peer != peer) continue;
    Entry entry = std::move(*e);
    list.erase(std::next(e).base());
    // No liveness probe here (it would cost a syscall per request, and nginx has
    // none either): a cached connection the upstream closed fails on first use
    // and the request is retried once on a fresh connection.
    if (now - entry.conn.idle_since > entry.timeout) {
      boost::system::error_code ec;
      entry.conn.socket.close(ec);
      return std::nullopt;
    }
    return std::move(entry.conn);
  }
  return std::nullopt;
}

void UpstreamPool::put(const std::string& group, const Limits& limits, UpstreamConnection conn,
                       std::chrono::steady_clock::time_point now) {
  boost::system::error_code ec;
  if (limits.keepalive <= 0 || conn.requests >= limits.requests ||
      now - conn.created >= limits.time) {
    conn.socket.close(ec);
    return;
  }
  auto& list = idle_[group];
  conn.idle_since = now;
  list.push_back(Entry{std::move(conn), limits.timeout});
  if (list.size() > static_cast<size_t>(limits.keepalive)) {
    list.front().conn.socket.close(ec);  // least recently used goes first
    list.erase(list.begin());
  }
}

void UpstreamPool::sweep(std::chrono::steady_clock::time_point now) {
  boost::system::error_code ec;
  for (auto& [group, list] : idle_) {
    for (auto e = list.begin(); e != list.end();) {
      if (now - e->conn.idle_since > e->timeout) {
        e->conn.socket.close(ec);
        e = list.erase(e);
      } else {
        ++e;
      }
    }
  }
}

void UpstreamPool::clear() {
  boost::system::error_code ec;
  for (auto& [group, list] : idle_) {
    for (auto& e : list) e.conn.socket.close(ec);
  }
  idle_.clear();
}

}  // namespace tg::proxy
