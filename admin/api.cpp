#include "admin/api.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <ctime>
#include <random>

#include "admin/server_json.h"
#include "common/error_log.h"
#include "conf/directive_args.h"

namespace tg::admin {

namespace json = boost::json;
using balancing::GroupMembership;
using balancing::ServerStatsSnapshot;
using proxy::ControlRequest;
using proxy::ControlResponse;
using SysClock = std::chrono::system_clock;

namespace {

constexpr int kMaxVersion = 9;
constexpr std::string_view kHref = "https://nginx.org/en/docs/http/ngx_http_api_module.html";

std::string request_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (auto& c : id) c = kHex[rng() & 15];
  return id;
}

ControlResponse answer(int status, const json::value& body) {
  ControlResponse r;
  r.status = status;
  r.body = json::serialize(body);
  return r;
}

ControlResponse error(const ApiError& e) {
  json::object err{{"status", e.status}, {"text", e.text}, {"code", e.code}};
  return answer(e.status,
                json::object{{"error", err}, {"request_id", request_id()}, {"href", kHref}});
}

ControlResponse error(int status, std::string text, std::string code) {
  return error(ApiError{status, std::move(text), std::move(code)});
}

std::string iso_time(SysClock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  const std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms.count() % 1000));
  return out;
}

/// A steady-clock instant on the system clock (the API's timestamps).
SysClock::time_point wall(balancing::TimePoint t) {
  return SysClock::now() +
         std::chrono::duration_cast<SysClock::duration>(t - balancing::Clock::now());
}

ServerStatsSnapshot minus(ServerStatsSnapshot a, const ServerStatsSnapshot& b) {
  auto sub = [](std::uint64_t x, std::uint64_t y) { return x > y ? x - y : 0; };
  a.requests = sub(a.requests, b.requests);
  for (size_t i = 0; i < a.responses.size(); ++i)
    a.responses[i] = sub(a.responses[i], b.responses[i]);
  for (size_t i = 0; i < a.codes.size(); ++i) a.codes[i] = sub(a.codes[i], b.codes[i]);
  a.failed_attempts = sub(a.failed_attempts, b.failed_attempts);
  a.connects = sub(a.connects, b.connects);
  a.sent = sub(a.sent, b.sent);
  a.received = sub(a.received, b.received);
  for (size_t i = 0; i < a.latency.buckets.size(); ++i) {
    a.latency.buckets[i] = sub(a.latency.buckets[i], b.latency.buckets[i]);
    a.header_latency.buckets[i] = sub(a.header_latency.buckets[i], b.header_latency.buckets[i]);
  }
  a.latency.sum_us = sub(a.latency.sum_us, b.latency.sum_us);
  a.header_latency.sum_us = sub(a.header_latency.sum_us, b.header_latency.sum_us);
  return a;
}

json::object responses_json(const ServerStatsSnapshot& s) {
  json::object r;
  static constexpr const char* kClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  std::uint64_t total = 0;
  for (size_t i = 0; i < s.responses.size(); ++i) {
    r[kClasses[i]] = s.responses[i];
    total += s.responses[i];
  }
  json::object codes;
  for (size_t i = 0; i < s.codes.size(); ++i) {
    if (s.codes[i] > 0) codes[std::to_string(100 + i)] = s.codes[i];
  }
  r["codes"] = std::move(codes);
  r["total"] = total;
  return r;
}

json::object window_json(const balancing::WindowStats& w) {
  auto ms = [](std::uint64_t us) { return static_cast<double>(us) / 1000.0; };
  return json::object{{"seconds", w.seconds},
                      {"requests", w.requests},
                      {"rps", w.rps},
                      {"p50_ms", ms(w.p50_us)},
                      {"p95_ms", ms(w.p95_us)},
                      {"p99_ms", ms(w.p99_us)},
                      {"header_p95_ms", ms(w.header_p95_us)},
                      {"error_rate", w.error_rate},
                      {"active_avg", w.active_avg},
                      {"active_max", w.active_max},
                      {"tunnels_avg", w.tunnels_avg},
                      {"tunnels_max", w.tunnels_max},
                      {"connects_per_s", w.connects_per_s}};
}

json::object windows_json(const balancing::StatsWindows* w) {
  json::object out;
  if (!w) return out;
  out["10s"] = window_json(w->window(balancing::StatsWindows::k10s));
  out["1m"] = window_json(w->window(balancing::StatsWindows::k1m));
  out["5m"] = window_json(w->window(balancing::StatsWindows::k5m));
  return out;
}

json::object peer_json(const GroupMembership::Server& s, AdminState& st) {
  const balancing::Peer& p = *s.peer;
  const auto now = balancing::Clock::now();
  ServerStatsSnapshot stats = p.stats().snapshot();
  if (auto it = st.peer_baselines->find(p.id()); it != st.peer_baselines->end()) {
    stats = minus(stats, it->second);
  }
  json::object o;
  o["id"] = p.id();
  o["server"] = p.name();
  o["name"] = s.config.address.empty() ? p.name() : s.config.address;
  o["backup"] = p.backup();
  o["weight"] = p.weight();
  o["state"] = std::string(balancing::state_name(p, now));
  o["active"] = p.active();
  if (p.max_conns() > 0) o["max_conns"] = p.max_conns();
  o["requests"] = stats.requests + stats.failed_attempts;
  o["responses"] = responses_json(stats);
  o["sent"] = stats.sent;
  o["received"] = stats.received;
  o["fails"] = stats.failed_attempts;
  o["unavail"] = p.unavail();
  if (p.ejected()) o["ejected"] = true;  // tidegate: outlier_detection
  const auto& hc = p.health();
  json::object checks{{"checks", hc.checks.load(std::memory_order_relaxed)},
                      {"fails", hc.fails.load(std::memory_order_relaxed)},
                      {"unhealthy", hc.unhealthy.load(std::memory_order_relaxed)}};
  if (const int last = hc.last_passed.load(std::memory_order_relaxed); last >= 0) {
    checks["last_passed"] = last == 1;  // NGINX Plus: only once a check has been made
  }
  o["health_checks"] = std::move(checks);
  std::chrono::milliseconds downtime{0};
  if (const auto* d = st.metrics->downtime(p.id())) {
    downtime = d->total;
    if (d->downstart) {
      downtime +=
          std::chrono::duration_cast<std::chrono::milliseconds>(SysClock::now() - *d->downstart);
      o["downstart"] = iso_time(*d->downstart);
    }
  }
  o["downtime"] = downtime.count();
  if (auto sel = p.selected()) o["selected"] = iso_time(wall(*sel));
  o["header_time"] = static_cast<std::uint64_t>(stats.header_latency.mean() / 1000.0);
  o["response_time"] = static_cast<std::uint64_t>(stats.latency.mean() / 1000.0);
  // tidegate's additions.
  o["tunnels"] = p.tunnels();
  o["websocket_messages"] = p.ws_messages();  // tidegate: through its tunnels, both ways
  o["drained"] = p.draining() && p.active() == 0 && p.tunnels() == 0;
  if (auto since = p.draining_since()) o["draining_since"] = iso_time(wall(*since));
  o["windows"] = windows_json(st.metrics->server(p.id()));
  return o;
}

json::object upstream_json(const GroupMembership& g, const conf::UpstreamConfig& u,
                           AdminState& st) {
  json::array peers;
  std::int64_t tunnels = 0;
  for (const auto& s : g.servers()) {
    peers.push_back(peer_json(s, st));
    tunnels += s.peer->tunnels();
  }
  json::object o;
  o["peers"] = std::move(peers);
  o["keepalive"] = st.keepalive(g.name());
  o["zombies"] = g.zombies().size();
  if (!u.zone.empty()) o["zone"] = u.zone;
  o["tunnels"] = tunnels;
  o["windows"] = windows_json(st.metrics->group(g.name()));
  return o;
}

json::object zone_json(const proxy::ZoneStats& z, std::string_view key, AdminState& st,
                       bool server_zone) {
  ServerStatsSnapshot stats = z.responses().snapshot();
  if (auto it = st.zone_baselines->find(key); it != st.zone_baselines->end()) {
    stats = minus(stats, it->second);
  }
  json::object o;
  if (server_zone) o["processing"] = z.processing();
  o["requests"] = stats.requests + static_cast<std::uint64_t>(z.discarded());
  o["responses"] = responses_json(stats);
  o["discarded"] = z.discarded();
  o["received"] = stats.received;
  o["sent"] = stats.sent;
  return o;
}

/// The path below the location, split at '/'; empty segments (a trailing slash,
/// "//") are dropped, as NGINX Plus accepts both forms.
std::vector<std::string> segments(const ControlRequest& r) {
  std::string_view rest = r.path;
  std::string_view prefix = r.location;
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  if (rest.starts_with(prefix)) rest.remove_prefix(prefix.size());
  std::vector<std::string> out;
  while (!rest.empty()) {
    const size_t slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    if (!part.empty()) out.emplace_back(part);
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return out;
}

struct Group {
  std::shared_ptr<GroupMembership> membership;
  const conf::UpstreamConfig* config = nullptr;
};

Group find_group(const AdminState& st, std::string_view name) {
  const auto& ups = st.runtime->config->http.upstreams;
  for (size_t i = 0; i < ups.size(); ++i) {
    if (!ups[i].implicit && ups[i].name == name) return Group{st.runtime->groups[i], &ups[i]};
  }
  return {};
}

/// Writes the group's `state` file: a temporary file, flushed to disk, renamed
/// over the old one, so a crash leaves either the old list or the new one.
void save_state(const Group& g) {
  if (g.config->state.empty()) return;
  const std::string tmp = g.config->state + ".tmp";
  const std::string text = state_text(*g.membership);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    log(LogLevel::kAlert, "open() \"" + tmp + "\" failed " + errno_text(errno));
    return;
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const bool ok = done == text.size() && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    log(LogLevel::kAlert, "cannot write state file \"" + tmp + "\" " + errno_text(saved));
    ::unlink(tmp.c_str());
    return;
  }
  if (std::rename(tmp.c_str(), g.config->state.c_str()) != 0) {
    log(LogLevel::kAlert,
        "rename() \"" + tmp + "\" to \"" + g.config->state + "\" failed " + errno_text(errno));
    ::unlink(tmp.c_str());
  }
}

bool method_is(const ControlRequest& r, std::string_view m) {
  return r.method == m || (m == "GET" && r.method == "HEAD");
}

ControlResponse upstream_servers(const ControlRequest& r, const Group& g,
                                 const std::vector<std::string>& path) {
  // path: <v> http upstreams <name> servers [<id>]
  const bool one = path.size() == 6;
  auto& m = *g.membership;
  if (!m.dynamic()) return error(400, "upstream is static", "UpstreamStatic");
  const balancing::GroupMembership::Server* server = nullptr;
  std::uint64_t id = 0;
  if (one) {
    if (path[5].empty() || path[5].find_first_not_of("0123456789") != std::string::npos ||
        path[5].size() > 18) {
      return error(400, "invalid server id", "UpstreamBadServerId");
    }
    id = std::stoull(path[5]);
    server = m.find(id);
    if (!server) return error(404, "server not found", "UpstreamServerNotFound");
  }
  const auto now = balancing::Clock::now();
  if (method_is(r, "GET")) {
    if (one) return answer(200, server_json(*server));
    json::array all;
    for (const auto& s : m.servers()) all.push_back(server_json(s));
    return answer(200, all);
  }
  if (r.method == "POST" && !one) {
    ApiError e;
    auto patch = parse_server_patch(r.body, e);
    if (!patch) return error(e);
    if (!patch->server) return error(400, "missing \"server\" argument", "UpstreamConfFormatError");
    const auto& algo = m.balancer().algorithm;
    if (patch->backup.value_or(false) &&
        (algo == balancing::Algorithm::kHash || algo == balancing::Algorithm::kIpHash ||
         algo == balancing::Algorithm::kRandom)) {
      return error(400, "\"backup\" is not allowed by the balancing method",
                   "UpstreamConfFormatError");
    }
    std::string host, resolve_error;
    int port = 0;
    auto endpoints = conf::resolve(*patch->server, 80, false, host, port, resolve_error);
    if (!endpoints.empty() && host == "*") {  // "8080", "*:80": listen syntax, no host
      endpoints.clear();
      resolve_error = "no host";
    }
    if (endpoints.empty()) {
      return error(400, resolve_error + " in \"" + *patch->server + "\"", "UpstreamBadAddress");
    }
    for (const auto& ep : endpoints) {
      for (const auto& s : m.servers()) {
        if (s.config.name == conf::endpoint_text(ep)) {
          return error(409, "entry exists", "EntryExists");
        }
      }
    }
    std::uint64_t first = 0;
    for (const auto& ep : endpoints) {
      balancing::ServerConfig c;
      c.endpoint = ep;
      c.name = conf::endpoint_text(ep);
      c.address = *patch->server;
      c.drain_timeout = g.config->drain_timeout;
      apply_patch(*patch, c);
      const auto added = m.add(c, now);
      if (!first) first = added;
      log(LogLevel::kNotice, "api: server " + c.name + " (id " + std::to_string(added) +
                                 ") added to upstream \"" + m.name() + "\", client: " + r.client);
    }
    save_state(g);
    return answer(201, server_json(*m.find(first)));
  }
  if (r.method == "PATCH" && one) {
    ApiError e;
    auto patch = parse_server_patch(r.body, e);
    if (!patch) return error(e);
    balancing::ServerConfig c = server->config;
    if (patch->server && *patch->server != c.name && *patch->server != c.address) {
      return error(400, "server \"" + std::to_string(id) + "\" address is immutable",
                   "UpstreamServerImmutable");
    }
    if (patch->backup && *patch->backup != c.backup) {
      return error(400, "server \"" + std::to_string(id) + "\" backup is immutable",
                   "UpstreamServerImmutable");
    }
    apply_patch(*patch, c);
    m.update(id, c, now);
    log(LogLevel::kNotice, "api: server " + c.name + " (id " + std::to_string(id) +
                               ") of upstream \"" + m.name() + "\" changed, client: " + r.client);
    save_state(g);
    return answer(200, server_json(*m.find(id)));
  }
  if (r.method == "DELETE" && one) {
    const std::string name = server->config.name;
    m.remove(id);
    log(LogLevel::kNotice, "api: server " + name + " (id " + std::to_string(id) +
                               ") removed from upstream \"" + m.name() + "\", client: " + r.client);
    save_state(g);
    json::array all;
    for (const auto& s : m.servers()) all.push_back(server_json(s));
    return answer(200, all);
  }
  return error(405, "method not supported", "MethodNotSupported");
}

ControlResponse upstreams(const ControlRequest& r, AdminState& st,
                          const std::vector<std::string>& path) {
  // path: <v> http upstreams [<name> [servers [<id>]]]
  if (path.size() == 3) {
    if (!method_is(r, "GET")) return error(405, "method not supported", "MethodNotSupported");
    json::object all;
    const auto& ups = st.runtime->config->http.upstreams;
    for (size_t i = 0; i < ups.size(); ++i) {
      if (ups[i].implicit) continue;
      all[ups[i].name] = upstream_json(*st.runtime->groups[i], ups[i], st);
    }
    return answer(200, all);
  }
  const Group g = find_group(st, path[3]);
  if (!g.membership) return error(404, "upstream not found", "UpstreamNotFound");
  if (path.size() == 4) {
    if (method_is(r, "GET")) return answer(200, upstream_json(*g.membership, *g.config, st));
    if (r.method == "DELETE") {
      for (const auto& s : g.membership->servers()) {
        (*st.peer_baselines)[s.peer->id()] = s.peer->stats().snapshot();
      }
      log(LogLevel::kNotice,
          "api: statistics of upstream \"" + g.config->name + "\" reset, client: " + r.client);
      ControlResponse done;
      done.status = 204;
      done.content_type.clear();
      return done;
    }
    return error(405, "method not supported", "MethodNotSupported");
  }
  if (path[4] == "servers" && path.size() <= 6) return upstream_servers(r, g, path);
  return error(404, "path not found", "PathNotFound");
}

ControlResponse zones(const ControlRequest& r, AdminState& st, const std::vector<std::string>& path,
                      bool server_zones) {
  const auto& zones = server_zones ? st.runtime->server_zones : st.runtime->location_zones;
  const std::string prefix = server_zones ? "server:" : "location:";
  const std::string kind = server_zones ? "server zone" : "location zone";
  auto reset = [&](const std::string& name, const proxy::ZoneStats& z) {
    (*st.zone_baselines)[prefix + name] = z.responses().snapshot();
  };
  auto logged = [&](const std::string& what) {
    log(LogLevel::kNotice, "api: statistics of " + what + " reset, client: " + r.client);
  };

  if (path.size() == 3) {
    if (method_is(r, "GET")) {
      json::object all;
      for (const auto& [name, z] : zones)
        all[name] = zone_json(*z, prefix + name, st, server_zones);
      return answer(200, all);
    }
    if (r.method == "DELETE") {
      for (const auto& [name, z] : zones) reset(name, *z);
      logged("every " + kind);
      ControlResponse done;
      done.status = 204;
      done.content_type.clear();
      return done;
    }
    return error(405, "method not supported", "MethodNotSupported");
  }
  auto it = zones.find(path[3]);
  if (it == zones.end() || path.size() > 4) {
    return error(404, server_zones ? "server zone not found" : "location zone not found",
                 server_zones ? "ServerZoneNotFound" : "LocationZoneNotFound");
  }
  if (method_is(r, "GET"))
    return answer(200, zone_json(*it->second, prefix + it->first, st, server_zones));
  if (r.method == "DELETE") {
    reset(it->first, *it->second);
    logged(kind + " \"" + it->first + "\"");
    ControlResponse done;
    done.status = 204;
    done.content_type.clear();
    return done;
  }
  return error(405, "method not supported", "MethodNotSupported");
}

json::object connections_json(const AdminState& st) {
  const auto t = st.totals();
  return json::object{
      {"accepted", t.accepted}, {"dropped", t.dropped}, {"active", t.active}, {"idle", t.idle}};
}

json::object requests_json(const AdminState& st) {
  const auto t = st.totals();
  return json::object{{"total", t.requests}, {"current", t.current}};
}

/// NGINX Plus's `fields` argument: only the named fields of an object, or of each
/// object of a map of them (upstreams, zones).
void limit_fields(std::string_view args, json::value& body) {
  std::string_view fields;
  while (!args.empty()) {
    const size_t amp = args.find('&');
    const std::string_view arg = args.substr(0, amp);
    if (arg.starts_with("fields=")) fields = arg.substr(7);
    if (amp == std::string_view::npos) break;
    args.remove_prefix(amp + 1);
  }
  if (fields.empty() || !body.is_object()) return;
  std::vector<std::string_view> keep;
  while (!fields.empty()) {
    const size_t comma = fields.find(',');
    keep.push_back(fields.substr(0, comma));
    if (comma == std::string_view::npos) break;
    fields.remove_prefix(comma + 1);
  }
  auto filter = [&](json::object& o) {
    for (auto it = o.begin(); it != o.end();) {
      if (std::find(keep.begin(), keep.end(), it->key()) == keep.end()) {
        it = o.erase(it);
      } else {
        ++it;
      }
    }
  };
  auto& object = body.as_object();
  const bool map_of_objects =
      !object.empty() && std::all_of(object.begin(), object.end(),
                                     [](const auto& kv) { return kv.value().is_object(); });
  if (map_of_objects) {
    for (auto& kv : object) filter(kv.value().as_object());
  } else {
    filter(object);
  }
}

ControlResponse route(const ControlRequest& r, AdminState& st);

}  // namespace

ControlResponse handle_api(const ControlRequest& r, AdminState& st) {
  ControlResponse response = route(r, st);
  if (response.status == 200 && !r.args.empty() && r.args.find("fields=") != std::string::npos) {
    boost::system::error_code ec;
    json::value body = json::parse(response.body, ec);
    if (!ec) {
      limit_fields(r.args, body);
      response.body = json::serialize(body);
    }
  }
  return response;
}

namespace {

ControlResponse route(const ControlRequest& r, AdminState& st) {
  const bool write =
      r.method == "POST" || r.method == "PATCH" || r.method == "DELETE" || r.method == "PUT";
  if (!write && !method_is(r, "GET"))
    return error(405, "method not supported", "MethodNotSupported");
  if (write && !r.handler.write) return error(405, "method disabled", "MethodDisabled");
  const auto path = segments(r);
  if (path.empty()) {
    if (write) return error(405, "method not supported", "MethodNotSupported");
    json::array versions;
    for (int v = 1; v <= kMaxVersion; ++v) versions.push_back(v);
    return answer(200, versions);
  }
  const std::string& v = path[0];
  if (v.empty() || v.size() > 2 || v.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(v) < 1 || std::stoi(v) > kMaxVersion) {
    return error(404, "unknown version", "UnknownVersion");
  }
  auto get_only = [&](const json::value& body) {
    if (!method_is(r, "GET")) return error(405, "method not supported", "MethodNotSupported");
    return answer(200, body);
  };
  if (path.size() == 1) {
    // NGINX Plus's list, exactly (clients compare it); tidegate's own section is not listed.
    return get_only(json::array{"nginx", "processes", "connections", "slabs", "http", "stream",
                                "resolvers", "ssl", "workers"});
  }
  const std::string& top = path[1];
  if (path.size() == 2) {
    if (top == "nginx") {
      return get_only(json::object{{"version", TIDEGATE_VERSION},
                                   {"build", "tidegate"},
                                   {"address", "127.0.0.1"},
                                   {"generation", st.generation},
                                   {"load_timestamp", iso_time(st.load_time)},
                                   {"timestamp", iso_time(SysClock::now())},
                                   {"pid", ::getpid()},
                                   {"ppid", ::getppid()}});
    }
    if (top == "processes") return get_only(json::object{{"respawned", 0}});
    if (top == "connections") return get_only(connections_json(st));
    if (top == "slabs" || top == "resolvers") return get_only(json::object{});
    if (top == "ssl") {
      return get_only(
          json::object{{"handshakes", 0}, {"handshakes_failed", 0}, {"session_reuses", 0}});
    }
    if (top == "workers") {
      json::array all;
      for (size_t i = 0; i < st.workers.size(); ++i) {
        const auto* w = st.workers[i];
        all.push_back(json::object{
            {"id", i},
            {"pid", ::getpid()},
            {"connections", json::object{{"accepted", w->accepted.load()},
                                         {"dropped", w->dropped.load()},
                                         {"active", w->active.load()},
                                         {"idle", w->idle.load()}}},
            {"http", json::object{{"requests", json::object{{"total", w->requests.load()},
                                                            {"current", w->current.load()}}}}}});
      }
      return get_only(all);
    }
    if (top == "http") {
      return get_only(json::array{"requests", "server_zones", "location_zones", "caches",
                                  "limit_conns", "limit_reqs", "keyvals", "upstreams"});
    }
    if (top == "tidegate") return get_only(json::array{"autoscale"});
    if (top == "stream") {
      return get_only(
          json::array{"server_zones", "limit_conns", "keyvals", "upstreams", "zone_sync"});
    }
    return error(404, "path not found", "PathNotFound");
  }
  const std::string& section = path[2];
  if (top == "tidegate" && section == "autoscale" && path.size() <= 4) {
    // tidegate: every autoscaled group's bounds, counts, instances and recent events.
    json::object all = st.autoscaler ? st.autoscaler->status().as_object() : json::object{};
    if (path.size() == 3) return get_only(all);
    auto it = all.find(path[3]);
    if (it == all.end()) return error(404, "autoscaled upstream not found", "UpstreamNotFound");
    return get_only(it->value());
  }
  if (top == "http") {
    if (section == "requests" && path.size() == 3) return get_only(requests_json(st));
    if (section == "upstreams") return upstreams(r, st, path);
    if (section == "server_zones") return zones(r, st, path, true);
    if (section == "location_zones") return zones(r, st, path, false);
    if ((section == "caches" || section == "limit_conns" || section == "limit_reqs" ||
         section == "keyvals") &&
        path.size() == 3) {
      return get_only(json::object{});
    }
  }
  if (top == "stream" && path.size() == 3 &&
      (section == "server_zones" || section == "limit_conns" || section == "keyvals" ||
       section == "upstreams" || section == "zone_sync")) {
    return get_only(json::object{});
  }
  return error(404, "path not found", "PathNotFound");
}

}  // namespace

}  // namespace tg::admin
