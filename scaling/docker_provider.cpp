// The docker provider: each call is one coroutine that reads like the Engine API requests
// it makes over the unix socket, on HttpClient, under one deadline for the whole call.
#include "scaling/docker_provider.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <set>
#include <stdexcept>

#include "scaling/http_client.h"

namespace tg::scaling {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// From here to ApiCaller's end, kubernetes_provider.cpp and docker_provider.cpp hold the
// same text: one file for both is due once they may share one.

json::value parse_json(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value() : v;
}

// The member at `keys` below `v`, or nullptr.
const json::value* find(const json::value& v, std::initializer_list<std::string_view> keys) {
  const json::value* at = &v;
  for (const std::string_view key : keys) {
    const json::object* object = at->if_object();
    at = object ? object->if_contains(key) : nullptr;
    if (!at) return nullptr;
  }
  return at;
}

void check_parameters(const ProviderSpec& spec, std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : spec.params) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      throw std::invalid_argument("unknown parameter \"" + key + "\" of provider \"" + spec.type +
                                  "\"");
    }
  }
}

int port_parameter(const ProviderSpec& spec) {
  const auto text = spec.param("port");
  if (!text) throw std::invalid_argument("provider \"" + spec.type + "\" needs port=");
  int port = 0;
  const char* end = text->data() + text->size();
  const auto [p, ec] = std::from_chars(text->data(), end, port);
  if (ec != std::errc() || p != end || port < 1 || port > 65535) {
    throw std::invalid_argument("invalid value \"" + *text + "\" of \"port=\"");
  }
  return port;
}

Millis positive_duration(const ProviderSpec& spec, const std::string& key, const char* fallback) {
  const std::string text = spec.param(key).value_or(fallback);
  const Millis d = provider_duration(key, text);
  if (d.count() == 0)
    throw std::invalid_argument("invalid value \"" + text + "\" of \"" + key + "=\"");
  return d;
}

// Runs a provider's calls as coroutines on HttpClient: one deadline per call, failures in
// the provider's words, shutdown() cancels what is in flight, and destroying the caller
// drops the calls (their callbacks never run, as HttpClient's).
class ApiCaller {
 public:
  using Clock = std::chrono::steady_clock;
  using Deadline = Clock::time_point;
  using Reply = std::variant<HttpResponse, ProviderError>;

  ApiCaller(asio::io_context& io, std::unique_ptr<HttpClient> client, std::string prefix,
            Millis timeout)
      : io_(io), prefix_(std::move(prefix)), timeout_(timeout), client_(std::move(client)) {}

  Deadline deadline() const { return Clock::now() + timeout_; }
  Millis timeout() const { return timeout_; }

  // Runs `work` and hands its result to `done`, unless this caller is gone by then.
  template <class T, class Done>
  void spawn(asio::awaitable<T> work, Done done) {
    asio::co_spawn(io_, std::move(work),
                   [life = std::weak_ptr<Life>(life_), prefix = prefix_, done = std::move(done)](
                       std::exception_ptr escaped, T result) {
                     if (life.expired()) return;
                     if (escaped) {
                       try {
                         std::rethrow_exception(escaped);
                       } catch (const std::exception& e) {
                         result = T(ProviderError{prefix + "internal error: " + e.what(), true});
                       } catch (...) {
                         result = T(ProviderError{prefix + "internal error", true});
                       }
                     }
                     done(std::move(result));
                   });
  }

  // Sends `request` (`what` names it in errors); any HTTP status is an answer.
  asio::awaitable<Reply> send(HttpRequest request, std::string what, Deadline deadline) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    if (life_->stopped) co_return ProviderError{prefix_ + what + ": cancelled", true};
    if (left.count() <= 0) co_return timed_out(what);
    HttpResult result =
        co_await asio::async_initiate<decltype(asio::use_awaitable), void(HttpResult)>(
            [this](auto handler, HttpRequest request, Millis left) {
              // HttpClient takes a std::function, which must be copyable.
              auto shared = std::make_shared<decltype(handler)>(std::move(handler));
              client_->send(std::move(request), left,
                            [shared](HttpResult r) { std::move (*shared)(std::move(r)); });
            },
            asio::use_awaitable, std::move(request), left);
    if (auto* error = std::get_if<std::string>(&result)) {
      if (error->starts_with("timed out")) co_return timed_out(what);
      co_return ProviderError{prefix_ + what + ": " + *error, true};
    }
    co_return std::get<HttpResponse>(std::move(result));
  }

  // Waits `d`; the error to end the call with instead when shutdown() or the caller's end
  // came meanwhile (then `this` must not be touched again).
  asio::awaitable<std::optional<ProviderError>> pause(Millis d) {
    const std::weak_ptr<Life> weak = life_;
    ProviderError stopped{prefix_ + "cancelled", true};
    asio::steady_timer timer(io_, d);
    const Registration registration{weak, &timer};
    life_->timers.insert(&timer);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    const auto life = weak.lock();
    if (!life || life->stopped) co_return stopped;
    co_return std::nullopt;
  }

  void shutdown() {
    life_->stopped = true;
    for (auto* timer : life_->timers) timer->cancel();
    client_->cancel_all();
  }

  // A non-2xx answer: its status and the API's own `message`.
  ProviderError failure(const std::string& what, const HttpResponse& r) const {
    std::string message = prefix_ + what + ": HTTP " + std::to_string(r.status);
    const json::value body = parse_json(r.body);
    const json::value* text = find(body, {"message"});
    if (text && text->is_string() && !text->as_string().empty()) {
      message += ": " + std::string(text->as_string());
    } else if (!r.body.empty()) {
      message += ": " + body_excerpt(r.body);
    }
    const int s = r.status;
    return {std::move(message), s == 408 || s == 409 || s == 429 || s >= 500};
  }

  ProviderError invalid(const std::string& what, const std::string& why) const {
    return {prefix_ + what + ": invalid answer: " + why, true};
  }

 private:
  struct Life {
    bool stopped = false;
    std::set<asio::steady_timer*> timers;  // pauses in progress, for shutdown()
  };
  struct Registration {
    std::weak_ptr<Life> life;
    asio::steady_timer* timer;
    ~Registration() {
      if (auto l = life.lock()) l->timers.erase(timer);
    }
  };

  ProviderError timed_out(const std::string& what) const {
    return {prefix_ + what + ": timed out after " + format_timeout(timeout_), true};
  }

  asio::io_context& io_;
  std::string prefix_;
  Millis timeout_;
  std::shared_ptr<Life> life_ = std::make_shared<Life>();
  std::unique_ptr<HttpClient> client_;  // last: destroyed first, dropping its callbacks
};

// "host:port" for a published port; an unspecified host address means every interface,
// of which the loopback one is tidegate's way in.
std::string published_address(std::string ip, const std::string& port) {
  if (ip.empty() || ip == "0.0.0.0" || ip == "::") ip = "127.0.0.1";
  return (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + port;
}

class DockerProvider final : public Provider {
 public:
  struct Settings {
    std::string socket, prefix, image, network, label_key, label_value;
    std::vector<std::string> env;
    int port = 0;
  };

  DockerProvider(asio::io_context& io, Settings settings, Millis timeout)
      : s_(std::move(settings)),
        port_key_(std::to_string(s_.port) + "/tcp"),
        api_(io, std::make_unique<HttpClient>(io), "docker provider: ", timeout) {}

  std::string type() const override { return "docker"; }

  void list(ListDone done) override { api_.spawn(running(api_.deadline()), std::move(done)); }
  void add(int n, ListDone done) override {
    api_.spawn(create(n, api_.deadline()), std::move(done));
  }
  void remove(std::vector<Instance> instances, RemoveDone done) override {
    api_.spawn(destroy(std::move(instances), api_.deadline()), std::move(done));
  }
  void shutdown() override { api_.shutdown(); }

 private:
  using Instances = std::vector<Instance>;
  using ListResult = ProviderResult<Instances>;
  using Deadline = ApiCaller::Deadline;
  using Reply = ApiCaller::Reply;

  asio::awaitable<Reply> call(std::string method, std::string path, std::string query,
                              std::string body, Deadline deadline) {
    HttpRequest request;
    request.method = std::move(method);
    request.unix_socket = s_.socket;
    request.url = "http://localhost" + s_.prefix + path + query;
    request.headers = {{"Accept", "application/json"}};
    if (!body.empty()) request.headers.emplace_back("Content-Type", "application/json");
    request.body = std::move(body);
    const std::string what = request.method + " " + s_.prefix + path;
    co_return co_await api_.send(std::move(request), what, deadline);
  }

  asio::awaitable<ListResult> running(Deadline deadline) {
    json::object filters;
    filters["label"] = json::array{
        json::string(s_.label_value.empty() ? s_.label_key : s_.label_key + "=" + s_.label_value)};
    filters["status"] = json::array{"running"};
    const std::string query = "?filters=" + url_encode_component(json::serialize(filters));
    auto reply = co_await call("GET", "/containers/json", query, "", deadline);
    if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
    const auto& response = std::get<HttpResponse>(reply);
    const std::string what = "GET " + s_.prefix + "/containers/json";
    if (response.status != 200) co_return api_.failure(what, response);
    const json::value doc = parse_json(response.body);
    if (!doc.is_array()) co_return api_.invalid(what, "not an array");
    Instances out;
    for (const json::value& c : doc.as_array()) {
      const json::value* id = find(c, {"Id"});
      const json::value* ports = find(c, {"Ports"});
      if (!id || !id->is_string() || !ports || !ports->is_array()) continue;
      std::optional<std::string> address;
      for (const json::value& p : ports->as_array()) {
        const json::value* private_port = find(p, {"PrivatePort"});
        const json::value* public_port = find(p, {"PublicPort"});
        const json::value* type = find(p, {"Type"});
        const json::value* ip = find(p, {"IP"});
        if (!private_port || !private_port->is_int64() || private_port->as_int64() != s_.port ||
            !public_port || !public_port->is_int64() || (type && *type != "tcp")) {
          continue;
        }
        const std::string host = ip && ip->is_string() ? std::string(ip->as_string()) : "";
        // Docker lists an IPv4 and an IPv6 binding of one port apart: IPv4 first.
        if (!address || host.find(':') == std::string::npos) {
          address = published_address(host, std::to_string(public_port->as_int64()));
        }
      }
      if (address) out.push_back({std::string(id->as_string()).substr(0, 12), *address});
    }
    co_return out;
  }

  std::string create_body() const {
    json::object labels;
    labels[s_.label_key] = s_.label_value;
    json::array env;
    for (const auto& e : s_.env) env.emplace_back(e);
    json::object exposed;
    exposed[port_key_] = json::object();
    json::object binding;
    binding["HostIp"] = "127.0.0.1";
    binding["HostPort"] = "";  // Docker picks a free port
    json::object bindings;
    bindings[port_key_] = json::array{binding};
    json::object host;
    host["PortBindings"] = std::move(bindings);
    if (!s_.network.empty()) host["NetworkMode"] = s_.network;
    json::object body;
    body["Image"] = s_.image;
    body["Labels"] = std::move(labels);
    body["Env"] = std::move(env);
    body["ExposedPorts"] = std::move(exposed);
    body["HostConfig"] = std::move(host);
    return json::serialize(body);
  }

  // One container created, started and inspected; `created` gets its id once it exists.
  asio::awaitable<ProviderResult<Instance>> start_one(std::string& created, Deadline deadline) {
    auto reply = co_await call("POST", "/containers/create", "", create_body(), deadline);
    if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
    const auto& answer = std::get<HttpResponse>(reply);
    const std::string what = "POST " + s_.prefix + "/containers/create";
    if (answer.status != 201) co_return api_.failure(what, answer);
    const json::value created_doc = parse_json(answer.body);
    const json::value* id = find(created_doc, {"Id"});
    if (!id || !id->is_string() || id->as_string().empty()) {
      co_return api_.invalid(what, "no \"Id\"");
    }
    created = std::string(id->as_string());
    const std::string path = "/containers/" + created;
    reply = co_await call("POST", path + "/start", "", "", deadline);
    if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
    const auto& started = std::get<HttpResponse>(reply);
    if (started.status != 204 && started.status != 304) {
      co_return api_.failure("POST " + s_.prefix + path + "/start", started);
    }
    reply = co_await call("GET", path + "/json", "", "", deadline);
    if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
    const auto& inspected = std::get<HttpResponse>(reply);
    if (inspected.status != 200) {
      co_return api_.failure("GET " + s_.prefix + path + "/json", inspected);
    }
    const json::value doc = parse_json(inspected.body);
    const json::value* bindings = find(doc, {"NetworkSettings", "Ports", port_key_});
    std::optional<std::string> address;
    if (bindings && bindings->is_array()) {
      for (const json::value& b : bindings->as_array()) {
        const json::value* ip = find(b, {"HostIp"});
        const json::value* port = find(b, {"HostPort"});
        if (!port || !port->is_string() || port->as_string().empty()) continue;
        const std::string host = ip && ip->is_string() ? std::string(ip->as_string()) : "";
        if (!address || host.find(':') == std::string::npos) {
          address = published_address(host, std::string(port->as_string()));
        }
      }
    }
    if (!address) {
      co_return api_.invalid("GET " + s_.prefix + path + "/json", port_key_ + " is not published");
    }
    co_return Instance{created.substr(0, 12), *address};
  }

  asio::awaitable<ListResult> create(int n, Deadline deadline) {
    Instances out;
    std::vector<std::string> created;
    for (int i = 0; i < n; ++i) {
      std::string id;
      auto one = co_await start_one(id, deadline);
      if (!id.empty()) created.push_back(id);
      if (auto* e = std::get_if<ProviderError>(&one)) {
        // What this call made goes again; the caller hears of the failure at once, as
        // the clean-up has a deadline of its own.
        api_.spawn(force_delete(std::move(created), api_.deadline()),
                   [](std::optional<ProviderError>) {});
        co_return std::move(*e);
      }
      out.push_back(std::get<Instance>(std::move(one)));
    }
    co_return out;
  }

  asio::awaitable<std::optional<ProviderError>> force_delete(std::vector<std::string> ids,
                                                             Deadline deadline) {
    for (const auto& id : ids) {
      co_await call("DELETE", "/containers/" + id, "?force=true&v=true", "", deadline);
    }
    co_return std::nullopt;
  }

  asio::awaitable<std::optional<ProviderError>> destroy(Instances instances, Deadline deadline) {
    for (const Instance& i : instances) {
      const std::string path = "/containers/" + url_encode_component(i.id);
      auto reply = co_await call("POST", path + "/stop", "?t=10", "", deadline);
      if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
      const auto& stopped = std::get<HttpResponse>(reply);
      if (stopped.status == 404) continue;
      if (stopped.status != 204 && stopped.status != 304) {
        co_return api_.failure("POST " + s_.prefix + path + "/stop", stopped);
      }
      reply = co_await call("DELETE", path, "?v=true", "", deadline);
      if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
      const auto& deleted = std::get<HttpResponse>(reply);
      if (deleted.status != 204 && deleted.status != 200 && deleted.status != 404) {
        co_return api_.failure("DELETE " + s_.prefix + path, deleted);
      }
    }
    co_return std::nullopt;
  }

  Settings s_;
  std::string port_key_;  // "8080/tcp"
  ApiCaller api_;         // last: destroyed first, with the calls in flight
};

}  // namespace

std::unique_ptr<Provider> make_docker_provider(const ProviderSpec& spec,
                                               const ProviderContext& context) {
  check_parameters(
      spec, {"image", "port", "socket", "network", "label", "env", "api_version", "timeout"});
  DockerProvider::Settings s;
  s.image = spec.param("image").value_or("");
  if (s.image.empty()) throw std::invalid_argument("provider \"docker\" needs image=");
  s.port = port_parameter(spec);
  s.socket = spec.param("socket").value_or("/var/run/docker.sock");
  s.network = spec.param("network").value_or("");
  const std::string version = spec.param("api_version").value_or("1.44");
  if (version.empty() || version.find_first_not_of("0123456789.") != std::string::npos) {
    throw std::invalid_argument("invalid value \"" + version + "\" of \"api_version=\"");
  }
  s.prefix = "/v" + version;
  const std::string label = spec.param("label").value_or("tidegate.group=" + context.group);
  const auto eq = label.find('=');
  s.label_key = label.substr(0, eq);
  s.label_value = eq == std::string::npos ? "" : label.substr(eq + 1);
  if (s.label_key.empty())
    throw std::invalid_argument("invalid value \"" + label + "\" of \"label=\"");
  for (const auto& [key, value] : spec.params) {
    if (key != "env") continue;
    if (value.find('=') == std::string::npos || value.front() == '=') {
      throw std::invalid_argument("invalid value \"" + value + "\" of \"env=\"");
    }
    s.env.push_back(value);
  }
  const Millis timeout = positive_duration(spec, "timeout", "30s");
  return std::make_unique<DockerProvider>(context.control, std::move(s), timeout);
}

}  // namespace tg::scaling
