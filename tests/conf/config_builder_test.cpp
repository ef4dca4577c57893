#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "build_helpers.h"
#include "conf/ast.h"
#include "conf/config.h"

namespace tg::conf {
namespace {

using namespace std::chrono_literals;
using boost::asio::ip::make_address;
using namespace tg::conf::testing;

// Joins lines with '\n', so that lines[i] is line i + 1 of the text.
std::string lines(std::initializer_list<const char*> ls) {
  std::string out;
  for (const char* l : ls) {
    out += l;
    out += '\n';
  }
  return out;
}

// `body` placed on line 4 inside a server block.
std::string in_server(const std::string& body) {
  return "events {}\nhttp {\nserver {\n" + body + "\n}\n}\n";
}

const ServerBlock& only_server(const Config& cfg) {
  EXPECT_EQ(cfg.http.servers.size(), 1u);
  return cfg.http.servers.at(0);
}

std::vector<std::string> header_names(const std::vector<HeaderTemplate>& headers) {
  std::vector<std::string> out;
  for (const auto& h : headers) out.push_back(h.name);
  return out;
}

const HeaderTemplate* find_header(const std::vector<HeaderTemplate>& headers,
                                  const std::string& lower) {
  for (const auto& h : headers) {
    if (h.lower == lower) return &h;
  }
  return nullptr;
}

// A scratch directory for load_config tests, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tg-build-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string file = path_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(file).parent_path());
    std::ofstream(file) << text;
    return file;
  }

 private:
  std::string path_;
};

TEST(SizeDirectives, BufferSizesTakeNoGigabytesButBodySizesDo) {
  EXPECT_EQ(build_error(in_http("client_header_buffer_size 1g;")),
            "\"client_header_buffer_size\" directive invalid value in t.conf:3");
  EXPECT_EQ(build_error(in_http("large_client_header_buffers 4 1g;")),
            "\"large_client_header_buffers\" directive invalid value in t.conf:3");
  EXPECT_EQ(build_error(in_http("large_client_header_buffers x 8k;")),
            "\"large_client_header_buffers\" directive invalid value in t.conf:3");
  EXPECT_EQ(build_error(in_http("keepalive_timeout 1M;")),
            "\"keepalive_timeout\" directive invalid value in t.conf:3");
  auto cfg =
      build(in_http("client_max_body_size 1g; server { large_client_header_buffers 8 16k; }"));
  EXPECT_EQ(only_server(*cfg).settings.client_max_body_size, 1LL << 30);
  EXPECT_EQ(only_server(*cfg).large_header_buffers, 8);
  EXPECT_EQ(only_server(*cfg).large_header_buffer_size, 16u * 1024);
}

// --- main context -------------------------------------------------------------------

TEST(MainContext, ReadsProcessSettings) {
  auto cfg = build(
      lines({"worker_processes 3;", "worker_rlimit_nofile 4096;", "worker_shutdown_timeout 10s;",
             "daemon off;", "user nobody nogroup;", "events { worker_connections 2048; }"}));
  EXPECT_EQ(cfg->main.worker_processes, 3);
  EXPECT_EQ(cfg->main.worker_rlimit_nofile, 4096);
  EXPECT_EQ(cfg->main.worker_shutdown_timeout, 10s);
  EXPECT_FALSE(cfg->main.daemon);
  EXPECT_EQ(cfg->main.user, "nobody nogroup");
  EXPECT_EQ(cfg->main.worker_connections, 2048);
  EXPECT_FALSE(cfg->has_http);
}

TEST(MainContext, UserAndGroupMustExistWhenReadByRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "nginx checks the names only as root";
  EXPECT_EQ(build_error(lines({"user no-such-user-here;", "events {}"})),
            "getpwnam(\"no-such-user-here\") failed in t.conf:1");
  // The group defaults to the user's name, as nginx's: Debian has no group "nobody".
  if (::getgrnam("nobody") == nullptr) {
    EXPECT_EQ(build_error(lines({"user nobody;", "events {}"})),
              "getgrnam(\"nobody\") failed in t.conf:1");
  }
  EXPECT_EQ(build_error(lines({"user nobody no-such-group-here;", "events {}"})),
            "getgrnam(\"no-such-group-here\") failed in t.conf:1");
  EXPECT_EQ(build(lines({"user root;", "events {}"}))->main.user, "root root");
}

TEST(MainContext, DuplicateDirectiveIsReportedAtTheSecond) {
  EXPECT_EQ(build_error(lines({"worker_processes 1;", "events {}", "worker_processes", " 2;"})),
            "\"worker_processes\" directive is duplicate in t.conf:4");
  EXPECT_EQ(build_error(lines({"pid a.pid;", "pid b.pid;"})),
            "\"pid\" directive is duplicate in t.conf:2");
}

TEST(MainContext, NumbersAreCheckedWithNginxMessages) {
  EXPECT_EQ(build_error("worker_processes x;"),
            "\"worker_processes\" directive invalid value in t.conf:1");
  EXPECT_EQ(build_error("worker_processes -1;"),
            "\"worker_processes\" directive invalid value in t.conf:1");
  EXPECT_EQ(build_error("worker_rlimit_nofile x;"),
            "\"worker_rlimit_nofile\" directive invalid number in t.conf:1");
  EXPECT_EQ(build_error("events {\n  worker_connections x;\n}"),
            "invalid number \"x\" in t.conf:2");
  EXPECT_EQ(build_error("error_log logs/e.log loud;"), "invalid log level \"loud\" in t.conf:1");
}

TEST(MainContext, DefaultPathsAreRelativeToThePrefix) {
  auto cfg = build(in_http(""));
  EXPECT_EQ(cfg->main.pid_path, "/pfx/logs/tidegate.pid");
  EXPECT_EQ(cfg->main.error_log_path, "/pfx/logs/error.log");
  EXPECT_EQ(cfg->main.error_log_level, LogLevel::kError);
  EXPECT_FALSE(cfg->main.error_log_set);
  auto server = build(in_http("server { location / { } }"));
  const auto& log = only_server(*server).settings.access_log;
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].path, "/pfx/logs/access.log");
  EXPECT_EQ(log[0].format, 0u);
  EXPECT_EQ(server->http.log_formats[0].name, "combined");
  EXPECT_EQ(only_server(*server).locations[0]->settings.access_log[0].path, "/pfx/logs/access.log");
}

TEST(MainContext, ExplicitPathsResolveAgainstThePrefix) {
  auto cfg = build(lines({"pid run/t.pid;", "error_log logs/e.log warn;",
                          "error_log /second/ignored.log;", "events {}",
                          "http { log_format main $host; access_log /abs/a.log main; server { } "
                          "}"}));
  EXPECT_EQ(cfg->main.pid_path, "/pfx/run/t.pid");
  EXPECT_EQ(cfg->main.error_log_path, "/pfx/logs/e.log");
  EXPECT_EQ(cfg->main.error_log_level, LogLevel::kWarn);
  const auto& log = only_server(*cfg).settings.access_log;
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].path, "/abs/a.log");
  EXPECT_EQ(cfg->http.log_formats[log[0].format].name, "main");
  EXPECT_EQ(build("pid off;")->main.pid_path, "");
  EXPECT_EQ(build("error_log stderr;")->main.error_log_path, "stderr");
  EXPECT_TRUE(
      only_server(*build(in_http("access_log off; server { }"))).settings.access_log.empty());
}

TEST(MainContext, AccessLogParametersAreChecked) {
  EXPECT_EQ(build_error(in_http("access_log logs/a.log nope;")),
            "unknown log format \"nope\" in t.conf:3");
  EXPECT_EQ(build_error(in_http("access_log logs/a.log combined buffer=x;")),
            "invalid buffer size \"x\" in t.conf:3");
  EXPECT_EQ(build_error(in_http("access_log logs/a.log combined foo;")),
            "invalid parameter \"foo\" in t.conf:3");
  EXPECT_EQ(build_error(in_http("log_format x escape=bad $host;")),
            "unknown log format escaping \"bad\" in t.conf:3");
  EXPECT_EQ(build_error(in_http("log_format x $host;\nlog_format x $uri;")),
            "duplicate \"log_format\" name \"x\" in t.conf:4");
  auto cfg = build(in_http("access_log logs/a.log combined buffer=32k flush=5s; server { }"));
  EXPECT_EQ(only_server(*cfg).settings.access_log[0].buffer, 32u * 1024);
}

// --- -g and load_config --------------------------------------------------------------

TEST(LoadConfig, CommandLineDirectivesComeFirst) {
  TempDir dir;
  LoadOptions o = options();
  o.conf_file = dir.write("conf/main.conf", "events {}\n");
  o.directives = "worker_processes 3; pid /run/t.pid;";
  auto cfg = load_config(o);
  EXPECT_EQ(cfg->main.worker_processes, 3);
  EXPECT_EQ(cfg->main.pid_path, "/run/t.pid");
  ASSERT_EQ(cfg->tree.size(), 3u);
  EXPECT_EQ(cfg->tree[0].where.file, "command line");
}

TEST(LoadConfig, FileDirectiveRepeatingACommandLineOneIsTheDuplicate) {
  TempDir dir;
  LoadOptions o = options();
  o.conf_file = dir.write("main.conf", "events {}\n\nworker_processes 2;\n");
  o.directives = "worker_processes 3;";
  try {
    load_config(o);
    FAIL() << "no error";
  } catch (const ConfError& e) {
    EXPECT_EQ(std::string(e.what()),
              "\"worker_processes\" directive is duplicate in " + o.conf_file + ":3");
  }
}

TEST(LoadConfig, CommandLineErrorsHaveNoLine) {
  TempDir dir;
  LoadOptions o = options();
  o.conf_file = dir.write("main.conf", "events {}\n");
  for (auto [g, message] : std::initializer_list<std::pair<const char*, const char*>>{
           {"foo 3;", "unknown directive \"foo\" in command line"},
           {"daemon off; daemon on;", "\"daemon\" directive is duplicate in command line"},
           {"events {}", "block directives are not supported in -g option in command line"},
           {"daemon off", "unexpected end of parameter, expecting \";\" in command line"}}) {
    o.directives = g;
    try {
      load_config(o);
      ADD_FAILURE() << "no error for " << g;
    } catch (const ConfError& e) {
      EXPECT_EQ(std::string(e.what()), message);
    }
  }
}

TEST(LoadConfig, ListsEveryFileReadForDumping) {
  TempDir dir;
  dir.write("conf/mime.types", "types { text/html html; }\n");
  dir.write("conf/sites/b.conf", "server { listen 8082; }\n");
  dir.write("conf/sites/a.conf", "server { listen 8081; include snippets/common.conf; }\n");
  dir.write("conf/snippets/common.conf", "keepalive_timeout 5s;\n");
  LoadOptions o = options();
  o.conf_file = dir.write("conf/main.conf",
                          "events {}\nhttp {\n  include mime.types;\n  include sites/*.conf;\n"
                          "  include mime.types;\n}\n");
  auto cfg = load_config(o);
  const std::string c = dir.path() + "/conf/";
  EXPECT_EQ(cfg->files, (std::vector<std::string>{o.conf_file, c + "mime.types", c + "sites/a.conf",
                                                  c + "snippets/common.conf", c + "sites/b.conf"}));
  ASSERT_EQ(cfg->http.servers.size(), 2u);
  EXPECT_EQ(cfg->http.servers[0].settings.keepalive_timeout, 5s);
  EXPECT_EQ(cfg->http.types.at("html"), "text/html");
}

TEST(LoadConfig, ChecksDirectivesInFileOrder) {
  // nginx rejects the directive at its `{` before noticing the file ends early.
  TempDir dir;
  LoadOptions o = options();
  o.conf_file = dir.write("main.conf",
                          lines({"http {", "    server {", "        listen 8080;",
                                 "        server_name foo", "        location / { return 200; }"}));
  try {
    load_config(o);
    FAIL() << "no error";
  } catch (const ConfError& e) {
    EXPECT_EQ(std::string(e.what()),
              "directive \"server_name\" is not terminated by \";\" in " + o.conf_file + ":5");
  }
}

// --- listen ---------------------------------------------------------------------------

TEST(Listen, PortOnlyListensOnEveryIpv4Address) {
  auto cfg = build(in_server("listen 8080;"));
  const ListenConfig& l = only_server(*cfg).listen.at(0);
  EXPECT_EQ(l.endpoint, boost::asio::ip::tcp::endpoint(make_address("0.0.0.0"), 8080));
  EXPECT_EQ(l.text, "8080");
  EXPECT_FALSE(l.default_server);
  EXPECT_EQ(l.backlog, 511);
  EXPECT_EQ(l.where.line, 4);
}

TEST(Listen, ReadsAddressPortAndParameters) {
  auto cfg = build(
      in_server("listen 127.0.0.1:8081 default_server backlog=128 reuseport;\nlisten [::1]:8082;\n"
                "listen 127.0.0.2;\nlisten *:8083 default;"));
  const auto& ls = only_server(*cfg).listen;
  ASSERT_EQ(ls.size(), 4u);
  EXPECT_EQ(ls[0].endpoint, boost::asio::ip::tcp::endpoint(make_address("127.0.0.1"), 8081));
  EXPECT_TRUE(ls[0].default_server);
  EXPECT_EQ(ls[0].backlog, 128);
  EXPECT_EQ(ls[1].endpoint, boost::asio::ip::tcp::endpoint(make_address("::1"), 8082));
  EXPECT_FALSE(ls[1].default_server);
  EXPECT_EQ(ls[2].endpoint, boost::asio::ip::tcp::endpoint(make_address("127.0.0.2"), 80));
  EXPECT_EQ(ls[3].endpoint, boost::asio::ip::tcp::endpoint(make_address("0.0.0.0"), 8083));
  EXPECT_TRUE(ls[3].default_server);
}

TEST(Listen, ServerWithoutListenUsesNginxDefault) {
  auto cfg = build(in_http("server { }"));
  const uint16_t port = ::geteuid() == 0 ? 80 : 8000;
  EXPECT_EQ(only_server(*cfg).listen.at(0).endpoint.port(), port);
}

TEST(Listen, RejectsBadAddressesAndParameters) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"listen 0;", "invalid port in \"0\" of the \"listen\" directive"},
      {"listen 65536;", "invalid port in \"65536\" of the \"listen\" directive"},
      {"listen 127.0.0.1:x;", "invalid port in \"127.0.0.1:x\" of the \"listen\" directive"},
      {"listen 127.0.0.1:;", "invalid port in \"127.0.0.1:\" of the \"listen\" directive"},
      {"listen [::1;", "invalid host in \"[::1\" of the \"listen\" directive"},
      {"listen [::1]x;", "invalid host in \"[::1]x\" of the \"listen\" directive"},
      {"listen :80;", "no host in \":80\" of the \"listen\" directive"},
      {"listen 8080 backlog=x;", "invalid backlog \"backlog=x\""},
      {"listen 8080 backlog=0;", "invalid backlog \"backlog=0\""},
      {"listen 8080 foo;", "invalid parameter \"foo\""},
      {"listen 8080 quic;",
       "the \"quic\" parameter of the \"listen\" directive is not supported yet"},
  };
  for (const auto& [directive, message] : cases) {
    EXPECT_EQ(build_error(in_server(directive)), message + " in t.conf:4");
  }
  // A multi-line directive is reported at its `;`.
  EXPECT_EQ(build_error(in_server("listen\n  99999\n  ;")),
            "invalid port in \"99999\" of the \"listen\" directive in t.conf:6");
}

// --- server_name ------------------------------------------------------------------------

TEST(ServerName, SplitsNamesByKind) {
  auto cfg = build(in_server(
      "server_name Example.COM *.example.org .example.net www.example.* ~^api\\d+\\.x$ \"\" _;"));
  const ServerNames& n = only_server(*cfg).names;
  EXPECT_EQ(n.exact, (std::vector<std::string>{"example.com", "example.net", "", "_"}));
  EXPECT_EQ(n.leading, (std::vector<std::string>{".example.org", ".example.net"}));
  EXPECT_EQ(n.trailing, (std::vector<std::string>{"www.example."}));
  ASSERT_EQ(n.regex.size(), 1u);
  EXPECT_TRUE(n.regex[0]->match("api12.x", nullptr));
  EXPECT_TRUE(n.regex[0]->match("API12.X", nullptr));  // server names are caseless
  EXPECT_EQ(n.first, "example.com");                   // $server_name: the first name, lower-cased
}

TEST(ServerName, ServerNameVariableIsTheFirstNameWritten) {
  EXPECT_EQ(only_server(*build(in_http("server { }"))).names.first, "");
  EXPECT_EQ(only_server(*build(in_server("server_name ~^Re$ b.com;"))).names.first, "~^Re$");
  EXPECT_EQ(
      only_server(*build(in_server("server_name \"\" b.com;\nserver_name c.com;"))).names.first,
      "");
}

TEST(ServerName, RejectsInvalidNames) {
  EXPECT_EQ(build_error(in_server("server_name *;")), "server name \"*\" is invalid in t.conf:4");
  EXPECT_EQ(build_error(in_server("server_name a *.;")),
            "server name \"*.\" is invalid in t.conf:4");
  EXPECT_EQ(build_error(in_server("server_name .;")), "server name \".\" is invalid in t.conf:4");
  EXPECT_EQ(build_error(in_server("server_name ~a)b;")),
            "pcre2_compile() failed: unmatched closing parenthesis in \"a)b\" at \")b\" in "
            "t.conf:4");
}

// --- proxy_pass -------------------------------------------------------------------------------

TEST(ProxyPass, NamesAnUpstreamGroup) {
  auto cfg =
      build(in_http("upstream backend { server 127.0.0.1:8081; }\n"
                    "server { location / { proxy_pass http://backend; } }"));
  const Location& loc = *only_server(*cfg).locations.at(0);
  ASSERT_TRUE(loc.proxy);
  EXPECT_EQ(loc.proxy->url, "http://backend");
  EXPECT_EQ(cfg->http.upstreams.at(loc.proxy->upstream).name, "backend");
  EXPECT_EQ(loc.proxy->proxy_host, "backend");
  EXPECT_EQ(loc.proxy->proxy_port, "80");
  EXPECT_FALSE(loc.proxy->has_uri);
}

TEST(ProxyPass, HostAndPortMakeOneImplicitGroup) {
  auto cfg =
      build(in_http("server {\n"
                    "  location /a { proxy_pass http://127.0.0.1:8081; }\n"
                    "  location /b { proxy_pass http://127.0.0.1:8081/v2/; }\n"
                    "  location /c { proxy_pass http://127.0.0.1; }\n"
                    "}"));
  const auto& locs = only_server(*cfg).locations;
  const ProxyTarget& a = *locs[0]->proxy;
  const ProxyTarget& b = *locs[1]->proxy;
  const ProxyTarget& c = *locs[2]->proxy;
  EXPECT_EQ(a.proxy_host, "127.0.0.1:8081");
  EXPECT_EQ(a.proxy_port, "8081");
  EXPECT_EQ(a.upstream, b.upstream);
  const UpstreamConfig& group = cfg->http.upstreams.at(a.upstream);
  EXPECT_TRUE(group.implicit);
  EXPECT_EQ(group.name, "127.0.0.1:8081");
  ASSERT_EQ(group.servers.size(), 1u);
  EXPECT_EQ(group.servers[0].endpoint,
            boost::asio::ip::tcp::endpoint(make_address("127.0.0.1"), 8081));
  EXPECT_TRUE(b.has_uri);
  EXPECT_EQ(b.uri, "/v2/");
  EXPECT_EQ(c.proxy_host, "127.0.0.1");
  EXPECT_EQ(c.proxy_port, "80");
  EXPECT_NE(c.upstream, a.upstream);
}

TEST(ProxyPass, UriIsRefusedInRegexAndNamedLocationsAtTheProxyPassLine) {
  const std::string message =
      "\"proxy_pass\" cannot have URI part in location given by regular expression, or inside "
      "named location, or inside \"if\" statement, or inside \"limit_except\" block in t.conf:";
  EXPECT_EQ(
      build_error(in_server("location ~ /x\n{\n  proxy_pass\n    http://127.0.0.1:1/a\n;\n}")),
      message + "8");
  EXPECT_EQ(build_error(in_server("location @n {\n  proxy_pass http://127.0.0.1/;\n}")),
            message + "5");
  EXPECT_EQ(build_error(in_server("location ~ /x { proxy_pass http://127.0.0.1; }")), "");
}

TEST(ProxyPass, RejectsBadUrls) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"proxy_pass ftp://x;", "invalid URL prefix"},
      {"proxy_pass http://;", "no host in upstream \"\""},
      {"proxy_pass http://:80;", "no host in upstream \":80\""},
      {"proxy_pass http://127.0.0.1:0;", "invalid port in upstream \"127.0.0.1:0\""},
      {"proxy_pass http://localhost:99999;", "invalid port in upstream \"localhost:99999\""},
      {"proxy_pass http://127.0.0.1;\nproxy_pass http://127.0.0.1;",
       "\"proxy_pass\" directive is duplicate"},
  };
  for (const auto& [directive, message] : cases) {
    const int line = directive.find('\n') == std::string::npos ? 5 : 6;
    EXPECT_EQ(build_error(in_server("location / {\n" + directive + "\n}")),
              message + " in t.conf:" + std::to_string(line));
  }
}

// --- locations -----------------------------------------------------------------------------------

TEST(Locations, NestingFollowsNginxRules) {
  EXPECT_EQ(build_error(in_server("location = /a {\n  location /a/b { }\n}")),
            "location \"/a/b\" cannot be inside the exact location \"/a\" in t.conf:5");
  EXPECT_EQ(build_error(in_server("location /a {\n  location /b { }\n}")),
            "location \"/b\" is outside location \"/a\" in t.conf:5");
  EXPECT_EQ(build_error(in_server("location ~ x {\n  location /y { }\n}")),
            "location \"/y\" is outside location \"x\" in t.conf:5");
  EXPECT_EQ(build_error(in_server("location @n {\n  location /y { }\n}")),
            "location \"/y\" cannot be inside the named location \"@n\" in t.conf:5");
  EXPECT_EQ(build_error(in_server("location / {\n  location @m { }\n}")),
            "named location \"@m\" can be on the server level only in t.conf:5");
  EXPECT_EQ(build_error(in_server("location foo /x { }")),
            "invalid location modifier \"foo\" in t.conf:4");
  EXPECT_EQ(build_error(in_server("location /a {\n  location ~ \\.png$ { }\n}")), "");
}

// --- settings inheritance
// ---------------------------------------------------------------------------

TEST(Inheritance, ScalarsInheritUnlessSet) {
  auto cfg =
      build(in_http("keepalive_timeout 10s;\nproxy_read_timeout 5s;\nclient_max_body_size 2m;\n"
                    "server {\n"
                    "  proxy_connect_timeout 3s;\n"
                    "  location /a { proxy_read_timeout 7s; location /a/b { send_timeout 1s; } }\n"
                    "  location /c { }\n"
                    "}"));
  const ServerBlock& s = only_server(*cfg);
  EXPECT_EQ(s.settings.keepalive_timeout, 10s);
  EXPECT_EQ(s.settings.proxy_connect_timeout, 3s);
  const Location& a = *s.locations.at(0);
  EXPECT_EQ(a.settings.proxy_read_timeout, 7s);
  EXPECT_EQ(a.settings.proxy_connect_timeout, 3s);
  EXPECT_EQ(a.settings.client_max_body_size, 2 << 20);
  const Location& ab = *a.children.at(0);
  EXPECT_EQ(ab.settings.proxy_read_timeout, 7s);
  EXPECT_EQ(ab.settings.send_timeout, 1s);
  EXPECT_EQ(ab.settings.keepalive_timeout, 10s);
  const Location& c = *s.locations.at(1);
  EXPECT_EQ(c.settings.proxy_read_timeout, 5s);
  EXPECT_EQ(c.settings.send_timeout, 60s);
}

TEST(Inheritance, HeaderListsInheritOnlyWhenTheLevelHasNone) {
  auto cfg =
      build(in_http("proxy_set_header X-A a;\nadd_header X-H h;\n"
                    "server {\n"
                    "  location /a { }\n"
                    "  location /b { proxy_set_header X-B $host; add_header X-I i always; }\n"
                    "}"));
  const ServerBlock& s = only_server(*cfg);
  const Location& a = *s.locations.at(0);
  const Location& b = *s.locations.at(1);
  EXPECT_EQ(header_names(a.settings.proxy_set_header),
            (std::vector<std::string>{"X-A", "Host", "Connection"}));
  EXPECT_EQ(header_names(a.settings.add_header), std::vector<std::string>{"X-H"});
  EXPECT_FALSE(a.settings.add_header[0].always);
  EXPECT_EQ(header_names(b.settings.proxy_set_header),
            (std::vector<std::string>{"X-B", "Host", "Connection"}));
  EXPECT_EQ(b.settings.proxy_set_header[0].value.segments().at(0).var, Var::kHost);
  EXPECT_EQ(header_names(b.settings.add_header), std::vector<std::string>{"X-I"});
  EXPECT_TRUE(b.settings.add_header[0].always);
  EXPECT_EQ(build_error(in_server("add_header X y sometimes;")),
            "invalid parameter \"sometimes\" in t.conf:4");
}

TEST(Inheritance, DefaultProxyHeadersYieldToConfiguredOnes) {
  auto cfg =
      build(in_http("server {\n  proxy_set_header host $host;\n  location / { }\n}\n"
                    "server {\n  location / { }\n}"));
  const auto& overridden = cfg->http.servers[0].locations[0]->settings.proxy_set_header;
  EXPECT_EQ(header_names(overridden), (std::vector<std::string>{"host", "Connection"}));
  EXPECT_EQ(overridden[0].value.source(), "$host");
  const auto& defaults = cfg->http.servers[1].locations[0]->settings.proxy_set_header;
  ASSERT_NE(find_header(defaults, "host"), nullptr);
  EXPECT_EQ(find_header(defaults, "host")->value.source(), "$proxy_host");
  EXPECT_EQ(find_header(defaults, "host")->value.segments().at(0).var, Var::kProxyHost);
  ASSERT_NE(find_header(defaults, "connection"), nullptr);
  EXPECT_EQ(find_header(defaults, "connection")->value.source(), "close");
  const auto& hide = cfg->http.servers[1].settings.proxy_hide_header;
  EXPECT_NE(std::find(hide.begin(), hide.end(), "x-accel-redirect"), hide.end());
  EXPECT_EQ(cfg->http.servers[1].settings.proxy_http_version, "1.0");
  EXPECT_EQ(build_error(in_server("proxy_http_version 2.0;")), "invalid value \"2.0\" in t.conf:4");
}

// --- proxy_next_upstream
// ------------------------------------------------------------------------------

TEST(NextUpstream, ReadsConditionsAndInherits) {
  auto cfg = build(
      in_http("proxy_next_upstream error timeout http_502 non_idempotent;\n"
              "server {\n"
              "  location /a { }\n"
              "  location /b { proxy_next_upstream http_500 http_503 http_504 http_403 http_404 "
              "http_429 invalid_header; }\n"
              "  location /c { proxy_next_upstream off; }\n"
              "  location /d { proxy_next_upstream off http_500; }\n"
              "}"));
  const auto& locs = only_server(*cfg).locations;
  EXPECT_EQ(locs[0]->settings.proxy_next_upstream,
            unsigned{kNuError | kNuTimeout | kNuHttp502 | kNuNonIdempotent});
  EXPECT_EQ(locs[1]->settings.proxy_next_upstream,
            unsigned{kNuHttp500 | kNuHttp503 | kNuHttp504 | kNuHttp403 | kNuHttp404 | kNuHttp429 |
                     kNuInvalidHeader});
  EXPECT_EQ(locs[2]->settings.proxy_next_upstream, 0u);
  EXPECT_EQ(locs[3]->settings.proxy_next_upstream, 0u);  // nginx: `off` anywhere wins
  auto defaults = build(in_http("server { }"));
  EXPECT_EQ(only_server(*defaults).settings.proxy_next_upstream, unsigned{kNuError | kNuTimeout});
}

TEST(NextUpstream, RejectsUnknownConditions) {
  EXPECT_EQ(build_error(in_http("proxy_next_upstream error\n  foo;")),
            "invalid value \"foo\" in t.conf:4");
  EXPECT_EQ(build_error(in_http("proxy_next_upstream_tries x;")),
            "\"proxy_next_upstream_tries\" directive invalid number in t.conf:3");
}

// --- error_page
// ------------------------------------------------------------------------------------------

TEST(ErrorPage, MapsCodesToUrisAndReplacementCodes) {
  auto cfg = build(
      in_http("error_page 404 /404.html;\n"
              "error_page 500 502 503 =200 /50x.html;\n"
              "server {\n  location /own { error_page 403 @denied; }\n  location /inherit { }\n}"));
  const auto& s = only_server(*cfg).settings;
  EXPECT_EQ(s.error_page.at(404).source(), "/404.html");
  EXPECT_EQ(s.error_page_code.at(404), 0);
  for (int code : {500, 502, 503}) {
    EXPECT_EQ(s.error_page.at(code).source(), "/50x.html");
    EXPECT_EQ(s.error_page_code.at(code), 200);
  }
  const auto& own = only_server(*cfg).locations[0]->settings;
  EXPECT_EQ(own.error_page.size(), 1u);
  EXPECT_EQ(own.error_page.at(403).source(), "@denied");
  EXPECT_EQ(only_server(*cfg).locations[1]->settings.error_page.size(), 4u);
  EXPECT_EQ(build_error(in_http("error_page 404 = /x;")), "");
}

TEST(ErrorPage, RejectsBadCodes) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"error_page 200 /x;", "value \"200\" must be between 300 and 599"},
      {"error_page 600 /x;", "value \"600\" must be between 300 and 599"},
      {"error_page abc /x;", "invalid value \"abc\""},
      {"error_page 499 /x;", "invalid value \"499\""},
      {"error_page =200 /x;", "invalid value \"=200\""},
      {"error_page 404 =x /x;", "invalid value \"=x\""},
      {"error_page 404 =-1 /x;", "invalid value \"=-1\""},
  };
  for (const auto& [directive, message] : cases) {
    EXPECT_EQ(build_error(in_http(directive)), message + " in t.conf:3");
  }
}

// --- map
// ---------------------------------------------------------------------------------------------------

TEST(Map, ReadsExactDefaultRegexAndHostnameEntries) {
  auto cfg =
      build(in_http("map $http_host $site {\n"
                    "  hostnames;\n"
                    "  default fallback;\n"
                    "  Example.COM exact;\n"
                    "  *.example.com wild;\n"
                    "  *.a.example.com deeper;\n"
                    "  .example.net both;\n"
                    "  www.example.* trail;\n"
                    "  ~^api(\\d+)\\. api$1;\n"
                    "  \\default escaped;\n"
                    "}\n"
                    "map $uri $other { /a $site; }"));
  ASSERT_EQ(cfg->http.maps.size(), 2u);
  const MapConfig& m = cfg->http.maps[0];
  EXPECT_EQ(m.target, "site");
  EXPECT_TRUE(m.hostnames);
  ASSERT_EQ(m.source.segments().size(), 1u);
  EXPECT_EQ(m.source.segments()[0].var, Var::kHttp);
  EXPECT_EQ(m.source.segments()[0].text, "host");
  EXPECT_EQ(m.default_value.source(), "fallback");
  EXPECT_EQ(m.exact.at("example.com").source(), "exact");
  EXPECT_EQ(m.exact.at("example.net").source(), "both");
  EXPECT_EQ(m.exact.at("default").source(), "escaped");
  ASSERT_EQ(m.leading.size(), 3u);
  EXPECT_EQ(m.leading[0].first, ".a.example.com");  // most specific first
  EXPECT_EQ(m.leading[1].first, ".example.com");
  EXPECT_EQ(m.leading[2].first, ".example.net");
  ASSERT_EQ(m.trailing.size(), 1u);
  EXPECT_EQ(m.trailing[0].first, "www.example.");
  ASSERT_EQ(m.regex.size(), 1u);
  EXPECT_TRUE(m.regex[0].first->match("api7.example.com", nullptr));
  EXPECT_TRUE(m.regex[0].second.uses(Var::kCapture));
  // A map's value may name another map, in any order.
  const MapConfig& other = cfg->http.maps[1];
  EXPECT_EQ(other.default_value.source(), "");
  EXPECT_EQ(other.exact.at("/a").segments().at(0).var, Var::kMap);
  EXPECT_EQ(other.exact.at("/a").segments().at(0).index, 0u);
}

TEST(Map, WithoutHostnamesWildcardsAreExactKeys) {
  auto cfg = build(in_http("map $host $m {\n  *.example.com 1;\n  .x 2;\n}"));
  const MapConfig& m = cfg->http.maps.at(0);
  EXPECT_FALSE(m.hostnames);
  EXPECT_TRUE(m.leading.empty());
  EXPECT_EQ(m.exact.count("*.example.com"), 1u);
  EXPECT_EQ(m.exact.count(".x"), 1u);
}

TEST(Map, VariableNamesAreCaseInsensitive) {
  auto cfg = build(in_http("map $HOST $Up { default 1; }\nserver { return 200 $UP$Host; }"));
  const auto& segs = only_server(*cfg).rewrite.at(0).value.segments();
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].var, Var::kMap);
  EXPECT_EQ(segs[1].var, Var::kHost);
}

TEST(Map, RejectsMalformedEntries) {
  EXPECT_EQ(build_error(in_http("map $host m {\n}")), "invalid variable name \"m\" in t.conf:3");
  EXPECT_EQ(build_error(in_http("map $host $m {\n  a;\n}")),
            "invalid number of the map parameters in t.conf:4");
  EXPECT_EQ(build_error(in_http("map $host $m {\n  a 1 2;\n}")),
            "invalid number of the map parameters in t.conf:4");
  EXPECT_EQ(build_error(in_http("map $host $m {\n  a 1;\n  A\n  2;\n}")),
            "conflicting parameter \"A\" in t.conf:6");
  EXPECT_EQ(build_error(in_http("map $host $m {\n  default 1;\n  default\n  2;\n}")),
            "duplicate default map parameter in t.conf:6");
  EXPECT_EQ(build_error(in_http("map $host $m {\n  ~a)b 1;\n}")),
            "pcre2_compile() failed: unmatched closing parenthesis in \"a)b\" at \")b\" in "
            "t.conf:4");
}

TEST(Map, UnknownVariablesAreReportedWithoutAPositionAfterOtherErrors) {
  // nginx resolves names only after reading the http block.
  EXPECT_EQ(build_error(in_http("map $host $m {\n  a $nope;\n}")), "unknown \"nope\" variable");
  EXPECT_EQ(build_error(in_http("map $Nope $m {\n  a 1;\n}")), "unknown \"nope\" variable");
  EXPECT_EQ(build_error(in_server("return 200 $first;\nproxy_set_header X $second;")),
            "unknown \"first\" variable");
  EXPECT_EQ(build_error(in_server("return 200 $nope;\nlisten 0;")),
            "invalid port in \"0\" of the \"listen\" directive in t.conf:5");
  // Malformed names are reported at once, with the directive's line.
  EXPECT_EQ(build_error(in_server("return 200 ${host;")),
            "the closing bracket in \"host\" variable is missing in t.conf:4");
  EXPECT_EQ(build_error(in_server("return 200 \"a$\";")), "invalid variable name in t.conf:4");
}

// --- set / return
// ----------------------------------------------------------------------------------------------

TEST(Rewrite, SetAndReturnAreKeptInOrder) {
  auto cfg = build(in_server(
      "set $Who world;\nreturn 200 \"hello $who\";\nlocation / { return https://x$request_uri; }"));
  const ServerBlock& s = only_server(*cfg);
  ASSERT_EQ(s.rewrite.size(), 2u);
  EXPECT_EQ(s.rewrite[0].kind, RewriteOp::Kind::kSet);
  EXPECT_EQ(cfg->http.user_variables.at(s.rewrite[0].slot), "who");
  EXPECT_EQ(s.rewrite[1].kind, RewriteOp::Kind::kReturn);
  EXPECT_EQ(s.rewrite[1].code, 200);
  EXPECT_TRUE(s.rewrite[1].value.uses(Var::kUser));
  const RewriteOp& redirect = s.locations.at(0)->rewrite.at(0);
  EXPECT_EQ(redirect.code, 302);
  EXPECT_TRUE(redirect.value.uses(Var::kRequestUri));
}

TEST(Rewrite, RejectsBadNamesAndCodes) {
  EXPECT_EQ(build_error(in_server("set x 1;")), "invalid variable name \"x\" in t.conf:4");
  EXPECT_EQ(build_error(in_server("return 1000;")), "invalid return code \"1000\" in t.conf:4");
  EXPECT_EQ(build_error(in_server("return /x;")), "invalid return code \"/x\" in t.conf:4");
}

TEST(RealIp, ListsReplaceTheParentsAndHeadersInherit) {
  auto cfg = build(
      in_http("set_real_ip_from 10.0.0.0/8; real_ip_header X-Forwarded-For;\n"
              "server { listen 8080; location /a { } location /b { set_real_ip_from 192.0.2.1; "
              "real_ip_recursive on; } }"));
  const auto& server = only_server(*cfg);
  ASSERT_EQ(server.locations.size(), 2u);
  const auto& a = server.locations[0]->settings;
  const auto& b = server.locations[1]->settings;
  ASSERT_EQ(a.real_ip_from.size(), 1u);
  EXPECT_EQ(a.real_ip_from[0].prefix, 8u);
  EXPECT_EQ(a.real_ip_header, "X-Forwarded-For");
  EXPECT_FALSE(a.real_ip_recursive);
  ASSERT_EQ(b.real_ip_from.size(), 1u);  // its own list replaces the parent's
  EXPECT_EQ(b.real_ip_from[0].network.to_string(), "192.0.2.1");
  EXPECT_TRUE(b.real_ip_recursive);
  EXPECT_EQ(build_error(in_http("real_ip_header proxy_protocol;")), "");
  EXPECT_EQ(build_error(in_http("set_real_ip_from 10.0.0.300;")),
            "invalid parameter \"10.0.0.300\" in t.conf:3");
}

TEST(SplitClients, PartsAndErrors) {
  auto cfg = build(in_http("split_clients $remote_addr $v { 0.5% a; 2% b; * c; }"));
  ASSERT_EQ(cfg->http.maps.size(), 1u);
  const auto& split = cfg->http.maps[0].split;
  ASSERT_EQ(split.size(), 3u);
  EXPECT_EQ(split[0].first, static_cast<uint32_t>(50ULL * 0xffffffffULL / 10000));
  EXPECT_EQ(split[1].first, static_cast<uint32_t>(250ULL * 0xffffffffULL / 10000));
  EXPECT_FALSE(split[2].first);
  EXPECT_EQ(build_error(in_http("split_clients $remote_addr $v { 60% a; 50% b; }")),
            "percent total is greater than 100% in t.conf:3");
  EXPECT_EQ(build_error(in_http("split_clients $remote_addr $v { 1.234% a; }")),
            "invalid percent value \"1.234%\" in t.conf:3");
  EXPECT_EQ(build_error(in_http("split_clients $remote_addr $v { ten% a; }")),
            "invalid percent value \"ten%\" in t.conf:3");
}

TEST(LimitConn, ZonesLimitsAndErrors) {
  auto cfg = build(
      in_http("limit_conn_zone $binary_remote_addr zone=addr:1m;\n"
              "server { listen 8080; limit_conn addr 10; limit_conn_status 429; location / { } }"));
  ASSERT_EQ(cfg->http.limit_conn_zones.size(), 1u);
  const auto& settings = only_server(*cfg).locations[0]->settings;
  ASSERT_EQ(settings.limit_conn.size(), 1u);  // inherited
  EXPECT_EQ(settings.limit_conn[0].limit, 10);
  EXPECT_EQ(settings.limit_conn_status, 429);
  EXPECT_EQ(build_error(in_http("limit_conn nope 1;")),
            "zero size shared memory zone \"nope\" in t.conf:3");
  EXPECT_EQ(build_error(in_http("limit_conn_zone $a zone=z:1m; limit_conn z 0;")),
            "invalid number of connections \"0\" in t.conf:3");
}

TEST(LimitReq, ZonesLimitsAndErrors) {
  auto cfg =
      build(in_http("limit_req zone=one burst=5 nodelay;\n"
                    "limit_req_zone $binary_remote_addr zone=one:10m rate=30r/m;\n"
                    "server { listen 8080; location / { limit_req zone=one burst=2 delay=1; "
                    "limit_req_status 429; limit_req_log_level warn; } }"));
  ASSERT_EQ(cfg->http.limit_req_zones.size(), 1u);
  EXPECT_EQ(cfg->http.limit_req_zones[0].rate, 500);  // 30 r/m in thousandths per second
  EXPECT_EQ(cfg->http.limit_req_zones[0].max_entries, 10u * 1024 * 1024 / 128);
  const auto& server = only_server(*cfg);
  ASSERT_EQ(server.settings.limit_req.size(), 1u);  // the zone defined after its use
  EXPECT_EQ(server.settings.limit_req[0].delay, LimitReq::kNoDelay);
  const auto& loc = server.locations[0]->settings;
  ASSERT_EQ(loc.limit_req.size(), 1u);  // its own line replaces the inherited one
  EXPECT_EQ(loc.limit_req[0].burst, 2);
  EXPECT_EQ(loc.limit_req[0].delay, 1);
  EXPECT_EQ(loc.limit_req_status, 429);
  EXPECT_EQ(loc.limit_req_log_level, LogLevel::kWarn);
  EXPECT_EQ(build_error(in_http("limit_req zone=nope;")),
            "zero size shared memory zone \"nope\" in t.conf:3");
  EXPECT_EQ(build_error(in_http("limit_req_zone $a zone=z:10m rate=5r/h;")),
            "invalid rate \"5r/h\" in t.conf:3");
  EXPECT_EQ(build_error(in_http("limit_req_zone $a zone=z:10m rate=1r/s; limit_req_status 302;")),
            "value must be between 400 and 599 in t.conf:3");
}

}  // namespace
}  // namespace tg::conf

namespace tg::conf {
namespace {

TEST(ProxyRedirect, DefaultOffAndRules) {
  using testing::build;
  using testing::build_error;
  using testing::in_http;
  auto cfg = build(
      in_http("server { location /a/ { proxy_pass http://127.0.0.1:9/; }\n"
              "  location /b/ { proxy_pass http://127.0.0.1:9/; proxy_redirect off; }\n"
              "  location /c/ { proxy_pass http://127.0.0.1:9/; proxy_redirect http://x/ /c/;\n"
              "                 proxy_redirect default; } }"));
  const auto& locs = cfg->http.servers[0].locations;
  ASSERT_EQ(locs[0]->settings.proxy_redirect.size(), 1u);  // nginx's default on
  EXPECT_TRUE(locs[0]->settings.proxy_redirect[0].from.empty());
  EXPECT_TRUE(locs[1]->settings.proxy_redirect_off);
  EXPECT_TRUE(locs[1]->settings.proxy_redirect.empty());
  ASSERT_EQ(locs[2]->settings.proxy_redirect.size(), 2u);
  EXPECT_EQ(locs[2]->settings.proxy_redirect[0].from, "http://x/");
  EXPECT_EQ(locs[2]->settings.proxy_redirect[0].to.source(), "/c/");
  EXPECT_TRUE(locs[2]->settings.proxy_redirect[1].from.empty());
  EXPECT_EQ(build_error(in_http("server { location / {\nproxy_redirect nonsense; } }")),
            "invalid parameter \"nonsense\" in t.conf:4");
  EXPECT_EQ(build_error(in_http("server { location / {\nproxy_redirect ~^/x /y; } }")),
            "regular expressions in \"proxy_redirect\" are not supported yet in t.conf:4");
}

}  // namespace
}  // namespace tg::conf
