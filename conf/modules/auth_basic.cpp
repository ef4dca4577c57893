// ngx_http_auth_basic_module: auth_basic, auth_basic_user_file.
#include "conf/modules/modules.h"

namespace tg::conf::modules {

bool auth_basic(const Directive& d, LocationSettings& s, const std::string& conf_prefix) {
  if (d.name == "auth_basic") {
    // `off` turns it off; any other text is the realm (variables are not supported).
    s.auth_basic = d.args[0] == "off" ? std::string() : d.args[0];
    return true;
  }
  if (d.name == "auth_basic_user_file") {
    const std::string& path = d.args[0];
    s.auth_basic_user_file = path.starts_with('/') ? path : conf_prefix + path;
    return true;
  }
  return false;
}

}  // namespace tg::conf::modules
