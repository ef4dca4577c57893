// One `server` line of an `upstream` block, and the clock the balancer is driven by.
#pragma once

#include <chrono>
#include <string>

#include <boost/asio/ip/tcp.hpp>

namespace tg::balancing {

/// Monotonic clock of the request path. The library never reads it: every call that
/// needs the time takes `TimePoint now`, so tests drive it with fake time points.
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

/// One `server` line of an `upstream` block after name resolution
/// (a host name with several addresses yields one ServerConfig per address, as nginx).
struct ServerConfig {
  std::string name;  ///< "127.0.0.1:8081" (address:port, as $upstream_addr prints it)
  /// The address as written (`server backend1:8080`, the API's "server"); empty: `name`.
  std::string address;
  boost::asio::ip::tcp::endpoint endpoint;
  int weight = 1;                                  ///< weight=N, default 1 (values < 1 act as 1)
  int max_fails = 1;                               ///< max_fails=N, default 1; 0 disables
  std::chrono::milliseconds fail_timeout{10'000};  ///< fail_timeout=T, default 10 s
  int max_conns = 0;                               ///< max_conns=N, 0 = unlimited
  bool backup = false;                             ///< backup: used only when no primary is
  bool down = false;                               ///< down: never picked
  /// route=string: the server's id for `sticky` (nginx); empty: the MD5 of `name`.
  std::string route;
  /// drain: starts draining, so only requests bound to it by `sticky` reach it (nginx).
  bool drain = false;
  /// slow_start=T: after joining or recovering, the weight ramps up from ~0 over T
  /// (nginx); 0 = off. Ignored by hash, ip_hash, random and peak_ewma, and for the only
  /// server of a group, as nginx.
  std::chrono::milliseconds slow_start{0};
  /// drain_timeout=T (tidegate extension): how long a draining server keeps its
  /// tunnels before they are closed; 0 = no limit. Data only here: the proxy enforces it.
  std::chrono::milliseconds drain_timeout{0};

  bool operator==(const ServerConfig&) const = default;
};

}  // namespace tg::balancing
