// NGINX Plus REST API v9 (ngx_http_api_module), for what tidegate has: the paths,
// JSON field names and types, status codes and error bodies that NGINX Plus API
// clients (ingress controllers, autoscaling-group sync tools,
// nginx-prometheus-exporter's Plus mode) rely on, plus tidegate's extra fields
// (tunnels, drained, draining_since, windows) that those clients ignore.
#pragma once

#include "admin/admin_service.h"
#include "proxy/control_plane.h"

namespace tg::admin {

/// Answers one request to an `api` location (on the control thread).
proxy::ControlResponse handle_api(const proxy::ControlRequest& request, AdminState& state);

}  // namespace tg::admin
