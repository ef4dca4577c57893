#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "build_helpers.h"
#include "conf/ast.h"
#include "conf/config.h"

namespace tg::conf {
namespace {

using namespace std::chrono_literals;
using namespace tg::conf::testing;
using balancing::Algorithm;
using balancing::BalancerConfig;
using balancing::StickyConfig;
using balancing::TimeMetric;

// `body` inside `upstream u {` (line 3), so that body's first line is line 4.
std::string in_upstream(const std::string& body) {
  return in_http("upstream u {\n" + body + "\n}");
}

// The `u` group built from `body` (see in_upstream).
UpstreamConfig upstream(const std::string& body) {
  auto cfg = build(in_upstream(body));
  EXPECT_EQ(cfg->http.upstreams.size(), 1u);
  return cfg->http.upstreams.at(0);
}

std::vector<std::string> warnings(const std::string& body) {
  return build(in_upstream(body))->warnings;
}

// --- the upstream block and its server lines ---------------------------------------------------

TEST(Upstream, ReadsServerParameters) {
  auto cfg =
      build(in_http("upstream backend {\n"
                    "  server 127.0.0.1:8081 weight=3 max_fails=2 fail_timeout=30s max_conns=10;\n"
                    "  server 127.0.0.1:8082 backup;\n"
                    "  server 127.0.0.1 down;\n"
                    "  server 127.0.0.1:8084 fail_timeout=1M max_fails=0;\n"
                    "}"));
  ASSERT_EQ(cfg->http.upstreams.size(), 1u);
  const UpstreamConfig& u = cfg->http.upstreams[0];
  EXPECT_EQ(u.name, "backend");
  EXPECT_FALSE(u.implicit);
  EXPECT_EQ(u.balancer, BalancerConfig{});
  EXPECT_EQ(u.keepalive, 0);
  EXPECT_EQ(u.where.line, 3);
  ASSERT_EQ(u.servers.size(), 4u);
  EXPECT_EQ(u.servers[0].name, "127.0.0.1:8081");
  EXPECT_EQ(u.servers[0].weight, 3);
  EXPECT_EQ(u.servers[0].max_fails, 2);
  EXPECT_EQ(u.servers[0].fail_timeout, 30s);
  EXPECT_EQ(u.servers[0].max_conns, 10);
  EXPECT_FALSE(u.servers[0].backup);
  EXPECT_TRUE(u.servers[1].backup);
  EXPECT_EQ(u.servers[1].weight, 1);
  EXPECT_EQ(u.servers[1].max_fails, 1);
  EXPECT_EQ(u.servers[1].fail_timeout, 10s);
  EXPECT_TRUE(u.servers[2].down);
  EXPECT_EQ(u.servers[2].name, "127.0.0.1:80");
  EXPECT_EQ(u.servers[2].endpoint.port(), 80);
  // fail_timeout is in seconds in nginx, so months are allowed.
  EXPECT_EQ(u.servers[3].fail_timeout, 30 * 24h);
  EXPECT_EQ(u.servers[3].max_fails, 0);
}

TEST(Upstream, ReadsBalancingAndKeepalive) {
  auto cfg =
      build(in_http("upstream b {\n  least_conn;\n  server 127.0.0.1:8081;\n  keepalive 16;\n"
                    "  keepalive_timeout 30s;\n  keepalive_requests 50;\n  keepalive_time 2h;\n"
                    "  zone b 64k;\n}"));
  const UpstreamConfig& u = cfg->http.upstreams.at(0);
  EXPECT_EQ(u.balancer.algorithm, Algorithm::kLeastConn);
  EXPECT_EQ(u.keepalive, 16);
  EXPECT_EQ(u.keepalive_timeout, 30s);
  EXPECT_EQ(u.keepalive_requests, 50);
  EXPECT_EQ(u.keepalive_time, 2h);
  EXPECT_EQ(u.zone, "b");
}

TEST(Upstream, RejectsBadServerParameters) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"server 127.0.0.1 weight=0;", "invalid parameter \"weight=0\""},
      {"server 127.0.0.1 weight=x;", "invalid parameter \"weight=x\""},
      {"server 127.0.0.1 weight=;", "invalid parameter \"weight=\""},
      {"server 127.0.0.1 max_fails=x;", "invalid parameter \"max_fails=x\""},
      {"server 127.0.0.1 fail_timeout=x;", "invalid parameter \"fail_timeout=x\""},
      {"server 127.0.0.1 fail_timeout=500ms;", "invalid parameter \"fail_timeout=500ms\""},
      {"server 127.0.0.1 max_conns=x;", "invalid parameter \"max_conns=x\""},
      {"server 127.0.0.1 foo;", "invalid parameter \"foo\""},
      {"server :80;", "no host in upstream \":80\""},
      {"server 127.0.0.1:0;", "invalid port in upstream \"127.0.0.1:0\""},
      {"server 127.0.0.1:x;", "invalid port in upstream \"127.0.0.1:x\""},
      {"server 127.0.0.1; keepalive 0;", "invalid value \"0\" in \"keepalive\" directive"},
      {"server 127.0.0.1; keepalive x;", "invalid value \"x\" in \"keepalive\" directive"},
      {"server 127.0.0.1; keepalive_requests x;",
       "\"keepalive_requests\" directive invalid number"},
  };
  for (const auto& [directive, message] : cases) {
    EXPECT_EQ(build_error(in_http("upstream u {\n" + directive + "\n}")), message + " in t.conf:4");
  }
}

TEST(Upstream, GroupLevelErrorsUseNginxLines) {
  // Checked after the block is read: reported at its closing brace.
  EXPECT_EQ(build_error(in_http("upstream u\n{\n\n}")),
            "no servers are inside upstream in t.conf:6");
  // Checked when the group is set up: reported at the `{` line.
  EXPECT_EQ(build_error(in_http("upstream u\n{\nserver 127.0.0.1\n backup;\n}")),
            "no servers in upstream \"u\" in t.conf:4");
  EXPECT_EQ(build_error(in_http("upstream u { server 127.0.0.1; }\nupstream u {\n}")),
            "duplicate upstream \"u\" in t.conf:4");
}

TEST(UpstreamServer, ReadsRouteDrainSlowStartAndDrainTimeout) {
  const UpstreamConfig u = upstream(
      "server 127.0.0.1:8081 route=a1 slow_start=30s drain_timeout=1500ms;\n"
      "server 127.0.0.1:8082 drain weight=2;\n"
      "server 127.0.0.1:8083;");
  ASSERT_EQ(u.servers.size(), 3u);
  EXPECT_EQ(u.servers[0].route, "a1");
  EXPECT_EQ(u.servers[0].slow_start, 30s);
  EXPECT_EQ(u.servers[0].drain_timeout, 1500ms);
  EXPECT_FALSE(u.servers[0].drain);
  EXPECT_TRUE(u.servers[1].drain);
  EXPECT_EQ(u.servers[1].weight, 2);
  EXPECT_EQ(u.servers[2].route, "");
  EXPECT_EQ(u.servers[2].slow_start, 0ms);
  EXPECT_EQ(u.servers[2].drain_timeout, 0ms);
  EXPECT_FALSE(u.servers[2].drain);
}

TEST(UpstreamServer, SlowStartCountsInSecondsLikeFailTimeout) {
  EXPECT_EQ(upstream("server 127.0.0.1 slow_start=2;").servers.at(0).slow_start, 2s);
  EXPECT_EQ(upstream("server 127.0.0.1 slow_start=1M;").servers.at(0).slow_start, 30 * 24h);
  EXPECT_EQ(build_error(in_upstream("server 127.0.0.1 slow_start=500ms;")),
            "invalid parameter \"slow_start=500ms\" in t.conf:4");
}

TEST(UpstreamServer, EveryAddressOfANameGetsTheLineParameters) {
  const UpstreamConfig u = upstream("server localhost:8081 route=r drain slow_start=5s;");
  ASSERT_FALSE(u.servers.empty());
  for (const auto& s : u.servers) {
    EXPECT_EQ(s.endpoint.port(), 8081);
    EXPECT_EQ(s.route, "r");
    EXPECT_TRUE(s.drain);
    EXPECT_EQ(s.slow_start, 5s);
  }
}

TEST(UpstreamServer, RejectsBadNewParameters) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"server 127.0.0.1 route=;", "invalid parameter \"route=\""},
      {"server 127.0.0.1 slow_start=;", "invalid parameter \"slow_start=\""},
      {"server 127.0.0.1 slow_start=x;", "invalid parameter \"slow_start=x\""},
      {"server 127.0.0.1 drain_timeout=x;", "invalid parameter \"drain_timeout=x\""},
      {"server 127.0.0.1 drain=1;", "invalid parameter \"drain=1\""},
      {"server 127.0.0.1 draining;", "invalid parameter \"draining\""},
  };
  for (const auto& [directive, message] : cases) {
    EXPECT_EQ(build_error(in_upstream(directive)), message + " in t.conf:4");
  }
}

// --- drain_timeout (tidegate extension) -------------------------------------------------------

TEST(DrainTimeout, IsTheDefaultOfServersWithoutTheirOwn) {
  const UpstreamConfig u = upstream(
      "server 127.0.0.1:1;\n"
      "server 127.0.0.1:2 drain_timeout=5s;\n"
      "server 127.0.0.1:3 drain_timeout=0;\n"
      "drain_timeout 1m;");  // after the server lines: still their default
  EXPECT_EQ(u.drain_timeout, 1min);
  ASSERT_EQ(u.servers.size(), 3u);
  EXPECT_EQ(u.servers[0].drain_timeout, 1min);
  EXPECT_EQ(u.servers[1].drain_timeout, 5s);
  EXPECT_EQ(u.servers[2].drain_timeout, 0ms);  // explicit 0: no limit for this server
}

TEST(DrainTimeout, DefaultsToNoLimit) {
  const UpstreamConfig u = upstream("server 127.0.0.1;");
  EXPECT_EQ(u.drain_timeout, 0ms);
  EXPECT_EQ(u.servers.at(0).drain_timeout, 0ms);
}

TEST(DrainTimeout, RejectsDuplicatesAndBadTimes) {
  EXPECT_EQ(build_error(in_upstream("server 127.0.0.1;\ndrain_timeout 1s;\ndrain_timeout 2s;")),
            "\"drain_timeout\" directive is duplicate in t.conf:6");
  EXPECT_EQ(build_error(in_upstream("server 127.0.0.1;\ndrain_timeout x;")),
            "\"drain_timeout\" directive invalid value in t.conf:5");
}

// --- balancing methods ----------------------------------------------------------------------

TEST(BalancingMethod, DefaultIsRoundRobinWithoutSticky) {
  const UpstreamConfig u = upstream("server 127.0.0.1;");
  EXPECT_EQ(u.balancer.algorithm, Algorithm::kRoundRobin);
  EXPECT_EQ(u.balancer.sticky.mode, StickyConfig::Mode::kNone);
  EXPECT_TRUE(u.hash_key.source().empty());
  EXPECT_TRUE(u.sticky_route.empty());
}

TEST(BalancingMethod, ImplicitGroupsUseTheDefaults) {
  auto cfg = build(in_http("server { location / { proxy_pass http://127.0.0.1:8081; } }"));
  EXPECT_EQ(cfg->http.upstreams.at(0).balancer, BalancerConfig{});
}

TEST(BalancingMethod, ReadsIpHash) {
  EXPECT_EQ(upstream("ip_hash;\nserver 127.0.0.1;").balancer.algorithm, Algorithm::kIpHash);
}

TEST(BalancingMethod, HashKeyIsCompiledWithTheVariableEngine) {
  const UpstreamConfig u = upstream("hash $host$request_uri;\nserver 127.0.0.1;");
  EXPECT_EQ(u.balancer.algorithm, Algorithm::kHash);
  EXPECT_FALSE(u.balancer.consistent);
  EXPECT_EQ(u.hash_key.source(), "$host$request_uri");
  ASSERT_EQ(u.hash_key.segments().size(), 2u);
  EXPECT_EQ(u.hash_key.segments()[0].var, Var::kHost);
  EXPECT_EQ(u.hash_key.segments()[1].var, Var::kRequestUri);
  EXPECT_TRUE(upstream("hash $remote_addr consistent;\nserver 127.0.0.1;").balancer.consistent);
}

TEST(BalancingMethod, HashKeyMayBeAMapDefinedAnywhereInHttp) {
  auto cfg =
      build(in_http("upstream u { hash $bucket; server 127.0.0.1; }\n"
                    "map $uri $bucket { default a; }"));
  const Template& key = cfg->http.upstreams.at(0).hash_key;
  ASSERT_EQ(key.segments().size(), 1u);
  EXPECT_EQ(key.segments()[0].var, Var::kMap);
  EXPECT_TRUE(cfg->uses(Var::kMap));
}

TEST(BalancingMethod, HashKeyWithAnUnknownVariableIsReportedAfterTheHttpBlock) {
  EXPECT_EQ(build_error(in_upstream("hash $nope;\nserver 127.0.0.1;")),
            "unknown \"nope\" variable");
}

TEST(BalancingMethod, ReadsRandomAndItsTwoChoices) {
  const BalancerConfig plain = upstream("random;\nserver 127.0.0.1;").balancer;
  EXPECT_EQ(plain.algorithm, Algorithm::kRandom);
  EXPECT_FALSE(plain.two);

  const BalancerConfig two = upstream("random two;\nserver 127.0.0.1;").balancer;
  EXPECT_TRUE(two.two);
  EXPECT_EQ(two.two_mode, BalancerConfig::TwoMode::kLeastConn);

  const BalancerConfig conn = upstream("random two least_conn;\nserver 127.0.0.1;").balancer;
  EXPECT_TRUE(conn.two);
  EXPECT_EQ(conn.two_mode, BalancerConfig::TwoMode::kLeastConn);

  const BalancerConfig header =
      upstream("random two least_time=header;\nserver 127.0.0.1;").balancer;
  EXPECT_EQ(header.two_mode, BalancerConfig::TwoMode::kLeastTime);
  EXPECT_EQ(header.metric, TimeMetric::kHeader);

  const BalancerConfig last =
      upstream("random two least_time=last_byte;\nserver 127.0.0.1;").balancer;
  EXPECT_EQ(last.two_mode, BalancerConfig::TwoMode::kLeastTime);
  EXPECT_EQ(last.metric, TimeMetric::kLastByte);
}

TEST(BalancingMethod, ReadsLeastTimeMetricAndInflight) {
  const BalancerConfig header = upstream("least_time header;\nserver 127.0.0.1;").balancer;
  EXPECT_EQ(header.algorithm, Algorithm::kLeastTime);
  EXPECT_EQ(header.metric, TimeMetric::kHeader);
  EXPECT_FALSE(header.inflight);
  const BalancerConfig last =
      upstream("least_time last_byte inflight;\nserver 127.0.0.1;").balancer;
  EXPECT_EQ(last.metric, TimeMetric::kLastByte);
  EXPECT_TRUE(last.inflight);
}

TEST(BalancingMethod, ReadsPeakEwmaWithATenSecondDefaultDecay) {
  const BalancerConfig plain = upstream("peak_ewma;\nserver 127.0.0.1;").balancer;
  EXPECT_EQ(plain.algorithm, Algorithm::kPeakEwma);
  EXPECT_EQ(plain.ewma_decay, 10s);
  EXPECT_EQ(upstream("peak_ewma decay=500ms;\nserver 127.0.0.1;").balancer.ewma_decay, 500ms);
  EXPECT_EQ(upstream("peak_ewma decay=1m;\nserver 127.0.0.1;").balancer.ewma_decay, 1min);
}

TEST(BalancingMethod, RejectsInvalidParametersAtTheirLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"hash $host ketama;", "invalid parameter \"ketama\""},
      {"random three;", "invalid parameter \"three\""},
      {"random two least_time;", "invalid parameter \"least_time\""},
      {"random two least_time=body;", "invalid parameter \"least_time=body\""},
      {"random two fastest;", "invalid parameter \"fastest\""},
      {"least_time first_byte;", "invalid parameter \"first_byte\""},
      {"least_time header outstanding;", "invalid parameter \"outstanding\""},
      {"peak_ewma 10s;", "invalid parameter \"10s\""},
      {"peak_ewma decay=x;", "invalid parameter \"decay=x\""},
      {"peak_ewma decay=0;", "invalid parameter \"decay=0\""},
      {"hash $;", "invalid variable name"},
  };
  for (const auto& [directive, message] : cases) {
    EXPECT_EQ(build_error(in_upstream("server 127.0.0.1;\n" + directive)),
              message + " in t.conf:5");
  }
}

TEST(BalancingMethod, RedefinitionWarnsAndTheLaterOneWins) {
  auto cfg =
      build(in_upstream("hash $host consistent;\n"
                        "server 127.0.0.1;\n"
                        "least_conn;\n"
                        "random two least_time=header;"));
  EXPECT_EQ(cfg->warnings, (std::vector<std::string>{
                               "load balancing method redefined in t.conf:6",
                               "load balancing method redefined in t.conf:7",
                           }));
  const UpstreamConfig& u = cfg->http.upstreams.at(0);
  EXPECT_EQ(u.balancer.algorithm, Algorithm::kRandom);
  EXPECT_TRUE(u.balancer.two);
  EXPECT_FALSE(u.balancer.consistent);  // nothing of the replaced method stays
  EXPECT_TRUE(u.hash_key.source().empty());
}

TEST(BalancingMethod, RepeatingTheSameMethodAlsoWarns) {
  EXPECT_EQ(warnings("ip_hash;\nip_hash;\nserver 127.0.0.1;"),
            std::vector<std::string>{"load balancing method redefined in t.conf:5"});
}

TEST(BalancingMethod, OneMethodPerGroupDoesNotWarn) {
  auto cfg =
      build(in_http("upstream a { least_conn; server 127.0.0.1; }\n"
                    "upstream b { ip_hash; server 127.0.0.1; }"));
  EXPECT_TRUE(cfg->warnings.empty());
}

TEST(BalancingMethod, BackupAfterHashIpHashOrRandomIsRejected) {
  for (const char* method :
       {"ip_hash;", "hash $host;", "hash $host consistent;", "random;", "random two least_conn;"}) {
    EXPECT_EQ(build_error(in_upstream(std::string(method) +
                                      "\nserver 127.0.0.1:1;\nserver 127.0.0.1:2 backup;")),
              "balancing method does not support parameter \"backup\" in t.conf:6")
        << method;
  }
}

TEST(BalancingMethod, BackupIsAllowedWithMethodsThatFallBackToBackups) {
  for (const char* method :
       {"least_conn;", "least_time header;", "peak_ewma;", "random;\nleast_conn;"}) {
    const UpstreamConfig u =
        upstream(std::string(method) + "\nserver 127.0.0.1:1;\nserver 127.0.0.1:2 backup;");
    EXPECT_TRUE(u.servers.at(1).backup) << method;
  }
}

TEST(BalancingMethod, BackupBeforeTheMethodIsAcceptedAsNginxDoes) {
  // nginx checks a server line against the method set so far; a later ip_hash does not
  // revisit earlier lines (the balancer then falls back to backups like round robin).
  const UpstreamConfig u = upstream("server 127.0.0.1:1;\nserver 127.0.0.1:2 backup;\nip_hash;");
  EXPECT_EQ(u.balancer.algorithm, Algorithm::kIpHash);
  EXPECT_TRUE(u.servers.at(1).backup);
}

TEST(BalancingMethod, ServerParametersOtherThanBackupWorkWithEveryMethod) {
  for (const char* method : {"ip_hash;", "hash $host;", "random;"}) {
    const UpstreamConfig u = upstream(std::string(method) +
                                      "\nserver 127.0.0.1 weight=2 max_fails=3 fail_timeout=5s "
                                      "max_conns=4 down drain route=x slow_start=1s;");
    EXPECT_EQ(u.servers.at(0).weight, 2) << method;
    EXPECT_TRUE(u.servers.at(0).down) << method;
  }
}

// --- sticky -----------------------------------------------------------------------------------

TEST(Sticky, ReadsCookieWithEveryAttribute) {
  const UpstreamConfig u = upstream(
      "server 127.0.0.1;\n"
      "sticky cookie srv_id expires=1h domain=.example.com path=/app samesite=Strict secure "
      "httponly;");
  const StickyConfig& s = u.balancer.sticky;
  EXPECT_EQ(s.mode, StickyConfig::Mode::kCookie);
  EXPECT_EQ(s.cookie_name, "srv_id");
  EXPECT_EQ(s.expires, "1h");
  EXPECT_FALSE(s.expires_max);
  EXPECT_EQ(s.expires_seconds, 3600s);
  EXPECT_EQ(s.domain, ".example.com");
  EXPECT_EQ(s.path, "/app");
  EXPECT_EQ(s.samesite, "strict");
  EXPECT_TRUE(u.sticky_samesite.is_literal());
  EXPECT_EQ(u.sticky_samesite.literal_value(), "strict");
  EXPECT_TRUE(s.secure);
  EXPECT_TRUE(s.httponly);
  EXPECT_EQ(u.balancer.algorithm, Algorithm::kRoundRobin);
}

TEST(Sticky, CookieWithOnlyANameIsASessionCookie) {
  const StickyConfig s = upstream("server 127.0.0.1;\nsticky cookie srv_id;").balancer.sticky;
  EXPECT_EQ(s.mode, StickyConfig::Mode::kCookie);
  EXPECT_EQ(s.expires, "");
  EXPECT_FALSE(s.expires_max);
  EXPECT_EQ(s.domain, "");
  EXPECT_EQ(s.path, "");
  EXPECT_EQ(s.samesite, "");
  EXPECT_FALSE(s.secure);
  EXPECT_FALSE(s.httponly);
}

TEST(Sticky, ExpiresIsMaxOrATimeInSeconds) {
  const StickyConfig max =
      upstream("server 127.0.0.1;\nsticky cookie a expires=max;").balancer.sticky;
  EXPECT_EQ(max.expires, "max");
  EXPECT_TRUE(max.expires_max);
  const StickyConfig bare =
      upstream("server 127.0.0.1;\nsticky cookie a expires=90;").balancer.sticky;
  EXPECT_EQ(bare.expires, "90");
  EXPECT_EQ(bare.expires_seconds, 90s);
  const StickyConfig days =
      upstream("server 127.0.0.1;\nsticky cookie a \"expires=1d 12h\";").balancer.sticky;
  EXPECT_EQ(days.expires, "1d 12h");
  EXPECT_EQ(days.expires_seconds, 36h);
}

TEST(Sticky, SameSiteTakesKeywordsInAnyCaseOrVariables) {
  for (const char* keyword : {"lax", "LAX", "none", "Strict"}) {
    const UpstreamConfig u =
        upstream(std::string("server 127.0.0.1;\nsticky cookie a samesite=") + keyword + ";");
    std::string lower = keyword;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(u.balancer.sticky.samesite, lower);
  }
  const UpstreamConfig u = upstream("server 127.0.0.1;\nsticky cookie a samesite=$cookie_ss;");
  EXPECT_EQ(u.balancer.sticky.samesite, "$cookie_ss");
  ASSERT_EQ(u.sticky_samesite.segments().size(), 1u);
  EXPECT_EQ(u.sticky_samesite.segments()[0].var, Var::kCookie);
}

TEST(Sticky, RouteCompilesEachVariable) {
  const UpstreamConfig u =
      upstream("server 127.0.0.1 route=a;\nsticky route $cookie_route $arg_route;");
  EXPECT_EQ(u.balancer.sticky.mode, StickyConfig::Mode::kRoute);
  ASSERT_EQ(u.sticky_route.size(), 2u);
  EXPECT_EQ(u.sticky_route[0].source(), "$cookie_route");
  EXPECT_EQ(u.sticky_route[0].segments().at(0).var, Var::kCookie);
  EXPECT_EQ(u.sticky_route[0].segments().at(0).text, "route");
  EXPECT_EQ(u.sticky_route[1].segments().at(0).var, Var::kArg);
}

TEST(Sticky, IsKeptWhenAMethodDirectiveFollows) {
  const UpstreamConfig u = upstream("sticky cookie a;\nhash $host;\nserver 127.0.0.1;");
  EXPECT_EQ(u.balancer.algorithm, Algorithm::kHash);
  EXPECT_EQ(u.balancer.sticky.mode, StickyConfig::Mode::kCookie);
  EXPECT_EQ(u.balancer.sticky.cookie_name, "a");
}

TEST(Sticky, RejectsErrorsAtTheirLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"sticky cookie a;\nsticky cookie b;", "\"sticky\" directive is duplicate"},
      {"sticky cookie a;\nsticky route $arg_r;", "\"sticky\" directive is duplicate"},
      {"sticky learn create=$upstream_cookie_s lookup=$cookie_s zone=s:1m;",
       "\"sticky learn\" is not supported, use \"sticky cookie\" or \"sticky route\""},
      {"sticky header x;", "invalid parameter \"header\""},
      {"sticky cookie;", "invalid number of arguments in \"sticky\" directive"},
      {"sticky route;", "invalid number of arguments in \"sticky\" directive"},
      {"sticky cookie \"\";", "invalid parameter \"\""},
      {"sticky cookie a expires=x;", "invalid parameter \"expires=x\""},
      {"sticky cookie a expires=500ms;", "invalid parameter \"expires=500ms\""},
      {"sticky cookie a domain=;", "invalid parameter \"domain=\""},
      {"sticky cookie a path=;", "invalid parameter \"path=\""},
      {"sticky cookie a samesite=loose;", "invalid parameter \"samesite=loose\""},
      {"sticky cookie a max-age=1;", "invalid parameter \"max-age=1\""},
      {"sticky route $;", "invalid variable name"},
  };
  for (const auto& [directives, message] : cases) {
    const int line = directives.find('\n') == std::string::npos ? 5 : 6;
    EXPECT_EQ(build_error(in_upstream("server 127.0.0.1;\n" + directives)),
              message + " in t.conf:" + std::to_string(line))
        << directives;
  }
}

}  // namespace
}  // namespace tg::conf
