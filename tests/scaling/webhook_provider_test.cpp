// The webhook provider against a real HTTP(S) server on 127.0.0.1 run by the test on the
// same io_context: what is sent (body, signature, headers), how answers and failures map
// to ProviderError, and TLS verification with a throwaway CA made by the openssl command.
#include "scaling/webhook_provider.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/scaling/fake_http_server.h"
#include "tests/scaling/provider_fixture.h"
#include "tests/scaling/test_certificates.h"

namespace tg::scaling {
namespace {

using namespace std::chrono_literals;
using Reply = FakeReply;

// What a receiver with nothing to report answers.
FakeReply no_instances(const RecordedRequest&) {
  return {200, R"({"instances":[]})"};
}

std::string hmac_hex(const std::string& key, const std::string& body) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), out, &size);
  std::string hex;
  char two[3];
  for (unsigned i = 0; i < size; ++i) {
    std::snprintf(two, sizeof two, "%02x", out[i]);
    hex += two;
  }
  return hex;
}

// 8-4-4-4-12 lowercase hex digits, version 4, RFC 4122 variant.
bool is_uuid4(const std::string& id) {
  if (id.size() != 36) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (id[i] == '-')) return false;
    if (!dash && std::string_view("0123456789abcdef").find(id[i]) == std::string_view::npos) {
      return false;
    }
  }
  return id[14] == '4' && std::string_view("89ab").find(id[19]) != std::string_view::npos;
}

class WebhookProviderTest : public ProviderFixture {
 protected:
  WebhookProviderTest() : ProviderFixture("webhook") { server.respond = no_instances; }
  ProviderError list_error(Provider& p) { return error(list(p)); }

  FakeHttpServer server{io, {.content_type = "application/json"}};
};

TEST(WebhookSignature, MatchesGitHubsDocumentedExample) {
  EXPECT_EQ(webhook_signature("It's a Secret to Everybody", "Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}

TEST_F(WebhookProviderTest, ListPostsSignedJsonAndReturnsTheInstances) {
  server.respond = [](const RecordedRequest&) {
    return Reply{200, R"({"instances":[{"id":"i-1","address":"10.0.0.5:8080"}]})"};
  };
  auto p = make({{"url", server.url("/hook")}, {"secret", "s3cret"}});
  const auto result = list(*p);
  ASSERT_TRUE(std::holds_alternative<std::vector<Instance>>(result));
  EXPECT_EQ(std::get<std::vector<Instance>>(result),
            (std::vector<Instance>{{"i-1", "10.0.0.5:8080"}}));
  ASSERT_EQ(server.requests.size(), 1u);
  const RecordedRequest& r = server.requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/hook");
  EXPECT_EQ(r.body, R"({"action":"list","group":"api"})");
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("x-tidegate-signature-256"), "sha256=" + hmac_hex("s3cret", r.body));
  EXPECT_TRUE(r.header("user-agent").starts_with("tidegate/")) << r.header("user-agent");
  EXPECT_TRUE(is_uuid4(r.header("x-tidegate-delivery"))) << r.header("x-tidegate-delivery");
  EXPECT_EQ(r.header("host"), server.url("").substr(7));
}

TEST_F(WebhookProviderTest, AddSendsTheCountAndReturnsTheNewInstances) {
  server.respond = [](const RecordedRequest&) {
    return Reply{201,
                 R"({"instances":[{"id":"a","address":"h1:80"},{"id":"b","address":"h2:80"}]})"};
  };
  auto p = make({{"url", server.url("/hook")}});
  std::optional<ProviderResult<std::vector<Instance>>> result;
  p->add(2, [&](auto r) { result = std::move(r); });
  run_until(io, result);
  ASSERT_TRUE(std::holds_alternative<std::vector<Instance>>(*result));
  EXPECT_EQ(std::get<std::vector<Instance>>(*result),
            (std::vector<Instance>{{"a", "h1:80"}, {"b", "h2:80"}}));
  ASSERT_EQ(server.requests.size(), 1u);
  EXPECT_EQ(server.requests[0].body, R"({"action":"add","group":"api","count":2})");
}

TEST_F(WebhookProviderTest, RemoveSendsTheInstancesAndNeedsOnlyA2xx) {
  server.respond = [](const RecordedRequest&) { return Reply{204, ""}; };
  auto p = make({{"url", server.url("/hook")}, {"secret", "k"}});
  std::optional<std::optional<ProviderError>> result;
  p->remove({{"a", "h1:80"}, {"b", "h2:80"}}, [&](auto r) { result = std::move(r); });
  run_until(io, result);
  EXPECT_FALSE(*result) << (*result)->message;
  ASSERT_EQ(server.requests.size(), 1u);
  const RecordedRequest& r = server.requests[0];
  EXPECT_EQ(r.body, R"({"action":"remove","group":"api","instances":[{"id":"a","address":"h1:80"},)"
                    R"({"id":"b","address":"h2:80"}]})");
  EXPECT_EQ(r.header("x-tidegate-signature-256"), "sha256=" + hmac_hex("k", r.body));
}

TEST_F(WebhookProviderTest, WithoutASecretSendsNoSignatureAndAFreshDeliveryIdPerCall) {
  auto p = make({{"url", server.url("/hook")}});
  list(*p);
  list(*p);
  ASSERT_EQ(server.requests.size(), 2u);
  EXPECT_EQ(server.requests[0].header("x-tidegate-signature-256"), "(none)");
  EXPECT_NE(server.requests[0].header("x-tidegate-delivery"),
            server.requests[1].header("x-tidegate-delivery"));
}

TEST_F(WebhookProviderTest, SecretFileIsReadAtConstructionWithoutItsTrailingNewline) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("tidegate_webhook_secret_" + std::to_string(::getpid()));
  std::ofstream(path) << "from-file\n";
  auto p = make({{"url", server.url("/hook")}, {"secret_file", path.string()}});
  std::filesystem::remove(path);  // read already
  list(*p);
  ASSERT_EQ(server.requests.size(), 1u);
  EXPECT_EQ(server.requests[0].header("x-tidegate-signature-256"),
            "sha256=" + hmac_hex("from-file", server.requests[0].body));
}

TEST_F(WebhookProviderTest, CallbackNeverRunsInsideTheCall) {
  auto p = make({{"url", server.url("/hook")}});
  expect_callbacks_after_the_calls(*p);
}

TEST_F(WebhookProviderTest, Http503IsRetryableAndQuotesTheFirst200BytesOfTheBody) {
  const std::string body = std::string(150, 'a') + std::string(150, 'b');
  server.respond = [&](const RecordedRequest&) { return Reply{503, body}; };
  auto p = make({{"url", server.url("/hook")}});
  const ProviderError e = list_error(*p);
  EXPECT_EQ(e.message,
            "webhook provider: HTTP 503 from " + server.url("/hook") + ": " + body.substr(0, 200));
  EXPECT_TRUE(e.retryable);
}

TEST_F(WebhookProviderTest, Http429And409AreRetryableOther4xxAreNot) {
  auto p = make({{"url", server.url("/hook")}});
  for (const auto& [status, retryable] :
       {std::pair{429, true}, {409, true}, {408, true}, {400, false}, {404, false}, {403, false}}) {
    server.respond = [status = status](const RecordedRequest&) { return Reply{status, "no"}; };
    const ProviderError e = list_error(*p);
    EXPECT_EQ(e.retryable, retryable) << status;
    EXPECT_EQ(e.message, "webhook provider: HTTP " + std::to_string(status) + " from " +
                             server.url("/hook") + ": no");
  }
}

TEST_F(WebhookProviderTest, GarbageOrIncompleteJsonIsAnError) {
  auto p = make({{"url", server.url("/hook")}});
  for (const std::string body : {"<html>oops</html>", R"({"nodes":[]})",
                                 R"({"instances":[{"id":"a"}]})", R"({"instances":[7]})"}) {
    server.respond = [&](const RecordedRequest&) { return Reply{200, body}; };
    const ProviderError e = list_error(*p);
    EXPECT_TRUE(
        e.message.starts_with("webhook provider: invalid answer from " + server.url("/hook")))
        << e.message;
  }
}

TEST_F(WebhookProviderTest, ServerThatNeverAnswersTimesOutRetryably) {
  server.respond = [](const RecordedRequest&) { return Reply{.hang = true}; };
  auto p = make({{"url", server.url("/hook")}, {"timeout", "300ms"}});
  const auto start = std::chrono::steady_clock::now();
  const ProviderError e = list_error(*p);
  EXPECT_EQ(e.message, "webhook provider: POST " + server.url("/hook") + ": timed out after 300ms");
  EXPECT_TRUE(e.retryable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST_F(WebhookProviderTest, ConnectionRefusedIsRetryable) {
  const std::string url = refused_url(io) + "/hook";
  auto p = make({{"url", url}});
  const ProviderError e = list_error(*p);
  EXPECT_EQ(e.message, "webhook provider: POST " + url + ": connection refused");
  EXPECT_TRUE(e.retryable);
}

TEST_F(WebhookProviderTest, ShutdownCompletesCallsInFlightWithCancelled) {
  server.respond = [](const RecordedRequest&) { return Reply{.hang = true}; };
  auto p = make({{"url", server.url("/hook")}});
  std::optional<ProviderResult<std::vector<Instance>>> result;
  p->list([&](auto r) { result = std::move(r); });
  run_until(io, [&] { return !server.requests.empty(); });
  p->shutdown();
  run_until(io, result);
  ASSERT_TRUE(std::holds_alternative<ProviderError>(*result));
  EXPECT_EQ(std::get<ProviderError>(*result).message,
            "webhook provider: POST " + server.url("/hook") + ": cancelled");
}

TEST_F(WebhookProviderTest, DestroyingTheProviderDropsCallbacksInFlight) {
  server.respond = [](const RecordedRequest&) { return Reply{.hang = true}; };
  auto p = make({{"url", server.url("/hook")}});
  bool called = false;
  p->list([&](auto) { called = true; });
  p->list([&](auto) { called = true; });
  run_until(io, [&] { return server.requests.size() == 2; });
  expect_destruction_drops_callbacks(p, called, 100ms);
}

TEST_F(WebhookProviderTest, ParametersAreCheckedAtConstruction) {
  const auto message = [&](Params params) { return refusal(std::move(params)); };
  EXPECT_EQ(message({}), "provider \"webhook\" needs url=");
  EXPECT_EQ(message({{"url", server.url("/hook")}, {"retries", "3"}}),
            "unknown parameter \"retries\" of provider \"webhook\"");
  EXPECT_EQ(message({{"url", "ftp://x/"}}), "invalid value \"ftp://x/\" of \"url=\"");
  EXPECT_EQ(message({{"url", server.url("/hook")}, {"timeout", "soon"}}),
            "invalid value \"soon\" of \"timeout=\"");
  EXPECT_EQ(message({{"url", server.url("/hook")}, {"secret", "a"}, {"secret_file", "/x"}}),
            "provider \"webhook\" takes secret= or secret_file=, not both");
  EXPECT_EQ(message({{"url", server.url("/hook")}, {"secret_file", "/nonexistent/key"}}),
            "cannot read secret_file \"/nonexistent/key\" (2: No such file or directory)");
  EXPECT_TRUE(message({{"url", server.url("/hook")}, {"ca_file", "/nonexistent/ca.pem"}})
                  .starts_with("cannot load ca_file \"/nonexistent/ca.pem\""));
  EXPECT_EQ(message({{"url", "https://example.test/x"}, {"timeout", "5s"}}), "(accepted)");
}

// A CA and two server certificates (one for 127.0.0.1, one for another name), made once.
class WebhookTlsTest : public WebhookProviderTest {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() /
           ("tidegate_webhook_tls_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    make_test_ca(dir_, "ca", "tidegate-test-ca");
    make_test_certificate(dir_, "good", "ca", "IP:127.0.0.1,DNS:localhost");
    make_test_certificate(dir_, "other", "ca", "DNS:other.test");
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

  static FakeHttpServer::Options tls(const std::string& name) {
    return {.certificate = (dir_ / (name + ".pem")).string(),
            .private_key = (dir_ / (name + ".key")).string(),
            .content_type = "application/json"};
  }

  WebhookTlsTest() { tls_server.respond = no_instances; }

  static inline std::filesystem::path dir_;
  FakeHttpServer tls_server{io, tls("good")};
};

TEST_F(WebhookTlsTest, HttpsWorksWithTheCaFile) {
  auto p = make({{"url", tls_server.url("/hook")}, {"ca_file", (dir_ / "ca.pem").string()}});
  EXPECT_TRUE(std::holds_alternative<std::vector<Instance>>(list(*p)));
  ASSERT_EQ(tls_server.requests.size(), 1u);
  EXPECT_EQ(tls_server.requests[0].body, R"({"action":"list","group":"api"})");
}

TEST_F(WebhookTlsTest, HttpsFailsVerificationWithoutTheCaFile) {
  auto p = make({{"url", tls_server.url("/hook")}});
  const ProviderError e = list_error(*p);
  EXPECT_TRUE(e.message.starts_with("webhook provider: POST " + tls_server.url("/hook") +
                                    ": certificate verify failed"))
      << e.message;
  EXPECT_TRUE(e.retryable);
  EXPECT_TRUE(tls_server.requests.empty());
}

TEST_F(WebhookTlsTest, HttpsFailsWhenTheCertificateNamesAnotherHost) {
  FakeHttpServer other_server(io, tls("other"));
  auto p = make({{"url", other_server.url("/hook")}, {"ca_file", (dir_ / "ca.pem").string()}});
  const ProviderError e = list_error(*p);
  EXPECT_EQ(e.message, "webhook provider: POST " + other_server.url("/hook") +
                           ": certificate verify failed: hostname mismatch");
  EXPECT_TRUE(other_server.requests.empty());
}

TEST_F(WebhookTlsTest, HandshakeThatNeverCompletesTimesOut) {
  // The plain server reads the ClientHello as the start of a request head and waits on.
  const std::string url = "https" + server.url("/hook").substr(4);
  auto p = make({{"url", url}, {"ca_file", (dir_ / "ca.pem").string()}, {"timeout", "200ms"}});
  EXPECT_EQ(list_error(*p).message, "webhook provider: POST " + url + ": timed out after 200ms");
}

}  // namespace
}  // namespace tg::scaling
