// A worker thread: its own io_context (concurrency hint 1), its own
// SO_REUSEPORT listening sockets, its own upstream keep-alive cache and
// access-log buffers. Every connection accepted here lives and dies here.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "balancing/upstream.h"
#include "proxy/access_log.h"
#include "proxy/auth_basic.h"
#include "proxy/control_plane.h"
#include "proxy/listen_sockets.h"
#include "proxy/net.h"
#include "proxy/runtime.h"
#include "proxy/upstream_pool.h"
#include "proxy/zone_stats.h"

namespace tg::proxy {

class ClientSession;

/// This worker's picker for one group: rebuilt from the group's snapshot when its
/// version moves (one load per pick), keeping round-robin state. Shared by every
/// generation that has the group. Requests (and tunnels) hold the picker they took
/// leases from, so a replaced picker lives until its last lease is released.
struct WorkerPicker {
  std::shared_ptr<balancing::GroupMembership> membership;
  std::uint64_t version = 0;
  std::shared_ptr<balancing::GroupPicker> picker;
};

/// The per-worker view of one generation: the runtime plus this worker's
/// mutable picking state for its groups.
struct WorkerGeneration {
  std::shared_ptr<const Runtime> runtime;
  std::vector<std::shared_ptr<WorkerPicker>> pickers;  ///< by upstream index
  size_t connections = 0;                              ///< connections pinned to this generation
};

class Worker {
 public:
  explicit Worker(int index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  int index() const { return index_; }
  /// Slot in per-worker metrics arrays (0-based).
  size_t slot() const { return static_cast<size_t>(index_ - 1); }
  boost::asio::io_context& context() { return *ioc_; }

  /// Keeps the listening sockets `runtime` still needs, starts listening on
  /// this worker's socket of `fresh` for each new address, closes the rest.
  /// Runs on the control thread before the worker starts, or on the worker.
  void open_listeners(const Runtime& runtime, NewListeners& fresh);
  /// Starts the thread serving `runtime`.
  void start(std::shared_ptr<const Runtime> runtime);
  /// Switches to a new generation (reload): keeps listeners whose address
  /// stays, opens new ones, closes removed ones. Connections keep the
  /// generation they started under.
  void reload(std::shared_ptr<const Runtime> runtime, std::shared_ptr<NewListeners> fresh);
  /// Graceful stop: close listeners, finish in-flight requests, close idle
  /// keep-alive connections; the thread ends when nothing is left.
  void quit();
  /// Fast stop: abandon everything.
  void stop();
  void join();
  /// Called on the worker thread when its event loop has ended.
  void set_on_stopped(std::function<void()> f) { on_stopped_ = std::move(f); }

  // ---- worker-thread side ----
  std::shared_ptr<WorkerGeneration> generation() const { return current_; }
  /// The picker of upstream `index` of `gen`, up to date with the group's membership.
  const std::shared_ptr<balancing::GroupPicker>& picker(WorkerGeneration& gen, size_t index) {
    WorkerPicker& wp = *gen.pickers[index];
    if (wp.membership->version() != wp.version) refresh(wp);
    return wp.picker;
  }
  UpstreamPool& pool() { return pool_; }
  /// Connection and request counters (this worker writes, the control thread reads).
  WorkerCounters& counters() { return counters_; }
  const WorkerCounters& counters() const { return counters_; }
  /// auth_basic user files, as this worker last read them.
  UserFiles& user_files() { return user_files_; }
  /// The control thread's request handler (admin API, metrics); null when none.
  ControlPlane* control() const { return control_; }
  /// Set before start().
  void set_control(ControlPlane* control) { control_ = control; }
  AccessLogWriter& access_log() { return access_log_; }
  bool quitting() const { return quitting_; }
  void add_session(ClientSession* s);
  /// Upgraded connections open on this worker (the drain_timeout scan runs only
  /// while there are some).
  void tunnel_opened() { ++tunnels_; }
  void tunnel_closed() { --tunnels_; }
  void remove_session(ClientSession* s);
  /// Sets the deadline of the session in table slot `slot` (max() = none).
  void set_deadline(size_t slot, std::chrono::steady_clock::time_point deadline) {
    sessions_[slot].deadline = deadline;
  }

 private:
  struct Listener {
    boost::asio::ip::tcp::endpoint endpoint;
    std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor;
    bool accepting = false;
  };
  void spawn_accept(Listener& l);
  /// A connection came in on `acc`: starts its session on the current generation.
  void accepted(Socket socket, const std::shared_ptr<boost::asio::ip::tcp::acceptor>& acc);
  void tick();
  /// Rebuilds `wp`'s picker on the group's current snapshot; closes this worker's
  /// cached connections to servers that left it.
  void refresh(WorkerPicker& wp);
  /// Closes idle client connections to make room for a new one; returns how many.
  size_t reclaim_idle_connections();
  /// Seed of this worker's random balancing picks: distinct per worker and per start.
  std::uint64_t picker_seed() const;
  /// drain_timeout: ends tunnels to draining servers once it has passed.
  void close_drained_tunnels(std::chrono::steady_clock::time_point now);
  void begin_quit();

  int index_;
  std::unique_ptr<boost::asio::io_context> ioc_ =
      std::make_unique<boost::asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO);
  std::thread thread_;
  std::vector<Listener> listeners_;
  std::shared_ptr<WorkerGeneration> current_;
  UpstreamPool pool_;
  UserFiles user_files_;
  WorkerCounters counters_;
  ControlPlane* control_ = nullptr;
  AccessLogWriter access_log_;
  std::unique_ptr<boost::asio::steady_timer> ticker_ =
      std::make_unique<boost::asio::steady_timer>(*ioc_);
  /// Live connections and their deadlines, contiguous so the 100 ms timeout
  /// scan reads memory sequentially (10,000 connections: ~20 us per scan).
  struct SessionSlot {
    ClientSession* session;
    std::chrono::steady_clock::time_point deadline;
  };
  std::vector<SessionSlot> sessions_;
  int ticks_ = 0;
  size_t tunnels_ = 0;
  std::function<void()> on_stopped_;
  bool quitting_ = false;
  bool stopped_ = false;
};

}  // namespace tg::proxy
