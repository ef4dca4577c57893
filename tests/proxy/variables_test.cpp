#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <ostream>
#include <regex>
#include <string>

#include "proxy/request_context.h"
#include "proxy/router.h"
#include "tests/proxy/test_config.h"

namespace tg::proxy {
namespace {

using test::config_from;

const char* const kConfig = R"(http {
  map $http_x_tier $tier {
    default standard;
    GOLD premium;
    ~^plat([a-z0-9]+)$ platinum_$1;
    ~*^vip vip;
  }
  map $http_x_site $site {
    hostnames;
    default none;
    example.com exact;
    *.example.com lead;
    *.api.example.com api_lead;
    www.example.* trail;
    .example.org org;
  }
  map $uri $from_uri {
    /a first;
  }
  server {
    listen 127.0.0.1:8081;
    server_name s;
    location ~ ^/users/(\d+)$ { }
  }
})";

// A RequestContext over a literal request, filled as the session fills it.
class Variables : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = config_from(kConfig);
    for (uint32_t i = 0; i < config_->http.maps.size(); ++i) {
      scope_.maps.emplace(config_->http.maps[i].target, i);
    }
    conn_.id = 42;
    conn_.remote_addr = "192.0.2.7";
    conn_.remote_port = 50123;
    conn_.server_addr = "127.0.0.1";
    conn_.server_port = 8081;
    conn_.requests = 3;
    parse("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  }

  void parse(std::string request) {
    request_ = std::move(request);
    parser_.reset();
    ASSERT_EQ(parser_.feed(request_.data(), 0, request_.size()), request_.size());
    ASSERT_TRUE(parser_.message_done());
    ctx_.reset();
    ctx_.config = config_.get();
    ctx_.conn = &conn_;
    ctx_.base = request_.data();
    ctx_.head = &parser_;
    ctx_.method = parser_.method_text().in(request_.data());
    ctx_.protocol = parser_.http_minor() == 0 ? "HTTP/1.0" : "HTTP/1.1";
    ctx_.request_target = ctx_.request_uri = parser_.url().in(request_.data());
    size_t q = ctx_.request_uri.find('?');
    if (q != std::string_view::npos) ctx_.args = ctx_.request_uri.substr(q + 1);
    ASSERT_TRUE(normalize_uri(ctx_.request_uri.substr(0, q), ctx_.uri));
    ASSERT_TRUE(normalize_host(ctx_.header("host"), ctx_.host));
    ctx_.server = &config_->http.servers[0];
  }

  std::string eval(std::string_view source) {
    conf::Template t;
    std::string error;
    EXPECT_TRUE(conf::Template::compile(source, scope_, t, error)) << error;
    return expand(t, ctx_);
  }

  std::string log_line(std::string_view source, conf::LogFormat::Escape escape) {
    conf::LogFormat f;
    f.escape = escape;
    std::string error;
    EXPECT_TRUE(conf::Template::compile(source, scope_, f.format, error)) << error;
    std::string out;
    expand_log(f, ctx_, out);
    return out;
  }

  std::shared_ptr<const conf::Config> config_;
  conf::VariableScope scope_;
  ConnectionInfo conn_;
  std::string request_;
  HttpParser parser_{http::MessageType::kRequest};
  RequestContext ctx_;
};

// ---- request ----

TEST_F(Variables, HostIsTheNormalisedHostHeader) {
  parse("GET / HTTP/1.1\r\nHost: WWW.Example.COM:8080\r\n\r\n");
  EXPECT_EQ(eval("$host"), "www.example.com");
}

TEST_F(Variables, HttpHeaderVariableIsCaseInsensitiveAndTrimmed) {
  parse("GET / HTTP/1.1\r\nHost: x\r\nX-CUSTOM:   hello world  \r\n\r\n");
  EXPECT_EQ(eval("[$http_x_custom]"), "[hello world]");
  EXPECT_EQ(eval("[$http_x_missing]"), "[]");
}

TEST_F(Variables, CookieVariablePicksTheNamedCookie) {
  parse("GET / HTTP/1.1\r\nHost: x\r\nCookie: aa=3; a=1;b=2\r\n\r\n");
  EXPECT_EQ(eval("$cookie_a"), "1");
  EXPECT_EQ(eval("$cookie_aa"), "3");
  EXPECT_EQ(eval("$cookie_b"), "2");
  EXPECT_EQ(eval("[$cookie_c]"), "[]");
}

TEST_F(Variables, ArgVariablePicksTheNamedArgument) {
  parse("GET /p?a=1&bb=3&b=two&flag HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(eval("$arg_b"), "two");
  EXPECT_EQ(eval("$arg_bb"), "3");
  EXPECT_EQ(eval("$arg_B"), "two");
  EXPECT_EQ(eval("[$arg_flag]"), "[]");
  EXPECT_EQ(eval("[$arg_c]"), "[]");
}

TEST_F(Variables, ArgsAndIsArgsWithQuery) {
  parse("GET /p?a=1&b=2 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(eval("$uri$is_args$args"), "/p?a=1&b=2");
}

TEST_F(Variables, ArgsAndIsArgsWithoutQuery) {
  parse("GET /p HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(eval("$uri$is_args$args"), "/p");
}

TEST_F(Variables, ConnectionFacts) {
  EXPECT_EQ(eval("$remote_addr:$remote_port -> $server_addr:$server_port"),
            "192.0.2.7:50123 -> 127.0.0.1:8081");
  EXPECT_EQ(eval("$connection/$connection_requests"), "42/3");
}

TEST_F(Variables, RequestLineVariables) {
  parse("POST /a/../b%20c?x=1 HTTP/1.0\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(eval("$request"), "POST /a/../b%20c?x=1 HTTP/1.0");
  EXPECT_EQ(eval("$request_method $server_protocol"), "POST HTTP/1.0");
  EXPECT_EQ(eval("$request_uri"), "/a/../b%20c?x=1");
  EXPECT_EQ(eval("$uri"), "/b c");
  EXPECT_EQ(eval("$scheme"), "http");
  EXPECT_EQ(eval("$server_name"), "s");
}

TEST_F(Variables, RemoteUserIsTheBasicAuthorizationsUser) {
  parse("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n");
  EXPECT_EQ(eval("[$remote_user]"), "[alice]");
  parse("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\n");
  EXPECT_EQ(eval("[$remote_user]"), "[]");
}

TEST_F(Variables, BracedVariableNameEndsAtTheBrace) {
  parse("GET /p?b=v HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(eval("${arg_b}suffix"), "vsuffix");
}

TEST_F(Variables, RegexLocationCapturesAreNumberedVariables) {
  parse("GET /users/77 HTTP/1.1\r\nHost: x\r\n\r\n");
  ctx_.location = find_location(*ctx_.server, ctx_.uri, &ctx_.captures);
  ctx_.capture_subject = ctx_.uri;
  ASSERT_NE(ctx_.location, nullptr);
  EXPECT_EQ(eval("id=$1 [$2]"), "id=77 []");
}

// ---- response and upstream ----

TEST_F(Variables, StatusIsThreeDigits) {
  ctx_.status = 200;
  EXPECT_EQ(eval("$status"), "200");
  ctx_.status = 7;
  EXPECT_EQ(eval("$status"), "007");
  ctx_.status = 0;
  EXPECT_EQ(eval("$status"), "000");
}

TEST_F(Variables, ProxyAddXForwardedForWithoutIncomingHeaderIsRemoteAddr) {
  EXPECT_EQ(eval("$proxy_add_x_forwarded_for"), "192.0.2.7");
}

TEST_F(Variables, ProxyAddXForwardedForAppendsRemoteAddr) {
  parse("GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n\r\n");
  EXPECT_EQ(eval("$proxy_add_x_forwarded_for"), "10.0.0.1, 10.0.0.2, 192.0.2.7");
}

TEST_F(Variables, ProxyAddXForwardedForJoinsEveryIncomingHeader) {
  parse(
      "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.1\r\n"
      "x-forwarded-for: 10.0.0.2\r\n\r\n");
  EXPECT_EQ(eval("$proxy_add_x_forwarded_for"), "10.0.0.1, 10.0.0.2, 192.0.2.7");
}

TEST_F(Variables, UpstreamAddrListsEveryAttempt) {
  ctx_.upstream_addr = "127.0.0.1:9001, 127.0.0.1:9002";
  ctx_.upstream_status = "502, 200";
  EXPECT_EQ(eval("$upstream_addr|$upstream_status"), "127.0.0.1:9001, 127.0.0.1:9002|502, 200");
}

TEST_F(Variables, SentHttpVariableReadsResponseHeaders) {
  ctx_.sent_headers = {{"Server", "tidegate"}, {"Content-Type", "text/html"}};
  EXPECT_EQ(eval("$sent_http_content_type"), "text/html");
  EXPECT_EQ(eval("[$sent_http_etag]"), "[]");
}

TEST_F(Variables, UpstreamHttpVariableReadsUpstreamHeaders) {
  const std::string response = "HTTP/1.1 200 OK\r\nX-Backend: b1\r\nContent-Length: 0\r\n\r\n";
  HttpParser up(http::MessageType::kResponse);
  up.feed(response.data(), 0, response.size());
  ctx_.upstream_base = response.data();
  ctx_.upstream_headers = &up.headers();
  EXPECT_EQ(eval("$upstream_http_x_backend"), "b1");
  EXPECT_EQ(eval("[$upstream_http_x_other]"), "[]");
}

TEST_F(Variables, RequestIdIs32HexCharsStableWithinRequest) {
  std::string id = eval("$request_id");
  EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{32}"))) << id;
  EXPECT_EQ(eval("$request_id"), id);
  EXPECT_EQ(eval("$request_id-$request_id"), id + "-" + id);
  ctx_.reset();
  std::string next = eval("$request_id");
  EXPECT_TRUE(std::regex_match(next, std::regex("[0-9a-f]{32}"))) << next;
  EXPECT_NE(next, id);
}

// ---- map ----

std::string with_header(const std::string& name, const std::string& value) {
  return "GET / HTTP/1.1\r\nHost: x\r\n" + name + ": " + value + "\r\n\r\n";
}

TEST_F(Variables, MapExactKeyIsCaseInsensitive) {
  parse(with_header("X-Tier", "gold"));
  EXPECT_EQ(eval("$tier"), "premium");
  parse(with_header("X-Tier", "Gold"));
  EXPECT_EQ(eval("$tier"), "premium");
}

TEST_F(Variables, MapFallsBackToDefault) {
  parse(with_header("X-Tier", "bronze"));
  EXPECT_EQ(eval("$tier"), "standard");
  parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(eval("$tier"), "standard");
}

TEST_F(Variables, MapWithoutDefaultGivesEmpty) {
  parse("GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(eval("[$from_uri]"), "[]");
  parse("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(eval("[$from_uri]"), "[first]");
}

TEST_F(Variables, MapRegexValueUsesItsCaptures) {
  parse(with_header("X-Tier", "platx1"));
  EXPECT_EQ(eval("$tier"), "platinum_x1");
}

TEST_F(Variables, MapRegexCapturesDoNotLeakIntoTheRequest) {
  parse("GET /users/77 HTTP/1.1\r\nHost: x\r\nX-Tier: platx1\r\n\r\n");
  ctx_.location = find_location(*ctx_.server, ctx_.uri, &ctx_.captures);
  ctx_.capture_subject = ctx_.uri;
  EXPECT_EQ(eval("$tier $1"), "platinum_x1 77");
}

TEST_F(Variables, MapCaseSensitiveRegexRespectsCase) {
  parse(with_header("X-Tier", "PLATX1"));
  EXPECT_EQ(eval("$tier"), "standard");
}

TEST_F(Variables, MapCaselessRegexIgnoresCase) {
  parse(with_header("X-Tier", "VIP-member"));
  EXPECT_EQ(eval("$tier"), "vip");
}

TEST_F(Variables, MapValueIsCachedUntilReset) {
  parse(with_header("X-Tier", "gold"));
  EXPECT_EQ(eval("$tier"), "premium");
  parse(with_header("X-Tier", "bronze"));  // parse() resets the context
  EXPECT_EQ(eval("$tier"), "standard");
}

struct HostnameCase {
  const char* site;
  const char* expected;
};
void PrintTo(const HostnameCase& c, std::ostream* os) {
  *os << c.site;
}

class VariablesHostnames : public Variables, public ::testing::WithParamInterface<HostnameCase> {};

TEST_P(VariablesHostnames, MapHostnamesMatchesWildcards) {
  parse(with_header("X-Site", GetParam().site));
  EXPECT_EQ(eval("$site"), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Variables, VariablesHostnames,
    ::testing::Values(HostnameCase{"example.com", "exact"}, HostnameCase{"EXAMPLE.com.", "exact"},
                      HostnameCase{"a.example.com", "lead"},
                      HostnameCase{"www.example.com", "lead"},
                      HostnameCase{"v1.api.example.com", "api_lead"},
                      HostnameCase{"www.example.net", "trail"}, HostnameCase{"example.org", "org"},
                      HostnameCase{"a.b.example.org", "org"}, HostnameCase{"example.net", "none"},
                      HostnameCase{"notexample.com", "none"}));

// ---- times ----

// Sets TZ for the duration of a test and restores it after.
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~ScopedTimeZone() {
    if (old_) {
      ::setenv("TZ", old_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }
  ScopedTimeZone(const ScopedTimeZone&) = delete;
  ScopedTimeZone& operator=(const ScopedTimeZone&) = delete;

 private:
  std::optional<std::string> old_;
};

// 2021-03-04 05:06:07 UTC, a Thursday.
std::chrono::system_clock::time_point at(int extra_seconds) {
  return std::chrono::system_clock::from_time_t(1614834367 + extra_seconds);
}

// ---- access-log lines ----

// $uri is percent-decoded: a client can put a newline, a quote or a backslash in
// it. In a log line it cannot end the line or a quoted field.
TEST_F(Variables, LogLineEscapesWhatAClientCouldForgeALineWith) {
  parse("GET /a%0Ab%22c%5Cd%7F%C3%A9 HTTP/1.1\r\nHost: x\r\n\r\n");
  using E = conf::LogFormat::Escape;
  EXPECT_EQ(log_line("\"$uri\" [$http_x_missing]", E::kDefault),
            "\"/a\\x0Ab\\x22c\\x5Cd\\x7F\\xC3\\xA9\" [-]");
  EXPECT_EQ(log_line("{\"u\":\"$uri\",\"m\":\"$http_x_missing\"}", E::kJson),
            "{\"u\":\"/a\\nb\\\"c\\\\d\x7f\xc3\xa9\",\"m\":\"\"}");
  EXPECT_EQ(log_line("$uri|$http_x_missing|", E::kNone), "/a\nb\"c\\d\x7f\xc3\xa9||");
}

TEST_F(Variables, JsonLogEscapesControlBytesAsUnicode) {
  parse("GET /%01%09%1F HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(log_line("$uri", conf::LogFormat::Escape::kJson), "/\\u0001\\t\\u001f");
}

TEST(VariableTimes, TimeLocalInUtc) {
  ScopedTimeZone tz("UTC0");
  EXPECT_EQ(time_local_text(at(0)), "04/Mar/2021:05:06:07 +0000");
  EXPECT_EQ(time_iso8601_text(at(0)), "2021-03-04T05:06:07+00:00");
}

TEST(VariableTimes, TimeLocalWithOffset) {
  // POSIX TZ offsets are west-positive: "-5:30" is UTC+05:30.
  ScopedTimeZone tz("XST-5:30");
  EXPECT_EQ(time_local_text(at(1)), "04/Mar/2021:10:36:08 +0530");
  EXPECT_EQ(time_iso8601_text(at(1)), "2021-03-04T10:36:08+05:30");
}

TEST(VariableTimes, TimeWithNegativeOffset) {
  ScopedTimeZone tz("YST8");
  EXPECT_EQ(time_local_text(at(2)), "03/Mar/2021:21:06:09 -0800");
  EXPECT_EQ(time_iso8601_text(at(2)), "2021-03-03T21:06:09-08:00");
}

TEST(VariableTimes, HttpDateIsRfc1123InGmt) {
  ScopedTimeZone tz("YST8");  // the zone must not matter
  EXPECT_EQ(http_date_text(at(0)), "Thu, 04 Mar 2021 05:06:07 GMT");
}

TEST(VariableTimes, FormattedTimeChangesWithTheSecond) {
  ScopedTimeZone tz("UTC0");
  EXPECT_EQ(http_date_text(at(10)), "Thu, 04 Mar 2021 05:06:17 GMT");
  EXPECT_EQ(http_date_text(at(11)), "Thu, 04 Mar 2021 05:06:18 GMT");
  EXPECT_EQ(http_date_text(at(10)), "Thu, 04 Mar 2021 05:06:17 GMT");
}

TEST_F(Variables, TimeVariablesHaveNginxShape) {
  EXPECT_TRUE(std::regex_match(
      eval("$time_local"),
      std::regex(R"(\d{2}/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:)"
                 R"(\d{2}:\d{2}:\d{2} [+-]\d{4})")))
      << eval("$time_local");
  EXPECT_TRUE(std::regex_match(eval("$time_iso8601"),
                               std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2})")))
      << eval("$time_iso8601");
  EXPECT_TRUE(std::regex_match(eval("$msec"), std::regex(R"(\d{10,}\.\d{3})"))) << eval("$msec");
}

TEST(VariableTimes, SecondsTextHasMillisecondResolution) {
  using std::chrono::milliseconds;
  EXPECT_EQ(seconds_text(milliseconds(12)), "0.012");
  EXPECT_EQ(seconds_text(milliseconds(1500)), "1.500");
  EXPECT_EQ(seconds_text(milliseconds(0)), "0.000");
  EXPECT_EQ(seconds_text(milliseconds(-5)), "0.000");
}

TEST(HeaderValue, ControlBytesArePercentEncodedFromTheMarkOn) {
  std::string out = "X-A: \r\n";
  out += std::string("a\r\nb\tc\x7f") + '\0' + "d";
  escape_header_value(out, 7);
  EXPECT_EQ(out, "X-A: \r\na%0D%0Ab\tc%7F%00d");
  std::string clean = "plain value";
  escape_header_value(clean);
  EXPECT_EQ(clean, "plain value");
}

}  // namespace
}  // namespace tg::proxy
