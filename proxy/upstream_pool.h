// Per-worker cache of idle upstream connections (nginx's `keepalive N` in an
// upstream block): at most N idle connections per group per worker, most
// recently used first, closed after keepalive_timeout idle, keepalive_time of
// life or keepalive_requests requests. An idle connection that becomes readable
// (unsolicited bytes, or the upstream closed it) is closed at once, as nginx's
// keepalive close handler does: bytes that arrive late after a response must
// never be read as the answer to the next request on that connection.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "balancing/upstream.h"
#include "proxy/net.h"
#include "proxy/stream.h"
#include "proxy/zone_stats.h"
#include "tls/client_context.h"

namespace tg::proxy {

struct UpstreamConnection {
  Stream stream;              ///< plain, or TLS for `proxy_pass https://`
  std::uint64_t peer_id = 0;  ///< Peer::id(): never reused, unlike an address
  /// The tls::ClientContext::id() the connection was made with; 0: plain. A
  /// connection is reused only under the same TLS settings.
  std::uint64_t tls_context = 0;
  std::chrono::steady_clock::time_point created;
  std::chrono::steady_clock::time_point idle_since;
  int requests = 0;
};

class UpstreamPool {
 public:
  struct Limits {
    int keepalive = 0;
    std::chrono::milliseconds timeout{60'000};
    int requests = 1000;
    std::chrono::milliseconds time{3'600'000};
  };

  /// Takes an idle connection to server `peer_id` of group `group`, if one is alive.
  /// `tls_context`: the TLS settings wanted (0: plain); a group may serve http:// and
  /// https:// locations with different proxy_ssl_* settings.
  std::optional<UpstreamConnection> take(const std::string& group, std::uint64_t peer_id,
                                         std::uint64_t tls_context,
                                         std::chrono::steady_clock::time_point now);
  /// Returns a connection after a complete exchange; closes it when over limits.
  void put(const std::string& group, const Limits& limits, UpstreamConnection conn,
           std::chrono::steady_clock::time_point now);
  /// Closes connections idle past their timeout (called once a second).
  void sweep(std::chrono::steady_clock::time_point now);
  /// Closes every idle connection to server `peer_id` (it left its group).
  void close_peer(std::uint64_t peer_id);
  /// Closes everything (shutdown).
  void clear();
  /// proxy_ssl_session_reuse: the TLS session of the last connection to `peer_id`
  /// under the TLS settings `tls_context` (owned by the pool; null when none), and
  /// keeping the one `ssl` has.
  SSL_SESSION* tls_session(std::uint64_t peer_id, std::uint64_t tls_context) const;
  void keep_tls_session(std::uint64_t peer_id, std::uint64_t tls_context, SSL* ssl);
  UpstreamPool() = default;
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;
  ~UpstreamPool();
  /// Where the pool reports how many idle connections each group has (the
  /// worker's counters, read by the API); none by default.
  void report_to(KeepaliveGauges* gauges) { gauges_ = gauges; }

 private:
  struct Entry {
    UpstreamConnection conn;
    std::chrono::milliseconds timeout;
    uint64_t id;  ///< names the entry for its readiness wait (entries move)
  };
  struct Group {
    std::vector<Entry> list;  ///< most recently used last (a stack)
    std::atomic<std::int64_t>* gauge = nullptr;
    void changed() const {
      if (gauge) gauge->store(static_cast<std::int64_t>(list.size()), std::memory_order_relaxed);
    }
  };
  /// Waits for the idle connection `id` in `group` to become readable, then drops it
  /// (a TLS connection stays when what came was TLS's own, e.g. a session ticket).
  void watch(Group& group, Stream& stream, uint64_t id);
  /// Per group name. Groups are emptied but never erased: pending waits refer to them.
  std::map<std::string, Group> idle_;
  KeepaliveGauges* gauges_ = nullptr;
  uint64_t next_id_ = 0;
  std::map<std::pair<std::uint64_t, std::uint64_t>, SSL_SESSION*> sessions_;
};

}  // namespace tg::proxy
