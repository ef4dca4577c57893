// Static-file directives: root/alias paths, index lists, try_files, expires and the
// rest, with nginx's defaults and messages.
#include <gtest/gtest.h>

#include "tests/conf/build_helpers.h"

namespace tg::conf {
namespace {

using testing::build;
using testing::build_error;
using testing::in_http;

TEST(StaticFiles, DefaultsAreNginxs) {
  auto cfg = build(in_http("server { location / { } }"));
  const auto& f = cfg->http.servers[0].locations[0]->settings.files;
  EXPECT_EQ(f.root.source(), "/pfx/html");  // relative to the prefix
  EXPECT_FALSE(f.alias);
  ASSERT_EQ(f.index.size(), 1u);
  EXPECT_EQ(f.index[0].source(), "index.html");
  EXPECT_TRUE(f.try_files.empty());
  EXPECT_EQ(f.expires, StaticFiles::Expires::kOff);
  EXPECT_TRUE(f.etag);
  EXPECT_EQ(f.if_modified_since, StaticFiles::IfModifiedSince::kExact);
  EXPECT_FALSE(f.autoindex);
  EXPECT_EQ(f.max_ranges, -1);
}

TEST(StaticFiles, LevelsMergeAndListsReplace) {
  auto cfg = build(
      in_http("root www/; index a.html b.html; expires 1h;\n"
              "server { location /x/ { alias /data/x/; index c.html; expires -30s; etag off;\n"
              "  try_files $uri $uri/ /index.html; autoindex on; autoindex_format json;\n"
              "  if_modified_since before; disable_symlinks on; max_ranges 2; }\n"
              "  location /y/ { expires epoch; } location /z/ { expires max; root /srv; } }"));
  const auto& locs = cfg->http.servers[0].locations;
  const auto& x = locs[0]->settings.files;
  EXPECT_EQ(x.root.source(), "/data/x/");
  EXPECT_TRUE(x.alias);
  ASSERT_EQ(x.index.size(), 1u);
  EXPECT_EQ(x.index[0].source(), "c.html");
  EXPECT_EQ(x.expires, StaticFiles::Expires::kTime);
  EXPECT_EQ(x.expires_seconds, -30);
  EXPECT_FALSE(x.etag);
  ASSERT_EQ(x.try_files.size(), 3u);
  EXPECT_EQ(x.try_files[1].source(), "$uri/");
  EXPECT_TRUE(x.autoindex);
  EXPECT_TRUE(x.autoindex_json);
  EXPECT_EQ(x.if_modified_since, StaticFiles::IfModifiedSince::kBefore);
  EXPECT_TRUE(x.disable_symlinks);
  EXPECT_EQ(x.max_ranges, 2);
  const auto& y = locs[1]->settings.files;
  EXPECT_EQ(y.root.source(), "/pfx/www");  // the trailing slash of a root goes
  ASSERT_EQ(y.index.size(), 2u);
  EXPECT_EQ(y.expires, StaticFiles::Expires::kEpoch);
  EXPECT_EQ(locs[2]->settings.files.expires, StaticFiles::Expires::kMax);
  EXPECT_EQ(locs[2]->settings.files.root.source(), "/srv");
  EXPECT_EQ(cfg->http.servers[0].settings.files.expires_seconds, 3600);
}

TEST(StaticFiles, NginxMessages) {
  EXPECT_EQ(build_error(in_http("server {\nalias /x/; }")),
            "\"alias\" directive is not allowed here in t.conf:4");
  EXPECT_EQ(build_error(in_http("server { location / {\ntry_files $uri; } }")),
            "invalid number of arguments in \"try_files\" directive in t.conf:4");
  EXPECT_EQ(build_error(in_http("server { location / {\ntry_files $uri =abc; } }")),
            "invalid code \"=abc\" in t.conf:4");
  EXPECT_EQ(build_error(in_http("server { location / {\nexpires soon; } }")),
            "invalid value \"soon\" in t.conf:4");
  EXPECT_EQ(build_error(in_http("server { location / {\nif_modified_since later; } }")),
            "invalid value \"later\" in t.conf:4");
  EXPECT_EQ(build_error(in_http("server { location / {\nautoindex_format xml; } }")),
            "autoindex_format \"xml\" is not supported yet in t.conf:4");
}

}  // namespace
}  // namespace tg::conf
