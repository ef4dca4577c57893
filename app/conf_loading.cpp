#include "app/conf_loading.h"

#include <algorithm>

#include "proxy/router.h"
#include "proxy/runtime.h"

namespace tg::app {

LoadedConf load_and_open(const conf::LoadOptions& options, const KeptResources& kept,
                         size_t workers) {
  LoadedConf out;
  out.config = conf::load_config(options);
  out.listeners = proxy::bind_listeners(
      proxy::new_endpoints(proxy::group_listeners(*out.config), kept.endpoints), workers);
  for (const auto& path : proxy::access_log_paths(*out.config)) {
    if (std::find(kept.logs.begin(), kept.logs.end(), path) != kept.logs.end()) continue;
    std::string error;
    UniqueFd fd = open_log_file(path, error);
    if (!fd) throw conf::ConfError(error);
    out.logs.emplace(path, std::move(fd));
  }
  return out;
}

std::map<std::string, UniqueFd> open_logs(const std::vector<std::string>& paths,
                                          std::vector<std::string>& errors) {
  std::map<std::string, UniqueFd> out;
  for (const auto& path : paths) {
    std::string error;
    UniqueFd fd = open_log_file(path, error);
    if (fd) {
      out.emplace(path, std::move(fd));
    } else {
      errors.push_back(error);
    }
  }
  return out;
}

}  // namespace tg::app
