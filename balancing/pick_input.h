// What the proxy feeds the balancer per request: the pick input and the response times.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "balancing/server_config.h"

namespace tg::balancing {

/// Per-request input of GroupPicker::pick. Each algorithm reads only its own field; the
/// default (all empty) suits round robin, least_conn, random, least_time and peak_ewma.
struct PickInput {
  /// The evaluated `hash` key (nginx: an empty key falls back to round robin).
  std::string_view hash_key;
  /// Client address for ip_hash: 4 bytes (IPv4) or 16 (IPv6), network order. Anything
  /// else (e.g. a unix-socket client) hashes as nginx's pseudo address 0.0.0.
  std::span<const std::uint8_t> client_addr;
  /// Sticky binding: the cookie's value (sticky cookie) or the first non-empty route
  /// variable (sticky route); empty when the request is not bound.
  std::string_view sticky;
};

/// Times measured for one upstream response, from sending the request (nginx:
/// $upstream_header_time, $upstream_response_time). Absent ones are not recorded.
struct ResponseTimes {
  std::optional<Clock::duration> header;     ///< until the response header was received
  std::optional<Clock::duration> last_byte;  ///< until the last byte was received

  bool empty() const noexcept { return !header && !last_byte; }
};

}  // namespace tg::balancing
