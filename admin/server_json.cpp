#include "admin/server_json.h"

#include "conf/directive_args.h"

namespace tg::admin {

namespace json = boost::json;

namespace {

ApiError format_error(std::string text) {
  return ApiError{400, std::move(text), "UpstreamConfFormatError"};
}

/// A non-negative integer field (a JSON number, as NGINX Plus takes it).
bool integer(const json::value& v, int& out) {
  if (v.is_int64() && v.as_int64() >= 0 && v.as_int64() <= 1'000'000'000) {
    out = static_cast<int>(v.as_int64());
    return true;
  }
  if (v.is_uint64() && v.as_uint64() <= 1'000'000'000) {
    out = static_cast<int>(v.as_uint64());
    return true;
  }
  return false;
}

/// A time field: nginx's time text ("10s", "1m") or a number of seconds.
bool duration(const json::value& v, std::chrono::milliseconds& out) {
  if (v.is_string()) {
    return conf::parse_seconds(std::string_view(v.as_string().data(), v.as_string().size()), out);
  }
  int seconds = 0;
  if (!integer(v, seconds)) return false;
  out = std::chrono::seconds(seconds);
  return true;
}

}  // namespace

std::optional<ServerPatch> parse_server_patch(std::string_view body, ApiError& error) {
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object()) {
    error = ApiError{415, "json error", "JsonError"};
    return std::nullopt;
  }
  ServerPatch p;
  for (const auto& [key, value] : doc.as_object()) {
    const std::string k(key);
    if (value.is_object() || value.is_array()) {
      error = format_error("nested object or list");
      return std::nullopt;
    }
    auto bad = [&](std::string code) {
      error = ApiError{400, "invalid \"" + k + "\"", std::move(code)};
      return std::nullopt;
    };
    auto flag = [&](std::optional<bool>& field) {
      if (!value.is_bool()) return false;
      field = value.as_bool();
      return true;
    };
    if (k == "server") {
      if (!value.is_string() || value.as_string().empty()) return bad("UpstreamBadAddress");
      p.server = std::string(value.as_string());
    } else if (k == "weight") {
      int w = 0;
      if (!integer(value, w) || w < 1) return bad("UpstreamBadWeight");
      p.weight = w;
    } else if (k == "max_conns") {
      int n = 0;
      if (!integer(value, n)) return bad("UpstreamBadMaxConns");
      p.max_conns = n;
    } else if (k == "max_fails") {
      int n = 0;
      if (!integer(value, n)) return bad("UpstreamBadMaxFails");
      p.max_fails = n;
    } else if (k == "fail_timeout") {
      std::chrono::milliseconds t{};
      if (!duration(value, t)) return bad("UpstreamBadFailTimeout");
      p.fail_timeout = t;
    } else if (k == "slow_start") {
      std::chrono::milliseconds t{};
      if (!duration(value, t)) return bad("UpstreamBadSlowStart");
      p.slow_start = t;
    } else if (k == "route") {
      if (!value.is_string()) return bad("UpstreamConfFormatError");
      if (value.as_string().size() > 32) {
        error = ApiError{400, "route is too long", "UpstreamBadRoute"};
        return std::nullopt;
      }
      // The route is written into the state file as a conf word: it must stay one.
      for (const char ch : value.as_string()) {
        const auto u = static_cast<unsigned char>(ch);
        if (u <= 0x20 || u == 0x7f ||
            std::string_view(";{}\"'#\\$").find(ch) != std::string_view::npos) {
          error = ApiError{400, "route has a character that is not allowed", "UpstreamBadRoute"};
          return std::nullopt;
        }
      }
      p.route = std::string(value.as_string());
    } else if (k == "backup") {
      if (!flag(p.backup)) return bad("UpstreamConfFormatError");
    } else if (k == "down") {
      if (!flag(p.down)) return bad("UpstreamConfFormatError");
    } else if (k == "drain") {
      if (!flag(p.drain)) return bad("UpstreamConfFormatError");
    } else if (k == "id") {
      // Read-only: accepted (clients send back what they read), never changed.
    } else if (k == "service" || k == "resolve") {
      error = format_error("the \"" + k + "\" parameter is not supported by tidegate yet");
      return std::nullopt;
    } else {
      error = format_error("unknown parameter \"" + k + "\"");
      return std::nullopt;
    }
  }
  return p;
}

void apply_patch(const ServerPatch& p, balancing::ServerConfig& c) {
  if (p.weight) c.weight = *p.weight;
  if (p.max_conns) c.max_conns = *p.max_conns;
  if (p.max_fails) c.max_fails = *p.max_fails;
  if (p.fail_timeout) c.fail_timeout = *p.fail_timeout;
  if (p.slow_start) c.slow_start = *p.slow_start;
  if (p.route) c.route = *p.route;
  if (p.backup) c.backup = *p.backup;
  if (p.down) c.down = *p.down;
  if (p.drain) c.drain = *p.drain;
}

std::string duration_text(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

json::object server_json(const balancing::GroupMembership::Server& s) {
  const auto& c = s.config;
  json::object o;
  o["id"] = s.peer->id();
  o["server"] = c.address.empty() ? c.name : c.address;
  o["weight"] = c.weight;
  o["max_conns"] = c.max_conns;
  o["max_fails"] = c.max_fails;
  o["fail_timeout"] = duration_text(c.fail_timeout);
  o["slow_start"] = duration_text(c.slow_start);
  o["route"] = c.route;
  o["backup"] = c.backup;
  o["down"] = c.down;
  if (c.drain) o["drain"] = true;
  return o;
}

std::string state_text(const balancing::GroupMembership& group) {
  std::string out;
  for (const auto& s : group.servers()) {
    const auto& c = s.config;
    // The resolved address: a name that resolves to several would be multiplied.
    out += "server " + c.name + " weight=" + std::to_string(c.weight) +
           " max_fails=" + std::to_string(c.max_fails) +
           " fail_timeout=" + duration_text(c.fail_timeout);
    if (c.max_conns > 0) out += " max_conns=" + std::to_string(c.max_conns);
    if (c.slow_start.count() > 0) {
      out += " slow_start=" + duration_text(c.slow_start);
    }
    if (!c.route.empty()) out += " route=" + c.route;
    if (c.backup) out += " backup";
    if (c.down) out += " down";
    if (c.drain) out += " drain";
    out += ";\n";
  }
  return out;
}

}  // namespace tg::admin
