// The directive table and nginx's ngx_conf_handler checks over a parsed tree.
// Contexts follow nginx's own table; `noop` rows exist so that nginx
// configurations load unchanged even where tidegate has nothing to do.
#include "conf/directive_table.h"

#include <array>
#include <string>

namespace tg::conf {
namespace {

constexpr unsigned kHsl = kHttp | kServer | kLocation;
constexpr unsigned kHs = kHttp | kServer;
constexpr unsigned kAnyContext = kMain | kEvents | kHttp | kServer | kLocation | kUpstream | kIf;
constexpr unsigned kTake12 = kTake1 | kTake2;
constexpr unsigned kTake23 = kTake2 | kTake3;

constexpr std::string_view kOneProcess = "single process, threads";
constexpr std::string_view kIgnored = "accepted, ignored";
constexpr std::string_view kFileIo = "files are read with sendfile(2) from the worker";
constexpr std::string_view kNoBodyBuffering = "bodies are streamed";
constexpr std::string_view kNoGzip = "no compression";
constexpr std::string_view kHashSizing = "tables are sized automatically";
constexpr std::string_view kNoTempFiles = "no temp files";
constexpr std::string_view kExtension = "tidegate extension";
constexpr std::string_view kInAutoscale = "tidegate extension, in `autoscale`";

constexpr DirectiveSpec Spec(std::string_view name, unsigned contexts, unsigned arity,
                             std::string_view note = {}) {
  return {name, contexts, arity, false, note};
}
constexpr DirectiveSpec Noop(std::string_view name, unsigned contexts, unsigned arity,
                             std::string_view note) {
  return {name, contexts, arity, true, note};
}

constexpr auto kSpecs = std::to_array<DirectiveSpec>({
    // main
    Spec("user", kMain, kTake12),
    Spec("worker_processes", kMain, kTake1),
    Spec("worker_rlimit_nofile", kMain, kTake1),
    Spec("worker_shutdown_timeout", kMain, kTake1),
    Spec("pid", kMain, kTake1),
    Spec("daemon", kMain, kFlag),
    Noop("master_process", kMain, kFlag, kOneProcess),
    Spec("error_log", kMain | kHsl, k1More,
         "in http/server/location: accepted, messages go to the main error log"),
    Spec("events", kMain, kBlock | kNoArgs),
    Spec("http", kMain, kBlock | kNoArgs),
    Spec("include", kAnyContext, kTake1),
    Noop("load_module", kMain, kTake1, "no dynamic modules"),
    Noop("pcre_jit", kMain, kFlag, kIgnored),
    Noop("env", kMain, kTake1, "single process keeps its environment"),
    Noop("timer_resolution", kMain, kTake1, "Asio timers"),
    Noop("lock_file", kMain, kTake1, "no accept mutex"),
    Noop("working_directory", kMain, kTake1, kIgnored),
    Noop("worker_cpu_affinity", kMain, k1More, "threads are not pinned"),
    Noop("worker_priority", kMain, kTake1, kIgnored),
    Noop("thread_pool", kMain, k2More, "no thread pools"),

    // events
    Spec("worker_connections", kEvents, kTake1),
    Noop("use", kEvents, kTake1, "Asio picks epoll"),
    Noop("multi_accept", kEvents, kFlag, kIgnored),
    Noop("accept_mutex", kEvents, kFlag, "SO_REUSEPORT per thread"),
    Noop("accept_mutex_delay", kEvents, kTake1, "SO_REUSEPORT per thread"),

    // http
    Spec("server", kHttp, kBlock | kNoArgs),
    Spec("upstream", kHttp, kBlock | kTake1),
    Spec("map", kHttp, kBlock | kTake2),
    Spec("split_clients", kHttp, kBlock | kTake2),
    Spec("log_format", kHttp, k2More),
    Spec("types", kHsl, kBlock | kNoArgs),
    Spec("default_type", kHsl, kTake1),
    Noop("sendfile", kHsl, kFlag, "files always go out with sendfile(2) (plain connections)"),
    Noop("sendfile_max_chunk", kHsl, kTake1, kFileIo),
    Noop("aio", kHsl, kTake12, kFileIo),
    Noop("output_buffers", kHsl, kTake2, "responses stream through fixed per-connection buffers"),
    Noop("tcp_nopush", kHsl, kFlag, kIgnored),
    Noop("tcp_nodelay", kHsl, kFlag, "always on"),
    Spec("server_tokens", kHsl, kTake1),
    Noop("gzip", kHsl, kFlag, kNoGzip),
    Noop("gzip_types", kHsl, k1More, kNoGzip),
    Noop("gzip_comp_level", kHsl, kTake1, kNoGzip),
    Noop("gzip_min_length", kHsl, kTake1, kNoGzip),
    Noop("gzip_proxied", kHsl, k1More, kNoGzip),
    Spec("gzip_vary", kHsl, kFlag, "for gzip_static's files (gzip compresses nothing yet)"),
    Spec("gzip_static", kHsl, kTake1),
    Noop("gzip_http_version", kHsl, kTake1, kNoGzip),
    Noop("gzip_disable", kHsl, k1More, kNoGzip),
    Noop("gzip_buffers", kHsl, kTake2, kNoGzip),
    Noop("server_names_hash_bucket_size", kHttp, kTake1, kHashSizing),
    Noop("server_names_hash_max_size", kHttp, kTake1, kHashSizing),
    Noop("variables_hash_bucket_size", kHttp, kTake1, kHashSizing),
    Noop("variables_hash_max_size", kHttp, kTake1, kHashSizing),
    Noop("map_hash_bucket_size", kHttp, kTake1, kHashSizing),
    Noop("map_hash_max_size", kHttp, kTake1, kHashSizing),
    Noop("types_hash_max_size", kHsl, kTake1, kHashSizing),
    Noop("types_hash_bucket_size", kHsl, kTake1, kHashSizing),
    Noop("proxy_headers_hash_max_size", kHsl, kTake1, kHashSizing),
    Noop("proxy_headers_hash_bucket_size", kHsl, kTake1, kHashSizing),
    Noop("client_body_temp_path", kHsl, k1More, kNoTempFiles),
    Noop("proxy_temp_path", kHsl, k1More, kNoTempFiles),
    Noop("fastcgi_temp_path", kHsl, k1More, kNoTempFiles),
    Noop("uwsgi_temp_path", kHsl, k1More, kNoTempFiles),
    Noop("scgi_temp_path", kHsl, k1More, kNoTempFiles),
    Spec("charset", kHsl, kTake1, "adds `; charset=` to Content-Type; no conversion"),
    Spec("charset_types", kHsl, k1More),
    Spec("access_log", kHsl, k1More),
    Noop("open_file_cache", kHsl, k1More, kFileIo),
    Spec("reset_timedout_connection", kHsl, kFlag),
    Spec("chunked_transfer_encoding", kHsl, kFlag),
    Spec("underscores_in_headers", kHs, kFlag),
    Spec("ignore_invalid_headers", kHs, kFlag),

    // http, server and location
    Spec("keepalive_timeout", kHsl, kTake12),
    Spec("keepalive_requests", kHsl, kTake1),
    Spec("keepalive_time", kHsl, kTake1),
    Spec("client_header_timeout", kHs, kTake1),
    Spec("client_body_timeout", kHsl, kTake1),
    Spec("send_timeout", kHsl, kTake1),
    Spec("lingering_close", kHsl, kTake1),
    Spec("lingering_time", kHsl, kTake1),
    Spec("lingering_timeout", kHsl, kTake1),
    Spec("client_max_body_size", kHsl, kTake1),
    Spec("client_header_buffer_size", kHs, kTake1),
    Spec("large_client_header_buffers", kHs, kTake2),
    Noop("client_body_buffer_size", kHsl, kTake1, kNoBodyBuffering),
    Spec("proxy_http_version", kHsl, kTake1),
    Spec("proxy_method", kHsl, kTake1),
    Spec("proxy_pass_request_headers", kHsl, kFlag),
    Spec("proxy_set_header", kHsl, kTake2),
    Spec("proxy_hide_header", kHsl, kTake1),
    Spec("proxy_pass_header", kHsl, kTake1),
    Spec("proxy_connect_timeout", kHsl, kTake1),
    Spec("proxy_read_timeout", kHsl, kTake1),
    Spec("proxy_send_timeout", kHsl, kTake1),
    Noop("proxy_buffering", kHsl, kFlag,
         "responses always stream as they arrive, as with `proxy_buffering off`"),
    Spec("proxy_request_buffering", kHsl, kFlag),
    Spec("proxy_buffer_size", kHsl, kTake1, "the largest upstream response head, as nginx"),
    Noop("proxy_buffers", kHsl, kTake2, kNoBodyBuffering),
    Noop("proxy_busy_buffers_size", kHsl, kTake1, kNoBodyBuffering),
    Noop("proxy_max_temp_file_size", kHsl, kTake1, kNoTempFiles),
    Spec("proxy_next_upstream", kHsl, k1More),
    Spec("proxy_next_upstream_tries", kHsl, kTake1),
    Spec("proxy_next_upstream_timeout", kHsl, kTake1),
    Spec("proxy_intercept_errors", kHsl, kFlag),
    Spec("proxy_redirect", kHsl, kTake12, "not yet: regular expressions"),
    Spec("add_header", kHsl, kTake23),
    Spec("error_page", kHsl, k2More),
    Spec("root", kHsl | kIf, kTake1),
    Spec("alias", kLocation, kTake1),
    Spec("index", kHsl, k1More),
    Spec("try_files", kServer | kLocation, k2More),
    Spec("expires", kHsl | kIf, kTake12, "not yet: `@time`"),
    Spec("etag", kHsl, kFlag),
    Spec("if_modified_since", kHsl, kTake1),
    Spec("disable_symlinks", kHsl, kTake12, "`if_not_owner` is taken as `on`; not: `from=`"),
    Spec("autoindex", kHsl, kFlag),
    Spec("autoindex_format", kHsl, kTake1, "html and json; not yet: xml, jsonp"),
    Spec("autoindex_exact_size", kHsl, kFlag),
    Spec("autoindex_localtime", kHsl, kFlag),
    Spec("max_ranges", kHsl, kTake1),
    Spec("log_not_found", kHsl, kFlag),
    Spec("server_name_in_redirect", kHsl, kFlag),
    Spec("port_in_redirect", kHsl, kFlag),
    Spec("absolute_redirect", kHsl, kFlag),
    Noop("resolver", kHsl, k1More, "system resolver"),
    Noop("resolver_timeout", kHsl, kTake1, "system resolver"),
    Spec("set", kServer | kLocation | kIf, kTake2),
    Spec("return", kServer | kLocation | kIf, kTake12),

    // server
    Spec("listen", kServer, k1More, "`ssl`, `proxy_protocol` (v1, v2); `http2` warns; not: `quic`"),
    Spec("server_name", kServer, k1More),
    Spec("location", kServer | kLocation, kBlock | kTake12),

    // location
    Spec("proxy_pass", kLocation | kIf, kTake1),
    Spec("internal", kLocation, kNoArgs),
    Spec("api", kLocation, kNoArgs | kTake1, "NGINX Plus REST API v9"),
    Spec("health_check", kLocation, kAnyArgs,
         "NGINX Plus's; `type=tcp`, `type=websocket` and `timeout=` are tidegate extensions; "
         "not yet: `type=grpc`"),
    Spec("match", kHttp, kBlock | kTake1, "`status`, `header`, `body`; not yet: `require`"),
    Spec("status_zone", kServer | kLocation, kTake1, "NGINX Plus"),
    Spec("prometheus", kLocation, kNoArgs, kExtension),
    Spec("stub_status", kLocation, kNoArgs | kTake1),
    Spec("dashboard", kLocation, kNoArgs, kExtension),

    Spec("http2", kHs, kFlag, "accepted: HTTP/2 not yet, clients use HTTP/1.1 (a warning says so)"),

    // ssl (ngx_http_ssl_module)
    Spec("ssl_certificate", kHs, kTake1, "files and `data:`; several pairs (RSA + ECDSA)"),
    Spec("ssl_certificate_key", kHs, kTake1, "not yet: encrypted keys (`ssl_password_file`)"),
    Spec("ssl_protocols", kHs, k1More),
    Spec("ssl_ciphers", kHs, kTake1),
    Spec("ssl_prefer_server_ciphers", kHs, kFlag),
    Spec("ssl_ecdh_curve", kHs, kTake1),
    Spec("ssl_dhparam", kHs, kTake1),
    Spec("ssl_session_cache", kHs, kTake12, "one cache shared by all worker threads"),
    Spec("ssl_session_timeout", kHs, kTake1),
    Spec("ssl_session_tickets", kHs, kFlag),
    Spec("ssl_session_ticket_key", kHs, kTake1),
    Spec("ssl_verify_client", kHs, kTake1),
    Spec("ssl_verify_depth", kHs, kTake1),
    Spec("ssl_client_certificate", kHs, kTake1),
    Spec("ssl_trusted_certificate", kHs, kTake1),
    Spec("ssl_reject_handshake", kHs, kFlag),
    Spec("ssl_conf_command", kHs, kTake2),
    Noop("ssl_buffer_size", kHs, kTake1, "records are sized by each write"),
    Noop("ssl_early_data", kHs, kFlag, "0-RTT stays off (replayable requests)"),
    Noop("ssl_stapling", kHs, kFlag, "no OCSP stapling"),
    Noop("ssl_stapling_verify", kHs, kFlag, "no OCSP stapling"),
    Noop("ssl_stapling_file", kHs, kTake1, "no OCSP stapling"),
    Noop("ssl_stapling_responder", kHs, kTake1, "no OCSP stapling"),

    // proxy_ssl (TLS to upstreams)
    Spec("proxy_ssl_protocols", kHsl, k1More),
    Spec("proxy_ssl_ciphers", kHsl, kTake1),
    Spec("proxy_ssl_verify", kHsl, kFlag),
    Spec("proxy_ssl_verify_depth", kHsl, kTake1),
    Spec("proxy_ssl_trusted_certificate", kHsl, kTake1),
    Spec("proxy_ssl_certificate", kHsl, kTake1),
    Spec("proxy_ssl_certificate_key", kHsl, kTake1),
    Spec("proxy_ssl_session_reuse", kHsl, kFlag),
    Spec("proxy_ssl_server_name", kHsl, kFlag),
    Spec("proxy_ssl_name", kHsl, kTake1),
    Spec("proxy_ssl_conf_command", kHsl, kTake2),

    // access, auth_basic
    Spec("allow", kHsl, kTake1),
    Spec("deny", kHsl, kTake1),
    Spec("auth_basic", kHsl, kTake1),
    Spec("auth_basic_user_file", kHsl, kTake1),
    Spec("set_real_ip_from", kHsl, kTake1, "not yet: `unix:`"),
    Spec("limit_req_zone", kHttp, kTake3 | k1More, "not: `sync` (no cluster)"),
    Spec("limit_req", kHsl, k1More),
    Spec("limit_req_status", kHsl, kTake1),
    Spec("limit_req_log_level", kHsl, kTake1),
    Spec("limit_req_dry_run", kHsl, kFlag),
    Spec("limit_conn_zone", kHttp, kTake2),
    Spec("limit_conn", kHsl, kTake2),
    Spec("limit_conn_status", kHsl, kTake1),
    Spec("limit_conn_log_level", kHsl, kTake1),
    Spec("limit_conn_dry_run", kHsl, kFlag),
    Spec("real_ip_header", kHsl, kTake1),
    Spec("real_ip_recursive", kHsl, kFlag),

    // upstream
    Spec("server", kUpstream, k1More),
    Spec("least_conn", kUpstream, kNoArgs),
    Spec("ip_hash", kUpstream, kNoArgs),
    Spec("hash", kUpstream, kTake12),
    Spec("random", kUpstream, kNoArgs | kTake12),
    Spec("least_time", kUpstream, kTake12),
    Spec("peak_ewma", kUpstream, kNoArgs | kTake1, kExtension),
    Spec("sticky", kUpstream, k1More),
    Spec("drain_timeout", kUpstream, kTake1, kExtension),
    Spec("keepalive", kUpstream, kTake1),
    Spec("keepalive_timeout", kUpstream, kTake1),
    Spec("keepalive_requests", kUpstream, kTake1),
    Spec("keepalive_time", kUpstream, kTake1),
    Spec("zone", kUpstream, kTake12),
    Spec("state", kUpstream, kTake1, "NGINX Plus"),
    Spec("outlier_detection", kUpstream, kAnyArgs,
         "tidegate extension: Envoy's consecutive-5xx ejection"),
    Spec("autoscale", kUpstream, kBlock | kNoArgs, "tidegate extension: the autoscaler"),

    // autoscale (tidegate)
    Spec("provider", kAutoscale, k1More, kInAutoscale),
    Spec("min", kAutoscale, kTake1, kInAutoscale),
    Spec("max", kAutoscale, kTake1, kInAutoscale),
    Spec("interval", kAutoscale, kTake1, kInAutoscale),
    Spec("dry_run", kAutoscale, kFlag, kInAutoscale),
    Spec("cooldown", kAutoscale, k1More, kInAutoscale),
    Spec("stabilization", kAutoscale, k1More, kInAutoscale),
    Spec("warmup", kAutoscale, kTake1, kInAutoscale),
    Spec("drain_timeout", kAutoscale, kTake1, kInAutoscale),
    Spec("scale_out", kAutoscale, k2More, kInAutoscale),
    Spec("scale_in", kAutoscale, k2More, kInAutoscale),
    Spec("step", kAutoscale, k2More, kInAutoscale),
    Spec("target", kAutoscale, k2More, kInAutoscale),
    Spec("schedule", kAutoscale, k1More, kInAutoscale),
    Spec("limit", kAutoscale, k2More, kInAutoscale),
    Spec("metric", kAutoscale, k2More, kInAutoscale),
    Spec("server_params", kAutoscale, k1More, kInAutoscale),
});

// nginx's ngx_conf_handler argument check (NGX_CONF_MAX_ARGS is 8 words).
bool arity_matches(unsigned arity, std::size_t args) {
  if (arity & kAnyArgs) return true;
  if (arity & kFlag) return args == 1;
  if (arity & k1More) return args >= 1;
  if (arity & k2More) return args >= 2;
  if (args > 7) return false;
  return (arity & (1u << args)) != 0;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool name_is_known(std::string_view name) {
  for (const DirectiveSpec& spec : kSpecs) {
    if (spec.name == name) return true;
  }
  return false;
}

void validate_level(const std::vector<Directive>& tree, Context ctx) {
  for (const Directive& d : tree) {
    check_directive(d, ctx);
    if (d.has_block) {
      if (const unsigned child = block_context(d.name, ctx); child != 0) {
        validate_level(d.block, static_cast<Context>(child));
      }
    }
  }
}

}  // namespace

void check_directive(const Directive& d, Context ctx) {
  const DirectiveSpec* spec = find_directive(d.name, ctx);
  if (spec == nullptr) {
    if (name_is_known(d.name)) {
      throw ConfError("\"" + d.name + "\" directive is not allowed here", d.where);
    }
    throw ConfError("unknown directive \"" + d.name + "\"", d.where);
  }
  const bool takes_block = (spec->arity & kBlock) != 0;
  if (!takes_block && d.has_block) {
    throw ConfError("directive \"" + d.name + "\" is not terminated by \";\"", d.where);
  }
  if (takes_block && !d.has_block) {
    throw ConfError("directive \"" + d.name + "\" has no opening \"{\"", d.where);
  }
  if (!arity_matches(spec->arity, d.args.size())) {
    throw ConfError("invalid number of arguments in \"" + d.name + "\" directive", d.where);
  }
  // nginx's ngx_conf_set_flag_slot compares case-insensitively.
  if ((spec->arity & kFlag) && !equals_ignoring_case(d.args[0], "on") &&
      !equals_ignoring_case(d.args[0], "off")) {
    throw ConfError("invalid value \"" + d.args[0] + "\" in \"" + d.name +
                        "\" directive, it must be \"on\" or \"off\"",
                    d.where);
  }
}

std::span<const DirectiveSpec> directive_specs() {
  return kSpecs;
}

const DirectiveSpec* find_directive(std::string_view name, Context ctx) {
  for (const DirectiveSpec& spec : kSpecs) {
    if (spec.name == name && (spec.contexts & ctx) != 0) return &spec;
  }
  return nullptr;
}

unsigned block_context(std::string_view name, Context parent) {
  if (name == "events") return kEvents;
  if (name == "http") return kHttp;
  if (name == "server" && parent == kHttp) return kServer;
  if (name == "location") return kLocation;
  if (name == "upstream") return kUpstream;
  if (name == "autoscale" && parent == kUpstream) return kAutoscale;
  return 0;  // map, types, split_clients, geo, match: key/value lists
}

void validate(const std::vector<Directive>& tree) {
  validate_level(tree, kMain);
}

}  // namespace tg::conf
