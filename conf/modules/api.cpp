// NGINX Plus's ngx_http_api_module (`api`, `status_zone`) and tidegate's
// `prometheus` and `dashboard`: locations answered by the control thread.
#include "conf/directive_args.h"
#include "conf/modules/modules.h"

namespace tg::conf::modules {

bool control_handler(const Directive& d, Location& loc) {
  ControlHandler h;
  if (d.name == "api") {
    h.kind = ControlHandler::Kind::kApi;
    for (const auto& a : d.args) {
      if (a == "write=on") {
        h.write = true;
      } else if (a != "write=off") {
        fail(d, "invalid parameter \"" + a + "\"");
      }
    }
  } else if (d.name == "prometheus") {
    h.kind = ControlHandler::Kind::kPrometheus;
  } else if (d.name == "dashboard") {
    h.kind = ControlHandler::Kind::kDashboard;
  } else if (d.name == "stub_status") {
    // ngx_http_stub_status_module; `stub_status on|off` is its old form.
    if (!d.args.empty() && d.args[0] != "on" && d.args[0] != "off") {
      fail(d, "invalid value \"" + d.args[0] + "\" in \"stub_status\" directive");
    }
    if (!d.args.empty() && d.args[0] == "off") return true;
    h.kind = ControlHandler::Kind::kStubStatus;
  } else {
    return false;
  }
  if (loc.control || loc.proxy) fail(d, "\"" + d.name + "\" directive is duplicate");
  loc.control = h;
  return true;
}

bool status_zone(const Directive& d, std::string& zone) {
  if (d.name != "status_zone") return false;
  zone = d.args[0];
  return true;
}

}  // namespace tg::conf::modules
