// Evaluation of compiled templates: one switch over Var, no lookups by name.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>

#include "proxy/auth_basic.h"
#include "proxy/request_context.h"

namespace tg::proxy {

using conf::Segment;
using conf::Var;

void RequestContext::reset() {
  head = nullptr;
  method = request_target = request_uri = args = protocol = {};
  uri.clear();
  host.clear();
  host_from_request = false;
  request_length = 0;
  server = nullptr;
  location = nullptr;
  captures.spans.clear();
  capture_subject.clear();
  status = 0;
  bytes_sent = body_bytes_sent = 0;
  sent_headers.clear();
  proxy = nullptr;
  upstream_addr.clear();
  upstream_status.clear();
  upstream_response_time.clear();
  upstream_connect_time.clear();
  upstream_header_time.clear();
  upstream_base = nullptr;
  upstream_headers = nullptr;
  request_id.clear();
  in_progress = false;
  server_zone = nullptr;
  for (auto& m : map_values) m.reset();
  for (auto& u : user_values) u.clear();
}

std::string_view RequestContext::header(std::string_view name) const {
  if (!head) return {};
  for (const auto& h : head->headers()) {
    if (iequals(h.name.in(base), name)) return trim(h.value.in(base));
  }
  return {};
}

namespace {

std::string_view cookie_value(std::string_view cookies, std::string_view name) {
  while (!cookies.empty()) {
    size_t semi = cookies.find(';');
    std::string_view item = trim(cookies.substr(0, semi));
    size_t eq = item.find('=');
    if (eq != std::string_view::npos && item.substr(0, eq) == name) return item.substr(eq + 1);
    if (semi == std::string_view::npos) break;
    cookies.remove_prefix(semi + 1);
  }
  return {};
}

std::string_view arg_value(std::string_view args, std::string_view name) {
  while (!args.empty()) {
    size_t amp = args.find('&');
    std::string_view item = args.substr(0, amp);
    size_t eq = item.find('=');
    std::string_view key = item.substr(0, eq);
    if (key.size() == name.size() && iequals(key, name)) {
      return eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    args.remove_prefix(amp + 1);
  }
  return {};
}

const std::string& hostname() {
  static const std::string name = [] {
    char buf[256] = {};
    ::gethostname(buf, sizeof buf - 1);
    return std::string(buf);
  }();
  return name;
}

std::string random_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t v = rng();
    for (int i = 0; i < 16; ++i) id[half * 16 + i] = hex[(v >> (i * 4)) & 0xf];
  }
  return id;
}

std::string_view map_lookup(const conf::MapConfig& map, const std::string& key,
                            conf::Captures& captures, const conf::Template*& value) {
  std::string low(key);
  for (auto& c : low) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view k = low;
  if (map.hostnames) {
    while (!k.empty() && k.back() == '.') k.remove_suffix(1);
  }
  if (auto it = map.exact.find(std::string(k)); it != map.exact.end()) {
    value = &it->second;
    return {};
  }
  if (map.hostnames) {
    for (const auto& [suffix, v] : map.leading) {
      if (k.size() > suffix.size() && k.ends_with(suffix)) {
        value = &v;
        return {};
      }
    }
    for (const auto& [prefix, v] : map.trailing) {
      if (k.size() > prefix.size() && k.starts_with(prefix)) {
        value = &v;
        return {};
      }
    }
  }
  for (const auto& [re, v] : map.regex) {
    if (re->match(key, &captures)) {
      value = &v;
      return key;
    }
  }
  value = &map.default_value;
  return {};
}

/// MurmurHash2 (Austin Appleby's, seed 0 mixed with the length), as nginx's
/// ngx_murmur_hash2 computes it for split_clients: the same key lands in the same
/// part as with nginx.
uint32_t murmur_hash2(std::string_view data) {
  constexpr uint32_t m = 0x5bd1e995;
  uint32_t h = static_cast<uint32_t>(data.size());
  size_t i = 0;
  for (; i + 4 <= data.size(); i += 4) {
    uint32_t k = static_cast<uint32_t>(static_cast<unsigned char>(data[i])) |
                 static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8 |
                 static_cast<uint32_t>(static_cast<unsigned char>(data[i + 2])) << 16 |
                 static_cast<uint32_t>(static_cast<unsigned char>(data[i + 3])) << 24;
    k *= m;
    k ^= k >> 24;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (data.size() - i) {
    case 3:
      h ^= static_cast<uint32_t>(static_cast<unsigned char>(data[i + 2])) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
      [[fallthrough]];
    case 1:
      h ^= static_cast<uint32_t>(static_cast<unsigned char>(data[i]));
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

void append_map(uint32_t index, RequestContext& ctx, std::string& out) {
  if (ctx.map_values.size() <= index) ctx.map_values.resize(ctx.config->http.maps.size());
  auto& cached = ctx.map_values[index];
  if (!cached) {
    const auto& map = ctx.config->http.maps[index];
    std::string key = expand(map.source, ctx);
    if (!map.split.empty()) {
      const uint32_t hash = murmur_hash2(key);
      cached.emplace();
      for (const auto& [bound, value] : map.split) {
        if (!bound || hash < *bound) {
          expand(value, ctx, *cached);
          break;
        }
      }
      out += *cached;
      return;
    }
    conf::Captures caps;
    const conf::Template* value = nullptr;
    std::string_view subject = map_lookup(map, key, caps, value);
    if (!subject.empty() && !value->is_literal()) {
      // A regex entry's value may use its captures ($1): evaluate with them.
      std::swap(ctx.captures, caps);
      std::string saved_subject = std::exchange(ctx.capture_subject, key);
      cached = expand(*value, ctx);
      std::swap(ctx.captures, caps);
      ctx.capture_subject = std::move(saved_subject);
    } else {
      cached = expand(*value, ctx);
    }
  }
  out += *cached;
}

std::string_view find_header(const char* base, const std::vector<HeaderSpan>* headers,
                             std::string_view name) {
  if (!headers) return {};
  for (const auto& h : *headers) {
    if (iequals(h.name.in(base), name)) return trim(h.value.in(base));
  }
  return {};
}

void append_var(const Segment& s, RequestContext& ctx, std::string& out) {
  switch (s.var) {
    case Var::kLiteral:
      out += s.text;
      break;
    case Var::kHost:
      out += ctx.host;
      break;
    case Var::kHttp:
      out += ctx.header(s.text);
      break;
    case Var::kCookie:
      out += cookie_value(ctx.header("cookie"), s.text);
      break;
    case Var::kArg:
      out += arg_value(ctx.args, s.text);
      break;
    case Var::kArgs:
      out += ctx.args;
      break;
    case Var::kIsArgs:
      if (!ctx.args.empty()) out += '?';
      break;
    case Var::kRemoteAddr:
      out += ctx.conn->remote_addr;
      break;
    case Var::kRemotePort:  // none when realip took an address without a port (nginx)
      if (ctx.conn->remote_port != 0) out += std::to_string(ctx.conn->remote_port);
      break;
    case Var::kRealipRemoteAddr:
      out += (ctx.peer ? ctx.peer : ctx.conn)->remote_addr;
      break;
    case Var::kRealipRemotePort:
      out += std::to_string((ctx.peer ? ctx.peer : ctx.conn)->remote_port);
      break;
    case Var::kRemoteUser:
      if (auto credentials = basic_credentials(ctx.header("authorization"))) {
        out += credentials->first;
      }
      break;
    case Var::kServerAddr:
      out += ctx.conn->server_addr;
      break;
    case Var::kServerPort:
      out += std::to_string(ctx.conn->server_port);
      break;
    case Var::kServerName:
      if (ctx.server) out += ctx.server->names.first;
      break;
    case Var::kServerProtocol:
      out += ctx.protocol;
      break;
    case Var::kScheme:
      out += ctx.conn->tls ? "https" : "http";
      break;
    case Var::kHttps:
      if (ctx.conn->tls) out += "on";
      break;
    case Var::kSsl:
      tls::connection_variable(ctx.conn->tls, s.text, out);
      break;
    case Var::kProxyProtocol:
      if (const auto& pp = ctx.peer->proxy_protocol; pp && !pp->local) {
        if (s.text == "addr")
          out += pp->source_addr;
        else if (s.text == "port")
          out += std::to_string(pp->source_port);
        else if (s.text == "server_addr")
          out += pp->dest_addr;
        else
          out += std::to_string(pp->dest_port);
      }
      break;
    case Var::kRequestMethod:
      out += ctx.method;
      break;
    case Var::kRequestUri:
      out += ctx.request_uri;
      break;
    case Var::kUri:
      out += ctx.uri;
      break;
    case Var::kRequest:
      out += ctx.method;
      out += ' ';
      out += ctx.request_target;
      out += ' ';
      out += ctx.protocol;
      break;
    case Var::kRequestLength:
      out += std::to_string(ctx.request_length);
      break;
    case Var::kContentLength:
      out += ctx.header("content-length");
      break;
    case Var::kContentType:
      out += ctx.header("content-type");
      break;
    case Var::kStatus: {
      char buf[8];
      std::snprintf(buf, sizeof buf, "%03d", ctx.status);
      out += buf;
      break;
    }
    case Var::kBodyBytesSent:
      out += std::to_string(ctx.body_bytes_sent);
      break;
    case Var::kBytesSent:
      out += std::to_string(ctx.bytes_sent);
      break;
    case Var::kRequestTime:
      out += seconds_text(std::chrono::steady_clock::now() - ctx.start);
      break;
    case Var::kTimeLocal:
      out += time_local_text(std::chrono::system_clock::now());
      break;
    case Var::kTimeIso8601:
      out += time_iso8601_text(std::chrono::system_clock::now());
      break;
    case Var::kMsec: {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
      char buf[32];
      std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(ms / 1000),
                    static_cast<long long>(ms % 1000));
      out += buf;
      break;
    }
    case Var::kConnection:
      out += std::to_string(ctx.conn->id);
      break;
    case Var::kConnectionRequests:
      out += std::to_string(ctx.conn->requests);
      break;
    case Var::kRequestId:
      if (ctx.request_id.empty()) ctx.request_id = random_id();
      out += ctx.request_id;
      break;
    case Var::kProxyHost:
      if (ctx.proxy) out += ctx.proxy->proxy_host;
      break;
    case Var::kProxyPort:
      if (ctx.proxy) out += ctx.proxy->proxy_port;
      break;
    case Var::kProxyAddXForwardedFor:
      // nginx: every incoming X-Forwarded-For line, each followed by ", ", then the client.
      if (ctx.head) {
        for (const auto& h : ctx.head->headers()) {
          if (!iequals(h.name.in(ctx.base), "x-forwarded-for")) continue;
          out += trim(h.value.in(ctx.base));
          out += ", ";
        }
      }
      out += ctx.conn->remote_addr;
      break;
    case Var::kUpstreamAddr:
      out += ctx.upstream_addr;
      break;
    case Var::kUpstreamStatus:
      out += ctx.upstream_status;
      break;
    case Var::kUpstreamResponseTime:
      out += ctx.upstream_response_time;
      break;
    case Var::kUpstreamConnectTime:
      out += ctx.upstream_connect_time;
      break;
    case Var::kUpstreamHeaderTime:
      out += ctx.upstream_header_time;
      break;
    case Var::kSentHttp:
      for (const auto& [name, value] : ctx.sent_headers) {
        if (iequals(name, s.text)) {
          out += value;
          break;
        }
      }
      break;
    case Var::kUpstreamHttp:
      out += find_header(ctx.upstream_base, ctx.upstream_headers, s.text);
      break;
    case Var::kHostname:
      out += hostname();
      break;
    case Var::kPid:
      out += std::to_string(::getpid());
      break;
    case Var::kNginxVersion:
      out += TIDEGATE_VERSION;
      break;
    case Var::kMap:
      append_map(s.index, ctx, out);
      break;
    case Var::kUser:
      if (s.index < ctx.user_values.size()) out += ctx.user_values[s.index];
      break;
    case Var::kCapture:
      out += ctx.captures.group(ctx.capture_subject, s.index);
      break;
  }
}

struct TimeCache {
  time_t second = -1;
  char text[64];
  size_t len = 0;
};

template <typename Format>
std::string_view cached_time(TimeCache& cache, std::chrono::system_clock::time_point t,
                             Format format) {
  time_t sec = std::chrono::system_clock::to_time_t(t);
  if (sec != cache.second) {
    cache.second = sec;
    cache.len = format(sec, cache.text, sizeof cache.text);
  }
  return {cache.text, cache.len};
}

}  // namespace

void expand(const conf::Template& tmpl, RequestContext& ctx, std::string& out) {
  for (const auto& s : tmpl.segments()) append_var(s, ctx, out);
}

std::string expand(const conf::Template& tmpl, RequestContext& ctx) {
  std::string out;
  expand(tmpl, ctx, out);
  return out;
}

void escape_header_value(std::string& out, size_t from) {
  auto unsafe = [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && u != '\t') || u == 0x7f;
  };
  auto first = std::find_if(out.begin() + static_cast<std::ptrdiff_t>(from), out.end(), unsafe);
  if (first == out.end()) return;  // the usual case: nothing to copy
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string tail;
  for (auto it = first; it != out.end(); ++it) {
    if (!unsafe(*it)) {
      tail += *it;
      continue;
    }
    const auto u = static_cast<unsigned char>(*it);
    tail += '%';
    tail += kHex[u >> 4];
    tail += kHex[u & 0xf];
  }
  out.replace(first, out.end(), tail);
}

void expand_header_value(const conf::Template& tmpl, RequestContext& ctx, std::string& out) {
  const size_t from = out.size();
  expand(tmpl, ctx, out);
  escape_header_value(out, from);
}

namespace {

void append_log_escaped(std::string_view v, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : v) {
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
}

void append_json_escaped(std::string_view v, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

}  // namespace

void expand_log(const conf::LogFormat& format, RequestContext& ctx, std::string& out) {
  using Escape = conf::LogFormat::Escape;
  std::string value;
  for (const auto& s : format.format.segments()) {
    if (s.var == Var::kLiteral) {
      out += s.text;
      continue;
    }
    value.clear();
    append_var(s, ctx, value);
    switch (format.escape) {
      case Escape::kDefault:
        if (value.empty())
          out += '-';
        else
          append_log_escaped(value, out);
        break;
      case Escape::kJson:
        append_json_escaped(value, out);
        break;
      case Escape::kNone:
        out += value;
        break;
    }
  }
}

std::string_view time_local_text(std::chrono::system_clock::time_point t) {
  thread_local TimeCache cache;
  return cached_time(cache, t, [](time_t sec, char* buf, size_t size) {
    struct tm tm;
    ::localtime_r(&sec, &tm);
    return std::strftime(buf, size, "%d/%b/%Y:%H:%M:%S %z", &tm);
  });
}

std::string_view time_iso8601_text(std::chrono::system_clock::time_point t) {
  thread_local TimeCache cache;
  return cached_time(cache, t, [](time_t sec, char* buf, size_t size) {
    struct tm tm;
    ::localtime_r(&sec, &tm);
    size_t n = std::strftime(buf, size, "%Y-%m-%dT%H:%M:%S%z", &tm);
    if (n >= 5 && n + 1 < size) {  // +0000 -> +00:00
      buf[n + 1] = '\0';
      buf[n] = buf[n - 1];
      buf[n - 1] = buf[n - 2];
      buf[n - 2] = ':';
      ++n;
    }
    return n;
  });
}

std::string_view http_date_text(std::chrono::system_clock::time_point t) {
  thread_local TimeCache cache;
  return cached_time(cache, t, [](time_t sec, char* buf, size_t size) {
    struct tm tm;
    ::gmtime_r(&sec, &tm);
    return std::strftime(buf, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  });
}

std::string seconds_text(std::chrono::steady_clock::duration d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  if (ms < 0) ms = 0;
  std::string out = std::to_string(ms / 1000);
  char frac[4] = {static_cast<char>('0' + ms % 1000 / 100), static_cast<char>('0' + ms % 100 / 10),
                  static_cast<char>('0' + ms % 10), '\0'};
  out += '.';
  out += frac;
  return out;
}

std::string_view request_cookie(RequestContext& ctx, std::string_view name) {
  return cookie_value(ctx.header("cookie"), name);
}

}  // namespace tg::proxy
