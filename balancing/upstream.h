// Upstream groups as the proxy sees them: an immutable snapshot of servers
// (membership) plus live state shared by every worker thread (as nginx's `zone`).
//
// Usage on a worker thread (one GroupPicker per group per worker):
//   Attempt attempt;                        // per request: the tried set
//   auto lease = picker.pick(attempt, now); // nullopt -> "no live upstreams"
//   ... connect / proxy ...
//   lease->release(Outcome::kFailure, now); // or kSuccess; destructor = kSuccess
//
// Metrics on the same worker (worker_slot = the worker's index):
//   lease->peer().stats().record(worker_slot, status, latency_us);
//   lease->peer().stats().record_failed_attempt(worker_slot);
//
// On the control thread (reload, admin API, autoscaler):
//   auto next = make_group("backend", Algorithm::kLeastConn, servers, workers, current.get());
//   // publish `next`; each worker then builds GroupPicker(next, old_picker) and keeps the
//   // old picker until old_picker.outstanding_leases() == 0.
//
// Where things live:
//   server_config.h   Clock, TimePoint, ServerConfig
//   peer.h            Peer (live state, passive health), Outcome
//   upstream_group.h  UpstreamGroup, Algorithm, make_group
//   attempt.h         Attempt (tried set)
//   lease.h           Lease
//   group_picker.h    GroupPicker (primaries, backups, nginx's single-server rule)
//   picker_tier.h     PickerTier, WeightState, PickerMode: per-worker state of one tier
//   eligibility.h     the one eligibility check
//   round_robin.h     smooth weighted round robin (nginx's scan); least_conn.h: least_conn
//   smooth_weighted_index.h  the same round robin in O(distinct weights + log n)
//   server_stats.h    ServerStats; latency_histogram.h: LatencyHistogram, HistogramSnapshot
#pragma once

#include "balancing/attempt.h"
#include "balancing/group_picker.h"
#include "balancing/lease.h"
#include "balancing/peer.h"
#include "balancing/server_config.h"
#include "balancing/server_stats.h"
#include "balancing/upstream_group.h"
