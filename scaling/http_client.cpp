// One coroutine per request reads like the protocol: resolve, connect, handshake, write,
// read. A watchdog timer per request closes whatever is open when the deadline passes
// (or the client is cancelled); the pending operation then fails and the coroutine
// reports why from the exchange's flags, so there is one way a request stops.
#include "scaling/http_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <exception>
#include <stdexcept>

#ifndef TIDEGATE_VERSION
#define TIDEGATE_VERSION "dev"
#endif

namespace tg::scaling {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

// Control characters or spaces in a host or target would let a URL inject header lines.
bool clean(std::string_view text) {
  return std::none_of(text.begin(), text.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

bool valid_port(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const int n = std::stoi(std::string(port));
  return n > 0 && n <= 65535;
}

}  // namespace

std::string HttpUrl::authority() const {
  std::string text = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? "443" : "80")) text += ":" + port;
  return text;
}

std::optional<HttpUrl> parse_http_url(std::string_view url) {
  HttpUrl out;
  if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else if (url.starts_with("https://")) {
    out.tls = true;
    url.remove_prefix(8);
  } else {
    return std::nullopt;
  }
  const auto end = url.find_first_of("/?#");
  std::string_view authority = url.substr(0, end);
  const std::string_view rest = end == std::string_view::npos ? "" : url.substr(end);
  if (rest.find('#') != std::string_view::npos || authority.find('@') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return std::nullopt;
      port = after.substr(1);
      if (port.empty()) return std::nullopt;
    }
    authority = authority.substr(1, close - 1);
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    port = authority.substr(colon + 1);
    if (port.empty()) return std::nullopt;
    authority = authority.substr(0, colon);
  }
  if (authority.empty() || !clean(authority) || !clean(rest)) return std::nullopt;
  if (!port.empty() && !valid_port(port)) return std::nullopt;
  out.host = authority;
  out.port = port.empty() ? (out.tls ? "443" : "80") : std::string(port);
  out.target = rest.empty() ? "/" : rest[0] == '?' ? "/" + std::string(rest) : std::string(rest);
  return out;
}

std::string url_encode_component(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return std::nullopt;
}

std::string body_excerpt(std::string_view body, std::size_t max) {
  std::string out(body.substr(0, max));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

std::string format_timeout(Millis timeout) {
  const auto ms = timeout.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

std::string user_agent() {
  return "tidegate/" TIDEGATE_VERSION;
}

/// One request in flight: its sockets, its watchdog and why it stopped.
struct HttpClient::Exchange {
  Exchange(asio::io_context& io, std::shared_ptr<asio::ssl::context> tls_context, Millis timeout,
           std::size_t max_body)
      : io(io),
        tls_context(std::move(tls_context)),
        timeout(timeout),
        max_body(max_body),
        watchdog(io) {}

  asio::awaitable<HttpResult> run(HttpRequest request);
  template <class Stream>
  asio::awaitable<HttpResult> transfer(Stream& stream, http::request<http::string_body>& message);
  std::string failure(std::string_view stage, error_code ec);
  bool stopped() const { return timed_out || cancelled; }

  /// Closes whatever is open, so that the pending operation completes at once.
  void abort() {
    error_code ignored;
    if (resolver) resolver->cancel();
    if (socket) socket->close(ignored);
    if (tls) tls->next_layer().close(ignored);
    if (local) local->close(ignored);
  }

  asio::io_context& io;
  std::shared_ptr<asio::ssl::context> tls_context;
  Millis timeout;
  std::size_t max_body;
  Done done;  ///< empty once nobody waits for the answer (the client is gone)
  asio::steady_timer watchdog;
  std::optional<tcp::resolver> resolver;
  std::optional<tcp::socket> socket;
  std::optional<asio::ssl::stream<tcp::socket>> tls;
  std::optional<asio::local::stream_protocol::socket> local;
  bool timed_out = false;
  bool cancelled = false;
};

std::string HttpClient::Exchange::failure(std::string_view stage, error_code ec) {
  if (cancelled) return "cancelled";
  if (timed_out) return "timed out after " + format_timeout(timeout);
  if (ec == asio::error::connection_refused) return "connection refused";
  if (ec == http::error::body_limit) {
    return "response body larger than " + std::to_string(max_body) + " bytes";
  }
  if (ec == http::error::end_of_stream || ec == asio::error::eof) {
    return "connection closed before a complete response";
  }
  if (ec.category() == asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    std::string text = "certificate verify failed";
    const long result = tls ? SSL_get_verify_result(tls->native_handle()) : X509_V_OK;
    if (result != X509_V_OK) text += std::string(": ") + X509_verify_cert_error_string(result);
    return text;
  }
  return std::string(stage) + ": " + ec.message();
}

asio::awaitable<HttpResult> HttpClient::Exchange::run(HttpRequest request) {
  const auto url = parse_http_url(request.url);
  if (!url) co_return "invalid URL \"" + request.url + "\"";
  if (url->tls && !request.unix_socket.empty()) co_return "no https over a unix socket";

  http::request<http::string_body> message;
  message.version(11);
  if (const auto verb = http::string_to_verb(request.method); verb != http::verb::unknown) {
    message.method(verb);
  } else {
    message.method_string(request.method);
  }
  message.target(url->target);
  message.set(http::field::host, url->authority());
  for (const auto& [name, value] : request.headers) message.insert(name, value);
  message.set(http::field::connection, "close");
  message.body() = std::move(request.body);
  message.prepare_payload();

  error_code ec;
  if (!request.unix_socket.empty()) {
    local.emplace(io);
    std::tie(ec) = co_await local->async_connect(
        asio::local::stream_protocol::endpoint(request.unix_socket), kTuple);
    if (ec || stopped()) co_return failure("connect to " + request.unix_socket, ec);
    co_return co_await transfer(*local, message);
  }

  resolver.emplace(io);
  auto [resolve_ec, endpoints] = co_await resolver->async_resolve(url->host, url->port, kTuple);
  if (resolve_ec || stopped()) co_return failure("resolve " + url->host, resolve_ec);
  tcp::socket& socket_ref =
      url->tls ? tls.emplace(io, *tls_context).next_layer() : socket.emplace(io);
  std::tie(ec, std::ignore) = co_await asio::async_connect(socket_ref, endpoints, kTuple);
  if (ec || stopped()) co_return failure("connect to " + url->authority(), ec);
  if (!url->tls) co_return co_await transfer(*socket, message);

  // SNI carries names only (RFC 6066 section 3), never address literals.
  error_code not_address;
  asio::ip::make_address(url->host, not_address);
  if (not_address) SSL_set_tlsext_host_name(tls->native_handle(), url->host.c_str());
  tls->set_verify_mode(asio::ssl::verify_peer);
  // asio's check fails without an error code, which OpenSSL would report as
  // "unspecified"; naming the mismatch tells the operator what to fix.
  tls->set_verify_callback([check = asio::ssl::host_name_verification(url->host)](
                               bool preverified, asio::ssl::verify_context& context) {
    const bool ok = check(preverified, context);
    if (preverified && !ok) {
      X509_STORE_CTX_set_error(context.native_handle(), X509_V_ERR_HOSTNAME_MISMATCH);
    }
    return ok;
  });
  std::tie(ec) = co_await tls->async_handshake(asio::ssl::stream_base::client, kTuple);
  if (ec || stopped()) co_return failure("TLS handshake", ec);
  co_return co_await transfer(*tls, message);
}

template <class Stream>
asio::awaitable<HttpResult> HttpClient::Exchange::transfer(
    Stream& stream, http::request<http::string_body>& message) {
  auto [ec, n] = co_await http::async_write(stream, message, kTuple);
  if (ec || stopped()) co_return failure("write", ec);
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body);
  parser.header_limit(64 * 1024);
  // A HEAD answer's Content-Length describes a body that never comes.
  parser.skip(message.method() == http::verb::head);
  std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, kTuple);
  if (ec || stopped()) co_return failure("read", ec);
  auto& answer = parser.get();
  HttpResponse response;
  response.status = static_cast<int>(answer.result_int());
  for (const auto& field : answer) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.body = std::move(answer.body());
  co_return response;
}

HttpClient::HttpClient(asio::io_context& io, HttpClientOptions options)
    : io_(io), options_(std::move(options)) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  error_code ec;
  if (options_.ca_file.empty() && options_.ca_pem.empty()) {
    context->set_default_verify_paths(ec);
    if (ec) {
      throw std::invalid_argument("cannot load the system's CA certificates: " + ec.message());
    }
  }
  if (!options_.ca_file.empty()) {
    context->load_verify_file(options_.ca_file, ec);
    if (ec) {
      throw std::invalid_argument("cannot load ca_file \"" + options_.ca_file +
                                  "\": " + ec.message());
    }
  }
  if (!options_.ca_pem.empty()) {
    context->add_certificate_authority(asio::buffer(options_.ca_pem), ec);
    if (ec) throw std::invalid_argument("cannot load ca_pem: " + ec.message());
  }
  tls_ = std::move(context);
}

HttpClient::~HttpClient() {
  for (const auto& exchange : live_) {
    exchange->done = nullptr;
    exchange->abort();
  }
}

void HttpClient::send(HttpRequest request, Millis timeout, Done done) {
  auto exchange = std::make_shared<Exchange>(io_, tls_, timeout, options_.max_body);
  exchange->done = std::move(done);
  exchange->watchdog.expires_after(timeout);
  exchange->watchdog.async_wait([weak = std::weak_ptr<Exchange>(exchange)](error_code ec) {
    if (ec) return;
    if (const auto e = weak.lock()) {
      e->timed_out = true;
      e->abort();
    }
  });
  live_.push_back(exchange);
  // co_spawn starts the coroutine through a post, so `done` never runs inside send().
  asio::co_spawn(io_, exchange->run(std::move(request)),
                 [this, exchange](std::exception_ptr escaped, HttpResult result) {
                   exchange->watchdog.cancel();
                   if (!exchange->done) return;  // the client is gone: `this` is too
                   if (escaped) {
                     try {
                       std::rethrow_exception(escaped);
                     } catch (const std::exception& e) {
                       result = std::string("internal error: ") + e.what();
                     } catch (...) {
                       result = std::string("internal error");
                     }
                   }
                   if (exchange->cancelled) result = std::string("cancelled");
                   std::erase(live_, exchange);
                   const Done finished = std::move(exchange->done);
                   exchange->done = nullptr;
                   finished(std::move(result));
                 });
}

void HttpClient::cancel_all() {
  for (const auto& exchange : live_) {
    exchange->cancelled = true;
    exchange->abort();
  }
}

}  // namespace tg::scaling
