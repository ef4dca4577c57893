// Everything a variable can refer to while one request is served. Lives in the
// session; views point into the connection's buffers and stay valid for the
// request's lifetime.
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "http/parser.h"
#include "http/proxy_protocol.h"
#include "tls/server_context.h"

namespace tg::proxy {

// The HTTP/1 message model (http/) as the proxy names it.
using http::has_token;
using http::HeaderSpan;
using http::HttpParser;
using http::iequals;
using http::Span;
using http::trim;

/// Facts about a client connection, computed once when it is accepted.
struct ConnectionInfo {
  uint64_t id = 0;  ///< $connection
  std::string remote_addr;
  uint16_t remote_port = 0;
  std::string server_addr;
  uint16_t server_port = 0;
  uint64_t requests = 0;  ///< $connection_requests
  /// The TLS connection (its handshake done), or null for plain HTTP ($scheme, $ssl_*).
  const SSL* tls = nullptr;
  /// What a PROXY protocol header said ($proxy_protocol_*), on such listeners only.
  std::shared_ptr<const http::ProxyProtocolHeader> proxy_protocol;
  /// The client's address bytes (4 for IPv4, 16 for IPv6), what ip_hash hashes.
  std::array<uint8_t, 16> remote_bytes{};
  uint8_t remote_bytes_len = 0;
};

/// Sets `remote_addr` and `remote_bytes` of `conn` (an IPv4-mapped IPv6 address
/// counts as IPv4, as for allow/deny and ip_hash).
void set_remote_address(ConnectionInfo& conn, const boost::asio::ip::address& address);

struct RequestContext {
  const conf::Config* config = nullptr;
  /// The client as the request is handled: the TCP peer, or the address the realip
  /// module took from a trusted proxy's header ($remote_addr, allow/deny, ip_hash).
  const ConnectionInfo* conn = nullptr;
  const ConnectionInfo* peer = nullptr;  ///< the TCP peer ($realip_remote_addr)

  // Request head (views into the client buffer).
  const char* base = nullptr;
  const HttpParser* head = nullptr;
  std::string_view method;
  std::string_view request_target;  ///< as received, absolute form included ($request)
  std::string_view request_uri;     ///< its origin-form part: path?args ($request_uri)
  std::string_view args;            ///< after '?', without it
  std::string_view protocol;        ///< "HTTP/1.1"
  std::string uri;                  ///< normalised path ($uri)
  std::string host;                 ///< normalised Host, or the server name
  bool host_from_request = false;   ///< `host` came from the request (Host or the URI)
  int64_t request_length = 0;

  const conf::ServerBlock* server = nullptr;
  const conf::Location* location = nullptr;
  conf::Captures captures;
  std::string capture_subject;

  std::chrono::steady_clock::time_point start;
  std::chrono::system_clock::time_point start_wall;

  // Response.
  int status = 0;
  uint64_t bytes_sent = 0;
  uint64_t body_bytes_sent = 0;
  std::vector<std::pair<std::string, std::string>> sent_headers;  ///< for $sent_http_NAME

  // Upstream.
  const conf::ProxyTarget* proxy = nullptr;
  std::string upstream_addr;  ///< "a, b" across attempts
  std::string upstream_status;
  std::string upstream_response_time;
  std::string upstream_connect_time;
  std::string upstream_header_time;
  const char* upstream_base = nullptr;
  const std::vector<HeaderSpan>* upstream_headers = nullptr;

  std::string request_id;
  /// Counted as a request in progress (WorkerCounters::current, the server zone's
  /// processing) until finish_request().
  bool in_progress = false;
  class ZoneStats* server_zone = nullptr;
  std::vector<std::optional<std::string>> map_values;  ///< per-request cache
  std::vector<std::string> user_values;                ///< `set` variables

  /// Clears per-request state for the next request on the connection.
  void reset();
  /// Value of request header `name` (case-insensitive), empty if absent.
  std::string_view header(std::string_view name) const;
};

/// Value of cookie `name` in the request's Cookie header, empty if absent.
std::string_view request_cookie(RequestContext& ctx, std::string_view name);

/// Appends the value of `tmpl` evaluated for `ctx` to `out`.
void expand(const conf::Template& tmpl, RequestContext& ctx, std::string& out);
/// Convenience: returns the value.
std::string expand(const conf::Template& tmpl, RequestContext& ctx);
/// Percent-encodes, in `out` from `from` on, the bytes that would end or fold a
/// header line: below 0x20 but HTAB, and 0x7f. A decoded `$uri` or a capture of it
/// can hold CR LF ("/%0d%0aSet-Cookie:..."); in a header value written into a head
/// it would be read as a header of its own (response splitting, request header
/// injection). nginx writes such values as they are; tidegate does not.
void escape_header_value(std::string& out, size_t from = 0);
/// expand() for a value that goes into a message head: escaped as above.
void expand_header_value(const conf::Template& tmpl, RequestContext& ctx, std::string& out);
/// Appends one access-log line of `format` to `out` as nginx's log module writes
/// it: with escape=default a variable without a value is written as "-" and the
/// bytes `"`, `\`, below 0x20 and from 0x7f as \xXX; escape=json writes nothing for
/// a missing value and escapes for a JSON string; escape=none writes values as is.
void expand_log(const conf::LogFormat& format, RequestContext& ctx, std::string& out);

/// Formats times as nginx's variables do (cached per second per thread).
std::string_view time_local_text(std::chrono::system_clock::time_point t);
std::string_view time_iso8601_text(std::chrono::system_clock::time_point t);
/// RFC 1123 date for the Date header.
std::string_view http_date_text(std::chrono::system_clock::time_point t);
/// Seconds with millisecond resolution: "0.012".
std::string seconds_text(std::chrono::steady_clock::duration d);

}  // namespace tg::proxy
