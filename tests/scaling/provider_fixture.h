// What the adapters' tests share: a fixture that runs a provider's asynchronous calls to
// completion on the test's io_context (the one the fakes serve on), and unpacks results
// so that a call that fails, or succeeds, when it should not fails the test.
#pragma once

#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "scaling/provider.h"

namespace tg::scaling {

/// A provider's parameters, as a `provider` line gives them.
using Params = std::vector<std::pair<std::string, std::string>>;
/// What list() and add() complete with.
using Listed = ProviderResult<std::vector<Instance>>;

/// `base` with each of `overrides` in place of the parameters of its name, except keys in
/// `repeatable` (docker's env=), whose values add to those of `base`.
Params override_params(Params base, const Params& overrides,
                       std::initializer_list<std::string_view> repeatable = {});

/// A test of one adapter: calls run on `io` until they complete, at most 10 s each.
class ProviderFixture : public ::testing::Test {
 protected:
  /// Tests the adapter of `type` ("kubernetes").
  explicit ProviderFixture(std::string type) : type_(std::move(type)) {}

  /// The adapter built from `params` as a `provider TYPE ...` line builds it.
  std::unique_ptr<Provider> make(Params params);
  /// What building the adapter from `params` threw (the [emerg] text), or "(accepted)".
  std::string refusal(Params params);

  /// list(), run to completion.
  Listed list(Provider& p);
  /// add(n), run to completion.
  Listed add(Provider& p, int n);
  /// remove(instances), run to completion.
  std::optional<ProviderError> remove(Provider& p, std::vector<Instance> instances);

  /// Provider's promise that a callback never runs inside the call that takes it:
  /// list(), add(0) and remove({}) must each call back later, from `io`.
  void expect_callbacks_after_the_calls(Provider& p);

  /// Provider's promise that destroying it drops the calls in flight: after `p` is
  /// destroyed and `io` has run on for `settle`, `called` (set by their callbacks) is
  /// still false.
  void expect_destruction_drops_callbacks(std::unique_ptr<Provider>& p, const bool& called,
                                          std::chrono::milliseconds settle);

  /// The instances, or none and a test failure when the call failed.
  static std::vector<Instance> instances(const Listed& result);
  /// The error, or a test failure when the call succeeded.
  static ProviderError error(const Listed& result);

  boost::asio::io_context io;

 private:
  std::string type_;
};

}  // namespace tg::scaling
