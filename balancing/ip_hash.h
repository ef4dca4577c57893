// ip_hash: the client's address picks the server (nginx's ngx_http_upstream_ip_hash_module).
#pragma once

#include "balancing/picker_tier.h"

namespace tg::balancing {

/// nginx's ip_hash over the tier: the key is the first three octets of an IPv4 client
/// (so a /24 maps together) or the whole IPv6 address (PickInput::client_addr; any other
/// length hashes as the pseudo address 0.0.0). hash starts at 89 and takes each byte as
/// hash = (hash * 113 + byte) % 6271; the server is where hash % total weight falls in
/// the configured weights (down servers count, so others keep their clients). An
/// ineligible server rehashes (the bytes again, on top of the current hash) up to 20
/// times, then round robin decides. A single-server group uses round robin (nginx).
/// A retry starts the rehash chain over; the tried server is then skipped as nginx skips it.
PickerSlot* select_ip_hash(PickerTier& tier, const PickContext& ctx);

}  // namespace tg::balancing
