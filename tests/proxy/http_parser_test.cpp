#include "proxy/http_parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace tg::proxy {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

Headers headers_of(const HttpParser& p, const std::string& buffer) {
  Headers out;
  for (const auto& h : p.headers()) {
    out.emplace_back(h.name.in(buffer.data()), h.value.in(buffer.data()));
  }
  return out;
}

// Joins the body spans the last feeds found.
std::string body_of(HttpParser& p, const std::string& buffer) {
  std::string out;
  for (const auto& s : p.body()) out += s.in(buffer.data());
  return out;
}

// Feeds all of `buffer` in one call; returns the bytes consumed.
size_t feed_all(HttpParser& p, const std::string& buffer) {
  return p.feed(buffer.data(), 0, buffer.size());
}

const std::string kGetHead =
    "GET /path/to?x=1&y=2 HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "User-Agent: test-agent/1.0\r\n"
    "X-Long-Header: " +
    std::string(100, 'v') +
    "\r\n"
    "Accept: */*\r\n"
    "\r\n";

// ---- request heads ----

TEST(HttpParser, ParsesRequestHead) {
  HttpParser p(HTTP_REQUEST);
  EXPECT_EQ(feed_all(p, kGetHead), kGetHead.size());
  ASSERT_TRUE(p.headers_done());
  EXPECT_TRUE(p.message_done());
  EXPECT_FALSE(p.failed());
  EXPECT_EQ(p.method(), HTTP_GET);
  EXPECT_EQ(p.url().in(kGetHead.data()), "/path/to?x=1&y=2");
  EXPECT_EQ(p.http_major(), 1);
  EXPECT_EQ(p.http_minor(), 1);
  EXPECT_EQ(p.content_length(), -1);
  EXPECT_FALSE(p.chunked());
  Headers expected = {{"Host", "example.com"},
                      {"User-Agent", "test-agent/1.0"},
                      {"X-Long-Header", std::string(100, 'v')},
                      {"Accept", "*/*"}};
  EXPECT_EQ(headers_of(p, kGetHead), expected);
}

TEST(HttpParser, HeadFedInSmallPiecesGivesSameSpans) {
  HttpParser whole(HTTP_REQUEST);
  feed_all(whole, kGetHead);
  ASSERT_TRUE(whole.message_done());

  for (size_t piece : {1u, 2u, 3u, 7u, 16u}) {
    SCOPED_TRACE(piece);
    HttpParser p(HTTP_REQUEST);
    size_t consumed = 0;
    for (size_t begin = 0; begin < kGetHead.size(); begin += piece) {
      size_t end = std::min(begin + piece, kGetHead.size());
      consumed += p.feed(kGetHead.data(), begin, end);
      EXPECT_EQ(p.headers_done(), end == kGetHead.size());
    }
    EXPECT_EQ(consumed, kGetHead.size());
    ASSERT_TRUE(p.message_done());
    EXPECT_EQ(p.url().offset, whole.url().offset);
    EXPECT_EQ(p.url().length, whole.url().length);
    ASSERT_EQ(p.headers().size(), whole.headers().size());
    for (size_t i = 0; i < p.headers().size(); ++i) {
      EXPECT_EQ(p.headers()[i].name.offset, whole.headers()[i].name.offset);
      EXPECT_EQ(p.headers()[i].name.length, whole.headers()[i].name.length);
      EXPECT_EQ(p.headers()[i].value.offset, whole.headers()[i].value.offset);
      EXPECT_EQ(p.headers()[i].value.length, whole.headers()[i].value.length);
    }
  }
}

TEST(HttpParser, SpansSurviveBufferMovingBetweenPieces) {
  // The session grows its buffer while a head arrives: offsets must stay valid in the copy.
  std::string first(kGetHead.data(), 40);
  HttpParser p(HTTP_REQUEST);
  EXPECT_EQ(p.feed(first.data(), 0, first.size()), first.size());
  std::string grown = kGetHead;  // a different allocation holding the same bytes
  EXPECT_EQ(p.feed(grown.data(), 40, grown.size()), grown.size() - 40);
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(p.url().in(grown.data()), "/path/to?x=1&y=2");
  EXPECT_EQ(headers_of(p, grown)[1],
            (std::pair<std::string, std::string>{"User-Agent", "test-agent/1.0"}));
}

TEST(HttpParser, PipelinedRequestsStopAtMessageEnd) {
  const std::string first = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string second = "GET /b HTTP/1.1\r\nHost: y\r\n\r\n";
  const std::string buffer = first + second;
  HttpParser p(HTTP_REQUEST);
  size_t consumed = feed_all(p, buffer);
  EXPECT_EQ(consumed, first.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(p.url().in(buffer.data()), "/a");
  // Nothing more is read until the next message starts.
  EXPECT_EQ(p.feed(buffer.data(), consumed, buffer.size()), 0u);

  p.reset();
  EXPECT_FALSE(p.message_done());
  EXPECT_EQ(p.feed(buffer.data(), consumed, buffer.size()), second.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(p.url().in(buffer.data()), "/b");
  EXPECT_EQ(headers_of(p, buffer), (Headers{{"Host", "y"}}));
}

TEST(HttpParser, PipelinedRequestAfterBodyStaysUnread) {
  const std::string first = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
  const std::string buffer = first + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
  HttpParser p(HTTP_REQUEST);
  EXPECT_EQ(feed_all(p, buffer), first.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_EQ(body_of(p, buffer), "abc");
}

// ---- bodies ----

TEST(HttpParser, ContentLengthBodySpans) {
  const std::string head = "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n";
  const std::string buffer = head + "hello world";
  HttpParser p(HTTP_REQUEST);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(p.method(), HTTP_POST);
  EXPECT_EQ(p.content_length(), 11);
  ASSERT_EQ(p.body().size(), 1u);
  EXPECT_EQ(p.body()[0].offset, head.size());
  EXPECT_EQ(body_of(p, buffer), "hello world");
}

TEST(HttpParser, ContentLengthBodyArrivesInPieces) {
  const std::string head = "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n";
  const std::string buffer = head + "0123456789";
  HttpParser p(HTTP_REQUEST);
  EXPECT_EQ(p.feed(buffer.data(), 0, head.size()), head.size());
  EXPECT_TRUE(p.headers_done());
  EXPECT_FALSE(p.message_done());
  EXPECT_TRUE(p.body().empty());

  EXPECT_EQ(p.feed(buffer.data(), head.size(), head.size() + 4), 4u);
  EXPECT_EQ(body_of(p, buffer), "0123");
  EXPECT_FALSE(p.message_done());
  p.body().clear();  // the caller consumes the spans of each feed

  EXPECT_EQ(p.feed(buffer.data(), head.size() + 4, buffer.size()), 6u);
  EXPECT_EQ(body_of(p, buffer), "456789");
  EXPECT_TRUE(p.message_done());
}

TEST(HttpParser, ZeroContentLengthEndsAtHead) {
  const std::string buffer = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
  HttpParser p(HTTP_REQUEST);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_EQ(p.content_length(), 0);
  EXPECT_TRUE(p.body().empty());
}

TEST(HttpParser, ChunkedBodyIsDecodedIntoSpans) {
  const std::string head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string buffer = head + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  HttpParser p(HTTP_REQUEST);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_TRUE(p.chunked());
  EXPECT_EQ(p.content_length(), -1);
  ASSERT_EQ(p.body().size(), 2u);
  EXPECT_EQ(p.body()[0].in(buffer.data()), "hello");
  EXPECT_EQ(p.body()[1].in(buffer.data()), " world");
}

// llhttp 8.1 rejects an extension that follows one with a value ("a=1;b=2"); those are not
// tested here.
TEST(HttpParser, ChunkExtensionsAreSkipped) {
  const std::string buffer =
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;name=value\r\nabc\r\nA;a;b\r\n0123456789\r\n2;q=\"x;y\"\r\n!!\r\n0;last\r\n\r\n";
  HttpParser p(HTTP_REQUEST);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(body_of(p, buffer), "abc0123456789!!");
}

TEST(HttpParser, ChunkedTrailersEndTheMessageWithoutChangingTheHead) {
  const std::string buffer =
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\ndata\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
      "GET /next HTTP/1.1\r\n";
  HttpParser p(HTTP_REQUEST);
  size_t consumed = feed_all(p, buffer);
  EXPECT_EQ(buffer.substr(consumed), "GET /next HTTP/1.1\r\n");
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(body_of(p, buffer), "data");
  EXPECT_EQ(headers_of(p, buffer), (Headers{{"Host", "x"}, {"Transfer-Encoding", "chunked"}}));
}

TEST(HttpParser, ChunkedBodyFedByteByByte) {
  const std::string head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string buffer = head + "5;e=1\r\nhello\r\n1\r\n!\r\n0\r\nT: v\r\n\r\n";
  HttpParser p(HTTP_REQUEST);
  size_t consumed = 0;
  for (size_t i = 0; i < buffer.size(); ++i) consumed += p.feed(buffer.data(), i, i + 1);
  EXPECT_EQ(consumed, buffer.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(body_of(p, buffer), "hello!");
}

// ---- invalid input ----

struct Rejected {
  const char* name;
  std::string request;
  llhttp_errno_t error;
};
void PrintTo(const Rejected& c, std::ostream* os) {
  *os << c.name;
}

class HttpParserRejects : public ::testing::TestWithParam<Rejected> {};

TEST_P(HttpParserRejects, InvalidRequestFails) {
  const auto& c = GetParam();
  HttpParser p(HTTP_REQUEST);
  feed_all(p, c.request);
  EXPECT_TRUE(p.failed());
  EXPECT_FALSE(p.message_done());
  EXPECT_EQ(p.error(), c.error) << llhttp_errno_name(p.error()) << ": " << p.error_reason();
  EXPECT_STRNE(p.error_reason(), "");
  // A failed parser reads nothing more.
  EXPECT_EQ(feed_all(p, c.request), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    HttpParser, HttpParserRejects,
    ::testing::Values(
        Rejected{"BadChunkSize",
                 "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                 HPE_INVALID_CHUNK_SIZE},
        Rejected{"ContentLengthWithTransferEncoding",
                 "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n",
                 HPE_UNEXPECTED_CONTENT_LENGTH},
        Rejected{"TwoContentLengths",
                 "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                 HPE_UNEXPECTED_CONTENT_LENGTH},
        Rejected{"BadContentLength", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\n",
                 HPE_INVALID_CONTENT_LENGTH},
        Rejected{"BadVersion", "GET / HTTP/1.x\r\nHost: x\r\n\r\n", HPE_INVALID_VERSION},
        Rejected{"UnknownVersion", "GET / HTTP/4.2\r\nHost: x\r\n\r\n", HPE_INVALID_VERSION},
        Rejected{"BadMethod", "G@T / HTTP/1.1\r\n\r\n", HPE_INVALID_METHOD},
        Rejected{"InvalidHeaderNameCharacter", "GET / HTTP/1.1\r\nBad@Name: x\r\n\r\n",
                 HPE_INVALID_HEADER_TOKEN},
        // llhttp 8 accepts these two; our callback refuses them as nginx does.
        Rejected{"SpaceInHeaderName", "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", HPE_USER},
        Rejected{"SpaceBeforeColon", "GET / HTTP/1.1\r\nX-Name : x\r\n\r\n", HPE_USER},
        Rejected{"SpaceBeforeColonInTransferEncoding",
                 "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                 "Transfer-Encoding : chunked\r\n\r\n",
                 HPE_INVALID_HEADER_TOKEN}),
    [](const ::testing::TestParamInfo<Rejected>& info) { return info.param.name; });

TEST(HttpParser, SpaceInHeaderNameIsRejectedWhenFedInPieces) {
  const std::string buffer = "GET / HTTP/1.1\r\nHost: x\r\nBad\tName: x\r\n\r\n";
  HttpParser p(HTTP_REQUEST);
  for (size_t i = 0; i < buffer.size() && !p.failed(); ++i) p.feed(buffer.data(), i, i + 1);
  EXPECT_TRUE(p.failed());
  EXPECT_STREQ(p.error_reason(), "Invalid header token");
}

// ---- responses ----

TEST(HttpParser, ParsesResponseStatusAndBody) {
  const std::string buffer = "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope";
  HttpParser p(HTTP_RESPONSE);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(p.status_code(), 404);
  EXPECT_EQ(p.status_text().in(buffer.data()), "Not Found");
  EXPECT_EQ(body_of(p, buffer), "nope");
  EXPECT_FALSE(p.body_until_close());
}

TEST(HttpParser, ResponseWithSpaceInHeaderNameFails) {
  const std::string buffer = "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n";
  HttpParser p(HTTP_RESPONSE);
  feed_all(p, buffer);
  EXPECT_TRUE(p.failed());
}

TEST(HttpParser, ResponseToHeadHasNoBody) {
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  const std::string buffer = head + "HTTP/1.1 200 OK\r\n";
  HttpParser p(HTTP_RESPONSE);
  p.set_no_body(true);
  EXPECT_EQ(feed_all(p, buffer), head.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_EQ(p.content_length(), 100);
  EXPECT_TRUE(p.body().empty());
  EXPECT_TRUE(p.keep_alive());
}

TEST(HttpParser, ResponseToGetWaitsForTheBody) {
  const std::string buffer = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  HttpParser p(HTTP_RESPONSE);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  EXPECT_TRUE(p.headers_done());
  EXPECT_FALSE(p.message_done());
  EXPECT_FALSE(p.body_until_close());
}

TEST(HttpParser, ResetClearsNoBody) {
  const std::string buffer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  HttpParser p(HTTP_RESPONSE);
  p.set_no_body(true);
  p.reset();
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  EXPECT_EQ(body_of(p, buffer), "ok");
}

TEST(HttpParser, NoContentResponseEndsAtHead) {
  const std::string buffer = "HTTP/1.1 204 No Content\r\n\r\n";
  HttpParser p(HTTP_RESPONSE);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_FALSE(p.body_until_close());
}

TEST(HttpParser, ResponseWithoutLengthLastsUntilClose) {
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";
  const std::string buffer = head + "streamed until close";
  HttpParser p(HTTP_RESPONSE);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  EXPECT_TRUE(p.headers_done());
  EXPECT_FALSE(p.message_done());
  EXPECT_TRUE(p.body_until_close());
  EXPECT_FALSE(p.keep_alive());
  EXPECT_EQ(body_of(p, buffer), "streamed until close");

  EXPECT_TRUE(p.finish());
  EXPECT_TRUE(p.message_done());
  EXPECT_FALSE(p.failed());
  EXPECT_FALSE(p.body_until_close());
}

TEST(HttpParser, FinishFailsForTruncatedBody) {
  const std::string buffer = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
  HttpParser p(HTTP_RESPONSE);
  feed_all(p, buffer);
  EXPECT_FALSE(p.body_until_close());
  EXPECT_FALSE(p.finish());
  EXPECT_TRUE(p.failed());
  EXPECT_FALSE(p.message_done());
}

TEST(HttpParser, FinishBetweenMessagesSucceeds) {
  HttpParser p(HTTP_REQUEST);
  EXPECT_TRUE(p.finish());
  EXPECT_FALSE(p.failed());
}

// ---- keep-alive and upgrade ----

struct KeepAliveCase {
  const char* name;
  std::string head;
  bool keep_alive;
};
void PrintTo(const KeepAliveCase& c, std::ostream* os) {
  *os << c.name;
}

class HttpParserKeepAlive : public ::testing::TestWithParam<KeepAliveCase> {};

TEST_P(HttpParserKeepAlive, FollowsVersionAndConnectionHeader) {
  const auto& c = GetParam();
  HttpParser p(HTTP_REQUEST);
  EXPECT_EQ(feed_all(p, c.head), c.head.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(p.keep_alive(), c.keep_alive);
}

INSTANTIATE_TEST_SUITE_P(
    HttpParser, HttpParserKeepAlive,
    ::testing::Values(
        KeepAliveCase{"Http11Default", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
        KeepAliveCase{"Http11Close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                      false},
        KeepAliveCase{"Http11CloseInList",
                      "GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, Close\r\n\r\n", false},
        KeepAliveCase{"Http10Default", "GET / HTTP/1.0\r\n\r\n", false},
        KeepAliveCase{"Http10KeepAlive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
        KeepAliveCase{"Http10KeepAliveAnyCase", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
                      true}),
    [](const ::testing::TestParamInfo<KeepAliveCase>& info) { return info.param.name; });

TEST(HttpParser, UpgradeRequestStopsAtTheHead) {
  const std::string head =
      "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  const std::string buffer = head + "\x81\x05hello";
  HttpParser p(HTTP_REQUEST);
  EXPECT_EQ(feed_all(p, buffer), head.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_TRUE(p.upgrade());
  EXPECT_FALSE(p.failed());
  EXPECT_TRUE(p.body().empty());
}

TEST(HttpParser, UpgradeHeaderWithoutConnectionUpgradeIsPlainRequest) {
  const std::string buffer = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n";
  HttpParser p(HTTP_REQUEST);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_FALSE(p.upgrade());
}

TEST(HttpParser, SwitchingProtocolsResponseIsUpgrade) {
  const std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";
  const std::string buffer = head + "frames";
  HttpParser p(HTTP_RESPONSE);
  EXPECT_EQ(feed_all(p, buffer), head.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_TRUE(p.upgrade());
}

TEST(HttpParser, ResetClearsUpgrade) {
  const std::string up =
      "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  const std::string plain = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  HttpParser p(HTTP_REQUEST);
  feed_all(p, up);
  ASSERT_TRUE(p.upgrade());
  p.reset();
  EXPECT_EQ(feed_all(p, plain), plain.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_FALSE(p.upgrade());
}

// ---- helpers ----

TEST(HttpParser, IequalsIgnoresAsciiCase) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_FALSE(iequals("Content-Length", "content-lengt"));
  EXPECT_FALSE(iequals("a", "b"));
}

TEST(HttpParser, TrimRemovesSpacesAndTabs) {
  EXPECT_EQ(trim(" \t value \t"), "value");
  EXPECT_EQ(trim("   "), "");
}

TEST(HttpParser, HasTokenFindsCommaSeparatedToken) {
  EXPECT_TRUE(has_token("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(has_token("close", "close"));
  EXPECT_FALSE(has_token("keep-alive, upgrades", "upgrade"));
  EXPECT_FALSE(has_token("", "close"));
}

}  // namespace
}  // namespace tg::proxy
