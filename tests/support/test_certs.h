// Test certificates made in memory with OpenSSL's API (no files, no `openssl` CLI):
// a self-signed CA and leaf certificates it signs, as PEM text.
//
//   auto ca = tg::test::make_ca("Test CA");
//   auto leaf = tg::test::make_leaf(ca, "a.test", "Tidegate Tests", "a.test");
//   settings.certificates = {{"/certs/a.pem", leaf.cert_pem}};
//   settings.keys = {{"/certs/a.key", leaf.key_pem}};
//
// Serial numbers and validity dates are fixed, so the certificates differ from
// run to run only in their keys (and so their signatures).
#pragma once

#include <string>
#include <string_view>

namespace tg::test {

enum class KeyType { kEcP256, kRsa2048 };

/// A certificate and its private key (PKCS#8), both PEM.
struct CertPair {
  std::string cert_pem;
  std::string key_pem;
};

/// A self-signed CA certificate (basicConstraints critical CA:TRUE) with subject
/// "CN=<cn>,O=Tidegate Tests".
CertPair make_ca(std::string_view cn, KeyType type = KeyType::kEcP256, long serial = 1);

/// A certificate signed by `ca` with subject O=`org`, CN=`cn` (RFC 2253 prints it
/// "CN=<cn>,O=<org>"), subjectAltName DNS:`dns_name` (none when empty), usable for
/// both server and client authentication.
CertPair make_leaf(const CertPair& ca, std::string_view cn, std::string_view org,
                   std::string_view dns_name, KeyType type = KeyType::kEcP256, long serial = 2);

/// A new private key alone, PEM (PKCS#8): e.g. a key that matches no certificate.
std::string make_key_pem(KeyType type = KeyType::kEcP256);

}  // namespace tg::test
