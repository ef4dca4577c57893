// The adapters' shared parameter checks.
#include "scaling/provider_params.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "common/error_log.h"
#include "scaling/http_client.h"
#include "scaling/provider.h"

namespace tg::scaling {

std::invalid_argument invalid_value(const std::string& key, const std::string& value) {
  return std::invalid_argument("invalid value \"" + value + "\" of \"" + key + "=\"");
}

void check_parameters(const ProviderSpec& spec, std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : spec.params) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      throw std::invalid_argument("unknown parameter \"" + key + "\" of provider \"" + spec.type +
                                  "\"");
    }
  }
}

std::string required_param(const ProviderSpec& spec, const std::string& key) {
  std::string value = spec.param(key).value_or("");
  if (value.empty()) {
    throw std::invalid_argument("provider \"" + spec.type + "\" needs " + key + "=");
  }
  return value;
}

std::optional<int> parse_port(std::string_view text) {
  // from_chars alone would take a sign.
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  int port = 0;
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, port);
  if (ec != std::errc() || p != end || port < 1 || port > 65535) return std::nullopt;
  return port;
}

int port_param(const ProviderSpec& spec) {
  const auto text = spec.param("port");
  if (!text) throw std::invalid_argument("provider \"" + spec.type + "\" needs port=");
  const auto port = parse_port(*text);
  if (!port) throw invalid_value("port", *text);
  return *port;
}

Millis positive_duration_param(const ProviderSpec& spec, const std::string& key,
                               const std::string& fallback) {
  const std::string text = spec.param(key).value_or(fallback);
  const Millis d = provider_duration(key, text);
  if (d.count() == 0) throw invalid_value(key, text);
  return d;
}

std::string base_url_param(const ProviderSpec& spec, const std::string& key,
                           const std::string& fallback) {
  std::string value = spec.param(key).value_or(fallback);
  if (!parse_http_url(value)) throw invalid_value(key, value);
  while (value.ends_with('/')) value.pop_back();
  return value;
}

namespace {

std::string read_secret_file(const std::string& key, const std::string& path) {
  const auto failed = [&](int err) {
    return std::invalid_argument("cannot read " + key + " \"" + path + "\" " + errno_text(err));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw failed(errno);
  std::string secret;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw failed(err);
    }
    if (n == 0) break;
    secret.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) throw std::invalid_argument(key + " \"" + path + "\" is empty");
  return secret;
}

}  // namespace

std::optional<std::string> secret_param(const ProviderSpec& spec, const std::string& key) {
  const std::string file_key = key + "_file";
  const auto inline_value = spec.param(key);
  const auto file = spec.param(file_key);
  if (inline_value && file) {
    throw std::invalid_argument("provider \"" + spec.type + "\" takes " + key + "= or " + file_key +
                                "=, not both");
  }
  if (inline_value && inline_value->empty()) throw invalid_value(key, "");
  if (file) return read_secret_file(file_key, *file);
  return inline_value;
}

}  // namespace tg::scaling
