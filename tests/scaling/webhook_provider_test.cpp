// The webhook provider against a real HTTP(S) server on 127.0.0.1 run by the test on the
// same io_context: what is sent (body, signature, headers), how answers and failures map
// to ProviderError, and TLS verification with a throwaway CA made by the openssl command.
#include "scaling/webhook_provider.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <gtest/gtest.h>

namespace tg::scaling {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

struct Recorded {
  std::string method, target, body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return "(none)";
  }
};

struct Reply {
  int status = 200;
  std::string body = R"({"instances":[]})";
  bool hang = false;  // accept and read, never answer
};

// Records every request and answers with `respond`; TLS when given a server context.
class TestServer {
 public:
  explicit TestServer(asio::io_context& io, asio::ssl::context* tls = nullptr)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), tls_(tls) {
    asio::co_spawn(io, accept_loop(), [](std::exception_ptr e) {
      if (e) ADD_FAILURE() << "test server stopped by an exception";
    });
  }
  std::string url(const std::string& path = "/hook") const {
    return std::string(tls_ ? "https" : "http") +
           "://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + path;
  }

  std::function<Reply(const Recorded&)> respond = [](const Recorded&) { return Reply{}; };
  std::vector<Recorded> requests;

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      auto handler = [](std::exception_ptr) {};  // a peer that goes away is not a failure
      auto& io = static_cast<asio::io_context&>(acceptor_.get_executor().context());
      if (tls_) {
        auto stream = std::make_shared<asio::ssl::stream<tcp::socket>>(std::move(socket), *tls_);
        asio::co_spawn(io, serve_tls(stream), handler);
      } else {
        auto stream = std::make_shared<tcp::socket>(std::move(socket));
        asio::co_spawn(io, serve(stream, *stream), handler);
      }
    }
  }

  asio::awaitable<void> serve_tls(std::shared_ptr<asio::ssl::stream<tcp::socket>> stream) {
    co_await stream->async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
    co_await serve(stream, *stream);
  }

  template <class Stream>
  asio::awaitable<void> serve(std::shared_ptr<void> keep, Stream& stream) {
    std::string buffer;
    const std::size_t head_end = co_await asio::async_read_until(
        stream, asio::dynamic_buffer(buffer), "\r\n\r\n", asio::use_awaitable);
    Recorded r;
    std::istringstream head(buffer.substr(0, head_end));
    std::string line;
    std::getline(head, line);
    std::istringstream(line) >> r.method >> r.target;
    std::size_t length = 0;
    while (std::getline(head, line) && line != "\r") {
      const auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 2, line.size() - colon - 3);  // drop ": " and \r
      if (name == "content-length") length = std::stoul(value);
      r.headers.emplace_back(name, value);
    }
    buffer.erase(0, head_end);
    if (buffer.size() < length) {
      co_await asio::async_read(stream, asio::dynamic_buffer(buffer),
                                asio::transfer_exactly(length - buffer.size()),
                                asio::use_awaitable);
    }
    r.body = buffer;
    requests.push_back(r);
    const Reply reply = respond(r);
    if (reply.hang) {
      hung_.push_back(keep);
      co_return;
    }
    const std::string answer = "HTTP/1.1 " + std::to_string(reply.status) +
                               " X\r\nContent-Type: application/json\r\nContent-Length: " +
                               std::to_string(reply.body.size()) + "\r\n\r\n" + reply.body;
    co_await asio::async_write(stream, asio::buffer(answer), asio::use_awaitable);
  }

  tcp::acceptor acceptor_;
  asio::ssl::context* tls_;
  std::vector<std::shared_ptr<void>> hung_;
};

// Runs `io` until `done()`, at most 10 s, so that a broken test fails instead of hanging.
void run_until(asio::io_context& io, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_one_for(20ms);
  }
  ASSERT_TRUE(done()) << "nothing happened within 10 s";
}

template <class T>
void run_until(asio::io_context& io, const std::optional<T>& slot) {
  run_until(io, [&] { return slot.has_value(); });
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

class WebhookProviderTest : public ::testing::Test {
 protected:
  using Params = std::vector<std::pair<std::string, std::string>>;
  std::unique_ptr<Provider> make(Params params) {
    return make_webhook_provider(ProviderSpec{"webhook", std::move(params)}, {io, "api"});
  }
  ProviderResult<std::vector<Instance>> list(Provider& p) {
    std::optional<ProviderResult<std::vector<Instance>>> result;
    p.list([&](auto r) { result = std::move(r); });
    run_until(io, result);
    return result.value_or(ProviderError{"no answer"});
  }
  ProviderError list_error(Provider& p) {
    auto result = list(p);
    EXPECT_TRUE(std::holds_alternative<ProviderError>(result));
    return std::holds_alternative<ProviderError>(result) ? std::get<ProviderError>(result)
                                                         : ProviderError{"no error", false};
  }

  asio::io_context io;
  TestServer server{io};
};

TEST(WebhookSignature, MatchesGitHubsDocumentedExample) {
  EXPECT_EQ(webhook_signature("It's a Secret to Everybody", "Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}

TEST_F(WebhookProviderTest, ListPostsSignedJsonAndReturnsTheInstances) {
  server.respond = [](const Recorded&) {
    return Reply{200, R"({"instances":[{"id":"i-1","address":"10.0.0.5:8080"}]})"};
  };
  auto p = make({{"url", server.url()}, {"secret", "s3cret"}});
  const auto result = list(*p);
  ASSERT_TRUE(std::holds_alternative<std::vector<Instance>>(result));
  EXPECT_EQ(std::get<std::vector<Instance>>(result),
            (std::vector<Instance>{{"i-1", "10.0.0.5:8080"}}));
  ASSERT_EQ(server.requests.size(), 1u);
  const Recorded& r = server.requests[0];
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
  server.respond = [](const Recorded&) {
    return Reply{201,
                 R"({"instances":[{"id":"a","address":"h1:80"},{"id":"b","address":"h2:80"}]})"};
  };
  auto p = make({{"url", server.url()}});
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
  server.respond = [](const Recorded&) { return Reply{204, ""}; };
  auto p = make({{"url", server.url()}, {"secret", "k"}});
  std::optional<std::optional<ProviderError>> result;
  p->remove({{"a", "h1:80"}, {"b", "h2:80"}}, [&](auto r) { result = std::move(r); });
  run_until(io, result);
  EXPECT_FALSE(*result) << (*result)->message;
  ASSERT_EQ(server.requests.size(), 1u);
  const Recorded& r = server.requests[0];
  EXPECT_EQ(r.body, R"({"action":"remove","group":"api","instances":[{"id":"a","address":"h1:80"},)"
                    R"({"id":"b","address":"h2:80"}]})");
  EXPECT_EQ(r.header("x-tidegate-signature-256"), "sha256=" + hmac_hex("k", r.body));
}

TEST_F(WebhookProviderTest, WithoutASecretSendsNoSignatureAndAFreshDeliveryIdPerCall) {
  auto p = make({{"url", server.url()}});
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
  auto p = make({{"url", server.url()}, {"secret_file", path.string()}});
  std::filesystem::remove(path);  // read already
  list(*p);
  ASSERT_EQ(server.requests.size(), 1u);
  EXPECT_EQ(server.requests[0].header("x-tidegate-signature-256"),
            "sha256=" + hmac_hex("from-file", server.requests[0].body));
}

TEST_F(WebhookProviderTest, CallbackNeverRunsInsideTheCall) {
  auto p = make({{"url", server.url()}});
  bool called = false;
  p->list([&](auto) { called = true; });
  EXPECT_FALSE(called);
  std::optional<bool> done;
  p->list([&](auto) { done = true; });
  run_until(io, done);
}

TEST_F(WebhookProviderTest, Http503IsRetryableAndQuotesTheFirst200BytesOfTheBody) {
  const std::string body = std::string(150, 'a') + std::string(150, 'b');
  server.respond = [&](const Recorded&) { return Reply{503, body}; };
  auto p = make({{"url", server.url()}});
  const ProviderError e = list_error(*p);
  EXPECT_EQ(e.message,
            "webhook provider: HTTP 503 from " + server.url() + ": " + body.substr(0, 200));
  EXPECT_TRUE(e.retryable);
}

TEST_F(WebhookProviderTest, Http429And409AreRetryableOther4xxAreNot) {
  auto p = make({{"url", server.url()}});
  for (const auto& [status, retryable] :
       {std::pair{429, true}, {409, true}, {408, true}, {400, false}, {404, false}, {403, false}}) {
    server.respond = [status = status](const Recorded&) { return Reply{status, "no"}; };
    const ProviderError e = list_error(*p);
    EXPECT_EQ(e.retryable, retryable) << status;
    EXPECT_EQ(e.message, "webhook provider: HTTP " + std::to_string(status) + " from " +
                             server.url() + ": no");
  }
}

TEST_F(WebhookProviderTest, GarbageOrIncompleteJsonIsAnError) {
  auto p = make({{"url", server.url()}});
  for (const std::string body : {"<html>oops</html>", R"({"nodes":[]})",
                                 R"({"instances":[{"id":"a"}]})", R"({"instances":[7]})"}) {
    server.respond = [&](const Recorded&) { return Reply{200, body}; };
    const ProviderError e = list_error(*p);
    EXPECT_TRUE(e.message.starts_with("webhook provider: invalid answer from " + server.url()))
        << e.message;
  }
}

TEST_F(WebhookProviderTest, ServerThatNeverAnswersTimesOutRetryably) {
  server.respond = [](const Recorded&) { return Reply{.hang = true}; };
  auto p = make({{"url", server.url()}, {"timeout", "300ms"}});
  const auto start = std::chrono::steady_clock::now();
  const ProviderError e = list_error(*p);
  EXPECT_EQ(e.message, "webhook provider: POST " + server.url() + ": timed out after 300ms");
  EXPECT_TRUE(e.retryable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST_F(WebhookProviderTest, ConnectionRefusedIsRetryable) {
  std::string url;
  {
    tcp::acceptor closed(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    url = "http://127.0.0.1:" + std::to_string(closed.local_endpoint().port()) + "/hook";
  }
  auto p = make({{"url", url}});
  const ProviderError e = list_error(*p);
  EXPECT_EQ(e.message, "webhook provider: POST " + url + ": connection refused");
  EXPECT_TRUE(e.retryable);
}

TEST_F(WebhookProviderTest, ShutdownCompletesCallsInFlightWithCancelled) {
  server.respond = [](const Recorded&) { return Reply{.hang = true}; };
  auto p = make({{"url", server.url()}});
  std::optional<ProviderResult<std::vector<Instance>>> result;
  p->list([&](auto r) { result = std::move(r); });
  run_until(io, [&] { return !server.requests.empty(); });
  p->shutdown();
  run_until(io, result);
  ASSERT_TRUE(std::holds_alternative<ProviderError>(*result));
  EXPECT_EQ(std::get<ProviderError>(*result).message,
            "webhook provider: POST " + server.url() + ": cancelled");
}

TEST_F(WebhookProviderTest, DestroyingTheProviderDropsCallbacksInFlight) {
  server.respond = [](const Recorded&) { return Reply{.hang = true}; };
  auto p = make({{"url", server.url()}});
  bool called = false;
  p->list([&](auto) { called = true; });
  p->list([&](auto) { called = true; });
  run_until(io, [&] { return server.requests.size() == 2; });
  p.reset();
  io.run_for(100ms);
  EXPECT_FALSE(called);
}

TEST_F(WebhookProviderTest, ParametersAreCheckedAtConstruction) {
  const auto message = [&](Params params) {
    try {
      make(std::move(params));
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(message({}), "provider \"webhook\" needs url=");
  EXPECT_EQ(message({{"url", server.url()}, {"retries", "3"}}),
            "unknown parameter \"retries\" of provider \"webhook\"");
  EXPECT_EQ(message({{"url", "ftp://x/"}}), "invalid value \"ftp://x/\" of \"url=\"");
  EXPECT_EQ(message({{"url", server.url()}, {"timeout", "soon"}}),
            "invalid value \"soon\" of \"timeout=\"");
  EXPECT_EQ(message({{"url", server.url()}, {"secret", "a"}, {"secret_file", "/x"}}),
            "provider \"webhook\" takes secret= or secret_file=, not both");
  EXPECT_EQ(message({{"url", server.url()}, {"secret_file", "/nonexistent/key"}}),
            "cannot read secret_file \"/nonexistent/key\" (2: No such file or directory)");
  EXPECT_TRUE(message({{"url", server.url()}, {"ca_file", "/nonexistent/ca.pem"}})
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
    const std::string d = dir_.string();
    const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    std::string script = "cd " + d + " && openssl req -x509" + key +
                         " -keyout ca.key -out ca.pem -days 2 -subj /CN=tidegate-test-ca"
                         " -addext basicConstraints=critical,CA:TRUE"
                         " -addext keyUsage=critical,keyCertSign";
    for (const std::string name : {"good", "other"}) {
      const std::string san = name == "good" ? "IP:127.0.0.1,DNS:localhost" : "DNS:other.test";
      std::ofstream(dir_ / (name + ".ext")) << "subjectAltName=" << san << "\n";
      script += " && openssl req" + key + " -keyout " + name + ".key -out " + name +
                ".csr -subj /CN=" + name + " && openssl x509 -req -in " + name +
                ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out " + name +
                ".pem -extfile " + name + ".ext";
    }
    ASSERT_EQ(std::system(("(" + script + ") >/dev/null 2>&1").c_str()), 0) << script;
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

  static std::unique_ptr<asio::ssl::context> server_context(const std::string& name) {
    auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    context->use_certificate_chain_file((dir_ / (name + ".pem")).string());
    context->use_private_key_file((dir_ / (name + ".key")).string(), asio::ssl::context::pem);
    return context;
  }

  static inline std::filesystem::path dir_;
  std::unique_ptr<asio::ssl::context> good_ = server_context("good");
  TestServer tls_server{io, good_.get()};
};

TEST_F(WebhookTlsTest, HttpsWorksWithTheCaFile) {
  auto p = make({{"url", tls_server.url()}, {"ca_file", (dir_ / "ca.pem").string()}});
  EXPECT_TRUE(std::holds_alternative<std::vector<Instance>>(list(*p)));
  ASSERT_EQ(tls_server.requests.size(), 1u);
  EXPECT_EQ(tls_server.requests[0].body, R"({"action":"list","group":"api"})");
}

TEST_F(WebhookTlsTest, HttpsFailsVerificationWithoutTheCaFile) {
  auto p = make({{"url", tls_server.url()}});
  const ProviderError e = list_error(*p);
  EXPECT_TRUE(e.message.starts_with("webhook provider: POST " + tls_server.url() +
                                    ": certificate verify failed"))
      << e.message;
  EXPECT_TRUE(e.retryable);
  EXPECT_TRUE(tls_server.requests.empty());
}

TEST_F(WebhookTlsTest, HttpsFailsWhenTheCertificateNamesAnotherHost) {
  const auto other = server_context("other");
  TestServer other_server(io, other.get());
  auto p = make({{"url", other_server.url()}, {"ca_file", (dir_ / "ca.pem").string()}});
  const ProviderError e = list_error(*p);
  EXPECT_EQ(e.message, "webhook provider: POST " + other_server.url() +
                           ": certificate verify failed: hostname mismatch");
  EXPECT_TRUE(other_server.requests.empty());
}

TEST_F(WebhookTlsTest, HandshakeThatNeverCompletesTimesOut) {
  // The plain server reads the ClientHello as the start of a request head and waits on.
  const std::string url = "https" + server.url().substr(4);
  auto p = make({{"url", url}, {"ca_file", (dir_ / "ca.pem").string()}, {"timeout", "200ms"}});
  EXPECT_EQ(list_error(*p).message, "webhook provider: POST " + url + ": timed out after 200ms");
}

}  // namespace
}  // namespace tg::scaling
