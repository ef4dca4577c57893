// The PROXY protocol header (HAProxy's, versions 1 and 2) that a load balancer in
// front (an AWS NLB, HAProxy, another tidegate) sends before the client's bytes:
// who the client was. A parser over bytes, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tg::http {

struct ProxyProtocolHeader {
  size_t length = 0;        ///< bytes the header takes (to consume from the stream)
  bool local = false;       ///< v1 UNKNOWN or v2 LOCAL: no addresses (health checks)
  std::string source_addr;  ///< the client, as text
  uint16_t source_port = 0;
  std::string dest_addr;  ///< the address the client connected to
  uint16_t dest_port = 0;
};

enum class ProxyProtocolResult {
  kComplete,  ///< `out` is filled
  kNeedMore,  ///< a valid beginning; more bytes must come
  kBroken,    ///< not a PROXY header (nginx: "broken header")
};

/// Parses the header at the start of `data` (v1 text, at most 107 bytes, or v2
/// binary with its TLVs).
ProxyProtocolResult parse_proxy_protocol(std::string_view data, ProxyProtocolHeader& out);

}  // namespace tg::http
