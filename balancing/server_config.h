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
  boost::asio::ip::tcp::endpoint endpoint;
  int weight = 1;                                  ///< weight=N, default 1 (values < 1 act as 1)
  int max_fails = 1;                               ///< max_fails=N, default 1; 0 disables
  std::chrono::milliseconds fail_timeout{10'000};  ///< fail_timeout=T, default 10 s
  int max_conns = 0;                               ///< max_conns=N, 0 = unlimited
  bool backup = false;                             ///< backup: used only when no primary is
  bool down = false;                               ///< down: never picked

  bool operator==(const ServerConfig&) const = default;
};

}  // namespace tg::balancing
