// The one interface every provider adapter implements: list, add(n), remove(instances).
// Calls are asynchronous on the control thread: each completes once, through its
// callback, on that thread; the autoscaler bounds each in time and retries failures.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "scaling/spec.h"

namespace tg::scaling {

/// An instance a provider runs: its own id and the address it serves on.
struct Instance {
  std::string id;       ///< the provider's name for it (pid, pod, container, EC2 id)
  std::string address;  ///< "host:port" as an upstream `server` line takes it
  bool operator==(const Instance&) const = default;
};

/// What a call failed with, for the log and the API ("HTTP 409: conflict", "timed out").
struct ProviderError {
  std::string message;
  bool retryable = true;  ///< false: the request itself is wrong (a 4xx other than 409/429)
};

template <class T>
using ProviderResult = std::variant<T, ProviderError>;

/// Adds and removes the instances behind one upstream group.
///
/// Two kinds (DESIGN.md): an *instance* provider creates instances with their own
/// addresses, which join the group as servers, and removes exactly the ones it is
/// given; a *capacity* provider only sets a count behind one address (App Platform,
/// Cloud Run): its list() reports that address once per running instance and
/// remove() lowers the count by the number given.
class Provider {
 public:
  enum class Kind { kInstances, kCapacity };
  using ListDone = std::function<void(ProviderResult<std::vector<Instance>>)>;
  using RemoveDone = std::function<void(std::optional<ProviderError>)>;

  virtual ~Provider() = default;
  virtual Kind kind() const { return Kind::kInstances; }
  /// "local", "exec", ...
  virtual std::string type() const = 0;
  /// Its instances end with it (the `local` provider's child processes): a group that
  /// loses its `autoscale` block at a reload must not keep their servers.
  virtual bool instances_end_with_provider() const { return false; }

  /// Every instance that exists now.
  virtual void list(ListDone done) = 0;
  /// Creates `n` instances; `done` gets the new ones (address known).
  virtual void add(int n, ListDone done) = 0;
  /// Deletes these instances (already drained and out of the group).
  virtual void remove(std::vector<Instance> instances, RemoveDone done) = 0;
  /// Cancels what is in flight; instances the provider owns for this process only
  /// (the `local` provider's children) are stopped. Called at exit.
  virtual void shutdown() {}
};

/// What an adapter is built with.
struct ProviderContext {
  boost::asio::io_context& control;  ///< the control thread's loop; callbacks run on it
  std::string group;                 ///< the upstream group's name
};

/// Parses a duration parameter ("30s", "500ms", "2m", "1h"; a bare number is seconds),
/// or throws std::invalid_argument("invalid value \"x\" of \"key=\"").
Millis provider_duration(const std::string& key, const std::string& value);

/// Builds the adapter `spec` names, or throws std::invalid_argument with the message an
/// [emerg] shows ("unknown provider \"x\"", "provider \"local\" needs command=").
/// Every adapter bounds each call by its `timeout=` parameter (default 30 s): a call
/// that runs longer completes with a retryable "timed out" error and what it started
/// (a child process, a connection) is stopped.
std::unique_ptr<Provider> make_provider(const ProviderSpec& spec, const ProviderContext& context);

}  // namespace tg::scaling
