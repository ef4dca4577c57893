// Each call waits on its own slot, so that a callback that never comes shows as "no answer".
#include "tests/scaling/provider_fixture.h"

#include <algorithm>
#include <stdexcept>

#include "tests/scaling/fake_http_server.h"

namespace tg::scaling {

Params override_params(Params base, const Params& overrides,
                       std::initializer_list<std::string_view> repeatable) {
  for (const auto& [key, value] : overrides) {
    if (std::find(repeatable.begin(), repeatable.end(), key) == repeatable.end()) {
      std::erase_if(base, [&](const auto& old) { return old.first == key; });
    }
    base.emplace_back(key, value);
  }
  return base;
}

std::unique_ptr<Provider> ProviderFixture::make(Params params) {
  return make_provider(ProviderSpec{type_, std::move(params)}, {io, "api"});
}

std::string ProviderFixture::refusal(Params params) {
  try {
    make(std::move(params));
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(accepted)";
}

Listed ProviderFixture::list(Provider& p) {
  std::optional<Listed> result;
  p.list([&](Listed r) { result = std::move(r); });
  run_until(io, result);
  return result.value_or(ProviderError{"no answer"});
}

Listed ProviderFixture::add(Provider& p, int n) {
  std::optional<Listed> result;
  p.add(n, [&](Listed r) { result = std::move(r); });
  run_until(io, result);
  return result.value_or(ProviderError{"no answer"});
}

std::optional<ProviderError> ProviderFixture::remove(Provider& p, std::vector<Instance> instances) {
  std::optional<std::optional<ProviderError>> result;
  p.remove(std::move(instances), [&](std::optional<ProviderError> r) { result = std::move(r); });
  run_until(io, result);
  return result.value_or(ProviderError{"no answer"});
}

void ProviderFixture::expect_callbacks_after_the_calls(Provider& p) {
  bool listed = false, added = false, removed = false;
  p.list([&](Listed) { listed = true; });
  p.add(0, [&](Listed) { added = true; });
  p.remove({}, [&](std::optional<ProviderError>) { removed = true; });
  EXPECT_FALSE(listed || added || removed);
  run_until(io, [&] { return listed && added && removed; });
}

void ProviderFixture::expect_destruction_drops_callbacks(std::unique_ptr<Provider>& p,
                                                         const bool& called,
                                                         std::chrono::milliseconds settle) {
  p.reset();
  io.restart();
  io.run_for(settle);
  EXPECT_FALSE(called);
}

std::vector<Instance> ProviderFixture::instances(const Listed& result) {
  if (const auto* e = std::get_if<ProviderError>(&result)) {
    ADD_FAILURE() << "error: " << e->message;
    return {};
  }
  return std::get<std::vector<Instance>>(result);
}

ProviderError ProviderFixture::error(const Listed& result) {
  if (const auto* e = std::get_if<ProviderError>(&result)) return *e;
  ADD_FAILURE() << "succeeded with " << std::get<std::vector<Instance>>(result).size()
                << " instances";
  return {"(none)", false};
}

}  // namespace tg::scaling
