// Builders shared by the balancing tests: servers, groups, fake time, pick helpers.
#pragma once

#include <chrono>
#include <memory>
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

/// The peer named `name` in the picker's group.
inline Peer& peer(const GroupPicker& picker, std::string_view name) {
  auto p = picker.group().find(name);
  if (!p) throw std::runtime_error("no peer " + std::string(name));
  return *p;
}

/// One request: pick, release with `outcome`; the picked name or "-" when none.
inline std::string pick_once(GroupPicker& picker, TimePoint now,
                             Outcome outcome = Outcome::kSuccess) {
  Attempt attempt;
  auto lease = picker.pick(attempt, now);
  if (!lease) return "-";
  std::string name = lease->peer().name();
  lease->release(outcome, now);
  return name;
}

/// `n` requests released as success; names concatenated (single-letter names read well).
inline std::string sequence(GroupPicker& picker, int n, TimePoint now) {
  std::string out;
  for (int i = 0; i < n; ++i) out += pick_once(picker, now);
  return out;
}

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

}  // namespace tg::balancing::testing
