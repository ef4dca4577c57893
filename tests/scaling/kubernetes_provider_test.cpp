// The kubernetes provider against a fake API server (fake_kubernetes.h) over HTTPS on
// 127.0.0.1, with a throwaway CA made by the openssl command; the tests check what the
// fake recorded.
#include "scaling/kubernetes_provider.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/scaling/fake_http_server.h"
#include "tests/scaling/fake_kubernetes.h"
#include "tests/scaling/provider_fixture.h"
#include "tests/scaling/test_certificates.h"

namespace tg::scaling {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

using Instances = std::vector<Instance>;

class KubernetesProviderTest : public ProviderFixture {
 protected:
  KubernetesProviderTest() : ProviderFixture("kubernetes") {}

  // A CA for the fake, another that did not sign it, made once.
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() /
           ("tidegate_kubernetes_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    make_test_ca(dir_, "ca", "test-cluster-ca");
    make_test_ca(dir_, "other", "other-ca");
    make_test_certificate(dir_, "server", "ca", "IP:127.0.0.1");
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

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
    return override_params(std::move(p), more);
  }

  static inline std::filesystem::path dir_;
  FakeKubernetes api{io,
                     {.certificate = file("server.pem"),
                      .private_key = file("server.key"),
                      .content_type = "application/json"}};
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
  const RecordedRequest& r = api.seen[0];
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
  const RecordedRequest& put = api.seen[2];
  EXPECT_EQ(put.method + " " + put.path, "PUT " + kScale);
  EXPECT_EQ(put.header("content-type"), "application/json");
  EXPECT_EQ(put.header("authorization"), "Bearer t0k3n");
  const json::value body = json::parse(put.body);
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
  EXPECT_EQ(json::parse(api.seen[2].body).at("metadata").at("resourceVersion"), "100");
  EXPECT_EQ(json::parse(api.seen[4].body).at("metadata").at("resourceVersion"), "101");
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
    const RecordedRequest& patch = api.seen[i];
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
  EXPECT_EQ(json::parse(api.seen[3].body).at("spec").at("replicas"), 2);
  EXPECT_EQ(json::parse(api.seen[3].body).at("metadata").at("resourceVersion"), "102");
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
  const std::string url = refused_url(io, "https");
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
  expect_destruction_drops_callbacks(p, called, 200ms);
}

TEST_F(KubernetesProviderTest, CallbacksNeverRunInsideTheCall) {
  auto p = make(params());
  expect_callbacks_after_the_calls(*p);
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
  // The CA data is loaded from memory, never written to a temporary file.
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
                  .starts_with("certificate-authority-data: cannot load ca_pem"));
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
