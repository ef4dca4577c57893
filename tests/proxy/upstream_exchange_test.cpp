// The request exchange driven through the ClientSide seam by a client side that
// is not an HTTP/1.1 connection (as an HTTP/2 stream will be), against a real
// upstream socket on the same io_context.
#include "proxy/upstream_exchange.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/write.hpp>

#include "proxy/runtime.h"
#include "tests/proxy/test_config.h"

namespace tg::proxy {
namespace {

namespace asio = boost::asio;
using Acceptor = asio::basic_socket_acceptor<asio::ip::tcp, Executor>;

/// A client side that records what the exchange hands it, instead of writing a protocol.
class RecordingClient final : public ClientSide {
 public:
  explicit RecordingClient(RequestContext& ctx) : ctx_(ctx) {}

  RequestContext& request() override { return ctx_; }
  void take_body_received(std::vector<asio::const_buffer>*) override {}
  Task<BodyRead> start_body(std::vector<asio::const_buffer>&, size_t) override {
    ++body_reads;
    co_return BodyRead::kComplete;
  }
  Task<BodyRead> read_body_piece(std::vector<asio::const_buffer>&) override {
    ++body_reads;
    co_return BodyRead::kComplete;
  }
  BodyProgress body_progress() const override { return {}; }
  void arm_upstream(Socket&, std::chrono::milliseconds) override {}
  bool disarm_upstream() override { return false; }
  Task<void> respond_with_status(int status, int) override {
    answered = status;
    co_return;
  }
  void begin_response_head(int status, std::string_view) override {
    head_status = status;
    ctx_.status = status;
  }
  void make_absolute(std::string& location) override { location.insert(0, "http://client"); }
  void add_response_header(std::string_view name, std::string_view value) override {
    headers.emplace_back(name, value);
  }
  void set_response_body(ResponseBody kind) override { body_kind = kind; }
  void end_response_head(bool) override { head_ended = true; }
  Task<bool> write_response(const char* base, std::span<const http::Span> pieces,
                            bool last) override {
    for (const auto& sp : pieces) body.append(base + sp.offset, sp.length);
    body_ended = last;
    co_return true;
  }
  Task<bool> end_response_body() override {
    body_ended = true;
    co_return true;
  }
  void close_after_response() override { closed = true; }
  void open_tunnel(Stream, std::shared_ptr<balancing::GroupPicker>, balancing::Lease,
                   std::chrono::steady_clock::duration, std::string) override {}

  int body_reads = 0;  ///< calls that asked for request body
  int answered = 0;    ///< status of an answer of the proxy's own
  int head_status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<ResponseBody> body_kind;
  bool head_ended = false;
  std::string body;
  bool body_ended = false;
  bool closed = false;

 private:
  RequestContext& ctx_;
};

/// A local port where nobody listens: connects to it are refused.
uint16_t closed_port() {
  asio::io_context probe;
  Acceptor acceptor(probe.get_executor(),
                    asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

/// One GET request for `/x?a=1` proxied by the only location of a conf whose
/// group `be` has one server, run to its end on a worker's io_context. With
/// `upstream_listens`, that server is `upstream()`, an acceptor on the context.
class ExchangeFixture {
 public:
  explicit ExchangeFixture(bool upstream_listens) {
    uint16_t port = 0;
    if (upstream_listens) {
      upstream_.emplace(worker_.context().get_executor(),
                        asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
      port = upstream_->local_endpoint().port();
    } else {
      port = closed_port();
    }
    config_ = test::config_from(
        "http { access_log off;\n  upstream be { server 127.0.0.1:" + std::to_string(port) +
        "; }\n  server { listen 127.0.0.1:8080;\n"
        "    location / { proxy_pass http://be; } } }");
    runtime_ = build_runtime(config_, 1, nullptr, 1);
    generation_.runtime = runtime_;
    for (const auto& group : runtime_->groups) {
      auto picker = std::make_shared<WorkerPicker>();
      picker->membership = group;
      picker->version = group->version();
      picker->picker = std::make_shared<balancing::GroupPicker>(group->snapshot(),
                                                                balancing::PickerMode::kIndexed, 1);
      generation_.pickers.push_back(std::move(picker));
    }
    head_.feed(kHead.data(), 0, kHead.size());
    conn_.id = 7;
    conn_.remote_addr = "127.0.0.1";
    ctx_.config = config_.get();
    ctx_.conn = ctx_.peer = &conn_;
    ctx_.base = kHead.data();
    ctx_.head = &head_;
    ctx_.method = "GET";
    ctx_.request_target = ctx_.request_uri = "/x?a=1";
    ctx_.args = "a=1";
    ctx_.protocol = "HTTP/1.1";
    ctx_.uri = "/x";
    ctx_.host = "example";
    ctx_.server = &config_->http.servers[0];
  }

  asio::io_context& context() { return worker_.context(); }
  Acceptor& upstream() { return *upstream_; }
  const RequestContext& request() const { return ctx_; }

  /// Runs the exchange, and whatever else was spawned on the context, to the end.
  RecordingClient run() {
    RecordingClient client(ctx_);
    const conf::ServerBlock& server = config_->http.servers[0];
    asio::co_spawn(context(),
                   UpstreamExchange::run(client, UpstreamRequest{worker_, generation_, server,
                                                                 buffers_, *server.locations[0]}),
                   rethrow);
    context().run();
    return client;
  }

  static void rethrow(std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  }

 private:
  static constexpr std::string_view kHead =
      "GET /x?a=1 HTTP/1.1\r\nHost: example\r\nX-Client: yes\r\n\r\n";
  Worker worker_{1};
  std::optional<Acceptor> upstream_;
  std::shared_ptr<const conf::Config> config_;
  std::shared_ptr<const Runtime> runtime_;
  WorkerGeneration generation_;
  UpstreamBuffers buffers_;
  http::HttpParser head_{http::MessageType::kRequest};
  ConnectionInfo conn_;
  RequestContext ctx_;
};

/// Accepts one connection, reads a request head into `seen`, answers `response`.
Task<void> answer_once(Acceptor& acceptor, std::string& seen, std::string response) {
  auto [ec, socket] = co_await acceptor.async_accept(kTuple);
  if (ec) co_return;
  char buf[4096];
  while (seen.find("\r\n\r\n") == std::string::npos) {
    auto [rec, n] = co_await socket.async_read_some(asio::buffer(buf), kTuple);
    if (rec) co_return;
    seen.append(buf, n);
  }
  co_await asio::async_write(socket, asio::buffer(response), kTuple);
}

TEST(UpstreamExchange, ForwardsTheUpstreamResponseThroughAnyClientSide) {
  ExchangeFixture x(/*upstream_listens=*/true);
  std::string seen;
  asio::co_spawn(x.context(),
                 answer_once(x.upstream(), seen,
                             "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Upstream: b\r\n"
                             "Connection: keep-alive\r\n\r\nhello"),
                 ExchangeFixture::rethrow);
  RecordingClient client = x.run();

  EXPECT_TRUE(seen.starts_with("GET /x?a=1 HTTP/1.0\r\n")) << seen;
  EXPECT_NE(seen.find("X-Client: yes\r\n"), std::string::npos) << seen;
  EXPECT_EQ(client.body_reads, 0);  // a GET has no body to ask the client for
  EXPECT_EQ(client.answered, 0);
  EXPECT_EQ(client.head_status, 200);
  // Hop-by-hop headers stay on the upstream's side of the exchange.
  const std::vector<std::pair<std::string, std::string>> expected{{"Content-Length", "5"},
                                                                  {"X-Upstream", "b"}};
  EXPECT_EQ(client.headers, expected);
  EXPECT_EQ(client.body_kind, ResponseBody::kLength);
  EXPECT_TRUE(client.head_ended);
  EXPECT_EQ(client.body, "hello");
  EXPECT_TRUE(client.body_ended);
  EXPECT_FALSE(client.closed);
  EXPECT_EQ(x.request().upstream_status, "200");
  EXPECT_EQ(x.request().body_bytes_sent, 5u);
}

TEST(UpstreamExchange, AnswersBadGatewayThroughTheClientSideWhenTheUpstreamRefuses) {
  ExchangeFixture x(/*upstream_listens=*/false);
  RecordingClient client = x.run();

  EXPECT_EQ(client.answered, 502);
  EXPECT_EQ(client.head_status, 0);
  EXPECT_FALSE(client.head_ended);
  EXPECT_EQ(x.request().upstream_status, "502");
}

}  // namespace
}  // namespace tg::proxy
