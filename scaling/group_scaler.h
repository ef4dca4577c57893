// One upstream group's autoscaler: its tick, its provider's instances and their life
// in the group (joining, serving, draining, deleting), its event history.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "balancing/membership.h"
#include "balancing/metrics_collector.h"
#include "scaling/autoscaler.h"
#include "scaling/policy.h"
#include "scaling/provider.h"
#include "scaling/schedule.h"

namespace tg::scaling {

class PrometheusQuery;

/// The loop of one group (Autoscaler owns one per `autoscale` block).
///
/// Only one provider call is in flight at a time (add, remove or list), so the group
/// and the provider never disagree half-way: an instance joins the group only once
/// the provider reported it, and leaves the provider only once it left the group.
class GroupScaler {
 public:
  GroupScaler(boost::asio::io_context& control, const balancing::MetricsCollector& metrics,
              Autoscaler::Group group, std::unique_ptr<Provider> provider);
  ~GroupScaler();

  /// A reload with the same provider: new policies and bounds, same instances.
  void reconfigure(Autoscaler::Group group);
  /// Stops the loop and the provider.
  void stop();
  /// A reload dropped the block (or changed the provider): stops, and takes out of the
  /// group the servers whose instances end with the provider (they would only fail).
  void retire();

  const ProviderSpec& provider_spec() const noexcept { return group_.spec.provider; }
  boost::json::object status() const;
  Autoscaler::Summary summary() const;

 private:
  /// An instance the provider runs, and where it is in the group.
  struct Managed {
    enum class State { kServing, kDraining, kDeleting };
    Instance instance;
    std::uint64_t server = 0;  ///< its id in the group (kServing, kDraining)
    State state = State::kServing;
    TimePoint drain_started{};
  };
  class Metrics;

  void schedule_tick();
  void tick();
  /// A capacity provider (one address, a count behind it).
  bool capacity() const;
  std::vector<std::uint64_t> ready_servers(TimePoint now);
  void sample_websocket_messages(TimePoint now);
  void fire_schedules();
  /// Takes `server` out of the group unless another instance still uses it.
  void release_server(std::uint64_t server, const Managed& leaving);
  void act(const Decision& d, TimePoint now);
  void scale_out(int n);
  void scale_in(int n, TimePoint now);
  void advance_drains(TimePoint now);
  void delete_next();
  void reconcile();
  /// Puts a reported instance into the group (or adopts the server already there).
  void join(const Instance& instance, TimePoint now);
  void provider_failed(const std::string& call, const ProviderError& e);
  void provider_succeeded();
  void poll_external();
  void record(ScalingEvent event, bool log_it = true);
  void note_decision(const Decision& d);

  boost::asio::io_context& control_;
  const balancing::MetricsCollector& collector_;
  Autoscaler::Group group_;
  std::unique_ptr<Provider> provider_;
  std::unique_ptr<PolicyEngine> engine_;
  std::unique_ptr<Schedules> schedules_;
  boost::asio::steady_timer timer_;
  std::vector<Managed> managed_;
  std::map<std::uint64_t, TimePoint> up_since_;  ///< server id -> first seen up (warm-up)
  /// Each server's (time, WebSocket messages) over the last 10 s, and the rates.
  std::map<std::uint64_t, std::deque<std::pair<TimePoint, std::uint64_t>>> ws_samples_;
  std::map<std::uint64_t, double> ws_rates_;
  bool busy_ = false;        ///< a provider call is in flight
  int adding_ = 0;           ///< instances an add() in flight will bring
  bool reconciled_ = false;  ///< the first list() answered (no action before)
  TimePoint next_reconcile_{};
  TimePoint retry_at_{};  ///< after a provider failure, no call before this
  std::chrono::seconds backoff_{0};
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  // External metrics: the latest value of each `metric` and when it was read.
  struct External {
    ExternalMetric spec;
    std::unique_ptr<PrometheusQuery> query;
    std::optional<double> value;
    TimePoint read_at{};
    TimePoint next_poll{};
    bool in_flight = false;
    std::string error;
  };
  std::vector<External> external_;

  Decision last_;
  std::string last_hold_key_;
  std::deque<ScalingEvent> events_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> counts_;  ///< (kind, cause)
};

}  // namespace tg::scaling
