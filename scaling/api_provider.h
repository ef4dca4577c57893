// What every adapter of an HTTP API shares (kubernetes, docker, aws, digitalocean,
// webhook): each call is one coroutine that reads like the requests it makes, on one
// HttpClient, under one deadline for the whole call. The adapters keep only what is their
// API's own: paths, bodies, how answers and errors read.
#pragma once

#include <chrono>
#include <exception>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/fwd.hpp>

#include "scaling/http_client.h"
#include "scaling/provider.h"

namespace tg::scaling {

/// How an ApiProvider talks to its API.
struct ApiProviderOptions {
  std::string type;        ///< "kubernetes": errors read "kubernetes provider: ..."
  Millis timeout{30000};   ///< of each call, all its requests together: 30 s
  HttpClientOptions http;  ///< trust anchors, body cap
  /// The failed 4xx statuses worth a retry (every 5xx is): 408 Request Timeout, 409
  /// Conflict (someone else wrote in between) and 429 Too Many Requests. An API that
  /// answers 409 to a request that can never succeed leaves 409 out.
  std::vector<int> retryable_4xx = {408, 409, 429};
};

/// The options of one adapter. A function rather than designated initializers at the
/// call sites: GCC 12 at -O3 takes the defaulted strings of such a temporary for
/// uninitialized (-Wmaybe-uninitialized).
ApiProviderOptions api_options(std::string type, Millis timeout, HttpClientOptions http = {},
                               std::vector<int> retryable_4xx = {408, 409, 429});

/// A Provider whose calls are coroutines on an HTTP API.
///
/// A derived adapter starts each call with run(its_coroutine(new_call()), done). The base
/// then guarantees what Provider promises: `done` runs once, on the io_context, never
/// inside list()/add()/remove(); an exception that escapes becomes a retryable "internal
/// error"; shutdown() ends the calls in flight with a retryable "cancelled" (calls started
/// later run normally); destroying the provider drops the calls in flight: they never
/// resume and their callbacks never run, so a coroutine may use `this` freely.
class ApiProvider : public Provider {
 public:
  ~ApiProvider() override;
  ApiProvider(const ApiProvider&) = delete;
  ApiProvider& operator=(const ApiProvider&) = delete;

  /// Cancels the calls in flight: their requests and sleeps end, and they complete with
  /// a retryable "cancelled".
  void shutdown() override;

 protected:
  using Clock = std::chrono::steady_clock;
  /// An answer with any status, or why there is none, in the provider's words.
  using Reply = std::variant<HttpResponse, ProviderError>;

  /// One call of list(), add() or remove(), handed down its coroutines by value.
  class Call {
   public:
    /// The instant by which the call must be done: its start plus the timeout.
    Clock::time_point deadline() const;
    /// Whether shutdown() came while the call was in flight.
    bool cancelled() const;

   private:
    friend class ApiProvider;
    struct State;
    std::shared_ptr<State> state_;
  };

  /// Throws std::invalid_argument when `options.http`'s trust anchors cannot be loaded.
  ApiProvider(boost::asio::io_context& io, ApiProviderOptions options);

  /// A call starting now, known to shutdown() until its coroutine ends.
  Call new_call();

  /// Runs `work` and hands its result to `done`, unless the provider is gone by then. T is
  /// ProviderResult<...> or std::optional<ProviderError>.
  template <class T, class Done>
  void run(boost::asio::awaitable<T> work, Done done) {
    auto finish = [alive = std::weak_ptr<bool>(alive_), prefix = prefix_, done = std::move(done)](
                      std::exception_ptr escaped, T result) mutable {
      if (alive.expired()) return;  // whoever waited went with the provider
      if (escaped) result = T(ProviderError{prefix + "internal error: " + describe(escaped)});
      done(std::move(result));
    };
    boost::asio::co_spawn(io_, guarded(alive_, std::move(work)), std::move(finish));
  }

  /// Sends `request` within what is left of the call's time (and at most `cap`); `what`
  /// names the request in errors ("GET /path"). Any HTTP status is an answer; a failure
  /// is retryable: "cancelled", "timed out after <the call's timeout>", "connection
  /// refused", ...
  boost::asio::awaitable<Reply> send(HttpRequest request, std::string what, Call call,
                                     Millis cap = Millis::max());

  /// Waits `duration`; false, at once or when it comes, if shutdown() cancels the call.
  boost::asio::awaitable<bool> sleep(Call call, Millis duration);

  /// "PROVIDER provider: WHAT: TEXT" ("PROVIDER provider: TEXT" when `what` is empty).
  ProviderError error(const std::string& what, const std::string& text,
                      bool retryable = true) const;
  /// A failed answer: "PROVIDER provider: WHAT: HTTP n: DETAIL", where DETAIL is the API's
  /// own message, else the start of the body; retryable as retryable_status() says.
  ProviderError http_error(const std::string& what, const HttpResponse& response,
                           const std::string& detail = "") const;
  /// Whether a failed status is worth a retry: 5xx and ApiProviderOptions::retryable_4xx.
  bool retryable_status(int status) const;
  /// Each call's time limit, as configured.
  Millis timeout() const { return options_.timeout; }

 private:
  template <class T>
  static boost::asio::awaitable<T> guarded(std::weak_ptr<bool> alive,
                                           boost::asio::awaitable<T> work) {
    // The start is posted: the provider may be gone by then, and `work` would use it.
    if (alive.expired()) co_return T{};
    co_return co_await std::move(work);
  }
  static std::string describe(std::exception_ptr escaped);

  boost::asio::io_context& io_;
  ApiProviderOptions options_;
  std::string prefix_;                             // "kubernetes provider: "
  std::vector<std::weak_ptr<Call::State>> calls_;  // started, maybe ended since
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  HttpClient client_;  // last: destroyed first, dropping the calls that wait on it
};

/// `text` parsed as JSON, or null when it is not JSON: answers are checked field by field
/// anyway, and null has none.
boost::json::value parse_json_or_null(std::string_view text);

/// The member at the path `keys` below `v`, or nullptr where a step is missing or `v` is
/// not an object there.
const boost::json::value* json_at(const boost::json::value& v,
                                  std::initializer_list<std::string_view> keys);

/// The string at `keys` below `v` when it is a non-empty string, else "".
std::string json_text(const boost::json::value& v, std::initializer_list<std::string_view> keys);

}  // namespace tg::scaling
