// The docker provider against a fake Docker Engine on a unix socket in a temporary
// directory. The fake keeps what the real one would: images, containers with labels, env,
// network and published ports given out at start, the running state, the API version
// floor of Docker 29, {"message"} errors; it records every request for the tests to check.
#include "scaling/docker_provider.h"

#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "tests/scaling/fake_http_server.h"
#include "tests/scaling/provider_fixture.h"

namespace tg::scaling {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Container {
  std::string id, image, network;
  json::object labels;
  json::array env;
  std::string port_key;  // "8080/tcp", published when it runs
  std::string host_ip = "127.0.0.1";
  int host_port = 0;
  bool running = false;
};

class FakeDocker {
 public:
  FakeDocker(boost::asio::io_context& io, const std::string& socket)
      : server(io, {.unix_socket = socket, .content_type = "application/json"}) {
    server.respond = [this](const RecordedRequest& r) {
      if (hang) return FakeReply{.hang = true};
      const auto [code, body] = handle(r);
      return FakeReply{code, body.is_null() ? "" : json::serialize(body)};
    };
  }

  // A container as if made by `docker run`, started (published) or not.
  Container& run(json::object labels, bool running, const std::string& port_key = "8080/tcp") {
    Container c;
    char id[65];
    std::snprintf(id, sizeof id, "%016x%048x", ++next_id_, 0xabcdef);
    c.id = id;
    c.image = "app:1";
    c.labels = std::move(labels);
    c.port_key = port_key;
    c.running = running;
    if (running) c.host_port = next_port++;
    containers.push_back(c);
    return containers.back();
  }
  std::vector<RecordedRequest> requests(const std::string& method, const std::string& part) const {
    std::vector<RecordedRequest> out;
    for (const auto& s : seen) {
      if (s.method == method && s.path.find(part) != std::string::npos) out.push_back(s);
    }
    return out;
  }

  std::set<std::string> images = {"app:1"};
  std::vector<Container> containers;
  int next_port = 32768;
  struct Failure {
    std::string part;  // of "METHOD path"
    int status;
    int skip = 0;  // matching requests to let through first
  };
  std::deque<Failure> failures;
  bool hang = false;
  // A Swarm service as GET /services/{id} answers it, when the test made one.
  std::optional<json::object> service;
  int overtaken = 0;  // updates to refuse as "out of sequence", as if another writer came first
  FakeHttpServer server;
  std::vector<RecordedRequest>& seen = server.requests;  // every request, for the tests to check

 private:
  using Reply = std::pair<int, json::value>;
  static Reply message(int code, const std::string& text) {
    return {code, json::object{{"message", text}}};
  }

  Reply swarm(const RecordedRequest& r, const std::string& rest) {
    if (!service) return message(404, "service " + rest + " not found");
    const std::string id(service->at("ID").as_string());
    const std::string name(service->at("Spec").at("Name").as_string());
    if (r.method == "GET" && (rest == id || rest == name)) return {200, *service};
    if (r.method == "POST" && rest == id + "/update") {
      json::value& index = service->at("Version").as_object()["Index"];
      const std::string sequence = "rpc error: code = Unknown desc = update out of sequence";
      if (overtaken > 0) {
        --overtaken;
        index = index.as_int64() + 1;
        return message(500, sequence);
      }
      if (r.query != "version=" + std::to_string(index.as_int64())) return message(500, sequence);
      (*service)["Spec"] = json::parse(r.body);
      index = index.as_int64() + 1;
      return {200, json::object{{"Warnings", nullptr}}};
    }
    return message(404, "service " + rest + " not found");
  }

  Container* find(const std::string& id) {
    for (auto& c : containers) {
      if (!id.empty() && c.id.starts_with(id)) return &c;
    }
    return nullptr;
  }

  json::array port_summaries(const Container& c) const {
    json::array ports;
    if (!c.running || c.port_key.empty()) return ports;
    const int private_port = std::stoi(c.port_key);
    if (c.host_ip == "0.0.0.0") {  // every interface: Docker lists IPv4 and IPv6 apart
      ports.push_back({{"IP", "::"},
                       {"PrivatePort", private_port},
                       {"PublicPort", c.host_port},
                       {"Type", "tcp"}});
    }
    ports.push_back({{"IP", c.host_ip},
                     {"PrivatePort", private_port},
                     {"PublicPort", c.host_port},
                     {"Type", "tcp"}});
    return ports;
  }

  json::value list(const std::string& query) {
    const std::string key = "filters=";
    const json::value filters =
        json::parse(query.starts_with(key) ? percent_decode(query.substr(key.size())) : "{}");
    json::array out;
    for (const auto& c : containers) {
      if (!c.running) continue;  // without all=true
      bool match = true;
      if (const auto* labels = filters.as_object().if_contains("label")) {
        for (const auto& l : labels->as_array()) {
          const std::string text(l.as_string());
          const auto eq = text.find('=');
          const auto* v = c.labels.if_contains(text.substr(0, eq));
          match =
              match && v && (eq == std::string::npos || *v == json::string(text.substr(eq + 1)));
        }
      }
      if (!match) continue;
      out.push_back({{"Id", c.id},
                     {"Image", c.image},
                     {"State", "running"},
                     {"Labels", c.labels},
                     {"Ports", port_summaries(c)}});
    }
    return out;
  }

  Reply create(const RecordedRequest& r) {
    if (r.header("content-type") != "application/json") {
      return message(400, "Content-Type specified (" + r.header("content-type") +
                              ") must be 'application/json'");
    }
    const json::value body = json::parse(r.body);
    const std::string image(body.at("Image").as_string());
    if (!images.count(image)) return message(404, "No such image: " + image);
    Container& c = run(body.at("Labels").as_object(), false, "");
    c.image = image;
    c.env = body.at("Env").as_array();
    const auto& host = body.at("HostConfig").as_object();
    if (const auto* mode = host.if_contains("NetworkMode")) c.network = mode->as_string();
    for (const auto& [port, bindings] : host.at("PortBindings").as_object()) {
      c.port_key = port;
      c.host_ip = bindings.as_array().at(0).at("HostIp").as_string();
    }
    return {201, json::object{{"Id", c.id}, {"Warnings", json::array()}}};
  }

  Reply handle(const RecordedRequest& r) {
    for (auto it = failures.begin(); it != failures.end(); ++it) {
      if ((r.method + " " + r.path).find(it->part) != std::string::npos) {
        if (it->skip-- > 0) break;
        const int code = it->status;
        failures.erase(it);
        return message(code, "injected " + std::to_string(code));
      }
    }
    const std::string version = r.path.substr(2, r.path.find('/', 1) - 2);
    if (!r.path.starts_with("/v1.") || std::stoi(version.substr(2)) < 44) {
      return message(400, "client version " + version +
                              " is too old. Minimum supported API version is 1.44, please "
                              "upgrade your client to a newer version");
    }
    const std::string path = r.path.substr(r.path.find('/', 1));
    if (r.method == "GET" && path == "/containers/json") return {200, list(r.query)};
    if (r.method == "POST" && path == "/containers/create") return create(r);
    if (path.starts_with("/services/")) return swarm(r, path.substr(10));
    if (!path.starts_with("/containers/")) return message(404, "page not found");
    const std::string rest = path.substr(12);
    const std::string id = rest.substr(0, rest.find('/'));
    const std::string action =
        rest.find('/') == std::string::npos ? "" : rest.substr(rest.find('/'));
    Container* c = find(id);
    if (!c) return message(404, "No such container: " + id);
    if (r.method == "POST" && action == "/start") {
      if (c->running) return {304, nullptr};
      c->running = true;
      c->host_port = next_port++;
      return {204, nullptr};
    }
    if (r.method == "POST" && action == "/stop") {
      if (!c->running) return {304, nullptr};
      c->running = false;
      return {204, nullptr};
    }
    if (r.method == "GET" && action == "/json") {
      json::object ports;
      if (c->running) {
        ports[c->port_key] =
            json::array{{{"HostIp", c->host_ip}, {"HostPort", std::to_string(c->host_port)}}};
      }
      return {200, json::object{
                       {"Id", c->id},
                       {"State", {{"Running", c->running}}},
                       {"Config", {{"Image", c->image}, {"Labels", c->labels}, {"Env", c->env}}},
                       {"HostConfig", {{"NetworkMode", c->network}}},
                       {"NetworkSettings", {{"Ports", ports}}}}};
    }
    if (r.method == "DELETE" && action.empty()) {
      if (c->running && r.query.find("force=true") == std::string::npos) {
        return message(
            409,
            "cannot remove container \"" + id +
                "\": container is running: stop the container before removing or force remove");
      }
      std::erase_if(containers, [&](const Container& x) { return x.id == c->id; });
      return {204, nullptr};
    }
    return message(404, "page not found");
  }

  int next_id_ = 0;
};

using Instances = std::vector<Instance>;

class DockerProviderTest : public ProviderFixture {
 protected:
  DockerProviderTest() : ProviderFixture("docker") {}

  static std::filesystem::path make_dir() {
    static int n = 0;
    auto dir = std::filesystem::temp_directory_path() /
               ("tidegate_docker_" + std::to_string(::getpid()) + "_" + std::to_string(++n));
    std::filesystem::create_directories(dir);
    return dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  Params params(Params more = {}) {
    return override_params({{"image", "app:1"}, {"port", "8080"}, {"socket", socket}}, more,
                           {"env"});
  }

  Params swarm_params(Params more = {}) {
    return override_params(
        {{"mode", "swarm"}, {"service", "web"}, {"address", "10.0.0.5:8080"}, {"socket", socket}},
        more);
  }
  // A replicated service "web" at version 42, as `docker service create` makes one.
  json::object& make_service(json::object mode = {{"Replicated", {{"Replicas", 3}}}}) {
    docker.service = json::object{
        {"ID", "svc0123abcd"},
        {"Version", {{"Index", 42}}},
        {"Spec",
         {{"Name", "web"},
          {"Labels", {{"team", "blue"}}},
          {"TaskTemplate", {{"ContainerSpec", {{"Image", "app:1"}, {"Env", {"A=1"}}}}}},
          {"Mode", std::move(mode)},
          {"EndpointSpec", {{"Ports", {{{"TargetPort", 8080}, {"PublishedPort", 8080}}}}}}}}};
    return *docker.service;
  }
  int replicas() const {
    return static_cast<int>(
        docker.service->at("Spec").at("Mode").at("Replicated").at("Replicas").as_int64());
  }

  std::filesystem::path dir = make_dir();
  std::string socket = (dir / "docker.sock").string();
  FakeDocker docker{io, socket};
};

const json::object kOurs = {{"tidegate.group", "api"}};

TEST_F(DockerProviderTest, ListFindsOurRunningContainersAtTheirPublishedPorts) {
  const std::string a = docker.run(kOurs, true).id;  // 127.0.0.1:32768
  docker.run(kOurs, false);                          // stopped
  docker.run({{"tidegate.group", "web"}}, true);     // another group's: 32769
  docker.run(kOurs, true, "9090/tcp");               // port= not published: 32770
  Container& everywhere = docker.run(kOurs, true);   // 0.0.0.0 and :: : 32771
  everywhere.host_ip = "0.0.0.0";
  auto p = make(params());
  EXPECT_EQ(instances(list(*p)), (Instances{{a.substr(0, 12), "127.0.0.1:32768"},
                                            {everywhere.id.substr(0, 12), "127.0.0.1:32771"}}));
  ASSERT_EQ(docker.seen.size(), 1u);
  const RecordedRequest& r = docker.seen[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/v1.44/containers/json");
  EXPECT_TRUE(r.query.starts_with("filters=")) << r.query;
  EXPECT_EQ(r.query.find_first_of("{}[]\":"), std::string::npos) << "not URL-encoded: " << r.query;
  EXPECT_EQ(json::parse(percent_decode(r.query.substr(8))),
            json::parse(R"({"label":["tidegate.group=api"],"status":["running"]})"));
  EXPECT_EQ(r.header("accept"), "application/json");
  EXPECT_EQ(r.header("host"), "localhost");
  EXPECT_EQ(r.body, "");
}

TEST_F(DockerProviderTest, AddCreatesStartsAndInspectsEachContainerAndListAgrees) {
  auto p = make(params({{"env", "A=1"}, {"env", "B=x=y"}, {"network", "backend"}}));
  const Instances added = instances(add(*p, 2));
  ASSERT_EQ(added.size(), 2u);
  EXPECT_EQ(added[0].id.size(), 12u);
  EXPECT_EQ(added[0].address, "127.0.0.1:32768");
  EXPECT_EQ(added[1].address, "127.0.0.1:32769");
  std::vector<std::string> calls;
  for (const auto& s : docker.seen) {
    std::string path = s.path;
    for (const auto& c : docker.containers) {
      if (const auto at = path.find(c.id); at != std::string::npos)
        path.replace(at, c.id.size(), "ID");
    }
    calls.push_back(s.method + " " + path);
  }
  const std::vector<std::string> one = {"POST /v1.44/containers/create",
                                        "POST /v1.44/containers/ID/start",
                                        "GET /v1.44/containers/ID/json"};
  EXPECT_EQ(calls, (std::vector<std::string>{one[0], one[1], one[2], one[0], one[1], one[2]}));
  const RecordedRequest& create = docker.seen[0];
  EXPECT_EQ(create.path, "/v1.44/containers/create");
  EXPECT_EQ(create.query, "");
  EXPECT_EQ(create.header("content-type"), "application/json");
  EXPECT_EQ(json::parse(create.body),
            json::parse(R"({"Image":"app:1","Labels":{"tidegate.group":"api"},
      "Env":["A=1","B=x=y"],"ExposedPorts":{"8080/tcp":{}},
      "HostConfig":{"PortBindings":{"8080/tcp":[{"HostIp":"127.0.0.1","HostPort":""}]},
                    "NetworkMode":"backend"}})"));
  EXPECT_EQ(docker.seen[1].path, "/v1.44/containers/" + docker.containers[0].id + "/start");
  EXPECT_EQ(docker.seen[1].body, "");
  EXPECT_EQ(docker.containers[0].network, "backend");
  EXPECT_EQ(instances(list(*p)), added);
}

TEST_F(DockerProviderTest, LabelParameterReplacesTheGroupLabelAndWithoutNetworkNoneIsSent) {
  auto p = make(params({{"label", "team=blue"}}));
  EXPECT_EQ(instances(add(*p, 1)).size(), 1u);
  const json::value body = json::parse(docker.seen.at(0).body);
  EXPECT_EQ(body.at("Labels"), json::parse(R"({"team":"blue"})"));
  EXPECT_FALSE(body.at("HostConfig").as_object().contains("NetworkMode"));
  EXPECT_EQ(body.at("Env"), json::array());
  EXPECT_EQ(instances(list(*p)).size(), 1u);
  EXPECT_EQ(json::parse(percent_decode(docker.seen.back().query.substr(8))).at("label"),
            json::parse(R"(["team=blue"])"));
}

TEST_F(DockerProviderTest, AMissingImageIsNotRetryable) {
  auto p = make(params({{"image", "nope:latest"}}));
  const ProviderError e = error(add(*p, 1));
  EXPECT_EQ(e.message,
            "docker provider: POST /v1.44/containers/create: HTTP 404: No such image: nope:latest");
  EXPECT_FALSE(e.retryable);
  EXPECT_TRUE(docker.containers.empty());
}

TEST_F(DockerProviderTest, AFailurePartWayDeletesTheContainersThisCallCreated) {
  const std::string before = docker.run(kOurs, true).id;
  docker.failures = {{"/start", 500, 1}};  // the second container's start
  auto p = make(params());
  const ProviderError e = error(add(*p, 3));
  EXPECT_TRUE(e.message.starts_with("docker provider: POST /v1.44/containers/")) << e.message;
  EXPECT_TRUE(e.message.ends_with("/start: HTTP 500: injected 500")) << e.message;
  EXPECT_TRUE(e.retryable);
  EXPECT_EQ(docker.requests("POST", "/create").size(), 2u);
  // The clean-up runs on after the answer, with a deadline of its own.
  run_until(io, [&] { return docker.containers.size() == 1; });
  EXPECT_EQ(docker.containers[0].id, before);
  const auto deletes = docker.requests("DELETE", "/containers/");
  ASSERT_EQ(deletes.size(), 2u);
  for (const auto& d : deletes) EXPECT_EQ(d.query, "force=true&v=true");
}

TEST_F(DockerProviderTest, RemoveStopsThenDeletesAndTakesStoppedOrGoneContainersAsDone) {
  const std::string running = docker.run(kOurs, true).id;
  const std::string stopped = docker.run(kOurs, false).id;
  auto p = make(params());
  EXPECT_FALSE(remove(*p, {{running.substr(0, 12), "127.0.0.1:32768"},
                           {stopped.substr(0, 12), "127.0.0.1:1"},
                           {"0123456789ab", "127.0.0.1:2"}}));
  EXPECT_TRUE(docker.containers.empty());
  std::vector<std::string> calls;
  for (const auto& s : docker.seen) calls.push_back(s.method + " " + s.path + "?" + s.query);
  const std::string a = "/v1.44/containers/" + running.substr(0, 12);
  const std::string b = "/v1.44/containers/" + stopped.substr(0, 12);
  EXPECT_EQ(calls, (std::vector<std::string>{"POST " + a + "/stop?t=10", "DELETE " + a + "?v=true",
                                             "POST " + b + "/stop?t=10", "DELETE " + b + "?v=true",
                                             "POST /v1.44/containers/0123456789ab/stop?t=10"}));
}

TEST_F(DockerProviderTest, RemoveReportsADeleteThatDockerRefused) {
  const std::string id = docker.run(kOurs, true).id.substr(0, 12);
  docker.failures = {{"DELETE", 409}};
  auto p = make(params());
  const auto e = remove(*p, {{id, "127.0.0.1:32768"}});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->message,
            "docker provider: DELETE /v1.44/containers/" + id + ": HTTP 409: injected 409");
  EXPECT_TRUE(e->retryable);
}

TEST_F(DockerProviderTest, ErrorsQuoteDockersMessageAndSayWhetherToRetry) {
  auto p = make(params());
  for (const auto& [code, retryable] :
       {std::pair{500, true}, {503, true}, {409, true}, {429, true}, {400, false}, {404, false}}) {
    docker.failures = {{"GET /v1.44/containers/json", code}};
    const ProviderError e = error(list(*p));
    EXPECT_EQ(e.message, "docker provider: GET /v1.44/containers/json: HTTP " +
                             std::to_string(code) + ": injected " + std::to_string(code));
    EXPECT_EQ(e.retryable, retryable) << code;
  }
}

TEST_F(DockerProviderTest, ApiVersionParameterSetsThePathPrefix) {
  auto p = make(params({{"api_version", "1.43"}}));
  const ProviderError e = error(list(*p));
  EXPECT_EQ(e.message,
            "docker provider: GET /v1.43/containers/json: HTTP 400: client version 1.43 is too "
            "old. Minimum supported API version is 1.44, please upgrade your client to a newer "
            "version");
  EXPECT_FALSE(e.retryable);
  auto q = make(params({{"api_version", "1.47"}}));
  EXPECT_TRUE(std::holds_alternative<Instances>(list(*q)));
  EXPECT_EQ(docker.seen.back().path, "/v1.47/containers/json");
}

TEST_F(DockerProviderTest, ADaemonThatNeverAnswersTimesOutRetryably) {
  docker.hang = true;
  auto p = make(params({{"timeout", "300ms"}}));
  const auto start = Clock::now();
  const ProviderError e = error(list(*p));
  EXPECT_EQ(e.message, "docker provider: GET /v1.44/containers/json: timed out after 300ms");
  EXPECT_TRUE(e.retryable);
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST_F(DockerProviderTest, NoDaemonOnTheSocketIsRetryable) {
  auto p = make(params({{"socket", (dir / "none.sock").string()}}));
  const ProviderError e = error(list(*p));
  EXPECT_TRUE(e.message.starts_with("docker provider: GET /v1.44/containers/json: connect to " +
                                    (dir / "none.sock").string()))
      << e.message;
  EXPECT_TRUE(e.retryable);
}

TEST_F(DockerProviderTest, ShutdownCompletesCallsInFlightWithCancelled) {
  docker.hang = true;
  auto p = make(params());
  std::optional<ProviderResult<Instances>> result;
  p->add(1, [&](auto r) { result = std::move(r); });
  run_until(io, [&] { return !docker.seen.empty(); });
  p->shutdown();
  run_until(io, [&] { return result.has_value(); });
  EXPECT_EQ(error(*result).message, "docker provider: POST /v1.44/containers/create: cancelled");
}

TEST_F(DockerProviderTest, DestroyingTheProviderDropsCallbacksInFlight) {
  docker.hang = true;
  auto p = make(params());
  bool called = false;
  p->list([&](auto) { called = true; });
  p->remove({{"0123456789ab", "x:1"}}, [&](auto) { called = true; });
  run_until(io, [&] { return docker.seen.size() == 2; });
  expect_destruction_drops_callbacks(p, called, 100ms);
}

TEST_F(DockerProviderTest, CallbacksNeverRunInsideTheCall) {
  auto p = make(params());
  expect_callbacks_after_the_calls(*p);
}

TEST_F(DockerProviderTest, ParametersAreCheckedAtConstruction) {
  EXPECT_EQ(refusal({{"port", "80"}}), "provider \"docker\" needs image=");
  EXPECT_EQ(refusal({{"image", "app:1"}}), "provider \"docker\" needs port=");
  EXPECT_EQ(refusal(params({{"port", "70000"}})), "invalid value \"70000\" of \"port=\"");
  EXPECT_EQ(refusal(params({{"replicas", "2"}})),
            "unknown parameter \"replicas\" of provider \"docker\"");
  EXPECT_EQ(refusal(params({{"env", "NOVALUE"}})), "invalid value \"NOVALUE\" of \"env=\"");
  EXPECT_EQ(refusal(params({{"env", "=x"}})), "invalid value \"=x\" of \"env=\"");
  EXPECT_EQ(refusal(params({{"label", "=x"}})), "invalid value \"=x\" of \"label=\"");
  EXPECT_EQ(refusal(params({{"api_version", "v1"}})), "invalid value \"v1\" of \"api_version=\"");
  EXPECT_EQ(refusal(params({{"timeout", "0"}})), "invalid value \"0\" of \"timeout=\"");
  EXPECT_EQ(refusal(params({{"label", "managed"}, {"timeout", "1m"}})), "(accepted)");
}

TEST_F(DockerProviderTest, SwarmListReportsTheAddressOncePerReplica) {
  make_service();
  auto p = make(swarm_params());
  EXPECT_EQ(p->kind(), Provider::Kind::kCapacity);
  EXPECT_EQ(make(params())->kind(), Provider::Kind::kInstances);
  EXPECT_EQ(instances(list(*p)), (Instances{{"web-1", "10.0.0.5:8080"},
                                            {"web-2", "10.0.0.5:8080"},
                                            {"web-3", "10.0.0.5:8080"}}));
  ASSERT_EQ(docker.seen.size(), 1u);
  EXPECT_EQ(docker.seen[0].method, "GET");
  EXPECT_EQ(docker.seen[0].target, "/v1.44/services/web");
}

TEST_F(DockerProviderTest, SwarmAddPostsTheWholeSpecWithMoreReplicasAtTheVersionRead) {
  const json::value before = make_service().at("Spec");
  auto p = make(swarm_params());
  EXPECT_EQ(instances(add(*p, 2)),
            (Instances{{"web-4", "10.0.0.5:8080"}, {"web-5", "10.0.0.5:8080"}}));
  ASSERT_EQ(docker.seen.size(), 2u);
  EXPECT_EQ(docker.seen[0].target, "/v1.44/services/web");
  const RecordedRequest& update = docker.seen[1];
  EXPECT_EQ(update.method, "POST");
  EXPECT_EQ(update.path, "/v1.44/services/svc0123abcd/update");
  EXPECT_EQ(update.query, "version=42");
  EXPECT_EQ(update.header("content-type"), "application/json");
  json::value expected = before;
  expected.at("Mode").at("Replicated").as_object()["Replicas"] = 5;
  EXPECT_EQ(json::parse(update.body), expected);
  EXPECT_EQ(instances(list(*p)).size(), 5u);
}

TEST_F(DockerProviderTest, SwarmAnUpdateOutOfSequenceIsReadAgainAndRetried) {
  make_service();
  docker.overtaken = 2;
  auto p = make(swarm_params());
  EXPECT_EQ(instances(add(*p, 1)), (Instances{{"web-4", "10.0.0.5:8080"}}));
  std::vector<std::string> queries;
  for (const auto& r : docker.requests("POST", "/update")) queries.push_back(r.query);
  EXPECT_EQ(queries, (std::vector<std::string>{"version=42", "version=43", "version=44"}));
  EXPECT_EQ(docker.requests("GET", "/services/web").size(), 3u);
  EXPECT_EQ(replicas(), 4);

  docker.overtaken = 4;  // a first try and 3 retries, all overtaken
  docker.seen.clear();
  const ProviderError e = error(add(*p, 1));
  EXPECT_EQ(e.message,
            "docker provider: POST /v1.44/services/svc0123abcd/update: HTTP 500: rpc error: code "
            "= Unknown desc = update out of sequence");
  EXPECT_TRUE(e.retryable);
  EXPECT_EQ(docker.requests("POST", "/update").size(), 4u);
  EXPECT_EQ(replicas(), 4);
}

TEST_F(DockerProviderTest, SwarmRemoveLowersReplicasButNeverBelowOne) {
  make_service();
  auto p = make(swarm_params());
  const Instance any{"web-3", "10.0.0.5:8080"};
  EXPECT_FALSE(remove(*p, {any}));
  EXPECT_EQ(replicas(), 2);
  EXPECT_EQ(json::parse(docker.seen.back().body).at("TaskTemplate"),
            docker.service->at("Spec").at("TaskTemplate"));
  EXPECT_FALSE(remove(*p, {any, any, any, any}));
  EXPECT_EQ(replicas(), 1);
  docker.seen.clear();
  EXPECT_FALSE(remove(*p, {any}));
  EXPECT_EQ(replicas(), 1);
  ASSERT_EQ(docker.seen.size(), 1u);  // read, nothing to post
  EXPECT_EQ(docker.seen[0].method, "GET");
}

TEST_F(DockerProviderTest, SwarmRefusesAGlobalOrMissingServiceWithoutRetry) {
  make_service({{"Global", json::object()}});
  auto p = make(swarm_params());
  ProviderError e = error(add(*p, 1));
  EXPECT_EQ(e.message, "docker provider: service web is not replicated");
  EXPECT_FALSE(e.retryable);
  EXPECT_TRUE(docker.requests("POST", "/update").empty());
  docker.service.reset();
  e = error(list(*p));
  EXPECT_EQ(e.message, "docker provider: GET /v1.44/services/web: HTTP 404: service web not found");
  EXPECT_FALSE(e.retryable);
  docker.failures = {{"GET /v1.44/services/web", 503}};
  EXPECT_TRUE(error(list(*p)).retryable);
}

TEST_F(DockerProviderTest, SwarmParametersAreCheckedAtConstruction) {
  EXPECT_EQ(refusal(params({{"mode", "stack"}})), "invalid value \"stack\" of \"mode=\"");
  EXPECT_EQ(refusal({{"mode", "swarm"}, {"address", "h:1"}}), "provider \"docker\" needs service=");
  EXPECT_EQ(refusal({{"mode", "swarm"}, {"service", "web"}}), "provider \"docker\" needs address=");
  EXPECT_EQ(refusal(swarm_params({{"service", ""}})), "invalid value \"\" of \"service=\"");
  EXPECT_EQ(refusal(swarm_params({{"address", "10.0.0.5"}})),
            "invalid value \"10.0.0.5\" of \"address=\"");
  EXPECT_EQ(refusal(swarm_params({{"image", "app:1"}})),
            "provider \"docker\" mode=swarm does not take image=");
  EXPECT_EQ(refusal(swarm_params({{"port", "8080"}})),
            "provider \"docker\" mode=swarm does not take port=");
  EXPECT_EQ(refusal(params({{"service", "web"}})),
            "provider \"docker\" mode=containers does not take service=");
  EXPECT_EQ(refusal(params({{"mode", "containers"}})), "(accepted)");
  EXPECT_EQ(refusal(swarm_params({{"api_version", "1.47"}, {"timeout", "5s"}})), "(accepted)");
}

}  // namespace
}  // namespace tg::scaling
