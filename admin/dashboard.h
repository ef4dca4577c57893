// The live dashboard: one self-contained HTML page compiled into the binary (no
// external assets) that reads the admin API every second.
#pragma once

#include "proxy/control_plane.h"

namespace tg::admin {

/// A `dashboard` location's answer (GET/HEAD only).
proxy::ControlResponse dashboard_response(const proxy::ControlRequest& request);

}  // namespace tg::admin
