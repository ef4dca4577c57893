// The docker provider: each call is one coroutine that reads like the Engine API requests
// it makes over the unix socket (ApiProvider runs it).
#include "scaling/docker_provider.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <stdexcept>

#include "scaling/api_provider.h"
#include "scaling/provider_params.h"

namespace tg::scaling {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// "host:port" for a published port; an unspecified host address means every interface,
// of which the loopback one is tidegate's way in.
std::string published_address(std::string ip, const std::string& port) {
  if (ip.empty() || ip == "0.0.0.0" || ip == "::") ip = "127.0.0.1";
  return (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + port;
}

class DockerProvider final : public ApiProvider {
 public:
  struct Settings {
    std::string socket, prefix, image, network, label_key, label_value;
    std::vector<std::string> env;
    int port = 0;
    bool swarm = false;            // mode=swarm: a capacity provider over one service
    std::string service, address;  // swarm mode's service and its one upstream address
  };

  DockerProvider(asio::io_context& io, Settings settings, Millis timeout)
      : ApiProvider(io, api_options("docker", timeout)),
        s_(std::move(settings)),
        port_key_(std::to_string(s_.port) + "/tcp") {}

  std::string type() const override { return "docker"; }
  Kind kind() const override { return s_.swarm ? Kind::kCapacity : Kind::kInstances; }

  void list(ListDone done) override {
    if (s_.swarm) return run(scale(0, true, new_call()), std::move(done));
    run(running(new_call()), std::move(done));
  }
  void add(int n, ListDone done) override {
    if (s_.swarm) return run(scale(std::max(n, 0), false, new_call()), std::move(done));
    run(create(n, new_call()), std::move(done));
  }
  void remove(std::vector<Instance> instances, RemoveDone done) override {
    if (s_.swarm) {
      return run(scale_in(static_cast<int>(instances.size()), new_call()), std::move(done));
    }
    run(destroy(std::move(instances), new_call()), std::move(done));
  }

 private:
  using Instances = std::vector<Instance>;
  using ListResult = ProviderResult<Instances>;

  // Sends one Engine API request over the socket; any status is an answer.
  asio::awaitable<Reply> api(std::string method, std::string path, std::string query,
                             std::string body, Call call) {
    HttpRequest request;
    request.method = std::move(method);
    request.unix_socket = s_.socket;
    request.url = "http://localhost" + s_.prefix + path + query;
    request.headers = {{"Accept", "application/json"}};
    if (!body.empty()) request.headers.emplace_back("Content-Type", "application/json");
    request.body = std::move(body);
    const std::string what = request.method + " " + s_.prefix + path;
    co_return co_await send(std::move(request), what, call);
  }

  // A failed answer, quoting the Engine's {"message"}.
  ProviderError failure(const std::string& what, const HttpResponse& r) const {
    return http_error(what, r, json_text(parse_json_or_null(r.body), {"message"}));
  }

  asio::awaitable<ListResult> running(Call call) {
    json::object filters;
    filters["label"] = json::array{
        json::string(s_.label_value.empty() ? s_.label_key : s_.label_key + "=" + s_.label_value)};
    filters["status"] = json::array{"running"};
    const std::string query = "?filters=" + url_encode_component(json::serialize(filters));
    auto reply = co_await api("GET", "/containers/json", query, "", call);
    if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
    const auto& response = std::get<HttpResponse>(reply);
    const std::string what = "GET " + s_.prefix + "/containers/json";
    if (response.status != 200) co_return failure(what, response);
    const json::value doc = parse_json_or_null(response.body);
    if (!doc.is_array()) co_return error(what, "invalid answer: not an array");
    Instances out;
    for (const json::value& c : doc.as_array()) {
      const json::value* id = json_at(c, {"Id"});
      const json::value* ports = json_at(c, {"Ports"});
      if (!id || !id->is_string() || !ports || !ports->is_array()) continue;
      std::optional<std::string> address;
      for (const json::value& p : ports->as_array()) {
        const json::value* private_port = json_at(p, {"PrivatePort"});
        const json::value* public_port = json_at(p, {"PublicPort"});
        const json::value* type = json_at(p, {"Type"});
        const json::value* ip = json_at(p, {"IP"});
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
  asio::awaitable<ProviderResult<Instance>> start_one(std::string& created, Call call) {
    auto reply = co_await api("POST", "/containers/create", "", create_body(), call);
    if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
    const auto& answer = std::get<HttpResponse>(reply);
    const std::string what = "POST " + s_.prefix + "/containers/create";
    if (answer.status != 201) co_return failure(what, answer);
    const json::value created_doc = parse_json_or_null(answer.body);
    const json::value* id = json_at(created_doc, {"Id"});
    if (!id || !id->is_string() || id->as_string().empty()) {
      co_return error(what, "invalid answer: no \"Id\"");
    }
    created = std::string(id->as_string());
    const std::string path = "/containers/" + created;
    reply = co_await api("POST", path + "/start", "", "", call);
    if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
    const auto& started = std::get<HttpResponse>(reply);
    if (started.status != 204 && started.status != 304) {
      co_return failure("POST " + s_.prefix + path + "/start", started);
    }
    reply = co_await api("GET", path + "/json", "", "", call);
    if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
    const auto& inspected = std::get<HttpResponse>(reply);
    if (inspected.status != 200) {
      co_return failure("GET " + s_.prefix + path + "/json", inspected);
    }
    const json::value doc = parse_json_or_null(inspected.body);
    const json::value* bindings = json_at(doc, {"NetworkSettings", "Ports", port_key_});
    std::optional<std::string> address;
    if (bindings && bindings->is_array()) {
      for (const json::value& b : bindings->as_array()) {
        const json::value* ip = json_at(b, {"HostIp"});
        const json::value* port = json_at(b, {"HostPort"});
        if (!port || !port->is_string() || port->as_string().empty()) continue;
        const std::string host = ip && ip->is_string() ? std::string(ip->as_string()) : "";
        if (!address || host.find(':') == std::string::npos) {
          address = published_address(host, std::string(port->as_string()));
        }
      }
    }
    if (!address) {
      co_return error("GET " + s_.prefix + path + "/json",
                      "invalid answer: " + port_key_ + " is not published");
    }
    co_return Instance{created.substr(0, 12), *address};
  }

  asio::awaitable<ListResult> create(int n, Call call) {
    Instances out;
    std::vector<std::string> created;
    for (int i = 0; i < n; ++i) {
      std::string id;
      auto one = co_await start_one(id, call);
      if (!id.empty()) created.push_back(id);
      if (auto* e = std::get_if<ProviderError>(&one)) {
        // What this call made goes again; the caller hears of the failure at once, as
        // the clean-up has a deadline of its own.
        run(force_delete(std::move(created), new_call()), [](std::optional<ProviderError>) {});
        co_return std::move(*e);
      }
      out.push_back(std::get<Instance>(std::move(one)));
    }
    co_return out;
  }

  asio::awaitable<std::optional<ProviderError>> force_delete(std::vector<std::string> ids,
                                                             Call call) {
    for (const auto& id : ids) {
      co_await api("DELETE", "/containers/" + id, "?force=true&v=true", "", call);
    }
    co_return std::nullopt;
  }

  asio::awaitable<std::optional<ProviderError>> destroy(Instances instances, Call call) {
    for (const Instance& i : instances) {
      const std::string path = "/containers/" + url_encode_component(i.id);
      auto reply = co_await api("POST", path + "/stop", "?t=10", "", call);
      if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
      const auto& stopped = std::get<HttpResponse>(reply);
      if (stopped.status == 404) continue;
      if (stopped.status != 204 && stopped.status != 304) {
        co_return failure("POST " + s_.prefix + path + "/stop", stopped);
      }
      reply = co_await api("DELETE", path, "?v=true", "", call);
      if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
      const auto& deleted = std::get<HttpResponse>(reply);
      if (deleted.status != 204 && deleted.status != 200 && deleted.status != 404) {
        co_return failure("DELETE " + s_.prefix + path, deleted);
      }
    }
    co_return std::nullopt;
  }

  // Swarm mode: the service as read, with what an update must send back.
  struct Service {
    std::string id;
    std::int64_t version = 0;  // Version.Index, the update's ?version=
    json::object spec;         // the whole Spec: an update replaces it
    int replicas = 0;
  };

  asio::awaitable<ProviderResult<Service>> read_service(Call call) {
    const std::string path = "/services/" + url_encode_component(s_.service);
    const std::string what = "GET " + s_.prefix + path;
    auto reply = co_await api("GET", path, "", "", call);
    if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
    const auto& response = std::get<HttpResponse>(reply);
    if (response.status != 200) co_return failure(what, response);
    json::value doc = parse_json_or_null(response.body);
    Service out;
    out.id = json_text(doc, {"ID"});
    const json::value* version = json_at(doc, {"Version", "Index"});
    json::value* spec = doc.is_object() ? doc.as_object().if_contains("Spec") : nullptr;
    if (out.id.empty() || !version || !version->is_int64() || !spec || !spec->is_object()) {
      co_return error(what, "invalid answer: no ID, Version.Index or Spec");
    }
    out.version = version->as_int64();
    if (!json_at(*spec, {"Mode", "Replicated"})) {
      co_return error("", "service " + s_.service + " is not replicated", false);
    }
    const json::value* replicas = json_at(*spec, {"Mode", "Replicated", "Replicas"});
    if (!replicas || !replicas->is_int64() || replicas->as_int64() < 0 ||
        replicas->as_int64() > 100000) {
      co_return error(what, "invalid answer: Spec.Mode.Replicated.Replicas is not a count");
    }
    out.replicas = static_cast<int>(replicas->as_int64());
    out.spec = std::move(spec->as_object());
    co_return out;
  }

  // Reads the service and, when `to(replicas)` differs, posts its Spec back with that
  // count at the version read; an update another writer overtook ("update out of
  // sequence") is read and tried again, up to 3 times. {replicas before, after}.
  asio::awaitable<ProviderResult<std::pair<int, int>>> change(std::function<int(int)> to,
                                                              Call call) {
    for (int attempt = 0;; ++attempt) {
      auto read = co_await read_service(call);
      if (auto* e = std::get_if<ProviderError>(&read)) co_return std::move(*e);
      Service& service = std::get<Service>(read);
      const int target = to(service.replicas);
      if (target == service.replicas) co_return std::pair{target, target};
      service.spec["Mode"].as_object()["Replicated"].as_object()["Replicas"] = target;
      const std::string path = "/services/" + url_encode_component(service.id) + "/update";
      auto reply = co_await api("POST", path, "?version=" + std::to_string(service.version),
                                json::serialize(service.spec), call);
      if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
      const auto& response = std::get<HttpResponse>(reply);
      if (response.status == 200) co_return std::pair{service.replicas, target};
      const std::string message = json_text(parse_json_or_null(response.body), {"message"});
      if ((response.status == 409 || response.status == 500) &&
          message.find("out of sequence") != std::string::npos && attempt < 3) {
        continue;
      }
      co_return failure("POST " + s_.prefix + path, response);
    }
  }

  // Swarm list() (`all`) and add(): the address once per replica, "NAME-1".."NAME-N".
  asio::awaitable<ListResult> scale(int more, bool all, Call call) {
    auto changed = co_await change([more](int count) { return count + more; }, call);
    if (auto* e = std::get_if<ProviderError>(&changed)) co_return std::move(*e);
    const auto [before, after] = std::get<std::pair<int, int>>(changed);
    Instances out;
    for (int i = all ? 1 : before + 1; i <= after; ++i) {
      out.push_back({s_.service + "-" + std::to_string(i), s_.address});
    }
    co_return out;
  }

  asio::awaitable<std::optional<ProviderError>> scale_in(int fewer, Call call) {
    auto changed = co_await change([fewer](int count) { return std::max(1, count - fewer); }, call);
    if (auto* e = std::get_if<ProviderError>(&changed)) co_return std::move(*e);
    co_return std::nullopt;
  }

  Settings s_;
  std::string port_key_;  // "8080/tcp"
};

}  // namespace

std::unique_ptr<Provider> make_docker_provider(const ProviderSpec& spec,
                                               const ProviderContext& context) {
  check_parameters(spec, {"mode", "image", "port", "socket", "network", "label", "env", "service",
                          "address", "api_version", "timeout"});
  DockerProvider::Settings s;
  const std::string mode = spec.param("mode").value_or("containers");
  if (mode != "containers" && mode != "swarm") throw invalid_value("mode", mode);
  s.swarm = mode == "swarm";
  // Each mode's own parameters: given to the other, they would be silently ignored.
  static const std::vector<const char*> kContainersOnly = {"image", "port", "network", "label",
                                                           "env"};
  static const std::vector<const char*> kSwarmOnly = {"service", "address"};
  const auto& unused = s.swarm ? kContainersOnly : kSwarmOnly;
  for (const char* key : unused) {
    if (spec.param(key)) {
      throw std::invalid_argument("provider \"docker\" mode=" + mode + " does not take " + key +
                                  "=");
    }
  }
  if (s.swarm) {
    for (const char* key : {"service", "address"}) {
      if (spec.param(key) && spec.param(key)->empty()) throw invalid_value(key, "");
      required_param(spec, key);
    }
    s.service = *spec.param("service");
    s.address = *spec.param("address");
    const auto colon = s.address.rfind(':');
    if (colon == 0 || colon == std::string::npos || !parse_port(s.address.substr(colon + 1))) {
      throw invalid_value("address", s.address);
    }
  } else {
    s.image = required_param(spec, "image");
    s.port = port_param(spec);
  }
  s.socket = spec.param("socket").value_or("/var/run/docker.sock");
  s.network = spec.param("network").value_or("");
  const std::string version = spec.param("api_version").value_or("1.44");
  if (version.empty() || version.find_first_not_of("0123456789.") != std::string::npos) {
    throw invalid_value("api_version", version);
  }
  s.prefix = "/v" + version;
  const std::string label = spec.param("label").value_or("tidegate.group=" + context.group);
  const auto eq = label.find('=');
  s.label_key = label.substr(0, eq);
  s.label_value = eq == std::string::npos ? "" : label.substr(eq + 1);
  if (s.label_key.empty()) throw invalid_value("label", label);
  for (const auto& [key, value] : spec.params) {
    if (key != "env") continue;
    if (value.find('=') == std::string::npos || value.front() == '=') {
      throw invalid_value("env", value);
    }
    s.env.push_back(value);
  }
  const Millis timeout = positive_duration_param(spec, "timeout", "30s");
  return std::make_unique<DockerProvider>(context.control, std::move(s), timeout);
}

}  // namespace tg::scaling
