// AWS Signature Version 4 ("AWS4-HMAC-SHA256") for the Query APIs the aws provider
// calls: the canonical request, the string to sign, the derived signing key and the
// Authorization header, each step exposed so that a test (or a fake AWS endpoint)
// can say which one differs. Header signing only; presigned URLs have no use here.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scaling/http_client.h"

namespace tg::scaling {

/// An access key pair, and the session token that temporary credentials (IMDS, STS) carry.
struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  ///< empty for long-term keys
};

/// A request as SigV4 sees it. `path` and `query` are as on the request line (the query
/// without its '?'); `headers` are the headers to sign, Host and X-Amz-Date included,
/// in any order and case; `payload` is the body.
struct SigV4Input {
  std::string method = "GET";
  std::string path = "/";
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload;
};

/// Every step's output.
struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  ///< "content-type;host;x-amz-date"
  std::string signature;       ///< lowercase hex
  std::string authorization;   ///< the Authorization header's value
};

/// Signs `input` for `region` and `service` at `amz_date` ("20150830T123600Z", the
/// request's X-Amz-Date). The path is percent-encoded once more as every service but S3
/// expects, and not normalized (no "." or ".." segments are removed); query names and
/// values are decoded and re-encoded, then sorted; header values are trimmed with inner
/// runs of spaces collapsed, and repeated names joined with commas.
SigV4Result sigv4_sign(const SigV4Input& input, const AwsCredentials& credentials,
                       std::string_view region, std::string_view service,
                       std::string_view amz_date);

/// Adds X-Amz-Date, X-Amz-Security-Token (temporary credentials only) and Authorization
/// to `request`, signing its method, URL target, body and every header it has, plus
/// Host as HttpClient sends it. `request.url` must parse (parse_http_url).
void sigv4_sign_request(HttpRequest& request, const AwsCredentials& credentials,
                        std::string_view region, std::string_view service,
                        std::chrono::system_clock::time_point now);

/// "20150830T123600Z": X-Amz-Date's basic ISO 8601 form, in UTC.
std::string amz_date(std::chrono::system_clock::time_point time);

/// The raw signing key: HMAC-SHA256 chained over "AWS4"+secret, `date` (YYYYMMDD),
/// region, service and "aws4_request".
std::string sigv4_signing_key(std::string_view secret, std::string_view date,
                              std::string_view region, std::string_view service);

/// Lowercase hex of SHA-256(`data`).
std::string sha256_hex(std::string_view data);

/// Lowercase hex of raw bytes.
std::string hex_encode(std::string_view bytes);

}  // namespace tg::scaling
