// Upstream groups as the proxy sees them: an immutable snapshot of servers
// (membership) plus live state shared by every worker thread (as nginx's `zone`).
//
// Usage on a worker thread (one GroupPicker per group per worker, seeded per worker):
//   Attempt attempt;                               // per request: the tried set
//   PickInput in{hash_key, client_addr, sticky};   // what hash / ip_hash / sticky read
//   auto lease = picker.pick(attempt, now, in);    // nullopt -> "no live upstreams"
//   if (sticky cookie && !lease->sticky_hit()) set the cookie to lease->peer().sticky_id();
//   ... connect / proxy ...
//   lease->release(Outcome::kSuccess, now, {header_time, last_byte_time});
//   // or Outcome::kFailure; destructor = kSuccess without times
//
// Metrics on the same worker (worker_slot = the worker's index):
//   lease->peer().stats().record(worker_slot, status, latency_us);
//   lease->peer().stats().record_failed_attempt(worker_slot);
//
// On the control thread (reload, admin API, autoscaler):
//   auto next = make_group("backend", balancer_config, servers, workers, current.get());
//   // publish `next`; each worker then builds GroupPicker(next, old_picker) and keeps the
//   // old picker until old_picker.outstanding_leases() == 0.
//
// Where things live:
//   server_config.h   Clock, TimePoint, ServerConfig (weight, max_fails, route, drain, ...)
//   balancer_config.h Algorithm, TimeMetric, StickyConfig, BalancerConfig
//   pick_input.h      PickInput (per request), ResponseTimes (per response)
//   peer.h            Peer (live state, passive health, drain, slow start, timings), Outcome
//   upstream_group.h  UpstreamGroup, TierTables, make_group
//   attempt.h         Attempt (tried set)
//   lease.h           Lease
//   group_picker.h    GroupPicker (sticky, primaries, backups, nginx's single-server rule)
//   picker_tier.h     PickerTier, PickContext, WeightState, PickerMode: per-worker tier state
//   eligibility.h     the one eligibility check (standing + per request; sticky binding)
//   Algorithms, one file each, all called by PickerTier::pick:
//     round_robin.h      smooth weighted round robin (nginx's scan)
//     smooth_weighted_index.h  the same round robin in O(distinct weights + log n)
//     least_conn.h       least_conn
//     ip_hash.h          ip_hash
//     hash.h             hash key
//     consistent_hash.h  hash key consistent (over hash_ring.h's HashRing)
//     random.h           random, random two [least_conn|least_time]
//     least_time.h       least_time header|last_byte [inflight]
//     peak_ewma.h        peak_ewma [decay=] (tidegate extension)
//   sticky.h          sticky ids (MD5 / route=) and the id -> server index
//   slow_start.h      the slow_start ramp
//   crc32.h, weight_table.h, alias_table.h, random_source.h: hashing, weighted walks and
//                     draws, the seedable RNG (SplitMix64)
//   server_stats.h    ServerStats; latency_histogram.h: LatencyHistogram, HistogramSnapshot
#pragma once

#include "balancing/attempt.h"
#include "balancing/balancer_config.h"
#include "balancing/group_picker.h"
#include "balancing/lease.h"
#include "balancing/peer.h"
#include "balancing/pick_input.h"
#include "balancing/server_config.h"
#include "balancing/server_stats.h"
#include "balancing/upstream_group.h"
