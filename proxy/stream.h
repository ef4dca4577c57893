// A connection's byte stream: the TCP socket, or TLS over it (the server side of
// a client's connection, the client side of an upstream's).
//
// Plain connections call straight through to the socket (the same operations the
// session always made, no extra frame or allocation). A TLS connection drives
// OpenSSL over the non-blocking socket itself, as nginx does: SSL_read/SSL_write
// are tried first and, when OpenSSL wants the socket to become readable or
// writable, the operation waits on the reactor and tries again. No memory BIOs,
// no copies besides coalescing a write's small pieces into one record.
#pragma once

#include <memory>
#include <span>
#include <string>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "proxy/io_buffers.h"
#include "proxy/net.h"
#include "tls/server_context.h"

namespace tg::proxy {

class Stream {
 public:
  explicit Stream(Socket socket) : socket_(std::move(socket)) {}
  ~Stream() = default;
  /// Moved only between operations (an operation in progress holds `this`).
  Stream(Stream&&) = default;
  Stream& operator=(Stream&&) = default;

  /// The TCP socket: endpoints, options, cancel, close, and reads that bypass TLS
  /// (discarding bytes while closing).
  Socket& socket() { return socket_; }
  /// The TLS connection once start_tls() was called, else null.
  SSL* tls() const { return ssl_.get(); }

  /// Makes this a TLS server connection under `ctx` (SNI choices through `sni`).
  bool start_tls(const tls::ServerContext& ctx, const tls::SniChooser* sni);
  /// Makes this a TLS connection over `ssl` (made for this socket; owned from now on).
  void adopt_tls(SSL* ssl);

  /// What the first bytes from the client are, to be told apart before a TLS handshake.
  enum class FirstBytes { kTls, kPlainHttp, kClosed };
  /// Peeks at the first byte without consuming it (the socket is readable).
  FirstBytes peek_first_byte();

  /// The TLS handshake. Completion: void(error_code).
  template <typename Token>
  auto async_handshake(Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code)>(HandshakeOp{{this}},
                                                                              token, socket_);
  }

  /// Reads some bytes (decrypted on TLS). Completion: void(error_code, size_t);
  /// the end of the stream (FIN, or TLS close_notify) is asio::error::eof.
  template <typename Token>
  [[gnu::always_inline]] auto async_read_some(boost::asio::mutable_buffer buffer, Token&& token) {
    // Both branches return the token's type; the plain one is the socket's own
    // operation, exactly what a session made before there was TLS.
    if (!ssl_) return socket_.async_read_some(buffer, std::forward<Token>(token));
    return boost::asio::async_compose<Token, void(boost::system::error_code, size_t)>(
        ReadOp{{this}, buffer}, token, socket_);
  }

  /// Writes all of `buffers` (they and the span stay valid until completion).
  /// Completion: void(error_code, size_t).
  template <typename Token>
  [[gnu::always_inline]] auto async_write(std::span<const boost::asio::const_buffer> buffers,
                                          Token&& token) {
    if (!ssl_) return boost::asio::async_write(socket_, buffers, std::forward<Token>(token));
    return boost::asio::async_compose<Token, void(boost::system::error_code, size_t)>(
        WriteOp{{this}, buffers}, token, socket_);
  }

  /// Waits until a read can make progress: bytes on the socket, or (TLS) bytes
  /// OpenSSL already holds, or the socket's writability when OpenSSL must write
  /// before it can read on. `handler`: void(error_code).
  template <typename Handler>
  [[gnu::always_inline]] void async_wait_readable(Handler&& handler) {
    if (ssl_ && pending_plaintext()) {
      boost::asio::post(socket_.get_executor(), [h = std::forward<Handler>(handler)]() mutable {
        std::move(h)(boost::system::error_code());
      });
      return;
    }
    socket_.async_wait(read_wants_write_ ? Socket::wait_write : Socket::wait_read,
                       std::forward<Handler>(handler));
  }

  /// Non-blocking read and write (the socket is non-blocking): would_block when
  /// nothing can be done now.
  size_t read_some(boost::asio::mutable_buffer buffer, boost::system::error_code& ec);
  size_t write_some(boost::asio::const_buffer buffer, boost::system::error_code& ec);

  /// Ends the TLS session with a close_notify, without waiting (best effort); the
  /// socket stays open. Nothing on a plain connection or a failed session.
  void shutdown_tls();
  /// Closes the connection: close_notify first on TLS (as nginx, without waiting
  /// for the peer's), then the socket.
  void close() {
    shutdown_tls();
    boost::system::error_code ignored;
    socket_.close(ignored);
  }
  /// What made the last TLS operation fail, as nginx appends it to its log line:
  /// " (SSL: error:...)" or " (104: Connection reset by peer)".
  std::string last_error() const { return last_error_ ? *last_error_ : std::string(); }

 private:
  enum class Want { kNothing, kRead, kWrite };
  /// One SSL_* step's outcome: done (ec set or clear), or wait for the socket.
  struct Step {
    Want want = Want::kNothing;
    boost::system::error_code ec;
  };
  Step handshake_step();
  Step read_step(boost::asio::mutable_buffer buffer, size_t& n);
  Step write_step(const char* data, size_t size, size_t& n);
  Step step_result(int rc);
  static std::string openssl_errors_or_eof();
  bool pending_plaintext() const;

 public:
  /// Decrypted bytes OpenSSL holds that nobody read (a pooled upstream connection
  /// with these is not reusable).
  bool has_unread() const { return ssl_ && pending_plaintext(); }

 private:
  template <typename Self>
  void wait(Self& self, Want want) {
    socket_.async_wait(want == Want::kRead ? Socket::wait_read : Socket::wait_write,
                       std::move(self));
  }

  /// The bookkeeping of a TLS operation: steps until done, waiting on the socket
  /// between them. An operation done without waiting completes through the executor,
  /// never inside its initiating call (as asio's own socket operations), so a stream
  /// of immediately available bytes does not nest completions on the stack.
  template <typename Derived>
  struct Op {
    Stream* s;
    bool waited = false;
    bool done = false;
    boost::system::error_code result;
    template <typename Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
      auto& d = static_cast<Derived&>(*this);
      if (!done && !ec) {
        const Step step = d.step();
        if (step.want != Want::kNothing) {
          waited = true;
          return s->wait(self, step.want);
        }
        ec = step.ec;
      }
      if (!done && !waited) {
        done = true;
        result = ec;
        auto executor = s->socket_.get_executor();
        return boost::asio::post(executor, std::move(self));
      }
      d.complete(self, done ? result : ec);
    }
  };

  struct HandshakeOp : Op<HandshakeOp> {
    Step step() { return s->handshake_step(); }
    template <typename Self>
    void complete(Self& self, boost::system::error_code ec) {
      self.complete(ec);
    }
  };

  struct ReadOp : Op<ReadOp> {
    boost::asio::mutable_buffer buffer;
    size_t n = 0;
    Step step() { return s->read_step(buffer, n); }
    template <typename Self>
    void complete(Self& self, boost::system::error_code ec) {
      self.complete(ec, n);
    }
  };

  /// Writes the buffers in TLS records: a piece of at least kDirect bytes goes out
  /// from where it is; runs of smaller pieces (a head, chunk-size lines) are
  /// gathered into one buffer first, so a response is not a record per piece.
  struct WriteOp : Op<WriteOp> {
    static constexpr size_t kDirect = 4096;
    std::span<const boost::asio::const_buffer> buffers;
    size_t index = 0;             ///< next buffer
    size_t offset = 0;            ///< into it
    const char* chunk = nullptr;  ///< what SSL_write is given (kept for retries)
    size_t chunk_size = 0;
    size_t written = 0;
    PooledBuffer gathered;
    Step step();
    bool next_chunk();
    template <typename Self>
    void complete(Self& self, boost::system::error_code ec) {
      self.complete(ec, written);
    }
  };

  Socket socket_;
  struct SslFree {
    void operator()(SSL* ssl) const;
  };
  std::unique_ptr<SSL, SslFree> ssl_;
  bool read_wants_write_ = false;  ///< the last read stopped for the socket's writability
  bool failed_ = false;            ///< a TLS error: no close_notify on the way out
  /// Set on a failure only: a connection that never fails (and its moves) carries
  /// no string.
  std::unique_ptr<std::string> last_error_;
};

}  // namespace tg::proxy
