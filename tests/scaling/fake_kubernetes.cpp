// The fake's answers follow the API's documented shapes: a Scale, EndpointSlices split
// two endpoints a slice as the controller does, Status objects for errors.
#include "tests/scaling/fake_kubernetes.h"

#include <algorithm>

namespace tg::scaling {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

FakeKubernetes::FakeKubernetes(boost::asio::io_context& io, FakeHttpServer::Options tls)
    : server(io, std::move(tls)) {
  server.respond = [this](const RecordedRequest& r) {
    if (hang) return FakeReply{.hang = true};
    const auto [code, body] = handle(r);
    return FakeReply{code, json::serialize(body)};
  };
}

void FakeKubernetes::scale_to(int n) {
  replicas = n;
  while (static_cast<int>(pods.size()) < n) {
    const int i = next_pod++;
    Millis delay = ready_delay;
    if (!delays.empty()) delay = delays.front(), delays.pop_front();
    pods.push_back({"api-7d9c5-" + std::to_string(i), "10.1.0." + std::to_string(10 + i),
                    Clock::now() + delay});
  }
  while (static_cast<int>(pods.size()) > n) {
    auto victim = std::min_element(pods.begin(), pods.end(), [](const Pod& a, const Pod& b) {
      if (a.ready() != b.ready()) return !a.ready();
      if (a.cost != b.cost) return a.cost < b.cost;
      return a.name > b.name;
    });
    pods.erase(victim);
  }
}

std::vector<std::string> FakeKubernetes::pod_names() const {
  std::vector<std::string> names;
  for (const auto& p : pods) names.push_back(p.name);
  return names;
}

int FakeKubernetes::count(const std::string& method, const std::string& path_part) const {
  return static_cast<int>(std::count_if(seen.begin(), seen.end(), [&](const RecordedRequest& s) {
    return s.method == method && s.path.find(path_part) != std::string::npos;
  }));
}

FakeKubernetes::Reply FakeKubernetes::status(int code, const std::string& reason,
                                             const std::string& message) {
  return {code, json::object{{"kind", "Status"},
                             {"apiVersion", "v1"},
                             {"metadata", json::object()},
                             {"status", "Failure"},
                             {"message", message},
                             {"reason", reason},
                             {"code", code}}};
}

json::value FakeKubernetes::scale_object() const {
  json::object spec;
  if (replicas > 0) spec["replicas"] = replicas;  // omitted when 0, as the API does
  return json::object{
      {"kind", "Scale"},
      {"apiVersion", "autoscaling/v1"},
      {"metadata",
       {{"name", deployment}, {"namespace", ns}, {"resourceVersion", std::to_string(version)}}},
      {"spec", spec},
      {"status", {{"replicas", static_cast<int>(pods.size())}, {"selector", "app=api"}}}};
}

json::value FakeKubernetes::slices(const std::string& selector) const {
  json::array items;
  if (selector == "kubernetes.io/service-name=" + service) {
    json::array endpoints;
    for (const auto& p : pods) {
      endpoints.push_back(json::object{
          {"addresses", json::array{json::string(p.ip)}},
          {"conditions", {{"ready", p.ready()}, {"serving", p.ready()}, {"terminating", false}}},
          {"targetRef", {{"kind", "Pod"}, {"name", p.name}, {"namespace", ns}}},
          {"nodeName", "node-1"}});
      if (endpoints.size() == 2) {  // the controller splits endpoints among slices
        items.push_back(json::object{{"addressType", "IPv4"}, {"endpoints", endpoints}});
        endpoints.clear();
      }
    }
    items.push_back(json::object{{"addressType", "IPv4"}, {"endpoints", endpoints}});
    if (!extra.empty())
      items.push_back(json::object{{"addressType", "IPv4"}, {"endpoints", extra}});
  }
  return json::object{
      {"kind", "EndpointSliceList"}, {"apiVersion", "discovery.k8s.io/v1"}, {"items", items}};
}

FakeKubernetes::Reply FakeKubernetes::handle(const RecordedRequest& r) {
  if (r.header("authorization") != "Bearer " + token) {
    return status(401, "Unauthorized", "Unauthorized");
  }
  for (auto it = failures.begin(); it != failures.end(); ++it) {
    if ((r.method + " " + r.path).find(it->first) == 0) {
      const int code = it->second;
      failures.erase(it);
      return status(code, "Injected", "injected " + std::to_string(code));
    }
  }
  const std::string apps = "/apis/apps/v1/namespaces/" + ns + "/deployments/";
  const std::string pods_path = "/api/v1/namespaces/" + ns + "/pods/";
  if (r.method == "GET" &&
      r.path == "/apis/discovery.k8s.io/v1/namespaces/" + ns + "/endpointslices") {
    const std::string key = "labelSelector=";
    return {200,
            slices(r.query.starts_with(key) ? percent_decode(r.query.substr(key.size())) : "")};
  }
  if (r.path.starts_with(apps) && r.path.ends_with("/scale")) {
    const std::string name = r.path.substr(apps.size(), r.path.size() - apps.size() - 6);
    if (name != deployment) {
      return status(404, "NotFound", "deployments.apps \"" + name + "\" not found");
    }
    if (r.method == "GET") return {200, scale_object()};
    if (r.method != "PUT") return status(405, "MethodNotAllowed", "no");
    if (r.header("content-type") != "application/json") {
      return status(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format");
    }
    if (conflicts > 0) --conflicts, ++version;  // another writer came first
    const json::value body = json::parse(r.body);
    if (body.at("metadata").at("resourceVersion") != json::string(std::to_string(version))) {
      return status(409, "Conflict", kConflict);
    }
    scale_to(static_cast<int>(body.at("spec").at("replicas").as_int64()));
    ++version;
    return {200, scale_object()};
  }
  if (r.method == "PATCH" && r.path.starts_with(pods_path)) {
    if (r.header("content-type") != "application/strategic-merge-patch+json" &&
        r.header("content-type") != "application/merge-patch+json") {
      return status(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format");
    }
    const std::string name = r.path.substr(pods_path.size());
    auto pod = std::find_if(pods.begin(), pods.end(), [&](const Pod& p) { return p.name == name; });
    if (pod == pods.end()) return status(404, "NotFound", "pods \"" + name + "\" not found");
    const json::value patch = json::parse(r.body);
    const auto& cost =
        patch.at("metadata").at("annotations").at("controller.kubernetes.io/pod-deletion-cost");
    pod->cost = std::stol(std::string(cost.as_string()));
    ++version;
    return {200, json::object{{"kind", "Pod"}, {"metadata", {{"name", name}}}}};
  }
  return status(404, "NotFound", "the server could not find the requested resource");
}

}  // namespace tg::scaling
