#include "proxy/upstream_pool.h"

#include <sys/socket.h>

#include <algorithm>

#include "tls/client_context.h"

namespace tg::proxy {

std::optional<UpstreamConnection> UpstreamPool::take(const std::string& group,
                                                     std::uint64_t peer_id,
                                                     std::uint64_t tls_context,
                                                     std::chrono::steady_clock::time_point now) {
  auto it = idle_.find(group);
  if (it == idle_.end()) return std::nullopt;
  auto& list = it->second.list;
  for (auto e = list.rbegin(); e != list.rend(); ++e) {
    if (e->conn.peer_id != peer_id || e->conn.tls_context != tls_context) continue;
    Entry entry = std::move(*e);
    list.erase(std::next(e).base());
    it->second.changed();
    boost::system::error_code ec;
    // Ends the readiness wait (no syscall). A close the wait has not reported
    // yet fails on first use, and the request is retried once on a fresh connection.
    entry.conn.stream.socket().cancel(ec);
    if (now - entry.conn.idle_since > entry.timeout || entry.conn.stream.has_unread()) {
      entry.conn.stream.close();
      return std::nullopt;
    }
    return std::move(entry.conn);
  }
  return std::nullopt;
}

void UpstreamPool::put(const std::string& group, const Limits& limits, UpstreamConnection conn,
                       std::chrono::steady_clock::time_point now) {
  boost::system::error_code ec;
  // Decrypted bytes nobody asked for would be read as the next answer.
  if (limits.keepalive <= 0 || conn.requests >= limits.requests ||
      now - conn.created >= limits.time || conn.stream.has_unread()) {
    conn.stream.close();
    return;
  }
  auto& g = idle_[group];
  if (!g.gauge && gauges_) g.gauge = gauges_->gauge(group);
  auto& list = g.list;
  conn.idle_since = now;
  const uint64_t id = ++next_id_;
  list.push_back(Entry{std::move(conn), limits.timeout, id});
  watch(g, list.back().conn.stream, id);
  if (list.size() > static_cast<size_t>(limits.keepalive)) {
    list.front().conn.stream.close();  // least recently used goes first
    list.erase(list.begin());
  }
  g.changed();
}

void UpstreamPool::watch(Group& group, Stream& stream, uint64_t id) {
  // The socket is registered with epoll already (edge-triggered), so this wait
  // costs no syscall; take() cancels it.
  stream.async_wait_readable([this, &group, id](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled by take(), or closed by sweep/put/clear
    auto& list = group.list;
    auto it = std::find_if(list.begin(), list.end(), [id](const Entry& e) { return e.id == id; });
    if (it == list.end()) return;
    Stream& s = it->conn.stream;
    if (s.tls()) {
      // A TLS 1.3 server sends session tickets after its answer: OpenSSL takes them
      // and has nothing for us (would_block); the connection stays idle.
      char byte;
      boost::system::error_code rec;
      s.read_some(boost::asio::buffer(&byte, 1), rec);
      if (rec == boost::asio::error::would_block) {
        watch(group, s, id);
        return;
      }
    }
    s.close();
    list.erase(it);
    group.changed();
  });
}

SSL_SESSION* UpstreamPool::tls_session(std::uint64_t peer_id, std::uint64_t tls_context) const {
  auto it = sessions_.find({peer_id, tls_context});
  return it == sessions_.end() ? nullptr : it->second;
}

void UpstreamPool::keep_tls_session(std::uint64_t peer_id, std::uint64_t tls_context, SSL* ssl) {
  SSL_SESSION* session = tls::resumable_session(ssl);
  if (!session) return;
  auto [it, added] = sessions_.emplace(std::make_pair(peer_id, tls_context), session);
  if (!added) {
    tls::free_session(it->second);
    it->second = session;
  }
}

UpstreamPool::~UpstreamPool() {
  for (auto& [peer, session] : sessions_) tls::free_session(session);
}

void UpstreamPool::sweep(std::chrono::steady_clock::time_point now) {
  boost::system::error_code ec;
  for (auto& [name, g] : idle_) {
    std::erase_if(g.list, [&](Entry& e) {
      if (now - e.conn.idle_since <= e.timeout) return false;
      e.conn.stream.close();
      return true;
    });
    g.changed();
  }
}

void UpstreamPool::close_peer(std::uint64_t peer_id) {
  std::erase_if(sessions_, [peer_id](const auto& entry) {
    if (entry.first.first != peer_id) return false;
    tls::free_session(entry.second);
    return true;
  });
  boost::system::error_code ec;
  for (auto& [name, g] : idle_) {
    std::erase_if(g.list, [&](Entry& e) {
      if (e.conn.peer_id != peer_id) return false;
      e.conn.stream.close();
      return true;
    });
    g.changed();
  }
}

void UpstreamPool::clear() {
  boost::system::error_code ec;
  for (auto& [name, g] : idle_) {
    for (auto& e : g.list) e.conn.stream.close();
    g.list.clear();
    g.changed();
  }
}

}  // namespace tg::proxy
