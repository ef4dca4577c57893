// nginx's argument forms: ngx_parse_time, ngx_parse_offset, ngx_conf_set_num_slot and
// ngx_parse_url, as the builders in conf/ read them.
#include "conf/directive_args.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>

namespace tg::conf {

using boost::asio::ip::tcp;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

[[noreturn]] void fail(const Directive& d, const std::string& message) {
  throw ConfError(message, d.where);
}

// nginx's ngx_parse_time, transcribed: units from the most to the least
// significant, each at most once, optionally separated by spaces; a trailing
// bare number counts in seconds. `is_sec` gives seconds (no `ms`; `M` and `y`
// allowed) instead of milliseconds (no `M`, no `y`).
bool parse_nginx_time(std::string_view text, bool is_sec, int64_t& out) {
  enum Step { kStart, kYear, kMonth, kWeek, kDay, kHour, kMin, kSec, kMsec, kLast };
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kSecondsPerDay = 24 * 60 * 60;
  Step step = is_sec ? kStart : kMonth;
  int64_t value = 0;
  int64_t total = 0;
  bool valid = false;
  size_t p = 0;
  while (p < text.size()) {
    const char c = text[p++];
    if (c >= '0' && c <= '9') {
      if (value > (kMax - (c - '0')) / 10) return false;
      value = value * 10 + (c - '0');
      valid = true;
      continue;
    }
    Step next = kLast;
    int64_t scale = 1;
    switch (c) {
      case 'y':
        if (step > kStart) return false;
        next = kYear;
        scale = 365 * kSecondsPerDay;
        break;
      case 'M':
        next = kMonth;
        scale = 30 * kSecondsPerDay;
        break;
      case 'w':
        next = kWeek;
        scale = 7 * kSecondsPerDay;
        break;
      case 'd':
        next = kDay;
        scale = kSecondsPerDay;
        break;
      case 'h':
        next = kHour;
        scale = 60 * 60;
        break;
      case 'm':
        if (p < text.size() && text[p] == 's') {
          if (is_sec) return false;
          ++p;
          next = kMsec;
        } else {
          next = kMin;
          scale = 60;
        }
        break;
      case 's':
        next = kSec;
        break;
      case ' ':  // the bare number before a space is seconds
        if (step >= kSec) return false;
        next = kLast;
        break;
      default:
        return false;
    }
    if (c != 'y' && c != ' ' && step >= next) return false;
    step = next;
    if (step != kMsec && !is_sec) scale *= 1000;
    if (value > kMax / scale) return false;
    value *= scale;
    if (total > kMax - value) return false;
    total += value;
    value = 0;
    while (p < text.size() && text[p] == ' ') ++p;
  }
  if (!valid) return false;
  if (!is_sec) {
    if (value > kMax / 1000) return false;
    value *= 1000;
  }
  if (total > kMax - value) return false;
  out = total + value;
  return true;
}

Millis time_arg(const Directive& d, size_t i) {
  Millis t;
  if (!parse_time(d.args[i], t)) fail(d, "\"" + d.name + "\" directive invalid value");
  return t;
}

bool parse_seconds(std::string_view text, Millis& out) {
  int64_t seconds = 0;
  if (!parse_nginx_time(text, /*is_sec=*/true, seconds) ||
      seconds > std::numeric_limits<int64_t>::max() / 1000) {
    return false;
  }
  out = Millis(seconds * 1000);
  return true;
}

bool parse_int(const std::string& s, int& out) {
  if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), ::isdigit)) return false;
  out = std::stoi(s);
  return true;
}

// nginx's ngx_conf_set_num_slot.
int int_arg(const Directive& d, size_t i) {
  int n;
  if (!parse_int(d.args[i], n)) fail(d, "\"" + d.name + "\" directive invalid number");
  return n;
}

std::vector<tcp::endpoint> resolve(const std::string& text, int default_port, bool passive,
                                   std::string& host_out, int& port_out, std::string& error) {
  std::string host = text;
  int port = default_port;
  if (!host.empty() && host[0] == '[') {
    auto close = host.find(']');
    if (close == std::string::npos) {
      error = "invalid host";
      return {};
    }
    std::string rest = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!rest.empty()) {
      if (rest[0] != ':') {
        error = "invalid host";
        return {};
      }
      rest = rest.substr(1);
      if (rest.empty() || rest.size() > 5 || !std::all_of(rest.begin(), rest.end(), ::isdigit)) {
        error = "invalid port";
        return {};
      }
      port = std::stoi(rest);
    }
  } else if (auto colon = host.rfind(':'); colon != std::string::npos) {
    std::string p = host.substr(colon + 1);
    if (p.empty() || p.size() > 5 || !std::all_of(p.begin(), p.end(), ::isdigit)) {
      error = "invalid port";
      return {};
    }
    port = std::stoi(p);
    host = host.substr(0, colon);
    if (host.empty()) {
      error = "no host";
      return {};
    }
  } else if (!host.empty() && std::all_of(host.begin(), host.end(), ::isdigit)) {
    if (host.size() > 5) {
      error = "invalid port";
      return {};
    }
    port = std::stoi(host);  // `listen 8080`
    host = "*";
  }
  if (port < 1 || port > 65535) {
    error = "invalid port";
    return {};
  }
  if (host.empty()) {
    error = "no host";
    return {};
  }
  host_out = host;
  port_out = port;
  if (host == "*" || host.empty()) return {tcp::endpoint(tcp::v4(), static_cast<uint16_t>(port))};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || !res) {
    error = "host not found";
    return {};
  }
  std::vector<tcp::endpoint> out;
  for (addrinfo* a = res; a; a = a->ai_next) {
    tcp::endpoint ep;
    std::memcpy(ep.data(), a->ai_addr, a->ai_addrlen);
    ep.port(static_cast<uint16_t>(port));
    if (std::find(out.begin(), out.end(), ep) == out.end()) out.push_back(ep);
  }
  ::freeaddrinfo(res);
  return out;
}

std::string endpoint_text(const tcp::endpoint& ep) {
  auto addr = ep.address();
  std::string a = addr.to_string();
  if (addr.is_v6()) a = "[" + a + "]";
  return a + ":" + std::to_string(ep.port());
}

bool parse_time(std::string_view text, Millis& out) {
  int64_t ms = 0;
  if (!parse_nginx_time(text, /*is_sec=*/false, ms)) return false;
  out = Millis(ms);
  return true;
}

bool parse_size(std::string_view text, int64_t& out) {
  // nginx's ngx_parse_offset: bytes, or k/m/g (either case); overflow is invalid.
  if (text.empty()) return false;
  int64_t scale = 1;
  switch (text.back()) {
    case 'k':
    case 'K':
      scale = 1024;
      break;
    case 'm':
    case 'M':
      scale = 1024 * 1024;
      break;
    case 'g':
    case 'G':
      scale = 1024LL * 1024 * 1024;
      break;
    default:
      break;
  }
  if (scale != 1) text.remove_suffix(1);
  if (text.empty()) return false;
  int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    if (n > (std::numeric_limits<int64_t>::max() - (c - '0')) / 10) return false;
    n = n * 10 + (c - '0');
  }
  if (n > std::numeric_limits<int64_t>::max() / scale) return false;
  out = n * scale;
  return true;
}

}  // namespace tg::conf
