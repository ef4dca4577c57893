// ngx_http_ssl_module's directives: what they set, how http and server levels
// merge, and nginx's messages for what is wrong (certificates are read through
// the conf's file source; PEM made in memory).
#include <gtest/gtest.h>

#include "conf/config.h"
#include "conf/file_source.h"
#include "tests/support/test_certs.h"

namespace tg::conf {
namespace {

class SslConf : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = test::make_ca("Conf CA");
    auto leaf = test::make_leaf(ca, "a.test", "Tidegate Tests", "a.test");
    auto rsa = test::make_leaf(ca, "a.test", "Tidegate Tests", "a.test", test::KeyType::kRsa2048);
    reads_ = {{"/pfx/conf/a.pem", leaf.cert_pem},
              {"/pfx/conf/a.key", leaf.key_pem},
              {"/pfx/conf/rsa.pem", rsa.cert_pem},
              {"/pfx/conf/rsa.key", rsa.key_pem},
              {"/pfx/conf/ca.pem", ca.cert_pem},
              {"/pfx/conf/other.key", test::make_key_pem()},
              {"/pfx/conf/garbage.pem", "not a certificate\n"},
              {"/pfx/conf/ticket48.key", std::string(48, 'k')},
              {"/pfx/conf/ticket20.key", std::string(20, 'k')}};
  }

  std::shared_ptr<const Config> build(const std::string& http) {
    SnapshotFiles files(reads_, {});
    LoadOptions o;
    o.prefix = "/pfx/";
    o.conf_file = "/pfx/conf/tidegate.conf";
    o.files = &files;
    return build_config(parse_text("events {}\nhttp {\n" + http + "\n}\n", "t.conf", {}), o);
  }

  std::string error(const std::string& http) {
    try {
      build(http);
    } catch (const ConfError& e) {
      return e.what();
    }
    return "";
  }

  std::vector<std::pair<std::string, std::string>> reads_;
};

TEST_F(SslConf, ListenSslBuildsTheServersContext) {
  auto cfg = build(
      "server { listen 127.0.0.1:8443 ssl; ssl_certificate a.pem; ssl_certificate_key a.key; }\n"
      "server { listen 127.0.0.1:8080; ssl_certificate a.pem; ssl_certificate_key a.key; }");
  const auto& tls_server = cfg->http.servers[0];
  EXPECT_TRUE(tls_server.listen[0].ssl);
  ASSERT_TRUE(tls_server.tls);
  EXPECT_NE(tls_server.tls->native(), nullptr);
  // Certificates alone do not make a plain address TLS.
  EXPECT_FALSE(cfg->http.servers[1].listen[0].ssl);
  EXPECT_FALSE(cfg->http.servers[1].tls);
}

TEST_F(SslConf, SettingsAndTheirDefaults) {
  auto cfg = build(
      "server { listen 127.0.0.1:8443 ssl; ssl_certificate a.pem; ssl_certificate_key a.key; }\n"
      "server { listen 127.0.0.1:8444 ssl; ssl_certificate a.pem; ssl_certificate_key a.key;\n"
      "  ssl_protocols TLSv1.3; ssl_ciphers ECDHE+AESGCM; ssl_prefer_server_ciphers on;\n"
      "  ssl_session_cache builtin:1000 shared:SSL:10m; ssl_session_timeout 1h;\n"
      "  ssl_session_tickets off; ssl_verify_client optional; ssl_verify_depth 2;\n"
      "  ssl_client_certificate ca.pem; ssl_ecdh_curve X25519:prime256v1;\n"
      "  ssl_conf_command Options PrioritizeChaCha; ssl_buffer_size 4k; ssl_stapling on; }");
  const auto& d = cfg->http.servers[0].ssl;
  EXPECT_EQ(d.protocols, tls::kTlsV1_2 | tls::kTlsV1_3);
  EXPECT_EQ(d.ciphers, "HIGH:!aNULL:!MD5");
  EXPECT_EQ(d.session_cache, tls::ServerSettings::SessionCache::kNone);
  EXPECT_EQ(d.session_timeout, std::chrono::seconds(300));
  EXPECT_TRUE(d.session_tickets);
  EXPECT_EQ(d.verify_client, tls::VerifyClient::kOff);
  const auto& s = cfg->http.servers[1].ssl;
  EXPECT_EQ(s.protocols, unsigned{tls::kTlsV1_3});
  EXPECT_EQ(s.ciphers, "ECDHE+AESGCM");
  EXPECT_TRUE(s.prefer_server_ciphers);
  EXPECT_EQ(s.session_cache, tls::ServerSettings::SessionCache::kCache);
  EXPECT_EQ(s.session_cache_entries, 1000u + 10u * 1024 * 1024 / 256);  // ~4000 per MB
  EXPECT_EQ(s.session_timeout, std::chrono::seconds(3600));
  EXPECT_FALSE(s.session_tickets);
  EXPECT_EQ(s.verify_client, tls::VerifyClient::kOptional);
  EXPECT_EQ(s.verify_depth, 2);
  EXPECT_EQ(s.client_certificate.path, "/pfx/conf/ca.pem");
  EXPECT_EQ(s.ecdh_curve, "X25519:prime256v1");
  ASSERT_EQ(s.conf_commands.size(), 1u);
  EXPECT_EQ(s.conf_commands[0].first, "Options");
  EXPECT_EQ(s.buffer_size, 4096u);
  EXPECT_TRUE(cfg->http.servers[1].tls);
}

TEST_F(SslConf, ServersInheritHttpAndTheirOwnListsReplaceIt) {
  auto cfg = build(
      "ssl_certificate a.pem; ssl_certificate_key a.key; ssl_protocols TLSv1.2;\n"
      "server { listen 127.0.0.1:8443 ssl; }\n"
      "server { listen 127.0.0.1:8444 ssl; ssl_certificate rsa.pem; ssl_certificate_key "
      "rsa.key; }\n"
      "server { listen 127.0.0.1:8445 ssl; ssl_certificate rsa.pem; ssl_certificate_key rsa.key;\n"
      "  ssl_certificate a.pem; ssl_certificate_key a.key; }");
  const auto& servers = cfg->http.servers;
  ASSERT_EQ(servers[0].ssl.certificates.size(), 1u);
  EXPECT_EQ(servers[0].ssl.certificates[0].path, "/pfx/conf/a.pem");
  EXPECT_EQ(servers[0].ssl.protocols, unsigned{tls::kTlsV1_2});
  ASSERT_EQ(servers[1].ssl.certificates.size(), 1u);
  EXPECT_EQ(servers[1].ssl.certificates[0].path, "/pfx/conf/rsa.pem");
  EXPECT_EQ(servers[1].ssl.keys[0].path, "/pfx/conf/rsa.key");
  ASSERT_EQ(servers[2].ssl.certificates.size(), 2u);  // RSA and ECDSA side by side
  for (const auto& s : servers) EXPECT_TRUE(s.tls);
}

TEST_F(SslConf, InlineDataCertificates) {
  std::string cert, key;
  for (const auto& [path, text] : reads_) {
    if (path == "/pfx/conf/a.pem") cert = text;
    if (path == "/pfx/conf/a.key") key = text;
  }
  auto cfg = build("server { listen 127.0.0.1:8443 ssl; ssl_certificate \"data:" + cert +
                   "\"; ssl_certificate_key 'data:" + key + "'; }");
  EXPECT_TRUE(cfg->http.servers[0].tls);
  EXPECT_TRUE(cfg->http.servers[0].ssl.certificates[0].path.starts_with("data:-----BEGIN"));
}

TEST_F(SslConf, OneSslListenMakesTheWholeAddressTls) {
  // nginx: `ssl` is an option of the address. The second server needs no `ssl` of its
  // own, and with no certificate SNI that picks it keeps the default's.
  auto cfg = build(
      "server { listen 127.0.0.1:8443 ssl; ssl_certificate a.pem; ssl_certificate_key a.key; }\n"
      "server { listen 127.0.0.1:8443; server_name b.test; }");
  EXPECT_TRUE(cfg->http.servers[1].listen[0].ssl);
  EXPECT_FALSE(cfg->http.servers[1].tls);
}

TEST_F(SslConf, RejectHandshakeNeedsNoCertificate) {
  auto cfg = build("server { listen 127.0.0.1:8443 ssl default_server; ssl_reject_handshake on; }");
  ASSERT_TRUE(cfg->http.servers[0].tls);
  EXPECT_TRUE(cfg->http.servers[0].tls->reject_handshake());
}

TEST_F(SslConf, NginxMessages) {
  // nginx names the server block's line.
  EXPECT_EQ(error("server {\nlisten 127.0.0.1:8443 ssl;\n}"),
            "no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive in t.conf:3");
  EXPECT_EQ(error("server { listen 127.0.0.1:8443 ssl; ssl_certificate missing.pem; "
                  "ssl_certificate_key a.key; }"),
            "cannot load certificate \"/pfx/conf/missing.pem\": BIO_new_file() failed (2: No "
            "such file or directory)");
  EXPECT_EQ(error("server {\nlisten 127.0.0.1:8443 ssl; ssl_certificate a.pem; }"),
            "no \"ssl_certificate_key\" is defined for certificate \"/pfx/conf/a.pem\"");
  EXPECT_TRUE(error("server { listen 127.0.0.1:8443 ssl; ssl_certificate garbage.pem; "
                    "ssl_certificate_key a.key; }")
                  .starts_with("cannot load certificate \"/pfx/conf/garbage.pem\": "
                               "PEM_read_bio_X509_AUX() failed (SSL: error:"));
  const std::string mismatch = error(
      "server { listen 127.0.0.1:8443 ssl; ssl_certificate a.pem; ssl_certificate_key "
      "other.key; }");
  EXPECT_TRUE(mismatch.starts_with("SSL_CTX_use_PrivateKey(\"/pfx/conf/other.key\") failed (SSL:"))
      << mismatch;
  EXPECT_NE(mismatch.find("key values mismatch"), std::string::npos) << mismatch;
  EXPECT_TRUE(error("server { listen 127.0.0.1:8443 ssl; ssl_certificate a.pem; "
                    "ssl_certificate_key a.key; ssl_ciphers NOPE; }")
                  .starts_with("SSL_CTX_set_cipher_list(\"NOPE\") failed (SSL: error:"));
  EXPECT_EQ(error("server {\nssl_protocols TLSv1.2 TLSv9; }"),
            "invalid value \"TLSv9\" in t.conf:4");
  EXPECT_EQ(error("server {\nssl_verify_client sometimes; }"),
            "invalid value \"sometimes\" in t.conf:4");
  EXPECT_EQ(error("server {\nssl_session_cache shared:SSL; }"),
            "invalid session cache \"shared:SSL\" in t.conf:4");
  EXPECT_EQ(error("server {\nssl_session_cache shared:SSL:1k; }"),
            "session cache \"shared:SSL:1k\" is too small in t.conf:4");
  EXPECT_EQ(error("server {\nssl_session_ticket_key ticket20.key; }"),
            "\"/pfx/conf/ticket20.key\" must be 48 or 80 bytes in t.conf:4");
  EXPECT_EQ(error("server {\nlisten 127.0.0.1:8443 ssl; ssl_certificate a.pem; "
                  "ssl_certificate_key a.key; ssl_verify_client on; }"),
            "no ssl_client_certificate for ssl_verify_client");
  EXPECT_EQ(error("server {\nlisten 127.0.0.1:8443 ssl; ssl_certificate a.pem; "
                  "ssl_certificate_key a.key; ssl_verify_client optional_no_ca; "
                  "ssl_session_ticket_key ticket48.key; }"),
            "");
}

TEST_F(SslConf, Http2IsAcceptedWithAWarning) {
  auto cfg = build(
      "server { listen 127.0.0.1:8443 ssl http2; http2 on; ssl_certificate a.pem; "
      "ssl_certificate_key a.key; }");
  ASSERT_EQ(cfg->warnings.size(), 1u);
  EXPECT_EQ(cfg->warnings[0], "HTTP/2 is not supported yet, clients use HTTP/1.1 in t.conf:3");
}

TEST_F(SslConf, SslVariablesCompile) {
  auto cfg = build(
      "server { listen 127.0.0.1:8443 ssl; ssl_certificate a.pem; ssl_certificate_key a.key;\n"
      "  location / { return 200 \"$https $scheme $ssl_protocol $ssl_cipher $ssl_server_name "
      "$ssl_session_reused $ssl_client_verify $ssl_client_s_dn $ssl_client_fingerprint\"; } }");
  EXPECT_TRUE(cfg->uses(Var::kSsl));
  EXPECT_TRUE(cfg->uses(Var::kHttps));
  EXPECT_EQ(error("server { location / { return 200 $ssl_nonsense; } }"),
            "unknown \"ssl_nonsense\" variable");
}

TEST_F(SslConf, ProxyPassHttpsBuildsTheLocationsContext) {
  auto cfg = build(
      "proxy_ssl_protocols TLSv1.3; proxy_ssl_verify on; proxy_ssl_trusted_certificate ca.pem;\n"
      "upstream up { server 127.0.0.1:9443; }\n"
      "server { listen 127.0.0.1:8080;\n"
      "  location /a { proxy_pass https://up; proxy_ssl_server_name on; proxy_ssl_name "
      "$host; }\n"
      "  location /b { proxy_pass https://127.0.0.1; proxy_ssl_verify off;\n"
      "    proxy_ssl_certificate a.pem; proxy_ssl_certificate_key a.key; "
      "proxy_ssl_session_reuse off; }\n"
      "  location /c { proxy_pass http://127.0.0.1; } }");
  const auto& locs = cfg->http.servers[0].locations;
  const auto& a = *locs[0];
  ASSERT_TRUE(a.proxy && a.proxy->https);
  EXPECT_TRUE(a.upstream_tls);
  EXPECT_EQ(a.proxy->proxy_port, "443");
  EXPECT_EQ(a.settings.proxy_ssl.protocols, unsigned{tls::kTlsV1_3});  // from http
  EXPECT_TRUE(a.settings.proxy_ssl.verify);
  EXPECT_TRUE(a.settings.proxy_ssl_server_name);
  EXPECT_EQ(a.settings.proxy_ssl_name.source(), "$host");
  const auto& b = *locs[1];
  EXPECT_TRUE(b.upstream_tls);
  EXPECT_FALSE(b.upstream_tls->session_reuse());
  EXPECT_EQ(b.settings.proxy_ssl.certificate.path, "/pfx/conf/a.pem");
  // An implicit group per scheme: port 443 for https://, 80 for http://.
  const auto& ups = cfg->http.upstreams;
  EXPECT_EQ(ups[b.proxy->upstream].servers.at(0).endpoint.port(), 443);
  EXPECT_EQ(ups[locs[2]->proxy->upstream].servers.at(0).endpoint.port(), 80);
  EXPECT_FALSE(locs[2]->upstream_tls);
}

TEST_F(SslConf, ProxySslMessages) {
  EXPECT_EQ(error("server {\nlocation / {\nproxy_pass https://127.0.0.1:9443; proxy_ssl_verify "
                  "on; } }"),
            "no proxy_ssl_trusted_certificate for proxy_ssl_verify");
  EXPECT_EQ(error("server { location / { proxy_pass https://127.0.0.1:9443;\n"
                  "proxy_ssl_certificate missing.pem; } }"),
            "cannot load certificate \"/pfx/conf/missing.pem\": BIO_new_file() failed (2: No "
            "such file or directory)");
  EXPECT_EQ(error("upstream up { zone up 64k; server 127.0.0.1:9443; }\n"
                  "server { location / { proxy_pass https://up;\nhealth_check; } }"),
            "\"health_check\" with \"proxy_pass https://\" is not supported yet in t.conf:5");
  EXPECT_EQ(error("server { location / {\nproxy_ssl_protocols TLSv1.4; } }"),
            "invalid value \"TLSv1.4\" in t.conf:4");
}

}  // namespace
}  // namespace tg::conf
