#include "proxy/http_status.h"

#include <gtest/gtest.h>

#include <string>

namespace tg::proxy {
namespace {

TEST(HttpStatus, ReasonPhrasesAreNginxWording) {
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(204), "No Content");
  EXPECT_EQ(reason_phrase(301), "Moved Permanently");
  EXPECT_EQ(reason_phrase(302), "Moved Temporarily");
  EXPECT_EQ(reason_phrase(304), "Not Modified");
  EXPECT_EQ(reason_phrase(400), "Bad Request");
  EXPECT_EQ(reason_phrase(404), "Not Found");
  EXPECT_EQ(reason_phrase(405), "Not Allowed");
  EXPECT_EQ(reason_phrase(408), "Request Time-out");
  EXPECT_EQ(reason_phrase(413), "Request Entity Too Large");
  EXPECT_EQ(reason_phrase(414), "Request-URI Too Large");
  EXPECT_EQ(reason_phrase(500), "Internal Server Error");
  EXPECT_EQ(reason_phrase(502), "Bad Gateway");
  EXPECT_EQ(reason_phrase(503), "Service Temporarily Unavailable");
  EXPECT_EQ(reason_phrase(504), "Gateway Time-out");
}

TEST(HttpStatus, UnknownStatusHasEmptyReason) {
  EXPECT_EQ(reason_phrase(299), "");
  EXPECT_EQ(reason_phrase(0), "");
  EXPECT_EQ(reason_phrase(999), "");
}

TEST(HttpStatus, ErrorPageBodyHasNginxShape) {
  EXPECT_EQ(error_page_body(502, false),
            "<html>\r\n"
            "<head><title>502 Bad Gateway</title></head>\r\n"
            "<body>\r\n"
            "<center><h1>502 Bad Gateway</h1></center>\r\n"
            "<hr><center>tidegate</center>\r\n"
            "</body>\r\n"
            "</html>\r\n");
}

TEST(HttpStatus, ErrorPageBodyForUnknownStatusShowsTheCodeOnly) {
  std::string body = error_page_body(599, false);
  EXPECT_NE(body.find("<title>599</title>"), std::string::npos) << body;
  EXPECT_NE(body.find("<h1>599</h1>"), std::string::npos) << body;
}

TEST(HttpStatus, StatusesWithoutBody) {
  EXPECT_TRUE(status_has_no_body(100));
  EXPECT_TRUE(status_has_no_body(101));
  EXPECT_TRUE(status_has_no_body(204));
  EXPECT_TRUE(status_has_no_body(304));
  EXPECT_FALSE(status_has_no_body(200));
  EXPECT_FALSE(status_has_no_body(404));
}

TEST(HttpStatus, AddHeaderAppliesToSuccessAndRedirects) {
  for (int s : {200, 201, 204, 206, 301, 302, 303, 304, 307, 308}) {
    EXPECT_TRUE(add_header_applies(s)) << s;
  }
  for (int s : {100, 202, 400, 404, 500, 502}) EXPECT_FALSE(add_header_applies(s)) << s;
}

std::string escaped(std::string_view in) {
  std::string out;
  escape_uri(in, out);
  return out;
}

TEST(HttpStatus, EscapeUriKeepsUnreservedAndPathCharacters) {
  EXPECT_EQ(escaped("/a/b-c_d.e~f"), "/a/b-c_d.e~f");
  EXPECT_EQ(escaped("/a;b=c&d+e:f@g,h$i!j*k(l)m[n]"), "/a;b=c&d+e:f@g,h$i!j*k(l)m[n]");
}

TEST(HttpStatus, EscapeUriEscapesSpaceControlAndNonAscii) {
  EXPECT_EQ(escaped("/a b"), "/a%20b");
  EXPECT_EQ(escaped("/\x01\x7f"), "/%01%7F");
  EXPECT_EQ(escaped("/caf\xc3\xa9"), "/caf%C3%A9");
}

TEST(HttpStatus, EscapeUriEscapesDelimitersThatWouldChangeMeaning) {
  EXPECT_EQ(escaped("/a?b#c%d"), "/a%3Fb%23c%25d");
}

TEST(HttpStatus, EscapeUriLeavesOtherPrintableCharactersAsNginxDoes) {
  EXPECT_EQ(escaped("/\"'<>\\^`{|}"), "/\"'<>\\^`{|}");
}

TEST(HttpStatus, EscapeUriAppends) {
  std::string out = "prefix:";
  escape_uri("/x y", out);
  EXPECT_EQ(out, "prefix:/x%20y");
}

}  // namespace
}  // namespace tg::proxy
