#include "proxy/upstream_pool.h"

#include <sys/socket.h>

#include <algorithm>

namespace tg::proxy {

std::optional<UpstreamConnection> UpstreamPool::take(const std::string& group,
                                                     std::uint64_t peer_id,
                                                     std::chrono::steady_clock::time_point now) {
  auto it = idle_.find(group);
  if (it == idle_.end()) return std::nullopt;
  auto& list = it->second.list;
  for (auto e = list.rbegin(); e != list.rend(); ++e) {
    if (e->conn.peer_id != peer_id) continue;
    Entry entry = std::move(*e);
    list.erase(std::next(e).base());
    it->second.changed();
    boost::system::error_code ec;
    // Ends the readiness wait (no syscall). A close the wait has not reported
    // yet fails on first use, and the request is retried once on a fresh connection.
    entry.conn.socket.cancel(ec);
    if (now - entry.conn.idle_since > entry.timeout) {
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
  auto& g = idle_[group];
  if (!g.gauge && gauges_) g.gauge = gauges_->gauge(group);
  auto& list = g.list;
  conn.idle_since = now;
  const uint64_t id = ++next_id_;
  list.push_back(Entry{std::move(conn), limits.timeout, id});
  watch(g, list.back().conn.socket, id);
  if (list.size() > static_cast<size_t>(limits.keepalive)) {
    list.front().conn.socket.close(ec);  // least recently used goes first
    list.erase(list.begin());
  }
  g.changed();
}

void UpstreamPool::watch(Group& group, Socket& socket, uint64_t id) {
  // The socket is registered with epoll already (edge-triggered), so this wait
  // costs no syscall; take() cancels it.
  socket.async_wait(Socket::wait_read, [&group, id](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled by take(), or closed by sweep/put/clear
    auto& list = group.list;
    auto it = std::find_if(list.begin(), list.end(), [id](const Entry& e) { return e.id == id; });
    if (it == list.end()) return;
    boost::system::error_code ignored;
    it->conn.socket.close(ignored);
    list.erase(it);
    group.changed();
  });
}

void UpstreamPool::sweep(std::chrono::steady_clock::time_point now) {
  boost::system::error_code ec;
  for (auto& [name, g] : idle_) {
    std::erase_if(g.list, [&](Entry& e) {
      if (now - e.conn.idle_since <= e.timeout) return false;
      e.conn.socket.close(ec);
      return true;
    });
    g.changed();
  }
}

void UpstreamPool::close_peer(std::uint64_t peer_id) {
  boost::system::error_code ec;
  for (auto& [name, g] : idle_) {
    std::erase_if(g.list, [&](Entry& e) {
      if (e.conn.peer_id != peer_id) return false;
      e.conn.socket.close(ec);
      return true;
    });
    g.changed();
  }
}

void UpstreamPool::clear() {
  boost::system::error_code ec;
  for (auto& [name, g] : idle_) {
    for (auto& e : g.list) e.conn.socket.close(ec);
    g.list.clear();
    g.changed();
  }
}

}  // namespace tg::proxy
