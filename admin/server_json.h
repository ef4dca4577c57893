// An upstream server's run-time configuration as NGINX Plus's API writes and reads
// it ({"id": 3, "server": "10.0.0.1:80", "weight": 2, "fail_timeout": "10s", ...}),
// and as the `state` file keeps it (nginx `server` lines).
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "balancing/membership.h"

namespace tg::admin {

/// An API error: status, text and code as NGINX Plus answers them.
struct ApiError {
  int status = 400;
  std::string text;
  std::string code;
};

/// What a POST or PATCH body asks for: the fields present, checked for type and range.
struct ServerPatch {
  std::optional<std::string> server;
  std::optional<int> weight, max_conns, max_fails;
  std::optional<std::chrono::milliseconds> fail_timeout, slow_start;
  std::optional<std::string> route;
  std::optional<bool> backup, down, drain;
};

/// Parses a POST/PATCH body. nullopt and `error` filled (JsonError, UpstreamConfFormatError,
/// UpstreamBad*) when it is not a flat JSON object of known, valid fields.
std::optional<ServerPatch> parse_server_patch(std::string_view body, ApiError& error);

/// Applies `patch` to `config` (the fields it has).
void apply_patch(const ServerPatch& patch, balancing::ServerConfig& config);

/// nginx's time text of a duration: "10s", "500ms", "0s".
std::string duration_text(std::chrono::milliseconds d);

/// The API's view of one configured server.
boost::json::object server_json(const balancing::GroupMembership::Server& s);

/// The `state` file text of a group: one nginx `server` line per server.
std::string state_text(const balancing::GroupMembership& group);

}  // namespace tg::admin
