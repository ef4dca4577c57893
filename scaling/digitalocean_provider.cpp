// The digitalocean provider: each call is one coroutine (ApiProvider runs it), GET then
// (for add and remove) PUT of the spec as read with one number changed.
#include "scaling/digitalocean_provider.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/json.hpp>
#include <stdexcept>

#include "scaling/api_provider.h"
#include "scaling/provider_params.h"

namespace tg::scaling {

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
template <class T>
using Task = asio::awaitable<T>;

struct Config {
  std::string app, service, address, token, api;
  Millis timeout{30000};
};

class DigitalOceanProvider final : public ApiProvider {
 public:
  DigitalOceanProvider(const ProviderContext& context, Config config)
      : ApiProvider(context.control, api_options("digitalocean", config.timeout, {}, {429})),
        config_(std::move(config)),
        path_("/v2/apps/" + url_encode_component(config_.app)) {}

  Kind kind() const override { return Kind::kCapacity; }
  std::string type() const override { return "digitalocean"; }

  void list(ListDone done) override { run(scale(0, true, new_call()), std::move(done)); }
  void add(int n, ListDone done) override {
    run(scale(std::max(n, 0), false, new_call()), std::move(done));
  }
  void remove(std::vector<Instance> instances, RemoveDone done) override {
    run(scale_in(static_cast<int>(instances.size()), new_call()), std::move(done));
  }

 private:
  // One API request within what is left of the call's time: the JSON answer of a 2xx,
  // or the error with DigitalOcean's id and message.
  Task<ProviderResult<json::value>> api(std::string method, std::string body, Call call) {
    const std::string what = method + " " + path_;
    HttpRequest request{method,
                        config_.api + path_,
                        {{"Authorization", "Bearer " + config_.token},
                         {"Accept", "application/json"},
                         {"User-Agent", user_agent()}},
                        std::move(body),
                        ""};
    if (method == "PUT") request.headers.emplace_back("Content-Type", "application/json");
    auto reply = co_await send(std::move(request), what, call);
    if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
    const auto& r = std::get<HttpResponse>(reply);
    boost::system::error_code ec;
    json::value answer = json::parse(r.body, ec);
    if (r.status >= 200 && r.status <= 299) {
      if (!ec) co_return answer;
      co_return error(what, "invalid JSON answer \"" + body_excerpt(r.body) + "\"");
    }
    const std::string id = json_text(answer, {"id"});
    const std::string text = json_text(answer, {"message"});
    co_return http_error(what, r, id + (id.empty() || text.empty() ? "" : ": ") + text);
  }

  // The service's entry in the spec, or why it cannot be scaled from here.
  std::variant<json::object*, ProviderError> service(json::value& spec) const {
    const std::string app = "app " + config_.app;
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
        return error(app,
                     "service \"" + config_.service +
                         "\" has an autoscaling block: App Platform's autoscaler would "
                         "fight tidegate's; remove one of them",
                     false);
      }
      return object;
    }
    return error(app,
                 "no service \"" + config_.service + "\" in its spec" +
                     (names.empty() ? "" : " (services: " + names + ")"),
                 false);
  }

  // Reads the spec and, when `more` is not 0, puts it back with instance_count + more;
  // then reports the new instances, or with `all` every one.
  Task<ProviderResult<std::vector<Instance>>> scale(int more, bool all, Call call) {
    auto changed = co_await change([more](int count) { return count + more; }, call);
    if (auto* e = std::get_if<ProviderError>(&changed)) co_return std::move(*e);
    const auto [before, after] = std::get<std::pair<int, int>>(changed);
    std::vector<Instance> out;
    for (int i = all ? 1 : before + 1; i <= after; ++i) {
      out.push_back({config_.service + "-" + std::to_string(i), config_.address});
    }
    co_return out;
  }

  Task<std::optional<ProviderError>> scale_in(int fewer, Call call) {
    auto changed = co_await change([fewer](int count) { return std::max(1, count - fewer); }, call);
    if (auto* e = std::get_if<ProviderError>(&changed)) co_return std::move(*e);
    co_return std::nullopt;
  }

  // GET the app, then PUT its spec with the count `to(count)` when that differs.
  Task<ProviderResult<std::pair<int, int>>> change(std::function<int(int)> to, Call call) {
    auto got = co_await api("GET", "", call);
    if (auto* e = std::get_if<ProviderError>(&got)) co_return std::move(*e);
    json::value& answer = std::get<json::value>(got);
    json::value* app = answer.is_object() ? answer.as_object().if_contains("app") : nullptr;
    json::value* spec = app && app->is_object() ? app->as_object().if_contains("spec") : nullptr;
    if (!spec || !spec->is_object()) {
      co_return error("GET " + path_, "no app.spec in the answer");
    }
    auto found = service(*spec);
    if (auto* e = std::get_if<ProviderError>(&found)) co_return std::move(*e);
    json::object& entry = *std::get<json::object*>(found);
    int count = 1;  // App Platform's default when the spec names none
    if (const json::value* n = entry.if_contains("instance_count")) {
      if (!n->is_int64() || n->as_int64() < 0 || n->as_int64() > 100000) {
        co_return error(
            "app " + config_.app,
            "instance_count of \"" + config_.service + "\" is not a count: " + json::serialize(*n),
            false);
      }
      count = static_cast<int>(n->as_int64());
    }
    const int target = to(count);
    if (target != count) {
      entry["instance_count"] = target;
      json::object body{{"spec", *spec}};
      auto put = co_await api("PUT", json::serialize(body), call);
      if (auto* e = std::get_if<ProviderError>(&put)) co_return std::move(*e);
    }
    co_return std::pair{count, target};
  }

  Config config_;
  std::string path_;  // /v2/apps/{app}
};

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
  check_parameters(
      spec, {"app", "service", "address", "token", "token_file", "api", "timeout", "spec_file"});
  Config config;
  for (const char* key : {"app", "service", "address"}) {
    // Given but empty is a mistake in the value, not a forgotten parameter.
    if (spec.param(key) && spec.param(key)->empty()) throw invalid_value(key, "");
    required_param(spec, key);
  }
  config.app = *spec.param("app");
  config.service = *spec.param("service");
  config.address = *spec.param("address");
  const auto colon = config.address.rfind(':');
  if (colon == 0 || colon == std::string::npos || !parse_port(config.address.substr(colon + 1))) {
    throw invalid_value("address", config.address);
  }
  const auto token = secret_param(spec, "token");
  if (!token) {
    throw std::invalid_argument("provider \"digitalocean\" needs token= or token_file=");
  }
  config.token = *token;
  config.api = base_url_param(spec, "api", "https://api.digitalocean.com");
  config.timeout = positive_duration_param(spec, "timeout", "30s");
  if (const auto file = spec.param("spec_file")) check_spec_file(*file, config.service);
  return std::make_unique<DigitalOceanProvider>(context, std::move(config));
}

}  // namespace tg::scaling
