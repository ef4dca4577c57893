// The HTTP/1.1 server the adapters' tests put behind their fakes (an API, a webhook
// receiver, Prometheus, IMDS): on 127.0.0.1 (plain or TLS) or a unix socket, on the
// test's own io_context, one request per connection as HttpClient sends them. It records
// every request before the test's handler sees it, so that a test can check what the
// adapter sent even where the handler refuses it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/context.hpp>

namespace tg::scaling {

/// One request as the fake received it.
struct RecordedRequest {
  std::string method;  ///< "GET", "POST", ...
  std::string target;  ///< path and query, as sent
  std::string path;    ///< the target before '?'
  std::string query;   ///< the target after '?', "" without one
  std::string head;    ///< request line and headers, as received, without the blank line
  std::vector<std::pair<std::string, std::string>> headers;  ///< names as sent, in order
  std::string body;
  /// The first header named `name` in any case; "(none)" when there is none.
  std::string header(std::string_view name) const;
  /// The first header spelt exactly `name`: IMDS, for one, insists on its own spelling.
  std::string exact_header(std::string_view name) const;
};

/// What the fake answers one request with.
struct FakeReply {
  int status = 200;
  std::string body;
  bool hang = false;  ///< read the request and never answer; the connection stays open
  std::vector<std::pair<std::string, std::string>> headers;  ///< besides Content-Length
};

/// Accepts connections, records each request, answers with `respond`.
///
/// Must outlive the test's use of `io`; a connection that ends early (the adapter timed
/// out or was cancelled) is not a failure.
class FakeHttpServer {
 public:
  /// Where and how the server listens. Default: plain HTTP on 127.0.0.1, a free port.
  struct Options {
    std::string unix_socket;   ///< listen on this path instead (no TLS then)
    std::string certificate;   ///< a PEM certificate chain file: HTTPS
    std::string private_key;   ///< its PEM key file
    std::string content_type;  ///< sent with every answer that has a body; empty: none
  };

  explicit FakeHttpServer(boost::asio::io_context& io, Options options = {});
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  /// "http://127.0.0.1:PORT" (https with TLS) followed by `path`.
  std::string url(const std::string& path = "") const;
  /// The TCP port it listens on.
  unsigned short port() const;

  /// The answer to each request, after it is recorded: 200 with no body by default.
  std::function<FakeReply(const RecordedRequest&)> respond;
  /// Every request received, in order.
  std::vector<RecordedRequest> requests;

 private:
  template <class Acceptor>
  boost::asio::awaitable<void> accept_loop(Acceptor& acceptor);
  template <class Stream>
  boost::asio::awaitable<void> serve(std::shared_ptr<Stream> stream);

  boost::asio::io_context& io_;
  Options options_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  std::optional<boost::asio::ip::tcp::acceptor> tcp_;
  std::optional<boost::asio::local::stream_protocol::acceptor> local_;
  std::vector<std::shared_ptr<void>> hung_;  // connections that never get an answer
  // Connections still running when the server is gone must not record into it.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

/// Runs `io` until `done()`, at most 10 s, so that a broken test fails instead of hanging.
void run_until(boost::asio::io_context& io, const std::function<bool()>& done);

/// Runs `io` until `slot` holds a value (a callback's result), at most 10 s.
template <class T>
void run_until(boost::asio::io_context& io, const std::optional<T>& slot) {
  run_until(io, [&] { return slot.has_value(); });
}

/// Percent-decodes a query or form component ("%2F" -> "/"): how the fakes read what the
/// adapters encode.
std::string percent_decode(std::string_view text);

/// "SCHEME://127.0.0.1:PORT" where nothing listens (the port was free a moment ago), for
/// "connection refused".
std::string refused_url(boost::asio::io_context& io, const std::string& scheme = "http");

}  // namespace tg::scaling
