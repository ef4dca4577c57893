#include "tls/server_context.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <strings.h>

#include <cstring>
#include <stdexcept>
#include <vector>

namespace tg::tls {

namespace {

int context_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int chooser_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

/// The context a connection began with: OpenSSL keeps its session cache and ticket
/// callback for the whole connection, whatever SNI switched to.
int initial_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

struct Free {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(SSL_CONF_CTX* p) const { SSL_CONF_CTX_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

Owned<BIO> memory_bio(const std::string& text) {
  return Owned<BIO>(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

[[noreturn]] void fail(const std::string& text) {
  throw std::runtime_error(text + openssl_errors());
}

/// An encrypted key is an error at load, never a prompt on the terminal.
int no_password(char*, int, int, void*) {
  return 0;
}

/// True when the last PEM read stopped at the end of the text (no more blocks),
/// not at a broken one; clears that error.
bool pem_at_end() {
  const unsigned long e = ERR_peek_last_error();
  if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
    return true;
  }
  return false;
}

/// Every certificate in `source` (at least one): a server certificate and its chain
/// (nginx's messages for those), or a file of CAs (`cas`).
std::vector<Owned<X509>> read_certificates(const PemSource& source, bool cas) {
  std::vector<Owned<X509>> out;
  auto bio = memory_bio(source.pem);
  for (;;) {
    // The server's own certificate may carry trust settings (nginx reads it so).
    Owned<X509> cert(out.empty() && !cas
                         ? PEM_read_bio_X509_AUX(bio.get(), nullptr, no_password, nullptr)
                         : PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr));
    if (!cert) {
      if (!out.empty() && pem_at_end()) break;
      if (cas) fail("SSL_CTX_load_verify_locations(\"" + source.path + "\") failed");
      fail("cannot load certificate \"" + source.path + "\": " +
           (out.empty() ? "PEM_read_bio_X509_AUX() failed" : "PEM_read_bio_X509() failed"));
    }
    out.push_back(std::move(cert));
  }
  return out;
}

/// One ssl_certificate / ssl_certificate_key pair: the certificate, the chain after
/// it in the same file, and the key. OpenSSL keeps one certificate per key type, so
/// an RSA and an ECDSA pair live side by side and the client's ciphers pick.
void use_pair(SSL_CTX* ctx, const PemSource& certificate, const PemSource& key_source) {
  auto certs = read_certificates(certificate, false);
  if (SSL_CTX_use_certificate(ctx, certs.front().get()) != 1) {
    fail("SSL_CTX_use_certificate(\"" + certificate.path + "\") failed");
  }
  for (size_t i = 1; i < certs.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, certs[i].get()) != 1) {
      fail("SSL_CTX_add1_chain_cert(\"" + certificate.path + "\") failed");
    }
  }
  auto bio = memory_bio(key_source.pem);
  Owned<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
  if (!key) {
    fail("cannot load certificate key \"" + key_source.path +
         "\": PEM_read_bio_PrivateKey() failed");
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
    fail("SSL_CTX_use_PrivateKey(\"" + key_source.path + "\") failed");
  }
}

/// nginx's verify callback: the handshake never fails for the client's certificate;
/// each request checks the verdict (check_client_certificate), so the client gets an
/// HTTP answer (400) instead of a bare alert.
int keep_verdict(int, X509_STORE_CTX*) {
  return 1;
}

int select_servername(SSL* ssl, int* alert, void*) {
  const auto* chooser = static_cast<const SniChooser*>(SSL_get_ex_data(ssl, chooser_index()));
  const ServerContext* current = ServerContext::of(ssl);
  if (!current) return SSL_TLSEXT_ERR_OK;
  std::string name;
  if (const char* raw = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) {
    name = raw;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name.ends_with('.')) name.pop_back();
  }
  const ServerContext* chosen = chooser ? chooser->choose_tls(name) : nullptr;
  if (!chosen) chosen = current;
  if (chosen->reject_handshake()) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  // A session is looked up before this callback, with the first server's cache and
  // ticket keys: one made for another name must not resume into a server that
  // verifies clients, or a certificate that server does not trust would pass
  // (nginx's fix for CVE-2025-23419).
  if (chosen->verify_client() != VerifyClient::kOff) {
    const SSL_SESSION* session = SSL_get0_session(ssl);
    const char* made_for = session ? SSL_SESSION_get0_hostname(session) : nullptr;
    // A resumed session made without SNI counts as made for no name (a new session
    // has no name yet either, and is not checked).
    const bool resumed = SSL_session_reused(ssl) == 1;
    if ((made_for && ::strcasecmp(name.c_str(), made_for) != 0) ||
        (!made_for && resumed && !name.empty())) {
      *alert = SSL_AD_ACCESS_DENIED;
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
  }
  SSL_CTX* ctx = chosen->native();
  if (ctx != SSL_get_SSL_CTX(ssl)) {
    // SSL_set_SSL_CTX swaps the certificates; the verification settings and options
    // of the chosen server come along by hand (as nginx does).
    SSL_set_SSL_CTX(ssl, ctx);
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), SSL_CTX_get_verify_callback(ctx));
    SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(ctx));
    SSL_clear_options(ssl, SSL_get_options(ssl) & ~SSL_CTX_get_options(ctx));
    SSL_set_options(ssl, SSL_CTX_get_options(ctx));
  }
  return SSL_TLSEXT_ERR_OK;
}

/// ALPN: HTTP/1.1 when the client offers it; no protocol otherwise (the client
/// then speaks HTTP/1.x by default).
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  static const unsigned char kOffer[] = "\x08http/1.1";
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, kOffer, sizeof kOffer - 1, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol, as nginx >= 1.21.4
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

void add_hex(std::string& out, const unsigned char* p, size_t n, const char* digits) {
  for (size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

}  // namespace

/// A `ssl_session_ticket_key` file's key (nginx's layout: 48 bytes are name,
/// AES-128 key, HMAC key; 80 bytes are name, HMAC key, AES-256 key).
struct ServerContext::TicketKey {
  unsigned char name[16];
  unsigned char aes[32];
  unsigned char hmac[32];
  size_t size;  ///< 16 or 32
};

std::string openssl_errors() {
  std::string out;
  const char* data = nullptr;
  int flags = 0;
  while (unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += out.empty() ? " (SSL: " : " ";
    out += buf;
    if ((flags & ERR_TXT_STRING) && data && *data) {
      out += ':';
      out += data;
    }
  }
  if (!out.empty()) out += ')';
  return out;
}

void set_common_options(SSL_CTX* ctx, unsigned protocols, uint64_t extra_options) {
  SSL_CTX_set_min_proto_version(ctx, 0);
  SSL_CTX_set_max_proto_version(ctx, 0);
  uint64_t options = extra_options | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                     SSL_OP_IGNORE_UNEXPECTED_EOF;
  const std::pair<unsigned, uint64_t> versions[] = {
      {kSslV3, SSL_OP_NO_SSLv3},     {kTlsV1, SSL_OP_NO_TLSv1},     {kTlsV1_1, SSL_OP_NO_TLSv1_1},
      {kTlsV1_2, SSL_OP_NO_TLSv1_2}, {kTlsV1_3, SSL_OP_NO_TLSv1_3},
  };
  for (const auto& [bit, option] : versions) {
    if (!(protocols & bit)) options |= option;
  }
  SSL_CTX_set_options(ctx, options);
  // Idle connections give their read/write buffers back (~34 KB each).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

std::shared_ptr<const ServerContext> ServerContext::build(const ServerSettings& s) {
  std::shared_ptr<ServerContext> c(new ServerContext());
  ERR_clear_error();
  c->ctx_ = SSL_CTX_new(TLS_server_method());
  if (!c->ctx_) fail("SSL_CTX_new() failed");
  SSL_CTX* ctx = c->ctx_;
  SSL_CTX_set_ex_data(ctx, context_index(), c.get());
  c->verify_ = s.verify_client;
  c->reject_ = s.reject_handshake;

  uint64_t options = 0;
  if (s.prefer_server_ciphers) options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
  if (!s.session_tickets) options |= SSL_OP_NO_TICKET;
  set_common_options(ctx, s.protocols, options);
  // The chain sent is the configured one, never one built from the
  // client-verification store.
  SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);

  for (size_t i = 0; i < s.certificates.size() && i < s.keys.size(); ++i) {
    use_pair(ctx, s.certificates[i], s.keys[i]);
  }

  if (SSL_CTX_set_cipher_list(ctx, s.ciphers.c_str()) != 1) {
    fail("SSL_CTX_set_cipher_list(\"" + s.ciphers + "\") failed");
  }
  if (s.ecdh_curve != "auto" && SSL_CTX_set1_curves_list(ctx, s.ecdh_curve.c_str()) != 1) {
    fail("SSL_CTX_set1_curves_list(\"" + s.ecdh_curve + "\") failed");
  }
  if (!s.dhparam.pem.empty()) {
    auto bio = memory_bio(s.dhparam.pem);
    EVP_PKEY* dh = PEM_read_bio_Parameters(bio.get(), nullptr);
    if (!dh) fail("PEM_read_bio_Parameters(\"" + s.dhparam.path + "\") failed");
    if (SSL_CTX_set0_tmp_dh_pkey(ctx, dh) != 1) {
      EVP_PKEY_free(dh);
      fail("SSL_CTX_set0_tmp_dh_pkey(\"" + s.dhparam.path + "\") failed");
    }
  }

  // Client certificates: the CAs trusted (and those named to the client).
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  if (!s.client_certificate.pem.empty()) {
    for (const auto& ca : read_certificates(s.client_certificate, true)) {
      X509_STORE_add_cert(store, ca.get());
      SSL_CTX_add_client_CA(ctx, ca.get());
    }
  }
  if (!s.trusted_certificate.pem.empty()) {
    for (const auto& ca : read_certificates(s.trusted_certificate, true)) {
      X509_STORE_add_cert(store, ca.get());
    }
  }
  if (s.verify_client != VerifyClient::kOff) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, keep_verdict);
    SSL_CTX_set_verify_depth(ctx, s.verify_depth);
  }

  // Sessions. The context's cache is one per process, so every worker thread
  // resumes what another one started (nginx's "shared" zone).
  if (s.session_cache == ServerSettings::SessionCache::kCache) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, static_cast<long>(s.session_cache_entries));
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (!s.session_tickets) SSL_CTX_set_num_tickets(ctx, 0);  // nothing could resume
  }
  SSL_CTX_set_timeout(ctx, static_cast<long>(s.session_timeout.count()));
  {
    // A session resumes only with the server it was made with: its identity is the
    // digest of the certificates and of what clients are verified against.
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    std::string identity;
    for (const auto& cert : s.certificates) identity += cert.pem;
    identity += s.client_certificate.pem;
    identity += static_cast<char>(s.verify_client);
    EVP_Digest(identity.data(), identity.size(), digest, &len, EVP_sha256(), nullptr);
    SSL_CTX_set_session_id_context(ctx, digest, std::min<unsigned>(len, SSL_MAX_SID_CTX_LENGTH));
  }
  if (s.session_tickets && !s.ticket_keys.empty()) {
    c->ticket_keys_ = std::make_unique<TicketKey[]>(s.ticket_keys.size());
    for (const auto& file : s.ticket_keys) {
      const std::string& b = file.pem;
      TicketKey& k = c->ticket_keys_[c->ticket_key_count_++];
      std::memcpy(k.name, b.data(), 16);
      if (b.size() == 48) {
        k.size = 16;
        std::memcpy(k.aes, b.data() + 16, 16);
        std::memcpy(k.hmac, b.data() + 32, 16);
      } else {
        k.size = 32;
        std::memcpy(k.hmac, b.data() + 16, 32);
        std::memcpy(k.aes, b.data() + 48, 32);
      }
    }
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &ServerContext::ticket_key_callback);
  }

  if (!s.conf_commands.empty()) {
    Owned<SSL_CONF_CTX> cctx(SSL_CONF_CTX_new());
    SSL_CONF_CTX_set_flags(cctx.get(), SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_SERVER |
                                           SSL_CONF_FLAG_CERTIFICATE | SSL_CONF_FLAG_SHOW_ERRORS);
    SSL_CONF_CTX_set_ssl_ctx(cctx.get(), ctx);
    for (const auto& [name, value] : s.conf_commands) {
      if (SSL_CONF_cmd(cctx.get(), name.c_str(), value.c_str()) <= 0) {
        fail("SSL_CONF_cmd(\"" + name + "\", \"" + value + "\") failed");
      }
    }
    if (SSL_CONF_CTX_finish(cctx.get()) != 1) fail("SSL_CONF_finish() failed");
  }

  SSL_CTX_set_tlsext_servername_callback(ctx, select_servername);
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
  return c;
}

ServerContext::~ServerContext() {
  SSL_CTX_free(ctx_);
  if (ticket_keys_) OPENSSL_cleanse(ticket_keys_.get(), sizeof(TicketKey) * ticket_key_count_);
}

int ServerContext::ticket_key_callback(SSL* ssl, unsigned char* name, unsigned char* iv,
                                       EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc) {
  // Tickets are made and opened by the context the handshake began with.
  const auto* self = static_cast<const ServerContext*>(SSL_get_ex_data(ssl, initial_index()));
  if (!self || self->ticket_key_count_ == 0) return -1;
  const TicketKey* key = nullptr;
  bool first = true;
  if (enc == 1) {
    key = &self->ticket_keys_[0];
    if (RAND_bytes(iv, 16) != 1) return -1;
    std::memcpy(name, key->name, 16);
  } else {
    for (size_t i = 0; i < self->ticket_key_count_ && !key; ++i) {
      if (std::memcmp(name, self->ticket_keys_[i].name, 16) == 0) {
        key = &self->ticket_keys_[i];
        first = i == 0;
      }
    }
    if (!key) return 0;  // unknown key: a full handshake
  }
  const EVP_CIPHER* aes = key->size == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(mac, key->hmac, key->size, params) != 1) return -1;
  if (enc == 1) return EVP_EncryptInit_ex(cipher, aes, nullptr, key->aes, iv) == 1 ? 1 : -1;
  if (EVP_DecryptInit_ex(cipher, aes, nullptr, key->aes, iv) != 1) return -1;
  // 2: renew the ticket (an older key, or TLS 1.3 where tickets are single-use).
  return !first || SSL_version(ssl) == TLS1_3_VERSION ? 2 : 1;
}

SSL* ServerContext::new_connection(int fd, const SniChooser* chooser) const {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) return nullptr;
  if (SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_ex_data(ssl, chooser_index(), const_cast<SniChooser*>(chooser));
  SSL_set_ex_data(ssl, initial_index(), const_cast<ServerContext*>(this));
  SSL_set_accept_state(ssl);
  return ssl;
}

const ServerContext* ServerContext::of(const SSL* ssl) {
  return static_cast<const ServerContext*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), context_index()));
}

namespace {

/// nginx's ngx_ssl_verify_error_optional: the errors `optional_no_ca` forgives.
bool missing_ca(long error) {
  return error == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
         error == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
         error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
         error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
         error == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

Owned<X509> peer_certificate(const SSL* ssl) {
  return Owned<X509>(SSL_get1_peer_certificate(ssl));
}

}  // namespace

int check_client_certificate(const SSL* ssl, std::string& reason) {
  const ServerContext* c = ServerContext::of(ssl);
  return c ? check_client_certificate(ssl, c->verify_client(), reason) : 0;
}

int check_client_certificate(const SSL* ssl, VerifyClient mode, std::string& reason) {
  if (mode == VerifyClient::kOff) return 0;
  const long rc = SSL_get_verify_result(ssl);
  if (rc != X509_V_OK && !(mode == VerifyClient::kOptionalNoCa && missing_ca(rc))) {
    reason = "client SSL certificate verify error: (" + std::to_string(rc) + ":" +
             X509_verify_cert_error_string(rc) + ")";
    return 495;
  }
  if (mode == VerifyClient::kOn && !peer_certificate(ssl)) {
    reason = "client sent no required SSL certificate";
    return 496;
  }
  return 0;
}

bool is_connection_variable(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "protocol",       "cipher",       "server_name",   "session_reused", "session_id",
      "client_verify",  "client_s_dn",  "client_i_dn",   "client_serial",  "client_fingerprint",
      "client_v_start", "client_v_end", "alpn_protocol", "curve"};
  for (auto n : kNames) {
    if (n == name) return true;
  }
  return false;
}

bool connection_variable(const SSL* ssl, std::string_view name, std::string& out) {
  if (!ssl) return false;
  if (name == "protocol") {
    out += SSL_get_version(ssl);
    return true;
  }
  if (name == "cipher") {
    const char* c = SSL_get_cipher_name(ssl);
    if (!c) return false;
    out += c;
    return true;
  }
  if (name == "server_name") {
    const char* n = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!n) return false;
    out += n;
    return true;
  }
  if (name == "session_reused") {
    out += SSL_session_reused(const_cast<SSL*>(ssl)) ? "r" : ".";
    return true;
  }
  if (name == "session_id") {
    const SSL_SESSION* session = SSL_get_session(ssl);
    if (!session) return false;
    unsigned int len = 0;
    const unsigned char* id = SSL_SESSION_get_id(session, &len);
    add_hex(out, id, len, "0123456789abcdef");
    return true;
  }
  if (name == "alpn_protocol") {
    const unsigned char* p = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl, &p, &len);
    if (!len) return false;
    out.append(reinterpret_cast<const char*>(p), len);
    return true;
  }
  if (name == "curve") {
    const int nid = SSL_get_negotiated_group(const_cast<SSL*>(ssl));
    if (nid <= 0) return false;
    const char* sn = OBJ_nid2sn(nid & ~TLSEXT_nid_unknown);
    if (!sn) return false;
    out += sn;
    return true;
  }
  auto cert = peer_certificate(ssl);
  if (name == "client_verify") {
    if (!cert) {
      out += "NONE";
      return true;
    }
    const long rc = SSL_get_verify_result(ssl);
    if (rc == X509_V_OK) {
      out += "SUCCESS";
    } else {
      out += "FAILED:";
      out += X509_verify_cert_error_string(rc);
    }
    return true;
  }
  if (!cert) return false;
  if (name == "client_fingerprint") {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_digest(cert.get(), EVP_sha1(), md, &len) != 1) return false;
    add_hex(out, md, len, "0123456789abcdef");
    return true;
  }
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (name == "client_s_dn" || name == "client_i_dn") {
    X509_NAME* dn = name == "client_s_dn" ? X509_get_subject_name(cert.get())
                                          : X509_get_issuer_name(cert.get());
    if (X509_NAME_print_ex(bio.get(), dn, 0, XN_FLAG_RFC2253) < 0) return false;
  } else if (name == "client_serial") {
    if (i2a_ASN1_INTEGER(bio.get(), X509_get0_serialNumber(cert.get())) < 0) return false;
  } else if (name == "client_v_start" || name == "client_v_end") {
    const ASN1_TIME* t =
        name == "client_v_start" ? X509_get0_notBefore(cert.get()) : X509_get0_notAfter(cert.get());
    if (ASN1_TIME_print(bio.get(), t) != 1) return false;
  } else {
    return false;
  }
  out += bio_text(bio.get());
  return true;
}

}  // namespace tg::tls
