// The kubernetes provider: each call is one coroutine that reads like the API requests it
// makes (ApiProvider runs it). Access (kubeconfig or the in-cluster service account) is
// resolved once, at construction, except token files, which kubelet rotates.
#include "scaling/kubernetes_provider.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "scaling/api_provider.h"
#include "scaling/provider_params.h"

namespace tg::scaling {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

const std::string kServiceAccount = "/var/run/secrets/kubernetes.io/serviceaccount/";
constexpr const char* kDeletionCost = "controller.kubernetes.io/pod-deletion-cost";
// The lowest int32: the ReplicaSet deletes these pods before any other ready one.
constexpr const char* kLowestCost = "-2147483648";
constexpr int kScaleAttempts = 5;

// Where the API is and how to authenticate.
struct Access {
  std::string api;         // https://host:port[/prefix], no trailing slash
  std::string ca_file;     // PEM file, or empty for the system's CAs
  std::string ca_pem;      // certificate-authority-data, decoded
  std::string token;       // a bearer token given inline
  std::string token_file;  // or a file read for every request
  std::string namespace_;  // the context's or the service account's
};

// A file's text without surrounding white space (files written by `echo` end in one).
std::optional<std::string> read_trimmed(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && space(text.back())) text.pop_back();
  text.erase(text.begin(), std::find_if_not(text.begin(), text.end(), space));
  return text;
}

std::optional<std::string> base64_decode(std::string text) {
  std::erase_if(text, [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding's zero bytes too.
  const std::size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

std::string text_of(const YAML::Node& node) {
  return node && node.IsScalar() ? node.as<std::string>() : std::string();
}

// The `key` map of the entry named `name` in a kubeconfig list (clusters, users, ...).
YAML::Node entry(const YAML::Node& list, const std::string& name, const char* key) {
  if (list && list.IsSequence()) {
    for (const YAML::Node& item : list) {
      if (text_of(item["name"]) == name && item[key] && item[key].IsMap()) return item[key];
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

Access from_kubeconfig(const std::string& path, const std::optional<std::string>& context) {
  const auto bad = [&](const std::string& why) {
    return std::invalid_argument("kubeconfig \"" + path + "\": " + why);
  };
  Access access;
  try {
    const YAML::Node doc = YAML::LoadFile(path);
    const std::string name = context ? *context : text_of(doc["current-context"]);
    if (name.empty()) throw bad("no current-context");
    const YAML::Node ctx = entry(doc["contexts"], name, "context");
    if (!ctx) throw bad("no context \"" + name + "\"");
    const std::string cluster_name = text_of(ctx["cluster"]);
    const YAML::Node cluster = entry(doc["clusters"], cluster_name, "cluster");
    if (!cluster) throw bad("no cluster \"" + cluster_name + "\"");
    access.api = text_of(cluster["server"]);
    while (access.api.ends_with('/')) access.api.pop_back();
    if (!parse_http_url(access.api)) throw bad("invalid server \"" + access.api + "\"");
    // kubectl resolves relative paths against the kubeconfig's own directory.
    const auto resolve = [&](const std::string& file) {
      const std::filesystem::path p(file);
      return p.is_relative() ? (std::filesystem::path(path).parent_path() / p).string() : file;
    };
    if (const std::string data = text_of(cluster["certificate-authority-data"]); !data.empty()) {
      const auto pem = base64_decode(data);
      if (!pem) throw bad("certificate-authority-data is not base64");
      access.ca_pem = *pem;
    } else if (const std::string file = text_of(cluster["certificate-authority"]); !file.empty()) {
      access.ca_file = resolve(file);
    }
    const std::string user_name = text_of(ctx["user"]);
    const YAML::Node user = entry(doc["users"], user_name, "user");
    if (!user_name.empty() && !user) throw bad("no user \"" + user_name + "\"");
    if (user) {
      access.token = text_of(user["token"]);
      if (const std::string file = text_of(user["tokenFile"]); !file.empty()) {
        access.token_file = resolve(file);
      }
      const bool other = user["client-certificate"] || user["client-certificate-data"] ||
                         user["exec"] || user["auth-provider"] || user["username"];
      if (access.token.empty() && access.token_file.empty() && other) {
        throw bad("user \"" + user_name +
                  "\" has no token or tokenFile (client certificates, passwords and "
                  "exec or auth-provider plugins are not supported)");
      }
    }
    access.namespace_ = text_of(ctx["namespace"]);
  } catch (const YAML::Exception& e) {
    throw bad(e.what());
  }
  return access;
}

Access in_cluster(const ProviderSpec& spec) {
  Access access;
  if (const auto api = spec.param("api")) {
    access.api = *api;
  } else {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port) {
      throw std::invalid_argument(
          "provider \"kubernetes\" needs kubeconfig= outside a cluster "
          "(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set)");
    }
    const std::string h = host;
    access.api = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
  }
  if (!parse_http_url(access.api)) {
    throw std::invalid_argument("invalid Kubernetes API URL \"" + access.api + "\"");
  }
  access.token_file = spec.param("token_file").value_or(kServiceAccount + "token");
  access.ca_file = spec.param("ca_file").value_or(kServiceAccount + "ca.crt");
  const auto ns =
      read_trimmed(spec.param("namespace_file").value_or(kServiceAccount + "namespace"));
  access.namespace_ = ns.value_or("");
  return access;
}

/// The cluster's trust anchors, as the HTTP client takes them.
HttpClientOptions trust(const Access& access) {
  HttpClientOptions o;
  o.ca_file = access.ca_file;
  o.ca_pem = access.ca_pem;
  return o;
}

class KubernetesProvider final : public ApiProvider {
 public:
  KubernetesProvider(asio::io_context& io, Access access, std::string ns, std::string deployment,
                     std::string service, int port, Millis timeout, Millis poll)
      : ApiProvider(io, api_options("kubernetes", timeout, trust(access))),
        access_(std::move(access)),
        ns_(std::move(ns)),
        deployment_(std::move(deployment)),
        service_(std::move(service)),
        port_(std::to_string(port)),
        poll_(poll) {}

  std::string type() const override { return "kubernetes"; }

  void list(ListDone done) override { run(ready_pods(new_call()), std::move(done)); }
  void add(int n, ListDone done) override { run(add_pods(n, new_call()), std::move(done)); }
  void remove(std::vector<Instance> instances, RemoveDone done) override {
    run(remove_pods(std::move(instances), new_call()), std::move(done));
  }

 private:
  using Instances = std::vector<Instance>;
  using ListResult = ProviderResult<Instances>;

  // Sends one request with the bearer token read now; any status is an answer.
  asio::awaitable<Reply> api(std::string method, std::string path, std::string query,
                             std::string body, std::string content_type, Call call) {
    std::string token = access_.token;
    if (!access_.token_file.empty()) {
      const auto read = read_trimmed(access_.token_file);
      if (!read || read->empty()) {
        co_return error("", "cannot read the token file \"" + access_.token_file + "\"");
      }
      token = *read;
    }
    HttpRequest request;
    request.method = std::move(method);
    request.url = access_.api + path + query;
    request.headers = {{"Accept", "application/json"}};
    if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
    if (!content_type.empty()) request.headers.emplace_back("Content-Type", content_type);
    request.body = std::move(body);
    const std::string what = request.method + " " + path;
    co_return co_await send(std::move(request), what, call);
  }

  // A failed answer, quoting the Status object's message.
  ProviderError failure(const std::string& what, const HttpResponse& r) const {
    return http_error(what, r, json_text(parse_json_or_null(r.body), {"message"}));
  }

  asio::awaitable<ListResult> ready_pods(Call call) {
    const std::string path = "/apis/discovery.k8s.io/v1/namespaces/" + ns_ + "/endpointslices";
    const std::string query =
        "?labelSelector=" + url_encode_component("kubernetes.io/service-name=" + service_);
    auto reply = co_await api("GET", path, query, "", "", call);
    if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
    const auto& response = std::get<HttpResponse>(reply);
    if (response.status != 200) co_return failure("GET " + path, response);
    const auto doc = parse_json_or_null(response.body);
    const json::value* items = json_at(doc, {"items"});
    if (!items || !items->is_array()) {
      co_return error("GET " + path, "invalid answer: no \"items\" array in the answer");
    }
    Instances out;
    for (const json::value& slice : items->as_array()) {
      const json::value* endpoints = json_at(slice, {"endpoints"});
      if (!endpoints || !endpoints->is_array()) continue;  // null while the Service has none
      for (const json::value& e : endpoints->as_array()) {
        // A missing `ready` means unknown, which the API says to take as ready.
        const json::value* ready = json_at(e, {"conditions", "ready"});
        if (ready && ready->is_bool() && !ready->as_bool()) continue;
        const json::value* kind = json_at(e, {"targetRef", "kind"});
        const json::value* name = json_at(e, {"targetRef", "name"});
        const json::value* addresses = json_at(e, {"addresses"});
        if (!kind || *kind != "Pod" || !name || !name->is_string() || !addresses ||
            !addresses->is_array() || addresses->as_array().empty() ||
            !addresses->as_array()[0].is_string()) {
          continue;
        }
        const std::string id(name->as_string());
        const std::string ip(addresses->as_array()[0].as_string());
        // While slices are rebalanced an endpoint may be in two of them.
        if (std::any_of(out.begin(), out.end(), [&](const Instance& i) { return i.id == id; })) {
          continue;
        }
        out.push_back(
            {id, (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + port_});
      }
    }
    co_return out;
  }

  // Reads the scale and writes it back with `delta` more replicas; a conflict (someone
  // else wrote in between) reads again.
  asio::awaitable<std::optional<ProviderError>> change_replicas(int delta, Call call) {
    const std::string path = "/apis/apps/v1/namespaces/" + ns_ + "/deployments/" +
                             url_encode_component(deployment_) + "/scale";
    for (int attempt = 1;; ++attempt) {
      auto read = co_await api("GET", path, "", "", "", call);
      if (auto* e = std::get_if<ProviderError>(&read)) co_return std::move(*e);
      const auto& got = std::get<HttpResponse>(read);
      if (got.status != 200) co_return failure("GET " + path, got);
      json::value scale = parse_json_or_null(got.body);
      if (!scale.is_object())
        co_return error("GET " + path, "invalid answer: the scale is not an object");
      json::value& spec = scale.as_object()["spec"];
      if (!spec.is_object()) spec.emplace_object();
      const json::value* replicas = spec.as_object().if_contains("replicas");
      const std::int64_t now = replicas && replicas->is_int64() ? replicas->as_int64() : 0;
      spec.as_object()["replicas"] = std::max<std::int64_t>(0, now + delta);
      auto written =
          co_await api("PUT", path, "", json::serialize(scale), "application/json", call);
      if (auto* e = std::get_if<ProviderError>(&written)) co_return std::move(*e);
      const auto& put = std::get<HttpResponse>(written);
      if (put.status == 200 || put.status == 201) co_return std::nullopt;
      if (put.status == 409 && attempt < kScaleAttempts) continue;
      ProviderError e = failure("PUT " + path, put);
      if (put.status == 409) e.message += " (" + std::to_string(attempt) + " attempts)";
      co_return e;
    }
  }

  asio::awaitable<ListResult> add_pods(int n, Call call) {
    if (n <= 0) co_return Instances{};
    ListResult before = co_await ready_pods(call);
    if (auto* e = std::get_if<ProviderError>(&before)) co_return std::move(*e);
    const Instances& old = std::get<Instances>(before);
    if (auto e = co_await change_replicas(n, call)) co_return std::move(*e);
    Instances fresh;
    std::optional<ProviderError> failed;  // the last poll's
    for (;;) {
      ListResult now = co_await ready_pods(call);
      // A poll cut short by the deadline says nothing of why no pod came.
      const bool late = Clock::now() >= call.deadline();
      if (auto* e = std::get_if<ProviderError>(&now)) {
        if (!e->retryable) co_return std::move(*e);
        if (!late) failed = std::move(*e);
      } else {
        failed.reset();
        fresh.clear();
        for (const Instance& i : std::get<Instances>(now)) {
          const bool known =
              std::any_of(old.begin(), old.end(), [&](const Instance& o) { return o.id == i.id; });
          if (!known) fresh.push_back(i);
        }
        if (fresh.size() >= static_cast<std::size_t>(n)) {
          fresh.resize(static_cast<std::size_t>(n));
          co_return fresh;
        }
      }
      if (late || Clock::now() + poll_ >= call.deadline()) {
        if (!fresh.empty()) co_return fresh;  // the rest join at a later list()
        co_return error("deployment " + deployment_,
                        "no new ready pod within " + format_timeout(timeout()) +
                            (failed ? " (" + failed->message + ")" : ""));
      }
      if (!co_await sleep(call, poll_)) co_return error("", "cancelled");
    }
  }

  asio::awaitable<std::optional<ProviderError>> remove_pods(Instances instances, Call call) {
    json::object annotations;
    annotations[kDeletionCost] = kLowestCost;
    json::object metadata;
    metadata["annotations"] = std::move(annotations);
    json::object patch;
    patch["metadata"] = std::move(metadata);
    const std::string body = json::serialize(patch);
    int marked = 0;
    for (const Instance& i : instances) {
      const std::string path = "/api/v1/namespaces/" + ns_ + "/pods/" + url_encode_component(i.id);
      auto reply =
          co_await api("PATCH", path, "", body, "application/strategic-merge-patch+json", call);
      if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
      const auto& response = std::get<HttpResponse>(reply);
      if (response.status == 404) continue;
      if (response.status != 200) co_return failure("PATCH " + path, response);
      ++marked;
    }
    if (marked == 0) co_return std::nullopt;
    co_return co_await change_replicas(-marked, call);
  }

  Access access_;
  std::string ns_, deployment_, service_, port_;
  Millis poll_;
};

}  // namespace

std::unique_ptr<Provider> make_kubernetes_provider(const ProviderSpec& spec,
                                                   const ProviderContext& context) {
  check_parameters(spec, {"deployment", "service", "namespace", "port", "kubeconfig", "context",
                          "timeout", "api", "token_file", "namespace_file", "ca_file", "poll"});
  const std::string deployment = required_param(spec, "deployment");
  const int port = port_param(spec);
  const Millis timeout = positive_duration_param(spec, "timeout", "30s");
  const Millis poll = positive_duration_param(spec, "poll", "1s");
  const auto kubeconfig = spec.param("kubeconfig");
  if (!kubeconfig && spec.param("context")) {
    throw std::invalid_argument("provider \"kubernetes\" takes context= only with kubeconfig=");
  }
  Access access =
      kubeconfig ? from_kubeconfig(*kubeconfig, spec.param("context")) : in_cluster(spec);
  if (!access.token_file.empty() && !read_trimmed(access.token_file)) {
    throw std::invalid_argument("cannot read the token file \"" + access.token_file + "\"");
  }
  std::string ns = spec.param("namespace").value_or(access.namespace_);
  if (ns.empty()) ns = "default";
  const bool inline_ca = !access.ca_pem.empty();
  try {
    return std::make_unique<KubernetesProvider>(
        context.control, std::move(access), std::move(ns), deployment,
        spec.param("service").value_or(deployment), port, timeout, poll);
  } catch (const std::invalid_argument& e) {
    // Only the trust anchors can be refused here: name the kubeconfig field that held them.
    if (!inline_ca) throw;
    throw std::invalid_argument(std::string("certificate-authority-data: ") + e.what());
  }
}

}  // namespace tg::scaling
