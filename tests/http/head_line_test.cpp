#include "http/head_line.h"

#include <gtest/gtest.h>

#include <string>

namespace tg::http {
namespace {

TEST(HeadLine, RequestLineSpansAreRelativeToTheBuffer) {
  const std::string buffer = "....POST /a?b HTTP/1.0";
  RequestLine r;
  ASSERT_EQ(parse_request_line(std::string_view(buffer).substr(4), 4, r), ParseError::kNone);
  EXPECT_EQ(r.method.in(buffer.data()), "POST");
  EXPECT_EQ(r.method_id, Method::kPost);
  EXPECT_EQ(r.target.in(buffer.data()), "/a?b");
  EXPECT_EQ(r.major, 1);
  EXPECT_EQ(r.minor, 0);
}

TEST(HeadLine, TwoDigitMinorVersionIsAccepted) {
  RequestLine r;
  EXPECT_EQ(parse_request_line("GET / HTTP/1.10", 0, r), ParseError::kNone);
  EXPECT_EQ(r.minor, 10);
  EXPECT_EQ(parse_request_line("GET / HTTP/1.100", 0, r), ParseError::kInvalidRequest);
}

TEST(HeadLine, HeaderLineTrimsTheValueAndKeepsTheName) {
  const std::string line = "X-Name:  a\tb  ";
  HeaderSpan h;
  ASSERT_EQ(parse_header_line(line, 0, h), ParseError::kNone);
  EXPECT_EQ(h.name.in(line.data()), "X-Name");
  EXPECT_EQ(h.value.in(line.data()), "a\tb");
}

TEST(HeadLine, OddNameBytesAreLeftToIgnoreInvalidHeaders) {
  // nginx ignores such headers (ignore_invalid_headers) rather than refusing the request.
  HeaderSpan h;
  EXPECT_EQ(parse_header_line("Bad@Name: x", 0, h), ParseError::kNone);
  EXPECT_FALSE(is_token("Bad@Name"));
  EXPECT_EQ(parse_header_line("Bad\xc3Name: x", 0, h), ParseError::kNone);
  EXPECT_FALSE(is_token("Bad\xc3Name"));
  EXPECT_TRUE(is_token("X_Under-Score.1"));
}

TEST(HeadLine, StatusLineReason) {
  const std::string line = "HTTP/1.1 404 Not Found";
  StatusLine s;
  ASSERT_EQ(parse_status_line(line, 0, s), ParseError::kNone);
  EXPECT_EQ(s.status, 404);
  EXPECT_EQ(s.reason.in(line.data()), "Not Found");
  EXPECT_EQ(parse_status_line("HTTP/1.1 099 X", 0, s), ParseError::kInvalidStatusLine);
  EXPECT_EQ(parse_status_line("HTTP/1.1 2000 X", 0, s), ParseError::kInvalidStatusLine);
}

TEST(HeadLine, ErrorsMapToNginxStatuses) {
  EXPECT_EQ(status_for(ParseError::kInvalidChunk), 400);
  EXPECT_EQ(status_for(ParseError::kUnknownEncoding), 501);
  EXPECT_EQ(status_for(ParseError::kUnsupportedVersion), 505);
  EXPECT_EQ(status_for(ParseError::kRequestLineTooLong), 414);
  EXPECT_EQ(status_for(ParseError::kHeaderLineTooLong), 494);
  EXPECT_EQ(describe(ParseError::kRequestLineTooLong), "too long URI");
}

TEST(HeadLine, IequalsIgnoresAsciiCase) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_FALSE(iequals("Content-Length", "content-lengt"));
  EXPECT_FALSE(iequals("a", "b"));
}

TEST(HeadLine, TrimRemovesSpacesAndTabs) {
  EXPECT_EQ(trim(" \t value \t"), "value");
  EXPECT_EQ(trim("   "), "");
}

TEST(HeadLine, HasTokenFindsCommaSeparatedToken) {
  EXPECT_TRUE(has_token("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(has_token("close", "close"));
  EXPECT_FALSE(has_token("keep-alive, upgrades", "upgrade"));
  EXPECT_FALSE(has_token("", "close"));
}

}  // namespace
}  // namespace tg::http
