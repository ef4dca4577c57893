#include "balancing/peer.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "balancing/slow_start.h"

namespace tg::balancing {

namespace {
std::atomic<std::uint64_t> g_next_id{1};
}  // namespace

Peer::Peer(const ServerConfig& config, std::size_t worker_slots, Epoch epoch)
    : flags_((config.down ? kDown : 0u) | (config.drain ? kDraining : 0u)),
      max_fails_(config.max_fails),
      max_conns_(config.max_conns),
      weight_(config.weight < 1 ? 1 : config.weight),
      fail_timeout_(std::chrono::nanoseconds(config.fail_timeout).count()),
      slow_start_(std::chrono::nanoseconds(config.slow_start).count()),
      draining_since_(config.drain ? kPending : kNotRunning),
      drain_timeout_ms_(config.drain_timeout.count()),
      id_(g_next_id.fetch_add(1, std::memory_order_relaxed)),
      name_(config.name),
      endpoint_(config.endpoint),
      backup_(config.backup),
      epoch_(epoch ? std::move(epoch) : std::make_shared<std::atomic<std::uint64_t>>(0)),
      stats_(worker_slots) {}

void Peer::apply(const ServerConfig& config, std::optional<TimePoint> now) noexcept {
  weight_.store(config.weight < 1 ? 1 : config.weight, std::memory_order_relaxed);
  max_fails_.store(config.max_fails, std::memory_order_relaxed);
  max_conns_.store(config.max_conns, std::memory_order_relaxed);
  fail_timeout_.store(std::chrono::nanoseconds(config.fail_timeout).count(),
                      std::memory_order_relaxed);
  slow_start_.store(std::chrono::nanoseconds(config.slow_start).count(), std::memory_order_relaxed);
  set_drain_timeout(config.drain_timeout);
  set_down(config.down);
  if (draining() != config.drain) {
    if (now) {
      set_draining(config.drain, *now);
    } else {
      set_draining(config.drain);
    }
  }
  // max_fails, fail_timeout and max_conns can change who is eligible.
  bump_standing();
}

bool Peer::set(Flag f, bool on) noexcept {
  const std::uint32_t old =
      on ? flags_.fetch_or(f, std::memory_order_relaxed)
         : flags_.fetch_and(~static_cast<std::uint32_t>(f), std::memory_order_relaxed);
  if (((old & f) != 0) == on) return false;
  if (!on) begin_slow_start();  // coming back from down, draining or unhealthy
  bump_standing();
  return true;
}

void Peer::set_draining(bool on) noexcept {
  if (on) {
    std::int64_t expected = kNotRunning;
    draining_since_.compare_exchange_strong(expected, kPending, std::memory_order_relaxed);
  }
  if (set(kDraining, on) && !on) draining_since_.store(kNotRunning, std::memory_order_relaxed);
}

void Peer::set_draining(bool on, TimePoint now) noexcept {
  if (on) {
    std::int64_t since = draining_since_.load(std::memory_order_relaxed);
    if (since == kNotRunning || since == kPending) {
      draining_since_.compare_exchange_strong(since, ticks(now), std::memory_order_relaxed);
    }
  }
  set_draining(on);
}

std::optional<TimePoint> Peer::draining_since() const noexcept {
  const std::int64_t since = draining_since_.load(std::memory_order_relaxed);
  if (!draining() || since == kNotRunning || since == kPending) return std::nullopt;
  return from_ticks(since);
}

void Peer::begin_slow_start() noexcept {
  if (slow_start_.load(std::memory_order_relaxed) > 0) {
    started_.store(kPending, std::memory_order_relaxed);
  }
}

void Peer::observe(TimePoint now) noexcept {
  // Load first: a compare-exchange takes the cache line even when it fails.
  for (std::atomic<std::int64_t>* stamp : {&started_, &draining_since_}) {
    std::int64_t expected = kPending;
    if (stamp->load(std::memory_order_relaxed) == kPending) {
      stamp->compare_exchange_strong(expected, ticks(now), std::memory_order_relaxed);
    }
  }
}

std::optional<TimePoint> Peer::slow_start_ends() const noexcept {
  const std::int64_t started = started_.load(std::memory_order_relaxed);
  if (started == kNotRunning) return std::nullopt;
  if (started == kPending) return TimePoint::max();
  return from_ticks(started + slow_start_.load(std::memory_order_relaxed));
}

int Peer::slow_start_weight(int weight, TimePoint now) const noexcept {
  const std::int64_t started = started_.load(std::memory_order_relaxed);
  if (started == kNotRunning || started == kPending) return weight;
  return balancing::slow_start_weight(weight, ticks(now) - started,
                                      slow_start_.load(std::memory_order_relaxed));
}

std::chrono::nanoseconds Peer::inflight_age(TimePoint now) const noexcept {
  // The count is read first (acquire, paired with on_picked's release after the sum
  // grew), so every lease it counts is in the sum; a lease being released may still be
  // in the sum, which only makes the estimate low (clamped at 0).
  const std::int64_t count = inflight_count_.load(std::memory_order_acquire);
  if (count <= 0) return std::chrono::nanoseconds(0);
  const auto sum = static_cast<std::uint64_t>(inflight_start_sum_.load(std::memory_order_relaxed));
  // Modulo 2^64 the difference is exact: sum of (now - start) over the tracked leases.
  const auto total = static_cast<std::int64_t>(
      static_cast<std::uint64_t>(count) * static_cast<std::uint64_t>(ticks(now)) - sum);
  return std::chrono::nanoseconds(total <= 0 ? 0 : total / count);
}

double Peer::peak_ewma_ns(TimePoint now, double decay_ns) const noexcept {
  const double value = peak_ewma_.load(std::memory_order_relaxed);
  if (value == 0) return 0;
  const std::int64_t elapsed = ticks(now) - peak_at_.load(std::memory_order_relaxed);
  if (elapsed <= 0) return value;
  return value * std::exp(-static_cast<double>(elapsed) / decay_ns);
}

void Peer::record_times(const ResponseTimes& times, TimePoint now,
                        const TimingFeed& feed) noexcept {
  auto average = [](std::atomic<double>& avg, Clock::duration d) {
    constexpr double kMax = static_cast<double>(std::int64_t{1} << 40);
    const double sample = std::clamp(static_cast<double>(std::chrono::nanoseconds(d).count()), 1.0,
                                     kMax);  // 0 = unmeasured
    const double old = avg.load(std::memory_order_relaxed);
    avg.store(old == 0 ? sample : old + (sample - old) / 8, std::memory_order_relaxed);
  };
  if (times.header) average(header_ewma_, *times.header);
  if (times.last_byte) average(last_byte_ewma_, *times.last_byte);

  if (feed.peak_decay_ns <= 0) return;
  const auto& sample = feed.peak_metric == TimeMetric::kHeader ? times.header : times.last_byte;
  if (!sample) return;
  // Finagle's PeakEwma.observe: a sample above the estimate replaces it; one below pulls
  // it down with weight 1 - exp(-elapsed / decay).
  const double s =
      std::max<double>(1, static_cast<double>(std::chrono::nanoseconds(*sample).count()));
  const std::int64_t t = ticks(now);
  const double old = peak_ewma_.load(std::memory_order_relaxed);
  double next = s;
  if (s <= old) {
    const std::int64_t elapsed =
        std::max<std::int64_t>(0, t - peak_at_.load(std::memory_order_relaxed));
    const double w = std::exp(-static_cast<double>(elapsed) / feed.peak_decay_ns);
    next = old * w + s * (1 - w);
  }
  peak_ewma_.store(next, std::memory_order_relaxed);
  peak_at_.store(t, std::memory_order_relaxed);
}

void Peer::on_released(Outcome outcome, TimePoint now,
                       std::optional<std::int64_t> inflight_start) noexcept {
  if (outcome == Outcome::kFailure) {
    const std::int64_t t = ticks(now);
    const std::int32_t fails = fails_.fetch_add(1, std::memory_order_relaxed) + 1;
    accessed_.store(t, std::memory_order_relaxed);
    checked_.store(t, std::memory_order_relaxed);
    if (counts_as_failed(fails)) {
      if (fails == max_fails_.load(std::memory_order_relaxed)) {
        unavail_.fetch_add(1, std::memory_order_relaxed);
      }
      bump_standing();
    }
  } else if (fails_.load(std::memory_order_relaxed) != 0 &&
             accessed_.load(std::memory_order_relaxed) < checked_.load(std::memory_order_relaxed)) {
    // "mark peer live if check passed"; a server coming back from failed slow-starts.
    if (counts_as_failed(fails_.exchange(0, std::memory_order_relaxed))) {
      begin_slow_start();
      bump_standing();
    }
  }
  if (inflight_start) {
    inflight_start_sum_.fetch_sub(*inflight_start, std::memory_order_relaxed);
    inflight_count_.fetch_sub(1, std::memory_order_release);
  }
  active_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace tg::balancing
