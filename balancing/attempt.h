// The per-request tried set: a retry (proxy_next_upstream) never picks a peer twice.
#pragma once

#include <boost/container/small_vector.hpp>

namespace tg::balancing {

class Peer;

/// The set of peers already tried by one request, and how many picks it made.
/// Lives on the request's coroutine frame; four entries inline, more spill to the heap.
class Attempt {
 public:
  /// True if `peer` was picked (or marked tried) by this request.
  bool tried(const Peer& peer) const noexcept {
    for (const Peer* p : tried_) {
      if (p == &peer) return true;
    }
    return false;
  }

  /// Keeps `peer` out of later picks without counting a try (e.g. after a sticky route
  /// already used it).
  void mark_tried(const Peer& peer) { tried_.push_back(&peer); }

  /// Takes back the pick of `peer`, which may then be picked again, and gives back its
  /// try: for an attempt that failed through no fault of the server (a kept-alive
  /// connection the server had closed), retried on a fresh connection.
  void retry(const Peer& peer) noexcept {
    for (auto it = tried_.begin(); it != tried_.end(); ++it) {
      if (*it == &peer) {
        tried_.erase(it);
        if (tries_ > 0) --tries_;
        return;
      }
    }
  }

  /// True until a peer is picked or marked tried.
  bool empty() const noexcept { return tried_.empty(); }

  /// Number of peers picked so far (nginx: the tries spent; compare with
  /// proxy_next_upstream_tries).
  int tries() const noexcept { return tries_; }

 private:
  friend class GroupPicker;

  void record_pick(const Peer& peer) {
    tried_.push_back(&peer);
    ++tries_;
  }

  boost::container::small_vector<const Peer*, 4> tried_;
  int tries_ = 0;
};

}  // namespace tg::balancing
