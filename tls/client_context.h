// TLS to upstream servers (nginx's proxy_ssl_* directives): the client context
// a location's `proxy_pass https://...` connects with, and the verdict on the
// server's certificate after a handshake.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tls/settings.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_session_st SSL_SESSION;

namespace tg::tls {

struct ClientSettings {
  unsigned protocols = kTlsV1_2 | kTlsV1_3;  ///< proxy_ssl_protocols (nginx >= 1.23.4)
  std::string ciphers = "DEFAULT";           ///< proxy_ssl_ciphers
  bool verify = false;                       ///< proxy_ssl_verify
  int verify_depth = 1;                      ///< proxy_ssl_verify_depth
  PemSource trusted_certificate;             ///< proxy_ssl_trusted_certificate
  PemSource certificate;                     ///< proxy_ssl_certificate (mTLS to the upstream)
  PemSource key;                             ///< proxy_ssl_certificate_key
  bool session_reuse = true;                 ///< proxy_ssl_session_reuse
  std::vector<std::pair<std::string, std::string>> conf_commands;  ///< proxy_ssl_conf_command
};

class ClientContext {
 public:
  /// Throws std::runtime_error with nginx's text (as ServerContext::build).
  static std::shared_ptr<const ClientContext> build(const ClientSettings& settings);
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  bool session_reuse() const { return session_reuse_; }
  /// Names this context for the life of the process (never reused, unlike an
  /// address): upstream connections and sessions are kept per context.
  std::uint64_t id() const { return id_; }

  /// A client connection on socket `fd`: SNI `server_name` (none when empty),
  /// resuming `session` when given. Null on failure.
  SSL* new_connection(int fd, const std::string& server_name, SSL_SESSION* session) const;
  /// After a handshake: empty when the server's certificate is acceptable for
  /// `verify_name` (or not checked), else nginx's words: `upstream SSL certificate verify error:
  /// (N:text)` or `upstream SSL certificate does not match "name"`.
  std::string check_server(SSL* ssl, std::string_view verify_name) const;

 private:
  ClientContext() = default;
  SSL_CTX* ctx_ = nullptr;
  bool verify_ = false;
  bool session_reuse_ = true;
  std::uint64_t id_ = 0;
};

/// A resumable session to keep for the next connection to the same server: a
/// new reference, or null when the connection has none worth keeping.
SSL_SESSION* resumable_session(SSL* ssl);
void free_session(SSL_SESSION* session);

}  // namespace tg::tls
