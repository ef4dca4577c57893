// Every group's autoscaler, kept across reloads while its provider stays the same.
#include "scaling/autoscaler.h"

#include <boost/json.hpp>

#include "scaling/group_scaler.h"

namespace tg::scaling {

Autoscaler::Autoscaler(boost::asio::io_context& control, const balancing::MetricsCollector& metrics,
                       ProviderFactory factory)
    : control_(control), metrics_(metrics), factory_(std::move(factory)) {}

Autoscaler::~Autoscaler() {
  stop();
}

namespace {
bool same_provider(const ProviderSpec& a, const ProviderSpec& b) {
  return a.type == b.type && a.params == b.params;
}
}  // namespace

void Autoscaler::configure(std::vector<Group> groups) {
  std::map<std::string, std::unique_ptr<GroupScaler>, std::less<>> next;
  for (auto& g : groups) {
    const std::string name = g.membership->name();
    auto it = groups_.find(name);
    if (it != groups_.end() && same_provider(it->second->provider_spec(), g.spec.provider)) {
      it->second->reconfigure(std::move(g));
      next[name] = std::move(it->second);
      groups_.erase(it);
      continue;
    }
    auto provider = factory_(g.spec.provider, ProviderContext{control_, name});
    next[name] =
        std::make_unique<GroupScaler>(control_, metrics_, std::move(g), std::move(provider));
  }
  for (auto& [name, scaler] : groups_) scaler->retire();  // blocks removed, providers changed
  groups_ = std::move(next);
}

void Autoscaler::stop() {
  for (auto& [name, scaler] : groups_) scaler->stop();
  groups_.clear();
}

boost::json::value Autoscaler::status() const {
  boost::json::object o;
  for (const auto& [name, scaler] : groups_) o[name] = scaler->status();
  return o;
}

std::vector<Autoscaler::Summary> Autoscaler::summaries() const {
  std::vector<Summary> out;
  for (const auto& [name, scaler] : groups_) out.push_back(scaler->summary());
  return out;
}

}  // namespace tg::scaling
