// The active health checker (NGINX Plus's ngx_http_upstream_hc_module): every
// `health_check` of the configuration probes each server of its group every
// `interval` (plus up to `jitter`), on the control thread's io_context, never
// on a worker. A probe connects (and for HTTP checks sends the location's
// request and reads the answer through http::HttpParser), with the check's
// timeouts as deadlines: a hung server is a failed check, not a stuck checker.
//
// One timer ticks every 25 ms: it starts the checks that are due and closes the
// sockets of steps past their deadline. Every 200 ms it also follows membership
// changes and runs each group's outlier detection (`outlier_detection`).
//
// Verdicts go to the servers' Peers (unhealthy, checking), which the workers'
// pickers read: a server is healthy only if it passes all checks of its group.
// Check traffic is not counted in the servers' request statistics; it has its
// own counters (Peer::health(), the API's `health_checks`).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "balancing/membership.h"
#include "conf/config.h"
#include "health/check_state.h"
#include "health/match.h"
#include "health/outlier.h"

namespace tg::health {

class Checker {
 public:
  explicit Checker(boost::asio::io_context& io);
  ~Checker();
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  /// Runs the checks of `config` against `groups` (the same index as
  /// config->http.upstreams), replacing the previous generation's. Servers keep
  /// their states (on their Peers); the consecutive counts start again.
  void configure(std::shared_ptr<const conf::Config> config,
                 std::vector<std::shared_ptr<balancing::GroupMembership>> groups);
  /// Stops every probe (shutdown).
  void stop();
  /// Probes running: one per check and server.
  size_t probes() const { return probes_.size(); }

 private:
  struct Probe;
  using Key = std::pair<size_t, std::uint64_t>;  ///< check index, server id

  /// Starts probes for servers new to a checked group, stops those of servers gone;
  /// runs outlier detection.
  void reconcile();
  /// Starts the checks that are due, enforces deadlines; re-arms itself.
  void tick();
  void schedule(const std::shared_ptr<Probe>& p, std::chrono::steady_clock::time_point at);
  void start_probe(size_t check, std::shared_ptr<balancing::Peer> peer);
  /// One check of `probe` and its verdict.
  boost::asio::awaitable<void> run(std::shared_ptr<Probe> probe);
  /// One check; false with `stage` and `error` (for the log) when it failed.
  boost::asio::awaitable<bool> check_once(Probe& p, std::string& stage, std::string& error);
  /// type=websocket: checks the 101 answer, then closes the WebSocket cleanly.
  boost::asio::awaitable<bool> close_websocket(Probe& p, const CheckResponse& r,
                                               const std::string& key, std::string pending,
                                               std::string& stage, std::string& error);
  void apply(Probe& p, bool passed, const std::string& stage, const std::string& error);
  std::chrono::milliseconds jitter(std::chrono::milliseconds max);

  boost::asio::io_context& io_;
  boost::asio::steady_timer tick_timer_;
  std::uint64_t ticks_ = 0;
  std::shared_ptr<const conf::Config> config_;
  std::vector<std::shared_ptr<balancing::GroupMembership>> groups_;
  std::vector<std::uint64_t> versions_;  ///< per check: the group version reconciled
  std::map<Key, std::shared_ptr<Probe>> probes_;
  /// Probes by the time of their next check (stopped ones are skipped when due).
  struct Due {
    std::chrono::steady_clock::time_point at;
    std::uint64_t seq;  ///< keeps equal times in order
    std::shared_ptr<Probe> probe;
    bool operator>(const Due& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
  std::uint64_t due_seq_ = 0;
  std::vector<std::shared_ptr<Probe>> in_flight_;
  std::mt19937_64 rng_{std::random_device{}()};
  OutlierDetector outliers_;
  bool running_ = false;
};

}  // namespace tg::health
