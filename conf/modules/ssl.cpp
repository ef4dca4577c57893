// ngx_http_ssl_module's directives (http and server): the settings a server's TLS
// context is built from (tls/settings.h). Files are read through the conf's file
// source, so certificates and keys readable only by root load like the conf does.
#include "conf/directive_args.h"
#include "conf/file_source.h"
#include "conf/modules/modules.h"

namespace tg::conf::modules {
namespace {

/// The text of a certificate/key argument: `data:PEM` inline, else a file (relative to
/// the conf prefix). `what` names it in nginx's message.
tls::PemSource pem_argument(const std::string& arg, const char* what, FileSource& files,
                            const std::string& conf_prefix) {
  tls::PemSource out;
  if (arg.starts_with("data:")) {
    out.path = arg;
    out.pem = arg.substr(5);
    return out;
  }
  out.path = arg.starts_with('/') ? arg : conf_prefix + arg;
  std::string error;
  if (!files.read(out.path, out.pem, error)) {
    // nginx: cannot load certificate "/x.pem": BIO_new_file() failed (...). No position:
    // nginx reports it when it builds the context.
    const auto errno_part = error.rfind(" (");
    const std::string why = errno_part == std::string::npos ? "" : error.substr(errno_part);
    // CA files are read by SSL_CTX_load_verify_locations in nginx, and named so.
    if (std::string_view(what).ends_with("CA")) {
      throw ConfError("SSL_CTX_load_verify_locations(\"" + out.path + "\") failed" + why);
    }
    throw ConfError(std::string("cannot load ") + what + " \"" + out.path +
                    "\": BIO_new_file() failed" + why);
  }
  return out;
}

/// `shared:NAME:SIZE` / `builtin[:N]` / `off` / `none` (ngx_http_ssl_session_cache).
void session_cache(const Directive& d, tls::ServerSettings& s) {
  using Cache = tls::ServerSettings::SessionCache;
  size_t entries = 0;
  bool cache = false;
  for (const auto& a : d.args) {
    if (a == "off" || a == "none") {
      if (d.args.size() > 1) fail(d, "invalid session cache \"" + a + "\"");
      s.session_cache = a == "off" ? Cache::kOff : Cache::kNone;
      return;
    }
    if (a == "builtin") {
      entries += 20480;  // OpenSSL's default size, as nginx
      cache = true;
      continue;
    }
    if (a.starts_with("builtin:")) {
      int n = 0;
      if (!parse_int(a.substr(8), n) || n <= 0) fail(d, "invalid session cache \"" + a + "\"");
      entries += static_cast<size_t>(n);
      cache = true;
      continue;
    }
    if (a.starts_with("shared:")) {
      const auto colon = a.find(':', 7);
      int64_t size = 0;
      if (colon == std::string::npos || colon == 7 ||
          !parse_size(std::string_view(a).substr(colon + 1), size)) {
        fail(d, "invalid session cache \"" + a + "\"");
      }
      if (size < 8 * 4096) fail(d, "session cache \"" + a + "\" is too small");
      // nginx: one megabyte holds about 4000 sessions.
      entries += static_cast<size_t>(size / 256);
      cache = true;
      continue;
    }
    fail(d, "invalid session cache \"" + a + "\"");
  }
  if (cache) {
    s.session_cache = Cache::kCache;
    s.session_cache_entries = entries;
  }
}

/// `ssl_protocols` / `proxy_ssl_protocols`: the set of versions.
unsigned protocols(const Directive& d) {
  static const std::pair<std::string_view, unsigned> kNames[] = {
      {"SSLv2", tls::kSslV2},     {"SSLv3", tls::kSslV3},     {"TLSv1", tls::kTlsV1},
      {"TLSv1.1", tls::kTlsV1_1}, {"TLSv1.2", tls::kTlsV1_2}, {"TLSv1.3", tls::kTlsV1_3}};
  unsigned out = 0;
  for (const auto& a : d.args) {
    unsigned bit = 0;
    for (const auto& [name, value] : kNames) {
      if (a == name) bit = value;
    }
    if (!bit) fail(d, "invalid value \"" + a + "\"");
    out |= bit;
  }
  return out;
}

}  // namespace

bool proxy_ssl(const Directive& d, LocationSettings& s, ProxySslFlags& replaced, FileSource& files,
               const std::string& conf_prefix,
               const std::function<Template(const Directive&, const std::string&)>& compile) {
  const std::string& n = d.name;
  if (!n.starts_with("proxy_ssl_")) return false;
  auto& c = s.proxy_ssl;
  if (n == "proxy_ssl_protocols") {
    c.protocols = protocols(d);
  } else if (n == "proxy_ssl_ciphers") {
    c.ciphers = d.args[0];
  } else if (n == "proxy_ssl_verify") {
    c.verify = d.args[0] == "on";
  } else if (n == "proxy_ssl_verify_depth") {
    c.verify_depth = int_arg(d, 0);
  } else if (n == "proxy_ssl_trusted_certificate") {
    c.trusted_certificate = pem_argument(d.args[0], "trusted CA", files, conf_prefix);
  } else if (n == "proxy_ssl_certificate") {
    c.certificate = pem_argument(d.args[0], "certificate", files, conf_prefix);
  } else if (n == "proxy_ssl_certificate_key") {
    c.key = pem_argument(d.args[0], "certificate key", files, conf_prefix);
  } else if (n == "proxy_ssl_session_reuse") {
    c.session_reuse = d.args[0] == "on";
  } else if (n == "proxy_ssl_server_name") {
    s.proxy_ssl_server_name = d.args[0] == "on";
  } else if (n == "proxy_ssl_name") {
    s.proxy_ssl_name = compile(d, d.args[0]);
  } else if (n == "proxy_ssl_conf_command") {
    if (!replaced.conf_commands) {
      replaced.conf_commands = true;
      c.conf_commands.clear();
    }
    c.conf_commands.emplace_back(d.args[0], d.args[1]);
  } else {
    return false;
  }
  return true;
}

bool ssl(const Directive& d, tls::ServerSettings& s, SslFlags& replaced, FileSource& files,
         const std::string& conf_prefix) {
  const std::string& n = d.name;
  if (!n.starts_with("ssl_")) return false;
  if (n == "ssl_certificate" || n == "ssl_certificate_key") {
    // Arrays: a level with any replaces its parent's; the nth key goes with the nth
    // certificate.
    const bool cert = n == "ssl_certificate";
    auto& list = cert ? s.certificates : s.keys;
    bool& level = cert ? replaced.certificates : replaced.keys;
    if (!level) {
      level = true;
      list.clear();
    }
    list.push_back(
        pem_argument(d.args[0], cert ? "certificate" : "certificate key", files, conf_prefix));
  } else if (n == "ssl_protocols") {
    s.protocols = protocols(d);
  } else if (n == "ssl_ciphers") {
    s.ciphers = d.args[0];
  } else if (n == "ssl_prefer_server_ciphers") {
    s.prefer_server_ciphers = d.args[0] == "on";
  } else if (n == "ssl_ecdh_curve") {
    s.ecdh_curve = d.args[0];
  } else if (n == "ssl_dhparam") {
    s.dhparam = pem_argument(d.args[0], "DH parameters", files, conf_prefix);
  } else if (n == "ssl_session_cache") {
    session_cache(d, s);
  } else if (n == "ssl_session_timeout") {
    int64_t seconds = 0;
    if (!parse_nginx_time(d.args[0], true, seconds))
      fail(d, "\"" + n + "\" directive invalid value");
    s.session_timeout = std::chrono::seconds(seconds);
  } else if (n == "ssl_session_tickets") {
    s.session_tickets = d.args[0] == "on";
  } else if (n == "ssl_session_ticket_key") {
    if (!replaced.ticket_keys) {
      replaced.ticket_keys = true;
      s.ticket_keys.clear();
    }
    auto key = pem_argument(d.args[0], "session ticket key", files, conf_prefix);
    if (key.pem.size() != 48 && key.pem.size() != 80) {
      fail(d, "\"" + key.path + "\" must be 48 or 80 bytes");
    }
    s.ticket_keys.push_back(std::move(key));
  } else if (n == "ssl_verify_client") {
    const std::string& a = d.args[0];
    if (a == "off") {
      s.verify_client = tls::VerifyClient::kOff;
    } else if (a == "on") {
      s.verify_client = tls::VerifyClient::kOn;
    } else if (a == "optional") {
      s.verify_client = tls::VerifyClient::kOptional;
    } else if (a == "optional_no_ca") {
      s.verify_client = tls::VerifyClient::kOptionalNoCa;
    } else {
      fail(d, "invalid value \"" + a + "\"");
    }
  } else if (n == "ssl_verify_depth") {
    s.verify_depth = int_arg(d, 0);
  } else if (n == "ssl_client_certificate") {
    s.client_certificate = pem_argument(d.args[0], "client CA", files, conf_prefix);
  } else if (n == "ssl_trusted_certificate") {
    s.trusted_certificate = pem_argument(d.args[0], "trusted CA", files, conf_prefix);
  } else if (n == "ssl_reject_handshake") {
    s.reject_handshake = d.args[0] == "on";
  } else if (n == "ssl_conf_command") {
    if (!replaced.conf_commands) {
      replaced.conf_commands = true;
      s.conf_commands.clear();
    }
    s.conf_commands.emplace_back(d.args[0], d.args[1]);
  } else if (n == "ssl_buffer_size") {
    int64_t size = 0;
    if (!parse_size(d.args[0], size)) fail(d, "\"" + n + "\" directive invalid value");
    s.buffer_size = static_cast<size_t>(size);
  } else if (n == "ssl_early_data" || n == "ssl_stapling" || n == "ssl_stapling_verify" ||
             n == "ssl_stapling_file" || n == "ssl_stapling_responder") {
    // Accepted: 0-RTT data stays off (replayable requests), and no OCSP response is
    // stapled (clients fetch it themselves).
  } else {
    return false;
  }
  return true;
}

}  // namespace tg::conf::modules
