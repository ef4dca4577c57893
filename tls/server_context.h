// A server's TLS context (OpenSSL's SSL_CTX) built from nginx's ssl_* settings,
// and what a client connection asks of it: SNI's choice of server, the client
// certificate's verdict, the $ssl_* variables.
//
// Built when the conf is loaded (so `-t` and a reload fail on a bad certificate
// with nginx's message), shared by every worker thread (OpenSSL locks the
// session cache), pinned by the connections that use it: a reload's new
// certificates serve new handshakes while open connections keep theirs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tls/settings.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
typedef struct evp_mac_ctx_st EVP_MAC_CTX;

namespace tg::tls {

class ServerContext;

/// Chooses the server (and so the certificate) for the name a client sent in SNI:
/// the servers of one listen address, by nginx's server_name rules.
class SniChooser {
 public:
  /// `name`: the SNI name in lower case, empty when the client sent none. Null: keep
  /// the context the handshake started with (the default server's).
  virtual const ServerContext* choose_tls(std::string_view name) const = 0;

 protected:
  ~SniChooser() = default;
};

class ServerContext {
 public:
  /// Throws std::runtime_error with nginx's text (without "[emerg]"), e.g.
  /// `cannot load certificate "/etc/x.pem": PEM_read_bio_X509_AUX() failed (SSL: ...)`.
  static std::shared_ptr<const ServerContext> build(const ServerSettings& settings);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  SSL_CTX* native() const { return ctx_; }
  VerifyClient verify_client() const { return verify_; }
  bool reject_handshake() const { return reject_; }

  /// A server-side connection on socket `fd` using this context; `chooser` (kept by
  /// the caller for the connection's life) picks the context by SNI. Null on failure.
  SSL* new_connection(int fd, const SniChooser* chooser) const;
  /// The context the connection's handshake settled on (after SNI).
  static const ServerContext* of(const SSL* ssl);

 private:
  ServerContext() = default;
  struct TicketKey;
  SSL_CTX* ctx_ = nullptr;
  VerifyClient verify_ = VerifyClient::kOff;
  bool reject_ = false;
  std::unique_ptr<TicketKey[]> ticket_keys_;
  size_t ticket_key_count_ = 0;
  static int ticket_key_callback(SSL* ssl, unsigned char* name, unsigned char* iv,
                                 EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc);
};

/// The text of OpenSSL's error queue as nginx appends it, " (SSL: error:...)", and
/// empties the queue. Empty when the queue is.
std::string openssl_errors();

/// What every tidegate context (server or client side) sets: `protocols` as a set,
/// not a range, as nginx writes ssl_protocols (the versions not listed are switched
/// off), no compression or renegotiation, a peer's EOF without close_notify read as
/// an end, and the modes the streams rely on (released buffers when idle, partial
/// writes retried from a moved pointer). `extra_options` are added.
void set_common_options(SSL_CTX* ctx, unsigned protocols, uint64_t extra_options);

/// The client-certificate check nginx makes when a request arrives on a
/// connection whose server verifies clients: 0 when it may proceed, 495 (a
/// certificate that failed verification) or 496 (none sent where one is
/// required). `reason` gets nginx's log text.
int check_client_certificate(const SSL* ssl, std::string& reason);
/// The same check for a server whose ssl_verify_client is `mode` (the server the
/// request's Host picked; the handshake must have run under its context).
int check_client_certificate(const SSL* ssl, VerifyClient mode, std::string& reason);

/// nginx's $ssl_NAME variables (`name` without "ssl_"): protocol, cipher,
/// server_name, session_reused, session_id, client_verify, client_s_dn,
/// client_i_dn, client_serial, client_fingerprint, client_v_start,
/// client_v_end, alpn_protocol, curve. False when the connection has no value
/// for it (the variable is then empty / "-" in logs).
bool connection_variable(const SSL* ssl, std::string_view name, std::string& out);
/// Whether `name` (without "ssl_") is one of those variables.
bool is_connection_variable(std::string_view name);

}  // namespace tg::tls
