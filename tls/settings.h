// What nginx's ngx_http_ssl_module directives say about one server's TLS: plain
// data, filled by the conf (conf/modules/ssl.cpp) and turned into an OpenSSL
// context by ServerContext (server_context.h).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace tg::tls {

/// Protocol bits of `ssl_protocols`.
enum Protocol : unsigned {
  kSslV2 = 1,
  kSslV3 = 2,
  kTlsV1 = 4,
  kTlsV1_1 = 8,
  kTlsV1_2 = 16,
  kTlsV1_3 = 32,
};

/// PEM text and where it came from ("data:" certificates name themselves so).
struct PemSource {
  std::string path;  ///< as nginx names it in messages (absolute, or "data:...")
  std::string pem;
};

/// `ssl_verify_client`.
enum class VerifyClient { kOff, kOn, kOptional, kOptionalNoCa };

struct ServerSettings {
  /// `ssl_certificate` files and their `ssl_certificate_key`s, paired by position
  /// (the conf checks that each certificate has its key).
  std::vector<PemSource> certificates;
  std::vector<PemSource> keys;
  unsigned protocols = kTlsV1_2 | kTlsV1_3;  ///< nginx >= 1.23.4's default
  std::string ciphers = "HIGH:!aNULL:!MD5";
  bool prefer_server_ciphers = false;
  std::string ecdh_curve = "auto";
  PemSource dhparam;  ///< empty: none
  /// `ssl_session_cache`: off and none both keep no sessions (off also tells the
  /// client so); builtin and shared keep them in the context's cache, which every
  /// worker thread shares (one process), at most `session_cache_entries`.
  enum class SessionCache { kOff, kNone, kCache } session_cache = SessionCache::kNone;
  size_t session_cache_entries = 20480;
  std::chrono::seconds session_timeout{300};
  bool session_tickets = true;
  /// `ssl_session_ticket_key` files' bytes (48 or 80 each); the first encrypts.
  std::vector<PemSource> ticket_keys;
  VerifyClient verify_client = VerifyClient::kOff;
  int verify_depth = 1;
  PemSource client_certificate;   ///< CAs sent to the client and trusted
  PemSource trusted_certificate;  ///< CAs trusted, not sent
  bool reject_handshake = false;
  std::vector<std::pair<std::string, std::string>> conf_commands;
  size_t buffer_size = 16384;  ///< ssl_buffer_size: accepted (records are sized by the writes)
};

}  // namespace tg::tls
