#include "proxy/router.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/proxy/test_config.h"

namespace tg::proxy {
namespace {

using test::config_from;

// The first server_name of the server `host` routes to (distinct in every test).
std::string routed(const ListenGroup& group, std::string_view host) {
  const conf::ServerBlock* s = find_server(group, host);
  return s ? s->names.first : "<none>";
}

// The pattern of the location `uri` routes to, or "<none>".
std::string located(const conf::ServerBlock& server, std::string_view uri) {
  const conf::Location* l = find_location(server, uri, nullptr);
  return l ? l->pattern : "<none>";
}

// One server listening on 127.0.0.1:8081 with `locations` as its body.
std::shared_ptr<const conf::Config> server_with(const std::string& locations) {
  return config_from("http { server { listen 127.0.0.1:8081; server_name s; " + locations + " } }");
}

// ---- group_listeners ----

TEST(Router, GroupsServersByListenAddressInConfOrder) {
  auto cfg = config_from(R"(http {
    server { listen 127.0.0.1:8081; server_name a; }
    server { listen 127.0.0.1:8082; server_name b; }
    server { listen 127.0.0.1:8081; listen 127.0.0.1:8082; server_name c; }
  })");
  auto groups = group_listeners(*cfg);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].endpoint.port(), 8081);
  EXPECT_EQ(groups[1].endpoint.port(), 8082);
  ASSERT_EQ(groups[0].servers.size(), 2u);
  EXPECT_EQ(groups[0].servers[0]->names.first, "a");
  EXPECT_EQ(groups[0].servers[1]->names.first, "c");
  ASSERT_EQ(groups[1].servers.size(), 2u);
  EXPECT_EQ(groups[1].servers[0]->names.first, "b");
  EXPECT_EQ(groups[1].servers[1]->names.first, "c");
}

TEST(Router, FirstServerIsDefaultWithoutDefaultServerFlag) {
  auto cfg = config_from(R"(http {
    server { listen 127.0.0.1:8081; server_name a; }
    server { listen 127.0.0.1:8081; server_name b; }
  })");
  auto groups = group_listeners(*cfg);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].default_server->names.first, "a");
}

TEST(Router, DefaultServerFlagPicksTheDefault) {
  auto cfg = config_from(R"(http {
    server { listen 127.0.0.1:8081; server_name a; }
    server { listen 127.0.0.1:8081 default_server; server_name b; }
  })");
  auto groups = group_listeners(*cfg);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].default_server->names.first, "b");
}

TEST(Router, BacklogComesFromTheListenDirective) {
  auto cfg = config_from("http { server { listen 127.0.0.1:8081 backlog=64; server_name a; } }");
  auto groups = group_listeners(*cfg);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].backlog, 64);
}

TEST(Router, DuplicateDefaultServerIsAnError) {
  // The conf reports it where the second `listen` is read, as nginx.
  try {
    config_from(R"(http {
    server { listen 127.0.0.1:8081 default_server; server_name a; }
    server { listen 127.0.0.1:8081 default_server; server_name b; }
  })");
    FAIL() << "expected a ConfError";
  } catch (const conf::ConfError& e) {
    EXPECT_EQ(std::string(e.what()),
              "a duplicate default server for 127.0.0.1:8081 in test.conf:3");
  }
}

TEST(Router, SocketOptionsComeFromTheListenThatWritesThem) {
  auto cfg = config_from(R"(http {
    server { listen 127.0.0.1:8081; server_name a; }
    server { listen 127.0.0.1:8081 backlog=10; server_name b; }
  })");
  auto groups = group_listeners(*cfg);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].backlog, 10);
}

TEST(Router, DefaultServerOnDifferentAddressesIsAllowed) {
  auto cfg = config_from(R"(http {
    server { listen 127.0.0.1:8081 default_server; server_name a; }
    server { listen 127.0.0.1:8082 default_server; server_name b; }
  })");
  auto groups = group_listeners(*cfg);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].default_server->names.first, "a");
  EXPECT_EQ(groups[1].default_server->names.first, "b");
}

// ---- find_server ----

class FindServer : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_ = config_from(R"(http {
      server { listen 127.0.0.1:8081; server_name first; }
      server { listen 127.0.0.1:8081; server_name exact www.example.com; }
      server { listen 127.0.0.1:8081; server_name short_leading *.example.com; }
      server { listen 127.0.0.1:8081; server_name long_leading *.api.example.com; }
      server { listen 127.0.0.1:8081; server_name dot_leading .example.org; }
      server { listen 127.0.0.1:8081; server_name short_trailing www.*; }
      server { listen 127.0.0.1:8081; server_name long_trailing www.example.*; }
      server { listen 127.0.0.1:8081; server_name regex1 ~^app\d+\.example\.net$; }
      server { listen 127.0.0.1:8081; server_name regex2 ~^app1\.example\.net$ ~\.net$; }
      server { listen 127.0.0.1:8081; server_name mixed *.mixed.test mixed.*; }
    })");
    groups_ = group_listeners(*cfg_);
    ASSERT_EQ(groups_.size(), 1u);
  }
  const ListenGroup& group() const { return groups_[0]; }

  std::shared_ptr<const conf::Config> cfg_;
  std::vector<ListenGroup> groups_;
};

TEST_F(FindServer, ExactNameMatches) {
  EXPECT_EQ(routed(group(), "www.example.com"), "exact");
  EXPECT_EQ(routed(group(), "exact"), "exact");
}

TEST_F(FindServer, ExactNameWinsOverWildcards) {
  // www.example.com also matches *.example.com and www.example.*.
  EXPECT_EQ(routed(group(), "www.example.com"), "exact");
}

TEST_F(FindServer, LeadingWildcardMatchesSubdomains) {
  EXPECT_EQ(routed(group(), "foo.example.com"), "short_leading");
  EXPECT_EQ(routed(group(), "a.b.example.com"), "short_leading");
}

TEST_F(FindServer, LeadingWildcardDoesNotMatchTheBareDomain) {
  EXPECT_EQ(routed(group(), "example.com"), "first");
}

TEST_F(FindServer, LongestLeadingWildcardWins) {
  EXPECT_EQ(routed(group(), "v1.api.example.com"), "long_leading");
}

TEST_F(FindServer, DotLeadingNameMatchesSubdomainsAndTheBareDomain) {
  EXPECT_EQ(routed(group(), "example.org"), "dot_leading");
  EXPECT_EQ(routed(group(), "www.example.org"), "dot_leading");
}

TEST_F(FindServer, LeadingWildcardWinsOverTrailingWildcard) {
  // www.api.example.com also matches www.*; leading wildcards are checked first (nginx).
  EXPECT_EQ(routed(group(), "www.api.example.com"), "long_leading");
}

TEST_F(FindServer, LongestTrailingWildcardWins) {
  EXPECT_EQ(routed(group(), "www.example.net"), "long_trailing");
  EXPECT_EQ(routed(group(), "www.other.net"), "short_trailing");
}

TEST_F(FindServer, TrailingWildcardWinsOverRegex) {
  EXPECT_EQ(routed(group(), "mixed.net"), "mixed");
}

TEST_F(FindServer, FirstMatchingRegexInConfOrderWins) {
  EXPECT_EQ(routed(group(), "app1.example.net"), "regex1");
  EXPECT_EQ(routed(group(), "other.example.net"), "regex2");
}

TEST_F(FindServer, UnknownNameFallsBackToTheFirstServer) {
  EXPECT_EQ(routed(group(), "unknown.test"), "first");
}

TEST_F(FindServer, EmptyHostGoesToTheDefaultServer) {
  EXPECT_EQ(routed(group(), ""), "first");
}

TEST(Router, UnknownNameGoesToTheDefaultServer) {
  auto cfg = config_from(R"(http {
    server { listen 127.0.0.1:8081; server_name a; }
    server { listen 127.0.0.1:8081 default_server; server_name b; }
    server { listen 127.0.0.1:8081; server_name c; }
  })");
  auto groups = group_listeners(*cfg);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(routed(groups[0], "nobody.test"), "b");
  EXPECT_EQ(routed(groups[0], "c"), "c");
  EXPECT_EQ(routed(groups[0], "a"), "a");
}

// ---- find_location ----

TEST(Router, ExactLocationWinsOverLongerPrefix) {
  auto cfg = server_with("location = /a { } location /a { } location /a/b/c { }");
  const auto& s = cfg->http.servers[0];
  const conf::Location* l = find_location(s, "/a", nullptr);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->match, conf::Location::Match::kExact);
  EXPECT_EQ(find_location(s, "/a/b/c/d", nullptr)->pattern, "/a/b/c");
}

TEST(Router, ExactLocationWinsOverRegex) {
  auto cfg = server_with("location ~ ^/a$ { } location = /a { }");
  const conf::Location* l = find_location(cfg->http.servers[0], "/a", nullptr);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->match, conf::Location::Match::kExact);
}

TEST(Router, ExactLocationMatchesOnlyTheWholeUri) {
  auto cfg = server_with("location = /a { } location / { }");
  EXPECT_EQ(located(cfg->http.servers[0], "/ab"), "/");
  EXPECT_EQ(located(cfg->http.servers[0], "/a/"), "/");
}

TEST(Router, LongestPrefixWinsRegardlessOfOrder) {
  auto cfg = server_with("location / { } location /api/v1/ { } location /api/ { }");
  const auto& s = cfg->http.servers[0];
  EXPECT_EQ(located(s, "/api/v1/users"), "/api/v1/");
  EXPECT_EQ(located(s, "/api/v2/users"), "/api/");
  EXPECT_EQ(located(s, "/other"), "/");
}

TEST(Router, PrefixMatchIsCaseSensitive) {
  auto cfg = server_with("location /api/ { }");
  EXPECT_EQ(located(cfg->http.servers[0], "/API/x"), "<none>");
}

TEST(Router, NoMatchingLocationGivesNull) {
  auto cfg = server_with("location /api/ { }");
  EXPECT_EQ(find_location(cfg->http.servers[0], "/x", nullptr), nullptr);
}

TEST(Router, RegexInConfOrderBeatsPrefix) {
  auto cfg =
      server_with(R"(location /img/ { } location ~ \.png$ { } location ~ ^/img/.*\.png$ { })");
  const conf::Location* l = find_location(cfg->http.servers[0], "/img/a.png", nullptr);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->match, conf::Location::Match::kRegex);
  EXPECT_EQ(l->pattern, R"(\.png$)");
}

TEST(Router, PrefixUsedWhenNoRegexMatches) {
  auto cfg = server_with(R"(location /img/ { } location ~ \.png$ { })");
  EXPECT_EQ(located(cfg->http.servers[0], "/img/a.gif"), "/img/");
}

TEST(Router, CaselessRegexMatchesAnyCase) {
  auto cfg = server_with(R"(location ~* \.PNG$ { } location ~ \.gif$ { })");
  const auto& s = cfg->http.servers[0];
  EXPECT_EQ(located(s, "/a.png"), R"(\.PNG$)");
  EXPECT_EQ(located(s, "/a.GIF"), "<none>");
}

TEST(Router, NoRegexPrefixStopsRegexSearch) {
  auto cfg = server_with(R"(location ^~ /static/ { } location ~ \.css$ { })");
  const auto& s = cfg->http.servers[0];
  const conf::Location* l = find_location(s, "/static/site.css", nullptr);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->match, conf::Location::Match::kPrefixNoRegex);
  EXPECT_EQ(located(s, "/other/site.css"), R"(\.css$)");
}

TEST(Router, NoRegexPrefixOnlyStopsRegexWhenItIsTheLongest) {
  auto cfg = server_with(R"(location ^~ /static/ { } location /static/css/ { }
                            location ~ \.css$ { })");
  EXPECT_EQ(located(cfg->http.servers[0], "/static/css/site.css"), R"(\.css$)");
}

TEST(Router, NestedPrefixInsideThePrefixIsChosen) {
  auto cfg = server_with("location /a/ { location /a/b/ { } } location /a { }");
  const auto& s = cfg->http.servers[0];
  EXPECT_EQ(located(s, "/a/b/c"), "/a/b/");
  EXPECT_EQ(located(s, "/a/c"), "/a/");
}

TEST(Router, NestedRegexWinsOverOuterRegex) {
  auto cfg = server_with(R"(location /a/ { location ~ \.php$ { } } location ~ \.(php|html)$ { })");
  const auto& s = cfg->http.servers[0];
  const conf::Location* l = find_location(s, "/a/x.php", nullptr);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->pattern, R"(\.php$)");
  EXPECT_EQ(located(s, "/b/x.php"), R"(\.(php|html)$)");
  EXPECT_EQ(located(s, "/a/x.html"), R"(\.(php|html)$)");
}

TEST(Router, NestedExactLocationWins) {
  auto cfg = server_with(R"(location /a/ { location = /a/x { } } location ~ x$ { })");
  const conf::Location* l = find_location(cfg->http.servers[0], "/a/x", nullptr);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->match, conf::Location::Match::kExact);
}

TEST(Router, NestedRegexIsCheckedInsideNoRegexPrefix) {
  // `^~` stops the regexes at its own level, not those nested inside it (nginx).
  auto cfg = server_with(R"(location ^~ /s/ { location ~ \.css$ { } } location ~ \.css$ { })");
  const auto& s = cfg->http.servers[0];
  const conf::Location* l = find_location(s, "/s/a.css", nullptr);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l, s.locations[0]->children[0].get());
  EXPECT_EQ(located(s, "/s/a.js"), "/s/");
}

TEST(Router, RegexLocationFillsCaptures) {
  auto cfg = server_with(R"(location ~ ^/users/(\d+)/(\w+)$ { })");
  conf::Captures caps;
  std::string_view uri = "/users/42/profile";
  ASSERT_NE(find_location(cfg->http.servers[0], uri, &caps), nullptr);
  EXPECT_EQ(caps.group(uri, 0), uri);
  EXPECT_EQ(caps.group(uri, 1), "42");
  EXPECT_EQ(caps.group(uri, 2), "profile");
  EXPECT_EQ(caps.group(uri, 3), "");
}

TEST(Router, NamedLocationIsFoundOnlyByName) {
  auto cfg = server_with("location @fallback { } location / { }");
  const auto& s = cfg->http.servers[0];
  const conf::Location* named = find_named_location(s, "@fallback");
  ASSERT_NE(named, nullptr);
  EXPECT_EQ(named->match, conf::Location::Match::kNamed);
  EXPECT_EQ(find_named_location(s, "@other"), nullptr);
  EXPECT_EQ(located(s, "@fallback"), "<none>");
}

// ---- normalize_host ----

std::string host_of(std::string_view raw) {
  std::string out;
  if (!normalize_host(raw, out)) return "<invalid>";
  return out;
}

TEST(Router, NormalizeHostLowersCase) {
  EXPECT_EQ(host_of("WWW.Example.COM"), "www.example.com");
}

TEST(Router, NormalizeHostStripsPort) {
  EXPECT_EQ(host_of("example.com:8080"), "example.com");
  EXPECT_EQ(host_of("[::1]:8080"), "[::1]");
  EXPECT_EQ(host_of("[::1]"), "[::1]");
}

TEST(Router, NormalizeHostStripsOneTrailingDot) {
  EXPECT_EQ(host_of("example.com."), "example.com");
  EXPECT_EQ(host_of("example.com.:80"), "example.com");
}

TEST(Router, NormalizeHostKeepsEmptyHostForAbsentHeader) {
  EXPECT_EQ(host_of(""), "");
}

TEST(Router, NormalizeHostRejectsInvalidCharacters) {
  EXPECT_EQ(host_of("exa/mple.com"), "<invalid>");
  EXPECT_EQ(host_of(std::string_view("exa\0mple", 8)), "<invalid>");
  EXPECT_EQ(host_of("exa\x01mple"), "<invalid>");
  EXPECT_EQ(host_of("exa mple"), "<invalid>");
  EXPECT_EQ(host_of("exa\x7fmple"), "<invalid>");
  EXPECT_EQ(host_of("exa\\mple.com"), "<invalid>");  // stricter than nginx on Unix
}

TEST(Router, NormalizeHostChecksThePortPartToo) {
  EXPECT_EQ(host_of("example.com:80/x"), "<invalid>");
  EXPECT_EQ(host_of("example.com:8 0"), "<invalid>");
}

TEST(Router, NormalizeHostRejectsDoubleDots) {
  EXPECT_EQ(host_of("a..example.com"), "<invalid>");
  EXPECT_EQ(host_of("example.com.."), "<invalid>");
}

TEST(Router, NormalizeHostRejectsUnclosedIpv6Literal) {
  EXPECT_EQ(host_of("[::1"), "<invalid>");
}

TEST(Router, NormalizeHostRejectsValueWithoutName) {
  EXPECT_EQ(host_of(":80"), "<invalid>");
  EXPECT_EQ(host_of("."), "<invalid>");
}

// ---- normalize_uri ----

std::string uri_of(std::string_view path) {
  std::string out;
  if (!normalize_uri(path, out)) return "<invalid>";
  return out;
}

TEST(Router, NormalizeUriKeepsPlainPath) {
  EXPECT_EQ(uri_of("/"), "/");
  EXPECT_EQ(uri_of("/a/b.html"), "/a/b.html");
  EXPECT_EQ(uri_of("/a/b/"), "/a/b/");
}

TEST(Router, NormalizeUriDecodesPercentEscapes) {
  EXPECT_EQ(uri_of("/a%20b"), "/a b");
  EXPECT_EQ(uri_of("/%41%62%2f"), "/Ab/");
  EXPECT_EQ(uri_of("/%7e%7E"), "/~~");
  EXPECT_EQ(uri_of("/100%25"), "/100%");
}

TEST(Router, NormalizeUriDecodesOnlyOnce) {
  EXPECT_EQ(uri_of("/%2541"), "/%41");
}

TEST(Router, NormalizeUriMergesSlashes) {
  EXPECT_EQ(uri_of("//a///b//"), "/a/b/");
  EXPECT_EQ(uri_of("///"), "/");
}

TEST(Router, NormalizeUriRemovesDotSegments) {
  EXPECT_EQ(uri_of("/a/./b"), "/a/b");
  EXPECT_EQ(uri_of("/a/."), "/a/");
  EXPECT_EQ(uri_of("/."), "/");
  EXPECT_EQ(uri_of("/./a"), "/a");
}

TEST(Router, NormalizeUriResolvesDotDot) {
  EXPECT_EQ(uri_of("/a/b/../c"), "/a/c");
  EXPECT_EQ(uri_of("/a/b/.."), "/a/");
  EXPECT_EQ(uri_of("/a/.."), "/");
  EXPECT_EQ(uri_of("/a/../b"), "/b");
  EXPECT_EQ(uri_of("/a/b/../../c"), "/c");
  EXPECT_EQ(uri_of("/a/%2e%2e/b"), "/b");
}

TEST(Router, NormalizeUriKeepsNamesThatOnlyStartWithDots) {
  EXPECT_EQ(uri_of("/a/.../b"), "/a/.../b");
  EXPECT_EQ(uri_of("/a/..b/.c"), "/a/..b/.c");
}

TEST(Router, NormalizeUriRejectsDotDotAboveRoot) {
  EXPECT_EQ(uri_of("/.."), "<invalid>");
  EXPECT_EQ(uri_of("/../a"), "<invalid>");
  EXPECT_EQ(uri_of("/a/../.."), "<invalid>");
  EXPECT_EQ(uri_of("/a/../../b"), "<invalid>");
  EXPECT_EQ(uri_of("/a/b/../../../c"), "<invalid>");
  EXPECT_EQ(uri_of("/%2e%2e/etc/passwd"), "<invalid>");
}

TEST(Router, NormalizeUriRejectsBadPercentEscapes) {
  EXPECT_EQ(uri_of("/a%"), "<invalid>");
  EXPECT_EQ(uri_of("/a%4"), "<invalid>");
  EXPECT_EQ(uri_of("/a%zz"), "<invalid>");
  EXPECT_EQ(uri_of("/a%4g"), "<invalid>");
  EXPECT_EQ(uri_of("/a%00b"), "<invalid>");
}

TEST(Router, NormalizeUriRejectsRelativePath) {
  EXPECT_EQ(uri_of(""), "<invalid>");
  EXPECT_EQ(uri_of("a/b"), "<invalid>");
}

}  // namespace
}  // namespace tg::proxy
