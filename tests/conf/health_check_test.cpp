// `health_check` and `match` (NGINX Plus's ngx_http_upstream_hc_module) as the
// configuration reads them.
#include <gtest/gtest.h>

#include <algorithm>

#include "build_helpers.h"

namespace tg::conf {
namespace {

using namespace testing;

std::string with(const std::string& match, const std::string& check,
                 const std::string& upstream = "zone app 64k; server 127.0.0.1:8081;") {
  return in_http(match + "\nupstream app { " + upstream + " }\nserver { listen 8080;\n" +
                 "location / { proxy_pass http://app; proxy_connect_timeout 2s; " +
                 "proxy_set_header X-Check $host; proxy_set_header X-Const yes;\n" + check +
                 "\n} }");
}

TEST(HealthCheck, DefaultsAndTheLocationsProxySettings) {
  auto cfg = build(with("", "health_check;"));
  ASSERT_EQ(cfg->http.health_checks.size(), 1u);
  const HealthCheck& hc = cfg->http.health_checks[0];
  EXPECT_EQ(cfg->http.upstreams[hc.upstream].name, "app");
  EXPECT_EQ(hc.interval, Millis(5000));
  EXPECT_EQ(hc.jitter, Millis(0));
  EXPECT_EQ((hc.fails), 1);
  EXPECT_EQ(hc.passes, 1);
  EXPECT_EQ(hc.uri, "/");
  EXPECT_EQ(hc.match, -1);
  EXPECT_FALSE(hc.mandatory);
  EXPECT_EQ(hc.connect_timeout, Millis(2000));
  EXPECT_EQ(hc.read_timeout, Millis(60000));
  // Host is $proxy_host; a variable other than that is empty, so X-Check is not sent.
  std::vector<std::pair<std::string, std::string>> want{
      {"X-Const", "yes"}, {"Host", "app"}, {"Connection", "close"}};
  auto got = hc.headers;
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

TEST(HealthCheck, HostIsTheGroupWhenTheLocationsHostIsAVariable) {
  auto cfg = build(with("", "proxy_set_header Host $host;\nhealth_check;"));
  const auto& headers = cfg->http.health_checks[0].headers;
  EXPECT_NE(
      std::find(headers.begin(), headers.end(), std::pair<std::string, std::string>("Host", "app")),
      headers.end());
}

TEST(HealthCheck, Parameters) {
  auto cfg = build(with("match m { status 200-299 301; }",
                        "health_check interval=2s jitter=500ms fails=3 passes=2 uri=/hz "
                        "port=9000 match=m mandatory persistent type=tcp timeout=750ms;"));
  const HealthCheck& hc = cfg->http.health_checks[0];
  EXPECT_EQ(hc.interval, Millis(2000));
  EXPECT_EQ(hc.jitter, Millis(500));
  EXPECT_EQ(hc.fails, 3);
  EXPECT_EQ(hc.passes, 2);
  EXPECT_EQ(hc.uri, "/hz");
  EXPECT_EQ(hc.port, 9000);
  EXPECT_EQ(hc.match, 0);
  EXPECT_TRUE(hc.mandatory);
  EXPECT_TRUE(hc.persistent);
  EXPECT_EQ(hc.type, HealthCheck::Type::kTcp);
  EXPECT_EQ(hc.connect_timeout, Millis(750));
  EXPECT_EQ(hc.read_timeout, Millis(750));
}

TEST(HealthCheck, MatchBlockTests) {
  auto cfg = build(
      with("match m {\n status ! 500 503;\n header Content-Type = text/html;\n header ! X-Bad;\n"
           " header X-Ver ~ ^v[0-9]+$;\n body !~ \"maintenance\";\n}",
           "health_check match=m;"));
  const auto& tests = cfg->http.matches.at(0).tests;
  ASSERT_EQ(tests.size(), 5u);
  EXPECT_TRUE(tests[0].negate);
  EXPECT_EQ(tests[0].statuses, (std::vector<std::pair<int, int>>{{500, 500}, {503, 503}}));
  EXPECT_EQ(tests[1].header, "content-type");
  EXPECT_EQ(tests[1].op, MatchTest::Op::kEquals);
  EXPECT_EQ(tests[2].op, MatchTest::Op::kPresent);
  EXPECT_TRUE(tests[2].negate);
  EXPECT_EQ(tests[3].op, MatchTest::Op::kRegex);
  EXPECT_EQ(tests[4].kind, MatchTest::Kind::kBody);
  EXPECT_TRUE(tests[4].negate);
}

TEST(HealthCheck, ErrorsNameTheLine) {
  EXPECT_EQ(build_error(with("", "health_check;", "server 127.0.0.1:8081;")),
            "upstream \"app\" must reside in shared memory in t.conf:7");
  EXPECT_EQ(build_error(with("", "health_check match=nope;")),
            "match \"nope\" not found in t.conf:7");
  EXPECT_EQ(build_error(with("", "health_check fails=0;")),
            "invalid parameter \"fails=0\" in t.conf:7");
  EXPECT_EQ(build_error(with("", "health_check persistent;")),
            "\"persistent\" requires \"mandatory\" in t.conf:7");
  EXPECT_EQ(build_error(with("", "health_check uri=health;")),
            "invalid parameter \"uri=health\" in t.conf:7");
  EXPECT_EQ(build_error(with("", "health_check \"uri=/a b\";")),
            "invalid parameter \"uri=/a b\" in t.conf:7");
  EXPECT_EQ(build_error(with("", "health_check interval=30d;")),
            "invalid parameter \"interval=30d\" in t.conf:7");
  EXPECT_EQ(build_error(with("", "health_check type=grpc;")),
            "health check type \"grpc\" is not supported by tidegate yet in t.conf:7");
  EXPECT_EQ(build_error(with("match m { status 99; }", "health_check match=m;")),
            "invalid status \"99\" in t.conf:3");
  EXPECT_EQ(build_error(with("match m { body = x; }", "health_check match=m;")),
            "invalid body match, it must be \"body ~ regex\" or \"body !~ regex\" in t.conf:3");
  EXPECT_EQ(build_error(with("match m { require $x; }", "health_check match=m;")),
            "\"require\" in \"match\" is not supported by tidegate yet in t.conf:3");
  EXPECT_EQ(build_error(in_http("upstream app { zone z 64k; server 127.0.0.1:1; }\n"
                                "server { listen 8080; location / { health_check; } }")),
            "\"health_check\" requires \"proxy_pass\" in its location in t.conf:4");
}

TEST(OutlierDetection, ParametersDefaultsAndErrors) {
  auto cfg = build(in_http("upstream app { server 127.0.0.1:1; outlier_detection; }"));
  ASSERT_TRUE(cfg->http.upstreams[0].outlier);
  EXPECT_EQ(cfg->http.upstreams[0].outlier->consecutive_5xx, 5);
  EXPECT_EQ(cfg->http.upstreams[0].outlier->max_ejection_percent, 10);
  cfg = build(
      in_http("upstream app { server 127.0.0.1:1; outlier_detection consecutive_5xx=2 interval=5s "
              "base_ejection_time=10s max_ejection_time=1m max_ejection_percent=50; }"));
  const auto& o = *cfg->http.upstreams[0].outlier;
  EXPECT_EQ(o.consecutive_5xx, 2);
  EXPECT_EQ(o.interval, Millis(5000));
  EXPECT_EQ(o.base_ejection_time, Millis(10000));
  EXPECT_EQ(o.max_ejection_time, Millis(60000));
  EXPECT_EQ(o.max_ejection_percent, 50);
  EXPECT_EQ(build_error(in_http("upstream app { server 127.0.0.1:1; "
                                "outlier_detection max_ejection_percent=101; }")),
            "invalid parameter \"max_ejection_percent=101\" in t.conf:3");
  EXPECT_EQ(build_error(in_http("upstream app { server 127.0.0.1:1; outlier_detection; "
                                "outlier_detection; }")),
            "\"outlier_detection\" directive is duplicate in t.conf:3");
}

}  // namespace
}  // namespace tg::conf
