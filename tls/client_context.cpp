#include "tls/client_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <stdexcept>

#include "tls/server_context.h"

namespace tg::tls {

namespace {

[[noreturn]] void fail(const std::string& text) {
  throw std::runtime_error(text + openssl_errors());
}

int no_password(char*, int, int, void*) {
  return 0;
}

/// nginx's callback: the handshake completes whatever the certificate; the verdict
/// is read afterwards (check_server), so the log says what was wrong with it.
int keep_verdict(int, X509_STORE_CTX*) {
  return 1;
}

}  // namespace

std::shared_ptr<const ClientContext> ClientContext::build(const ClientSettings& s) {
  std::shared_ptr<ClientContext> c(new ClientContext());
  ERR_clear_error();
  c->ctx_ = SSL_CTX_new(TLS_client_method());
  if (!c->ctx_) fail("SSL_CTX_new() failed");
  SSL_CTX* ctx = c->ctx_;
  c->verify_ = s.verify;
  c->session_reuse_ = s.session_reuse;
  static std::atomic<std::uint64_t> next_id{1};
  c->id_ = next_id.fetch_add(1, std::memory_order_relaxed);
  set_common_options(ctx, s.protocols, s.session_reuse ? 0 : SSL_OP_NO_TICKET);
  if (SSL_CTX_set_cipher_list(ctx, s.ciphers.c_str()) != 1) {
    fail("SSL_CTX_set_cipher_list(\"" + s.ciphers + "\") failed");
  }
  if (!s.certificate.pem.empty()) {
    BIO* bio =
        BIO_new_mem_buf(s.certificate.pem.data(), static_cast<int>(s.certificate.pem.size()));
    X509* cert = PEM_read_bio_X509_AUX(bio, nullptr, no_password, nullptr);
    if (!cert) {
      BIO_free(bio);
      fail("cannot load certificate \"" + s.certificate.path +
           "\": PEM_read_bio_X509_AUX() failed");
    }
    const bool used = SSL_CTX_use_certificate(ctx, cert) == 1;
    X509_free(cert);
    while (used) {  // the chain after it
      X509* ca = PEM_read_bio_X509(bio, nullptr, no_password, nullptr);
      if (!ca) break;
      SSL_CTX_add0_chain_cert(ctx, ca);
    }
    BIO_free(bio);
    ERR_clear_error();
    if (!used) fail("SSL_CTX_use_certificate(\"" + s.certificate.path + "\") failed");
    BIO* kbio = BIO_new_mem_buf(s.key.pem.data(), static_cast<int>(s.key.pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(kbio, nullptr, no_password, nullptr);
    BIO_free(kbio);
    if (!key) {
      fail("cannot load certificate key \"" + s.key.path + "\": PEM_read_bio_PrivateKey() failed");
    }
    const bool key_used = SSL_CTX_use_PrivateKey(ctx, key) == 1;
    EVP_PKEY_free(key);
    if (!key_used) fail("SSL_CTX_use_PrivateKey(\"" + s.key.path + "\") failed");
  }
  if (s.verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, keep_verdict);
    SSL_CTX_set_verify_depth(ctx, s.verify_depth);
    if (s.trusted_certificate.pem.empty()) {
      // nginx: `proxy_ssl_verify on` needs proxy_ssl_trusted_certificate; the conf
      // checks that, this is the system store for completeness.
      SSL_CTX_set_default_verify_paths(ctx);
    }
  }
  if (!s.trusted_certificate.pem.empty()) {
    BIO* bio = BIO_new_mem_buf(s.trusted_certificate.pem.data(),
                               static_cast<int>(s.trusted_certificate.pem.size()));
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    int count = 0;
    while (X509* ca = PEM_read_bio_X509(bio, nullptr, no_password, nullptr)) {
      X509_STORE_add_cert(store, ca);
      X509_free(ca);
      ++count;
    }
    BIO_free(bio);
    ERR_clear_error();
    if (count == 0) {
      fail("SSL_CTX_load_verify_locations(\"" + s.trusted_certificate.path + "\") failed");
    }
  }
  if (!s.conf_commands.empty()) {
    SSL_CONF_CTX* cctx = SSL_CONF_CTX_new();
    SSL_CONF_CTX_set_flags(cctx, SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_CLIENT |
                                     SSL_CONF_FLAG_CERTIFICATE | SSL_CONF_FLAG_SHOW_ERRORS);
    SSL_CONF_CTX_set_ssl_ctx(cctx, ctx);
    for (const auto& [name, value] : s.conf_commands) {
      if (SSL_CONF_cmd(cctx, name.c_str(), value.c_str()) <= 0) {
        SSL_CONF_CTX_free(cctx);
        fail("SSL_CONF_cmd(\"" + name + "\", \"" + value + "\") failed");
      }
    }
    SSL_CONF_CTX_finish(cctx);
    SSL_CONF_CTX_free(cctx);
  }
  return c;
}

ClientContext::~ClientContext() {
  SSL_CTX_free(ctx_);
}

SSL* ClientContext::new_connection(int fd, const std::string& server_name,
                                   SSL_SESSION* session) const {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) return nullptr;
  bool ok = SSL_set_fd(ssl, fd) == 1;
  if (ok && !server_name.empty()) {
    ok = SSL_set_tlsext_host_name(ssl, server_name.c_str()) == 1;
  }
  if (ok && session && session_reuse_) ok = SSL_set_session(ssl, session) == 1;
  if (!ok) {
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_connect_state(ssl);
  return ssl;
}

std::string ClientContext::check_server(SSL* ssl, std::string_view verify_name) const {
  if (!verify_) return {};
  // The chain first, then the name (nginx's order: ngx_ssl_check_host after the
  // verification result), so a log line names the first thing wrong.
  const long rc = SSL_get_verify_result(ssl);
  if (rc != X509_V_OK) {
    return "upstream SSL certificate verify error: (" + std::to_string(rc) + ":" +
           X509_verify_cert_error_string(rc) + ")";
  }
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) return "upstream sent no required SSL certificate";
  // RFC 6125: subjectAltName DNS names (a wildcard in the leftmost label), or an IP
  // address against IP entries.
  const std::string name(verify_name);
  const bool matches = X509_check_ip_asc(cert, name.c_str(), 0) == 1 ||
                       X509_check_host(cert, name.data(), name.size(), 0, nullptr) == 1;
  ERR_clear_error();
  if (!matches) return "upstream SSL certificate does not match \"" + name + "\"";
  return {};
}

SSL_SESSION* resumable_session(SSL* ssl) {
  const SSL_SESSION* session = SSL_get0_session(ssl);
  if (!session || !SSL_SESSION_is_resumable(session)) return nullptr;
  // A copy: OpenSSL marks a connection's own session not resumable when that
  // connection ends badly, which must not spoil the one kept for the next.
  return SSL_SESSION_dup(session);
}

void free_session(SSL_SESSION* session) {
  SSL_SESSION_free(session);
}

}  // namespace tg::tls
