#include <set>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "conf/ast.h"
#include "conf/directive_table.h"

namespace tg::conf {
namespace {

// The message validate() throws for `text` ("" if it accepts it).
std::string validation_error(const std::string& text) {
  const auto tree = parse_text(text, "v.conf", {});
  try {
    validate(tree);
  } catch (const ConfError& e) {
    return e.what();
  }
  return "";
}

TEST(DirectiveTable, HasAtMostOneRowPerNameAndContext) {
  std::set<std::pair<std::string_view, unsigned>> seen;
  for (const DirectiveSpec& spec : directive_specs()) {
    for (unsigned ctx = 1; ctx <= kIf; ctx <<= 1) {
      if ((spec.contexts & ctx) == 0) continue;
      EXPECT_TRUE(seen.emplace(spec.name, ctx).second) << spec.name << " in context " << ctx;
    }
  }
}

TEST(DirectiveTable, EveryNoopRowExplainsItselfForTheReadme) {
  for (const DirectiveSpec& spec : directive_specs()) {
    if (spec.noop) {
      EXPECT_FALSE(spec.note.empty()) << spec.name;
    }
    EXPECT_NE(spec.contexts, 0u) << spec.name;
  }
}

TEST(DirectiveTable, FindsTheRowForTheContext) {
  const DirectiveSpec* in_http = find_directive("server", kHttp);
  const DirectiveSpec* in_upstream = find_directive("server", kUpstream);
  ASSERT_NE(in_http, nullptr);
  ASSERT_NE(in_upstream, nullptr);
  EXPECT_EQ(in_http->arity, unsigned{kBlock | kNoArgs});
  EXPECT_EQ(in_upstream->arity, unsigned{k1More});
  EXPECT_EQ(find_directive("keepalive_timeout", kLocation)->arity, unsigned{kTake1 | kTake2});
  EXPECT_EQ(find_directive("keepalive_timeout", kUpstream)->arity, unsigned{kTake1});
  EXPECT_EQ(find_directive("server", kMain), nullptr);
  EXPECT_EQ(find_directive("if", kLocation), nullptr);
  EXPECT_EQ(find_directive("no_such_thing", kHttp), nullptr);
  EXPECT_TRUE(find_directive("master_process", kMain)->noop);
  EXPECT_FALSE(find_directive("proxy_pass", kLocation)->noop);
}

TEST(DirectiveTable, IncludeIsAllowedEverywhere) {
  for (Context ctx : {kMain, kEvents, kHttp, kServer, kLocation, kUpstream}) {
    EXPECT_NE(find_directive("include", ctx), nullptr) << ctx;
  }
}

TEST(Validate, AcceptsARealisticConfiguration) {
  EXPECT_EQ(validation_error(R"(
user nobody nogroup;
worker_processes auto;
daemon OFF;
error_log stderr warn;
events { worker_connections 512; use epoll; }
http {
    log_format main '$remote_addr $status';
    access_log /dev/stdout main;
    types { text/html html htm; }
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    keepalive_timeout 65 60;
    upstream backend {
        zone backend 64k;
        least_conn;
        server 10.0.0.1:8080 weight=2 max_fails=3;
        keepalive 32;
        keepalive_timeout 60s;
    }
    server {
        listen 80 default_server;
        server_name _;
        set $x 1;
        location / {
            proxy_pass http://backend;
            proxy_set_header Host $host;
            add_header X-A b always;
            location /nested { internal; return 204; }
        }
    }
}
)"),
            "");
}

TEST(Validate, RejectsUnknownDirectives) {
  EXPECT_EQ(validation_error("http {\n  bogus 1;\n}"), "unknown directive \"bogus\" in v.conf:2");
  EXPECT_EQ(validation_error("if ($a) { }"), "unknown directive \"if\" in v.conf:1");
}

TEST(Validate, RejectsDirectivesOutsideTheirContext) {
  EXPECT_EQ(validation_error("listen 80;"), "\"listen\" directive is not allowed here in v.conf:1");
  EXPECT_EQ(validation_error("http {\n location / {}\n}"),
            "\"location\" directive is not allowed here in v.conf:2");
  EXPECT_EQ(validation_error("http { set $a b; }"),
            "\"set\" directive is not allowed here in v.conf:1");
  EXPECT_EQ(validation_error("http { server { client_header_buffer_size 1k; location / {\n"
                             "client_header_buffer_size 1k; } } }"),
            "\"client_header_buffer_size\" directive is not allowed here in v.conf:2");
  EXPECT_EQ(validation_error("events { worker_processes 1; }"),
            "\"worker_processes\" directive is not allowed here in v.conf:1");
}

TEST(Validate, RejectsWrongArgumentCounts) {
  const auto message = [](const std::string& name, int line) {
    return "invalid number of arguments in \"" + name +
           "\" directive in v.conf:" + std::to_string(line);
  };
  EXPECT_EQ(validation_error("worker_processes;"), message("worker_processes", 1));
  EXPECT_EQ(validation_error("worker_processes 1 2;"), message("worker_processes", 1));
  EXPECT_EQ(validation_error("http {\n proxy_set_header Host;\n}"), message("proxy_set_header", 2));
  EXPECT_EQ(validation_error("http { add_header a b c d; }"), message("add_header", 1));
  EXPECT_EQ(validation_error("http { log_format main; }"), message("log_format", 1));
  EXPECT_EQ(validation_error("http { access_log; }"), message("access_log", 1));
  EXPECT_EQ(validation_error("http { server { location {} } }"), message("location", 1));
  EXPECT_EQ(validation_error("http { server { location a b c {} } }"), message("location", 1));
  EXPECT_EQ(validation_error("http x {}"), message("http", 1));
  EXPECT_EQ(validation_error("daemon;"), message("daemon", 1));
  EXPECT_EQ(validation_error("daemon on off;"), message("daemon", 1));
  EXPECT_EQ(validation_error("http { server { location / { internal now; } } }"),
            message("internal", 1));
}

TEST(Validate, ChecksBalancingDirectiveArgumentCounts) {
  const auto message = [](const std::string& name) {
    return "invalid number of arguments in \"" + name + "\" directive in v.conf:2";
  };
  const auto in_upstream = [](const std::string& directive) {
    return validation_error("http { upstream u {\n" + directive + "\n} }");
  };
  EXPECT_EQ(in_upstream("ip_hash $remote_addr;"), message("ip_hash"));
  EXPECT_EQ(in_upstream("hash;"), message("hash"));
  EXPECT_EQ(in_upstream("hash $a consistent x;"), message("hash"));
  EXPECT_EQ(in_upstream("random two least_conn x;"), message("random"));
  EXPECT_EQ(in_upstream("least_time;"), message("least_time"));
  EXPECT_EQ(in_upstream("least_time header inflight x;"), message("least_time"));
  EXPECT_EQ(in_upstream("peak_ewma decay=1s x;"), message("peak_ewma"));
  EXPECT_EQ(in_upstream("sticky;"), message("sticky"));
  EXPECT_EQ(in_upstream("drain_timeout;"), message("drain_timeout"));
  EXPECT_EQ(in_upstream("drain_timeout 1s 2s;"), message("drain_timeout"));
  for (const char* ok :
       {"ip_hash;", "hash $a;", "hash $a consistent;", "random;", "random two;",
        "random two least_time=header;", "least_time header;", "least_time last_byte inflight;",
        "peak_ewma;", "peak_ewma decay=1s;", "sticky cookie a expires=1h secure httponly;",
        "sticky route $a $b;", "drain_timeout 30s;"}) {
    EXPECT_EQ(in_upstream(ok), "") << ok;
  }
  EXPECT_EQ(validation_error("http { hash $a; }"),
            "\"hash\" directive is not allowed here in v.conf:1");
}

TEST(DirectiveTable, TidegateExtensionsSaySo) {
  for (std::string_view name : {"peak_ewma", "drain_timeout"}) {
    const DirectiveSpec* spec = find_directive(name, kUpstream);
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_FALSE(spec->noop) << name;
    EXPECT_EQ(spec->note, "tidegate extension") << name;
  }
}

TEST(Validate, FlagsMustBeOnOrOff) {
  EXPECT_EQ(
      validation_error("daemon yes;"),
      "invalid value \"yes\" in \"daemon\" directive, it must be \"on\" or \"off\" in v.conf:1");
  EXPECT_EQ(validation_error("daemon On;"), "");
}

TEST(Validate, BlockDirectivesNeedABlock) {
  EXPECT_EQ(validation_error("events;"), "directive \"events\" has no opening \"{\" in v.conf:1");
  EXPECT_EQ(validation_error("http { upstream u; }"),
            "directive \"upstream\" has no opening \"{\" in v.conf:1");
}

TEST(Validate, SimpleDirectivesMustNotHaveABlock) {
  EXPECT_EQ(validation_error("worker_processes 1 {}"),
            "directive \"worker_processes\" is not terminated by \";\" in v.conf:1");
  // `server` in upstream is a one-line directive even though it is a block in http.
  EXPECT_EQ(validation_error("http { upstream u {\n server a { }\n} }"),
            "directive \"server\" is not terminated by \";\" in v.conf:2");
}

TEST(Validate, DoesNotLookInsideKeyValueBlocks) {
  EXPECT_EQ(validation_error("http { map $a $b { hostnames; default 0; x {} } "
                             "types { image/png png; } server { types { a b; } } }"),
            "");
  for (std::string_view name : {"map", "types", "split_clients", "geo", "match"}) {
    EXPECT_EQ(block_context(name, kHttp), 0u) << name;
  }
}

TEST(Validate, BlocksOpenTheirOwnContext) {
  EXPECT_EQ(block_context("events", kMain), unsigned{kEvents});
  EXPECT_EQ(block_context("http", kMain), unsigned{kHttp});
  EXPECT_EQ(block_context("server", kHttp), unsigned{kServer});
  EXPECT_EQ(block_context("location", kServer), unsigned{kLocation});
  EXPECT_EQ(block_context("location", kLocation), unsigned{kLocation});
  EXPECT_EQ(block_context("upstream", kHttp), unsigned{kUpstream});
}

TEST(Validate, ReportsTheFileAnErrorComesFrom) {
  const auto tree =
      parse_text("http {\n\n  server { listen 80; bogus; }\n}", "/etc/tg/site.conf", {});
  try {
    validate(tree);
    FAIL() << "no error";
  } catch (const ConfError& e) {
    EXPECT_EQ(e.where().file, "/etc/tg/site.conf");
    EXPECT_EQ(e.where().line, 3);
  }
}

}  // namespace
}  // namespace tg::conf
