// Loading a configuration together with what it needs opened with the
// privileges tidegate started with: the sockets of its new listen addresses
// (one per worker) and the access logs not open yet. Done in this process, or
// by the privileged helper once privileges are dropped (privileged_helper.h).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "conf/config.h"
#include "proxy/listen_sockets.h"

namespace tg::app {

struct LoadedConf {
  std::shared_ptr<const conf::Config> config;
  proxy::NewListeners listeners;
  std::map<std::string, UniqueFd> logs;  ///< access logs by path
};

/// What the running generation already holds open, and a reload keeps.
struct KeptResources {
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;
  std::vector<std::string> logs;
};

/// Reads the conf and opens what it needs, in this process. Throws
/// std::exception with the [emerg] text (conf errors with file:line,
/// `bind() to ... failed (98: ...)`, `open() "..." failed (13: ...)`); on
/// failure nothing stays open.
LoadedConf load_and_open(const conf::LoadOptions& options, const KeptResources& kept,
                         size_t workers);

/// Opens each of `paths` as a log file; failures go to `errors` in nginx's words.
std::map<std::string, UniqueFd> open_logs(const std::vector<std::string>& paths,
                                          std::vector<std::string>& errors);

}  // namespace tg::app
