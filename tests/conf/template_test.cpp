#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "conf/template.h"

namespace tg::conf {
namespace {

Template compiled(std::string_view source, const VariableScope& scope = {}) {
  Template t;
  std::string error;
  EXPECT_TRUE(Template::compile(source, scope, t, error)) << source << ": " << error;
  return t;
}

std::string compile_error(std::string_view source, const VariableScope& scope = {}) {
  Template t;
  std::string error;
  if (Template::compile(source, scope, t, error)) return "";
  return error;
}

TEST(Template, LiteralTextIsOneSegment) {
  const Template t = compiled("plain text; {braces}");
  EXPECT_TRUE(t.is_literal());
  EXPECT_EQ(t.literal_value(), "plain text; {braces}");
  ASSERT_EQ(t.segments().size(), 1u);
  EXPECT_EQ(t.segments()[0].var, Var::kLiteral);
  EXPECT_EQ(t.segments()[0].text, "plain text; {braces}");
  EXPECT_TRUE(compiled("").is_literal());
  EXPECT_TRUE(compiled("").segments().empty());
  EXPECT_TRUE(Template::literal("x").is_literal());
}

TEST(Template, SplitsVariablesFromText) {
  const Template t = compiled("a $host-b ${uri}c$remote_addr");
  EXPECT_FALSE(t.is_literal());
  EXPECT_EQ(t.source(), "a $host-b ${uri}c$remote_addr");
  const auto& s = t.segments();
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(s[0].text, "a ");
  EXPECT_EQ(s[1].var, Var::kHost);
  EXPECT_EQ(s[2].text, "-b ");
  EXPECT_EQ(s[3].var, Var::kUri);
  EXPECT_EQ(s[4].text, "c");
  EXPECT_EQ(s[5].var, Var::kRemoteAddr);
  EXPECT_TRUE(t.uses(Var::kUri));
  EXPECT_FALSE(t.uses(Var::kArgs));
}

TEST(Template, DigitsAfterDollarAreOneCapture) {
  const Template t = compiled("/p$1/$10");
  const auto& s = t.segments();
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s[1].var, Var::kCapture);
  EXPECT_EQ(s[1].index, 1u);
  EXPECT_EQ(s[3].var, Var::kCapture);
  EXPECT_EQ(s[3].index, 1u);
  EXPECT_EQ(s[4].text, "0");  // nginx: $10 is $1 followed by "0"
  // $0 and ${1} are names, not captures, as in nginx.
  EXPECT_EQ(compile_error("$0"), "unknown \"0\" variable");
  EXPECT_EQ(compile_error("${1}"), "unknown \"1\" variable");
}

TEST(Template, HeaderVariablesNameTheHeader) {
  const Template t = compiled("$http_user_agent $sent_http_Content_Type $upstream_http_x_id");
  const auto& s = t.segments();
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s[0].var, Var::kHttp);
  EXPECT_EQ(s[0].text, "user-agent");
  EXPECT_EQ(s[2].var, Var::kSentHttp);
  EXPECT_EQ(s[2].text, "content-type");
  EXPECT_EQ(s[4].var, Var::kUpstreamHttp);
  EXPECT_EQ(s[4].text, "x-id");
}

TEST(Template, CookieAndArgumentNamesKeepTheirCase) {
  const Template t = compiled("$cookie_SessionId$arg_Page");
  const auto& s = t.segments();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].var, Var::kCookie);
  EXPECT_EQ(s[0].text, "SessionId");
  EXPECT_EQ(s[1].var, Var::kArg);
  EXPECT_EQ(s[1].text, "Page");
}

TEST(Template, NamesAreCaseInsensitive) {
  const Template t = compiled("$HOST$Request_Uri$HTTP_X_Real_IP");
  const auto& s = t.segments();
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].var, Var::kHost);
  EXPECT_EQ(s[1].var, Var::kRequestUri);
  EXPECT_EQ(s[2].var, Var::kHttp);
  EXPECT_EQ(s[2].text, "x-real-ip");
}

TEST(Template, MapAndSetVariablesComeFromTheScope) {
  VariableScope scope;
  scope.maps["backend"] = 2;
  scope.user["who"] = 5;
  const Template t = compiled("$backend:$WHO", scope);
  const auto& s = t.segments();
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].var, Var::kMap);
  EXPECT_EQ(s[0].index, 2u);
  EXPECT_EQ(s[0].text, "backend");
  EXPECT_EQ(s[2].var, Var::kUser);
  EXPECT_EQ(s[2].index, 5u);
  // A configured name shadows a built-in one.
  scope.maps["host"] = 0;
  EXPECT_EQ(compiled("$host", scope).segments()[0].var, Var::kMap);
}

TEST(Template, ErrorsUseNginxText) {
  EXPECT_EQ(compile_error("$nope"), "unknown \"nope\" variable");
  EXPECT_EQ(compile_error("a $NoPe b"), "unknown \"nope\" variable");
  EXPECT_EQ(compile_error("${host"), "the closing bracket in \"host\" variable is missing");
  EXPECT_EQ(compile_error("${a-b}"), "the closing bracket in \"a\" variable is missing");
  EXPECT_EQ(compile_error("price $"), "invalid variable name");
  EXPECT_EQ(compile_error("$-x"), "invalid variable name");
  EXPECT_EQ(compile_error("${}"), "invalid variable name");
  EXPECT_EQ(compile_error("${"), "invalid variable name");
  EXPECT_TRUE(is_unknown_variable_error(compile_error("$nope")));
  EXPECT_FALSE(is_unknown_variable_error(compile_error("${host")));
}

TEST(Template, EmptyPrefixedNamesAreAllowedAsInNginx) {
  EXPECT_EQ(compiled("$http_").segments().at(0).var, Var::kHttp);
  EXPECT_EQ(compiled("$http_").segments().at(0).text, "");
}

TEST(LookupBuiltin, KnowsAliasesAndRejectsUnknownNames) {
  Segment seg;
  ASSERT_TRUE(lookup_builtin("query_string", seg));
  EXPECT_EQ(seg.var, Var::kArgs);
  ASSERT_TRUE(lookup_builtin("document_uri", seg));
  EXPECT_EQ(seg.var, Var::kUri);
  EXPECT_FALSE(lookup_builtin("nope", seg));
}

}  // namespace
}  // namespace tg::conf
