// The digitalocean provider against a fake App Platform API on 127.0.0.1 run by the test
// on the same io_context. The fake keeps an app spec and checks every request: the bearer
// token, the method and path, and that a PUT sends back the whole spec as it was read
// with only the service's instance_count changed (field order included). It answers
// errors with DigitalOcean's {"id","message"} bodies.
#include "scaling/digitalocean_provider.h"

#include <unistd.h>

#include <boost/json.hpp>
#include <deque>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/scaling/fake_http_server.h"
#include "tests/scaling/provider_fixture.h"

namespace tg::scaling {
namespace {

using Reply = FakeReply;
using namespace std::chrono_literals;
namespace json = boost::json;

constexpr const char* kApp = "6f3a2b1c-0d4e-4f5a-8b6c-7d8e9f0a1b2c";
constexpr const char* kToken = "dop_v1_0123456789abcdef";

// The shape `doctl apps spec get` prints: several components, each with nested fields.
constexpr const char* kSpec =
    R"({"name":"shop","region":"fra","services":[)"
    R"({"name":"api","github":{"repo":"acme/shop","branch":"main","deploy_on_push":true},)"
    R"("instance_count":2,"instance_size_slug":"apps-s-1vcpu-0.5gb","http_port":8080,)"
    R"("routes":[{"path":"/api"}],"envs":[{"key":"WEB_CONCURRENCY","value":"1","scope":"RUN_TIME"}]},)"
    R"({"name":"web","image":{"registry_type":"DOCR","repository":"web","tag":"v7"},)"
    R"("instance_count":2,"instance_size_slug":"apps-s-1vcpu-1gb","http_port":3000,)"
    R"("health_check":{"http_path":"/healthz","initial_delay_seconds":5},"routes":[{"path":"/"}]}],)"
    R"("databases":[{"name":"db","engine":"PG","production":false}],)"
    R"("ingress":{"rules":[{"match":{"path":{"prefix":"/"}},"component":{"name":"web"}}]}})";

// An App Platform app that checks what it is sent.
class FakeDigitalOcean {
 public:
  explicit FakeDigitalOcean(boost::asio::io_context& io) : server(io) {
    server.respond = [this](const RecordedRequest& r) { return handle(r); };
  }
  std::string url() const { return server.url(""); }
  json::object& web() { return service("web"); }
  json::object& service(const std::string& name) {
    for (auto& s : spec.at("services").as_array()) {
      if (s.at("name").as_string() == name) return s.as_object();
    }
    throw std::logic_error("no service " + name);
  }

  json::object spec = json::parse(kSpec).as_object();
  bool expect_bad_token = false;
  std::deque<Reply> scripted;  // answered first
  int puts = 0;
  FakeHttpServer server;

 private:
  Reply handle(const RecordedRequest& r) {
    if (r.header("authorization") != std::string("Bearer ") + kToken) {
      if (!expect_bad_token) ADD_FAILURE() << "Authorization: " << r.header("authorization");
      return {401, R"({"id":"Unauthorized","message":"Unable to authenticate you"})"};
    }
    EXPECT_FALSE(expect_bad_token) << "a wrong token passed";
    EXPECT_EQ(r.header("accept"), "application/json");
    EXPECT_TRUE(r.header("user-agent").starts_with("tidegate/"));
    if (r.target != std::string("/v2/apps/") + kApp) {
      ADD_FAILURE() << "target " << r.target;
      return {404,
              R"({"id":"not_found","message":"The resource you requested could not be found."})"};
    }
    if (!scripted.empty()) {
      Reply reply = scripted.front();
      scripted.pop_front();
      return reply;
    }
    if (r.method == "GET") {
      EXPECT_EQ(r.body, "");
      return {200, answer()};
    }
    EXPECT_EQ(r.method, "PUT");
    EXPECT_EQ(r.header("content-type"), "application/json");
    ++puts;
    json::value body = json::parse(r.body);
    EXPECT_TRUE(body.is_object() && body.as_object().size() == 1 &&
                body.as_object().contains("spec"))
        << r.body;
    // Put the old count back: what remains must be the spec exactly as it was served.
    json::object sent = body.at("spec").as_object();
    json::object stored = spec;
    spec = sent;
    const json::value count = web().at("instance_count");
    EXPECT_NE(count, stored.at("services").at(1).at("instance_count"))
        << "a PUT that changes nothing";
    web()["instance_count"] = stored.at("services").at(1).at("instance_count");
    EXPECT_EQ(json::serialize(spec), json::serialize(stored)) << "more than instance_count changed";
    web()["instance_count"] = count;
    return {200, answer()};
  }
  std::string answer() const {
    return json::serialize(json::object{
        {"app", json::object{{"id", kApp},
                             {"default_ingress", "https://shop-x7k2p.ondigitalocean.app"},
                             {"spec", spec},
                             {"region", json::object{{"slug", "fra"}}}}}});
  }
};

class DigitalOceanProviderTest : public ProviderFixture {
 protected:
  DigitalOceanProviderTest() : ProviderFixture("digitalocean") {}

  // The fixture's parameters with `extra` in their place; an empty value leaves one out.
  Params with_defaults(Params extra) {
    Params params = override_params({{"app", kApp},
                                     {"service", "web"},
                                     {"address", "10.0.0.5:443"},
                                     {"token", kToken},
                                     {"api", fake.url()},
                                     {"timeout", "2s"}},
                                    extra);
    std::erase_if(params, [](const auto& p) { return p.second.empty(); });
    return params;
  }
  std::unique_ptr<Provider> make(Params extra = {}) {
    return ProviderFixture::make(with_defaults(std::move(extra)));
  }
  std::filesystem::path temp_file(const std::string& name, const std::string& text) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("tidegate_do_" + std::to_string(::getpid()) + "_" + name);
    std::ofstream(path) << text;
    files_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const auto& f : files_) std::filesystem::remove(f);
  }

  FakeDigitalOcean fake{io};
  std::vector<std::filesystem::path> files_;
};

TEST_F(DigitalOceanProviderTest, ListReportsTheAddressOncePerInstanceOfTheService) {
  auto p = make();
  EXPECT_EQ(p->kind(), Provider::Kind::kCapacity);
  EXPECT_EQ(p->type(), "digitalocean");
  EXPECT_EQ(instances(list(*p)),
            (std::vector<Instance>{{"web-1", "10.0.0.5:443"}, {"web-2", "10.0.0.5:443"}}));
  ASSERT_EQ(fake.server.requests.size(), 1u);
  EXPECT_EQ(fake.server.requests[0].method, "GET");
  EXPECT_EQ(fake.puts, 0);
}

TEST_F(DigitalOceanProviderTest, AServiceWithoutInstanceCountRunsOne) {
  fake.web().erase("instance_count");
  auto p = make();
  EXPECT_EQ(instances(list(*p)), (std::vector<Instance>{{"web-1", "10.0.0.5:443"}}));
}

TEST_F(DigitalOceanProviderTest, AddPutsTheWholeSpecBackWithOnlyInstanceCountRaised) {
  auto p = make();
  EXPECT_EQ(instances(add(*p, 2)),
            (std::vector<Instance>{{"web-3", "10.0.0.5:443"}, {"web-4", "10.0.0.5:443"}}));
  ASSERT_EQ(fake.server.requests.size(), 2u);
  EXPECT_EQ(fake.server.requests[1].method, "PUT");
  EXPECT_EQ(fake.puts, 1);
  EXPECT_EQ(fake.web().at("instance_count"), 4);
  EXPECT_EQ(fake.service("api").at("instance_count"), 2);
}

TEST_F(DigitalOceanProviderTest, RemoveLowersInstanceCountButNeverBelowOne) {
  fake.web()["instance_count"] = 3;
  auto p = make();
  EXPECT_FALSE(remove(*p, {{"web-3", "10.0.0.5:443"}}));
  EXPECT_EQ(fake.web().at("instance_count"), 2);
  EXPECT_FALSE(remove(*p, {{"web-1", "x"}, {"web-2", "x"}, {"web-9", "x"}}));
  EXPECT_EQ(fake.web().at("instance_count"), 1);
  EXPECT_FALSE(remove(*p, {{"web-1", "x"}}));  // already at one: nothing to put
  EXPECT_EQ(fake.puts, 2);
}

TEST_F(DigitalOceanProviderTest, AServiceThatAppPlatformAutoscalesIsRefused) {
  fake.web()["autoscaling"] = json::parse(
      R"({"min_instance_count":1,"max_instance_count":3,"metrics":{"cpu":{"percent":80}}})");
  auto p = make();
  const ProviderError e = error(add(*p, 1));
  EXPECT_EQ(e.message, std::string("digitalocean provider: app ") + kApp +
                           ": service \"web\" has an autoscaling block: App Platform's autoscaler "
                           "would fight tidegate's; remove one of them");
  EXPECT_FALSE(e.retryable);
  EXPECT_EQ(fake.puts, 0);
}

TEST_F(DigitalOceanProviderTest, AMissingServiceIsNotRetryableAndTheServicesAreNamed) {
  auto p = make({{"service", "worker"}});
  const ProviderError e = error(list(*p));
  EXPECT_EQ(e.message, std::string("digitalocean provider: app ") + kApp +
                           ": no service \"worker\" in its spec (services: api, web)");
  EXPECT_FALSE(e.retryable);
}

TEST_F(DigitalOceanProviderTest, ErrorsQuoteDigitalOceansIdAndMessage) {
  auto p = make();
  const std::string get = std::string("digitalocean provider: GET /v2/apps/") + kApp + ": ";
  for (const auto& [reply, message, retryable] :
       {std::tuple{Reply{429, R"({"id":"too_many_requests","message":"API Rate limit exceeded."})"},
                   "HTTP 429: too_many_requests: API Rate limit exceeded.", true},
        {Reply{500, R"({"id":"server_error","message":"Server Error"})"},
         "HTTP 500: server_error: Server Error", true},
        {Reply{502, "<html>bad gateway</html>"}, "HTTP 502: <html>bad gateway</html>", true},
        {Reply{404,
               R"({"id":"not_found","message":"The resource you requested could not be found."})"},
         "HTTP 404: not_found: The resource you requested could not be found.", false},
        {Reply{200, "{\"app\":"}, "invalid JSON answer \"{\"app\":\"", true}}) {
    fake.scripted.push_back(reply);
    const ProviderError e = error(list(*p));
    EXPECT_EQ(e.message, get + message);
    EXPECT_EQ(e.retryable, retryable) << message;
  }
}

TEST_F(DigitalOceanProviderTest, AnUnprocessableSpecOnPutIsNotRetryable) {
  auto p = make();
  fake.scripted = {
      Reply{200, R"({"app":{"spec":)" + json::serialize(fake.spec) + "}}"},
      Reply{422, R"({"id":"unprocessable_entity","message":"instance_count must be at most 10"})"}};
  const ProviderError e = error(add(*p, 20));
  EXPECT_EQ(e.message, std::string("digitalocean provider: PUT /v2/apps/") + kApp +
                           ": HTTP 422: unprocessable_entity: instance_count must be at most 10");
  EXPECT_FALSE(e.retryable);
}

TEST_F(DigitalOceanProviderTest, TheFakeRejectsAnotherToken) {
  fake.expect_bad_token = true;
  auto p = make({{"token", "dop_v1_wrong"}});
  const ProviderError e = error(list(*p));
  EXPECT_EQ(e.message, std::string("digitalocean provider: GET /v2/apps/") + kApp +
                           ": HTTP 401: Unauthorized: Unable to authenticate you");
  EXPECT_FALSE(e.retryable);
}

TEST_F(DigitalOceanProviderTest, TokenFileIsReadWithoutItsTrailingNewline) {
  const auto path = temp_file("token", std::string(kToken) + "\n");
  auto p = make({{"token", ""}, {"token_file", path.string()}});
  EXPECT_EQ(instances(list(*p)).size(), 2u);
}

TEST_F(DigitalOceanProviderTest, ServerThatNeverAnswersTimesOutRetryably) {
  fake.scripted.push_back(Reply{.hang = true});
  auto p = make({{"timeout", "300ms"}});
  const ProviderError e = error(list(*p));
  EXPECT_EQ(e.message,
            std::string("digitalocean provider: GET /v2/apps/") + kApp + ": timed out after 300ms");
  EXPECT_TRUE(e.retryable);
}

TEST_F(DigitalOceanProviderTest, ShutdownCancelsAndDestroyingDropsCallbacks) {
  fake.scripted = {Reply{.hang = true}, Reply{.hang = true}, Reply{.hang = true}};
  auto p = make();
  std::optional<Listed> result;
  p->list([&](Listed r) { result = std::move(r); });
  EXPECT_FALSE(result);  // never inside the call
  run_until(io, [&] { return fake.server.requests.size() == 1; });
  p->shutdown();
  run_until(io, result);
  EXPECT_EQ(error(*result).message,
            std::string("digitalocean provider: GET /v2/apps/") + kApp + ": cancelled");
  bool called = false;
  p->add(1, [&](Listed) { called = true; });
  run_until(io, [&] { return fake.server.requests.size() == 2; });
  p->list([&](Listed) { called = true; });  // not even started yet
  expect_destruction_drops_callbacks(p, called, 200ms);
}

TEST_F(DigitalOceanProviderTest, SpecFileRefusesAnUnknownOrAutoscaledServiceAtConstruction) {
  // The seeds' .do/app.yaml shapes: a fixed count, then App Platform's autoscaling.
  const auto fixed = temp_file("fixed.yaml",
                               "services:\n  - name: web\n    instance_count: 1\n"
                               "    instance_size_slug: apps-s-1vcpu-0.5gb\n"
                               "    envs:\n      - key: WEB_CONCURRENCY\n        value: \"1\"\n");
  const auto scaled = temp_file("scaled.yaml",
                                "services:\n  - name: web\n    autoscaling:\n"
                                "      min_instance_count: 1\n      max_instance_count: 3\n"
                                "      metrics:\n        cpu:\n          percent: 80\n");
  EXPECT_NO_THROW(make({{"spec_file", fixed.string()}}));
  const auto message = [&](Params params) { return refusal(with_defaults(std::move(params))); };
  EXPECT_EQ(message({{"spec_file", fixed.string()}, {"service", "api"}}),
            "no service \"api\" in spec_file \"" + fixed.string() + "\"");
  EXPECT_EQ(message({{"spec_file", scaled.string()}}),
            "service \"web\" in spec_file \"" + scaled.string() +
                "\" has an autoscaling block: App Platform's autoscaler would fight tidegate's; "
                "remove one of them");
  EXPECT_TRUE(message({{"spec_file", "/nonexistent/app.yaml"}})
                  .starts_with("cannot read spec_file \"/nonexistent/app.yaml\": "));
}

TEST_F(DigitalOceanProviderTest, ParametersAreCheckedAtConstruction) {
  const auto message = [&](Params params) { return refusal(with_defaults(std::move(params))); };
  EXPECT_EQ(message({}), "(accepted)");
  EXPECT_EQ(message({{"app", ""}}), "provider \"digitalocean\" needs app=");
  EXPECT_EQ(message({{"service", ""}}), "provider \"digitalocean\" needs service=");
  EXPECT_EQ(message({{"address", ""}}), "provider \"digitalocean\" needs address=");
  EXPECT_EQ(message({{"token", ""}}), "provider \"digitalocean\" needs token= or token_file=");
  EXPECT_EQ(message({{"token_file", "/x"}}),
            "provider \"digitalocean\" takes token= or token_file=, not both");
  EXPECT_EQ(message({{"token", ""}, {"token_file", "/nonexistent/token"}}),
            "cannot read token_file \"/nonexistent/token\" (2: No such file or directory)");
  EXPECT_EQ(message({{"address", "10.0.0.5"}}), "invalid value \"10.0.0.5\" of \"address=\"");
  EXPECT_EQ(message({{"address", "h:70000"}}), "invalid value \"h:70000\" of \"address=\"");
  EXPECT_EQ(message({{"api", "ftp://x"}}), "invalid value \"ftp://x\" of \"api=\"");
  EXPECT_EQ(message({{"timeout", "soon"}}), "invalid value \"soon\" of \"timeout=\"");
  EXPECT_EQ(message({{"region", "fra"}}),
            "unknown parameter \"region\" of provider \"digitalocean\"");
}

}  // namespace
}  // namespace tg::scaling
