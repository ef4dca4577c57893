#include "http/parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace tg::http {
namespace {

using namespace std::string_view_literals;

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
  HttpParser p(MessageType::kRequest);
  EXPECT_EQ(feed_all(p, kGetHead), kGetHead.size());
  ASSERT_TRUE(p.headers_done());
  EXPECT_TRUE(p.message_done());
  EXPECT_FALSE(p.failed());
  EXPECT_EQ(p.method(), Method::kGet);
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
  HttpParser whole(MessageType::kRequest);
  feed_all(whole, kGetHead);
  ASSERT_TRUE(whole.message_done());

  for (size_t piece : {1u, 2u, 3u, 7u, 16u}) {
    SCOPED_TRACE(piece);
    HttpParser p(MessageType::kRequest);
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
  HttpParser p(MessageType::kRequest);
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
  HttpParser p(MessageType::kRequest);
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
  HttpParser p(MessageType::kRequest);
  EXPECT_EQ(feed_all(p, buffer), first.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_EQ(body_of(p, buffer), "abc");
}

// ---- bodies ----

TEST(HttpParser, ContentLengthBodySpans) {
  const std::string head = "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n";
  const std::string buffer = head + "hello world";
  HttpParser p(MessageType::kRequest);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(p.method(), Method::kPost);
  EXPECT_EQ(p.content_length(), 11);
  ASSERT_EQ(p.body().size(), 1u);
  EXPECT_EQ(p.body()[0].offset, head.size());
  EXPECT_EQ(body_of(p, buffer), "hello world");
}

TEST(HttpParser, ContentLengthBodyArrivesInPieces) {
  const std::string head = "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n";
  const std::string buffer = head + "0123456789";
  HttpParser p(MessageType::kRequest);
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
  HttpParser p(MessageType::kRequest);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_EQ(p.content_length(), 0);
  EXPECT_TRUE(p.body().empty());
}

TEST(HttpParser, ChunkedBodyIsDecodedIntoSpans) {
  const std::string head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string buffer = head + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  HttpParser p(MessageType::kRequest);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_TRUE(p.chunked());
  EXPECT_EQ(p.content_length(), -1);
  ASSERT_EQ(p.body().size(), 2u);
  EXPECT_EQ(p.body()[0].in(buffer.data()), "hello");
  EXPECT_EQ(p.body()[1].in(buffer.data()), " world");
}

TEST(HttpParser, ChunkExtensionsAreSkipped) {
  const std::string buffer =
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;name=value\r\nabc\r\nA;a=1;b=2\r\n0123456789\r\n2;q=\"x;y\"\r\n!!\r\n0;last\r\n\r\n";
  HttpParser p(MessageType::kRequest);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(body_of(p, buffer), "abc0123456789!!");
}

TEST(HttpParser, ChunkedTrailersEndTheMessageWithoutChangingTheHead) {
  const std::string buffer =
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\ndata\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
      "GET /next HTTP/1.1\r\n";
  HttpParser p(MessageType::kRequest);
  size_t consumed = feed_all(p, buffer);
  EXPECT_EQ(buffer.substr(consumed), "GET /next HTTP/1.1\r\n");
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(body_of(p, buffer), "data");
  EXPECT_EQ(headers_of(p, buffer), (Headers{{"Host", "x"}, {"Transfer-Encoding", "chunked"}}));
}

TEST(HttpParser, ChunkedBodyFedByteByByte) {
  const std::string head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string buffer = head + "5;e=1\r\nhello\r\n1\r\n!\r\n0\r\nT: v\r\n\r\n";
  HttpParser p(MessageType::kRequest);
  size_t consumed = 0;
  for (size_t i = 0; i < buffer.size(); ++i) consumed += p.feed(buffer.data(), i, i + 1);
  EXPECT_EQ(consumed, buffer.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(body_of(p, buffer), "hello!");
}

// ---- refused messages: each could be read two ways, or nginx refuses it ----

struct Rejected {
  const char* name;
  std::string message;
  ParseError error;
};
void PrintTo(const Rejected& c, std::ostream* os) {
  *os << c.name;
}

class HttpParserRejectsRequest : public ::testing::TestWithParam<Rejected> {};

TEST_P(HttpParserRejectsRequest, FailsWithNginxsReason) {
  const auto& c = GetParam();
  HttpParser p(MessageType::kRequest);
  feed_all(p, c.message);
  EXPECT_TRUE(p.failed());
  EXPECT_FALSE(p.message_done());
  EXPECT_EQ(p.error(), c.error) << p.error_reason();
  EXPECT_NE(p.error_reason(), "");
  // A failed parser reads nothing more.
  EXPECT_EQ(feed_all(p, c.message), 0u);
}

TEST_P(HttpParserRejectsRequest, FailsWhenFedByteByByte) {
  const auto& c = GetParam();
  HttpParser p(MessageType::kRequest);
  for (size_t i = 0; i < c.message.size() && !p.failed(); ++i) p.feed(c.message.data(), i, i + 1);
  EXPECT_TRUE(p.failed());
  EXPECT_EQ(p.error(), c.error) << p.error_reason();
}

const std::string kChunkedHead =
    "POST /c HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";

INSTANTIATE_TEST_SUITE_P(
    HttpParser, HttpParserRejectsRequest,
    ::testing::Values(
        // Issue 8, item 1: chunk data must be followed by its line ending.
        Rejected{"ChunkDataNotFollowedByCrlf", kChunkedHead + "5\r\nhelloXX0\r\n\r\n",
                 ParseError::kInvalidChunk},
        Rejected{"ChunkDataFollowedByCrCr", kChunkedHead + "5\r\nhello\r\r\n0\r\n\r\n",
                 ParseError::kInvalidChunk},
        Rejected{"ChunkSizeCrWithoutLf", kChunkedHead + "5\rhello\r\n0\r\n\r\n",
                 ParseError::kInvalidChunk},
        Rejected{"ChunkExtensionCrWithoutLf", kChunkedHead + "5;a\rb\r\nhello\r\n0\r\n\r\n",
                 ParseError::kInvalidChunk},
        Rejected{"ChunkSizeWithLeadingSpace", kChunkedHead + " 5\r\nhello\r\n0\r\n\r\n",
                 ParseError::kInvalidChunk},
        Rejected{"ChunkSizeWithHexPrefix", kChunkedHead + "0x5\r\nhello\r\n0\r\n\r\n",
                 ParseError::kInvalidChunk},
        Rejected{"EmptyChunkSizeLine", kChunkedHead + "\r\n5\r\nhello\r\n0\r\n\r\n",
                 ParseError::kInvalidChunk},
        Rejected{"ChunkSizeOverflow", kChunkedHead + "ffffffffffffffffff\r\nhello\r\n",
                 ParseError::kInvalidChunk},
        Rejected{"BadChunkSize", kChunkedHead + "zz\r\n", ParseError::kInvalidChunk},
        Rejected{"TrailerLineCrWithoutLf", kChunkedHead + "0\r\nX: 1\rY\r\n\r\n",
                 ParseError::kInvalidChunk},
        // Item 2: obs-fold is refused (RFC 9112 §5.2), never forwarded.
        Rejected{"ObsFoldHidingTransferEncoding",
                 "GET /h HTTP/1.1\r\nHost: localhost\r\nX-Foo: a\r\n Transfer-Encoding: "
                 "chunked12\r\n\r\n",
                 ParseError::kInvalidHeader},
        Rejected{"ObsFoldWithTab", "GET / HTTP/1.1\r\nHost: x\r\nX-Foo: a\r\n\tb\r\n\r\n",
                 ParseError::kInvalidHeader},
        Rejected{"FirstHeaderLineStartsWithSpace", "GET / HTTP/1.1\r\n Host: x\r\n\r\n",
                 ParseError::kInvalidHeader},
        // Item 3: control characters in the target.
        Rejected{"TabInTarget", "GET /x\ty HTTP/1.1\r\nHost: localhost\r\n\r\n",
                 ParseError::kInvalidRequest},
        Rejected{"FormFeedInTarget", "GET /x\x0cy HTTP/1.1\r\nHost: localhost\r\n\r\n",
                 ParseError::kInvalidRequest},
        Rejected{"DelInTarget", "GET /x\x7fy HTTP/1.1\r\nHost: localhost\r\n\r\n",
                 ParseError::kInvalidRequest},
        Rejected{"NulInTarget", std::string("GET /x\0y HTTP/1.1\r\nHost: x\r\n\r\n"sv),
                 ParseError::kInvalidRequest},
        Rejected{"BareCrInRequestLine", "GET / HTTP/1.1\r\r\nHost: x\r\n\r\n",
                 ParseError::kInvalidRequest},
        // Also: userinfo in an absolute-form target, Transfer-Encoding other than chunked.
        Rejected{"UserinfoInAbsoluteTarget", "GET http://u@localhost/abs HTTP/1.1\r\n\r\n",
                 ParseError::kInvalidRequest},
        Rejected{"UnderscoreInAbsoluteHost", "GET http://loc_al/p HTTP/1.1\r\nHost: x\r\n\r\n",
                 ParseError::kInvalidRequest},
        Rejected{"EmptyHostInAbsoluteTarget", "GET http:///p HTTP/1.1\r\nHost: x\r\n\r\n",
                 ParseError::kInvalidHostInRequestLine},
        Rejected{"IdentityThenChunked",
                 "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, chunked\r\n\r\n",
                 ParseError::kUnknownEncoding},
        Rejected{"GzipEncoding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
                 ParseError::kUnknownEncoding},
        Rejected{"TwoTransferEncodings",
                 "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n",
                 ParseError::kDuplicateHeader},
        Rejected{"TransferEncodingInHttp10",
                 "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                 ParseError::kEncodingInHttp10},
        Rejected{"ContentLengthWithTransferEncoding",
                 "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n",
                 ParseError::kLengthAndEncoding},
        Rejected{"TwoEqualContentLengths",
                 "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                 ParseError::kDuplicateHeader},
        Rejected{"ContentLengthList", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\n",
                 ParseError::kInvalidContentLength},
        Rejected{"SignedContentLength", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n",
                 ParseError::kInvalidContentLength},
        Rejected{"EmptyContentLength", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n",
                 ParseError::kInvalidContentLength},
        Rejected{"HugeContentLength",
                 "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
                 ParseError::kInvalidContentLength},
        Rejected{"BadContentLength", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\n",
                 ParseError::kInvalidContentLength},
        // Heads nginx refuses.
        Rejected{"BadVersion", "GET / HTTP/1.x\r\nHost: x\r\n\r\n", ParseError::kInvalidRequest},
        Rejected{"VersionWithoutMinor", "GET / HTTP/1\r\nHost: x\r\n\r\n",
                 ParseError::kInvalidRequest},
        Rejected{"LowerCaseProtocol", "GET / http/1.1\r\nHost: x\r\n\r\n",
                 ParseError::kInvalidRequest},
        Rejected{"LeadingZeroMajor", "GET / HTTP/01.1\r\nHost: x\r\n\r\n",
                 ParseError::kInvalidRequest},
        Rejected{"Http09Version", "GET / HTTP/0.9\r\nHost: x\r\n\r\n", ParseError::kInvalidRequest},
        Rejected{"Http09SimpleRequest", "GET /\r\n\r\n", ParseError::kInvalidRequest},
        Rejected{"Http2Version", "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
                 ParseError::kUnsupportedVersion},
        Rejected{"UnknownVersion", "GET / HTTP/4.2\r\nHost: x\r\n\r\n",
                 ParseError::kUnsupportedVersion},
        Rejected{"LowerCaseMethod", "get / HTTP/1.1\r\nHost: x\r\n\r\n",
                 ParseError::kInvalidMethod},
        Rejected{"BadMethod", "G@T / HTTP/1.1\r\n\r\n", ParseError::kInvalidMethod},
        Rejected{"AsteriskTarget", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
                 ParseError::kInvalidRequest},
        Rejected{"AuthorityFormTarget", "CONNECT host:443 HTTP/1.1\r\nHost: x\r\n\r\n",
                 ParseError::kInvalidRequest},
        Rejected{"SpaceInHeaderName", "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
                 ParseError::kInvalidHeader},
        Rejected{"SpaceBeforeColon", "GET / HTTP/1.1\r\nX-Name : x\r\n\r\n",
                 ParseError::kInvalidHeader},
        Rejected{"SpaceBeforeColonInTransferEncoding",
                 "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                 "Transfer-Encoding : chunked\r\n\r\n",
                 ParseError::kInvalidHeader},
        Rejected{"EmptyHeaderName", "GET / HTTP/1.1\r\nHost: x\r\n: x\r\n\r\n",
                 ParseError::kInvalidHeader},
        Rejected{"HeaderWithoutColon", "GET / HTTP/1.1\r\nHost: x\r\nFoo\r\n\r\n",
                 ParseError::kInvalidHeader},
        Rejected{"CrInHeaderValue", "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
                 ParseError::kInvalidHeader},
        Rejected{"NulInHeaderValue", std::string("GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n"sv),
                 ParseError::kInvalidHeader},
        Rejected{"ControlCharInHeaderValue", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n",
                 ParseError::kInvalidHeader}),
    [](const ::testing::TestParamInfo<Rejected>& info) { return info.param.name; });

class HttpParserRejectsResponse : public ::testing::TestWithParam<Rejected> {};

TEST_P(HttpParserRejectsResponse, Fails) {
  const auto& c = GetParam();
  HttpParser p(MessageType::kResponse);
  feed_all(p, c.message);
  EXPECT_TRUE(p.failed());
  EXPECT_EQ(p.error(), c.error) << p.error_reason();
}

INSTANTIATE_TEST_SUITE_P(
    HttpParser, HttpParserRejectsResponse,
    ::testing::Values(
        Rejected{"ChunkDataNotFollowedByCrlf",
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
                 ParseError::kInvalidChunk},
        Rejected{"ObsFold",
                 "HTTP/1.1 200 OK\r\nX-Foo: a\r\n b\r\nX-Bar: c\r\nContent-Length: 5\r\n\r\nhello",
                 ParseError::kInvalidHeader},
        Rejected{"ObsFoldHidingSetCookie",
                 "HTTP/1.1 200 OK\r\nX-Foo: a\r\n Set-Cookie: injected=1\r\n\r\n",
                 ParseError::kInvalidHeader},
        Rejected{"TwoContentLengths",
                 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                 ParseError::kDuplicateHeader},
        Rejected{"LengthAndChunked",
                 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                 ParseError::kLengthAndEncoding},
        Rejected{"UnknownEncoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                 ParseError::kUnknownEncoding},
        Rejected{"SpaceInHeaderName", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n",
                 ParseError::kInvalidHeader},
        Rejected{"Http2StatusLine", "HTTP/2.0 200 OK\r\n\r\n", ParseError::kInvalidStatusLine},
        Rejected{"TwoDigitStatus", "HTTP/1.1 20 OK\r\n\r\n", ParseError::kInvalidStatusLine},
        Rejected{"NoStatusLine", "Content-Length: 0\r\n\r\n", ParseError::kInvalidStatusLine},
        Rejected{"ControlCharInReason", "HTTP/1.1 200 O\x01K\r\n\r\n",
                 ParseError::kInvalidStatusLine}),
    [](const ::testing::TestParamInfo<Rejected>& info) { return info.param.name; });

// ---- accepted as nginx accepts them ----

TEST(HttpParser, BareLfLineEndingsAreAccepted) {
  const std::string buffer =
      "POST /lf HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n5\nhello\n0\nT: 1\n\n";
  HttpParser p(MessageType::kRequest);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  ASSERT_TRUE(p.message_done()) << p.error_reason();
  EXPECT_EQ(p.url().in(buffer.data()), "/lf");
  EXPECT_EQ(headers_of(p, buffer), (Headers{{"Host", "x"}, {"Transfer-Encoding", "chunked"}}));
  EXPECT_EQ(body_of(p, buffer), "hello");
}

TEST(HttpParser, MixedLineEndingsAreAccepted) {
  const std::string buffer = "GET /m HTTP/1.1\r\nHost: x\nX-A: b\r\n\n";
  HttpParser p(MessageType::kRequest);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(headers_of(p, buffer), (Headers{{"Host", "x"}, {"X-A", "b"}}));
}

TEST(HttpParser, EmptyLinesBeforeTheRequestLineAreSkipped) {
  const std::string buffer = "\r\n\nGET /lead HTTP/1.1\r\nHost: x\r\n\r\n";
  HttpParser p(MessageType::kRequest);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(p.url().in(buffer.data()), "/lead");
}

TEST(HttpParser, Utf8TargetAndUnusualMethodPassAsInNginx) {
  const std::string buffer = "FOO_BAR-X /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n";
  HttpParser p(MessageType::kRequest);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(p.method(), Method::kOther);
  EXPECT_EQ(p.method_text().in(buffer.data()), "FOO_BAR-X");
  EXPECT_EQ(p.url().in(buffer.data()), "/caf\xc3\xa9");
}

TEST(HttpParser, ExtraSpacesInTheRequestLineAreAccepted) {
  const std::string buffer = "GET   /sp   HTTP/1.1  \r\nHost: x\r\n\r\n";
  HttpParser p(MessageType::kRequest);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(p.url().in(buffer.data()), "/sp");
}

TEST(HttpParser, AbsoluteFormTargets) {
  for (std::string target : {"http://localhost/abs", "HTTP://localhost:8080/a?b", "http://[::1]/x",
                             "http://localhost", "http://localhost?a=1", "ftp://h/x"}) {
    SCOPED_TRACE(target);
    const std::string buffer = "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
    HttpParser p(MessageType::kRequest);
    feed_all(p, buffer);
    ASSERT_TRUE(p.message_done()) << p.error_reason();
    EXPECT_EQ(p.url().in(buffer.data()), target);
  }
}

TEST(HttpParser, HeaderValuesAreTrimmedAndMayBeEmpty) {
  const std::string buffer = "GET / HTTP/1.1\r\nHost:x\r\nX:\t a b \t\r\nY:   \r\n\r\n";
  HttpParser p(MessageType::kRequest);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(headers_of(p, buffer), (Headers{{"Host", "x"}, {"X", "a b"}, {"Y", ""}}));
}

TEST(HttpParser, ChunkedIsCaseInsensitiveAndTrimmed) {
  const std::string buffer =
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:  ChUnKeD  \r\n\r\n0\r\n\r\n";
  HttpParser p(MessageType::kRequest);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_TRUE(p.chunked());
}

TEST(HttpParser, ContentLengthWithLeadingZeros) {
  const std::string buffer = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0003\r\n\r\nabc";
  HttpParser p(MessageType::kRequest);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_EQ(p.content_length(), 3);
}

TEST(HttpParser, WhitespaceAfterChunkSizeStartsAnExtension) {
  const std::string buffer = kChunkedHead + "5 \r\nhello\r\n3\t;x\r\nabc\r\n000\r\n\r\n";
  HttpParser p(MessageType::kRequest);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  ASSERT_TRUE(p.message_done()) << p.error_reason();
  EXPECT_EQ(body_of(p, buffer), "helloabc");
}

TEST(HttpParser, HeadBytesCountTheWholeHead) {
  const std::string head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n";
  const std::string buffer = head + "ab";
  HttpParser p(MessageType::kRequest);
  feed_all(p, buffer);
  EXPECT_EQ(p.head_bytes(), head.size());
}

// ---- large_client_header_buffers: nginx's per-line rule ----

struct LimitCase {
  const char* name;
  std::string head;
  bool ok;
  ParseError error;
};
void PrintTo(const LimitCase& c, std::ostream* os) {
  *os << c.name;
}

class HttpParserLimits : public ::testing::TestWithParam<LimitCase> {};

std::string header_of_length(size_t line_bytes) {
  // "X-N: " + value + "\r\n" is `line_bytes` long.
  return "X-N: " + std::string(line_bytes - 7, 'v') + "\r\n";
}

TEST_P(HttpParserLimits, FollowsNginxBuffers) {
  const auto& c = GetParam();
  // client_header_buffer_size 1k; large_client_header_buffers 2 1k.
  for (bool bytewise : {false, true}) {
    SCOPED_TRACE(bytewise);
    HttpParser p(MessageType::kRequest);
    p.set_limits(HeadLimits{1024, 1024, 2});
    if (bytewise) {
      for (size_t i = 0; i < c.head.size() && !p.failed(); ++i) p.feed(c.head.data(), i, i + 1);
    } else {
      feed_all(p, c.head);
    }
    EXPECT_EQ(p.message_done(), c.ok);
    EXPECT_EQ(p.error(), c.error) << p.error_reason();
  }
}

INSTANTIATE_TEST_SUITE_P(
    HttpParser, HttpParserLimits,
    ::testing::Values(
        LimitCase{"RequestLineOfOneBuffer",
                  "GET /" + std::string(1024 - 16, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", true,
                  ParseError::kNone},
        LimitCase{"RequestLineOneByteTooLong",
                  "GET /" + std::string(1024 - 15, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", false,
                  ParseError::kRequestLineTooLong},
        LimitCase{"HeaderLineOfOneBuffer", "GET / HTTP/1.1\r\n" + header_of_length(1024) + "\r\n",
                  true, ParseError::kNone},
        LimitCase{"HeaderLineOneByteTooLong",
                  "GET / HTTP/1.1\r\n" + header_of_length(1025) + "\r\n", false,
                  ParseError::kHeaderLineTooLong},
        LimitCase{"ThreeHeadersOf700Bytes",
                  "GET / HTTP/1.1\r\n" + header_of_length(700) + header_of_length(700) +
                      header_of_length(700) + "\r\n",
                  true, ParseError::kNone},
        LimitCase{"FourHeadersOf700Bytes",
                  "GET / HTTP/1.1\r\n" + header_of_length(700) + header_of_length(700) +
                      header_of_length(700) + header_of_length(700) + "\r\n",
                  false, ParseError::kHeaderLineTooLong}),
    [](const ::testing::TestParamInfo<LimitCase>& info) { return info.param.name; });

TEST(HttpParser, ResponseHeadMustFitOneBuffer) {
  const std::string buffer =
      "HTTP/1.1 200 OK\r\nX: " + std::string(3000, 'v') + "\r\nContent-Length: 0\r\n\r\n";
  HttpParser small(MessageType::kResponse);
  small.set_limits(HeadLimits{2048, 0, 0});
  feed_all(small, buffer);
  EXPECT_EQ(small.error(), ParseError::kHeaderLineTooLong);
  HttpParser big(MessageType::kResponse);
  big.set_limits(HeadLimits{4096, 0, 0});
  feed_all(big, buffer);
  EXPECT_TRUE(big.message_done());
}

// ---- no-body responses (issue 8, item 4) ----

TEST(HttpParser, NoContentAndNotModifiedIgnoreTheirLength) {
  for (std::string status : {"204 No Content", "304 Not Modified"}) {
    SCOPED_TRACE(status);
    const std::string head = "HTTP/1.1 " + status + "\r\nContent-Length: 45\r\n\r\n";
    const std::string buffer = head + "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\npoison";
    HttpParser p(MessageType::kResponse);
    EXPECT_EQ(feed_all(p, buffer), head.size());
    EXPECT_TRUE(p.message_done());
    EXPECT_TRUE(p.body().empty());
  }
}

TEST(HttpParser, ResponseTransferEncodingOtherThanChunkedAloneIsRefused) {
  for (const char* te : {"gzip, chunked", "chunked, chunked", "identity", "gzip"}) {
    const std::string buffer =
        std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: ") + te + "\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
    HttpParser p(MessageType::kResponse);
    feed_all(p, buffer);
    EXPECT_TRUE(p.failed()) << te;
    EXPECT_EQ(p.error(), ParseError::kUnknownEncoding) << te;
  }
  const std::string upper =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
  HttpParser p(MessageType::kResponse);
  EXPECT_EQ(feed_all(p, upper), upper.size());
  EXPECT_EQ(body_of(p, upper), "hi");
}

TEST(HttpParser, StatusLineWithoutReason) {
  const std::string buffer = "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n";
  HttpParser p(MessageType::kResponse);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_EQ(p.status_code(), 200);
  EXPECT_EQ(p.status_text().length, 0u);
}

// ---- responses ----

TEST(HttpParser, ParsesResponseStatusAndBody) {
  const std::string buffer = "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope";
  HttpParser p(MessageType::kResponse);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  ASSERT_TRUE(p.message_done());
  EXPECT_EQ(p.status_code(), 404);
  EXPECT_EQ(p.status_text().in(buffer.data()), "Not Found");
  EXPECT_EQ(body_of(p, buffer), "nope");
  EXPECT_FALSE(p.body_until_close());
}

TEST(HttpParser, ResponseWithSpaceInHeaderNameFails) {
  const std::string buffer = "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n";
  HttpParser p(MessageType::kResponse);
  feed_all(p, buffer);
  EXPECT_TRUE(p.failed());
}

TEST(HttpParser, ResponseToHeadHasNoBody) {
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  const std::string buffer = head + "HTTP/1.1 200 OK\r\n";
  HttpParser p(MessageType::kResponse);
  p.set_no_body(true);
  EXPECT_EQ(feed_all(p, buffer), head.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_EQ(p.content_length(), 100);
  EXPECT_TRUE(p.body().empty());
  EXPECT_TRUE(p.keep_alive());
}

TEST(HttpParser, ResponseToGetWaitsForTheBody) {
  const std::string buffer = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  HttpParser p(MessageType::kResponse);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  EXPECT_TRUE(p.headers_done());
  EXPECT_FALSE(p.message_done());
  EXPECT_FALSE(p.body_until_close());
}

TEST(HttpParser, ResetClearsNoBody) {
  const std::string buffer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  HttpParser p(MessageType::kResponse);
  p.set_no_body(true);
  p.reset();
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  EXPECT_EQ(body_of(p, buffer), "ok");
}

TEST(HttpParser, NoContentResponseEndsAtHead) {
  const std::string buffer = "HTTP/1.1 204 No Content\r\n\r\n";
  HttpParser p(MessageType::kResponse);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_FALSE(p.body_until_close());
}

TEST(HttpParser, ResponseWithoutLengthLastsUntilClose) {
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";
  const std::string buffer = head + "streamed until close";
  HttpParser p(MessageType::kResponse);
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
  HttpParser p(MessageType::kResponse);
  feed_all(p, buffer);
  EXPECT_FALSE(p.body_until_close());
  EXPECT_FALSE(p.finish());
  EXPECT_TRUE(p.failed());
  EXPECT_FALSE(p.message_done());
}

TEST(HttpParser, FinishBetweenMessagesSucceeds) {
  HttpParser p(MessageType::kRequest);
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
  HttpParser p(MessageType::kRequest);
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
  HttpParser p(MessageType::kRequest);
  EXPECT_EQ(feed_all(p, buffer), head.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_TRUE(p.upgrade());
  EXPECT_FALSE(p.failed());
  EXPECT_TRUE(p.body().empty());
}

TEST(HttpParser, UpgradeHeaderWithoutConnectionUpgradeIsPlainRequest) {
  const std::string buffer = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n";
  HttpParser p(MessageType::kRequest);
  EXPECT_EQ(feed_all(p, buffer), buffer.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_FALSE(p.upgrade());
}

TEST(HttpParser, SwitchingProtocolsResponseIsUpgrade) {
  const std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";
  const std::string buffer = head + "frames";
  HttpParser p(MessageType::kResponse);
  EXPECT_EQ(feed_all(p, buffer), head.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_TRUE(p.upgrade());
}

TEST(HttpParser, ResetClearsUpgrade) {
  const std::string up =
      "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  const std::string plain = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  HttpParser p(MessageType::kRequest);
  feed_all(p, up);
  ASSERT_TRUE(p.upgrade());
  p.reset();
  EXPECT_EQ(feed_all(p, plain), plain.size());
  EXPECT_TRUE(p.message_done());
  EXPECT_FALSE(p.upgrade());
}

}  // namespace
}  // namespace tg::http
