#include "tests/support/test_certs.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>

namespace tg::test {

namespace {

struct Free {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test_certs: ") + what + " failed");
}

Owned<EVP_PKEY> new_key(KeyType type) {
  Owned<EVP_PKEY> key(type == KeyType::kEcP256 ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048));
  check(key != nullptr, "key generation");
  return key;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

std::string key_pem(EVP_PKEY* key) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  return bio_text(bio.get());
}

std::string cert_pem(X509* cert) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_X509(bio.get(), cert) == 1, "PEM_write_bio_X509");
  return bio_text(bio.get());
}

Owned<X509> parse_cert(const std::string& pem) {
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Owned<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  check(cert != nullptr, "PEM_read_bio_X509 (CA certificate)");
  return cert;
}

Owned<EVP_PKEY> parse_key(const std::string& pem) {
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Owned<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  check(key != nullptr, "PEM_read_bio_PrivateKey (CA key)");
  return key;
}

void add_name_entry(X509_NAME* name, const char* field, std::string_view value) {
  check(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) == 1,
        "X509_NAME_add_entry_by_txt");
}

/// `subject`'s extension `nid` = `value` (openssl.cnf syntax), with `issuer` for
/// the authority key identifier.
void add_extension(X509* subject, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, subject, nullptr, nullptr, 0);
  Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  check(X509_add_ext(subject, ext.get(), -1) == 1, "X509_add_ext");
}

/// A v3 certificate for `key` with subject O=`org`,CN=`cn`, fixed serial and dates,
/// the extensions still to add and not yet signed.
Owned<X509> new_cert(EVP_PKEY* key, std::string_view cn, std::string_view org, long serial) {
  Owned<X509> cert(X509_new());
  check(cert != nullptr, "X509_new");
  check(X509_set_version(cert.get(), X509_VERSION_3) == 1, "X509_set_version");
  check(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial) == 1, "ASN1_INTEGER_set");
  check(ASN1_TIME_set_string_X509(X509_getm_notBefore(cert.get()), "20240101000000Z") == 1,
        "notBefore");
  check(ASN1_TIME_set_string_X509(X509_getm_notAfter(cert.get()), "20991231235959Z") == 1,
        "notAfter");
  X509_NAME* name = X509_get_subject_name(cert.get());
  // Added in this order, RFC 2253 (most specific first) prints "CN=...,O=...".
  add_name_entry(name, "O", org);
  add_name_entry(name, "CN", cn);
  check(X509_set_pubkey(cert.get(), key) == 1, "X509_set_pubkey");
  return cert;
}

}  // namespace

CertPair make_ca(std::string_view cn, KeyType type, long serial) {
  auto key = new_key(type);
  auto cert = new_cert(key.get(), cn, "Tidegate Tests", serial);
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) == 1,
        "X509_set_issuer_name");
  add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "X509_sign");
  return {cert_pem(cert.get()), key_pem(key.get())};
}

CertPair make_leaf(const CertPair& ca, std::string_view cn, std::string_view org,
                   std::string_view dns_name, KeyType type, long serial) {
  auto ca_cert = parse_cert(ca.cert_pem);
  auto ca_key = parse_key(ca.key_pem);
  auto key = new_key(type);
  auto cert = new_cert(key.get(), cn, org, serial);
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) == 1,
        "X509_set_issuer_name");
  add_extension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), ca_cert.get(), NID_key_usage,
                type == KeyType::kRsa2048 ? "critical,digitalSignature,keyEncipherment"
                                          : "critical,digitalSignature");
  add_extension(cert.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth,clientAuth");
  add_extension(cert.get(), ca_cert.get(), NID_subject_key_identifier, "hash");
  add_extension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid");
  if (!dns_name.empty()) {
    add_extension(cert.get(), ca_cert.get(), NID_subject_alt_name, "DNS:" + std::string(dns_name));
  }
  check(X509_sign(cert.get(), ca_key.get(), EVP_sha256()) > 0, "X509_sign");
  return {cert_pem(cert.get()), key_pem(key.get())};
}

std::string make_key_pem(KeyType type) {
  auto key = new_key(type);
  return key_pem(key.get());
}

}  // namespace tg::test
