// The control thread's side of the admin surface: the NGINX Plus–compatible API,
// Prometheus metrics and the dashboard, answered for requests that workers hand
// over (proxy/control_plane.h), and the once-a-second sampling of every server
// into rolling windows.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "balancing/metrics_collector.h"
#include "proxy/control_plane.h"
#include "proxy/runtime.h"
#include "proxy/zone_stats.h"
#include "scaling/autoscaler.h"

namespace tg::admin {

/// Everything the API reads, as of one moment on the control thread.
struct AdminState {
  std::shared_ptr<const proxy::Runtime> runtime;
  const balancing::MetricsCollector* metrics = nullptr;
  std::vector<const proxy::WorkerCounters*> workers;
  std::uint64_t generation = 1;  ///< configuration generations loaded (reloads + 1)
  std::chrono::system_clock::time_point load_time;
  /// Statistics reset through the API (DELETE): values subtracted from what is reported.
  std::map<std::uint64_t, balancing::ServerStatsSnapshot>* peer_baselines = nullptr;
  std::map<std::string, balancing::ServerStatsSnapshot, std::less<>>* zone_baselines = nullptr;
  /// The autoscaler (nullptr: none configured yet).
  const scaling::Autoscaler* autoscaler = nullptr;

  /// The workers' connection and request counters, summed.
  struct Totals {
    std::uint64_t accepted = 0, dropped = 0, requests = 0;
    std::int64_t active = 0, idle = 0, current = 0;
  };
  Totals totals() const {
    Totals t;
    for (const auto* w : workers) {
      t.accepted += w->accepted.load(std::memory_order_relaxed);
      t.dropped += w->dropped.load(std::memory_order_relaxed);
      t.requests += w->requests.load(std::memory_order_relaxed);
      t.active += w->active.load(std::memory_order_relaxed);
      t.idle += w->idle.load(std::memory_order_relaxed);
      t.current += w->current.load(std::memory_order_relaxed);
    }
    return t;
  }

  /// Idle upstream keep-alive connections of `group` in every worker's pool.
  std::int64_t keepalive(std::string_view group) const {
    std::int64_t n = 0;
    for (const auto* w : workers) n += w->keepalive.idle(group);
    return n;
  }
};

class AdminService : public proxy::ControlPlane {
 public:
  explicit AdminService(boost::asio::io_context& control);
  ~AdminService() override;

  /// The generation now serving (after start and every reload).
  void set_runtime(std::shared_ptr<const proxy::Runtime> runtime, std::uint64_t generation);
  /// The workers whose counters /connections and /http/requests sum.
  void set_workers(std::vector<const proxy::WorkerCounters*> workers);
  /// The autoscaler whose state /api/N/tidegate/autoscale and Prometheus show.
  void set_autoscaler(const scaling::Autoscaler* autoscaler) { autoscaler_ = autoscaler; }
  /// Starts sampling once a second (on the control thread).
  void start();
  void stop();

  void handle(proxy::ControlRequest request,
              std::function<void(proxy::ControlResponse)> done) override;

  const balancing::MetricsCollector& metrics() const { return metrics_; }

 private:
  proxy::ControlResponse dispatch(const proxy::ControlRequest& request);
  void tick();

  boost::asio::io_context& control_;
  boost::asio::steady_timer timer_;
  balancing::MetricsCollector metrics_;
  std::shared_ptr<const proxy::Runtime> runtime_;
  std::vector<const proxy::WorkerCounters*> workers_;
  std::uint64_t generation_ = 1;
  std::chrono::system_clock::time_point load_time_;
  std::map<std::uint64_t, balancing::ServerStatsSnapshot> peer_baselines_;
  std::map<std::string, balancing::ServerStatsSnapshot, std::less<>> zone_baselines_;
  const scaling::Autoscaler* autoscaler_ = nullptr;
  bool running_ = false;
};

}  // namespace tg::admin
