// The kubernetes provider against a fake API server over HTTPS on 127.0.0.1, with a
// throwaway CA made by the openssl command. The fake keeps what the real one would: a
// Deployment's replicas and resourceVersion, its pods with IPs and deletion costs, ready
// after a delay, the ReplicaSet's choice of pods to delete, Status answers for errors; it
// checks the bearer token and records every request for the tests to check.
#include "scaling/kubernetes_provider.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>

#include <gtest/gtest.h>

namespace tg::scaling {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const std::string kConflict =
    "Operation cannot be fulfilled on deployments.apps \"api\": the object has been modified; "
    "please apply your changes to the latest version and try again";

struct Seen {
  std::string method, path, query, body;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? "(none)" : it->second;
  }
  json::value json() const { return json::parse(body); }
};

struct Pod {
  std::string name, ip;
  Clock::time_point ready_at;
  long cost = 0;  // controller.kubernetes.io/pod-deletion-cost
  bool ready() const { return Clock::now() >= ready_at; }
};

std::string decode(const std::string& text) {  // percent-decoding of a query value
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

class FakeKubernetes {
 public:
  FakeKubernetes(asio::io_context& io, asio::ssl::context& tls)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), tls_(tls) {
    asio::co_spawn(io, accept_loop(), [](std::exception_ptr e) {
      if (e) ADD_FAILURE() << "fake API server stopped by an exception";
    });
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port()); }
  int port() const { return acceptor_.local_endpoint().port(); }

  // The Deployment's controllers, at once: pods come (ready after their delay) and go,
  // the ReplicaSet's way: not ready first, then the lowest deletion cost, then the newest.
  void scale_to(int n) {
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
  std::vector<std::string> pod_names() const {
    std::vector<std::string> names;
    for (const auto& p : pods) names.push_back(p.name);
    return names;
  }
  int count(const std::string& method, const std::string& path_part) const {
    return static_cast<int>(std::count_if(seen.begin(), seen.end(), [&](const Seen& s) {
      return s.method == method && s.path.find(path_part) != std::string::npos;
    }));
  }

  std::string token = "t0k3n", ns = "prod", deployment = "api", service = "api";
  int replicas = 0;
  long version = 100;
  std::vector<Pod> pods;
  int next_pod = 0;
  Millis ready_delay{0};
  std::deque<Millis> delays;                         // of the next pods, before ready_delay
  json::array extra;                                 // more endpoints, in a slice of their own
  std::deque<std::pair<std::string, int>> failures;  // {"METHOD path-part", status}
  int conflicts = 0;  // scale PUTs that someone else's write precedes
  bool hang = false;
  std::vector<Seen> seen;

 private:
  using Reply = std::pair<int, json::value>;

  static Reply status(int code, const std::string& reason, const std::string& message) {
    return {code, json::object{{"kind", "Status"},
                               {"apiVersion", "v1"},
                               {"metadata", json::object()},
                               {"status", "Failure"},
                               {"message", message},
                               {"reason", reason},
                               {"code", code}}};
  }

  json::value scale_object() const {
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

  json::value slices(const std::string& selector) const {
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

  Reply handle(const Seen& r) {
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
      return {200, slices(r.query.starts_with(key) ? decode(r.query.substr(key.size())) : "")};
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
      const json::value body = r.json();
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
      auto pod =
          std::find_if(pods.begin(), pods.end(), [&](const Pod& p) { return p.name == name; });
      if (pod == pods.end()) return status(404, "NotFound", "pods \"" + name + "\" not found");
      const json::value patch = r.json();
      const auto& cost =
          patch.at("metadata").at("annotations").at("controller.kubernetes.io/pod-deletion-cost");
      pod->cost = std::stol(std::string(cost.as_string()));
      ++version;
      return {200, json::object{{"kind", "Pod"}, {"metadata", {{"name", name}}}}};
    }
    return status(404, "NotFound", "the server could not find the requested resource");
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto socket = co_await acceptor_.async_accept(asio::use_awaitable);
      auto stream = std::make_shared<asio::ssl::stream<tcp::socket>>(std::move(socket), tls_);
      asio::co_spawn(acceptor_.get_executor(), serve(stream), [](std::exception_ptr) {});
    }
  }

  asio::awaitable<void> serve(std::shared_ptr<asio::ssl::stream<tcp::socket>> stream) {
    co_await stream->async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> request;
    co_await http::async_read(*stream, buffer, request, asio::use_awaitable);
    Seen r;
    r.method = std::string(request.method_string());
    const std::string target(request.target());
    r.path = target.substr(0, target.find('?'));
    if (target.find('?') != std::string::npos) r.query = target.substr(target.find('?') + 1);
    for (const auto& field : request) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(field.value());
    }
    r.body = request.body();
    seen.push_back(r);
    if (hang) {
      hung_.push_back(stream);
      co_return;
    }
    const auto [code, body] = handle(r);
    http::response<http::string_body> response(static_cast<http::status>(code), 11);
    response.set(http::field::content_type, "application/json");
    response.body() = json::serialize(body);
    response.prepare_payload();
    co_await http::async_write(*stream, response, asio::use_awaitable);
  }

  tcp::acceptor acceptor_;
  asio::ssl::context& tls_;
  std::vector<std::shared_ptr<void>> hung_;
};

void run_until(asio::io_context& io, const std::function<bool()>& done) {
  const auto deadline = Clock::now() + 10s;
  while (!done() && Clock::now() < deadline) {
    io.restart();
    io.run_one_for(20ms);
  }
  ASSERT_TRUE(done()) << "nothing happened within 10 s";
}

using Params = std::vector<std::pair<std::string, std::string>>;
using Instances = std::vector<Instance>;

class KubernetesProviderTest : public ::testing::Test {
 protected:
  // A CA for the fake, another that did not sign it, made once.
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() /
           ("tidegate_kubernetes_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    const std::string ca =
        " -days 2 -addext basicConstraints=critical,CA:TRUE"
        " -addext keyUsage=critical,keyCertSign";
    std::ofstream(dir_ / "server.ext") << "subjectAltName=IP:127.0.0.1\n";
    const std::string script =
        "cd " + dir_.string() + " && openssl req -x509" + key +
        " -keyout ca.key -out ca.pem -subj /CN=test-cluster-ca" + ca + " && openssl req -x509" +
        key + " -keyout other.key -out other.pem -subj /CN=other-ca" + ca + " && openssl req" +
        key +
        " -keyout server.key -out server.csr -subj /CN=kube-apiserver"
        " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
        " -out server.pem -extfile server.ext";
    ASSERT_EQ(std::system(("(" + script + ") >/dev/null 2>&1").c_str()), 0) << script;
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

  static std::unique_ptr<asio::ssl::context> server_tls() {
    auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    context->use_certificate_chain_file((dir_ / "server.pem").string());
    context->use_private_key_file((dir_ / "server.key").string(), asio::ssl::context::pem);
    return context;
  }
  static std::string file(const std::string& name) { return (dir_ / name).string(); }
  static void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }

  void SetUp() override { write("token", "t0k3n\n"); }

  Params params(Params more = {}) {
    Params p = {{"deployment", "api"},
                {"port", "8080"},
                {"namespace", "prod"},
                {"api", api.url()},
                {"token_file", file("token")},
                {"ca_file", file("ca.pem")},
                {"poll", "20ms"}};
    for (auto& kv : more) {
      std::erase_if(p, [&](const auto& old) { return old.first == kv.first; });
      p.push_back(kv);
    }
    return p;
  }
  std::unique_ptr<Provider> make(Params p) {
    return make_kubernetes_provider(ProviderSpec{"kubernetes", std::move(p)}, {io, "api"});
  }
  std::string refusal(Params p) {
    try {
      make(std::move(p));
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "(accepted)";
  }

  ProviderResult<Instances> list(Provider& p) {
    std::optional<ProviderResult<Instances>> result;
    p.list([&](auto r) { result = std::move(r); });
    run_until(io, [&] { return result.has_value(); });
    return result.value_or(ProviderError{"no answer"});
  }
  ProviderResult<Instances> add(Provider& p, int n) {
    std::optional<ProviderResult<Instances>> result;
    p.add(n, [&](auto r) { result = std::move(r); });
    run_until(io, [&] { return result.has_value(); });
    return result.value_or(ProviderError{"no answer"});
  }
  std::optional<ProviderError> remove(Provider& p, Instances instances) {
    std::optional<std::optional<ProviderError>> result;
    p.remove(std::move(instances), [&](auto r) { result = std::move(r); });
    run_until(io, [&] { return result.has_value(); });
    return result.value_or(ProviderError{"no answer"});
  }
  static ProviderError error(const ProviderResult<Instances>& r) {
    EXPECT_TRUE(std::holds_alternative<ProviderError>(r));
    return std::holds_alternative<ProviderError>(r) ? std::get<ProviderError>(r)
                                                    : ProviderError{"no error", false};
  }
  static Instances instances(const ProviderResult<Instances>& r) {
    if (auto* e = std::get_if<ProviderError>(&r)) ADD_FAILURE() << e->message;
    return std::holds_alternative<Instances>(r) ? std::get<Instances>(r) : Instances{};
  }

  static inline std::filesystem::path dir_;
  asio::io_context io;
  std::unique_ptr<asio::ssl::context> tls = server_tls();
  FakeKubernetes api{io, *tls};
};

const std::string kSlices = "/apis/discovery.k8s.io/v1/namespaces/prod/endpointslices";
const std::string kScale = "/apis/apps/v1/namespaces/prod/deployments/api/scale";

TEST_F(KubernetesProviderTest, ListReturnsTheReadyPodsOfTheServicesEndpointSlices) {
  api.scale_to(4);
  api.pods[1].ready_at = Clock::now() + 1h;
  api.extra = json::array{
      // Unknown readiness counts as ready; a non-Pod target or a duplicate does not count.
      json::object{{"addresses", {"10.9.0.1"}},
                   {"targetRef", {{"kind", "Pod"}, {"name", "static"}}}},
      json::object{{"addresses", {"10.9.0.2"}},
                   {"conditions", {{"ready", true}}},
                   {"targetRef", {{"kind", "Node"}, {"name", "node-1"}}}},
      json::object{{"addresses", {"10.1.0.10"}},
                   {"conditions", {{"ready", true}}},
                   {"targetRef", {{"kind", "Pod"}, {"name", "api-7d9c5-0"}}}}};
  auto p = make(params());
  EXPECT_EQ(instances(list(*p)), (Instances{{"api-7d9c5-0", "10.1.0.10:8080"},
                                            {"api-7d9c5-2", "10.1.0.12:8080"},
                                            {"api-7d9c5-3", "10.1.0.13:8080"},
                                            {"static", "10.9.0.1:8080"}}));
  ASSERT_EQ(api.seen.size(), 1u);
  const Seen& r = api.seen[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, kSlices);
  EXPECT_EQ(r.query, "labelSelector=kubernetes.io%2Fservice-name%3Dapi");
  EXPECT_EQ(r.header("authorization"), "Bearer t0k3n");
  EXPECT_EQ(r.header("accept"), "application/json");
  EXPECT_EQ(r.header("host"), "127.0.0.1:" + std::to_string(api.port()));
  EXPECT_EQ(r.body, "");
}

TEST_F(KubernetesProviderTest, ServiceParameterNamesTheSlicesLabelAndIpv6IsBracketed) {
  api.service = "web";
  api.extra = json::array{json::object{{"addresses", {"fd00::7"}},
                                       {"conditions", {{"ready", true}}},
                                       {"targetRef", {{"kind", "Pod"}, {"name", "v6"}}}}};
  auto p = make(params({{"service", "web"}}));
  EXPECT_EQ(instances(list(*p)), (Instances{{"v6", "[fd00::7]:8080"}}));
  EXPECT_EQ(api.seen.at(0).query, "labelSelector=kubernetes.io%2Fservice-name%3Dweb");
}

TEST_F(KubernetesProviderTest, AddRaisesReplicasUnderTheReadResourceVersionAndReportsNewReadyPods) {
  api.scale_to(2);
  api.ready_delay = 150ms;
  auto p = make(params());
  EXPECT_EQ(instances(add(*p, 2)),
            (Instances{{"api-7d9c5-2", "10.1.0.12:8080"}, {"api-7d9c5-3", "10.1.0.13:8080"}}));
  EXPECT_EQ(api.replicas, 4);
  ASSERT_GE(api.seen.size(), 5u);
  EXPECT_EQ(api.seen[0].method + " " + api.seen[0].path, "GET " + kSlices);
  EXPECT_EQ(api.seen[1].method + " " + api.seen[1].path, "GET " + kScale);
  const Seen& put = api.seen[2];
  EXPECT_EQ(put.method + " " + put.path, "PUT " + kScale);
  EXPECT_EQ(put.header("content-type"), "application/json");
  EXPECT_EQ(put.header("authorization"), "Bearer t0k3n");
  const json::value body = put.json();
  EXPECT_EQ(body.at("spec").at("replicas"), 4);
  EXPECT_EQ(body.at("metadata").at("resourceVersion"), "100");
  EXPECT_EQ(body.at("metadata").at("name"), "api");
  EXPECT_EQ(body.at("kind"), "Scale");
  // Polled until the pods were ready: more than once, as they took 150 ms.
  EXPECT_GE(api.count("GET", "endpointslices"), 3);
  for (std::size_t i = 3; i < api.seen.size(); ++i) EXPECT_EQ(api.seen[i].path, kSlices);
}

TEST_F(KubernetesProviderTest, AddFromZeroReplicasReadsAnOmittedCountAsZero) {
  auto p = make(params());
  EXPECT_EQ(instances(add(*p, 1)), (Instances{{"api-7d9c5-0", "10.1.0.10:8080"}}));
  EXPECT_EQ(api.replicas, 1);
}

TEST_F(KubernetesProviderTest, AddReadsTheScaleAgainAfterAConflictAndWritesAgain) {
  api.scale_to(1);
  api.conflicts = 1;
  auto p = make(params());
  EXPECT_EQ(instances(add(*p, 1)).size(), 1u);
  EXPECT_EQ(api.replicas, 2);
  ASSERT_GE(api.seen.size(), 5u);
  std::vector<std::string> calls;
  for (std::size_t i = 1; i < 5; ++i) calls.push_back(api.seen[i].method);
  EXPECT_EQ(calls, (std::vector<std::string>{"GET", "PUT", "GET", "PUT"}));
  EXPECT_EQ(api.seen[2].json().at("metadata").at("resourceVersion"), "100");
  EXPECT_EQ(api.seen[4].json().at("metadata").at("resourceVersion"), "101");
}

TEST_F(KubernetesProviderTest, AddGivesUpRetryablyAfterFiveConflicts) {
  api.conflicts = 100;
  auto p = make(params());
  const ProviderError e = error(add(*p, 1));
  EXPECT_EQ(e.message,
            "kubernetes provider: PUT " + kScale + ": HTTP 409: " + kConflict + " (5 attempts)");
  EXPECT_TRUE(e.retryable);
  EXPECT_EQ(api.count("PUT", "/scale"), 5);
  EXPECT_EQ(api.replicas, 0);
}

TEST_F(KubernetesProviderTest, AddWithoutANewReadyPodWithinTheTimeoutFailsRetryably) {
  api.ready_delay = 1h;
  auto p = make(params({{"timeout", "300ms"}}));
  const auto start = Clock::now();
  const ProviderError e = error(add(*p, 1));
  EXPECT_EQ(e.message, "kubernetes provider: deployment api: no new ready pod within 300ms");
  EXPECT_TRUE(e.retryable);
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_EQ(api.replicas, 1);  // raised all the same: the pod joins at a later list()
}

TEST_F(KubernetesProviderTest, AddReportsThePodsThatBecameReadyWhenTheOthersDidNotInTime) {
  api.delays = {0ms, 1h};
  auto p = make(params({{"timeout", "300ms"}}));
  EXPECT_EQ(instances(add(*p, 2)), (Instances{{"api-7d9c5-0", "10.1.0.10:8080"}}));
  EXPECT_EQ(api.replicas, 2);
}

TEST_F(KubernetesProviderTest, RemoveGivesEachPodTheLowestDeletionCostThenLowersReplicas) {
  api.scale_to(4);
  auto p = make(params());
  EXPECT_FALSE(remove(*p, {{"api-7d9c5-1", "10.1.0.11:8080"}, {"api-7d9c5-2", "10.1.0.12:8080"}}));
  ASSERT_EQ(api.seen.size(), 4u);
  for (int i : {0, 1}) {
    const Seen& patch = api.seen[i];
    EXPECT_EQ(patch.method, "PATCH");
    EXPECT_EQ(patch.path, "/api/v1/namespaces/prod/pods/api-7d9c5-" + std::to_string(i + 1));
    EXPECT_EQ(patch.header("content-type"), "application/strategic-merge-patch+json");
    EXPECT_EQ(patch.header("authorization"), "Bearer t0k3n");
    EXPECT_EQ(
        patch.body,
        R"({"metadata":{"annotations":{"controller.kubernetes.io/pod-deletion-cost":"-2147483648"}}})");
  }
  EXPECT_EQ(api.seen[2].method + " " + api.seen[2].path, "GET " + kScale);
  EXPECT_EQ(api.seen[3].method + " " + api.seen[3].path, "PUT " + kScale);
  EXPECT_EQ(api.seen[3].json().at("spec").at("replicas"), 2);
  EXPECT_EQ(api.seen[3].json().at("metadata").at("resourceVersion"), "102");
  // The ReplicaSet deleted exactly those two, not the newest ones it would have chosen.
  EXPECT_EQ(api.pod_names(), (std::vector<std::string>{"api-7d9c5-0", "api-7d9c5-3"}));
}

TEST_F(KubernetesProviderTest, RemoveCountsAPodAlreadyGoneAsRemovedWithoutLoweringReplicasForIt) {
  api.scale_to(3);
  auto p = make(params());
  EXPECT_FALSE(remove(*p, {{"api-7d9c5-0", "10.1.0.10:8080"}, {"api-gone", "10.1.0.99:8080"}}));
  EXPECT_EQ(api.replicas, 2);
  EXPECT_EQ(api.pod_names(), (std::vector<std::string>{"api-7d9c5-1", "api-7d9c5-2"}));
  api.seen.clear();
  EXPECT_FALSE(remove(*p, {{"api-gone", "10.1.0.99:8080"}}));
  EXPECT_EQ(api.seen.size(), 1u);  // the PATCH's 404, and no scale change
  EXPECT_EQ(api.replicas, 2);
}

TEST_F(KubernetesProviderTest, RemoveStopsAtAFailedPatchBeforeChangingTheScale) {
  api.scale_to(2);
  api.failures = {{"PATCH /api/v1/namespaces/prod/pods/api-7d9c5-1", 500}};
  auto p = make(params());
  const auto e = remove(*p, {{"api-7d9c5-0", "a:1"}, {"api-7d9c5-1", "b:1"}});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->message,
            "kubernetes provider: PATCH /api/v1/namespaces/prod/pods/api-7d9c5-1: HTTP 500: "
            "injected 500");
  EXPECT_TRUE(e->retryable);
  EXPECT_EQ(api.count("GET", "/scale") + api.count("PUT", "/scale"), 0);
  EXPECT_EQ(api.replicas, 2);
}

TEST_F(KubernetesProviderTest, ErrorsNameTheRequestQuoteTheStatusMessageAndSayWhetherToRetry) {
  auto p = make(params());
  for (const auto& [code, retryable] : {std::pair{429, true},
                                        {500, true},
                                        {503, true},
                                        {409, true},
                                        {403, false},
                                        {404, false},
                                        {400, false}}) {
    api.failures = {{"GET " + kSlices, code}};
    const ProviderError e = error(list(*p));
    EXPECT_EQ(e.message, "kubernetes provider: GET " + kSlices + ": HTTP " + std::to_string(code) +
                             ": injected " + std::to_string(code));
    EXPECT_EQ(e.retryable, retryable) << code;
  }
  api.token = "rotated";
  const ProviderError e = error(list(*p));
  EXPECT_EQ(e.message, "kubernetes provider: GET " + kSlices + ": HTTP 401: Unauthorized");
  EXPECT_FALSE(e.retryable);
}

TEST_F(KubernetesProviderTest, AMissingDeploymentIsNotRetryable) {
  auto p = make(params({{"deployment", "nope"}}));
  const ProviderError e = error(add(*p, 1));
  EXPECT_EQ(e.message,
            "kubernetes provider: GET /apis/apps/v1/namespaces/prod/deployments/nope/"
            "scale: HTTP 404: deployments.apps \"nope\" not found");
  EXPECT_FALSE(e.retryable);
}

TEST_F(KubernetesProviderTest, AnApiThatNeverAnswersTimesOutRetryably) {
  api.hang = true;
  auto p = make(params({{"timeout", "300ms"}}));
  const auto start = Clock::now();
  const ProviderError e = error(list(*p));
  EXPECT_EQ(e.message, "kubernetes provider: GET " + kSlices + ": timed out after 300ms");
  EXPECT_TRUE(e.retryable);
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST_F(KubernetesProviderTest, ConnectionRefusedIsRetryable) {
  std::string url;
  {
    tcp::acceptor closed(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    url = "https://127.0.0.1:" + std::to_string(closed.local_endpoint().port());
  }
  auto p = make(params({{"api", url}}));
  const ProviderError e = error(list(*p));
  EXPECT_EQ(e.message, "kubernetes provider: GET " + kSlices + ": connection refused");
  EXPECT_TRUE(e.retryable);
}

TEST_F(KubernetesProviderTest, TlsIsVerifiedAgainstTheClusterCa) {
  auto p = make(params({{"ca_file", file("other.pem")}}));
  const ProviderError e = error(list(*p));
  EXPECT_TRUE(
      e.message.starts_with("kubernetes provider: GET " + kSlices + ": certificate verify failed"))
      << e.message;
  EXPECT_TRUE(api.seen.empty());
}

TEST_F(KubernetesProviderTest, ShutdownCancelsAnAddWaitingForPods) {
  api.ready_delay = 1h;
  auto p = make(params());
  std::optional<ProviderResult<Instances>> result;
  p->add(1, [&](auto r) { result = std::move(r); });
  run_until(io, [&] { return api.count("GET", "endpointslices") >= 3; });
  p->shutdown();
  run_until(io, [&] { return result.has_value(); });
  const ProviderError e = error(*result);
  EXPECT_TRUE(e.message.starts_with("kubernetes provider: ") && e.message.ends_with("cancelled"))
      << e.message;
}

TEST_F(KubernetesProviderTest, DestroyingTheProviderDropsCallbacksInFlight) {
  api.ready_delay = 1h;
  auto p = make(params());
  bool called = false;
  p->add(1, [&](auto) { called = true; });
  run_until(io, [&] { return api.count("GET", "endpointslices") >= 2; });
  api.hang = true;
  const int before = api.count("GET", "endpointslices");
  p->list([&](auto) { called = true; });
  run_until(io, [&] { return api.count("GET", "endpointslices") > before; });
  p.reset();
  io.restart();
  io.run_for(200ms);
  EXPECT_FALSE(called);
}

TEST_F(KubernetesProviderTest, CallbacksNeverRunInsideTheCall) {
  auto p = make(params());
  bool called = false;
  p->list([&](auto) { called = true; });
  p->add(0, [&](auto) { called = true; });
  p->remove({}, [&](auto) { called = true; });
  EXPECT_FALSE(called);
  run_until(io, [&] { return called; });
}

std::string base64(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Two clusters, users and contexts; only "ours" (the current one) and "files" reach the fake.
std::string kubeconfig(const std::string& server, const std::string& ca_pem) {
  return "apiVersion: v1\nkind: Config\ncurrent-context: ours\n"
         "clusters:\n"
         "- name: elsewhere\n  cluster:\n    server: https://127.0.0.1:1\n"
         "- name: test\n  cluster:\n    server: " +
         server +
         "/\n"
         "    certificate-authority-data: " +
         base64(ca_pem) +
         "\n"
         "- name: test-files\n  cluster:\n    server: " +
         server +
         "\n"
         "    certificate-authority: ca.pem\n"
         "users:\n"
         "- name: admin\n  user:\n    token: wrong-user\n"
         "- name: deployer\n  user:\n    token: kc-token\n"
         "- name: from-file\n  user:\n    tokenFile: kc-token-file\n"
         "contexts:\n"
         "- name: theirs\n  context:\n    cluster: elsewhere\n    user: admin\n"
         "- name: ours\n  context:\n    cluster: test\n    user: deployer\n"
         "    namespace: staging\n"
         "- name: files\n  context:\n    cluster: test-files\n    user: from-file\n";
}

TEST_F(KubernetesProviderTest, KubeconfigCurrentContextGivesServerCaDataTokenAndNamespace) {
  write("kubeconfig", kubeconfig(api.url(), slurp(file("ca.pem"))));
  api.ns = "staging";
  api.token = "kc-token";
  api.scale_to(1);
  std::filesystem::create_directories(dir_ / "tmp");
  const char* tmpdir = std::getenv("TMPDIR");
  const std::string saved = tmpdir ? tmpdir : "";
  ::setenv("TMPDIR", file("tmp").c_str(), 1);
  auto p = make({{"deployment", "api"}, {"port", "80"}, {"kubeconfig", file("kubeconfig")}});
  tmpdir ? ::setenv("TMPDIR", saved.c_str(), 1) : ::unsetenv("TMPDIR");
  EXPECT_EQ(instances(list(*p)), (Instances{{"api-7d9c5-0", "10.1.0.10:80"}}));
  ASSERT_EQ(api.seen.size(), 1u);
  EXPECT_EQ(api.seen[0].path, "/apis/discovery.k8s.io/v1/namespaces/staging/endpointslices");
  EXPECT_EQ(api.seen[0].header("authorization"), "Bearer kc-token");
  // The CA data went through a temporary file that is gone again.
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "tmp"));
}

TEST_F(KubernetesProviderTest, KubeconfigContextParameterAndFilesRelativeToTheKubeconfig) {
  write("kubeconfig", kubeconfig(api.url(), slurp(file("ca.pem"))));
  write("kc-token-file", "from-file-1\n");
  api.ns = "ops";
  api.token = "from-file-1";
  auto p = make({{"deployment", "api"},
                 {"port", "80"},
                 {"kubeconfig", file("kubeconfig")},
                 {"context", "files"},
                 {"namespace", "ops"}});
  EXPECT_TRUE(std::holds_alternative<Instances>(list(*p)));
  // A rotated token is read again for the next request.
  write("kc-token-file", "from-file-2\n");
  api.token = "from-file-2";
  EXPECT_TRUE(std::holds_alternative<Instances>(list(*p)));
  ASSERT_EQ(api.seen.size(), 2u);
  EXPECT_EQ(api.seen[1].header("authorization"), "Bearer from-file-2");
}

TEST_F(KubernetesProviderTest, KubeconfigProblemsAreRefusedAtConstruction) {
  const std::string path = file("bad-kubeconfig");
  const Params base = {{"deployment", "api"}, {"port", "80"}, {"kubeconfig", path}};
  const auto refused = [&](const std::string& yaml) {
    write("bad-kubeconfig", yaml);
    return refusal(base);
  };
  EXPECT_EQ(refused("apiVersion: v1\n"), "kubeconfig \"" + path + "\": no current-context");
  EXPECT_EQ(refused("current-context: x\ncontexts: []\n"),
            "kubeconfig \"" + path + "\": no context \"x\"");
  EXPECT_EQ(refused("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"),
            "kubeconfig \"" + path + "\": no cluster \"c\"");
  const std::string cluster = "clusters:\n- name: c\n  cluster: {server: 'https://k:6443'";
  const std::string context =
      "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n";
  EXPECT_EQ(refused(context + cluster + ", certificate-authority-data: '@@@'}\n"),
            "kubeconfig \"" + path + "\": certificate-authority-data is not base64");
  EXPECT_EQ(
      refused(context + cluster +
              "}\nusers:\n- name: u\n  user: {client-certificate: a.pem, client-key: a.key}\n"),
      "kubeconfig \"" + path +
          "\": user \"u\" has no token or tokenFile (client "
          "certificates, passwords and exec or auth-provider plugins are not supported)");
  EXPECT_TRUE(refused(context + cluster + ", certificate-authority-data: " + base64("not pem") +
                      "}\nusers:\n- name: u\n  user: {token: x}\n")
                  .starts_with("certificate-authority-data: cannot load ca_file"));
  EXPECT_TRUE(refused("a: [").starts_with("kubeconfig \"" + path + "\": "));
  EXPECT_TRUE(refusal({{"deployment", "api"}, {"port", "80"}, {"kubeconfig", file("none")}})
                  .starts_with("kubeconfig \"" + file("none") + "\": bad file"));
  EXPECT_EQ(refused(context + cluster + "}\n"), "kubeconfig \"" + path + "\": no user \"u\"");
  // Without a user, no token: kubectl proxy's way.
  EXPECT_EQ(refused("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\n" +
                    cluster + "}\n"),
            "(accepted)");
}

TEST_F(KubernetesProviderTest, InClusterUsesTheServiceEnvironmentAndTheServiceAccountFiles) {
  write("namespace", "kube-team\n");
  api.ns = "kube-team";
  ::setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", std::to_string(api.port()).c_str(), 1);
  auto p = make({{"deployment", "api"},
                 {"port", "8080"},
                 {"token_file", file("token")},
                 {"ca_file", file("ca.pem")},
                 {"namespace_file", file("namespace")}});
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  EXPECT_TRUE(std::holds_alternative<Instances>(list(*p)));
  write("token", "rotated\n");
  api.token = "rotated";
  EXPECT_TRUE(std::holds_alternative<Instances>(list(*p)));
  ASSERT_EQ(api.seen.size(), 2u);
  EXPECT_EQ(api.seen[0].path, "/apis/discovery.k8s.io/v1/namespaces/kube-team/endpointslices");
  EXPECT_EQ(api.seen[0].header("authorization"), "Bearer t0k3n");
  EXPECT_EQ(api.seen[1].header("authorization"), "Bearer rotated");
  // Without a namespace file: "default". A token file that vanishes fails the call.
  auto q = make(params({{"namespace_file", file("none")}}));
  std::filesystem::remove(dir_ / "token");
  const ProviderError e = error(list(*q));
  EXPECT_EQ(e.message, "kubernetes provider: cannot read the token file \"" + file("token") + "\"");
  EXPECT_TRUE(e.retryable);
}

TEST_F(KubernetesProviderTest, NamespaceDefaultsToDefault) {
  api.ns = "default";
  auto p = make({{"deployment", "api"},
                 {"port", "8080"},
                 {"api", api.url()},
                 {"token_file", file("token")},
                 {"ca_file", file("ca.pem")},
                 {"namespace_file", file("none")}});
  EXPECT_TRUE(std::holds_alternative<Instances>(list(*p)));
  EXPECT_EQ(api.seen.at(0).path, "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices");
}

TEST_F(KubernetesProviderTest, ParametersAreCheckedAtConstruction) {
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_EQ(refusal({{"port", "80"}}), "provider \"kubernetes\" needs deployment=");
  EXPECT_EQ(refusal({{"deployment", "api"}}), "provider \"kubernetes\" needs port=");
  EXPECT_EQ(refusal(params({{"port", "0"}})), "invalid value \"0\" of \"port=\"");
  EXPECT_EQ(refusal(params({{"port", "80x"}})), "invalid value \"80x\" of \"port=\"");
  EXPECT_EQ(refusal(params({{"replicas", "3"}})),
            "unknown parameter \"replicas\" of provider \"kubernetes\"");
  EXPECT_EQ(refusal(params({{"timeout", "0s"}})), "invalid value \"0s\" of \"timeout=\"");
  EXPECT_EQ(refusal(params({{"timeout", "soon"}})), "invalid value \"soon\" of \"timeout=\"");
  EXPECT_EQ(refusal(params({{"context", "x"}})),
            "provider \"kubernetes\" takes context= only with kubeconfig=");
  EXPECT_EQ(refusal(params({{"api", "ftp://x"}})), "invalid Kubernetes API URL \"ftp://x\"");
  EXPECT_EQ(refusal(params({{"token_file", file("none")}})),
            "cannot read the token file \"" + file("none") + "\"");
  EXPECT_EQ(refusal({{"deployment", "api"}, {"port", "80"}}),
            "provider \"kubernetes\" needs kubeconfig= outside a cluster "
            "(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set)");
  EXPECT_EQ(refusal(params()), "(accepted)");
}

}  // namespace
}  // namespace tg::scaling
