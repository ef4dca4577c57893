#include "proxy/router.h"

#include <algorithm>
#include <cctype>

namespace tg::proxy {

using conf::Location;
using conf::ServerBlock;

std::vector<ListenGroup> group_listeners(const conf::Config& config) {
  std::vector<ListenGroup> groups;
  for (const auto& server : config.http.servers) {
    for (const auto& l : server.listen) {
      auto it = std::find_if(groups.begin(), groups.end(),
                             [&](const ListenGroup& g) { return g.endpoint == l.endpoint; });
      if (it == groups.end()) {
        groups.emplace_back(l.endpoint, l.backlog);
        it = groups.end() - 1;
      }
      if (std::find(it->servers.begin(), it->servers.end(), &server) == it->servers.end()) {
        it->servers.push_back(&server);
      }
      // The conf allows one default server and one `listen` with socket options per
      // address (nginx's checks, made as it reads them); the options are that line's.
      if (l.options_set) it->backlog = l.backlog;
      if (l.proxy_protocol) it->proxy_protocol = true;
      if (l.default_server) it->default_server = &server;
    }
  }
  for (auto& g : groups) {
    if (!g.default_server) g.default_server = g.servers.front();
    bool ssl = false;
    for (const auto* s : g.servers) {
      for (const auto& l : s->listen) ssl = ssl || (l.endpoint == g.endpoint && l.ssl);
    }
    if (!ssl) continue;
    g.tls = g.default_server->tls.get();
    for (const auto* s : g.servers) {
      if (!g.tls) g.tls = s->tls.get();
    }
  }
  return groups;
}

const tls::ServerContext* ListenGroup::choose_tls(std::string_view name) const {
  return find_server(*this, name)->tls.get();
}

const ServerBlock* find_server(const ListenGroup& group, std::string_view host) {
  if (group.servers.size() == 1 || host.empty()) return group.default_server;
  for (const auto* s : group.servers) {
    for (const auto& name : s->names.exact) {
      if (name == host) return s;
    }
  }
  const ServerBlock* best = nullptr;
  size_t best_len = 0;
  for (const auto* s : group.servers) {
    for (const auto& suffix : s->names.leading) {  // ".example.com"
      if (host.size() > suffix.size() && host.ends_with(suffix) && suffix.size() > best_len) {
        best = s;
        best_len = suffix.size();
      }
    }
  }
  if (best) return best;
  for (const auto* s : group.servers) {
    for (const auto& prefix : s->names.trailing) {  // "www.example."
      if (host.size() > prefix.size() && host.starts_with(prefix) && prefix.size() > best_len) {
        best = s;
        best_len = prefix.size();
      }
    }
  }
  if (best) return best;
  for (const auto* s : group.servers) {
    for (const auto& re : s->names.regex) {
      if (re->match(host)) return s;
    }
  }
  return group.default_server;
}

namespace {

struct Found {
  const Location* location = nullptr;
  bool final = false;     // exact or regex match, or a redirect: stop searching
  bool redirect = false;  // `location` is /x/ with proxy_pass and the URI is /x
};

Found find_in(const std::vector<std::unique_ptr<Location>>& locations, std::string_view uri,
              conf::Captures* captures) {
  const Location* best = nullptr;
  const Location* redirect = nullptr;
  for (const auto& l : locations) {
    switch (l->match) {
      case Location::Match::kExact:
        if (uri == l->pattern) return {l.get(), true};
        break;
      case Location::Match::kPrefix:
      case Location::Match::kPrefixNoRegex:
        if (uri.starts_with(l->pattern)) {
          if (!best || l->pattern.size() > best->pattern.size()) best = l.get();
        } else if (l->proxy && l->pattern.size() == uri.size() + 1 && l->pattern.back() == '/' &&
                   l->pattern.starts_with(uri)) {
          redirect = l.get();
        }
        break;
      default:
        break;
    }
  }
  // nginx's auto_redirect: `location /x/` handled by proxy_pass answers /x with
  // a 301 to /x/, unless a location matches /x itself; regexes are not tried.
  if (redirect && (!best || best->pattern.size() < uri.size())) return {redirect, true, true};
  bool noregex = false;
  if (best) {
    noregex = best->match == Location::Match::kPrefixNoRegex;
    if (!best->children.empty()) {
      Found nested = find_in(best->children, uri, captures);
      if (nested.final) return nested;
      if (nested.location) best = nested.location;
    }
  }
  if (!noregex) {
    for (const auto& l : locations) {
      if (l->match == Location::Match::kRegex && l->regex->match(uri, captures)) {
        return {l.get(), true};
      }
    }
  }
  return {best, false};
}

}  // namespace

const Location* find_location(const ServerBlock& server, std::string_view uri,
                              conf::Captures* captures, bool* redirect) {
  Found found = find_in(server.locations, uri, captures);
  if (redirect) *redirect = found.redirect;
  return found.location;
}

const Location* find_named_location(const ServerBlock& server, std::string_view name) {
  for (const auto& l : server.locations) {
    if (l->match == Location::Match::kNamed && l->pattern == name) return l.get();
  }
  return nullptr;
}

bool normalize_host(std::string_view raw, std::string& out) {
  // nginx's ngx_http_validate_host: the whole value (port included) is checked, ".." is
  // invalid, one trailing dot is dropped. Stricter than nginx: an unclosed "[" and a
  // backslash are rejected too.
  out.clear();
  enum class State { kUsual, kLiteral, kRest } state = State::kUsual;
  size_t dot_pos = raw.size();  // the last '.', none yet
  size_t host_len = raw.size();
  for (size_t i = 0; i < raw.size(); ++i) {
    auto c = static_cast<unsigned char>(raw[i]);
    switch (c) {
      case '.':
        if (dot_pos + 1 == i) return false;
        dot_pos = i;
        break;
      case ':':
        if (state == State::kUsual) {
          host_len = i;
          state = State::kRest;
        }
        break;
      case '[':
        if (i == 0) state = State::kLiteral;
        break;
      case ']':
        if (state == State::kLiteral) {
          host_len = i + 1;
          state = State::kRest;
        }
        break;
      default:
        if (c == '/' || c == '\\' || c <= 0x20 || c == 0x7f) return false;
        break;
    }
  }
  if (state == State::kLiteral) return false;
  if (dot_pos + 1 == host_len) --host_len;
  // An absent Host header gives an empty name; a present one must leave some name.
  if (host_len == 0) return raw.empty();
  out.reserve(host_len);
  for (char c : raw.substr(0, host_len)) {
    out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c | 0x20 : c));
  }
  return true;
}

bool normalize_uri(std::string_view path, std::string& out) {
  out.clear();
  if (path.empty() || path[0] != '/') return false;
  // Fast path: nothing to decode, merge or resolve (the common case).
  if (path.find('%') == std::string_view::npos && path.find("//") == std::string_view::npos &&
      path.find("/.") == std::string_view::npos) {
    out.assign(path);
    return true;
  }
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string decoded;
  decoded.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%') {
      if (i + 2 >= path.size()) return false;
      int h = hex(path[i + 1]), l = hex(path[i + 2]);
      if (h < 0 || l < 0) return false;
      c = static_cast<char>(h * 16 + l);
      i += 2;
      if (c == '\0') return false;
    }
    decoded.push_back(c);
  }
  // Merge slashes and resolve dot segments.
  out.reserve(decoded.size());
  size_t i = 0;
  while (i < decoded.size()) {
    // decoded[i] == '/'
    size_t j = i + 1;
    while (j < decoded.size() && decoded[j] == '/') ++j;  // merge_slashes on
    size_t end = decoded.find('/', j);
    if (end == std::string::npos) end = decoded.size();
    std::string_view seg(decoded.data() + j, end - j);
    if (seg == ".") {
      if (end == decoded.size()) out.push_back('/');
    } else if (seg == "..") {
      // `out` is "" (the root) or "/a/b" here: only the last segment is ever followed by '/'.
      if (out.empty()) return false;  // above the root
      out.resize(out.rfind('/'));
      if (end == decoded.size()) out.push_back('/');
    } else {
      out.push_back('/');
      out.append(seg);
    }
    i = end;
  }
  if (out.empty()) out = "/";
  return true;
}

}  // namespace tg::proxy
