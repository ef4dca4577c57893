// What comes before the first request on a connection: the PROXY protocol header
// (listen ... proxy_protocol), then TLS (nginx's ngx_http_ssl_handshake): plain
// HTTP told apart from a handshake, the handshake itself, and what each request
// on a TLS address must pass (ngx_http_process_request's checks).
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <boost/asio/read.hpp>

#include "common/error_log.h"
#include "proxy/exchange.h"
#include "proxy/session.h"

namespace tg::proxy {

namespace asio = boost::asio;

Task<bool> ClientSession::read_proxy_protocol() {
  proxy_protocol_pending_ = false;
  // Peeked, then consumed exactly: what follows belongs to HTTP or to TLS (which
  // reads the socket itself).
  char buf[536];  // v1 is at most 107 bytes; v2 with TLVs a few hundred in practice
  Socket& socket = client_.socket();
  arm(listen_->default_server->client_header_timeout);
  http::ProxyProtocolHeader header;
  for (;;) {
    const ssize_t n = ::recv(socket.native_handle(), buf, sizeof buf, MSG_PEEK);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      disarm();
      co_return false;
    }
    const auto result =
        n > 0 ? http::parse_proxy_protocol(std::string_view(buf, static_cast<size_t>(n)), header)
              : http::ProxyProtocolResult::kNeedMore;
    if (result == http::ProxyProtocolResult::kBroken ||
        (result == http::ProxyProtocolResult::kNeedMore && n == sizeof buf)) {
      disarm();
      std::string shown;  // what came, printable (nginx shows the header's bytes)
      for (ssize_t i = 0; i < std::min<ssize_t>(n, 107); ++i) {
        const auto c = static_cast<unsigned char>(buf[i]);
        char piece[8];
        std::snprintf(piece, sizeof piece, c >= 0x20 && c < 0x7f ? "%c" : "\\x%02X", c);
        shown += piece;
      }
      log(LogLevel::kError, "*" + std::to_string(info_.id) + " broken header: \"" + shown +
                                "\" while reading PROXY protocol, client: " + info_.remote_addr +
                                ", server: " + info_.server_addr + ":" +
                                std::to_string(info_.server_port));
      co_return false;
    }
    if (result == http::ProxyProtocolResult::kComplete) break;
    auto [ec] = co_await socket.async_wait(Socket::wait_read, kTuple);
    if (ec) {
      disarm();
      co_return false;
    }
  }
  disarm();
  boost::system::error_code ec;
  asio::read(socket, asio::buffer(buf, header.length), ec);  // already here: no wait
  if (ec) co_return false;
  info_.proxy_protocol = std::make_shared<const http::ProxyProtocolHeader>(std::move(header));
  co_return true;
}

Task<bool> ClientSession::start_tls() {
  tls_pending_ = false;
  switch (client_.peek_first_byte()) {
    case Stream::FirstBytes::kClosed:
      co_return false;
    case Stream::FirstBytes::kPlainHttp:
      // nginx reads the request anyway and answers it with 497's page.
      plain_on_tls_ = true;
      co_return true;
    case Stream::FirstBytes::kTls:
      break;
  }
  const std::string server = info_.server_addr + ":" + std::to_string(info_.server_port);
  if (!client_.start_tls(*listen_->tls, listen_)) {
    log(LogLevel::kAlert, "SSL_new() failed" + tls::openssl_errors());
    co_return false;
  }
  // The handshake must end within client_header_timeout (nginx's post_accept_timeout).
  arm(listen_->default_server->client_header_timeout);
  auto [ec] = co_await client_.async_handshake(kTuple);
  disarm();
  if (ec) {
    const std::string where =
        " while SSL handshaking, client: " + info_.remote_addr + ", server: " + server;
    if (timed_out_) {
      log(LogLevel::kInfo,
          "*" + std::to_string(info_.id) + " client timed out (110: Connection timed out)" + where);
    } else if (ec != boost::asio::error::eof) {
      log(LogLevel::kInfo, "*" + std::to_string(info_.id) + " SSL_do_handshake() failed" +
                               client_.last_error() + where);
    }
    co_return false;
  }
  info_.tls = client_.tls();
  co_return true;
}

bool ClientSession::misdirected() const {
  // nginx (ngx_http_set_virtual_server): a Host other than the SNI name is refused
  // when the server Host picks verifies client certificates: the handshake checked
  // the certificate against another server's CAs.
  const auto& ctx = x_->ctx;
  if (ctx.server->ssl.verify_client == tls::VerifyClient::kOff) return false;
  const char* sni = SSL_get_servername(client_.tls(), TLSEXT_NAMETYPE_host_name);
  if (!sni) return false;
  std::string name;
  return !normalize_host(sni, name) || name != ctx.host;
}

int ClientSession::client_certificate_status(std::string& reason) const {
  // nginx checks the certificate for the server Host picked. A handshake made under
  // another server's context (no SNI, or a server without a certificate of its own)
  // asked for no certificate, or checked it against another server's CAs.
  const conf::ServerBlock& server = *x_->ctx.server;
  const auto mode = server.ssl.verify_client;
  if (mode == tls::VerifyClient::kOff) return 0;
  SSL* ssl = client_.tls();
  if (tls::ServerContext::of(ssl) == server.tls.get()) {
    return tls::check_client_certificate(ssl, mode, reason);
  }
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) {
    if (mode != tls::VerifyClient::kOn) return 0;
    reason = "client sent no required SSL certificate";
    return 496;
  }
  reason = "client attempted to request the server name different from the one that was negotiated";
  return 421;
}

Task<bool> ClientSession::check_tls_request() {
  int status = 0;
  std::string reason;
  if (plain_on_tls_) {
    status = 497;
    reason = "client sent plain HTTP request to HTTPS port";
  } else if (misdirected()) {
    status = 421;
    reason =
        "client attempted to request the server name different from the one that was "
        "negotiated";
  } else {
    status = client_certificate_status(reason);
  }
  if (status == 0) co_return true;
  log(LogLevel::kInfo, "*" + std::to_string(info_.id) + " " + reason +
                           " while reading client request headers" + describe_request());
  keep_alive_ = false;
  co_await respond_error(status);
  finish_request();
  co_return false;
}

}  // namespace tg::proxy
