#include "proxy/stream.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

namespace tg::proxy {

namespace asio = boost::asio;

void Stream::SslFree::operator()(SSL* ssl) const {
  SSL_free(ssl);
}

bool Stream::start_tls(const tls::ServerContext& ctx, const tls::SniChooser* sni) {
  ssl_.reset(ctx.new_connection(socket_.native_handle(), sni));
  boost::system::error_code ignored;
  socket_.non_blocking(true, ignored);  // OpenSSL reads and writes the socket itself
  return ssl_ != nullptr;
}

void Stream::adopt_tls(SSL* ssl) {
  ssl_.reset(ssl);
  boost::system::error_code ignored;
  socket_.non_blocking(true, ignored);
}

Stream::FirstBytes Stream::peek_first_byte() {
  unsigned char first = 0;
  const ssize_t n = ::recv(socket_.native_handle(), &first, 1, MSG_PEEK);
  if (n == 0) return FirstBytes::kClosed;
  if (n < 0) return errno == EAGAIN || errno == EINTR ? FirstBytes::kTls : FirstBytes::kClosed;
  // nginx's test: a TLS record of type handshake (22), or an SSLv2-style hello.
  return first == 0x16 || (first & 0x80) ? FirstBytes::kTls : FirstBytes::kPlainHttp;
}

Stream::Step Stream::step_result(int rc) {
  const int error = SSL_get_error(ssl_.get(), rc);
  switch (error) {
    case SSL_ERROR_WANT_READ:
      return {Want::kRead, {}};
    case SSL_ERROR_WANT_WRITE:
      return {Want::kWrite, {}};
    case SSL_ERROR_ZERO_RETURN:  // close_notify, or a plain EOF (SSL_OP_IGNORE_UNEXPECTED_EOF)
      return {Want::kNothing, asio::error::eof};
    case SSL_ERROR_SYSCALL: {
      failed_ = true;
      ERR_clear_error();
      const int e = errno;
      last_error_ = std::make_unique<std::string>(e ? std::string(" (") + std::to_string(e) + ": " +
                                                          std::strerror(e) + ")"
                                                    : openssl_errors_or_eof());
      if (!e) return {Want::kNothing, asio::error::eof};
      return {Want::kNothing, boost::system::error_code(e, boost::system::system_category())};
    }
    default: {
      failed_ = true;
      const unsigned long e = ERR_peek_last_error();
      last_error_ = std::make_unique<std::string>(tls::openssl_errors());
      return {Want::kNothing,
              boost::system::error_code(static_cast<int>(e), asio::error::get_ssl_category())};
    }
  }
}

std::string Stream::openssl_errors_or_eof() {
  std::string text = tls::openssl_errors();
  return text.empty() ? " (unexpected eof)" : text;
}

Stream::Step Stream::handshake_step() {
  ERR_clear_error();
  errno = 0;
  const int rc = SSL_do_handshake(ssl_.get());
  if (rc == 1) return {};
  return step_result(rc);
}

Stream::Step Stream::read_step(asio::mutable_buffer buffer, size_t& n) {
  ERR_clear_error();
  errno = 0;
  const int rc = SSL_read_ex(ssl_.get(), buffer.data(), buffer.size(), &n);
  read_wants_write_ = false;
  if (rc == 1) return {};
  n = 0;
  Step step = step_result(rc);
  read_wants_write_ = step.want == Want::kWrite;
  return step;
}

Stream::Step Stream::write_step(const char* data, size_t size, size_t& n) {
  ERR_clear_error();
  errno = 0;
  const int rc = SSL_write_ex(ssl_.get(), data, size, &n);
  if (rc == 1) return {};
  n = 0;
  return step_result(rc);
}

bool Stream::pending_plaintext() const {
  // Decrypted bytes only: a record that arrived in part is also "pending" for
  // SSL_has_pending, and waiting for the rest of it is the socket's job (read-ahead
  // is off, so OpenSSL never holds a whole unprocessed record).
  return SSL_pending(ssl_.get()) > 0;
}

size_t Stream::read_some(asio::mutable_buffer buffer, boost::system::error_code& ec) {
  if (!ssl_) return socket_.read_some(buffer, ec);
  size_t n = 0;
  const Step step = read_step(buffer, n);
  ec = step.want != Want::kNothing ? asio::error::would_block : step.ec;
  return n;
}

size_t Stream::write_some(asio::const_buffer buffer, boost::system::error_code& ec) {
  if (!ssl_) return socket_.write_some(buffer, ec);
  size_t n = 0;
  const Step step = write_step(static_cast<const char*>(buffer.data()), buffer.size(), n);
  ec = step.want != Want::kNothing ? asio::error::would_block : step.ec;
  return n;
}

void Stream::shutdown_tls() {
  if (!ssl_ || failed_ || !SSL_is_init_finished(ssl_.get())) return;
  ERR_clear_error();
  SSL_shutdown(ssl_.get());  // sends close_notify if the socket takes it; never waits
  ERR_clear_error();
}

Stream::Step Stream::WriteOp::step() {
  for (;;) {
    if (chunk_size == 0 && !next_chunk()) return {};
    size_t n = 0;
    const Step result = s->write_step(chunk, chunk_size, n);
    if (result.want != Want::kNothing || result.ec) return result;
    chunk += n;
    chunk_size -= n;
    written += n;
  }
}

bool Stream::WriteOp::next_chunk() {
  while (index < buffers.size() && offset == buffers[index].size()) {
    ++index;
    offset = 0;
  }
  if (index == buffers.size()) return false;
  const auto* data = static_cast<const char*>(buffers[index].data());
  const size_t left = buffers[index].size() - offset;
  if (left >= kDirect || index + 1 == buffers.size()) {
    chunk = data + offset;
    chunk_size = left;
    ++index;
    offset = 0;
    return true;
  }
  // Gather small pieces, up to one buffer, stopping before a large one.
  char* out = gathered.get();
  size_t used = 0;
  while (index < buffers.size() && used < kIoBuffer) {
    const auto* piece = static_cast<const char*>(buffers[index].data()) + offset;
    const size_t size = buffers[index].size() - offset;
    if (used > 0 && size >= kDirect) break;
    const size_t take = std::min(size, kIoBuffer - used);
    std::memcpy(out + used, piece, take);
    used += take;
    offset += take;
    if (offset == buffers[index].size()) {
      ++index;
      offset = 0;
    }
  }
  chunk = out;
  chunk_size = used;
  return true;
}

}  // namespace tg::proxy
