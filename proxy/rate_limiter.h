// One `limit_req_zone`: nginx's leaky bucket per key, shared by every worker
// thread (a mutex around a hash map and an LRU list: a request holds it for a few
// hundred nanoseconds). Keys beyond the zone's capacity push out the least
// recently seen ones, as nginx's zone evicts its oldest nodes when full.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tg::proxy {

class RateLimiter {
 public:
  explicit RateLimiter(size_t max_entries) : max_entries_(max_entries ? max_entries : 1) {}

  /// nginx's ngx_http_limit_req_lookup for `key` at `now_ms` (steady milliseconds):
  /// the excess after this request, in thousandths of a request, drained at `rate`
  /// (thousandths per second). Over `burst` (whole requests) the request is refused
  /// and nothing is accounted; otherwise it is accounted when `account`.
  struct Result {
    bool busy = false;
    int64_t excess = 0;
  };
  Result lookup(std::string_view key, int64_t now_ms, int64_t rate, int burst, bool account);
  size_t size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
  }

 private:
  struct Entry {
    int64_t excess = 0;
    int64_t last_ms = 0;
    std::list<std::string>::iterator lru;
  };
  const size_t max_entries_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  ///< most recently seen first
};

/// One `limit_conn_zone`: requests in progress per key, shared by every worker
/// thread. A key is kept only while it holds requests.
class ConnLimiter {
 public:
  explicit ConnLimiter(size_t max_entries) : max_entries_(max_entries ? max_entries : 1) {}
  enum class Verdict { kTaken, kBusy, kZoneFull };
  /// Takes one of `key`'s `limit` places.
  Verdict acquire(const std::string& key, int limit);
  void release(const std::string& key);
  int count(const std::string& key) const;

 private:
  const size_t max_entries_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, int> counts_;
};

/// A place taken in a ConnLimiter, given back when the request ends (or its
/// state is dropped in any other way).
class ConnHold {
 public:
  ConnHold(std::shared_ptr<ConnLimiter> zone, std::string key)
      : zone_(std::move(zone)), key_(std::move(key)) {}
  ConnHold(ConnHold&& other) noexcept = default;
  ConnHold& operator=(ConnHold&& other) noexcept {
    if (this != &other) {
      release();
      zone_ = std::move(other.zone_);
      key_ = std::move(other.key_);
    }
    return *this;
  }
  ConnHold(const ConnHold&) = delete;
  ConnHold& operator=(const ConnHold&) = delete;
  ~ConnHold() { release(); }

 private:
  void release() {
    if (zone_) zone_->release(key_);
    zone_.reset();
  }
  std::shared_ptr<ConnLimiter> zone_;
  std::string key_;
};

}  // namespace tg::proxy
