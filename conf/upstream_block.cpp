// The `upstream` block, as nginx's ngx_http_upstream module and its balancing modules read
// it. A method directive (least_conn, ip_hash, hash, random, least_time, peak_ewma) replaces
// any earlier one with a warning, and decides which `server` parameters the lines after it
// may use (nginx's uscf->flags): `backup` only with round robin, least_conn, least_time and
// peak_ewma.
#include "conf/upstream_block.h"

#include <limits>

#include <algorithm>
#include <cctype>
#include <utility>

#include "conf/directive_args.h"
#include "conf/modules/modules.h"

namespace tg::conf {
namespace {

using balancing::Algorithm;
using balancing::BalancerConfig;
using balancing::ServerConfig;
using balancing::StickyConfig;
using balancing::TimeMetric;

[[noreturn]] void invalid_parameter(const Directive& d, const std::string& arg) {
  fail(d, "invalid parameter \"" + arg + "\"");
}

/// The text after `prefix=` when `arg` starts with it.
bool has_prefix(const std::string& arg, std::string_view prefix, std::string& value) {
  if (!arg.starts_with(prefix)) return false;
  value = arg.substr(prefix.size());
  return true;
}

/// `header` / `last_byte`, the two response times nginx's least_time measures.
bool parse_metric(std::string_view text, TimeMetric& out) {
  if (text == "header") {
    out = TimeMetric::kHeader;
  } else if (text == "last_byte") {
    out = TimeMetric::kLastByte;
  } else {
    return false;
  }
  return true;
}

class UpstreamBuilder {
 public:
  UpstreamBuilder(const CompileTemplate& compile, const ReadStateFile& read_state,
                  const std::string& prefix, std::vector<std::string>& warnings)
      : compile_(compile), read_state_(read_state), prefix_(prefix), warnings_(warnings) {}

  UpstreamConfig build(const Directive& ud) {
    u_.name = ud.args[0];
    u_.where = ud.where;
    const Directive* state = nullptr;
    for (const auto& d : ud.block) {
      if (d.name == "state") {
        state = &d;
        continue;
      }
      directive(d);
    }
    if (state) {
      // NGINX Plus: `state` keeps the servers; the block may not list any itself.
      if (!u_.servers.empty()) fail(*state, "\"state\" directive is incompatible with \"server\"");
      if (u_.zone.empty()) fail(*state, "\"state\" directive requires \"zone\" in the upstream");
      u_.state = state->args[0].starts_with('/') ? state->args[0] : prefix_ + state->args[0];
      const std::string text = read_state_(*state, u_.state);
      for (const auto& line : parse_text(text, u_.state, ParseOptions{})) {
        if (line.name != "server") fail(line, "unknown directive \"" + line.name + "\"");
        server(line);
      }
      // An empty state (a new group) is fine: servers come through the API.
      return finish();
    }
    if (u_.servers.empty() && !u_.autoscale) {
      // nginx checks this after reading the block, at its closing brace.
      throw ConfError("no servers are inside upstream", {ud.where.file, ud.block_end_line});
    }
    // nginx's round robin needs a primary server (backups only stand in for them).
    if (!u_.servers.empty() && std::all_of(u_.servers.begin(), u_.servers.end(),
                                           [](const ServerConfig& s) { return s.backup; })) {
      fail(ud, "no servers in upstream \"" + u_.name + "\"");
    }
    return finish();
  }

 private:
  UpstreamConfig finish() {
    // Run-time membership is a zone's (NGINX Plus): so are the autoscaler's servers.
    if (autoscale_at_ && u_.zone.empty()) {
      fail(*autoscale_at_, "\"autoscale\" directive requires \"zone\" in the upstream");
    }
    // drain_timeout (tidegate extension) is the default of servers that set none.
    for (size_t i = 0; i < u_.servers.size(); ++i) {
      if (!own_drain_timeout_[i]) u_.servers[i].drain_timeout = u_.drain_timeout;
    }
    return std::move(u_);
  }

  void directive(const Directive& d) {
    const std::string& n = d.name;
    if (n == "server") {
      server(d);
    } else if (n == "least_conn") {
      // nginx: least_conn; fewest active connections per weight, ties by round robin.
      start_method(d, Algorithm::kLeastConn);
    } else if (n == "ip_hash") {
      // nginx: ip_hash; the first three octets of an IPv4 client, the whole IPv6 address.
      start_method(d, Algorithm::kIpHash);
    } else if (n == "hash") {
      hash(d);
    } else if (n == "random") {
      random(d);
    } else if (n == "least_time") {
      least_time(d);
    } else if (n == "peak_ewma") {
      peak_ewma(d);
    } else if (n == "sticky") {
      sticky(d);
    } else if (n == "drain_timeout") {
      // tidegate extension: how long a draining server keeps its tunnels; 0 = no limit.
      if (drain_timeout_set_) fail(d, "\"drain_timeout\" directive is duplicate");
      drain_timeout_set_ = true;
      u_.drain_timeout = time_arg(d, 0);
    } else if (n == "keepalive") {
      // nginx: keepalive N; idle connections cached per worker.
      if (!parse_int(d.args[0], u_.keepalive) || u_.keepalive == 0) {
        fail(d, "invalid value \"" + d.args[0] + "\" in \"keepalive\" directive");
      }
    } else if (n == "keepalive_timeout") {
      u_.keepalive_timeout = time_arg(d, 0);
    } else if (n == "keepalive_requests") {
      u_.keepalive_requests = int_arg(d, 0);
    } else if (n == "keepalive_time") {
      u_.keepalive_time = time_arg(d, 0);
    } else if (n == "outlier_detection") {
      outlier_detection(d);
    } else if (n == "autoscale") {
      // tidegate: the group's autoscaler (README "Autoscaling").
      modules::autoscale(d, u_.autoscale, [&](const Directive& params) {
        // `server_params` takes exactly what a `server` line does after its address.
        Directive line = params;
        line.name = "server";
        line.args.insert(line.args.begin(), "127.0.0.1:1");
        const size_t before = u_.servers.size();
        server(line);
        u_.autoscale_server = u_.servers.back();
        u_.servers.resize(before);
        own_drain_timeout_.resize(before);
      });
      autoscale_at_ = &d;
    } else if (n == "zone") {
      // nginx: zone name [size]; tidegate's groups always share state between workers.
      u_.zone = d.args[0];
    }
  }

  void outlier_detection(const Directive& d) {
    if (u_.outlier) fail(d, "\"outlier_detection\" directive is duplicate");
    OutlierDetection o;
    for (const auto& a : d.args) {
      const size_t eq = a.find('=');
      if (eq == std::string::npos) fail(d, "invalid parameter \"" + a + "\"");
      const std::string key = a.substr(0, eq);
      const std::string value = a.substr(eq + 1);
      int64_t ms = 0;
      auto time = [&](Millis& out) {  // at most 24 days: added to the clock
        if (!parse_nginx_time(value, false, ms) || ms <= 0 ||
            ms > std::numeric_limits<int32_t>::max()) {
          fail(d, "invalid parameter \"" + a + "\"");
        }
        out = Millis(ms);
      };
      auto number = [&](int& out, int min, int max) {
        if (!parse_int(value, out) || out < min || out > max) {
          fail(d, "invalid parameter \"" + a + "\"");
        }
      };
      if (key == "consecutive_5xx") {
        number(o.consecutive_5xx, 1, 1'000'000);
      } else if (key == "interval") {
        time(o.interval);
      } else if (key == "base_ejection_time") {
        time(o.base_ejection_time);
      } else if (key == "max_ejection_time") {
        time(o.max_ejection_time);
      } else if (key == "max_ejection_percent") {
        number(o.max_ejection_percent, 0, 100);
      } else {
        fail(d, "invalid parameter \"" + a + "\"");
      }
    }
    if (o.max_ejection_time < o.base_ejection_time) o.max_ejection_time = o.base_ejection_time;
    u_.outlier = o;
  }

  /// What every method handler of nginx does first: warn when a method is already set
  /// (the later one wins), then decide which server parameters later lines may use.
  void start_method(const Directive& d, Algorithm algorithm) {
    if (method_set_) {
      warnings_.push_back(ConfError("load balancing method redefined", d.where).what());
    }
    method_set_ = true;
    StickyConfig sticky = std::move(u_.balancer.sticky);
    u_.balancer = BalancerConfig{};
    u_.balancer.sticky = std::move(sticky);
    u_.balancer.algorithm = algorithm;
    u_.hash_key = Template{};
    backup_allowed_ = algorithm != Algorithm::kIpHash && algorithm != Algorithm::kHash &&
                      algorithm != Algorithm::kRandom;
  }

  // nginx: hash key [consistent]; key is a complex value, `consistent` is ketama.
  void hash(const Directive& d) {
    Template key = compile_(d, d.args[0]);
    start_method(d, Algorithm::kHash);
    if (d.args.size() == 2) {
      if (d.args[1] != "consistent") invalid_parameter(d, d.args[1]);
      u_.balancer.consistent = true;
    }
    u_.hash_key = std::move(key);
  }

  // nginx: random [two [least_conn|least_time=header|least_time=last_byte]];
  // `two` alone compares by least_conn.
  void random(const Directive& d) {
    start_method(d, Algorithm::kRandom);
    BalancerConfig& b = u_.balancer;
    if (d.args.empty()) return;
    if (d.args[0] != "two") invalid_parameter(d, d.args[0]);
    b.two = true;
    if (d.args.size() == 1) return;
    const std::string& mode = d.args[1];
    std::string metric;
    if (mode == "least_conn") {
      b.two_mode = BalancerConfig::TwoMode::kLeastConn;
    } else if (has_prefix(mode, "least_time=", metric) && parse_metric(metric, b.metric)) {
      b.two_mode = BalancerConfig::TwoMode::kLeastTime;
    } else {
      invalid_parameter(d, mode);
    }
  }

  // nginx 1.31: least_time header|last_byte [inflight]; lowest average response time
  // times active connections, per weight.
  void least_time(const Directive& d) {
    start_method(d, Algorithm::kLeastTime);
    if (!parse_metric(d.args[0], u_.balancer.metric)) invalid_parameter(d, d.args[0]);
    if (d.args.size() == 2) {
      if (d.args[1] != "inflight") invalid_parameter(d, d.args[1]);
      u_.balancer.inflight = true;
    }
  }

  // tidegate extension: peak_ewma [decay=time]; power of two choices over a peak-sensitive
  // moving average of response times. decay= defaults to 10 s and must be positive.
  void peak_ewma(const Directive& d) {
    start_method(d, Algorithm::kPeakEwma);
    if (d.args.empty()) return;
    std::string value;
    Millis decay{0};
    if (!has_prefix(d.args[0], "decay=", value) || !parse_time(value, decay) ||
        decay.count() == 0) {
      invalid_parameter(d, d.args[0]);
    }
    u_.balancer.ewma_decay = decay;
  }

  // nginx: sticky cookie name [expires=] [domain=] [path=] [samesite=] [secure] [httponly];
  //        sticky route $variable ...;   (sticky learn needs shared learning: not here)
  void sticky(const Directive& d) {
    if (sticky_set_) fail(d, "\"sticky\" directive is duplicate");
    sticky_set_ = true;
    const std::string& method = d.args[0];
    if (method == "cookie") {
      sticky_cookie(d);
    } else if (method == "route") {
      if (d.args.size() < 2) fail(d, "invalid number of arguments in \"sticky\" directive");
      u_.balancer.sticky.mode = StickyConfig::Mode::kRoute;
      for (size_t i = 1; i < d.args.size(); ++i) {
        u_.sticky_route.push_back(compile_(d, d.args[i]));
      }
    } else if (method == "learn") {
      fail(d, "\"sticky learn\" is not supported, use \"sticky cookie\" or \"sticky route\"");
    } else {
      invalid_parameter(d, method);
    }
  }

  void sticky_cookie(const Directive& d) {
    if (d.args.size() < 2) fail(d, "invalid number of arguments in \"sticky\" directive");
    StickyConfig& s = u_.balancer.sticky;
    s.mode = StickyConfig::Mode::kCookie;
    s.cookie_name = d.args[1];
    if (s.cookie_name.empty()) invalid_parameter(d, s.cookie_name);
    for (size_t i = 2; i < d.args.size(); ++i) {
      const std::string& a = d.args[i];
      std::string value;
      if (has_prefix(a, "expires=", value)) {
        // `max` is nginx's "Thu, 31 Dec 2037 23:55:55 GMT"; a time counts in seconds.
        Millis expires{0};
        s.expires_max = value == "max";
        if (!s.expires_max && !parse_seconds(value, expires)) invalid_parameter(d, a);
        s.expires = value;
        s.expires_seconds = std::chrono::duration_cast<std::chrono::seconds>(expires);
      } else if (has_prefix(a, "domain=", value)) {
        if (value.empty()) invalid_parameter(d, a);
        s.domain = value;
      } else if (has_prefix(a, "path=", value)) {
        if (value.empty()) invalid_parameter(d, a);
        s.path = value;
      } else if (has_prefix(a, "samesite=", value)) {
        samesite(d, a, value);
      } else if (a == "secure") {
        s.secure = true;
      } else if (a == "httponly") {
        s.httponly = true;
      } else {
        invalid_parameter(d, a);
      }
    }
  }

  // samesite=strict|lax|none (any case, kept in lower case) or a value taken from variables.
  void samesite(const Directive& d, const std::string& arg, const std::string& value) {
    const std::string keyword = lower(value);
    if (keyword == "strict" || keyword == "lax" || keyword == "none") {
      u_.balancer.sticky.samesite = keyword;
      u_.sticky_samesite = Template::literal(keyword);
      return;
    }
    if (value.find('$') == std::string::npos) invalid_parameter(d, arg);
    u_.balancer.sticky.samesite = value;
    u_.sticky_samesite = compile_(d, value);
  }

  // nginx: server address [weight=N] [max_fails=N] [fail_timeout=T] [max_conns=N]
  // [backup] [down] [drain] [route=string] [slow_start=T], plus tidegate's drain_timeout=T.
  // A name with several addresses gives one server per address, each with the parameters.
  void server(const Directive& d) {
    ServerConfig base;
    bool own_drain_timeout = false;
    for (size_t i = 1; i < d.args.size(); ++i) {
      const std::string& a = d.args[i];
      std::string value;
      auto number = [&] {
        if (value.empty() || value.size() > 9 ||
            !std::all_of(value.begin(), value.end(), ::isdigit)) {
          invalid_parameter(d, a);
        }
        return std::stoi(value);
      };
      if (has_prefix(a, "weight=", value)) {
        base.weight = number();
        if (base.weight < 1) invalid_parameter(d, a);
      } else if (has_prefix(a, "max_fails=", value)) {
        base.max_fails = number();
      } else if (has_prefix(a, "fail_timeout=", value)) {
        // nginx parses fail_timeout in seconds: `1M` is valid, `500ms` is not.
        if (!parse_seconds(value, base.fail_timeout)) invalid_parameter(d, a);
      } else if (has_prefix(a, "max_conns=", value)) {
        base.max_conns = number();
      } else if (has_prefix(a, "slow_start=", value)) {
        // In seconds like fail_timeout; hash, ip_hash and random ignore it.
        if (!parse_seconds(value, base.slow_start)) invalid_parameter(d, a);
      } else if (has_prefix(a, "route=", value)) {
        if (value.empty()) invalid_parameter(d, a);
        base.route = value;
      } else if (has_prefix(a, "drain_timeout=", value)) {
        if (!parse_time(value, base.drain_timeout)) invalid_parameter(d, a);
        own_drain_timeout = true;
      } else if (a == "backup") {
        if (!backup_allowed_) {
          fail(d, "balancing method does not support parameter \"" + a + "\"");
        }
        base.backup = true;
      } else if (a == "down") {
        base.down = true;
      } else if (a == "drain") {
        base.drain = true;
      } else {
        invalid_parameter(d, a);
      }
    }
    std::string host, error;
    int port = 0;
    auto eps = resolve(d.args[0], 80, false, host, port, error);
    if (eps.empty()) fail(d, error + " in upstream \"" + d.args[0] + "\"");
    for (const auto& ep : eps) {
      ServerConfig s = base;
      s.endpoint = ep;
      s.name = endpoint_text(ep);
      s.address = d.args[0];
      u_.servers.push_back(std::move(s));
      own_drain_timeout_.push_back(own_drain_timeout);
    }
  }

  const CompileTemplate& compile_;
  const ReadStateFile& read_state_;
  const std::string& prefix_;
  std::vector<std::string>& warnings_;
  UpstreamConfig u_;
  bool method_set_ = false;
  bool backup_allowed_ = true;  ///< nginx's NGX_HTTP_UPSTREAM_BACKUP in uscf->flags
  bool sticky_set_ = false;
  bool drain_timeout_set_ = false;
  const Directive* autoscale_at_ = nullptr;
  std::vector<bool> own_drain_timeout_;  ///< per server: drain_timeout= written on its line
};

}  // namespace

UpstreamConfig build_upstream(const Directive& ud, const CompileTemplate& compile,
                              const ReadStateFile& read_state, const std::string& prefix,
                              std::vector<std::string>& warnings) {
  return UpstreamBuilder(compile, read_state, prefix, warnings).build(ud);
}

}  // namespace tg::conf
