#include "proxy/worker.h"

#include <sys/socket.h>

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/error_log.h"
#include "proxy/session.h"

namespace tg::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

std::string endpoint_text(const tcp::endpoint& ep) {
  std::string a = ep.address().to_string();
  if (ep.address().is_v6()) a = "[" + a + "]";
  return a + ":" + std::to_string(ep.port());
}

/// Logs whatever escaped a coroutine instead of dropping it (never silently detached).
void log_escape(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log(LogLevel::kAlert, std::string("unexpected exception in a connection: ") + ex.what());
  }
}

/// `seed`: the worker's seed for random picks (each worker draws its own sequence).
std::shared_ptr<WorkerGeneration> make_generation(std::shared_ptr<const Runtime> runtime,
                                                  const WorkerGeneration* previous,
                                                  std::uint64_t seed) {
  auto gen = std::make_shared<WorkerGeneration>();
  for (const auto& group : runtime->groups) {
    std::shared_ptr<WorkerPicker> kept;
    if (previous) {
      for (const auto& p : previous->pickers) {
        if (p->membership == group) kept = p;
      }
    }
    if (!kept) {
      kept = std::make_shared<WorkerPicker>();
      kept->membership = group;
      kept->version = group->version();
      kept->picker = std::make_shared<balancing::GroupPicker>(
          group->snapshot(), balancing::PickerMode::kIndexed, seed);
    }
    gen->pickers.push_back(std::move(kept));
  }
  gen->runtime = std::move(runtime);
  return gen;
}

}  // namespace

Worker::Worker(int index) : index_(index) {
  pool_.report_to(&counters_.keepalive);
}

Worker::~Worker() {
  stop();
  join();
  // Order matters: objects bound to the io_context go first; destroying the
  // context then destroys suspended sessions, which still unregister here.
  ticker_.reset();
  pool_.clear();
  listeners_.clear();
  ioc_.reset();
  current_.reset();
}

void Worker::open_listeners(const Runtime& runtime, NewListeners& fresh) {
  std::vector<Listener> next;
  for (const auto& group : runtime.listeners) {
    auto existing = std::find_if(listeners_.begin(), listeners_.end(), [&](const Listener& l) {
      return l.endpoint == group.endpoint && l.acceptor;
    });
    if (existing != listeners_.end()) {
      next.push_back(std::move(*existing));
      continue;
    }
    UniqueFd fd = fresh.take(group.endpoint, slot());
    if (!fd) {
      throw std::runtime_error("no socket was bound for " + group.endpoint.address().to_string() +
                               ":" + std::to_string(group.endpoint.port()));
    }
    auto acc = std::make_shared<tcp::acceptor>(*ioc_);
    boost::system::error_code ec;
    acc->assign(group.endpoint.protocol(), fd.get(), ec);
    if (!ec) fd.release();
    if (!ec) acc->listen(group.backlog, ec);
    if (ec) {
      throw std::runtime_error("listen() to " + endpoint_text(group.endpoint) + " failed " +
                               errno_text(ec.value()));
    }
    next.push_back(Listener{group.endpoint, std::move(acc), false});
  }
  for (auto& old : listeners_) {  // addresses that went away
    boost::system::error_code ec;
    if (old.acceptor) old.acceptor->close(ec);
  }
  listeners_ = std::move(next);
}

void Worker::start(std::shared_ptr<const Runtime> runtime) {
  current_ = make_generation(std::move(runtime), nullptr, picker_seed());
  for (auto& l : listeners_) spawn_accept(l);
  tick();
  thread_ = std::thread([this] {
    ErrorLog::set_thread_id(index_);
    ioc_->run();
    access_log_.flush();
    if (on_stopped_) on_stopped_();
  });
}

void Worker::reload(std::shared_ptr<const Runtime> runtime, std::shared_ptr<NewListeners> fresh) {
  asio::post(*ioc_, [this, runtime, fresh] {
    if (quitting_) return;
    try {
      open_listeners(*runtime, *fresh);
    } catch (const std::exception& e) {
      log(LogLevel::kEmerg, e.what());
    }
    current_ = make_generation(runtime, current_.get(), picker_seed());
    for (auto& l : listeners_) {
      if (!l.accepting) spawn_accept(l);
    }
  });
}

void Worker::spawn_accept(Listener& l) {
  l.accepting = true;
  std::shared_ptr<tcp::acceptor> acc = l.acceptor;
  asio::co_spawn(
      *ioc_,
      [this, acc]() -> asio::awaitable<void> {  // acc kept alive by the capture
        for (;;) {
          auto [ec, socket] =
              co_await acc->async_accept(*ioc_, asio::as_tuple(asio::use_awaitable));
          if (ec) {
            if (ec == asio::error::operation_aborted || !acc->is_open()) co_return;
            log(LogLevel::kAlert, "accept() failed " + errno_text(ec.value()));
            if (ec == asio::error::no_descriptors || ec.value() == ENFILE) {
              asio::steady_timer pause(*ioc_, std::chrono::milliseconds(100));
              co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
            }
            continue;
          }
          accepted(std::move(socket), acc);
        }
      },
      log_escape);
}

void Worker::accepted(Socket socket, const std::shared_ptr<tcp::acceptor>& acc) {
  // Not in the accept coroutine: its frame would pin this generation until
  // the next connection arrives (and hold back the retired notice).
  auto gen = current_;
  const auto& limits = gen->runtime->config->main;
  WorkerCounters::add(counters_.accepted);
  if (sessions_.size() >= static_cast<size_t>(limits.worker_connections) &&
      reclaim_idle_connections() == 0) {
    WorkerCounters::add(counters_.dropped);
    log(LogLevel::kAlert,
        std::to_string(limits.worker_connections) + " worker_connections are not enough");
    return;  // socket closes here
  }
  boost::system::error_code lec;
  auto local = acc->local_endpoint(lec);
  const ListenGroup* group = nullptr;
  for (const auto& g : gen->runtime->listeners) {
    if (g.endpoint == local) group = &g;
  }
  if (!group) return;
  auto session = std::make_shared<ClientSession>(*this, std::move(socket), gen, group);
  ClientSession::start(std::move(session));
}

void Worker::refresh(WorkerPicker& wp) {
  const std::uint64_t version = wp.membership->version();
  auto snapshot = wp.membership->snapshot();
  // Idle connections to servers that left the group are closed. Ids sorted once:
  // a group of n servers changing one at a time costs n log n here, not n².
  std::vector<std::uint64_t> ids;
  for (const auto* tier : {&snapshot->primaries(), &snapshot->backups()}) {
    for (const auto& peer : *tier) ids.push_back(peer->id());
  }
  std::sort(ids.begin(), ids.end());
  const auto& old = wp.picker->group();
  for (const auto* tier : {&old.primaries(), &old.backups()}) {
    for (const auto& peer : *tier) {
      if (!std::binary_search(ids.begin(), ids.end(), peer->id())) pool_.close_peer(peer->id());
    }
  }
  wp.picker = std::make_shared<balancing::GroupPicker>(std::move(snapshot), *wp.picker);
  wp.version = version;
}

size_t Worker::reclaim_idle_connections() {
  // nginx's ngx_drain_connections: idle connections (waiting for a first or a
  // keep-alive request) make room for new ones, up to 32 at a time, the ones
  // nearest their idle timeout first, so that idle sockets cannot lock out
  // clients that have requests to make.
  constexpr size_t kMaxReclaim = 32;
  std::vector<SessionSlot> idle;
  for (const auto& slot : sessions_) {
    if (slot.session->idle_ && !slot.session->quit_) idle.push_back(slot);
  }
  const size_t n = std::min(idle.size(), kMaxReclaim);
  if (n == 0) return 0;
  std::partial_sort(
      idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(n), idle.end(),
      [](const SessionSlot& a, const SessionSlot& b) { return a.deadline < b.deadline; });
  for (size_t i = 0; i < n; ++i) idle[i].session->on_quit();  // closes it now: it is idle
  log(LogLevel::kWarn, std::to_string(current_->runtime->config->main.worker_connections) +
                           " worker_connections are not enough, reusing connections");
  return n;
}

void Worker::tick() {
  // Every 100 ms: fire passed deadlines. Every second: flush access logs and
  // close cached upstream connections past their keepalive_timeout.
  ticker_->expires_after(std::chrono::milliseconds(100));
  ticker_->async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < sessions_.size(); ++i) {
      if (sessions_[i].deadline <= now) {
        sessions_[i].deadline = std::chrono::steady_clock::time_point::max();
        sessions_[i].session->on_deadline();  // cancels I/O; completions run later
      }
    }
    if (++ticks_ % 10 == 0) {
      access_log_.flush();
      pool_.sweep(now);
      if (tunnels_ > 0) close_drained_tunnels(now);
    }
    if (quitting_ && sessions_.empty()) {
      pool_.clear();
      return;  // nothing left: the io_context runs out of work and the thread ends
    }
    tick();
  });
}

std::uint64_t Worker::picker_seed() const {
  static const std::uint64_t start =
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return start ^ (static_cast<std::uint64_t>(index_) * 0x9e3779b97f4a7c15ULL);
}

void Worker::close_drained_tunnels(std::chrono::steady_clock::time_point now) {
  std::vector<ClientSession*> expired;
  for (const auto& slot : sessions_) {
    if (slot.session->tunnel_past_drain_deadline(now)) expired.push_back(slot.session);
  }
  for (auto* s : expired) s->close_tunnel_going_away();
}

void Worker::add_session(ClientSession* s) {
  s->slot_ = sessions_.size();
  sessions_.push_back(SessionSlot{s, std::chrono::steady_clock::time_point::max()});
}

void Worker::remove_session(ClientSession* s) {
  size_t slot = s->slot_;
  sessions_[slot] = sessions_.back();
  sessions_[slot].session->slot_ = slot;
  sessions_.pop_back();
  if (quitting_ && sessions_.empty()) {
    pool_.clear();
    if (ticker_) ticker_->cancel();  // null while ~Worker tears down
  }
}

void Worker::begin_quit() {
  if (quitting_) return;
  quitting_ = true;
  for (auto& l : listeners_) {
    boost::system::error_code ec;
    if (l.acceptor) l.acceptor->close(ec);
  }
  // Idle keep-alive connections close now; busy ones after their response.
  std::vector<ClientSession*> copy;
  for (const auto& slot : sessions_) copy.push_back(slot.session);
  for (auto* s : copy) s->on_quit();
  if (sessions_.empty()) {
    pool_.clear();
    ticker_->cancel();
  }
}

void Worker::quit() {
  asio::post(*ioc_, [this] { begin_quit(); });
}

void Worker::stop() {
  stopped_ = true;
  ioc_->stop();
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace tg::proxy
