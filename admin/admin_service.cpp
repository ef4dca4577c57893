#include "admin/admin_service.h"

#include <algorithm>

#include <boost/asio/post.hpp>

#include "admin/api.h"
#include "admin/dashboard.h"
#include "admin/prometheus.h"
#include "common/error_log.h"

namespace tg::admin {

namespace asio = boost::asio;

AdminService::AdminService(asio::io_context& control) : control_(control), timer_(control) {}

AdminService::~AdminService() {
  stop();
}

void AdminService::set_runtime(std::shared_ptr<const proxy::Runtime> runtime,
                               std::uint64_t generation) {
  runtime_ = std::move(runtime);
  generation_ = generation;
  load_time_ = std::chrono::system_clock::now();
  // A zone the new conf no longer has starts from zero if it comes back: its
  // reset point goes with it (keys as api.cpp's zones() writes them).
  std::erase_if(zone_baselines_, [this](const auto& kv) {
    const std::string& key = kv.first;
    if (key.starts_with("server:")) return !runtime_->server_zones.count(key.substr(7));
    if (key.starts_with("location:")) return !runtime_->location_zones.count(key.substr(9));
    return true;
  });
}

void AdminService::set_workers(std::vector<const proxy::WorkerCounters*> workers) {
  workers_ = std::move(workers);
}

void AdminService::start() {
  running_ = true;
  tick();
}

void AdminService::stop() {
  running_ = false;
  timer_.cancel();
}

void AdminService::tick() {
  if (!running_) return;
  if (runtime_) {
    for (const auto& g : runtime_->groups) g->collect_zombies();
    metrics_.sample(runtime_->groups, balancing::Clock::now(), std::chrono::system_clock::now());
    // Servers gone for good (the sample forgot them) need no reset point.
    std::erase_if(peer_baselines_,
                  [this](const auto& kv) { return metrics_.server(kv.first) == nullptr; });
  }
  timer_.expires_after(std::chrono::seconds(1));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void AdminService::handle(proxy::ControlRequest request,
                          std::function<void(proxy::ControlResponse)> done) {
  asio::post(control_, [this, request = std::move(request), done = std::move(done)] {
    // Nothing a request does may take the control thread (and the process) down, and
    // the worker waiting for the answer always gets one.
    proxy::ControlResponse response;
    try {
      response = dispatch(request);
    } catch (const std::exception& e) {
      log(LogLevel::kAlert,
          std::string("api: unexpected exception: ") + e.what() + ", client: " + request.client);
      response = proxy::ControlResponse{};
      response.status = 500;
      response.content_type.clear();
    }
    done(std::move(response));
  });
}

proxy::ControlResponse AdminService::dispatch(const proxy::ControlRequest& request) {
  AdminState state;
  state.runtime = runtime_;
  state.metrics = &metrics_;
  state.workers = workers_;
  state.generation = generation_;
  state.load_time = load_time_;
  state.peer_baselines = &peer_baselines_;
  state.zone_baselines = &zone_baselines_;
  state.autoscaler = autoscaler_;
  if (!runtime_) {
    proxy::ControlResponse r;
    r.status = 503;
    return r;
  }
  switch (request.handler.kind) {
    case conf::ControlHandler::Kind::kApi:
      return handle_api(request, state);
    case conf::ControlHandler::Kind::kPrometheus:
      return prometheus_response(request, state);
    case conf::ControlHandler::Kind::kDashboard:
      return dashboard_response(request);
    case conf::ControlHandler::Kind::kStubStatus:
      return proxy::ControlResponse::read_only(request.method, "text/plain", [&state] {
        // nginx's ngx_http_stub_status_module page, trailing spaces included. Reading:
        // connections with neither a request being served nor waiting for one.
        const auto t = state.totals();
        const auto reading = std::max<std::int64_t>(0, t.active - t.idle - t.current);
        return "Active connections: " + std::to_string(t.active) +
               " \nserver accepts handled requests\n " + std::to_string(t.accepted) + " " +
               std::to_string(t.accepted - t.dropped) + " " + std::to_string(t.requests) +
               " \nReading: " + std::to_string(reading) + " Writing: " + std::to_string(t.current) +
               " Waiting: " + std::to_string(t.idle) + " \n";
      });
  }
  return proxy::ControlResponse{};
}

}  // namespace tg::admin
