// A small asynchronous HTTP/1.1 client for provider APIs and Prometheus, on the control
// thread's io_context: one connection per request (these calls come seconds apart, so
// pooling would only add state), TLS verified against the system's or a given CA, one
// deadline over the whole exchange, and a capped response body so a broken server cannot
// eat memory. Beast stays in the .cpp so that this header is cheap to include.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>

#include "scaling/spec.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace tg::scaling {

/// An `http://` or `https://` URL taken apart: what a connection and a request line need.
struct HttpUrl {
  bool tls = false;    ///< https
  std::string host;    ///< without IPv6 brackets
  std::string port;    ///< "80" / "443" when the URL names none
  std::string target;  ///< path and query, "/" when empty
  /// The Host header: host, bracketed if IPv6, with the port unless it is the default.
  std::string authority() const;
};

/// Parses `url`, or nullopt when it is not http(s)://host[:port][/path] (user info and
/// fragments are refused: a provider URL has no use for them).
std::optional<HttpUrl> parse_http_url(std::string_view url);

/// Percent-encodes everything but RFC 3986's unreserved characters (uppercase hex), for a
/// query value; with `keep_slash`, '/' stays too (a path, as SigV4's canonical URI).
std::string url_encode_component(std::string_view text, bool keep_slash = false);

/// One request. Header names are sent as given; Host, Content-Length and Connection are
/// set by the client.
struct HttpRequest {
  std::string method = "GET";  ///< any token; GET, POST, PUT, DELETE, ...
  std::string url;  ///< http:// or https://; with `unix_socket`, only host and target count
  std::vector<std::pair<std::string, std::string>> headers;  ///< sent in this order
  std::string body;                                          ///< sent as is
  /// Connect to this unix socket instead of the URL's host (Docker's
  /// "/var/run/docker.sock"); the URL must then be http://.
  std::string unix_socket;
};

/// A complete answer, whatever its status.
struct HttpResponse {
  int status = 0;                                            ///< 200, 404, ...
  std::vector<std::pair<std::string, std::string>> headers;  ///< in the order received
  std::string body;  ///< at most HttpClientOptions::max_body bytes
  /// The first header named `name` (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

/// The response, or why there is none: "connection refused", "timed out after 5s",
/// "certificate verify failed: self-signed certificate", "cancelled", ...
using HttpResult = std::variant<HttpResponse, std::string>;

/// What every request of one client shares.
struct HttpClientOptions {
  /// A file of PEM trust anchors for https. With ca_pem empty too: the system's default
  /// verify paths.
  std::string ca_file;
  /// PEM trust anchors given in memory (a kubeconfig's certificate-authority-data), so that
  /// they never have to be written to disk; with ca_file, both are trusted.
  std::string ca_pem;
  /// Longest response body accepted: 8 MiB.
  std::size_t max_body = 8 << 20;
};

/// Sends requests, each on its own connection, and owns them while they run.
///
/// Callbacks run once, on the io_context, never inside send(). Destroying the client
/// aborts what is in flight and those callbacks never run (the caller is going away
/// too); cancel_all() aborts them and their callbacks run with "cancelled". Use it
/// from the io_context's thread only.
class HttpClient {
 public:
  using Done = std::function<void(HttpResult)>;

  /// Throws std::invalid_argument when `options.ca_file` or `options.ca_pem` cannot be loaded.
  explicit HttpClient(boost::asio::io_context& io, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// Starts `request`; `done` gets the response, or an error once `timeout` has passed
  /// since this call (resolution, connection, handshake and transfer together).
  void send(HttpRequest request, Millis timeout, Done done);
  /// send() as an asynchronous operation, for `co_await client.async_send(request, timeout,
  /// asio::use_awaitable)` (or deferred, ...): completes with the HttpResult. When the client
  /// is destroyed first, the handler is dropped unrun, so a coroutine waiting on it never
  /// resumes into an owner that is gone.
  template <class CompletionToken>
  auto async_send(HttpRequest request, Millis timeout, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(HttpResult)>(
        [this](auto handler, HttpRequest request, Millis timeout) {
          // Done is a std::function, which must be copyable; asio's handlers are move-only.
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          send(std::move(request), timeout,
               [shared](HttpResult result) { std::move (*shared)(std::move(result)); });
        },
        token, std::move(request), timeout);
  }
  /// Aborts every request in flight; their callbacks get "cancelled".
  void cancel_all();
  /// Requests whose callbacks have not run yet.
  std::size_t in_flight() const { return live_.size(); }

 private:
  struct Exchange;
  boost::asio::io_context& io_;
  HttpClientOptions options_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::vector<std::shared_ptr<Exchange>> live_;
};

/// The first `max` bytes of `body` with control characters as spaces, so that an error
/// page quoted in an error message stays on one log line.
std::string body_excerpt(std::string_view body, std::size_t max = 200);

/// "5s" or "250ms", as timeouts are written in the configuration and in error messages.
std::string format_timeout(Millis timeout);

/// "tidegate/VERSION": the User-Agent of every request tidegate makes to an API, so that
/// an operator can tell tidegate's calls apart in the API's own logs.
std::string user_agent();

}  // namespace tg::scaling
