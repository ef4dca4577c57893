// The typed configuration model built from the syntax tree. Immutable once
// built: the proxy's Runtime holds one and every connection pins it.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "balancing/upstream.h"
#include "common/error_log.h"
#include "conf/ast.h"
#include "conf/regex.h"
#include "conf/template.h"
#include "scaling/spec.h"
#include "tls/client_context.h"
#include "tls/server_context.h"
#include "tls/settings.h"

namespace tg::conf {

class FileSource;

using Millis = std::chrono::milliseconds;

/// Paths and switches given on the command line that shape loading.
struct LoadOptions {
  std::string prefix;      ///< -p, ends with '/'
  std::string conf_file;   ///< -c, absolute
  std::string directives;  ///< -g
  /// Where conf files are read from (nullptr: the disk).
  FileSource* files = nullptr;
};

/// `listen address[:port] [default_server] [ssl] [reuseport] [backlog=N]`.
struct ListenConfig {
  boost::asio::ip::tcp::endpoint endpoint;
  std::string text;  ///< as written, for messages
  bool default_server = false;
  /// TLS on this address: one `listen ... ssl` makes the whole address TLS (nginx).
  bool ssl = false;
  bool own_ssl = false;  ///< `ssl` written on this line
  /// `proxy_protocol`: a PROXY protocol header precedes each connection's bytes.
  bool proxy_protocol = false;
  int backlog = 511;
  /// A socket option was written (backlog=, rcvbuf=, reuseport, ...): nginx allows
  /// them on one `listen` per address only.
  bool options_set = false;
  SourceLocation where;
};

/// One `proxy_set_header` / `add_header` entry.
struct HeaderTemplate {
  std::string name;
  std::string lower;  ///< lower-cased name
  Template value;
  bool always = false;  ///< add_header ... always
};

/// `access_log path [format]` (or `off`).
struct AccessLogConfig {
  std::string path;   ///< absolute; empty = off
  size_t format = 0;  ///< index into HttpConfig::log_formats
  size_t buffer = 64 * 1024;
};

/// `log_format name [escape=default|json|none] string ...`.
struct LogFormat {
  std::string name;
  Template format;
  enum class Escape { kDefault, kJson, kNone } escape = Escape::kDefault;
};

/// `proxy_next_upstream` conditions (nginx's NGX_HTTP_UPSTREAM_FT_* bits).
enum NextUpstream : unsigned {
  kNuError = 1,
  kNuTimeout = 2,
  kNuInvalidHeader = 4,
  kNuHttp500 = 8,
  kNuHttp502 = 16,
  kNuHttp503 = 32,
  kNuHttp504 = 64,
  kNuHttp403 = 128,
  kNuHttp404 = 256,
  kNuHttp429 = 512,
  kNuNonIdempotent = 1024,
  kNuOff = 2048,
};

/// Where `proxy_pass` sends a request.
struct ProxyTarget {
  std::string url;         ///< as written
  size_t upstream = 0;     ///< index into HttpConfig::upstreams
  std::string proxy_host;  ///< $proxy_host: group name or host[:port]
  std::string proxy_port;  ///< $proxy_port
  bool https = false;      ///< proxy_pass https://...: TLS to the upstream
  bool has_uri = false;    ///< proxy_pass http://x/uri -> replace the matched location prefix
  std::string uri;
};

/// `set $var value` or `return` in server/location rewrite phase, in order.
struct RewriteOp {
  enum class Kind { kSet, kReturn } kind = Kind::kSet;
  uint32_t slot = 0;  ///< set: user variable slot
  Template value;     ///< set: value; return: text or URL
  int code = 0;       ///< return code
  bool has_value = false;
};

/// One `allow` / `deny` line (ngx_http_access_module): the first rule that matches the
/// client's address decides.
struct AccessRule {
  bool allow = true;
  bool all = false;                  ///< `all`
  boost::asio::ip::address network;  ///< network address (host bits cleared)
  unsigned prefix = 0;               ///< prefix length in bits
};

/// What the control thread answers in a location (tidegate's admin surface).
struct ControlHandler {
  enum class Kind { kApi, kPrometheus, kDashboard, kStubStatus };
  Kind kind = Kind::kApi;
  bool write = false;  ///< `api write=on`
};

/// ngx_http_limit_req_module's `limit_req_zone key zone=name:size rate=Nr/s|Nr/m`.
struct LimitReqZone {
  std::string name;
  Template key;             ///< an empty value is not limited
  int64_t rate = 1000;      ///< thousandths of a request per second, as nginx
  size_t max_entries = 64;  ///< keys kept (least recently used go first)
};

/// ngx_http_limit_conn_module's `limit_conn_zone key zone=name:size`.
struct LimitConnZone {
  std::string name;
  Template key;  ///< an empty value is not limited
  size_t max_entries = 64;
};

/// `limit_conn zone number`: requests in progress per key.
struct LimitConn {
  size_t zone = 0;  ///< index into HttpConfig::limit_conn_zones
  int limit = 1;
};

/// `limit_req zone=name [burst=N] [nodelay | delay=N]`.
struct LimitReq {
  static constexpr int kNoDelay = -1;
  size_t zone = 0;  ///< index into HttpConfig::limit_req_zones
  int burst = 0;
  int delay = 0;  ///< requests beyond the rate let through at once; kNoDelay: all
};

/// How a location serves files: ngx_http_core_module's root/alias and the static,
/// index, try_files, autoindex and headers (expires) modules.
struct StaticFiles {
  /// `root` (the URI is appended) or, with `alias`, the path that replaces the
  /// location's prefix (a regex location's alias is the whole path). Absolute.
  Template root;
  bool alias = false;
  std::vector<Template> index;      ///< `index` names (nginx: index.html)
  std::vector<Template> try_files;  ///< empty: none; the last is the fallback
  /// `expires`: off, epoch, max, or a time (seconds, negative for the past).
  enum class Expires { kOff, kEpoch, kMax, kTime } expires = Expires::kOff;
  int64_t expires_seconds = 0;
  bool etag = true;
  enum class IfModifiedSince { kOff, kExact, kBefore } if_modified_since = IfModifiedSince::kExact;
  bool disable_symlinks = false;
  bool autoindex = false;
  bool autoindex_json = false;  ///< autoindex_format json (html otherwise)
  bool autoindex_exact_size = true;
  bool autoindex_localtime = false;
  int max_ranges = -1;  ///< -1: no limit; 0: ranges off
  bool log_not_found = true;
  /// gzip_static: serve "file.gz" for "file" to clients that accept gzip (`on`), or
  /// to every client (`always`); gzip_vary adds "Vary: Accept-Encoding" then.
  enum class GzipStatic { kOff, kOn, kAlways } gzip_static = GzipStatic::kOff;
  bool gzip_vary = false;
};

/// Per-location settings after nginx's http -> server -> location merge.
struct LocationSettings {
  Millis keepalive_timeout{75'000};
  /// keepalive_timeout's second argument: `Keep-Alive: timeout=N` (0: none).
  Millis keepalive_header{0};
  int keepalive_requests = 1000;
  Millis keepalive_time{3'600'000};
  Millis client_body_timeout{60'000};
  Millis send_timeout{60'000};
  /// nginx's lingering close: after an answer that leaves request bytes unread
  /// (`on`), or after every answer (`always`), read and discard what the client
  /// still sends, each wait at most lingering_timeout, all at most lingering_time.
  enum class Lingering { kOff, kOn, kAlways } lingering_close = Lingering::kOn;
  Millis lingering_time{30'000};
  Millis lingering_timeout{5'000};
  int64_t client_max_body_size = 1 << 20;
  std::string proxy_http_version = "1.0";
  Template proxy_method;                         ///< empty: the client's method
  bool proxy_pass_request_headers = true;        ///< off: only proxy_set_header's lines go
  std::vector<HeaderTemplate> proxy_set_header;  ///< merged with nginx's defaults
  std::vector<std::string> proxy_hide_header;    ///< lower-case names, defaults included
  std::vector<std::string> proxy_pass_header;    ///< (flat lists: scanned per response header)
  Millis proxy_connect_timeout{60'000};
  Millis proxy_read_timeout{60'000};
  Millis proxy_send_timeout{60'000};
  bool proxy_request_buffering = true;
  unsigned proxy_next_upstream = kNuError | kNuTimeout;
  int proxy_next_upstream_tries = 0;
  Millis proxy_next_upstream_timeout{0};
  bool proxy_intercept_errors = false;
  /// proxy_redirect: `default` (the proxy_pass URL becomes the location's prefix),
  /// `off`, or rules (first match of `from` as a prefix of Location/Refresh wins;
  /// `default` may be one of them).
  struct RedirectRule {
    std::string from;  ///< empty: the default rule
    Template to;
  };
  bool proxy_redirect_off = false;
  std::vector<RedirectRule> proxy_redirect{RedirectRule{}};
  std::vector<HeaderTemplate> add_header;
  std::map<int, Template> error_page;  ///< status -> uri (or URL), with variables
  std::map<int, int>
      error_page_code;  ///< status -> `=NNN`; 0 = keep the status; -1 = `=` (target's)
  std::vector<AccessLogConfig> access_log;  ///< empty = off
  std::string default_type = "text/plain";
  StaticFiles files;
  bool absolute_redirect = true;
  bool port_in_redirect = true;
  bool server_name_in_redirect = false;
  /// server_tokens: "Server: tidegate/<version>" (on), "tidegate" (off).
  bool server_tokens = true;
  bool reset_timedout_connection = false;
  /// chunked_transfer_encoding (nginx, on): off sends a response of unknown length to
  /// an HTTP/1.1 client close-delimited instead of chunked.
  bool chunked_transfer_encoding = true;
  /// proxy_buffer_size: the largest upstream response head (nginx: one page).
  size_t proxy_buffer_size = 4096;
  /// `charset` added to Content-Type of charset_types responses ("" = off).
  std::string charset;
  /// allow / deny rules in order (a level with any replaces its parent's).
  std::vector<AccessRule> access;
  /// ngx_http_realip_module: the proxies whose `real_ip_header` is believed (a level
  /// with any replaces its parent's), the header, and `real_ip_recursive`.
  std::vector<AccessRule> real_ip_from;
  std::string real_ip_header = "X-Real-IP";
  bool real_ip_recursive = false;
  /// limit_req lines (a level with any replaces its parent's), and their answer.
  std::vector<LimitReq> limit_req;
  int limit_req_status = 503;
  LogLevel limit_req_log_level = LogLevel::kError;
  bool limit_req_dry_run = false;
  /// limit_conn lines (a level with any replaces its parent's), and their answer.
  std::vector<LimitConn> limit_conn;
  int limit_conn_status = 503;
  LogLevel limit_conn_log_level = LogLevel::kError;
  bool limit_conn_dry_run = false;
  /// proxy_ssl_*: TLS to upstreams of `proxy_pass https://`. The name sent in SNI
  /// (proxy_ssl_server_name) and checked in the certificate is proxy_ssl_name, empty
  /// meaning $proxy_host.
  tls::ClientSettings proxy_ssl;
  bool proxy_ssl_server_name = false;
  Template proxy_ssl_name;
  /// auth_basic realm ("" = off) and auth_basic_user_file.
  std::string auth_basic;
  std::string auth_basic_user_file;
  std::vector<std::string> charset_types = {
      "text/html",          "text/xml", "text/plain", "text/vnd.wap.wml", "application/javascript",
      "application/rss+xml"};
};

struct Location {
  enum class Match { kExact, kPrefixNoRegex, kPrefix, kRegex, kNamed };
  Match match = Match::kPrefix;
  std::string pattern;
  std::shared_ptr<const Regex> regex;
  LocationSettings settings;
  std::vector<RewriteOp> rewrite;  ///< this location's set/return, in order
  std::optional<ProxyTarget> proxy;
  /// The context `proxy_pass https://` connects with (from settings.proxy_ssl).
  std::shared_ptr<const tls::ClientContext> upstream_tls;
  std::optional<ControlHandler> control;  ///< api, prometheus, dashboard
  std::string status_zone;                ///< NGINX Plus's location zone ("" = none)
  bool internal = false;
  std::vector<std::unique_ptr<Location>> children;  ///< nested locations
  SourceLocation where;
};

/// `server_name` entries, split by kind as nginx's lookup order needs.
struct ServerNames {
  std::vector<std::string> exact;     ///< lower-case
  std::vector<std::string> leading;   ///< "*.example.com" / ".example.com" stored as ".example.com"
  std::vector<std::string> trailing;  ///< "www.example.*" stored as "www.example."
  std::vector<std::shared_ptr<const Regex>> regex;
  std::string first;  ///< $server_name
};

struct ServerBlock {
  std::vector<ListenConfig> listen;
  ServerNames names;
  Millis client_header_timeout{60'000};
  size_t client_header_buffer_size = 1024;
  int large_header_buffers = 4;
  size_t large_header_buffer_size = 8192;
  /// Read while the head is parsed, so (as in nginx) the values of the default
  /// server of the address the request came to apply, whatever its Host.
  bool underscores_in_headers = false;
  bool ignore_invalid_headers = true;
  LocationSettings settings;       ///< server-level (for requests that match no location)
  std::vector<RewriteOp> rewrite;  ///< server-level set/return
  std::string status_zone;         ///< NGINX Plus's server zone ("" = none)
  tls::ServerSettings ssl;         ///< ssl_* after the http -> server merge
  /// The TLS context built from `ssl`, when the server listens on a TLS address.
  std::shared_ptr<const tls::ServerContext> tls;
  std::vector<std::unique_ptr<Location>> locations;  ///< in conf order
  SourceLocation where;
};

/// An `upstream` block (or the implicit group of a `proxy_pass http://host:port`).
/// `outlier_detection consecutive_5xx=N interval=T base_ejection_time=T
/// max_ejection_time=T max_ejection_percent=P` (tidegate extension after Envoy's
/// outlier detection): a server answering N 5xx in a row (gateway failures
/// included) is ejected for base x its ejections so far (at most max), never more
/// than P% of the group at once (but always one, and never the last primary still
/// available: nginx's `single` rule); each whole interval a server
/// spends back in the group takes one off its count.
struct OutlierDetection {
  int consecutive_5xx = 5;
  Millis interval{10'000};
  Millis base_ejection_time{30'000};
  Millis max_ejection_time{300'000};
  int max_ejection_percent = 10;
};

struct UpstreamConfig {
  std::string name;
  bool implicit = false;
  /// The method directive (default round robin) and `sticky`, as make_group takes them.
  balancing::BalancerConfig balancer;
  /// `hash key`: the key to evaluate per request into PickInput's hash key
  /// (empty unless balancer.algorithm is kHash).
  Template hash_key;
  /// `sticky route $a $b ...`: evaluated in order, the first non-empty value is the
  /// route the request asks for (empty unless balancer.sticky.mode is kRoute).
  std::vector<Template> sticky_route;
  /// `sticky cookie ... samesite=`: the SameSite value, a keyword in lower case or
  /// variables (empty unless written; balancer.sticky.samesite holds the text).
  Template sticky_samesite;
  /// `drain_timeout T` (tidegate extension): the default of servers without
  /// drain_timeout=, already copied into their ServerConfig. 0 = no limit.
  Millis drain_timeout{0};
  /// One per address (a name with several addresses gives several), in config order.
  std::vector<balancing::ServerConfig> servers;
  /// NGINX Plus's `state file`: where run-time membership is kept ("" = none). Its
  /// `server` lines replace the block's.
  std::string state;
  /// `outlier_detection` (tidegate extension, Envoy's consecutive-5xx ejection).
  std::optional<OutlierDetection> outlier;
  int keepalive = 0;  ///< idle connections cached per worker; 0 = no cache
  Millis keepalive_timeout{60'000};
  int keepalive_requests = 1000;
  Millis keepalive_time{3'600'000};
  std::string zone;
  /// `autoscale { ... }` (tidegate): the group's autoscaler, and the settings its new
  /// servers get (`server_params`: weight, slow_start, max_fails, ...).
  std::optional<scaling::AutoscaleSpec> autoscale;
  balancing::ServerConfig autoscale_server;
  SourceLocation where;
};

/// `map $source $target { ... }`.
struct MapConfig {
  std::string target;
  Template source;
  bool hostnames = false;
  std::map<std::string, Template> exact;                   ///< lower-case keys
  std::vector<std::pair<std::string, Template>> leading;   ///< ".example.com"
  std::vector<std::pair<std::string, Template>> trailing;  ///< "www.example."
  std::vector<std::pair<std::shared_ptr<const Regex>, Template>> regex;
  Template default_value;
  /// `split_clients` (same variable machinery): MurmurHash2 of the source picks the
  /// first part whose bound is above it; bounds are cumulative shares of 2^32, and
  /// `*` (the rest) has none.
  std::vector<std::pair<std::optional<uint32_t>, Template>> split;
};

/// One line of a `match` block (NGINX Plus's ngx_http_upstream_hc_module): a test a
/// health check response must pass.
struct MatchTest {
  enum class Kind { kStatus, kHeader, kBody } kind = Kind::kStatus;
  bool negate = false;  ///< `status !`, `header !=`/`!~`/`! Name`, `body !~`
  /// status: codes and ranges, inclusive ("200-399" is {200, 399}).
  std::vector<std::pair<int, int>> statuses;
  /// header: `Name` (present), `Name = value`, `Name ~ regex`; negated forms.
  enum class Op { kPresent, kEquals, kRegex } op = Op::kPresent;
  std::string header;  ///< lower case
  std::string value;
  std::shared_ptr<const Regex> regex;  ///< header ~ / body ~
};

/// `match name { ... }`: every test must pass. No tests: status 2xx or 3xx.
struct MatchBlock {
  std::string name;
  std::vector<MatchTest> tests;
};

/// `health_check [params]` in a location that proxies to a group with a zone: the
/// group's servers are checked with that location's proxy settings.
struct HealthCheck {
  size_t upstream = 0;  ///< index into HttpConfig::upstreams
  Millis interval{5'000};
  Millis jitter{0};
  int fails = 1;
  int passes = 1;
  std::string uri = "/";
  int port = 0;             ///< 0: the server's own port
  int match = -1;           ///< index into HttpConfig::matches; -1: status 2xx/3xx
  bool mandatory = false;   ///< new servers are `checking` until their first pass
  bool persistent = false;  ///< (with mandatory) healthy servers stay so across reloads
  /// `type=tcp`: connect only; `type=websocket`: an Upgrade handshake on `uri`, then
  /// a clean close (both tidegate extensions).
  enum class Type { kHttp, kTcp, kWebSocket } type = Type::kHttp;
  /// The check request's head lines after the request line (Host and the
  /// location's proxy_set_header, variables other than $proxy_host empty).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string http_version = "1.0";
  /// keepalive_time=: a connection serves the checks of this long (0: one per check).
  Millis keepalive_time{0};
  Millis connect_timeout{60'000};  ///< proxy_connect_timeout, or timeout=
  Millis read_timeout{60'000};     ///< proxy_read_timeout, or timeout=
  SourceLocation where;
};

struct HttpConfig {
  std::vector<ServerBlock> servers;
  std::vector<UpstreamConfig> upstreams;
  std::vector<MapConfig> maps;
  std::vector<LogFormat> log_formats;        ///< [0] = "combined"
  std::vector<std::string> user_variables;   ///< `set` slots
  std::map<std::string, std::string> types;  ///< extension -> MIME type
  std::vector<MatchBlock> matches;
  std::vector<LimitReqZone> limit_req_zones;
  std::vector<LimitConnZone> limit_conn_zones;
  std::vector<HealthCheck> health_checks;  ///< in the order of their locations
};

struct MainConfig {
  int worker_processes = 1;
  int worker_connections = 512;
  int worker_rlimit_nofile = 0;
  Millis worker_shutdown_timeout{0};  ///< 0 = wait as long as it takes
  std::string pid_path;               ///< absolute
  bool daemon = true;
  std::string user;
  std::string error_log_path;  ///< absolute or "stderr"
  LogLevel error_log_level = LogLevel::kError;
  bool error_log_set = false;
};

struct Config {
  MainConfig main;
  HttpConfig http;
  bool has_http = false;
  std::vector<Directive> tree;     ///< kept for -T
  std::vector<std::string> files;  ///< every file read, for -T
  /// nginx's [warn] messages from loading, in order, as "text in file:line" (the ConfError
  /// form), e.g. "load balancing method redefined in /etc/tidegate/tidegate.conf:12".
  std::vector<std::string> warnings;
  uint64_t used_variables = 0;  ///< bit per conf::Var referenced anywhere

  bool uses(Var var) const { return (used_variables >> static_cast<unsigned>(var)) & 1; }
};

/// Reads, validates and builds the configuration. Throws ConfError.
std::shared_ptr<const Config> load_config(const LoadOptions& options);
/// Builds from an already-parsed tree (tests).
std::shared_ptr<const Config> build_config(std::vector<Directive> tree, const LoadOptions& options);

/// Parses nginx time ("30s", "1m", "500ms", "1h 30m", bare number = seconds).
bool parse_time(std::string_view text, Millis& out);
/// Parses nginx size ("1k", "8m", "1g", bare bytes).
bool parse_size(std::string_view text, int64_t& out);

}  // namespace tg::conf
