// How an `upstream` block balances: its method directive (round robin, least_conn, hash,
// ip_hash, random, least_time, peak_ewma) and its `sticky` directive.
#pragma once

#include <chrono>
#include <string>

namespace tg::balancing {

/// Balancing method of a group (nginx: the method directive of the `upstream` block).
enum class Algorithm {
  kRoundRobin,  ///< default: smooth weighted round robin
  kLeastConn,   ///< least_conn;
  kIpHash,      ///< ip_hash; (client address: first three IPv4 octets or the IPv6 address)
  kHash,        ///< hash key [consistent];
  kRandom,      ///< random [two [least_conn|least_time=header|last_byte]];
  kLeastTime,   ///< least_time header|last_byte [inflight]; (nginx 1.31.0)
  kPeakEwma,    ///< peak_ewma [decay=time]; (tidegate extension, Finagle/Linkerd's P2C)
};

/// Which response time least_time (and random two least_time=, peak_ewma) measures.
enum class TimeMetric {
  kHeader,    ///< until the response header was received (nginx: `header`)
  kLastByte,  ///< until the whole response was received (nginx: `last_byte`)
};

/// `sticky` directive of the group. The cookie attributes are data for the proxy, which
/// writes Set-Cookie; the balancer only matches the value (see PickInput::sticky).
struct StickyConfig {
  enum class Mode {
    kNone,
    kCookie,  ///< sticky cookie NAME [expires=] [domain=] [path=] [samesite=] [secure] [httponly]
    kRoute,   ///< sticky route $var ...; the proxy passes the first non-empty variable
  };
  Mode mode = Mode::kNone;
  std::string cookie_name;  ///< cookie NAME (kCookie)
  std::string expires;      ///< expires=: "max" or a time as written; empty: session cookie
  std::string domain;       ///< domain=, empty: none
  std::string path;         ///< path=, empty: none (nginx then omits Path)
  std::string samesite;     ///< samesite=strict|lax|none (or a value from a variable), empty: none
  bool secure = false;      ///< secure
  bool httponly = false;    ///< httponly
  /// expires=max (nginx: Expires "Thu, 31 Dec 2037 23:55:55 GMT").
  bool expires_max = false;
  /// expires=T in seconds (when set and not max).
  std::chrono::seconds expires_seconds{0};

  bool operator==(const StickyConfig&) const = default;
};

/// Everything the balancer needs to know about a group's method and stickiness.
/// Defaults: round robin, no sticky.
struct BalancerConfig {
  /// `random two`'s comparison of the two candidates.
  enum class TwoMode {
    kLeastConn,  ///< fewer active connections per weight (nginx's default for `two`)
    kLeastTime,  ///< lower least_time score (`least_time=header|last_byte`, uses `metric`)
  };

  Algorithm algorithm = Algorithm::kRoundRobin;
  bool consistent = false;  ///< hash ... consistent: ketama ring instead of key % weight
  bool two = false;         ///< random two: power of two choices
  TwoMode two_mode = TwoMode::kLeastConn;
  /// least_time header|last_byte, random two least_time=header|last_byte, and the sample
  /// peak_ewma uses. Default: header.
  TimeMetric metric = TimeMetric::kHeader;
  /// least_time ... inflight: requests still running count towards the average time.
  bool inflight = false;
  /// peak_ewma decay=: how fast an estimate forgets a peak. Default 10 s.
  std::chrono::milliseconds ewma_decay{10'000};
  StickyConfig sticky;

  bool operator==(const BalancerConfig&) const = default;
};

}  // namespace tg::balancing
