// ngx_http_limit_req_module (limit_req_zone, limit_req, limit_req_status,
// limit_req_log_level, limit_req_dry_run) and ngx_http_limit_conn_module
// (limit_conn_zone, limit_conn, limit_conn_status, limit_conn_log_level,
// limit_conn_dry_run): zones in http, limits in http, server and location.
#include <tuple>

#include "conf/directive_args.h"
#include "conf/modules/modules.h"

namespace tg::conf::modules {
namespace {

/// `zone=name:size`: the name, and how many keys the size holds (about 128 bytes a key).
std::pair<std::string, size_t> zone_arg(const Directive& d, const std::string& v) {
  const size_t colon = v.find(':');
  int64_t size = 0;
  if (colon == std::string::npos || colon == 0 || !parse_size(v.substr(colon + 1), size) ||
      size < 8192) {
    fail(d, "invalid zone size \"" + v + "\"");
  }
  return {v.substr(0, colon), static_cast<size_t>(size) / 128};
}

/// limit_*_status and limit_*_log_level.
bool status_or_level(const Directive& d, std::string_view prefix, int& status, LogLevel& level) {
  if (d.name == std::string(prefix) + "_status") {
    int code = 0;
    if (!parse_int(d.args[0], code) || code < 400 || code > 599) {
      fail(d, "value must be between 400 and 599");
    }
    status = code;
    return true;
  }
  if (d.name == std::string(prefix) + "_log_level") {
    const std::string& v = d.args[0];
    if ((v != "info" && v != "notice" && v != "warn" && v != "error") || !parse_level(v, level)) {
      fail(d, "invalid value \"" + v + "\"");
    }
    return true;
  }
  return false;
}

}  // namespace

bool limit_req_zone(const Directive& d, std::vector<LimitReqZone>& zones,
                    const std::function<Template(const Directive&, const std::string&)>& compile) {
  if (d.name != "limit_req_zone") return false;
  LimitReqZone z;
  z.key = compile(d, d.args[0]);
  for (size_t i = 1; i < d.args.size(); ++i) {
    const std::string& a = d.args[i];
    if (a.starts_with("zone=")) {
      std::tie(z.name, z.max_entries) = zone_arg(d, a.substr(5));
    } else if (a.starts_with("rate=")) {
      const std::string v = a.substr(5);
      const bool per_minute = v.ends_with("r/m");
      int n = 0;
      if ((!per_minute && !v.ends_with("r/s")) || !parse_int(v.substr(0, v.size() - 3), n) ||
          n <= 0) {
        fail(d, "invalid rate \"" + v + "\"");
      }
      // nginx keeps the rate in thousandths of a request per second.
      z.rate = per_minute ? static_cast<int64_t>(n) * 1000 / 60 : static_cast<int64_t>(n) * 1000;
      if (z.rate == 0) z.rate = 1;
    } else if (a == "sync") {
      fail(d, "\"sync\" needs a cluster: not supported by tidegate");
    } else {
      fail(d, "invalid parameter \"" + a + "\"");
    }
  }
  if (z.name.empty()) fail(d, "\"" + d.name + "\" must have \"zone\" parameter");
  for (const auto& other : zones) {
    if (other.name == z.name) fail(d, "duplicate zone \"" + z.name + "\"");
  }
  zones.push_back(std::move(z));
  return true;
}

bool limit_req(const Directive& d, LocationSettings& s, bool& replaced,
               const std::vector<LimitReqZone>& zones) {
  if (d.name == "limit_req") {
    if (!replaced) {
      s.limit_req.clear();
      replaced = true;
    }
    LimitReq r;
    std::string zone;
    for (const auto& a : d.args) {
      int n = 0;
      if (a.starts_with("zone=")) {
        zone = a.substr(5);
      } else if (a.starts_with("burst=")) {
        if (!parse_int(a.substr(6), n) || n < 0) fail(d, "invalid burst value \"" + a + "\"");
        r.burst = n;
      } else if (a.starts_with("delay=")) {
        if (!parse_int(a.substr(6), n) || n < 0) fail(d, "invalid delay value \"" + a + "\"");
        r.delay = n;
      } else if (a == "nodelay") {
        r.delay = LimitReq::kNoDelay;
      } else {
        fail(d, "invalid parameter \"" + a + "\"");
      }
    }
    if (zone.empty()) fail(d, "\"limit_req\" must have \"zone\" parameter");
    r.zone = zones.size();
    for (size_t i = 0; i < zones.size(); ++i) {
      if (zones[i].name == zone) r.zone = i;
    }
    // The zones are read before anything else of http (a zone may come later in
    // the file); one that is nowhere has no size, in nginx's words.
    if (r.zone == zones.size()) fail(d, "zero size shared memory zone \"" + zone + "\"");
    s.limit_req.push_back(std::move(r));
    return true;
  }
  if (status_or_level(d, "limit_req", s.limit_req_status, s.limit_req_log_level)) return true;
  if (d.name == "limit_req_dry_run") {
    s.limit_req_dry_run = d.args[0] == "on";  // the table checked on|off
    return true;
  }
  return false;
}

bool limit_conn_zone(const Directive& d, std::vector<LimitConnZone>& zones,
                     const std::function<Template(const Directive&, const std::string&)>& compile) {
  if (d.name != "limit_conn_zone") return false;
  LimitConnZone z;
  z.key = compile(d, d.args[0]);
  if (!d.args[1].starts_with("zone=")) fail(d, "invalid parameter \"" + d.args[1] + "\"");
  std::tie(z.name, z.max_entries) = zone_arg(d, d.args[1].substr(5));
  for (const auto& other : zones) {
    if (other.name == z.name) fail(d, "duplicate zone \"" + z.name + "\"");
  }
  zones.push_back(std::move(z));
  return true;
}

bool limit_conn(const Directive& d, LocationSettings& s, bool& replaced,
                const std::vector<LimitConnZone>& zones) {
  if (d.name == "limit_conn") {
    if (!replaced) {
      s.limit_conn.clear();
      replaced = true;
    }
    LimitConn c;
    c.zone = zones.size();
    for (size_t i = 0; i < zones.size(); ++i) {
      if (zones[i].name == d.args[0]) c.zone = i;
    }
    if (c.zone == zones.size()) fail(d, "zero size shared memory zone \"" + d.args[0] + "\"");
    if (!parse_int(d.args[1], c.limit) || c.limit <= 0) {
      fail(d, "invalid number of connections \"" + d.args[1] + "\"");
    }
    s.limit_conn.push_back(c);
    return true;
  }
  if (status_or_level(d, "limit_conn", s.limit_conn_status, s.limit_conn_log_level)) return true;
  if (d.name == "limit_conn_dry_run") {
    s.limit_conn_dry_run = d.args[0] == "on";  // the table checked on|off
    return true;
  }
  return false;
}

}  // namespace tg::conf::modules
