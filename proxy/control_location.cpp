// Locations answered by the control thread (control_plane.h): the worker reads
// the request and its body, hands them to the control thread and writes the
// answer when it comes back. The connection's coroutine simply waits meanwhile.
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "proxy/exchange.h"
#include "proxy/session.h"

namespace tg::proxy {

namespace asio = boost::asio;

namespace {

/// Runs `request` on the control thread; completes on the caller's executor.
template <typename Token>
auto async_control(ControlPlane& control, ControlRequest request, Token&& token) {
  return asio::async_initiate<Token, void(ControlResponse)>(
      [&control](auto handler, ControlRequest request) {
        auto executor = asio::get_associated_executor(handler);
        // std::function needs a copyable callable: the handler and the guard that
        // keeps the worker's loop alive while it waits are shared.
        auto state = std::make_shared<
            std::pair<decltype(handler), asio::executor_work_guard<decltype(executor)>>>(
            std::move(handler), asio::make_work_guard(executor));
        control.handle(std::move(request), [state](ControlResponse response) {
          auto ex = state->second.get_executor();
          asio::post(ex, [state, response = std::move(response)]() mutable {
            std::move(state->first)(std::move(response));
          });
        });
      },
      token, std::move(request));
}

constexpr int64_t kMaxControlBody = 1 << 20;

}  // namespace

Task<bool> ClientSession::read_body(std::string& out, int64_t limit, int redirects) {
  std::vector<asio::const_buffer> pieces;
  for (;;) {
    pieces.clear();
    const BodyRead read = co_await read_body_piece(pieces);
    if (read == BodyRead::kClosed || read == BodyRead::kInvalid) {
      if (read == BodyRead::kInvalid) co_await respond_error(400, redirects);
      co_return false;
    }
    for (const auto& p : pieces) out.append(static_cast<const char*>(p.data()), p.size());
    if (static_cast<int64_t>(out.size()) > limit) {
      keep_alive_ = false;
      co_await respond_error(413, redirects);
      co_return false;
    }
    if (read == BodyRead::kComplete) co_return true;
  }
}

Task<void> ClientSession::serve_control(const conf::Location& loc, int redirects) {
  auto& ctx = x_->ctx;
  ControlPlane* control = worker_.control();
  if (control == nullptr) {
    co_await respond_error(500, redirects);
    co_return;
  }
  ControlRequest request;
  request.handler = *loc.control;
  request.method = std::string(ctx.method);
  request.location = loc.pattern;
  request.path = ctx.uri;
  request.args = std::string(ctx.args);
  request.client = client_addr();
  const int64_t limit = std::min<int64_t>(kMaxControlBody, loc.settings.client_max_body_size > 0
                                                               ? loc.settings.client_max_body_size
                                                               : kMaxControlBody);
  if (!co_await read_body(request.body, limit, redirects)) co_return;
  ControlResponse response =
      co_await async_control(*control, std::move(request), asio::use_awaitable_t<Executor>{});
  if (response.status >= 500 && response.body.empty()) {  // nginx's page, error_page
    co_await respond_error(response.status, redirects);
    co_return;
  }
  std::string extra;
  for (const auto& h : response.headers) extra += h + "\r\n";
  co_await respond(response.status, response.body, response.content_type, {}, redirects, extra);
}

}  // namespace tg::proxy
