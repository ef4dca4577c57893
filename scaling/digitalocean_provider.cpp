// The digitalocean provider: each call is one coroutine, GET then (for add and remove)
// PUT of the spec as read with one number changed. HttpClient is awaited through an
// adapter whose callback is dropped when the provider is destroyed, so a call in flight
// then never resumes.
#include "scaling/digitalocean_provider.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/error_log.h"
#include "scaling/http_client.h"

#ifndef TIDEGATE_VERSION
#define TIDEGATE_VERSION "dev"
#endif

namespace tg::scaling {

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
template <class T>
using Task = asio::awaitable<T>;

struct Config {
  std::string app, service, address, token, api;
  Millis timeout{30000};
};

std::string what(std::exception_ptr escaped) {
  try {
    std::rethrow_exception(escaped);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

// Runs `work` only if the provider still exists when the posted start comes round.
template <class R>
Task<R> guarded(std::shared_ptr<bool> alive, Task<R> work) {
  if (!*alive) co_return R{};
  co_return co_await std::move(work);
}

class DigitalOceanProvider final : public Provider {
 public:
  DigitalOceanProvider(const ProviderContext& context, Config config)
      : io_(context.control),
        config_(std::move(config)),
        path_("/v2/apps/" + url_encode_component(config_.app)),
        client_(io_) {}

  ~DigitalOceanProvider() override { *alive_ = false; }

  Kind kind() const override { return Kind::kCapacity; }
  std::string type() const override { return "digitalocean"; }

  void list(ListDone done) override { start(scale(0, true), std::move(done)); }
  void add(int n, ListDone done) override { start(scale(std::max(n, 0), false), std::move(done)); }
  void remove(std::vector<Instance> instances, RemoveDone done) override {
    start(scale_in(static_cast<int>(instances.size())), std::move(done));
  }
  void shutdown() override { client_.cancel_all(); }

 private:
  template <class R, class Done>
  void start(Task<R> work, Done done) {
    asio::co_spawn(io_, guarded(alive_, std::move(work)),
                   [alive = alive_, done = std::move(done)](std::exception_ptr escaped, R result) {
                     if (!*alive) return;
                     if (escaped) {
                       result =
                           ProviderError{"digitalocean provider: internal error: " + what(escaped)};
                     }
                     done(std::move(result));
                   });
  }

  // One API request within what is left of the call's time: the JSON answer of a 2xx,
  // or the error with DigitalOcean's id and message.
  Task<ProviderResult<json::value>> api(std::string method, std::string body,
                                        Clock::time_point deadline) {
    const std::string prefix = "digitalocean provider: " + method + " " + path_ + ": ";
    const auto left = std::chrono::ceil<Millis>(deadline - Clock::now());
    if (left <= Millis(0)) {
      co_return ProviderError{prefix + "timed out after " + format_timeout(config_.timeout)};
    }
    HttpRequest request{method,
                        config_.api + path_,
                        {{"Authorization", "Bearer " + config_.token},
                         {"Accept", "application/json"},
                         {"User-Agent", "tidegate/" TIDEGATE_VERSION}},
                        std::move(body),
                        ""};
    if (method == "PUT") request.headers.emplace_back("Content-Type", "application/json");
    auto result = co_await asio::async_initiate<const asio::use_awaitable_t<>, void(HttpResult)>(
        [this](auto handler, HttpRequest request, Millis timeout) {
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          client_.send(std::move(request), timeout,
                       [shared](HttpResult r) { std::move (*shared)(std::move(r)); });
        },
        asio::use_awaitable, std::move(request), left);
    if (auto* e = std::get_if<std::string>(&result)) {
      if (e->starts_with("timed out")) *e = "timed out after " + format_timeout(config_.timeout);
      co_return ProviderError{prefix + *e};
    }
    const auto& r = std::get<HttpResponse>(result);
    boost::system::error_code ec;
    json::value answer = json::parse(r.body, ec);
    if (r.status >= 200 && r.status <= 299) {
      if (!ec) co_return answer;
      co_return ProviderError{prefix + "invalid JSON answer \"" + body_excerpt(r.body) + "\""};
    }
    std::string message = prefix + "HTTP " + std::to_string(r.status);
    const json::object* error = ec ? nullptr : answer.if_object();
    const json::value* id = error ? error->if_contains("id") : nullptr;
    const json::value* text = error ? error->if_contains("message") : nullptr;
    if (id && id->is_string()) message += std::string(": ") + id->as_string().c_str();
    if (text && text->is_string()) {
      message += std::string(": ") + text->as_string().c_str();
    } else if ((!id || !id->is_string()) && !r.body.empty()) {
      message += ": " + body_excerpt(r.body);
    }
    co_return ProviderError{std::move(message), r.status == 429 || r.status >= 500};
  }

  // The service's entry in the spec, or why it cannot be scaled from here.
  std::variant<json::object*, ProviderError> service(json::value& spec) const {
    const std::string prefix = "digitalocean provider: app " + config_.app + ": ";
    json::value* services = spec.is_object() ? spec.as_object().if_contains("services") : nullptr;
    json::array* list = services ? services->if_array() : nullptr;
    std::string names;
    for (std::size_t i = 0; list && i < list->size(); ++i) {
      json::object* object = (*list)[i].if_object();
      const json::value* name = object ? object->if_contains("name") : nullptr;
      if (!name || !name->is_string()) continue;
      if (name->as_string() != config_.service) {
        names += std::string(names.empty() ? "" : ", ") + name->as_string().c_str();
        continue;
      }
      if (const json::value* a = object->if_contains("autoscaling"); a && !a->is_null()) {
        return ProviderError{prefix + "service \"" + config_.service +
                                 "\" has an autoscaling block: App Platform's autoscaler would "
                                 "fight tidegate's; remove one of them",
                             false};
      }
      return object;
    }
    return ProviderError{prefix + "no service \"" + config_.service + "\" in its spec" +
                             (names.empty() ? "" : " (services: " + names + ")"),
                         false};
  }

  // Reads the spec and, when `more` is not 0, puts it back with instance_count + more;
  // then reports the new instances, or with `all` every one.
  Task<ProviderResult<std::vector<Instance>>> scale(int more, bool all) {
    auto changed = co_await change([more](int count) { return count + more; });
    if (auto* e = std::get_if<ProviderError>(&changed)) co_return std::move(*e);
    const auto [before, after] = std::get<std::pair<int, int>>(changed);
    std::vector<Instance> out;
    for (int i = all ? 1 : before + 1; i <= after; ++i) {
      out.push_back({config_.service + "-" + std::to_string(i), config_.address});
    }
    co_return out;
  }

  Task<std::optional<ProviderError>> scale_in(int fewer) {
    auto changed = co_await change([fewer](int count) { return std::max(1, count - fewer); });
    if (auto* e = std::get_if<ProviderError>(&changed)) co_return std::move(*e);
    co_return std::nullopt;
  }

  // GET the app, then PUT its spec with the count `to(count)` when that differs.
  Task<ProviderResult<std::pair<int, int>>> change(std::function<int(int)> to) {
    const auto deadline = Clock::now() + config_.timeout;
    auto got = co_await api("GET", "", deadline);
    if (auto* e = std::get_if<ProviderError>(&got)) co_return std::move(*e);
    json::value& answer = std::get<json::value>(got);
    json::value* app = answer.is_object() ? answer.as_object().if_contains("app") : nullptr;
    json::value* spec = app && app->is_object() ? app->as_object().if_contains("spec") : nullptr;
    if (!spec || !spec->is_object()) {
      co_return ProviderError{"digitalocean provider: GET " + path_ +
                              ": no app.spec in the answer"};
    }
    auto found = service(*spec);
    if (auto* e = std::get_if<ProviderError>(&found)) co_return std::move(*e);
    json::object& entry = *std::get<json::object*>(found);
    int count = 1;  // App Platform's default when the spec names none
    if (const json::value* n = entry.if_contains("instance_count")) {
      if (!n->is_int64() || n->as_int64() < 0 || n->as_int64() > 100000) {
        co_return ProviderError{"digitalocean provider: app " + config_.app +
                                    ": instance_count of \"" + config_.service +
                                    "\" is not a count: " + json::serialize(*n),
                                false};
      }
      count = static_cast<int>(n->as_int64());
    }
    const int target = to(count);
    if (target != count) {
      entry["instance_count"] = target;
      json::object body{{"spec", *spec}};
      auto put = co_await api("PUT", json::serialize(body), deadline);
      if (auto* e = std::get_if<ProviderError>(&put)) co_return std::move(*e);
    }
    co_return std::pair{count, target};
  }

  asio::io_context& io_;
  Config config_;
  std::string path_;  // /v2/apps/{app}
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  HttpClient client_;  // last: destroyed first, dropping the callbacks that resume calls
};

std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw std::invalid_argument("cannot read token_file \"" + path + "\" " + errno_text(errno));
  std::stringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  // Files written with `echo` end in a newline that is not part of the token.
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.empty()) throw std::invalid_argument("token_file \"" + path + "\" is empty");
  return token;
}

// The app spec the app was created from (.do/app.yaml): the service must be in it and
// not autoscaled by App Platform.
void check_spec_file(const std::string& path, const std::string& service) {
  YAML::Node spec;
  try {
    spec = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument("cannot read spec_file \"" + path + "\": " + e.what());
  }
  const YAML::Node services = spec.IsMap() ? spec["services"] : YAML::Node();
  for (std::size_t i = 0; services.IsSequence() && i < services.size(); ++i) {
    const YAML::Node s = services[i];
    if (!s.IsMap() || !s["name"] || !s["name"].IsScalar() || s["name"].Scalar() != service) {
      continue;
    }
    if (s["autoscaling"] && !s["autoscaling"].IsNull()) {
      throw std::invalid_argument("service \"" + service + "\" in spec_file \"" + path +
                                  "\" has an autoscaling block: App Platform's autoscaler would "
                                  "fight tidegate's; remove one of them");
    }
    return;
  }
  throw std::invalid_argument("no service \"" + service + "\" in spec_file \"" + path + "\"");
}

}  // namespace

std::unique_ptr<Provider> make_digitalocean_provider(const ProviderSpec& spec,
                                                     const ProviderContext& context) {
  const auto invalid = [](const std::string& key, const std::string& value) {
    return std::invalid_argument("invalid value \"" + value + "\" of \"" + key + "=\"");
  };
  for (const auto& [key, value] : spec.params) {
    if (key != "app" && key != "service" && key != "address" && key != "token" &&
        key != "token_file" && key != "api" && key != "timeout" && key != "spec_file") {
      throw std::invalid_argument("unknown parameter \"" + key + "\" of provider \"digitalocean\"");
    }
  }
  Config config;
  for (const char* key : {"app", "service", "address"}) {
    const auto value = spec.param(key);
    if (!value) {
      throw std::invalid_argument("provider \"digitalocean\" needs " + std::string(key) + "=");
    }
    if (value->empty()) throw invalid(key, "");
  }
  config.app = *spec.param("app");
  config.service = *spec.param("service");
  config.address = *spec.param("address");
  const auto colon = config.address.rfind(':');
  const std::string port = colon == std::string::npos ? "" : config.address.substr(colon + 1);
  if (colon == 0 || port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(port) < 1 || std::stoi(port) > 65535) {
    throw invalid("address", config.address);
  }
  const auto token = spec.param("token");
  const auto token_file = spec.param("token_file");
  if (token && token_file) {
    throw std::invalid_argument("provider \"digitalocean\" takes token= or token_file=, not both");
  }
  if (!token && !token_file) {
    throw std::invalid_argument("provider \"digitalocean\" needs token= or token_file=");
  }
  if (token && token->empty()) throw invalid("token", "");
  config.token = token ? *token : read_token_file(*token_file);
  config.api = spec.param("api").value_or("https://api.digitalocean.com");
  if (!parse_http_url(config.api)) throw invalid("api", config.api);
  while (config.api.ends_with('/')) config.api.pop_back();
  const std::string timeout = spec.param("timeout").value_or("30s");
  config.timeout = provider_duration("timeout", timeout);
  if (config.timeout.count() == 0) throw invalid("timeout", timeout);
  if (const auto file = spec.param("spec_file")) check_spec_file(*file, config.service);
  return std::make_unique<DigitalOceanProvider>(context, std::move(config));
}

}  // namespace tg::scaling
