// A configuration generation: the immutable world a connection is served in.
// Built by the control thread, published to workers, pinned by connections.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "balancing/membership.h"
#include "balancing/upstream.h"
#include "conf/config.h"
#include "proxy/access_log.h"
#include "proxy/rate_limiter.h"
#include "proxy/router.h"
#include "proxy/zone_stats.h"

namespace tg::proxy {

struct Runtime {
  uint64_t generation = 0;
  std::shared_ptr<const conf::Config> config;
  std::vector<ListenGroup> listeners;
  /// One group per conf::UpstreamConfig (same index). Membership is run-time state:
  /// a group that stays across a reload is the same object in both generations.
  std::vector<std::shared_ptr<balancing::GroupMembership>> groups;
  /// The group named `name`, or nullptr.
  balancing::GroupMembership* find_group(std::string_view name) const;
  /// status_zone counters by name (kept across reloads for names that stay).
  std::map<std::string, std::shared_ptr<ZoneStats>, std::less<>> server_zones;
  std::map<std::string, std::shared_ptr<ZoneStats>, std::less<>> location_zones;
  ZoneStats* server_zone(std::string_view name) const;
  ZoneStats* location_zone(std::string_view name) const;
  /// One per conf::HttpConfig::limit_req_zones (same index); a zone that stays across
  /// a reload (same name) keeps its keys.
  std::vector<std::shared_ptr<RateLimiter>> limit_req_zones;
  /// The same for conf::HttpConfig::limit_conn_zones (requests in progress).
  std::vector<std::shared_ptr<ConnLimiter>> limit_conn_zones;
  /// Open access log files by path.
  std::map<std::string, std::shared_ptr<AccessLogFile>> access_logs;
  /// Set when a reload replaced this generation: once its last connection closes
  /// (the last reference goes), a `[notice] configuration generation N retired`
  /// line tells operators the old configuration is fully gone (nginx logs its old
  /// workers' exits instead).
  mutable std::atomic<bool> superseded{false};
};

/// Every access log path the configuration writes to, each once.
std::vector<std::string> access_log_paths(const conf::Config& config);

/// Builds a runtime from a loaded configuration. Servers that exist in
/// `previous` (same group name and address) keep their live state, and so do
/// its access log files. A log file that `previous` does not have is taken
/// from `opened` (descriptors opened with privileges: app/privileged_helper.h)
/// or else opened here.
/// Throws conf::ConfError for problems found at this stage (duplicate
/// default_server, access log that cannot be opened).
std::shared_ptr<const Runtime> build_runtime(std::shared_ptr<const conf::Config> config,
                                             size_t worker_slots, const Runtime* previous,
                                             uint64_t generation,
                                             std::map<std::string, UniqueFd>* opened = nullptr);

}  // namespace tg::proxy
