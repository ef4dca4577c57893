// Listening sockets are bound on the control thread (or by the privileged
// helper) before a configuration is committed, one per worker for each new
// address, and handed to the workers: a reload either has every socket its
// conf asks for or changes nothing (nginx keeps the old conf on a bind error).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <utility>
#include <vector>

#include "common/unique_fd.h"
#include "proxy/router.h"

namespace tg::proxy {

/// A socket bound to `endpoint` with SO_REUSEPORT (every worker has its own),
/// not yet listening. Throws std::runtime_error with nginx's text:
/// `bind() to 127.0.0.1:8080 failed (98: Address already in use)`.
UniqueFd bind_listen_socket(const boost::asio::ip::tcp::endpoint& endpoint);

/// Bound sockets for the addresses of a new configuration, per worker.
struct NewListeners {
  /// endpoint -> one socket per worker (index = worker slot)
  std::vector<std::pair<boost::asio::ip::tcp::endpoint, std::vector<UniqueFd>>> sockets;
  /// Takes the socket of worker `slot` for `endpoint` (empty if none).
  UniqueFd take(const boost::asio::ip::tcp::endpoint& endpoint, size_t slot);
};

/// The addresses of `groups` that `kept` does not already listen on.
std::vector<boost::asio::ip::tcp::endpoint> new_endpoints(
    const std::vector<ListenGroup>& groups,
    const std::vector<boost::asio::ip::tcp::endpoint>& kept);

/// Binds `workers` sockets for each of `endpoints`. Throws as bind_listen_socket
/// (every socket bound so far is closed again).
NewListeners bind_listeners(const std::vector<boost::asio::ip::tcp::endpoint>& endpoints,
                            size_t workers);

}  // namespace tg::proxy
