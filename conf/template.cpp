#include "conf/template.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "tls/server_context.h"

namespace tg::conf {
namespace {

struct Builtin {
  std::string_view name;
  Var var;
};
constexpr std::array kBuiltins = {
    Builtin{"host", Var::kHost},
    Builtin{"args", Var::kArgs},
    Builtin{"query_string", Var::kArgs},
    Builtin{"is_args", Var::kIsArgs},
    Builtin{"remote_addr", Var::kRemoteAddr},
    Builtin{"binary_remote_addr", Var::kRemoteAddr},
    Builtin{"remote_port", Var::kRemotePort},
    Builtin{"remote_user", Var::kRemoteUser},
    Builtin{"realip_remote_addr", Var::kRealipRemoteAddr},
    Builtin{"realip_remote_port", Var::kRealipRemotePort},
    Builtin{"server_addr", Var::kServerAddr},
    Builtin{"server_port", Var::kServerPort},
    Builtin{"server_name", Var::kServerName},
    Builtin{"server_protocol", Var::kServerProtocol},
    Builtin{"scheme", Var::kScheme},
    Builtin{"request_method", Var::kRequestMethod},
    Builtin{"request_uri", Var::kRequestUri},
    Builtin{"uri", Var::kUri},
    Builtin{"document_uri", Var::kUri},
    Builtin{"request", Var::kRequest},
    Builtin{"request_length", Var::kRequestLength},
    Builtin{"content_length", Var::kContentLength},
    Builtin{"content_type", Var::kContentType},
    Builtin{"status", Var::kStatus},
    Builtin{"body_bytes_sent", Var::kBodyBytesSent},
    Builtin{"bytes_sent", Var::kBytesSent},
    Builtin{"request_time", Var::kRequestTime},
    Builtin{"time_local", Var::kTimeLocal},
    Builtin{"time_iso8601", Var::kTimeIso8601},
    Builtin{"msec", Var::kMsec},
    Builtin{"connection", Var::kConnection},
    Builtin{"connection_requests", Var::kConnectionRequests},
    Builtin{"request_id", Var::kRequestId},
    Builtin{"proxy_host", Var::kProxyHost},
    Builtin{"proxy_port", Var::kProxyPort},
    Builtin{"proxy_add_x_forwarded_for", Var::kProxyAddXForwardedFor},
    Builtin{"upstream_addr", Var::kUpstreamAddr},
    Builtin{"upstream_status", Var::kUpstreamStatus},
    Builtin{"upstream_response_time", Var::kUpstreamResponseTime},
    Builtin{"upstream_connect_time", Var::kUpstreamConnectTime},
    Builtin{"upstream_header_time", Var::kUpstreamHeaderTime},
    Builtin{"hostname", Var::kHostname},
    Builtin{"pid", Var::kPid},
    Builtin{"nginx_version", Var::kNginxVersion},
};

struct Prefixed {
  std::string_view prefix;
  Var var;
};
constexpr std::array kPrefixed = {
    Prefixed{"http_", Var::kHttp},
    Prefixed{"cookie_", Var::kCookie},
    Prefixed{"arg_", Var::kArg},
    Prefixed{"sent_http_", Var::kSentHttp},
    Prefixed{"upstream_http_", Var::kUpstreamHttp},
};

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

}  // namespace

bool lookup_builtin(std::string_view name, Segment& out) {
  for (std::string_view part : {"addr", "port", "server_addr", "server_port"}) {
    if (name.starts_with("proxy_protocol_") && name.substr(15) == part) {
      out = Segment{Var::kProxyProtocol, 0, std::string(part)};
      return true;
    }
  }
  if (name == "https") {
    out = Segment{Var::kHttps, 0, {}};
    return true;
  }
  if (name.starts_with("ssl_") && tls::is_connection_variable(name.substr(4))) {
    out = Segment{Var::kSsl, 0, std::string(name.substr(4))};
    return true;
  }
  for (const auto& b : kBuiltins) {
    if (b.name == name) {
      out = Segment{b.var, 0, {}};
      return true;
    }
  }
  for (const auto& p : kPrefixed) {
    if (name.starts_with(p.prefix)) {  // nginx allows an empty NAME
      std::string param(name.substr(p.prefix.size()));
      // Header variables: $http_user_agent names the "user-agent" header.
      if (p.var == Var::kHttp || p.var == Var::kSentHttp || p.var == Var::kUpstreamHttp) {
        for (auto& c : param) {
          c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
      }
      out = Segment{p.var, 0, std::move(param)};
      return true;
    }
  }
  return false;
}

bool is_unknown_variable_error(std::string_view error) {
  return error.starts_with("unknown \"") && error.ends_with("\" variable");
}

Template Template::literal(std::string text) {
  Template t;
  t.source_ = std::move(text);
  if (!t.source_.empty()) t.segments_.push_back(Segment{Var::kLiteral, 0, t.source_});
  return t;
}

bool Template::uses(Var var) const {
  return std::any_of(segments_.begin(), segments_.end(),
                     [var](const Segment& s) { return s.var == var; });
}

bool Template::compile(std::string_view source, const VariableScope& scope, Template& out,
                       std::string& error) {
  out = Template();
  out.source_ = std::string(source);
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) out.segments_.push_back(Segment{Var::kLiteral, 0, std::move(literal)});
    literal.clear();
  };
  // The scan is nginx's ngx_http_script_compile: `$1`..`$9` are captures, a name
  // is [A-Za-z0-9_]+, optionally written `${name}`, and names are case-insensitive.
  size_t i = 0;
  while (i < source.size()) {
    if (source[i] != '$') {
      literal.push_back(source[i++]);
      continue;
    }
    if (++i == source.size()) {
      error = "invalid variable name";
      return false;
    }
    flush();
    if (source[i] >= '1' && source[i] <= '9') {
      out.segments_.push_back(Segment{Var::kCapture, static_cast<uint32_t>(source[i] - '0'), {}});
      ++i;
      continue;
    }
    bool bracket = source[i] == '{';
    if (bracket && ++i == source.size()) {
      error = "invalid variable name";
      return false;
    }
    const size_t start = i;
    size_t end = i;
    for (; i < source.size(); ++i) {
      if (source[i] == '}' && bracket) {
        end = i++;
        bracket = false;
        break;
      }
      if (!is_name_char(source[i])) break;
      end = i + 1;
    }
    const std::string_view name = source.substr(start, end - start);
    if (bracket) {
      error = "the closing bracket in \"" + std::string(name) + "\" variable is missing";
      return false;
    }
    if (name.empty()) {
      error = "invalid variable name";
      return false;
    }
    std::string key(name);
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // Built-ins are tried as written first so that $cookie_NAME and $arg_NAME keep
    // NAME's case.
    Segment seg;
    if (auto m = scope.maps.find(key); m != scope.maps.end()) {
      seg = Segment{Var::kMap, m->second, key};
    } else if (auto u = scope.user.find(key); u != scope.user.end()) {
      seg = Segment{Var::kUser, u->second, key};
    } else if (!lookup_builtin(name, seg) && !lookup_builtin(key, seg)) {
      error = "unknown \"" + key + "\" variable";
      return false;
    }
    scope.used |= uint64_t{1} << static_cast<unsigned>(seg.var);
    out.segments_.push_back(std::move(seg));
  }
  flush();
  return true;
}

}  // namespace tg::conf
