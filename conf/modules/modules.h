// nginx modules whose directives live in files of their own (DESIGN.md: one file
// per module). Each handler takes one directive of its module and returns true, or
// returns false for a directive that is not its own.
#pragma once

#include <functional>

#include "conf/ast.h"
#include "conf/config.h"
#include "tls/settings.h"

namespace tg::conf::modules {

/// ngx_http_access_module: `allow` / `deny` address | CIDR | all. `replaced` tells
/// whether this level already replaced its parent's rules (arrays inherit only when a
/// level defines none). nginx's load-time warnings go to `warnings`.
bool access(const Directive& d, LocationSettings& s, bool& replaced,
            std::vector<std::string>& warnings);

/// ngx_http_realip_module: `set_real_ip_from address|CIDR` (repeatable; `replaced` as
/// for access), `real_ip_header name` (not `proxy_protocol` yet), `real_ip_recursive`.
bool realip(const Directive& d, LocationSettings& s, bool& replaced,
            std::vector<std::string>& warnings);

/// ngx_http_limit_req_module's zone (http), read before the rest of http.
bool limit_req_zone(const Directive& d, std::vector<LimitReqZone>& zones,
                    const std::function<Template(const Directive&, const std::string&)>& compile);
/// limit_req (`replaced` as for access), limit_req_status, limit_req_log_level,
/// limit_req_dry_run.
bool limit_req(const Directive& d, LocationSettings& s, bool& replaced,
               const std::vector<LimitReqZone>& zones);

/// ngx_http_limit_conn_module's zone (http), read before the rest of http.
bool limit_conn_zone(const Directive& d, std::vector<LimitConnZone>& zones,
                     const std::function<Template(const Directive&, const std::string&)>& compile);
/// limit_conn (`replaced` as for access), limit_conn_status, limit_conn_log_level,
/// limit_conn_dry_run.
bool limit_conn(const Directive& d, LocationSettings& s, bool& replaced,
                const std::vector<LimitConnZone>& zones);

/// ngx_http_auth_basic_module: `auth_basic "realm" | off`, `auth_basic_user_file path`
/// (relative to the conf prefix).
bool auth_basic(const Directive& d, LocationSettings& s, const std::string& conf_prefix);

/// NGINX Plus's ngx_http_api_module `api [write=on|off]`, and tidegate's `prometheus`
/// and `dashboard` handlers (locations only).
bool control_handler(const Directive& d, Location& loc);

/// NGINX Plus's `match name { status ...; header ...; body ...; }` (http).
bool match_block(const Directive& d, std::vector<MatchBlock>& matches);

/// NGINX Plus's `health_check [params]` (location): appends the check with its own
/// parameters; the location's proxy settings are filled in by the caller. A
/// connect_timeout of -1 means "no timeout= given".
bool health_check(const Directive& d, const std::vector<MatchBlock>& matches,
                  std::vector<HealthCheck>& checks);

/// tidegate's `autoscale { ... }` (upstream): the whole block into `spec` (a second block
/// is an error); `server_params` lines go to `server_params`, the upstream's own
/// `server` parameter parser.
bool autoscale(const Directive& block, std::optional<scaling::AutoscaleSpec>& spec,
               const std::function<void(const Directive&)>& server_params);

/// Which repeatable ssl_* directives a level has written (and so replaced its
/// parent's lists).
struct SslFlags {
  bool certificates = false;
  bool keys = false;
  bool ticket_keys = false;
  bool conf_commands = false;
};

/// ngx_http_ssl_module (http and server): ssl_certificate (and _key, several pairs,
/// `data:` or files read through `files`, relative to `conf_prefix`), ssl_protocols,
/// ssl_ciphers, ssl_session_cache, ssl_verify_client, ... into `s`.
bool ssl(const Directive& d, tls::ServerSettings& s, SslFlags& replaced, FileSource& files,
         const std::string& conf_prefix);

/// Which repeatable proxy_ssl_* directives a level has written.
struct ProxySslFlags {
  bool conf_commands = false;
};

/// ngx_http_proxy_module's proxy_ssl_* (http, server, location): protocols, ciphers,
/// verify, verify_depth, trusted_certificate, certificate/_key, session_reuse,
/// server_name, name (variables: `compile`), conf_command.
bool proxy_ssl(const Directive& d, LocationSettings& s, ProxySslFlags& replaced, FileSource& files,
               const std::string& conf_prefix,
               const std::function<Template(const Directive&, const std::string&)>& compile);

/// Static files: root, alias, index, try_files, expires, etag, if_modified_since,
/// disable_symlinks, autoindex(_format, _exact_size, _localtime), max_ranges,
/// log_not_found. Relative paths are under `prefix`; `index_replaced` as for access.
bool static_files(const Directive& d, StaticFiles& s, bool& index_replaced,
                  const std::string& prefix,
                  const std::function<Template(const Directive&, const std::string&)>& compile);

/// NGINX Plus's `status_zone name` (server and location).
bool status_zone(const Directive& d, std::string& zone);

}  // namespace tg::conf::modules
