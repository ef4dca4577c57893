#include "proxy/rate_limiter.h"

namespace tg::proxy {

RateLimiter::Result RateLimiter::lookup(std::string_view key, int64_t now_ms, int64_t rate,
                                        int burst, bool account) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(std::string(key));
  if (it == entries_.end()) {
    if (!account) return {};
    if (entries_.size() >= max_entries_) {
      entries_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.emplace_front(key);
    entries_.emplace(lru_.front(), Entry{0, now_ms, lru_.begin()});
    return {};
  }
  Entry& e = it->second;
  lru_.splice(lru_.begin(), lru_, e.lru);
  int64_t ms = now_ms - e.last_ms;
  if (ms < 0) ms = 0;  // a clock read earlier on another thread
  int64_t excess = e.excess - rate * ms / 1000 + 1000;
  if (excess < 0) excess = 0;
  if (excess > static_cast<int64_t>(burst) * 1000) return {true, excess};
  if (account) {
    e.excess = excess;
    if (ms != 0) e.last_ms = now_ms;
  }
  return {false, excess};
}

ConnLimiter::Verdict ConnLimiter::acquire(const std::string& key, int limit) {
  std::lock_guard lock(mutex_);
  auto it = counts_.find(key);
  if (it == counts_.end()) {
    if (counts_.size() >= max_entries_) return Verdict::kZoneFull;
    counts_.emplace(key, 1);
    return Verdict::kTaken;
  }
  if (it->second >= limit) return Verdict::kBusy;
  ++it->second;
  return Verdict::kTaken;
}

void ConnLimiter::release(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = counts_.find(key);
  if (it == counts_.end()) return;
  if (--it->second <= 0) counts_.erase(it);
}

int ConnLimiter::count(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = counts_.find(key);
  return it == counts_.end() ? 0 : it->second;
}

}  // namespace tg::proxy
