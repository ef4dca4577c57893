// The request is read by hand (head up to the blank line, then Content-Length bytes) so
// that the head can be kept as it was received; the answer is written by Beast, which
// knows which statuses carry no body.
#include "tests/scaling/fake_http_server.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <sstream>
#include <type_traits>

#include <gtest/gtest.h>

namespace tg::scaling {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;
using TlsStream = asio::ssl::stream<tcp::socket>;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

std::string trim(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

// The request line and headers of `head`; the Content-Length it announces.
std::size_t parse_head(RecordedRequest& r) {
  std::istringstream in(r.head);
  std::string line;
  std::getline(in, line);
  std::istringstream(line) >> r.method >> r.target;
  const auto question = r.target.find('?');
  r.path = r.target.substr(0, question);
  if (question != std::string::npos) r.query = r.target.substr(question + 1);
  std::size_t length = 0;
  while (std::getline(in, line) && line != "\r") {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::string value = trim(std::string_view(line).substr(colon + 1));
    if (iequals(name, "content-length")) length = std::stoul(value);
    r.headers.emplace_back(std::move(name), std::move(value));
  }
  return length;
}

}  // namespace

std::string RecordedRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return "(none)";
}

std::string RecordedRequest::exact_header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "(none)";
}

FakeHttpServer::FakeHttpServer(asio::io_context& io, Options options)
    : io_(io), options_(std::move(options)) {
  const auto stopped = [](std::exception_ptr e) {
    if (e) ADD_FAILURE() << "fake HTTP server stopped by an exception";
  };
  if (!options_.unix_socket.empty()) {
    local_.emplace(io_, local::endpoint(options_.unix_socket));
    asio::co_spawn(io_, accept_loop(*local_), stopped);
    return;
  }
  if (!options_.certificate.empty()) {
    tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    tls_->use_certificate_chain_file(options_.certificate);
    tls_->use_private_key_file(options_.private_key, asio::ssl::context::pem);
  }
  tcp_.emplace(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::co_spawn(io_, accept_loop(*tcp_), stopped);
}

FakeHttpServer::~FakeHttpServer() = default;

std::string FakeHttpServer::url(const std::string& path) const {
  if (local_) return "http://localhost" + path;
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port()) + path;
}

unsigned short FakeHttpServer::port() const {
  return tcp_ ? tcp_->local_endpoint().port() : 0;
}

template <class Acceptor>
asio::awaitable<void> FakeHttpServer::accept_loop(Acceptor& acceptor) {
  const std::weak_ptr<bool> alive = alive_;
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec || alive.expired()) co_return;
    const auto gone = [](std::exception_ptr) {};  // a peer that goes away is not a failure
    if constexpr (std::is_same_v<Acceptor, tcp::acceptor>) {
      if (tls_) {
        asio::co_spawn(io_, serve(std::make_shared<TlsStream>(std::move(socket), *tls_)), gone);
        continue;
      }
    }
    asio::co_spawn(io_, serve(std::make_shared<decltype(socket)>(std::move(socket))), gone);
  }
}

template <class Stream>
asio::awaitable<void> FakeHttpServer::serve(std::shared_ptr<Stream> stream) {
  const std::weak_ptr<bool> alive = alive_;
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    co_await stream->async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
  }
  std::string buffer;
  const std::size_t head_end = co_await asio::async_read_until(
      *stream, asio::dynamic_buffer(buffer), "\r\n\r\n", asio::use_awaitable);
  RecordedRequest r;
  r.head = buffer.substr(0, head_end);
  const std::size_t length = parse_head(r);
  buffer.erase(0, head_end);
  if (buffer.size() < length) {
    co_await asio::async_read(*stream, asio::dynamic_buffer(buffer),
                              asio::transfer_exactly(length - buffer.size()), asio::use_awaitable);
  }
  r.body = buffer;
  if (alive.expired()) co_return;
  requests.push_back(r);
  const FakeReply reply = respond ? respond(r) : FakeReply{};
  if (reply.hang) {
    hung_.push_back(stream);
    co_return;
  }
  http::response<http::string_body> response(static_cast<http::status>(reply.status), 11);
  for (const auto& [name, value] : reply.headers) response.insert(name, value);
  if (!reply.body.empty() && !options_.content_type.empty()) {
    response.set(http::field::content_type, options_.content_type);
  }
  response.body() = reply.body;
  response.prepare_payload();
  co_await http::async_write(*stream, response, asio::use_awaitable);
}

void run_until(asio::io_context& io, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_one_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(done()) << "nothing happened within 10 s";
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string refused_url(asio::io_context& io, const std::string& scheme) {
  tcp::acceptor closed(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return scheme + "://127.0.0.1:" + std::to_string(closed.local_endpoint().port());
}

}  // namespace tg::scaling
