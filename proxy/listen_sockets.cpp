#include "proxy/listen_sockets.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "common/error_log.h"

namespace tg::proxy {

namespace {
std::string endpoint_text(const boost::asio::ip::tcp::endpoint& ep) {
  std::string a = ep.address().to_string();
  if (ep.address().is_v6()) a = "[" + a + "]";
  return a + ":" + std::to_string(ep.port());
}
}  // namespace

UniqueFd bind_listen_socket(const boost::asio::ip::tcp::endpoint& endpoint) {
  const bool v6 = endpoint.address().is_v6();
  UniqueFd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  int err = fd ? 0 : errno;
  const int one = 1;
  auto option = [&](int level, int name) {
    if (err == 0 && ::setsockopt(fd.get(), level, name, &one, sizeof one) != 0) err = errno;
  };
  option(SOL_SOCKET, SO_REUSEADDR);
  option(SOL_SOCKET, SO_REUSEPORT);  // every worker binds its own socket (DESIGN.md)
  if (v6) option(IPPROTO_IPV6, IPV6_V6ONLY);
  if (err == 0 && ::bind(fd.get(), endpoint.data(), static_cast<socklen_t>(endpoint.size())) != 0) {
    err = errno;
  }
  if (err != 0) {
    throw std::runtime_error("bind() to " + endpoint_text(endpoint) + " failed " + errno_text(err));
  }
  return fd;
}

UniqueFd NewListeners::take(const boost::asio::ip::tcp::endpoint& endpoint, size_t slot) {
  for (auto& [ep, fds] : sockets) {
    if (ep == endpoint && slot < fds.size()) return std::move(fds[slot]);
  }
  return {};
}

std::vector<boost::asio::ip::tcp::endpoint> new_endpoints(
    const std::vector<ListenGroup>& groups,
    const std::vector<boost::asio::ip::tcp::endpoint>& kept) {
  std::vector<boost::asio::ip::tcp::endpoint> out;
  for (const auto& g : groups) {
    if (std::find(kept.begin(), kept.end(), g.endpoint) == kept.end()) out.push_back(g.endpoint);
  }
  return out;
}

NewListeners bind_listeners(const std::vector<boost::asio::ip::tcp::endpoint>& endpoints,
                            size_t workers) {
  NewListeners out;
  for (const auto& ep : endpoints) {
    std::vector<UniqueFd> fds;
    for (size_t i = 0; i < workers; ++i) fds.push_back(bind_listen_socket(ep));
    out.sockets.emplace_back(ep, std::move(fds));
  }
  return out;
}

}  // namespace tg::proxy
