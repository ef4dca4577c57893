// PrometheusQuery against a canned HTTP server on 127.0.0.1 (same io_context): the
// documented answer shapes, the encoded query in the request target; and the HttpClient
// cases the webhook tests do not reach (URL parsing, body cap, unix sockets).
#include "scaling/prometheus_query.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "tests/scaling/fake_http_server.h"

namespace tg::scaling {
namespace {

using namespace std::chrono_literals;

// Answers every request with `status` and `body`, and a header the client must hand back.
void canned(FakeHttpServer& server, int status, std::string body) {
  server.respond = [status, body = std::move(body)](const RecordedRequest&) {
    return FakeReply{.status = status, .body = body, .headers = {{"X-Canned", "yes"}}};
  };
}

std::string vector_of(const std::vector<std::string>& values) {
  std::string result;
  for (const auto& v : values) {
    result += std::string(result.empty() ? "" : ",") + R"({"metric":{"pod":"p)" +
              std::to_string(result.size()) + R"("},"value":[1700000000.123,")" + v + R"("]})";
  }
  return R"({"status":"success","data":{"resultType":"vector","result":[)" + result + "]}}";
}

class PrometheusQueryTest : public ::testing::Test {
 protected:
  std::string base() const { return "http://127.0.0.1:" + std::to_string(server.port()); }
  PrometheusResult fetch(int status, std::string body, const std::string& query = "up") {
    canned(server, status, std::move(body));
    PrometheusQuery q(io, base(), query, 2s);
    std::optional<PrometheusResult> result;
    q.fetch([&](auto r) { result = std::move(r); });
    run_until(io, result);
    return result.value_or(PrometheusResult(std::string("no answer")));
  }
  static std::string error_of(const PrometheusResult& r) {
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "(a value)";
  }
  static double value_of(const PrometheusResult& r) {
    EXPECT_TRUE(std::holds_alternative<double>(r)) << error_of(r);
    return std::holds_alternative<double>(r) ? std::get<double>(r) : -12345;
  }

  boost::asio::io_context io;
  FakeHttpServer server{io};
};

TEST_F(PrometheusQueryTest, VectorWithOneSampleIsItsValue) {
  EXPECT_EQ(value_of(fetch(200, vector_of({"0.75"}))), 0.75);
}

TEST_F(PrometheusQueryTest, ScalarIsItsValue) {
  EXPECT_EQ(value_of(fetch(
                200, R"({"status":"success","data":{"resultType":"scalar","result":[1.5,"42"]}})")),
            42);
}

TEST_F(PrometheusQueryTest, NanAndInfinitiesAreReturnedAsValues) {
  EXPECT_TRUE(std::isnan(value_of(fetch(200, vector_of({"NaN"})))));
  EXPECT_EQ(value_of(fetch(200, vector_of({"+Inf"}))), HUGE_VAL);
  EXPECT_EQ(value_of(fetch(200, vector_of({"-Inf"}))), -HUGE_VAL);
  EXPECT_EQ(value_of(fetch(200, vector_of({"1e+06"}))), 1e6);
}

TEST_F(PrometheusQueryTest, EmptyVectorIsAnError) {
  EXPECT_EQ(error_of(fetch(200, vector_of({}))), "query returned no samples");
}

TEST_F(PrometheusQueryTest, SeveralSamplesAreAnErrorThatAsksForAggregation) {
  EXPECT_EQ(error_of(fetch(200, vector_of({"1", "2", "3"}))),
            "query returned 3 samples; aggregate it (e.g. avg(...))");
}

TEST_F(PrometheusQueryTest, ErrorAnswerGivesItsTypeAndText) {
  EXPECT_EQ(
      error_of(fetch(400, R"({"status":"error","errorType":"bad_data","error":"parse error"})")),
      "bad_data: parse error");
}

TEST_F(PrometheusQueryTest, MatrixAndGarbageAreErrors) {
  EXPECT_EQ(error_of(fetch(200, R"({"status":"success","data":{"resultType":"matrix",)"
                                R"("result":[]}})")),
            "query returned a matrix; an instant vector or a scalar is needed");
  EXPECT_EQ(error_of(fetch(200, vector_of({"fast"}))), "sample value \"fast\" is not a number");
  EXPECT_TRUE(error_of(fetch(200, "<html>")).starts_with("invalid JSON from Prometheus"));
}

TEST_F(PrometheusQueryTest, NonJsonErrorPageGivesTheStatusAndBody) {
  EXPECT_EQ(error_of(fetch(502, "bad gateway\n")), "HTTP 502 from " + base() + ": bad gateway ");
}

TEST_F(PrometheusQueryTest, QueryIsPercentEncodedInTheTarget) {
  fetch(200, vector_of({"1"}), R"(sum(rate(http_requests_total{job="api"}[1m])) / 2)");
  ASSERT_EQ(server.requests.size(), 1u);
  EXPECT_TRUE(server.requests[0].head.starts_with(
      "GET /api/v1/query?query=sum%28rate%28http_requests_total%7Bjob%3D%22api%22%7D%5B1m%5D"
      "%29%29%20%2F%202 HTTP/1.1\r\n"))
      << server.requests[0].head;
}

TEST_F(PrometheusQueryTest, BaseUrlMayHaveAPathPrefixAndATrailingSlash) {
  PrometheusQuery q(io, base() + "/prom/", "up", 2s);
  EXPECT_EQ(q.url(), base() + "/prom/api/v1/query?query=up");
  EXPECT_THROW(PrometheusQuery(io, "prom:9090", "up"), std::invalid_argument);
}

TEST_F(PrometheusQueryTest, ConnectionRefusedNamesTheServer) {
  const std::string url = refused_url(io);
  PrometheusQuery q(io, url, "up", 2s);
  std::optional<PrometheusResult> result;
  q.fetch([&](auto r) { result = std::move(r); });
  run_until(io, result);
  EXPECT_EQ(error_of(*result), url + ": connection refused");
}

TEST_F(PrometheusQueryTest, DestroyingTheQueryDropsTheCallback) {
  bool called = false;
  {
    PrometheusQuery q(io, base(), "up", 2s);
    q.fetch([&](auto) { called = true; });
  }
  io.run_for(100ms);
  EXPECT_FALSE(called);
}

TEST(ParseHttpUrl, SplitsHostPortAndTarget) {
  const auto a = parse_http_url("http://example.test");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "example.test");
  EXPECT_EQ(a->port, "80");
  EXPECT_EQ(a->target, "/");
  EXPECT_EQ(a->authority(), "example.test");
  const auto b = parse_http_url("https://[::1]:8443/x?y=1");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->tls);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, "8443");
  EXPECT_EQ(b->target, "/x?y=1");
  EXPECT_EQ(b->authority(), "[::1]:8443");
  EXPECT_EQ(parse_http_url("http://h?q=1")->target, "/?q=1");
  for (const char* bad : {"ftp://h/", "http://", "http://u@h/", "http://h:/", "http://h:0/",
                          "http://h:99999/", "http://h/a b", "http://h/#frag", "http://[::1/"}) {
    EXPECT_FALSE(parse_http_url(bad)) << bad;
  }
}

TEST(HttpClient, ReturnsStatusHeadersAndBodyNeverInsideSend) {
  boost::asio::io_context io;
  FakeHttpServer server(io);
  canned(server, 418, "teapot");
  HttpClient client(io);
  std::optional<HttpResult> result;
  client.send({"PUT", "http://127.0.0.1:" + std::to_string(server.port()) + "/t", {}, "x"}, 2s,
              [&](HttpResult r) { result = std::move(r); });
  EXPECT_FALSE(result);
  EXPECT_EQ(client.in_flight(), 1u);
  run_until(io, result);
  ASSERT_TRUE(std::holds_alternative<HttpResponse>(*result)) << std::get<std::string>(*result);
  const auto& response = std::get<HttpResponse>(*result);
  EXPECT_EQ(response.status, 418);
  EXPECT_EQ(response.body, "teapot");
  EXPECT_EQ(response.header("x-CANNED"), "yes");
  EXPECT_EQ(client.in_flight(), 0u);
}

TEST(HttpClient, BodyOverTheCapIsAnError) {
  boost::asio::io_context io;
  FakeHttpServer server(io);
  canned(server, 200, std::string(4096, 'x'));
  HttpClient client(io, {.ca_file = "", .max_body = 1024});
  std::optional<HttpResult> result;
  client.send({"GET", "http://127.0.0.1:" + std::to_string(server.port()) + "/"}, 2s,
              [&](HttpResult r) { result = std::move(r); });
  run_until(io, result);
  ASSERT_TRUE(std::holds_alternative<std::string>(*result));
  EXPECT_EQ(std::get<std::string>(*result), "response body larger than 1024 bytes");
}

TEST(HttpClient, InvalidUrlFailsThroughTheCallback) {
  boost::asio::io_context io;
  HttpClient client(io);
  std::optional<HttpResult> result;
  client.send({"GET", "gopher://x"}, 2s, [&](HttpResult r) { result = std::move(r); });
  EXPECT_FALSE(result);
  run_until(io, result);
  EXPECT_EQ(std::get<std::string>(*result), "invalid URL \"gopher://x\"");
}

TEST(HttpClient, UnixSocketEndpointSendsTheUrlsHostAndTarget) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("tidegate_http_test_" + std::to_string(::getpid()) + ".sock");
  std::filesystem::remove(path);
  boost::asio::io_context io;
  FakeHttpServer server(io, {.unix_socket = path.string()});
  canned(server, 200, "[]");
  HttpClient client(io);
  std::optional<HttpResult> result;
  HttpRequest request{"GET", "http://docker/v1.43/containers/json", {}, "", path.string()};
  client.send(std::move(request), 2s, [&](HttpResult r) { result = std::move(r); });
  run_until(io, result);
  std::filesystem::remove(path);
  ASSERT_TRUE(std::holds_alternative<HttpResponse>(*result)) << std::get<std::string>(*result);
  EXPECT_EQ(std::get<HttpResponse>(*result).body, "[]");
  ASSERT_EQ(server.requests.size(), 1u);
  const std::string& head = server.requests[0].head;
  EXPECT_TRUE(head.starts_with("GET /v1.43/containers/json HTTP/1.1\r\n"));
  EXPECT_NE(head.find("\r\nHost: docker\r\n"), std::string::npos) << head;
}

}  // namespace
}  // namespace tg::scaling
