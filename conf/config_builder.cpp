// Builds the typed Config from a validated syntax tree. Each handler names the
// nginx semantics it follows. Settings are inherited http -> server -> location
// as nginx merges them: scalars inherit unless set; header lists inherit only
// when the inner level defines none.
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "conf/config.h"
#include "conf/directive_args.h"
#include "conf/directive_table.h"
#include "conf/file_source.h"
#include "conf/modules/modules.h"
#include "conf/upstream_block.h"

namespace tg::conf {
namespace {

using boost::asio::ip::tcp;

void add_unique(std::vector<std::string>& list, std::string name) {
  if (std::find(list.begin(), list.end(), name) == list.end()) list.push_back(std::move(name));
}

// nginx's ngx_parse_size (buffer sizes: k, m) or, with `offset`, ngx_parse_offset
// (body sizes: k, m, g).
int64_t size_arg(const Directive& d, size_t i, bool offset = false) {
  const std::string& text = d.args[i];
  const bool giga = !text.empty() && (text.back() == 'g' || text.back() == 'G');
  int64_t n;
  if ((giga && !offset) || !parse_size(text, n)) {
    fail(d, "\"" + d.name + "\" directive invalid value");
  }
  return n;
}

bool flag_arg(const Directive& d) {
  return d.args[0] == "on";
}

std::string full_path(const std::string& prefix, const std::string& path) {
  if (path.empty() || path[0] == '/' || path == "stderr") return path;
  return prefix + path;
}

/// Which level a set of directives belongs to, for merging header lists.
struct ListFlags {
  bool proxy_set_header = false;
  bool add_header = false;
  bool access_log = false;
  bool error_page = false;
  bool access = false;  ///< allow / deny
  bool real_ip_from = false;
  bool limit_req = false;
  bool limit_conn = false;
  bool index = false;
  bool proxy_redirect = false;
  modules::ProxySslFlags proxy_ssl;
};

class Builder {
 public:
  Builder(const LoadOptions& options, Config& cfg) : opt_(options), cfg_(cfg) {}

  void build(const std::vector<Directive>& tree) {
    validate(tree);
    collect_variables(tree);
    cfg_.http.log_formats.push_back(combined_format());
    std::set<std::string> seen;
    for (const auto& d : tree) main_directive(d, seen);
    // `pid off;` (a tidegate extension) leaves the path empty: no pid file.
    if (!seen.count("pid")) cfg_.main.pid_path = opt_.prefix + "logs/tidegate.pid";
    if (cfg_.main.error_log_path.empty()) {
      cfg_.main.error_log_path = opt_.prefix + "logs/error.log";
    }
  }

  uint64_t used_variables() const { return scope_.used; }

 private:
  // ---- variables declared anywhere (nginx allows use before definition) ----
  void collect_variables(const std::vector<Directive>& tree) {
    for (const auto& d : tree) {
      if ((d.name == "map" || d.name == "split_clients") && d.args.size() == 2 &&
          d.args[1].size() > 1 && d.args[1][0] == '$') {
        std::string name = lower(d.args[1].substr(1));  // nginx: names are case-insensitive
        if (!scope_.maps.count(name)) {
          scope_.maps.emplace(name, static_cast<uint32_t>(scope_.maps.size()));
        }
        continue;
      }
      if (d.name == "set" && d.args.size() == 2 && d.args[0].size() > 1 && d.args[0][0] == '$') {
        std::string name = lower(d.args[0].substr(1));
        if (!scope_.user.count(name)) {
          scope_.user.emplace(name, static_cast<uint32_t>(cfg_.http.user_variables.size()));
          cfg_.http.user_variables.push_back(name);
        }
      }
      if (d.has_block && d.name != "map" && d.name != "split_clients" && d.name != "types") {
        collect_variables(d.block);
      }
    }
  }

  /// nginx's conf prefix: the directory of the main conf file (auth_basic_user_file
  /// and other conf-relative paths).
  std::string conf_dir() const {
    const auto slash = opt_.conf_file.rfind('/');
    return slash == std::string::npos ? opt_.prefix : opt_.conf_file.substr(0, slash + 1);
  }

  Template compile(const Directive& d, const std::string& text) {
    Template t;
    std::string error;
    if (Template::compile(text, scope_, t, error)) return t;
    // nginx resolves names only once the http block is read
    // (ngx_http_variables_init_vars), so other errors come first and this one
    // has no position.
    if (!is_unknown_variable_error(error)) fail(d, error);
    if (unknown_variable_.empty()) unknown_variable_ = error;
    return t;
  }

  LogFormat combined_format() {
    LogFormat f;
    f.name = "combined";
    std::string error;
    Template::compile(
        "$remote_addr - - [$time_local] \"$request\" $status $body_bytes_sent "
        "\"$http_referer\" \"$http_user_agent\"",
        scope_, f.format, error);
    return f;
  }

  // ---- main context ----
  void main_directive(const Directive& d, std::set<std::string>& seen) {
    auto& m = cfg_.main;
    auto once = [&] {
      if (!seen.insert(d.name).second) fail(d, "\"" + d.name + "\" directive is duplicate");
    };
    if (d.name == "worker_processes") {
      once();
      if (d.args[0] == "auto") {
        long n = ::sysconf(_SC_NPROCESSORS_ONLN);
        m.worker_processes = n > 0 ? static_cast<int>(n) : 1;
      } else {
        // nginx accepts 0 (no workers); tidegate needs at least one.
        if (!parse_int(d.args[0], m.worker_processes) || m.worker_processes < 1) {
          fail(d, "\"worker_processes\" directive invalid value");
        }
      }
    } else if (d.name == "worker_rlimit_nofile") {
      once();
      m.worker_rlimit_nofile = int_arg(d, 0);
    } else if (d.name == "worker_shutdown_timeout") {
      once();
      m.worker_shutdown_timeout = time_arg(d, 0);
    } else if (d.name == "pid") {
      once();
      m.pid_path = d.args[0] == "off" ? "" : full_path(opt_.prefix, d.args[0]);
    } else if (d.name == "daemon") {
      once();
      m.daemon = flag_arg(d);
    } else if (d.name == "user") {
      once();
      // `user name [group]`, kept as "name group" (app/main.cpp splits it). As in
      // nginx, the group defaults to the user's name, and both must exist when the
      // conf is read by root (by a process that has dropped them, it is not used).
      const std::string& group = d.args.size() > 1 ? d.args[1] : d.args[0];
      if (::geteuid() == 0) {
        if (::getpwnam(d.args[0].c_str()) == nullptr) {
          fail(d, "getpwnam(\"" + d.args[0] + "\") failed");
        }
        if (::getgrnam(group.c_str()) == nullptr) fail(d, "getgrnam(\"" + group + "\") failed");
      }
      m.user = d.args[0] + " " + group;
    } else if (d.name == "error_log") {
      error_log(d);
    } else if (d.name == "events") {
      once();
      for (const auto& e : d.block) {
        if (e.name == "worker_connections" && !parse_int(e.args[0], m.worker_connections)) {
          fail(e, "invalid number \"" + e.args[0] + "\"");
        }
      }
    } else if (d.name == "http") {
      once();
      cfg_.has_http = true;
      http_block(d);
    }
    // everything else in main is a validated no-op (see the directive table)
  }

  void error_log(const Directive& d) {
    // nginx: error_log file [level]; the first one at main level is the process log.
    if (cfg_.main.error_log_set) return;
    LogLevel level = LogLevel::kError;
    if (d.args.size() > 1 && !parse_level(d.args[1], level)) {
      fail(d, "invalid log level \"" + d.args[1] + "\"");
    }
    cfg_.main.error_log_path = d.args[0] == "stderr" ? "stderr" : full_path(opt_.prefix, d.args[0]);
    cfg_.main.error_log_level = level;
    cfg_.main.error_log_set = true;
  }

  // ---- http context ----
  void http_block(const Directive& http) {
    auto& h = cfg_.http;
    LocationSettings settings = default_settings();
    ListFlags flags;
    ServerBlock header_defaults;
    modules::SslFlags ssl_flags;
    auto compile_fn = [this](const Directive& d, const std::string& text) {
      return compile(d, text);
    };
    for (const auto& d : http.block) {
      modules::limit_req_zone(d, h.limit_req_zones, compile_fn) ||
          modules::limit_conn_zone(d, h.limit_conn_zones, compile_fn);
    }
    for (const auto& d : http.block) {
      if (d.name == "limit_req_zone" || d.name == "limit_conn_zone") continue;
      if (d.name == "upstream") {
        upstream_block(d);
      } else if (d.name == "map") {
        map_block(d);
      } else if (d.name == "split_clients") {
        split_clients_block(d);
      } else if (modules::match_block(d, h.matches)) {
      } else if (d.name == "log_format") {
        log_format(d);
      } else if (d.name == "types") {
        for (const auto& t : d.block) {
          for (const auto& ext : t.args) h.types[lower(ext)] = t.name;
        }
      } else if (d.name == "error_log") {
        error_log(d);
      } else if (modules::ssl(d, header_defaults.ssl, ssl_flags, files(), conf_dir())) {
      } else if (d.name == "http2") {
        if (d.args[0] == "on") http2_warning(d);
      } else if (!server_level(d, header_defaults)) {
        common_setting(d, settings, flags);
      }
    }
    // access_log default: logs/access.log combined (nginx's compiled default).
    if (!flags.access_log) {
      settings.access_log.push_back(AccessLogConfig{opt_.prefix + "logs/access.log", 0});
    }
    for (const auto& d : http.block) {
      if (d.name == "server") server_block(d, settings, header_defaults);
    }
    if (!unknown_variable_.empty()) throw ConfError(unknown_variable_);
    conflicting_server_names();
    tls_contexts();
  }

  /// ngx_http_ssl_module's merge: every server on an address that one `listen ... ssl`
  /// made TLS gets a context; a server that asked for TLS itself must have a
  /// certificate (or refuse handshakes).
  void tls_contexts() {
    std::set<std::pair<std::string, unsigned short>> tls_addresses;
    for (auto& s : cfg_.http.servers) {
      for (const auto& l : s.listen) {
        if (l.ssl) tls_addresses.insert({l.endpoint.address().to_string(), l.endpoint.port()});
      }
    }
    for (auto& s : cfg_.http.servers) {
      bool on_tls = false;
      for (auto& l : s.listen) {
        if (tls_addresses.count({l.endpoint.address().to_string(), l.endpoint.port()})) {
          l.ssl = on_tls = true;
        }
      }
      // nginx reports these merge-time errors without a position.
      if (s.ssl.certificates.size() > s.ssl.keys.size()) {
        throw ConfError("no \"ssl_certificate_key\" is defined for certificate \"" +
                        s.ssl.certificates[s.ssl.keys.size()].path + "\"");
      }
      if (!on_tls) continue;
      if (s.ssl.certificates.empty() && !s.ssl.reject_handshake) {
        // nginx names the server block's line.
        for (const auto& l : s.listen) {
          if (l.own_ssl) {
            throw ConfError(
                "no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive", s.where);
          }
        }
        continue;  // SNI that picks it keeps the default server's certificate
      }
      if (s.ssl.verify_client != tls::VerifyClient::kOff &&
          s.ssl.verify_client != tls::VerifyClient::kOptionalNoCa &&
          s.ssl.client_certificate.pem.empty() && s.ssl.trusted_certificate.pem.empty()) {
        throw ConfError("no ssl_client_certificate for ssl_verify_client");
      }
      try {
        s.tls = tls::ServerContext::build(s.ssl);
      } catch (const std::runtime_error& e) {
        throw ConfError(e.what());
      }
    }
  }

  FileSource& files() const { return opt_.files ? *opt_.files : disk_files(); }

  /// nginx's [warn] for an exact name (or "", a server without server_name) that an
  /// earlier server on the same address already has: requests go to the earlier one.
  void conflicting_server_names() {
    std::set<std::pair<std::string, std::string>> seen;  // (address, name)
    for (const auto& s : cfg_.http.servers) {
      std::vector<std::string> names = s.names.exact;
      if (names.empty() && s.names.leading.empty() && s.names.trailing.empty() &&
          s.names.regex.empty()) {
        names.push_back("");
      }
      std::set<std::string> own;  // one server may list a name twice and listen twice
      for (const auto& l : s.listen) {
        const std::string addr = endpoint_text(l.endpoint);
        for (const auto& name : names) {
          if (!own.insert(addr + " " + name).second) continue;
          if (!seen.insert({addr, name}).second) {
            cfg_.warnings.push_back("conflicting server name \"" + name + "\" on " + addr +
                                    ", ignored");
          }
        }
      }
    }
  }

  /// nginx's implicit proxy_set_header entries, added unless the level overrides them.
  void add_default_proxy_headers(const Directive& d, LocationSettings& s) {
    for (auto [name, value] :
         {std::pair<const char*, const char*>{"Host", "$proxy_host"}, {"Connection", "close"}}) {
      bool present = std::any_of(s.proxy_set_header.begin(), s.proxy_set_header.end(),
                                 [&](const HeaderTemplate& h) { return h.lower == lower(name); });
      if (!present) {
        s.proxy_set_header.push_back(HeaderTemplate{name, lower(name), compile(d, value), false});
      }
    }
  }

  LocationSettings default_settings() {
    LocationSettings s;
    s.files.root = Template::literal(opt_.prefix + "html");  // nginx's compiled default
    s.files.index.push_back(Template::literal("index.html"));
    for (const char* name : {"date", "server", "x-pad", "x-accel-expires", "x-accel-redirect",
                             "x-accel-limit-rate", "x-accel-buffering", "x-accel-charset"}) {
      s.proxy_hide_header.push_back(name);
    }
    return s;
  }

  void log_format(const Directive& d) {
    LogFormat f;
    f.name = d.args[0];
    size_t first = 1;
    if (d.args[1].rfind("escape=", 0) == 0) {
      std::string e = d.args[1].substr(7);
      if (e == "json")
        f.escape = LogFormat::Escape::kJson;
      else if (e == "none")
        f.escape = LogFormat::Escape::kNone;
      else if (e != "default")
        fail(d, "unknown log format escaping \"" + e + "\"");
      first = 2;
    }
    std::string text;
    for (size_t i = first; i < d.args.size(); ++i) text += d.args[i];
    f.format = compile(d, text);
    for (auto& existing : cfg_.http.log_formats) {
      if (existing.name == f.name) {
        if (f.name == "combined") fail(d, "duplicate \"log_format\" name \"combined\"");
        fail(d, "duplicate \"log_format\" name \"" + f.name + "\"");
      }
    }
    cfg_.http.log_formats.push_back(std::move(f));
  }

  // ---- server-level-only directives (client header handling) ----
  bool server_level(const Directive& d, ServerBlock& s) {
    if (d.name == "client_header_timeout") {
      s.client_header_timeout = time_arg(d, 0);
    } else if (d.name == "client_header_buffer_size") {
      s.client_header_buffer_size = static_cast<size_t>(size_arg(d, 0));
    } else if (d.name == "large_client_header_buffers") {
      // nginx's ngx_conf_set_bufs_slot: "number size".
      int64_t size = 0;
      if (!parse_int(d.args[0], s.large_header_buffers) || s.large_header_buffers < 1 ||
          d.args[1].ends_with('g') || d.args[1].ends_with('G') || !parse_size(d.args[1], size) ||
          size < 64) {
        fail(d, "\"" + d.name + "\" directive invalid value");
      }
      s.large_header_buffer_size = static_cast<size_t>(size);
    } else if (d.name == "underscores_in_headers") {
      s.underscores_in_headers = flag_arg(d);
    } else if (d.name == "ignore_invalid_headers") {
      s.ignore_invalid_headers = flag_arg(d);
    } else {
      return false;
    }
    return true;
  }

  // ---- directives valid in http, server and location ----
  void common_setting(const Directive& d, LocationSettings& s, ListFlags& flags) {
    const auto& n = d.name;
    if (modules::access(d, s, flags.access, cfg_.warnings) ||
        modules::realip(d, s, flags.real_ip_from, cfg_.warnings) ||
        modules::limit_req(d, s, flags.limit_req, cfg_.http.limit_req_zones) ||
        modules::limit_conn(d, s, flags.limit_conn, cfg_.http.limit_conn_zones) ||
        modules::auth_basic(d, s, conf_dir()) ||
        modules::static_files(
            d, s.files, flags.index, opt_.prefix,
            [this](const Directive& at, const std::string& text) { return compile(at, text); }) ||
        modules::proxy_ssl(
            d, s, flags.proxy_ssl, files(), conf_dir(),
            [this](const Directive& at, const std::string& text) { return compile(at, text); })) {
      return;
    }
    if (n == "proxy_redirect") {
      if (!flags.proxy_redirect) {
        flags.proxy_redirect = true;
        s.proxy_redirect.clear();
        s.proxy_redirect_off = false;
      }
      const std::string& a = d.args[0];
      if (d.args.size() == 1) {
        if (a == "off" || a == "false") {
          s.proxy_redirect_off = true;
          s.proxy_redirect.clear();
        } else if (a == "default") {
          s.proxy_redirect.push_back(LocationSettings::RedirectRule{});
        } else {
          fail(d, "invalid parameter \"" + a + "\"");
        }
        return;
      }
      if (a.starts_with('~'))
        fail(d, "regular expressions in \"proxy_redirect\" are not supported yet");
      s.proxy_redirect.push_back(LocationSettings::RedirectRule{a, compile(d, d.args[1])});
      return;
    }
    if (n == "keepalive_timeout") {
      s.keepalive_timeout = time_arg(d, 0);
      s.keepalive_header = d.args.size() > 1 ? time_arg(d, 1) : Millis{0};
    } else if (n == "keepalive_requests") {
      s.keepalive_requests = int_arg(d, 0);
    } else if (n == "keepalive_time") {
      s.keepalive_time = time_arg(d, 0);
    } else if (n == "client_body_timeout") {
      s.client_body_timeout = time_arg(d, 0);
    } else if (n == "send_timeout") {
      s.send_timeout = time_arg(d, 0);
    } else if (n == "lingering_close") {
      const std::string& v = d.args[0];
      if (v == "off") {
        s.lingering_close = LocationSettings::Lingering::kOff;
      } else if (v == "on") {
        s.lingering_close = LocationSettings::Lingering::kOn;
      } else if (v == "always") {
        s.lingering_close = LocationSettings::Lingering::kAlways;
      } else {
        fail(d, "invalid value \"" + v + "\"");  // nginx's enum slot says no more
      }
    } else if (n == "lingering_time") {
      s.lingering_time = time_arg(d, 0);
    } else if (n == "lingering_timeout") {
      s.lingering_timeout = time_arg(d, 0);
    } else if (n == "client_max_body_size") {
      s.client_max_body_size = size_arg(d, 0, /*offset=*/true);
    } else if (n == "proxy_http_version") {
      if (d.args[0] != "1.0" && d.args[0] != "1.1") {
        fail(d, "invalid value \"" + d.args[0] + "\"");
      }
      s.proxy_http_version = d.args[0];
    } else if (n == "proxy_method") {
      s.proxy_method = compile(d, d.args[0]);
    } else if (n == "proxy_pass_request_headers") {
      s.proxy_pass_request_headers = flag_arg(d);
    } else if (n == "proxy_set_header") {
      if (!flags.proxy_set_header) s.proxy_set_header.clear();
      flags.proxy_set_header = true;
      s.proxy_set_header.push_back(
          HeaderTemplate{d.args[0], lower(d.args[0]), compile(d, d.args[1]), false});
    } else if (n == "proxy_hide_header") {
      add_unique(s.proxy_hide_header, lower(d.args[0]));
    } else if (n == "proxy_pass_header") {
      add_unique(s.proxy_pass_header, lower(d.args[0]));
    } else if (n == "proxy_connect_timeout") {
      s.proxy_connect_timeout = time_arg(d, 0);
    } else if (n == "proxy_read_timeout") {
      s.proxy_read_timeout = time_arg(d, 0);
    } else if (n == "proxy_send_timeout") {
      s.proxy_send_timeout = time_arg(d, 0);
    } else if (n == "proxy_request_buffering") {
      s.proxy_request_buffering = flag_arg(d);
    } else if (n == "proxy_next_upstream") {
      s.proxy_next_upstream = next_upstream(d);
    } else if (n == "proxy_next_upstream_tries") {
      s.proxy_next_upstream_tries = int_arg(d, 0);
    } else if (n == "proxy_next_upstream_timeout") {
      s.proxy_next_upstream_timeout = time_arg(d, 0);
    } else if (n == "proxy_intercept_errors") {
      s.proxy_intercept_errors = flag_arg(d);
    } else if (n == "add_header") {
      if (!flags.add_header) s.add_header.clear();
      flags.add_header = true;
      bool always = false;
      if (d.args.size() == 3) {
        if (d.args[2] != "always") fail(d, "invalid parameter \"" + d.args[2] + "\"");
        always = true;
      }
      s.add_header.push_back(
          HeaderTemplate{d.args[0], lower(d.args[0]), compile(d, d.args[1]), always});
    } else if (n == "error_page") {
      if (!flags.error_page) {
        s.error_page.clear();
        s.error_page_code.clear();
      }
      flags.error_page = true;
      error_page(d, s);
    } else if (n == "access_log") {
      if (!flags.access_log) s.access_log.clear();
      flags.access_log = true;
      access_log(d, s);
    } else if (n == "absolute_redirect") {
      s.absolute_redirect = flag_arg(d);
    } else if (n == "default_type") {
      s.default_type = d.args[0];
    } else if (n == "port_in_redirect") {
      s.port_in_redirect = flag_arg(d);
    } else if (n == "server_name_in_redirect") {
      s.server_name_in_redirect = flag_arg(d);
    } else if (n == "server_tokens") {
      // on | off | build (build: the version, there is no build name)
      if (d.args[0] != "on" && d.args[0] != "off" && d.args[0] != "build") {
        fail(d, "invalid value \"" + d.args[0] +
                    "\" in \"server_tokens\" directive, it must be "
                    "\"on\", \"off\" or \"build\"");
      }
      s.server_tokens = d.args[0] != "off";
    } else if (n == "reset_timedout_connection") {
      s.reset_timedout_connection = flag_arg(d);
    } else if (n == "chunked_transfer_encoding") {
      s.chunked_transfer_encoding = flag_arg(d);
    } else if (n == "proxy_buffer_size") {
      s.proxy_buffer_size = static_cast<size_t>(size_arg(d, 0));
    } else if (n == "charset") {
      s.charset = d.args[0] == "off" ? std::string() : d.args[0];
    } else if (n == "charset_types") {
      s.charset_types.clear();
      for (const auto& t : d.args) {
        if (t == "*") s.charset_types.clear();
        s.charset_types.push_back(lower(t));
      }
    } else if (n == "error_log") {
      // Per-server/location error logs are not separate files yet: messages go to
      // the process log (README: partial).
    }
    // remaining names are validated no-ops
  }

  unsigned next_upstream(const Directive& d) {
    static const std::map<std::string, unsigned> kBits = {
        {"error", kNuError},
        {"timeout", kNuTimeout},
        {"invalid_header", kNuInvalidHeader},
        {"http_500", kNuHttp500},
        {"http_502", kNuHttp502},
        {"http_503", kNuHttp503},
        {"http_504", kNuHttp504},
        {"http_403", kNuHttp403},
        {"http_404", kNuHttp404},
        {"http_429", kNuHttp429},
        {"non_idempotent", kNuNonIdempotent},
        {"off", kNuOff},
    };
    unsigned bits = 0;
    for (const auto& a : d.args) {
      auto it = kBits.find(a);
      if (it == kBits.end()) fail(d, "invalid value \"" + a + "\"");
      bits |= it->second;
    }
    // nginx's merge: `off` anywhere in the list wins over the other values.
    return bits & kNuOff ? 0 : bits;
  }

  void error_page(const Directive& d, LocationSettings& s) {
    // error_page code ... [=[response]] uri;
    const Template uri = compile(d, d.args.back());
    int replace = 0;
    size_t last = d.args.size() - 1;
    if (last >= 2 && d.args[last - 1][0] == '=') {
      std::string code = d.args[last - 1].substr(1);
      if (code.empty()) {
        replace = -1;  // `=` alone: answer with the target's own status
      } else if (!parse_int(code, replace)) {
        fail(d, "invalid value \"" + d.args[last - 1] + "\"");
      }
      --last;
    }
    for (size_t i = 0; i < last; ++i) {
      const std::string& c = d.args[i];
      int code = 0;
      // nginx: `=code` must follow at least one status; 499 is not a response.
      if (!parse_int(c, code) || code == 499) fail(d, "invalid value \"" + c + "\"");
      if (code < 300 || code > 599) {
        fail(d, "value \"" + c + "\" must be between 300 and 599");
      }
      s.error_page[code] = uri;
      s.error_page_code[code] = replace;
    }
  }

  void access_log(const Directive& d, LocationSettings& s) {
    if (d.args[0] == "off") {
      s.access_log.clear();
      return;
    }
    AccessLogConfig a;
    a.path = full_path(opt_.prefix, d.args[0]);
    if (d.args.size() > 1) {
      auto& formats = cfg_.http.log_formats;
      auto it = std::find_if(formats.begin(), formats.end(),
                             [&](const LogFormat& f) { return f.name == d.args[1]; });
      if (it == formats.end()) fail(d, "unknown log format \"" + d.args[1] + "\"");
      a.format = static_cast<size_t>(it - formats.begin());
    }
    for (size_t i = 2; i < d.args.size(); ++i) {
      if (d.args[i].rfind("buffer=", 0) == 0) {
        int64_t n;
        const std::string size = d.args[i].substr(7);
        if (size.ends_with('g') || size.ends_with('G') || !parse_size(size, n)) {
          fail(d, "invalid buffer size \"" + size + "\"");
        }
        a.buffer = static_cast<size_t>(n);
      } else if (d.args[i].rfind("flush=", 0) != 0 && d.args[i].rfind("gzip", 0) != 0 &&
                 d.args[i].rfind("if=", 0) != 0) {
        fail(d, "invalid parameter \"" + d.args[i] + "\"");
      }
    }
    s.access_log.push_back(a);
  }

  RewriteOp rewrite_op(const Directive& d) {
    RewriteOp op;
    if (d.name == "set") {
      if (d.args[0].size() < 2 || d.args[0][0] != '$') {
        fail(d, "invalid variable name \"" + d.args[0] + "\"");
      }
      op.kind = RewriteOp::Kind::kSet;
      op.slot = scope_.user.at(lower(d.args[0].substr(1)));
      op.value = compile(d, d.args[1]);
      op.has_value = true;
      return op;
    }
    // return code [text|URL] | return URL
    op.kind = RewriteOp::Kind::kReturn;
    const std::string& first = d.args[0];
    if (std::all_of(first.begin(), first.end(), ::isdigit) && !first.empty()) {
      op.code = std::stoi(first);
      if (op.code > 999) fail(d, "invalid return code \"" + first + "\"");
      if (d.args.size() > 1) {
        op.value = compile(d, d.args[1]);
        op.has_value = true;
      }
    } else if (d.args.size() == 1 &&
               (first.rfind("http://", 0) == 0 || first.rfind("https://", 0) == 0 ||
                first.rfind("$scheme", 0) == 0)) {
      op.code = 302;
      op.value = compile(d, first);
      op.has_value = true;
    } else {
      fail(d, "invalid return code \"" + first + "\"");
    }
    return op;
  }

  // ---- server ----
  void server_block(const Directive& sd, const LocationSettings& http_settings,
                    const ServerBlock& header_defaults) {
    ServerBlock s;
    s.where = sd.where;
    s.client_header_timeout = header_defaults.client_header_timeout;
    s.client_header_buffer_size = header_defaults.client_header_buffer_size;
    s.large_header_buffers = header_defaults.large_header_buffers;
    s.large_header_buffer_size = header_defaults.large_header_buffer_size;
    s.underscores_in_headers = header_defaults.underscores_in_headers;
    s.ignore_invalid_headers = header_defaults.ignore_invalid_headers;
    s.ssl = header_defaults.ssl;
    s.settings = http_settings;
    ListFlags flags;
    modules::SslFlags ssl_flags;
    bool has_name = false;
    for (const auto& d : sd.block) {
      if (d.name == "listen") {
        listen(d, s);
      } else if (d.name == "server_name") {
        // $server_name is the first name written, lower-cased unless a regex (nginx).
        if (!has_name) s.names.first = d.args[0].starts_with('~') ? d.args[0] : lower(d.args[0]);
        server_name(d, s.names);
        has_name = true;
      } else if (d.name == "set" || d.name == "return") {
        s.rewrite.push_back(rewrite_op(d));
      } else if (modules::status_zone(d, s.status_zone)) {
        continue;
      } else if (modules::ssl(d, s.ssl, ssl_flags, files(), conf_dir())) {
        continue;
      } else if (d.name == "http2") {
        if (d.args[0] == "on") http2_warning(d);
      } else if (d.name == "location") {
        continue;
      } else if (!server_level(d, s)) {
        common_setting(d, s.settings, flags);
      }
    }
    add_default_proxy_headers(sd, s.settings);
    if (s.listen.empty()) {
      ListenConfig l;
      l.endpoint = tcp::endpoint(tcp::v4(), ::geteuid() == 0 ? 80 : 8000);
      l.text = ::geteuid() == 0 ? "*:80" : "*:8000";
      l.where = sd.where;
      s.listen.push_back(l);
    }
    for (const auto& d : sd.block) {
      if (d.name == "location")
        add_location(s.locations, location_block(d, s.settings, nullptr), d);
    }
    cfg_.http.servers.push_back(std::move(s));
  }

  void listen(const Directive& d, ServerBlock& s) {
    ListenConfig l;
    l.where = d.where;
    l.text = d.args[0];
    std::string host, error;
    int port = 0;
    auto eps = resolve(d.args[0], 80, true, host, port, error);
    if (eps.empty()) fail(d, error + " in \"" + d.args[0] + "\" of the \"listen\" directive");
    l.endpoint = eps.front();
    for (size_t i = 1; i < d.args.size(); ++i) {
      const std::string& a = d.args[i];
      if (a == "default_server" || a == "default") {
        l.default_server = true;
      } else if (a.rfind("backlog=", 0) == 0) {
        if (!parse_int(a.substr(8), l.backlog) || l.backlog == 0) {
          fail(d, "invalid backlog \"" + a + "\"");
        }
        l.options_set = true;
      } else if (a == "reuseport" || a == "bind" || a == "deferred" ||
                 a.rfind("so_keepalive=", 0) == 0 || a.rfind("ipv6only=", 0) == 0 ||
                 a.rfind("fastopen=", 0) == 0 || a.rfind("rcvbuf=", 0) == 0 ||
                 a.rfind("sndbuf=", 0) == 0) {
        // tidegate always uses one SO_REUSEPORT socket per worker; the rest are kernel tuning.
        l.options_set = true;
      } else if (a == "ssl") {
        l.ssl = l.own_ssl = true;
      } else if (a == "http2") {
        http2_warning(d);
      } else if (a == "proxy_protocol") {
        l.proxy_protocol = true;
      } else if (a == "quic") {
        fail(d, "the \"" + a + "\" parameter of the \"listen\" directive is not supported yet");
      } else {
        fail(d, "invalid parameter \"" + a + "\"");
      }
    }
    listen_conflicts(d, s, l);
    s.listen.push_back(l);
  }

  /// `listen ... http2` and `http2 on`: accepted so that the confs load; until HTTP/2
  /// lands, ALPN offers only http/1.1, so TLS clients speak HTTP/1.1 (said once).
  void http2_warning(const Directive& d) {
    if (http2_warned_) return;
    http2_warned_ = true;
    cfg_.warnings.push_back("HTTP/2 is not supported yet, clients use HTTP/1.1 in " + d.where.file +
                            ":" + std::to_string(d.where.line));
  }
  bool http2_warned_ = false;

  /// nginx's ngx_http_add_addresses checks, made as each `listen` is read: one address
  /// twice in a server, two default servers for an address, socket options written on
  /// two of its `listen`s.
  void listen_conflicts(const Directive& d, const ServerBlock& s, const ListenConfig& l) {
    const std::string addr = endpoint_text(l.endpoint);
    for (const auto& other : s.listen) {
      if (other.endpoint == l.endpoint) fail(d, "a duplicate listen " + addr);
    }
    for (const auto& server : cfg_.http.servers) {
      for (const auto& other : server.listen) {
        if (other.endpoint != l.endpoint) continue;
        if (l.default_server && other.default_server) {
          fail(d, "a duplicate default server for " + addr);
        }
        if (l.options_set && other.options_set) fail(d, "duplicate listen options for " + addr);
      }
    }
  }

  /// nginx's ngx_http_init_locations: two exact, or two prefix (with or without `^~`),
  /// locations of one name at one level are an error, named at the later one; regex and
  /// named locations may repeat.
  static void add_location(std::vector<std::unique_ptr<Location>>& siblings,
                           std::unique_ptr<Location> loc, const Directive& d) {
    const auto kind = [](Location::Match m) {
      if (m == Location::Match::kExact) return 1;
      if (m == Location::Match::kPrefix || m == Location::Match::kPrefixNoRegex) return 2;
      return 0;
    };
    if (kind(loc->match) != 0) {
      for (const auto& other : siblings) {
        if (kind(other->match) == kind(loc->match) && other->pattern == loc->pattern) {
          fail(d, "duplicate location \"" + loc->pattern + "\"");
        }
      }
    }
    siblings.push_back(std::move(loc));
  }

  void server_name(const Directive& d, ServerNames& names) {
    for (const auto& raw : d.args) {
      // nginx: a leading `*` needs `*.` and something after it; `.` alone is no name.
      if ((raw.starts_with('*') && (raw.size() < 3 || raw[1] != '.')) || raw == ".") {
        fail(d, "server name \"" + raw + "\" is invalid");
      }
      if (raw.empty() || raw == "_") {
        names.exact.push_back(lower(raw));
        continue;
      }
      if (raw[0] == '~') {
        std::string error;
        auto re = Regex::compile(raw.substr(1), true, error);
        if (!re) fail(d, error);
        names.regex.push_back(re);
      } else if (raw.rfind("*.", 0) == 0) {
        names.leading.push_back(lower(raw.substr(1)));
      } else if (raw[0] == '.') {
        names.exact.push_back(lower(raw.substr(1)));  // ".example.com" also matches example.com
        names.leading.push_back(lower(raw));
      } else if (raw.size() > 2 && raw.compare(raw.size() - 2, 2, ".*") == 0) {
        names.trailing.push_back(lower(raw.substr(0, raw.size() - 1)));
      } else if (raw.find('*') != std::string::npos) {
        fail(d, "invalid server name or wildcard \"" + raw + "\"");
      } else {
        names.exact.push_back(lower(raw));
      }
    }
  }

  // ---- location ----
  std::unique_ptr<Location> location_block(const Directive& ld, const LocationSettings& parent,
                                           const Location* outer) {
    auto loc = std::make_unique<Location>();
    loc->where = ld.where;
    loc->settings = parent;
    std::string pattern;
    if (ld.args.size() == 2) {
      const std::string& mod = ld.args[0];
      pattern = ld.args[1];
      if (mod == "=") {
        loc->match = Location::Match::kExact;
      } else if (mod == "^~") {
        loc->match = Location::Match::kPrefixNoRegex;
      } else if (mod == "~" || mod == "~*") {
        loc->match = Location::Match::kRegex;
        std::string error;
        loc->regex = Regex::compile(pattern, mod == "~*", error);
        if (!loc->regex) fail(ld, error);
      } else {
        fail(ld, "invalid location modifier \"" + mod + "\"");
      }
    } else {
      pattern = ld.args[0];
      if (pattern.size() > 1 && pattern[0] == '=') {
        loc->match = Location::Match::kExact;
        pattern = pattern.substr(1);
      } else if (pattern.rfind("^~", 0) == 0 && pattern.size() > 2) {
        loc->match = Location::Match::kPrefixNoRegex;
        pattern = pattern.substr(2);
      } else if (pattern.rfind("~*", 0) == 0 || (pattern[0] == '~' && pattern.size() > 1)) {
        bool caseless = pattern.rfind("~*", 0) == 0;
        pattern = pattern.substr(caseless ? 2 : 1);
        loc->match = Location::Match::kRegex;
        std::string error;
        loc->regex = Regex::compile(pattern, caseless, error);
        if (!loc->regex) fail(ld, error);
      } else if (pattern[0] == '@') {
        loc->match = Location::Match::kNamed;
        if (outer) fail(ld, "named location \"" + pattern + "\" can be on the server level only");
      }
    }
    loc->pattern = pattern;
    if (outer && outer->match == Location::Match::kExact) {
      fail(ld, "location \"" + pattern + "\" cannot be inside the exact location \"" +
                   outer->pattern + "\"");
    }
    if (outer && outer->match == Location::Match::kNamed) {
      fail(ld, "location \"" + pattern + "\" cannot be inside the named location \"" +
                   outer->pattern + "\"");
    }
    // nginx exempts only an inner regex: a prefix inside a regex location must
    // still start with the regex's text.
    if (outer && loc->match != Location::Match::kRegex &&
        loc->pattern.rfind(outer->pattern, 0) != 0) {
      fail(ld, "location \"" + pattern + "\" is outside location \"" + outer->pattern + "\"");
    }
    ListFlags flags;
    std::vector<HealthCheck> checks;
    std::vector<const Directive*> check_lines;
    for (const auto& d : ld.block) {
      if (modules::control_handler(d, *loc) || modules::status_zone(d, loc->status_zone)) {
        continue;
      }
      if (modules::health_check(d, cfg_.http.matches, checks)) {
        check_lines.push_back(&d);
        continue;
      }
      if (d.name == "alias" && loc->match == Location::Match::kNamed) {
        fail(d, "\"alias\" cannot be used in named location");
      }
      if (d.name == "proxy_pass") {
        if (loc->proxy || loc->control) fail(d, "\"proxy_pass\" directive is duplicate");
        loc->proxy = proxy_target(d);
        // nginx checks this in the proxy_pass handler, so it names proxy_pass's line.
        if (loc->proxy->has_uri &&
            (loc->match == Location::Match::kRegex || loc->match == Location::Match::kNamed)) {
          fail(d,
               "\"proxy_pass\" cannot have URI part in location given by regular expression, "
               "or inside named location, or inside \"if\" statement, or inside "
               "\"limit_except\" block");
        }
      } else if (d.name == "set" || d.name == "return") {
        loc->rewrite.push_back(rewrite_op(d));
      } else if (d.name == "internal") {
        loc->internal = true;
      } else if (d.name != "location") {
        common_setting(d, loc->settings, flags);
      }
    }
    add_default_proxy_headers(ld, loc->settings);
    if (loc->proxy && loc->proxy->https) upstream_tls(*loc);
    for (size_t i = 0; i < checks.size(); ++i) {
      if (loc->proxy && loc->proxy->https) {
        fail(*check_lines[i], "\"health_check\" with \"proxy_pass https://\" is not supported yet");
      }
      finish_health_check(*check_lines[i], *loc, checks[i]);
      cfg_.http.health_checks.push_back(std::move(checks[i]));
    }
    for (const auto& d : ld.block) {
      if (d.name == "location") {
        add_location(loc->children, location_block(d, loc->settings, loc.get()), d);
      }
    }
    return loc;
  }

  /// What a health check takes from its location: the group and the proxy settings
  /// of the check request. Variables other than $proxy_host are empty in checks (as
  /// in NGINX Plus), and a header whose value is empty is not sent.
  void finish_health_check(const Directive& d, const Location& loc, HealthCheck& hc) {
    if (!loc.proxy) fail(d, "\"health_check\" requires \"proxy_pass\" in its location");
    const UpstreamConfig& u = cfg_.http.upstreams[loc.proxy->upstream];
    if (u.implicit || u.zone.empty()) {
      fail(d, "upstream \"" + u.name + "\" must reside in shared memory");
    }
    hc.upstream = loc.proxy->upstream;
    const LocationSettings& s = loc.settings;
    hc.http_version = s.proxy_http_version;
    if (hc.connect_timeout.count() < 0) {
      hc.connect_timeout = s.proxy_connect_timeout;
      hc.read_timeout = s.proxy_read_timeout;
    }
    for (const auto& h : s.proxy_set_header) {
      std::string value;
      for (const auto& seg : h.value.segments()) {
        if (seg.var == Var::kLiteral) value += seg.text;
        if (seg.var == Var::kProxyHost) value += loc.proxy->proxy_host;
      }
      if (!value.empty()) hc.headers.emplace_back(h.name, std::move(value));
    }
    // `proxy_set_header Host $host` is empty in a check: the group's name then, so
    // an HTTP/1.1 check (keepalive_time=, type=websocket) never goes without Host.
    if (std::none_of(hc.headers.begin(), hc.headers.end(),
                     [](const auto& h) { return lower(h.first) == "host"; })) {
      hc.headers.emplace_back("Host", loc.proxy->proxy_host);
    }
  }

  /// The TLS context of a location's `proxy_pass https://` (nginx builds one per
  /// location that proxies over TLS).
  void upstream_tls(Location& loc) {
    // nginx reports these merge-time errors without a position.
    const auto& c = loc.settings.proxy_ssl;
    if (c.verify && c.trusted_certificate.pem.empty()) {
      throw ConfError("no proxy_ssl_trusted_certificate for proxy_ssl_verify");
    }
    if (!c.certificate.pem.empty() && c.key.pem.empty()) {
      throw ConfError("no \"proxy_ssl_certificate_key\" is defined for certificate \"" +
                      c.certificate.path + "\"");
    }
    try {
      loc.upstream_tls = tls::ClientContext::build(c);
    } catch (const std::runtime_error& e) {
      throw ConfError(e.what());
    }
  }

  ProxyTarget proxy_target(const Directive& d) {
    ProxyTarget t;
    t.url = d.args[0];
    std::string rest;
    if (t.url.rfind("http://", 0) == 0) {
      rest = t.url.substr(7);
    } else if (t.url.rfind("https://", 0) == 0) {
      rest = t.url.substr(8);
      t.https = true;
    } else {
      fail(d, "invalid URL prefix");
    }
    if (rest.find('$') != std::string::npos) {
      fail(d, "variables in \"proxy_pass\" are not supported yet");
    }
    auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    if (slash != std::string::npos) {
      t.has_uri = true;
      t.uri = rest.substr(slash);
    }
    auto& ups = cfg_.http.upstreams;
    // A name that matches an upstream block (without port) is that group.
    for (size_t i = 0; i < ups.size(); ++i) {
      if (!ups[i].implicit && ups[i].name == authority) {
        t.upstream = i;
        t.proxy_host = authority;
        t.proxy_port = t.https ? "443" : "80";
        return t;
      }
    }
    // Otherwise an implicit group for host[:port], resolved now as nginx does.
    std::string host, error;
    int port = 0;
    auto eps = resolve(authority, t.https ? 443 : 80, false, host, port, error);
    if (eps.empty()) fail(d, error + " in upstream \"" + authority + "\"");
    t.proxy_host = authority;
    t.proxy_port = std::to_string(port);
    for (size_t i = 0; i < ups.size(); ++i) {
      // `http://name` and `https://name` are two groups (ports 80 and 443).
      if (ups[i].implicit && ups[i].name == authority &&
          ups[i].servers.front().endpoint.port() == port) {
        t.upstream = i;
        return t;
      }
    }
    UpstreamConfig u;
    u.name = authority;
    u.implicit = true;
    u.where = d.where;
    for (const auto& ep : eps) {
      balancing::ServerConfig s;
      s.name = endpoint_text(ep);
      s.endpoint = ep;
      u.servers.push_back(s);
    }
    ups.push_back(std::move(u));
    t.upstream = ups.size() - 1;
    return t;
  }

  // ---- upstream ----
  void upstream_block(const Directive& ud) {
    for (const auto& u : cfg_.http.upstreams) {
      if (!u.implicit && u.name == ud.args[0]) fail(ud, "duplicate upstream \"" + u.name + "\"");
    }
    auto compile_arg = [this](const Directive& d, const std::string& text) {
      return compile(d, text);
    };
    // Through the conf's file source: the privileged helper reads it with the conf.
    auto read_state = [this](const Directive& d, const std::string& path) {
      FileSource& files = opt_.files ? *opt_.files : disk_files();
      std::string text, error;
      if (files.read(path, text, error)) return text;
      if (error.find("(2: ") != std::string::npos) return std::string();  // not yet written
      fail(d, error);
    };
    cfg_.http.upstreams.push_back(
        build_upstream(ud, compile_arg, read_state, opt_.prefix, cfg_.warnings));
  }

  // ---- map ----
  /// ngx_http_split_clients_module: `split_clients "$key" $var { 0.5% a; 2% b; * c; }`.
  void split_clients_block(const Directive& sd) {
    MapConfig m = map_head(sd);
    uint64_t sum = 0;  // in hundredths of a percent
    for (const auto& e : sd.block) {
      if (e.args.size() > 1) fail(e, "invalid number of arguments in split_clients");
      Template value = compile(e, e.args.empty() ? std::string() : e.args[0]);
      if (e.name == "*") {
        m.split.emplace_back(std::nullopt, std::move(value));
        continue;
      }
      // nginx's ngx_atofp(.., 2): up to two decimals, then '%'.
      const std::string& text = e.name;
      uint64_t hundredths = 0;
      int decimals = -1;
      bool ok = text.size() >= 2 && text.back() == '%';
      for (size_t i = 0; ok && i + 1 < text.size(); ++i) {
        const char c = text[i];
        if (c == '.' && decimals < 0) {
          decimals = 0;
        } else if (c >= '0' && c <= '9' && decimals < 2 && hundredths < 1'000'000) {
          hundredths = hundredths * 10 + static_cast<uint64_t>(c - '0');
          if (decimals >= 0) ++decimals;
        } else {
          ok = false;
        }
      }
      if (!ok || hundredths == 0) fail(e, "invalid percent value \"" + text + "\"");
      for (int d = std::max(decimals, 0); d < 2; ++d) hundredths *= 10;
      sum += hundredths;
      if (sum > 10000) fail(e, "percent total is greater than 100%");
      m.split.emplace_back(static_cast<uint32_t>(sum * 0xffffffffULL / 10000), std::move(value));
    }
    uint32_t index = scope_.maps.at(m.target);
    if (cfg_.http.maps.size() <= index) cfg_.http.maps.resize(index + 1);
    if (!cfg_.http.maps[index].target.empty()) {
      fail(sd, "duplicate variable \"$" + m.target + "\"");
    }
    cfg_.http.maps[index] = std::move(m);
  }

  /// `map|split_clients source $variable { ... }`: what both blocks start with.
  MapConfig map_head(const Directive& d) {
    MapConfig m;
    if (d.args[1].size() < 2 || d.args[1][0] != '$') {
      fail(d, "invalid variable name \"" + d.args[1] + "\"");
    }
    m.target = lower(d.args[1].substr(1));
    m.source = compile(d, d.args[0]);
    m.default_value = Template::literal("");
    return m;
  }

  void map_block(const Directive& md) {
    MapConfig m = map_head(md);
    bool has_default = false;
    for (const auto& e : md.block) {
      // Entries are `key value;` lines; the parser gives the key as the name.
      if (e.name == "hostnames" && e.args.empty()) {
        m.hostnames = true;
        continue;
      }
      if (e.name == "volatile" && e.args.empty()) continue;
      if (e.args.size() != 1) fail(e, "invalid number of the map parameters");
      std::string key = e.name;
      Template value = compile(e, e.args[0]);
      if (key == "default") {
        if (has_default) fail(e, "duplicate default map parameter");
        has_default = true;
        m.default_value = std::move(value);
      } else if (key.size() > 1 && key[0] == '~') {
        bool caseless = key.size() > 2 && key[1] == '*';
        std::string error;
        auto re = Regex::compile(key.substr(caseless ? 2 : 1), caseless, error);
        if (!re) fail(e, error);
        m.regex.emplace_back(re, std::move(value));
      } else if (m.hostnames && key.rfind("*.", 0) == 0) {
        m.leading.emplace_back(lower(key.substr(1)), std::move(value));
      } else if (m.hostnames && key[0] == '.') {
        m.exact.emplace(lower(key.substr(1)), value);
        m.leading.emplace_back(lower(key), std::move(value));
      } else if (m.hostnames && key.size() > 2 && key.compare(key.size() - 2, 2, ".*") == 0) {
        m.trailing.emplace_back(lower(key.substr(0, key.size() - 1)), std::move(value));
      } else {
        if (key.size() > 1 && key[0] == '\\') key = key.substr(1);  // "\default" escapes
        if (!m.exact.emplace(lower(key), std::move(value)).second) {
          fail(e, "conflicting parameter \"" + key + "\"");
        }
      }
    }
    // Longest wildcard first, as nginx's wildcard hash prefers the most specific match.
    auto by_length = [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); };
    std::stable_sort(m.leading.begin(), m.leading.end(), by_length);
    std::stable_sort(m.trailing.begin(), m.trailing.end(), by_length);
    uint32_t index = scope_.maps.at(m.target);
    if (cfg_.http.maps.size() <= index) cfg_.http.maps.resize(index + 1);
    if (!cfg_.http.maps[index].target.empty()) fail(md, "duplicate map \"$" + m.target + "\"");
    cfg_.http.maps[index] = std::move(m);
  }

  const LoadOptions& opt_;
  Config& cfg_;
  VariableScope scope_;
  std::string unknown_variable_;  ///< the first `unknown "x" variable`, reported late
};

}  // namespace

std::shared_ptr<const Config> build_config(std::vector<Directive> tree,
                                           const LoadOptions& options) {
  auto cfg = std::make_shared<Config>();
  Builder builder(options, *cfg);
  builder.build(tree);
  cfg->used_variables = builder.used_variables();
  cfg->tree = std::move(tree);
  return cfg;
}

std::shared_ptr<const Config> load_config(const LoadOptions& options) {
  ParseOptions po;
  po.check_directives = true;
  po.files = options.files;
  auto slash = options.conf_file.rfind('/');
  po.conf_prefix =
      slash == std::string::npos ? options.prefix : options.conf_file.substr(0, slash + 1);
  std::vector<Directive> tree;
  // nginx reads -g before the file, so a file directive repeating one is the duplicate.
  if (!options.directives.empty()) {
    tree = parse_text(options.directives, std::string(kCommandLine), po);
  }
  ParseResult file = parse_file_with_files(options.conf_file, po);
  tree.insert(tree.end(), std::make_move_iterator(file.tree.begin()),
              std::make_move_iterator(file.tree.end()));
  auto cfg = std::make_shared<Config>();
  Builder builder(options, *cfg);
  builder.build(tree);
  // nginx (ngx_event_init_conf): a conf without `events` is refused, so an
  // empty or truncated file written by an editor never replaces a working one.
  if (std::none_of(tree.begin(), tree.end(),
                   [](const Directive& d) { return d.name == "events"; })) {
    throw ConfError("no \"events\" section in configuration");
  }
  cfg->used_variables = builder.used_variables();
  cfg->tree = std::move(tree);
  cfg->files = std::move(file.files);
  return cfg;
}

}  // namespace tg::conf
