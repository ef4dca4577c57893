// SigV4 on OpenSSL's one-shot SHA-256 and HMAC. Canonicalization follows AWS's
// "Create a canonical request" rules and the aws-sig-v4-test-suite cases that pin them
// down (tests/scaling/aws_sigv4_test.cpp).
#include "scaling/aws_sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>
#include <stdexcept>

namespace tg::scaling {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A malformed escape stays as written: it is then encoded, as AWS does with a bare '%'.
std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

// Every byte but the unreserved ones and '/' as %XX: a path already percent-encoded on
// the request line is encoded a second time, which is what services other than S3 check.
std::string canonical_uri(std::string_view path) {
  return path.empty() ? "/" : url_encode_component(path, true);
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const std::string_view name = pair.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    params.emplace_back(url_encode_component(percent_decode(name)),
                        url_encode_component(percent_decode(value)));
  }
  // Byte order of the encoded names, then values: std::string compares as unsigned char.
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trimmed, with each inner run of spaces and tabs made one space.
std::string canonical_value(std::string_view value) {
  std::string out;
  bool space = false;
  for (const char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  // A non-null key pointer even for an empty key: null means "no key" to OpenSSL.
  static const unsigned char kNoKey = 0;
  const auto* k = key.empty() ? &kNoKey : reinterpret_cast<const unsigned char*>(key.data());
  if (HMAC(EVP_sha256(), k, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
           &size) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed in OpenSSL");
  }
  return std::string(reinterpret_cast<const char*>(out), size);
}

}  // namespace

std::string hex_encode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out += kDigits[u >> 4];
    out += kDigits[u & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), out, &size, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed in OpenSSL");
  }
  return hex_encode(std::string_view(reinterpret_cast<const char*>(out), size));
}

std::string sigv4_signing_key(std::string_view secret, std::string_view date,
                              std::string_view region, std::string_view service) {
  const std::string k_date = hmac("AWS4" + std::string(secret), date);
  const std::string k_region = hmac(k_date, region);
  const std::string k_service = hmac(k_region, service);
  return hmac(k_service, "aws4_request");
}

std::string amz_date(std::chrono::system_clock::time_point time) {
  const std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[20];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &tm);
  return text;
}

SigV4Result sigv4_sign(const SigV4Input& input, const AwsCredentials& credentials,
                       std::string_view region, std::string_view service,
                       std::string_view amz_date) {
  // Names sorted, values of a repeated name in the order they were given.
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : input.headers) {
    std::string& joined = headers[lower(name)];
    if (!joined.empty()) joined += ',';
    joined += canonical_value(value);
  }
  SigV4Result out;
  std::string canonical_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name + ":" + value + "\n";
    if (!out.signed_headers.empty()) out.signed_headers += ';';
    out.signed_headers += name;
  }
  out.canonical_request = input.method + "\n" + canonical_uri(input.path) + "\n" +
                          canonical_query(input.query) + "\n" + canonical_headers + "\n" +
                          out.signed_headers + "\n" + sha256_hex(input.payload);

  const std::string_view date = amz_date.substr(0, 8);
  const std::string scope =
      std::string(date) + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  out.string_to_sign = std::string(kAlgorithm) + "\n" + std::string(amz_date) + "\n" + scope +
                       "\n" + sha256_hex(out.canonical_request);
  out.signature = hex_encode(hmac(
      sigv4_signing_key(credentials.secret_access_key, date, region, service), out.string_to_sign));
  out.authorization = std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
                      scope + ", SignedHeaders=" + out.signed_headers +
                      ", Signature=" + out.signature;
  return out;
}

void sigv4_sign_request(HttpRequest& request, const AwsCredentials& credentials,
                        std::string_view region, std::string_view service,
                        std::chrono::system_clock::time_point now) {
  const auto url = parse_http_url(request.url);
  if (!url) throw std::invalid_argument("cannot sign \"" + request.url + "\": not an http(s) URL");
  const std::string date = amz_date(now);
  request.headers.emplace_back("X-Amz-Date", date);
  if (!credentials.session_token.empty()) {
    request.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  SigV4Input input;
  input.method = request.method;
  const auto question = url->target.find('?');
  input.path = url->target.substr(0, question);
  if (question != std::string::npos) input.query = url->target.substr(question + 1);
  input.headers = request.headers;
  input.headers.emplace_back("Host", url->authority());
  input.payload = request.body;
  request.headers.emplace_back("Authorization",
                               sigv4_sign(input, credentials, region, service, date).authorization);
}

}  // namespace tg::scaling
