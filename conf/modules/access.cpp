// ngx_http_access_module (allow / deny) and ngx_http_realip_module (set_real_ip_from,
// real_ip_header, real_ip_recursive): both read addresses and CIDR blocks.
#include <boost/asio/ip/address.hpp>

#include "conf/directive_args.h"
#include "conf/modules/modules.h"

namespace tg::conf::modules {
namespace {

/// Clears the host bits of `a` beyond `prefix`.
boost::asio::ip::address network_of(const boost::asio::ip::address& a, unsigned prefix) {
  auto mask = [prefix](auto bytes) {
    for (unsigned i = 0; i < bytes.size(); ++i) {
      const unsigned bit = i * 8;
      if (bit >= prefix) {
        bytes[i] = 0;
      } else if (prefix - bit < 8) {
        bytes[i] = static_cast<unsigned char>(bytes[i] & (0xff << (8 - (prefix - bit))));
      }
    }
    return bytes;
  };
  if (a.is_v4()) return boost::asio::ip::address_v4(mask(a.to_v4().to_bytes()));
  return boost::asio::ip::address_v6(mask(a.to_v6().to_bytes()));
}

/// `address` or `address/prefix` of `d` into `rule` (nginx's ngx_ptocidr, with its
/// warning for host bits set beyond the prefix).
void cidr(const Directive& d, AccessRule& rule, std::vector<std::string>& warnings) {
  const std::string& text = d.args[0];
  if (text.starts_with("unix:")) fail(d, "unix domain sockets are not supported");
  const auto slash = text.find('/');
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(text.substr(0, slash), ec);
  if (ec) fail(d, "invalid parameter \"" + text + "\"");
  const unsigned max = address.is_v4() ? 32 : 128;
  unsigned prefix = max;
  if (slash != std::string::npos) {
    int bits = 0;
    if (!parse_int(text.substr(slash + 1), bits) || bits < 0 || bits > static_cast<int>(max)) {
      fail(d, "invalid parameter \"" + text + "\"");
    }
    prefix = static_cast<unsigned>(bits);
  }
  rule.network = network_of(address, prefix);
  rule.prefix = prefix;
  if (rule.network != address) {
    // nginx: [warn] low address bits of 10.0.0.1/8 are meaningless
    warnings.push_back(
        ConfError("low address bits of " + text + " are meaningless", d.where).what());
  }
}

}  // namespace

bool access(const Directive& d, LocationSettings& s, bool& replaced,
            std::vector<std::string>& warnings) {
  if (d.name != "allow" && d.name != "deny") return false;
  if (!replaced) {
    s.access.clear();
    replaced = true;
  }
  AccessRule rule;
  rule.allow = d.name == "allow";
  if (d.args[0] == "all") {
    rule.all = true;
  } else {
    cidr(d, rule, warnings);
  }
  s.access.push_back(rule);
  return true;
}

bool realip(const Directive& d, LocationSettings& s, bool& replaced,
            std::vector<std::string>& warnings) {
  if (d.name == "set_real_ip_from") {
    if (!replaced) {
      s.real_ip_from.clear();
      replaced = true;
    }
    AccessRule rule;
    cidr(d, rule, warnings);
    s.real_ip_from.push_back(rule);
    return true;
  }
  if (d.name == "real_ip_header") {
    s.real_ip_header = d.args[0];
    return true;
  }
  if (d.name == "real_ip_recursive") {
    s.real_ip_recursive = d.args[0] == "on";  // the table checked on|off
    return true;
  }
  return false;
}

}  // namespace tg::conf::modules
