// A call's state is shared by its coroutines (by value, in their frames) and watched by
// the provider through a weak pointer: a call that ends simply lets go of it, so nothing
// has to reach back into a provider that may be gone by then.
#include "scaling/api_provider.h"

#include <algorithm>
#include <boost/asio/async_result.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

namespace tg::scaling {

namespace asio = boost::asio;
namespace json = boost::json;

struct ApiProvider::Call::State {
  Clock::time_point deadline;
  bool cancelled = false;
  std::shared_ptr<asio::steady_timer> timer;  // while sleep()ing, for shutdown()
};

ApiProvider::Clock::time_point ApiProvider::Call::deadline() const {
  return state_->deadline;
}

bool ApiProvider::Call::cancelled() const {
  return state_->cancelled;
}

ApiProviderOptions api_options(std::string type, Millis timeout, HttpClientOptions http,
                               std::vector<int> retryable_4xx) {
  ApiProviderOptions o;
  o.type = std::move(type);
  o.timeout = timeout;
  o.http = std::move(http);
  o.retryable_4xx = std::move(retryable_4xx);
  return o;
}

ApiProvider::ApiProvider(asio::io_context& io, ApiProviderOptions options)
    : io_(io),
      options_(std::move(options)),
      prefix_(options_.type + " provider: "),
      client_(io, options_.http) {}

ApiProvider::~ApiProvider() {
  alive_.reset();
  // Their handlers run soon, see the provider gone and drop the calls without resuming.
  for (const auto& weak : calls_) {
    if (const auto state = weak.lock(); state && state->timer) state->timer->cancel();
  }
}

ApiProvider::Call ApiProvider::new_call() {
  std::erase_if(calls_, [](const auto& weak) { return weak.expired(); });
  Call call;
  call.state_ = std::make_shared<Call::State>();
  call.state_->deadline = Clock::now() + options_.timeout;
  calls_.push_back(call.state_);
  return call;
}

void ApiProvider::shutdown() {
  for (const auto& weak : calls_) {
    const auto state = weak.lock();
    if (!state) continue;
    state->cancelled = true;
    if (state->timer) state->timer->cancel();
  }
  calls_.clear();  // all cancelled: calls that start later are not
  client_.cancel_all();
}

asio::awaitable<ApiProvider::Reply> ApiProvider::send(HttpRequest request, std::string what,
                                                      Call call, Millis cap) {
  if (call.cancelled()) co_return error(what, "cancelled");
  const auto left = std::chrono::ceil<Millis>(call.deadline() - Clock::now());
  if (left <= Millis(0)) co_return error(what, "timed out after " + format_timeout(timeout()));
  const Millis limit = std::min(left, cap);
  HttpResult result = co_await client_.async_send(std::move(request), limit, asio::use_awaitable);
  if (auto* text = std::get_if<std::string>(&result)) {
    // The operator configured the call's timeout, not what was left of it for this request.
    if (limit == left && text->starts_with("timed out")) {
      *text = "timed out after " + format_timeout(timeout());
    }
    co_return error(what, *text);
  }
  co_return std::get<HttpResponse>(std::move(result));
}

asio::awaitable<bool> ApiProvider::sleep(Call call, Millis duration) {
  if (call.cancelled()) co_return false;
  auto timer = std::make_shared<asio::steady_timer>(io_, duration);
  call.state_->timer = timer;
  // Named, not a temporary of the co_await expression: GCC 12 destroys those twice.
  const auto start = [timer, alive = std::weak_ptr<bool>(alive_)](auto handler) {
    timer->async_wait(
        [timer, alive, handler = std::move(handler)](boost::system::error_code) mutable {
          // Dropping the handler unrun ends the coroutine without resuming it.
          if (!alive.expired()) std::move(handler)();
        });
  };
  co_await asio::async_initiate<const asio::use_awaitable_t<>, void()>(start, asio::use_awaitable);
  call.state_->timer.reset();
  co_return !call.cancelled();
}

ProviderError ApiProvider::error(const std::string& what, const std::string& text,
                                 bool retryable) const {
  return {prefix_ + (what.empty() ? "" : what + ": ") + text, retryable};
}

ProviderError ApiProvider::http_error(const std::string& what, const HttpResponse& response,
                                      const std::string& detail) const {
  std::string text = "HTTP " + std::to_string(response.status);
  if (!detail.empty()) {
    text += ": " + detail;
  } else if (!response.body.empty()) {
    text += ": " + body_excerpt(response.body);
  }
  return error(what, text, retryable_status(response.status));
}

bool ApiProvider::retryable_status(int status) const {
  const auto& listed = options_.retryable_4xx;
  return status >= 500 || std::find(listed.begin(), listed.end(), status) != listed.end();
}

std::string ApiProvider::describe(std::exception_ptr escaped) {
  try {
    std::rethrow_exception(escaped);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

json::value parse_json_or_null(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value() : v;
}

const json::value* json_at(const json::value& v, std::initializer_list<std::string_view> keys) {
  const json::value* at = &v;
  for (const std::string_view key : keys) {
    const json::object* object = at->if_object();
    at = object ? object->if_contains(key) : nullptr;
    if (!at) return nullptr;
  }
  return at;
}

std::string json_text(const json::value& v, std::initializer_list<std::string_view> keys) {
  const json::value* at = json_at(v, keys);
  return at && at->is_string() ? std::string(at->as_string()) : std::string();
}

}  // namespace tg::scaling
