// Prometheus text exposition (format 0.0.4) of what the API reports, named after
// nginx-prometheus-exporter's NGINX Plus metrics (nginxplus_*) with the same
// labels, so existing Grafana dashboards work; plus tidegate's response-time
// histograms, from which histogram_quantile() gives p95 across instances.
#pragma once

#include <string>

#include "admin/admin_service.h"

namespace tg::admin {

/// The metrics page.
std::string prometheus_text(AdminState& state);

/// A `prometheus` location's answer (GET/HEAD only).
proxy::ControlResponse prometheus_response(const proxy::ControlRequest& request, AdminState& state);

}  // namespace tg::admin
