// The autoscaler's loop on the control thread: every `interval` it reads a group's
// metric windows, asks its PolicyEngine, and carries the decision out through the
// group's provider and GroupMembership: new instances join (checking first when the
// group has health checks), victims drain before they are removed and deleted.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "balancing/membership.h"
#include "balancing/metrics_collector.h"
#include "scaling/policy.h"
#include "scaling/provider.h"
#include "scaling/schedule.h"

namespace tg::scaling {

class GroupScaler;

/// One entry of a group's bounded event history (the API and the dashboard show them).
struct ScalingEvent {
  std::chrono::system_clock::time_point time;
  std::string kind;  ///< "scale_out", "scale_in", "hold", "instance", "provider_error", ...
  int from = 0, to = 0;
  std::string cause;  ///< Decision::cause, or the provider call that failed
  std::string message;
  std::vector<std::pair<std::string, double>> values;
};

/// The autoscaler of every group with an `autoscale` block.
class Autoscaler {
 public:
  /// A group to scale: its membership and its block.
  struct Group {
    std::shared_ptr<balancing::GroupMembership> membership;
    AutoscaleSpec spec;
    /// The `server` settings new instances get (weight, slow_start, max_fails, ...);
    /// their name and endpoint come from the provider.
    balancing::ServerConfig server_template;
  };

  /// `make_provider` builds adapters (tests inject fakes); by default scaling's factory.
  using ProviderFactory =
      std::function<std::unique_ptr<Provider>(const ProviderSpec&, const ProviderContext&)>;

  Autoscaler(boost::asio::io_context& control, const balancing::MetricsCollector& metrics,
             ProviderFactory factory = make_provider);
  ~Autoscaler();

  /// Start and reload: a group whose provider is unchanged keeps it and its instances
  /// (policies and bounds take the new block); a group that lost its block, or whose
  /// provider changed, is stopped (its provider's own processes end). Throws
  /// std::invalid_argument when a provider cannot be built (start only: a reload checks
  /// providers before).
  void configure(std::vector<Group> groups);
  /// Stops every loop and provider (exit).
  void stop();

  /// The API's view: one object per group (bounds, counts, instances, recent events).
  boost::json::value status() const;
  /// What Prometheus shows of one group.
  struct Summary {
    std::string group;
    int current = 0, desired = 0, min = 0, max = 0;
    /// Events counted by (kind, cause): scale_out/policy, hold/cooldown, provider_error/add.
    std::map<std::pair<std::string, std::string>, std::uint64_t> events;
  };
  std::vector<Summary> summaries() const;

 private:
  boost::asio::io_context& control_;
  const balancing::MetricsCollector& metrics_;
  ProviderFactory factory_;
  std::map<std::string, std::unique_ptr<GroupScaler>, std::less<>> groups_;
};

}  // namespace tg::scaling
