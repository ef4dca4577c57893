// SigV4 against AWS's published vectors: cases of the aws-sig-v4-test-suite
// (credentials AKIDEXAMPLE, region us-east-1, service "service", 20150830T123600Z; the
// session-token case from the suite as awslabs/aws-c-auth ships it) and the IAM
// ListUsers worked example of AWS's "Signature Version 4 signing process" pages. Each
// case checks the canonical request or its hash, the string to sign and the signature,
// so a failure names the step that is wrong.
#include "scaling/aws_sigv4.h"

#include <gtest/gtest.h>

namespace tg::scaling {
namespace {

const AwsCredentials kSuite{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
constexpr const char* kDate = "20150830T123600Z";
constexpr const char* kEmptyHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kScope = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";

SigV4Input suite_request(std::string method, std::string path, std::string query = "") {
  SigV4Input in;
  in.method = std::move(method);
  in.path = std::move(path);
  in.query = std::move(query);
  in.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", kDate}};
  return in;
}

std::string sts(const std::string& hash) {
  return std::string("AWS4-HMAC-SHA256\n") + kDate + "\n20150830/us-east-1/service/aws4_request\n" +
         hash;
}

std::string authz(const std::string& signed_headers, const std::string& signature) {
  return std::string("AWS4-HMAC-SHA256 Credential=") + kScope +
         ", SignedHeaders=" + signed_headers + ", Signature=" + signature;
}

TEST(SigV4, SuiteGetVanilla) {
  const auto r = sigv4_sign(suite_request("GET", "/"), kSuite, "us-east-1", "service", kDate);
  EXPECT_EQ(r.canonical_request,
            std::string("GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                        "host;x-amz-date\n") +
                kEmptyHash);
  EXPECT_EQ(r.string_to_sign,
            sts("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"));
  EXPECT_EQ(
      r.authorization,
      authz("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
}

TEST(SigV4, SuiteGetVanillaQueryOrderKeyCaseSortsTheQuery) {
  const auto r = sigv4_sign(suite_request("GET", "/", "Param2=value2&Param1=value1"), kSuite,
                            "us-east-1", "service", kDate);
  EXPECT_EQ(r.canonical_request,
            std::string("GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
                        "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n") +
                kEmptyHash);
  EXPECT_EQ(r.string_to_sign,
            sts("816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"));
  EXPECT_EQ(r.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4, SuitePostXWwwFormUrlencodedHashesTheBody) {
  auto in = suite_request("POST", "/");
  in.headers.insert(in.headers.begin(), {"Content-Type", "application/x-www-form-urlencoded"});
  in.payload = "Param1=value1";
  const auto r = sigv4_sign(in, kSuite, "us-east-1", "service", kDate);
  EXPECT_EQ(r.canonical_request,
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n"
            "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "content-type;host;x-amz-date\n"
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  EXPECT_EQ(r.string_to_sign,
            sts("42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"));
  EXPECT_EQ(r.authorization,
            authz("content-type;host;x-amz-date",
                  "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"));
}

TEST(SigV4, SuiteGetHeaderValueTrimTrimsAndCollapsesSpaces) {
  auto in = suite_request("GET", "/");
  in.headers.emplace_back("My-Header1", " value1");
  in.headers.emplace_back("My-Header2", " \"a   b   c\"");
  const auto r = sigv4_sign(in, kSuite, "us-east-1", "service", kDate);
  EXPECT_EQ(r.canonical_request,
            std::string("GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\n"
                        "my-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\n"
                        "host;my-header1;my-header2;x-amz-date\n") +
                kEmptyHash);
  EXPECT_EQ(r.string_to_sign,
            sts("a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7"));
  EXPECT_EQ(r.signature, "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
}

TEST(SigV4, SuiteGetHeaderValueOrderJoinsRepeatedHeadersInOrder) {
  auto in = suite_request("GET", "/");
  for (const char* v : {"value4", "value1", "value3", "value2"}) {
    in.headers.emplace_back("My-Header1", v);
  }
  const auto r = sigv4_sign(in, kSuite, "us-east-1", "service", kDate);
  EXPECT_NE(r.canonical_request.find("\nmy-header1:value4,value1,value3,value2\n"),
            std::string::npos)
      << r.canonical_request;
  EXPECT_EQ(r.signature, "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01");
}

TEST(SigV4, SuiteGetUtf8AndGetSpaceEncodeThePath) {
  const auto utf8 =
      sigv4_sign(suite_request("GET", "/\xE1\x88\xB4"), kSuite, "us-east-1", "service", kDate);
  EXPECT_EQ(utf8.canonical_request.substr(0, 15), "GET\n/%E1%88%B4\n");
  EXPECT_EQ(utf8.string_to_sign,
            sts("2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102"));
  const auto space =
      sigv4_sign(suite_request("GET", "/example space/"), kSuite, "us-east-1", "service", kDate);
  EXPECT_EQ(space.canonical_request.substr(0, 22), "GET\n/example%20space/\n");
  EXPECT_EQ(space.signature, "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741");
}

TEST(SigV4, SuitePostVanillaQuery) {
  const auto r = sigv4_sign(suite_request("POST", "/", "Param1=value1"), kSuite, "us-east-1",
                            "service", kDate);
  EXPECT_EQ(r.signature, "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11");
}

TEST(SigV4, SessionTokenIsAddedAndSignedAsXAmzSecurityToken) {
  // get-vanilla-with-session-token, through the HttpRequest helper: the token and the
  // date become headers and Host comes from the URL.
  AwsCredentials temporary = kSuite;
  temporary.session_token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
  HttpRequest request;
  request.url = "https://example.amazonaws.com/";
  const auto at = std::chrono::system_clock::from_time_t(1440938160);  // 2015-08-30T12:36:00Z
  sigv4_sign_request(request, temporary, "us-east-1", "service", at);
  ASSERT_EQ(request.headers.size(), 3u);
  EXPECT_EQ(request.headers[0], (std::pair<std::string, std::string>{"X-Amz-Date", kDate}));
  EXPECT_EQ(request.headers[1].first, "X-Amz-Security-Token");
  EXPECT_EQ(request.headers[1].second, temporary.session_token);
  EXPECT_EQ(request.headers[2].first, "Authorization");
  EXPECT_EQ(request.headers[2].second,
            authz("host;x-amz-date;x-amz-security-token",
                  "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"));
}

TEST(SigV4, IamListUsersWorkedExampleFromTheAwsDocumentation) {
  SigV4Input in;
  in.method = "GET";
  in.query = "Action=ListUsers&Version=2010-05-08";
  in.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                {"Host", "iam.amazonaws.com"},
                {"X-Amz-Date", kDate}};
  const auto r = sigv4_sign(in, kSuite, "us-east-1", "iam", kDate);
  EXPECT_EQ(r.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n"
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  EXPECT_EQ(hex_encode(sigv4_signing_key(kSuite.secret_access_key, "20150830", "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
  EXPECT_EQ(r.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, "
            "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

TEST(SigV4, QueryValuesAreReencodedWithUppercaseHexAndSortedByByte) {
  const auto r = sigv4_sign(suite_request("GET", "/", "b=%7e%2f&B=a b&a=&c"), kSuite, "us-east-1",
                            "service", kDate);
  EXPECT_EQ(r.canonical_request.substr(0, 32), "GET\n/\nB=a%20b&a=&b=~%2F&c=\nhost:");
}

TEST(SigV4, PercentInThePathIsEncodedAgainAsNonS3ServicesExpect) {
  const auto r = sigv4_sign(suite_request("GET", "/a%20b"), kSuite, "us-east-1", "service", kDate);
  EXPECT_EQ(r.canonical_request.substr(0, 14), "GET\n/a%2520b\n\n");
}

TEST(SigV4, AmzDateIsBasicIso8601InUtc) {
  EXPECT_EQ(amz_date(std::chrono::system_clock::from_time_t(1440938160)), "20150830T123600Z");
  EXPECT_EQ(amz_date(std::chrono::system_clock::from_time_t(0)), "19700101T000000Z");
}

}  // namespace
}  // namespace tg::scaling
