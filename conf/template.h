// nginx "complex values": strings with $variables, compiled once at load into
// segments so the hot path never re-parses them. One engine for
// proxy_set_header, add_header, return, log_format, map, set and hash keys.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tg::conf {

/// Every variable tidegate knows. Parameterised ones ($http_NAME, $cookie_NAME,
/// $arg_NAME, $sent_http_NAME, $upstream_http_NAME) carry NAME in Segment::text.
enum class Var : uint8_t {
  kLiteral,
  kHost,
  kHttp,
  kCookie,
  kArg,
  kArgs,
  kIsArgs,
  kRemoteAddr,
  kRemotePort,
  kRealipRemoteAddr,  ///< the TCP peer's address, whatever realip made of $remote_addr
  kRealipRemotePort,
  kRemoteUser,  ///< the user of `Authorization: Basic` (whether or not auth_basic checks it)
  kServerAddr,
  kServerPort,
  kServerName,
  kServerProtocol,
  kScheme,
  kRequestMethod,
  kRequestUri,
  kUri,
  kRequest,
  kRequestLength,
  kContentLength,
  kContentType,
  kStatus,
  kBodyBytesSent,
  kBytesSent,
  kRequestTime,
  kTimeLocal,
  kTimeIso8601,
  kMsec,
  kConnection,
  kConnectionRequests,
  kRequestId,
  kProxyHost,
  kProxyPort,
  kProxyAddXForwardedFor,
  kUpstreamAddr,
  kUpstreamStatus,
  kUpstreamResponseTime,
  kUpstreamConnectTime,
  kUpstreamHeaderTime,
  kSentHttp,
  kUpstreamHttp,
  kHostname,
  kPid,
  kNginxVersion,
  kHttps,          ///< "on" on a TLS connection, else empty
  kSsl,            ///< $ssl_NAME of the connection (tls/server_context.h); NAME in Segment::text
  kProxyProtocol,  ///< $proxy_protocol_addr/_port/_server_addr/_server_port; NAME in text
  kMap,            ///< a `map` result; Segment::index = map index
  kUser,           ///< a `set` variable; Segment::index = slot
  kCapture,        ///< $1..$9 from the last regex match; Segment::index = n
};

static_assert(static_cast<unsigned>(Var::kCapture) < 64, "VariableScope::used is 64 bits");

struct Segment {
  Var var = Var::kLiteral;
  uint32_t index = 0;
  std::string text;  ///< literal text, or the NAME of a parameterised variable (lower case, '-')
};

/// Names of variables defined by the configuration (`map` targets, `set`).
struct VariableScope {
  std::unordered_map<std::string, uint32_t> maps;
  std::unordered_map<std::string, uint32_t> user;
  /// Bit per Var used by any template compiled in this scope, so the proxy can
  /// skip work no variable will read (e.g. keeping $sent_http_NAME values).
  mutable uint64_t used = 0;
};

class Template {
 public:
  Template() = default;
  /// Compiles `source`; on failure returns false and sets `error` to nginx's text:
  /// `invalid variable name`, `the closing bracket in "foo" variable is missing`,
  /// or `unknown "foo" variable` (names are case-insensitive and reported in lower
  /// case; nginx reports unknown names only after reading the whole http block,
  /// without a position, see is_unknown_variable_error).
  static bool compile(std::string_view source, const VariableScope& scope, Template& out,
                      std::string& error);
  static Template literal(std::string text);

  bool is_literal() const {
    return segments_.empty() || (segments_.size() == 1 && segments_[0].var == Var::kLiteral);
  }
  /// The literal value (valid when is_literal()).
  const std::string& literal_value() const { return source_; }
  const std::vector<Segment>& segments() const { return segments_; }
  const std::string& source() const { return source_; }
  bool uses(Var var) const;

 private:
  std::vector<Segment> segments_;
  std::string source_;
};

/// True when `error` from Template::compile is `unknown "name" variable`.
bool is_unknown_variable_error(std::string_view error);

/// Looks up a built-in variable by name (`host`, `http_user_agent`, ...).
/// Returns false when the name is not a built-in variable.
bool lookup_builtin(std::string_view name, Segment& out);

}  // namespace tg::conf
