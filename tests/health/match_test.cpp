#include "health/match.h"

#include <gtest/gtest.h>

namespace tg::health {
namespace {

conf::MatchTest status(std::vector<std::pair<int, int>> codes, bool negate = false) {
  conf::MatchTest t;
  t.kind = conf::MatchTest::Kind::kStatus;
  t.statuses = std::move(codes);
  t.negate = negate;
  return t;
}

conf::MatchTest header(std::string name, conf::MatchTest::Op op, std::string value = {},
                       bool negate = false) {
  conf::MatchTest t;
  t.kind = conf::MatchTest::Kind::kHeader;
  t.header = std::move(name);
  t.op = op;
  t.negate = negate;
  if (op == conf::MatchTest::Op::kEquals) t.value = value;
  if (op == conf::MatchTest::Op::kRegex) {
    std::string error;
    t.regex = conf::Regex::compile(value, false, error);
  }
  return t;
}

conf::MatchTest body(std::string pattern, bool negate = false) {
  conf::MatchTest t;
  t.kind = conf::MatchTest::Kind::kBody;
  t.op = conf::MatchTest::Op::kRegex;
  t.negate = negate;
  std::string error;
  t.regex = conf::Regex::compile(pattern, false, error);
  return t;
}

CheckResponse response(int code, std::vector<std::pair<std::string, std::string>> headers = {},
                       std::string text = {}) {
  return CheckResponse{code, std::move(headers), std::move(text)};
}

TEST(Match, DefaultIsA2xxOr3xxStatus) {
  std::string_view stage;
  EXPECT_TRUE(passes(nullptr, response(200), stage));
  EXPECT_TRUE(passes(nullptr, response(399), stage));
  EXPECT_FALSE(passes(nullptr, response(404), stage));
  EXPECT_EQ(stage, "checking status code of upstream");
  EXPECT_FALSE(passes(nullptr, response(199), stage));
  conf::MatchBlock empty;  // a block without tests is the default too
  EXPECT_FALSE(passes(&empty, response(500), stage));
}

TEST(Match, StatusListsRangesAndNegation) {
  std::string_view stage;
  conf::MatchBlock m{"m", {status({{200, 299}, {301, 301}})}};
  EXPECT_TRUE(passes(&m, response(204), stage));
  EXPECT_TRUE(passes(&m, response(301), stage));
  EXPECT_FALSE(passes(&m, response(302), stage));
  conf::MatchBlock not_5xx{"n", {status({{500, 599}}, true)}};
  EXPECT_TRUE(passes(&not_5xx, response(404), stage));
  EXPECT_FALSE(passes(&not_5xx, response(503), stage));
}

TEST(Match, HeaderTests) {
  using Op = conf::MatchTest::Op;
  std::string_view stage;
  const auto r = response(200, {{"Content-Type", "text/html"}, {"X-Ver", "v12"}});
  conf::MatchBlock eq{"m", {header("content-type", Op::kEquals, "text/html")}};
  EXPECT_TRUE(passes(&eq, r, stage));
  conf::MatchBlock ne{"m", {header("content-type", Op::kEquals, "text/html", true)}};
  EXPECT_FALSE(passes(&ne, r, stage));
  EXPECT_EQ(stage, "checking headers of upstream");
  conf::MatchBlock re{"m", {header("x-ver", Op::kRegex, "^v[0-9]+$")}};
  EXPECT_TRUE(passes(&re, r, stage));
  conf::MatchBlock present{"m", {header("x-missing", Op::kPresent)}};
  EXPECT_FALSE(passes(&present, r, stage));
  conf::MatchBlock absent{"m", {header("x-missing", Op::kPresent, {}, true)}};
  EXPECT_TRUE(passes(&absent, r, stage));
  // A negated value test still needs the header.
  conf::MatchBlock ne_missing{"m", {header("x-missing", Op::kEquals, "a", true)}};
  EXPECT_FALSE(passes(&ne_missing, r, stage));
}

TEST(Match, BodyAndEveryTestMustPass) {
  std::string_view stage;
  conf::MatchBlock m{"m", {status({{200, 200}}), body("Welcome")}};
  EXPECT_TRUE(passes(&m, response(200, {}, "<h1>Welcome</h1>"), stage));
  EXPECT_FALSE(passes(&m, response(200, {}, "maintenance"), stage));
  EXPECT_EQ(stage, "checking body of upstream");
  EXPECT_FALSE(passes(&m, response(500, {}, "Welcome"), stage));
  EXPECT_EQ(stage, "checking status code of upstream");
  conf::MatchBlock not_body{"m", {body("maintenance", true)}};
  EXPECT_TRUE(passes(&not_body, response(200, {}, "fine"), stage));
}

}  // namespace
}  // namespace tg::health
