// One `limit_req_zone`: nginx's leaky bucket per key, shared by every worker
// thread (a mutex around a hash map and an LRU list: a request holds it for a few
// hundred nanoseconds). Keys beyond the zone's capacity push out the least
// recently seen ones, as nginx's zone evicts its oldest nodes when full.
#pragma once

#include <cstdint>
#include <list>
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

}  // namespace tg::proxy
