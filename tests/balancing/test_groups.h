// Builders shared by the balancing tests: servers, groups, fake time, pick helpers.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "balancing/upstream.h"

namespace tg::balancing::testing {

using namespace std::chrono_literals;

/// Fake clock origin; tests add durations to it. The library never reads a real clock.
inline const TimePoint kStart = TimePoint{} + std::chrono::hours(1);

inline ServerConfig server(std::string name, int weight = 1) {
  ServerConfig config;
  config.name = std::move(name);
  config.weight = weight;
  return config;
}

inline ServerConfig backup(std::string name, int weight = 1) {
  ServerConfig config = server(std::move(name), weight);
  config.backup = true;
  return config;
}

inline std::shared_ptr<const UpstreamGroup> group(Algorithm algorithm,
                                                  std::vector<ServerConfig> servers,
                                                  std::size_t worker_slots = 1) {
  return make_group("backend", algorithm, servers, worker_slots);
}

inline std::shared_ptr<const UpstreamGroup> group(BalancerConfig balancer,
                                                  std::vector<ServerConfig> servers,
                                                  std::size_t worker_slots = 1) {
  return make_group("backend", std::move(balancer), servers, worker_slots);
}

/// A BalancerConfig for `algorithm` with defaults otherwise.
inline BalancerConfig balancer(Algorithm algorithm) {
  BalancerConfig config;
  config.algorithm = algorithm;
  return config;
}

/// A server with slow_start.
inline ServerConfig slow_server(std::string name, int weight, std::chrono::milliseconds ramp) {
  ServerConfig config = server(std::move(name), weight);
  config.slow_start = ramp;
  return config;
}

/// The peer named `name` in the picker's group.
inline Peer& peer(const GroupPicker& picker, std::string_view name) {
  auto p = picker.group().find(name);
  if (!p) throw std::runtime_error("no peer " + std::string(name));
  return *p;
}

/// One request: pick, release with `outcome`; the picked name or "-" when none.
inline std::string pick_once(GroupPicker& picker, TimePoint now,
                             Outcome outcome = Outcome::kSuccess, const PickInput& input = {}) {
  Attempt attempt;
  auto lease = picker.pick(attempt, now, input);
  if (!lease) return "-";
  std::string name = lease->peer().name();
  lease->release(outcome, now);
  return name;
}

/// One request with `input`, released as success.
inline std::string pick_with(GroupPicker& picker, const PickInput& input, TimePoint now = kStart) {
  return pick_once(picker, now, Outcome::kSuccess, input);
}

/// PickInput with a hash key.
inline PickInput key(std::string_view k) {
  PickInput input;
  input.hash_key = k;
  return input;
}

/// PickInput with a sticky cookie value / route.
inline PickInput sticky(std::string_view id) {
  PickInput input;
  input.sticky = id;
  return input;
}

/// One request whose response took `header` (and `last_byte`, default the same),
/// released at `now`; the picked name.
inline std::string pick_timed(GroupPicker& picker, TimePoint now, Clock::duration header,
                              std::optional<Clock::duration> last_byte = std::nullopt) {
  Attempt attempt;
  auto lease = picker.pick(attempt, now);
  if (!lease) return "-";
  std::string name = lease->peer().name();
  lease->release(Outcome::kSuccess, now, ResponseTimes{header, last_byte.value_or(header)});
  return name;
}

/// `n` requests released as success; names concatenated (single-letter names read well).
inline std::string sequence(GroupPicker& picker, int n, TimePoint now) {
  std::string out;
  for (int i = 0; i < n; ++i) out += pick_once(picker, now);
  return out;
}

/// Releases a lease on exactly `name` with response times: teaches least_time/peak_ewma.
inline void record(GroupPicker& picker, std::string_view name, TimePoint now,
                   Clock::duration header, std::optional<Clock::duration> last_byte = std::nullopt);

/// A lease on exactly `name`, taken by marking every other peer tried.
inline Lease hold(GroupPicker& picker, std::string_view name, TimePoint now) {
  Attempt attempt;
  for (const auto* tier : {&picker.group().primaries(), &picker.group().backups()}) {
    for (const auto& p : *tier) {
      if (p->name() != name) attempt.mark_tried(*p);
    }
  }
  auto lease = picker.pick(attempt, now);
  if (!lease || lease->peer().name() != name) {
    throw std::runtime_error("could not hold " + std::string(name));
  }
  return std::move(*lease);
}

inline void record(GroupPicker& picker, std::string_view name, TimePoint now,
                   Clock::duration header, std::optional<Clock::duration> last_byte) {
  hold(picker, name, now)
      .release(Outcome::kSuccess, now, ResponseTimes{header, last_byte.value_or(header)});
}

/// Picks per server name over `n` requests made by `request(i)` (returns the name).
template <typename Request>
std::map<std::string, int> tally(int n, Request request) {
  std::map<std::string, int> counts;
  for (int i = 0; i < n; ++i) ++counts[request(i)];
  return counts;
}

}  // namespace tg::balancing::testing
