// ServerContext over real in-process handshakes: an OpenSSL client and the server
// SSL from ServerContext::new_connection on the two ends of a non-blocking
// socketpair, each side's SSL_do_handshake called in turn.
#include "tls/server_context.h"

#include "tls/client_context.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/test_certs.h"

namespace tg::tls {
namespace {

using test::CertPair;
using test::KeyType;

struct Free {
  void operator()(SSL* p) const { SSL_free(p); }
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
  void operator()(SSL_SESSION* p) const { SSL_SESSION_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;
using Context = std::shared_ptr<const ServerContext>;

Owned<X509> parse_cert(const std::string& pem) {
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return Owned<X509>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

Owned<EVP_PKEY> parse_key(const std::string& pem) {
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return Owned<EVP_PKEY>(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

/// The certificates every test uses, made once (key generation takes time).
struct Certs {
  CertPair server_ca = test::make_ca("Server CA", KeyType::kEcP256, 1);
  CertPair a =
      test::make_leaf(server_ca, "a.test", "Tidegate Tests", "a.test", KeyType::kEcP256, 2);
  CertPair b =
      test::make_leaf(server_ca, "b.test", "Tidegate Tests", "b.test", KeyType::kEcP256, 3);
  CertPair fallback = test::make_leaf(server_ca, "default.test", "Tidegate Tests", "default.test",
                                      KeyType::kEcP256, 4);
  CertPair rsa =
      test::make_leaf(server_ca, "rsa.test", "Tidegate Tests", "rsa.test", KeyType::kRsa2048, 5);
  CertPair client_ca = test::make_ca("Client CA", KeyType::kEcP256, 10);
  CertPair alice = test::make_leaf(client_ca, "alice", "Tidegate Tests", "", KeyType::kEcP256, 11);
  CertPair other_ca = test::make_ca("Other CA", KeyType::kEcP256, 20);
  CertPair mallory =
      test::make_leaf(other_ca, "mallory", "Tidegate Tests", "", KeyType::kEcP256, 21);
};

const Certs& certs() {
  static const Certs c;
  return c;
}

ServerSettings settings_for(const CertPair& pair, const std::string& name) {
  ServerSettings s;
  s.certificates = {{"/certs/" + name + ".pem", pair.cert_pem}};
  s.keys = {{"/certs/" + name + ".key", pair.key_pem}};
  return s;
}

Context build(const ServerSettings& s) {
  auto c = ServerContext::build(s);
  EXPECT_NE(c, nullptr);
  return c;
}

/// A ticket key file's bytes: `size` bytes from `seed`.
std::string ticket_key(size_t size, unsigned char seed) {
  std::string key(size, '\0');
  for (size_t i = 0; i < size; ++i) key[i] = static_cast<char>(seed + i * 7);
  return key;
}

std::string lower_hex(const unsigned char* p, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

/// SNI by a fixed table; records the names it was asked for.
class MapChooser final : public SniChooser {
 public:
  std::map<std::string, const ServerContext*, std::less<>> names;
  mutable std::vector<std::string> asked;

  const ServerContext* choose_tls(std::string_view name) const override {
    asked.emplace_back(name);
    auto it = names.find(name);
    return it == names.end() ? nullptr : it->second;
  }
};

struct ClientOptions {
  std::string sni;  ///< empty: none sent
  int min_version = 0;
  int max_version = 0;
  const CertPair* cert = nullptr;  ///< the client certificate, if any
  SSL_SESSION* session = nullptr;  ///< offered for resumption
  std::string sigalgs;             ///< empty: OpenSSL's default
  bool alpn = true;                ///< offer "http/1.1"
};

enum class State { kPending, kDone, kFailed };

std::ostream& operator<<(std::ostream& out, State state) {
  return out << (state == State::kPending ? "pending" : state == State::kDone ? "done" : "failed");
}

/// One client/server pair over a socketpair, after its handshake.
struct Connection {
  int fds[2] = {-1, -1};
  Owned<SSL_CTX> client_ctx;
  Owned<SSL> client;
  Owned<SSL> server;
  State client_state = State::kPending;
  State server_state = State::kPending;
  std::string client_error;
  std::string server_error;
  int alert_received = -1;  ///< the last alert the client read (its description)

  bool ok() const { return client_state == State::kDone && server_state == State::kDone; }

  std::string variable(std::string_view name) const {
    std::string out;
    if (!connection_variable(server.get(), name, out)) return "<none>";
    return out;
  }

  /// The subject CN of the certificate the client got.
  std::string server_cn() const {
    Owned<X509> cert(SSL_get1_peer_certificate(client.get()));
    if (!cert) return "<none>";
    char buf[256];
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, buf,
                                  sizeof buf) < 0) {
      return "<no CN>";
    }
    return buf;
  }

  /// The client's session, after it has read what the server sent after the
  /// handshake (TLS 1.3's tickets).
  Owned<SSL_SESSION> client_session() {
    char byte;
    ERR_clear_error();
    const int n = SSL_read(client.get(), &byte, 1);
    EXPECT_LE(n, 0);
    EXPECT_EQ(SSL_get_error(client.get(), n), SSL_ERROR_WANT_READ);
    ERR_clear_error();
    return Owned<SSL_SESSION>(SSL_get1_session(client.get()));
  }

  ~Connection() {
    // A clean close (close_notify both ways): OpenSSL drops from its cache the
    // session of a connection freed without one.
    if (client_state == State::kDone) SSL_shutdown(client.get());
    if (server_state == State::kDone) SSL_shutdown(server.get());
    ERR_clear_error();
    client.reset();
    server.reset();
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
};

void on_client_info(const SSL* ssl, int where, int ret) {
  if (where & SSL_CB_READ_ALERT) {
    static_cast<Connection*>(SSL_get_app_data(ssl))->alert_received = ret & 0xff;
  }
}

/// One SSL_do_handshake on a side still pending.
void step(SSL* ssl, State& state, std::string& error) {
  if (state != State::kPending) return;
  ERR_clear_error();
  const int rc = SSL_do_handshake(ssl);
  if (rc == 1) {
    state = State::kDone;
    return;
  }
  const int e = SSL_get_error(ssl, rc);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
  state = State::kFailed;
  error = "SSL_get_error " + std::to_string(e) + openssl_errors();
}

/// A client with `options` handshaking with `server_ctx`'s connection (SNI chosen by
/// `chooser`, which may be null).
std::unique_ptr<Connection> handshake(const ServerContext& server_ctx, const SniChooser* chooser,
                                      const ClientOptions& options = {}) {
  auto c = std::make_unique<Connection>();
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, c->fds) != 0) {
    ADD_FAILURE() << "socketpair failed";
    return c;
  }
  for (int fd : c->fds) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  c->client_ctx.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX* cctx = c->client_ctx.get();
  auto ca = parse_cert(certs().server_ca.cert_pem);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), ca.get());
  SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_min_proto_version(cctx, options.min_version);
  SSL_CTX_set_max_proto_version(cctx, options.max_version);
  if (options.cert) {
    auto cert = parse_cert(options.cert->cert_pem);
    auto key = parse_key(options.cert->key_pem);
    EXPECT_EQ(SSL_CTX_use_certificate(cctx, cert.get()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(cctx, key.get()), 1);
  }
  if (!options.sigalgs.empty()) {
    EXPECT_EQ(SSL_CTX_set1_sigalgs_list(cctx, options.sigalgs.c_str()), 1);
  }
  if (options.alpn) {
    static const unsigned char kAlpn[] = "\x08http/1.1";
    EXPECT_EQ(SSL_CTX_set_alpn_protos(cctx, kAlpn, sizeof kAlpn - 1), 0);
  }

  c->client.reset(SSL_new(cctx));
  SSL* client = c->client.get();
  SSL_set_fd(client, c->fds[0]);
  SSL_set_connect_state(client);
  SSL_set_app_data(client, c.get());
  SSL_set_info_callback(client, on_client_info);
  if (!options.sni.empty()) SSL_set_tlsext_host_name(client, options.sni.c_str());
  if (options.session) {
    EXPECT_EQ(SSL_set_session(client, options.session), 1);
  }

  c->server.reset(server_ctx.new_connection(c->fds[1], chooser));
  if (!c->server) {
    ADD_FAILURE() << "new_connection failed" << openssl_errors();
    return c;
  }
  for (int round = 0; round < 100; ++round) {
    step(client, c->client_state, c->client_error);
    step(c->server.get(), c->server_state, c->server_error);
    if (c->client_state != State::kPending && c->server_state != State::kPending) break;
  }
  return c;
}

#define ASSERT_HANDSHAKE_OK(conn)                                  \
  ASSERT_TRUE((conn)->ok()) << "client: " << (conn)->client_error  \
                            << " server: " << (conn)->server_error \
                            << " alert: " << (conn)->alert_received

// --- Handshakes and variables -------------------------------------------------

TEST(ServerContextTest, EcCertificateHandshakeSetsVariables) {
  auto ctx = build(settings_for(certs().a, "a"));
  auto conn = handshake(*ctx, nullptr, {.sni = "a.test"});
  ASSERT_HANDSHAKE_OK(conn);

  EXPECT_EQ(SSL_get_verify_result(conn->client.get()), X509_V_OK);
  EXPECT_EQ(conn->server_cn(), "a.test");
  EXPECT_EQ(ServerContext::of(conn->server.get()), ctx.get());
  EXPECT_EQ(conn->variable("protocol"), "TLSv1.3");
  const std::string cipher = conn->variable("cipher");
  EXPECT_FALSE(cipher.empty());
  EXPECT_NE(cipher, "<none>");
  EXPECT_EQ(cipher, SSL_get_cipher_name(conn->client.get()));
  EXPECT_EQ(conn->variable("server_name"), "a.test");
  EXPECT_EQ(conn->variable("session_reused"), ".");
  EXPECT_EQ(conn->variable("alpn_protocol"), "http/1.1");
  EXPECT_NE(conn->variable("curve"), "<none>");
  // No client certificate asked for.
  EXPECT_EQ(conn->variable("client_verify"), "NONE");
  EXPECT_EQ(conn->variable("client_s_dn"), "<none>");
  EXPECT_EQ(conn->variable("client_fingerprint"), "<none>");
  std::string reason;
  EXPECT_EQ(check_client_certificate(conn->server.get(), reason), 0);
  EXPECT_EQ(reason, "");
}

TEST(ServerContextTest, VariablesWithoutSniOrAlpn) {
  auto ctx = build(settings_for(certs().a, "a"));
  auto conn = handshake(*ctx, nullptr, {.alpn = false});
  ASSERT_HANDSHAKE_OK(conn);
  EXPECT_EQ(conn->variable("server_name"), "<none>");
  EXPECT_EQ(conn->variable("alpn_protocol"), "<none>");
  EXPECT_EQ(conn->variable("protocol"), "TLSv1.3");
}

TEST(ServerContextTest, UnknownVariableIsNotAVariable) {
  EXPECT_TRUE(is_connection_variable("protocol"));
  EXPECT_TRUE(is_connection_variable("client_fingerprint"));
  EXPECT_TRUE(is_connection_variable("curve"));
  EXPECT_FALSE(is_connection_variable("ciphers"));
  EXPECT_FALSE(is_connection_variable("ssl_protocol"));
  std::string out;
  EXPECT_FALSE(connection_variable(nullptr, "protocol", out));
}

TEST(ServerContextTest, RsaCertificateHandshake) {
  auto ctx = build(settings_for(certs().rsa, "rsa"));
  auto conn = handshake(*ctx, nullptr, {.sni = "rsa.test"});
  ASSERT_HANDSHAKE_OK(conn);
  EXPECT_EQ(conn->server_cn(), "rsa.test");
  EXPECT_EQ(conn->variable("protocol"), "TLSv1.3");
}

TEST(ServerContextTest, RsaAndEcPairsSideBySideClientPicks) {
  ServerSettings s = settings_for(certs().rsa, "rsa");
  s.certificates.push_back({"/certs/a.pem", certs().a.cert_pem});
  s.keys.push_back({"/certs/a.key", certs().a.key_pem});
  auto ctx = build(s);

  auto ec = handshake(*ctx, nullptr, {.sigalgs = "ECDSA+SHA256"});
  ASSERT_HANDSHAKE_OK(ec);
  EXPECT_EQ(ec->server_cn(), "a.test");

  auto rsa = handshake(*ctx, nullptr, {.sigalgs = "rsa_pss_rsae_sha256"});
  ASSERT_HANDSHAKE_OK(rsa);
  EXPECT_EQ(rsa->server_cn(), "rsa.test");
}

// --- SNI ----------------------------------------------------------------------

struct SniFixture : ::testing::Test {
  Context fallback = build(settings_for(certs().fallback, "default"));
  Context a = build(settings_for(certs().a, "a"));
  Context b = build(settings_for(certs().b, "b"));
  MapChooser chooser;

  void SetUp() override {
    chooser.names["a.test"] = a.get();
    chooser.names["b.test"] = b.get();
  }
};

TEST_F(SniFixture, NameChoosesItsContext) {
  auto conn_b = handshake(*fallback, &chooser, {.sni = "b.test"});
  ASSERT_HANDSHAKE_OK(conn_b);
  EXPECT_EQ(conn_b->server_cn(), "b.test");
  EXPECT_EQ(ServerContext::of(conn_b->server.get()), b.get());
  EXPECT_EQ(conn_b->variable("server_name"), "b.test");
  EXPECT_EQ(chooser.asked, std::vector<std::string>{"b.test"});

  auto conn_a = handshake(*fallback, &chooser, {.sni = "a.test"});
  ASSERT_HANDSHAKE_OK(conn_a);
  EXPECT_EQ(conn_a->server_cn(), "a.test");
  EXPECT_EQ(ServerContext::of(conn_a->server.get()), a.get());
}

TEST_F(SniFixture, NoNameKeepsDefault) {
  auto conn = handshake(*fallback, &chooser, {});
  ASSERT_HANDSHAKE_OK(conn);
  EXPECT_EQ(conn->server_cn(), "default.test");
  EXPECT_EQ(ServerContext::of(conn->server.get()), fallback.get());
  // The chooser is asked with an empty name when the client sent none.
  EXPECT_EQ(chooser.asked, std::vector<std::string>{""});
}

TEST_F(SniFixture, UnknownNameKeepsDefault) {
  auto conn = handshake(*fallback, &chooser, {.sni = "c.test"});
  ASSERT_HANDSHAKE_OK(conn);
  EXPECT_EQ(conn->server_cn(), "default.test");
  EXPECT_EQ(ServerContext::of(conn->server.get()), fallback.get());
  EXPECT_EQ(conn->variable("server_name"), "c.test");
}

TEST_F(SniFixture, NameIsLowerCasedWithoutTrailingDot) {
  auto conn = handshake(*fallback, &chooser, {.sni = "B.Test."});
  ASSERT_HANDSHAKE_OK(conn);
  EXPECT_EQ(chooser.asked, std::vector<std::string>{"b.test"});
  EXPECT_EQ(conn->server_cn(), "b.test");
}

TEST_F(SniFixture, NullChooserKeepsDefault) {
  auto conn = handshake(*fallback, nullptr, {.sni = "b.test"});
  ASSERT_HANDSHAKE_OK(conn);
  EXPECT_EQ(conn->server_cn(), "default.test");
}

TEST_F(SniFixture, DefaultServersProtocolsDecide) {
  // As in nginx, the version is settled from the ClientHello before SNI's choice:
  // the chosen server's ssl_protocols do not apply.
  ServerSettings s = settings_for(certs().b, "b");
  s.protocols = kTlsV1_2;
  auto b12 = build(s);
  chooser.names["b.test"] = b12.get();
  auto conn = handshake(*fallback, &chooser, {.sni = "b.test"});
  ASSERT_HANDSHAKE_OK(conn);
  EXPECT_EQ(conn->server_cn(), "b.test");
  EXPECT_EQ(conn->variable("protocol"), "TLSv1.3");
}

// --- ssl_reject_handshake -----------------------------------------------------

TEST_F(SniFixture, RejectingContextFailsHandshake) {
  ServerSettings s;
  s.reject_handshake = true;
  auto reject = build(s);
  EXPECT_TRUE(reject->reject_handshake());
  chooser.names["reject.test"] = reject.get();

  auto conn = handshake(*fallback, &chooser, {.sni = "reject.test"});
  EXPECT_EQ(conn->server_state, State::kFailed) << conn->server_error;
  EXPECT_EQ(conn->client_state, State::kFailed) << conn->client_error;
  EXPECT_EQ(conn->alert_received, SSL_AD_UNRECOGNIZED_NAME);
}

TEST_F(SniFixture, RejectingDefaultServesOnlyKnownNames) {
  ServerSettings s;
  s.reject_handshake = true;
  auto reject = build(s);

  auto known = handshake(*reject, &chooser, {.sni = "a.test"});
  ASSERT_HANDSHAKE_OK(known);
  EXPECT_EQ(known->server_cn(), "a.test");

  auto unknown = handshake(*reject, &chooser, {.sni = "c.test"});
  EXPECT_EQ(unknown->server_state, State::kFailed);
  EXPECT_EQ(unknown->client_state, State::kFailed);
  EXPECT_EQ(unknown->alert_received, SSL_AD_UNRECOGNIZED_NAME);

  auto none = handshake(*reject, &chooser, {});
  EXPECT_EQ(none->server_state, State::kFailed);
  EXPECT_EQ(none->client_state, State::kFailed);
  EXPECT_EQ(none->alert_received, SSL_AD_UNRECOGNIZED_NAME);
}

// --- ssl_protocols ------------------------------------------------------------

TEST(ServerContextTest, Tls13OnlyRefusesTls12Client) {
  ServerSettings s = settings_for(certs().a, "a");
  s.protocols = kTlsV1_3;
  auto ctx = build(s);

  auto old_client = handshake(*ctx, nullptr, {.max_version = TLS1_2_VERSION});
  EXPECT_EQ(old_client->server_state, State::kFailed);
  EXPECT_EQ(old_client->client_state, State::kFailed);
  EXPECT_EQ(old_client->alert_received, SSL_AD_PROTOCOL_VERSION);

  auto new_client = handshake(*ctx, nullptr, {});
  ASSERT_HANDSHAKE_OK(new_client);
  EXPECT_EQ(new_client->variable("protocol"), "TLSv1.3");
}

TEST(ServerContextTest, Tls12OnlyNegotiatesTls12) {
  ServerSettings s = settings_for(certs().a, "a");
  s.protocols = kTlsV1_2;
  auto ctx = build(s);

  auto conn = handshake(*ctx, nullptr, {});
  ASSERT_HANDSHAKE_OK(conn);
  EXPECT_EQ(conn->variable("protocol"), "TLSv1.2");

  auto tls13_client = handshake(*ctx, nullptr, {.min_version = TLS1_3_VERSION});
  EXPECT_EQ(tls13_client->server_state, State::kFailed);
  EXPECT_EQ(tls13_client->client_state, State::kFailed);
}

// --- build() errors -----------------------------------------------------------

std::string build_error(const ServerSettings& s) {
  try {
    ServerContext::build(s);
  } catch (const std::runtime_error& e) {
    // Each failure leaves OpenSSL's queue empty for the next one.
    EXPECT_EQ(ERR_peek_error(), 0UL);
    return e.what();
  }
  return "<no error>";
}

TEST(ServerContextBuildTest, GarbageCertificate) {
  ServerSettings s = settings_for(certs().a, "a");
  s.certificates[0] = {"/etc/tidegate/garbage.pem", "this is no certificate\n"};
  const std::string what = build_error(s);
  // nginx's text (ngx_ssl_load_certificate), as server_context.h documents it.
  EXPECT_TRUE(what.starts_with(
      "cannot load certificate \"/etc/tidegate/garbage.pem\": PEM_read_bio_X509_AUX() failed"))
      << what;
  EXPECT_NE(what.find(" (SSL: "), std::string::npos) << what;
}

TEST(ServerContextBuildTest, GarbageKey) {
  ServerSettings s = settings_for(certs().a, "a");
  s.keys[0] = {"/etc/tidegate/garbage.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n"};
  const std::string what = build_error(s);
  EXPECT_TRUE(
      what.starts_with("cannot load certificate key \"/etc/tidegate/garbage.key\": "
                       "PEM_read_bio_PrivateKey() failed"))
      << what;
}

TEST(ServerContextBuildTest, MismatchedKey) {
  ServerSettings s = settings_for(certs().a, "a");
  s.keys[0] = {"/etc/tidegate/other.key", test::make_key_pem(KeyType::kEcP256)};
  const std::string what = build_error(s);
  EXPECT_TRUE(what.starts_with("SSL_CTX_use_PrivateKey(\"/etc/tidegate/other.key\") failed"))
      << what;
  EXPECT_NE(what.find("key values mismatch"), std::string::npos) << what;
}

TEST(ServerContextBuildTest, BadCiphers) {
  ServerSettings s = settings_for(certs().a, "a");
  s.ciphers = "NOPE";
  const std::string what = build_error(s);
  EXPECT_TRUE(what.starts_with("SSL_CTX_set_cipher_list(\"NOPE\") failed")) << what;
  EXPECT_NE(what.find("no cipher match"), std::string::npos) << what;
}

TEST(ServerContextBuildTest, BadCurve) {
  ServerSettings s = settings_for(certs().a, "a");
  s.ecdh_curve = "nope";
  const std::string what = build_error(s);
  EXPECT_TRUE(what.starts_with("SSL_CTX_set1_curves_list(\"nope\") failed")) << what;
}

TEST(ServerContextBuildTest, GarbageClientCertificate) {
  ServerSettings s = settings_for(certs().a, "a");
  s.verify_client = VerifyClient::kOn;
  s.client_certificate = {"/etc/tidegate/ca.pem", "garbage"};
  const std::string what = build_error(s);
  EXPECT_NE(what.find("\"/etc/tidegate/ca.pem\""), std::string::npos) << what;
}

TEST(ServerContextBuildTest, CertificateChainInOneFile) {
  // The leaf and, after it, its chain (here the CA): both accepted.
  ServerSettings s = settings_for(certs().a, "a");
  s.certificates[0].pem += certs().server_ca.cert_pem;
  auto ctx = build(s);
  auto conn = handshake(*ctx, nullptr, {});
  ASSERT_HANDSHAKE_OK(conn);
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(conn->client.get());
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(sk_X509_num(chain), 2);
}

// --- Client certificates ------------------------------------------------------

ServerSettings verifying(VerifyClient mode) {
  ServerSettings s = settings_for(certs().a, "a");
  s.verify_client = mode;
  s.client_certificate = {"/certs/client_ca.pem", certs().client_ca.cert_pem};
  return s;
}

TEST(ClientCertificateTest, RequiredButNotSentIs496) {
  auto ctx = build(verifying(VerifyClient::kOn));
  EXPECT_EQ(ctx->verify_client(), VerifyClient::kOn);
  auto conn = handshake(*ctx, nullptr, {});
  ASSERT_HANDSHAKE_OK(conn);
  std::string reason;
  EXPECT_EQ(check_client_certificate(conn->server.get(), reason), 496);
  EXPECT_EQ(reason, "client sent no required SSL certificate");
  EXPECT_EQ(conn->variable("client_verify"), "NONE");
}

TEST(ClientCertificateTest, FromTrustedCaIsAccepted) {
  auto ctx = build(verifying(VerifyClient::kOn));
  auto conn = handshake(*ctx, nullptr, {.cert = &certs().alice});
  ASSERT_HANDSHAKE_OK(conn);
  std::string reason;
  EXPECT_EQ(check_client_certificate(conn->server.get(), reason), 0) << reason;
  EXPECT_EQ(conn->variable("client_verify"), "SUCCESS");
  EXPECT_EQ(conn->variable("client_s_dn"), "CN=alice,O=Tidegate Tests");
  EXPECT_EQ(conn->variable("client_i_dn"), "CN=Client CA,O=Tidegate Tests");
  EXPECT_EQ(conn->variable("client_serial"), "0B");  // 11

  auto cert = parse_cert(certs().alice.cert_pem);
  ASSERT_NE(cert, nullptr);
  unsigned char* der = nullptr;
  const int der_len = i2d_X509(cert.get(), &der);
  ASSERT_GT(der_len, 0);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  ASSERT_EQ(EVP_Digest(der, static_cast<size_t>(der_len), md, &md_len, EVP_sha1(), nullptr), 1);
  OPENSSL_free(der);
  ASSERT_EQ(md_len, 20u);
  EXPECT_EQ(conn->variable("client_fingerprint"), lower_hex(md, md_len));

  EXPECT_EQ(conn->variable("client_v_start"), "Jan  1 00:00:00 2024 GMT");
  EXPECT_EQ(conn->variable("client_v_end"), "Dec 31 23:59:59 2099 GMT");
}

TEST(ClientCertificateTest, FromTrustedCaOverTls12IsAccepted) {
  auto ctx = build(verifying(VerifyClient::kOn));
  auto conn = handshake(*ctx, nullptr, {.max_version = TLS1_2_VERSION, .cert = &certs().alice});
  ASSERT_HANDSHAKE_OK(conn);
  EXPECT_EQ(conn->variable("protocol"), "TLSv1.2");
  std::string reason;
  EXPECT_EQ(check_client_certificate(conn->server.get(), reason), 0) << reason;
  EXPECT_EQ(conn->variable("client_verify"), "SUCCESS");
  EXPECT_EQ(conn->variable("client_s_dn"), "CN=alice,O=Tidegate Tests");
}

TEST(ClientCertificateTest, FromOtherCaIs495) {
  auto ctx = build(verifying(VerifyClient::kOn));
  auto conn = handshake(*ctx, nullptr, {.cert = &certs().mallory});
  // The handshake itself succeeds: each request checks the verdict.
  ASSERT_HANDSHAKE_OK(conn);
  std::string reason;
  EXPECT_EQ(check_client_certificate(conn->server.get(), reason), 495);
  EXPECT_TRUE(reason.starts_with("client SSL certificate verify error: (")) << reason;
  // A lone certificate of an unknown issuer: X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE.
  EXPECT_EQ(reason,
            "client SSL certificate verify error: (21:unable to verify the first certificate)");
  EXPECT_EQ(conn->variable("client_verify"), "FAILED:unable to verify the first certificate");
  EXPECT_EQ(conn->variable("client_s_dn"), "CN=mallory,O=Tidegate Tests");
}

TEST(ClientCertificateTest, OptionalNoCaForgivesUnknownCa) {
  auto ctx = build(verifying(VerifyClient::kOptionalNoCa));
  auto conn = handshake(*ctx, nullptr, {.cert = &certs().mallory});
  ASSERT_HANDSHAKE_OK(conn);
  std::string reason;
  EXPECT_EQ(check_client_certificate(conn->server.get(), reason), 0) << reason;
  EXPECT_EQ(conn->variable("client_verify"), "FAILED:unable to verify the first certificate");
}

TEST(ClientCertificateTest, OptionalRefusesUnknownCa) {
  auto ctx = build(verifying(VerifyClient::kOptional));
  auto conn = handshake(*ctx, nullptr, {.cert = &certs().mallory});
  ASSERT_HANDSHAKE_OK(conn);
  std::string reason;
  EXPECT_EQ(check_client_certificate(conn->server.get(), reason), 495);
}

TEST(ClientCertificateTest, OptionalWithoutCertificateIsNone) {
  auto ctx = build(verifying(VerifyClient::kOptional));
  auto conn = handshake(*ctx, nullptr, {});
  ASSERT_HANDSHAKE_OK(conn);
  std::string reason;
  EXPECT_EQ(check_client_certificate(conn->server.get(), reason), 0) << reason;
  EXPECT_EQ(conn->variable("client_verify"), "NONE");
  EXPECT_EQ(conn->variable("client_s_dn"), "<none>");
}

TEST(ClientCertificateTest, SniChosenServerVerifies) {
  // The default server asks for nothing; the one SNI picks requires a certificate.
  auto fallback = build(settings_for(certs().fallback, "default"));
  auto strict = build(verifying(VerifyClient::kOn));
  MapChooser chooser;
  chooser.names["a.test"] = strict.get();

  auto without = handshake(*fallback, &chooser, {.sni = "a.test"});
  ASSERT_HANDSHAKE_OK(without);
  std::string reason;
  EXPECT_EQ(check_client_certificate(without->server.get(), reason), 496);

  auto with = handshake(*fallback, &chooser, {.sni = "a.test", .cert = &certs().alice});
  ASSERT_HANDSHAKE_OK(with);
  EXPECT_EQ(check_client_certificate(with->server.get(), reason), 0) << reason;
  EXPECT_EQ(with->variable("client_verify"), "SUCCESS");
}

// --- Sessions -----------------------------------------------------------------

ServerSettings with_ticket_keys(std::vector<std::string> keys) {
  ServerSettings s = settings_for(certs().a, "a");
  for (size_t i = 0; i < keys.size(); ++i) {
    s.ticket_keys.push_back({"/certs/ticket" + std::to_string(i) + ".key", std::move(keys[i])});
  }
  return s;
}

/// Whether a session from a full handshake with `first` resumes with `second`.
bool resumes(const ServerContext& first, const ServerContext& second, int version) {
  Owned<SSL_SESSION> session;
  {
    auto conn = handshake(first, nullptr, {.min_version = version, .max_version = version});
    EXPECT_TRUE(conn->ok()) << conn->client_error << " / " << conn->server_error;
    if (!conn->ok()) return false;
    EXPECT_EQ(conn->variable("session_reused"), ".");
    session = conn->client_session();
  }
  EXPECT_NE(session, nullptr);
  if (!session) return false;
  auto conn = handshake(second, nullptr,
                        {.min_version = version, .max_version = version, .session = session.get()});
  EXPECT_TRUE(conn->ok()) << conn->client_error << " / " << conn->server_error;
  const bool reused = SSL_session_reused(conn->client.get()) == 1;
  EXPECT_EQ(conn->variable("session_reused"), reused ? "r" : ".");
  return reused;
}

TEST(SessionTest, SharedTicketKeyResumesAcrossContexts) {
  auto key = ticket_key(80, 1);
  auto one = build(with_ticket_keys({key}));
  auto two = build(with_ticket_keys({key}));
  EXPECT_TRUE(resumes(*one, *two, TLS1_2_VERSION));
  EXPECT_TRUE(resumes(*one, *one, TLS1_2_VERSION));
}

TEST(SessionTest, SharedTicketKeyResumesAcrossContextsTls13) {
  auto key = ticket_key(80, 1);
  auto one = build(with_ticket_keys({key}));
  auto two = build(with_ticket_keys({key}));
  EXPECT_TRUE(resumes(*one, *two, TLS1_3_VERSION));
}

TEST(SessionTest, DifferentTicketKeyDoesNotResume) {
  auto one = build(with_ticket_keys({ticket_key(80, 1)}));
  auto other = build(with_ticket_keys({ticket_key(80, 2)}));
  EXPECT_FALSE(resumes(*one, *other, TLS1_2_VERSION));
  EXPECT_FALSE(resumes(*one, *other, TLS1_3_VERSION));
}

TEST(SessionTest, ShortTicketKeyResumes) {
  auto key = ticket_key(48, 3);
  auto one = build(with_ticket_keys({key}));
  auto two = build(with_ticket_keys({key}));
  EXPECT_TRUE(resumes(*one, *two, TLS1_2_VERSION));
}

TEST(SessionTest, OlderTicketKeyStillDecrypts) {
  // A rotation: the new context encrypts with its first key, still opens tickets
  // made with the second.
  auto old_key = ticket_key(80, 1);
  auto before = build(with_ticket_keys({old_key}));
  auto after = build(with_ticket_keys({ticket_key(80, 9), old_key}));
  EXPECT_TRUE(resumes(*before, *after, TLS1_2_VERSION));
  // And a ticket of the new key does not open with the old context.
  EXPECT_FALSE(resumes(*after, *before, TLS1_2_VERSION));
}

TEST(SessionTest, TicketForOtherCertificateDoesNotResume) {
  // Same key, another certificate: another server (session id context).
  auto key = ticket_key(80, 1);
  auto one = build(with_ticket_keys({key}));
  ServerSettings s = with_ticket_keys({key});
  s.certificates = {{"/certs/b.pem", certs().b.cert_pem}};
  s.keys = {{"/certs/b.key", certs().b.key_pem}};
  auto two = build(s);
  EXPECT_FALSE(resumes(*one, *two, TLS1_2_VERSION));
}

TEST(SessionTest, TicketsOffWithoutCacheDoesNotResume) {
  ServerSettings s = with_ticket_keys({ticket_key(80, 1)});
  s.session_tickets = false;
  auto ctx = build(s);
  EXPECT_FALSE(resumes(*ctx, *ctx, TLS1_2_VERSION));
  EXPECT_FALSE(resumes(*ctx, *ctx, TLS1_3_VERSION));
}

TEST(SessionTest, SessionCacheResumes) {
  ServerSettings s = settings_for(certs().a, "a");
  s.session_cache = ServerSettings::SessionCache::kCache;
  s.session_tickets = false;
  auto ctx = build(s);
  EXPECT_TRUE(resumes(*ctx, *ctx, TLS1_2_VERSION));
  EXPECT_TRUE(resumes(*ctx, *ctx, TLS1_3_VERSION));
}

TEST(SessionTest, SessionCacheIsPerContext) {
  ServerSettings s = settings_for(certs().a, "a");
  s.session_cache = ServerSettings::SessionCache::kCache;
  s.session_tickets = false;
  auto one = build(s);
  auto two = build(s);
  EXPECT_FALSE(resumes(*one, *two, TLS1_2_VERSION));
}

TEST(SessionTest, NoCacheNoTicketsDoesNotResume) {
  ServerSettings s = settings_for(certs().a, "a");
  s.session_cache = ServerSettings::SessionCache::kNone;
  s.session_tickets = false;
  auto ctx = build(s);
  EXPECT_FALSE(resumes(*ctx, *ctx, TLS1_2_VERSION));
}

TEST(SessionTest, DefaultTicketsResume) {
  // ssl_session_tickets on without a key file: the context's own keys.
  auto ctx = build(settings_for(certs().a, "a"));
  EXPECT_TRUE(resumes(*ctx, *ctx, TLS1_2_VERSION));
  EXPECT_TRUE(resumes(*ctx, *ctx, TLS1_3_VERSION));
}

TEST(SessionTest, SessionIdVariable) {
  ServerSettings s = settings_for(certs().a, "a");
  s.session_cache = ServerSettings::SessionCache::kCache;
  s.session_tickets = false;
  auto ctx = build(s);
  auto conn = handshake(*ctx, nullptr, {.max_version = TLS1_2_VERSION});
  ASSERT_HANDSHAKE_OK(conn);
  const std::string id = conn->variable("session_id");
  EXPECT_EQ(id.size(), 64u) << id;
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
}

// --- Sessions and SNI --------------------------------------------------------

/// Sessions through SNI: the default server and the chosen ones each keep a cache
/// (the default server's is the one used).
struct SniSessionFixture : ::testing::Test {
  static ServerSettings cached(const CertPair& pair, const std::string& name) {
    ServerSettings s = settings_for(pair, name);
    s.session_cache = ServerSettings::SessionCache::kCache;
    s.session_tickets = false;
    return s;
  }
  Context fallback = build(cached(certs().fallback, "default"));
  Context a = build(cached(certs().a, "a"));
  Context b = build(cached(certs().b, "b"));
  MapChooser chooser;

  void SetUp() override {
    chooser.names["a.test"] = a.get();
    chooser.names["b.test"] = b.get();
  }

  /// A session of a full handshake naming `first`, offered naming `second`: whether
  /// it resumed, and the certificate's CN the second connection shows.
  std::pair<bool, std::string> resume(const std::string& first, const std::string& second,
                                      int version) {
    Owned<SSL_SESSION> session;
    {
      auto conn = handshake(*fallback, &chooser,
                            {.sni = first, .min_version = version, .max_version = version});
      EXPECT_TRUE(conn->ok()) << conn->client_error << " / " << conn->server_error;
      session = conn->client_session();
    }
    auto conn = handshake(
        *fallback, &chooser,
        {.sni = second, .min_version = version, .max_version = version, .session = session.get()});
    EXPECT_TRUE(conn->ok()) << conn->client_error << " / " << conn->server_error;
    return {SSL_session_reused(conn->client.get()) == 1, conn->server_cn()};
  }
};

TEST_F(SniSessionFixture, SameNameResumesTls12) {
  auto [reused, cn] = resume("b.test", "b.test", TLS1_2_VERSION);
  EXPECT_TRUE(reused);
  EXPECT_EQ(cn, "b.test");
}

TEST_F(SniSessionFixture, SameNameResumesTls13) {
  auto [reused, cn] = resume("b.test", "b.test", TLS1_3_VERSION);
  EXPECT_TRUE(reused);
  EXPECT_EQ(cn, "b.test");
}

TEST_F(SniSessionFixture, OtherNameResumesTls12AsSessionsServer) {
  // TLS 1.2 ties the name to the session: a resumption naming a.test stays with
  // b.test's server (OpenSSL reports the session's name to SNI).
  Owned<SSL_SESSION> session;
  {
    auto conn = handshake(*fallback, &chooser, {.sni = "b.test", .max_version = TLS1_2_VERSION});
    ASSERT_HANDSHAKE_OK(conn);
    session = conn->client_session();
  }
  chooser.asked.clear();
  auto conn = handshake(*fallback, &chooser,
                        {.sni = "a.test", .max_version = TLS1_2_VERSION, .session = session.get()});
  ASSERT_HANDSHAKE_OK(conn);
  EXPECT_TRUE(SSL_session_reused(conn->client.get()));
  EXPECT_EQ(chooser.asked, std::vector<std::string>{"b.test"});
  EXPECT_EQ(ServerContext::of(conn->server.get()), b.get());
  EXPECT_EQ(conn->variable("server_name"), "b.test");
}

TEST_F(SniSessionFixture, OtherNameResumesTls13WithoutClientVerification) {
  // TLS 1.3 negotiates the name in every handshake; a session of b.test resumes
  // with a.test's server when that one verifies no client (as nginx, OpenSSL).
  EXPECT_TRUE(resume("b.test", "a.test", TLS1_3_VERSION).first);
}

/// nginx >= 1.27.4 (CVE-2025-23419): a TLS 1.3 session made with one server must not
/// resume with another, chosen by SNI, that verifies client certificates: the
/// client would skip that server's verification. nginx refuses the handshake
/// (ngx_http_ssl_servername: session hostname != SNI and sscf->verify -> alert
/// access_denied).
TEST(CrossSniSessionTest, ResumptionIntoVerifyingServerIsRefusedTls13) {
  for (bool cache : {true, false}) {
    SCOPED_TRACE(cache ? "session cache" : "session tickets");
    auto make = [&](const CertPair& pair, const std::string& name, VerifyClient verify,
                    const CertPair* client_ca) {
      ServerSettings s = settings_for(pair, name);
      if (cache) {
        s.session_cache = ServerSettings::SessionCache::kCache;
        s.session_tickets = false;
      }
      s.verify_client = verify;
      if (client_ca) s.client_certificate = {"/certs/" + name + "_ca.pem", client_ca->cert_pem};
      return build(s);
    };
    auto fallback = make(certs().fallback, "default", VerifyClient::kOff, nullptr);
    // a.test trusts only the client CA; b.test trusts the other CA (mallory's).
    auto a = make(certs().a, "a", VerifyClient::kOn, &certs().client_ca);
    auto b = make(certs().b, "b", VerifyClient::kOn, &certs().other_ca);
    MapChooser chooser;
    chooser.names["a.test"] = a.get();
    chooser.names["b.test"] = b.get();

    Owned<SSL_SESSION> session;
    {
      auto conn =
          handshake(*fallback, &chooser,
                    {.sni = "b.test", .min_version = TLS1_3_VERSION, .cert = &certs().mallory});
      ASSERT_HANDSHAKE_OK(conn);
      std::string reason;
      EXPECT_EQ(check_client_certificate(conn->server.get(), reason), 0) << reason;
      session = conn->client_session();
    }
    ASSERT_NE(session, nullptr);

    auto conn =
        handshake(*fallback, &chooser,
                  {.sni = "a.test", .min_version = TLS1_3_VERSION, .session = session.get()});
    std::string reason;
    const int verdict = conn->ok() ? check_client_certificate(conn->server.get(), reason) : -1;
    EXPECT_FALSE(conn->ok() && verdict == 0)
        << "mallory's session from b.test passed a.test's client verification: reused="
        << SSL_session_reused(conn->client.get())
        << " client_verify=" << conn->variable("client_verify")
        << " client_s_dn=" << conn->variable("client_s_dn");
    EXPECT_EQ(conn->server_state, State::kFailed);
    EXPECT_EQ(conn->alert_received, SSL_AD_ACCESS_DENIED);
  }
}

TEST(CrossSniSessionTest, SessionWithoutSniIsRefusedByANamedVerifyingServerTls13) {
  // The default server verifies optionally against the client CA; admin.test requires
  // certificates from another CA. A session made without SNI (alice, accepted by the
  // default server) must not resume into admin.test.
  ServerSettings open = settings_for(certs().fallback, "default");
  open.verify_client = VerifyClient::kOptional;
  open.client_certificate = {"/certs/client_ca.pem", certs().client_ca.cert_pem};
  auto fallback = build(open);
  ServerSettings strict = settings_for(certs().a, "a");
  strict.verify_client = VerifyClient::kOn;
  strict.client_certificate = {"/certs/other_ca.pem", certs().other_ca.cert_pem};
  auto admin = build(strict);
  MapChooser chooser;
  chooser.names["a.test"] = admin.get();
  Owned<SSL_SESSION> session;
  {
    auto conn =
        handshake(*fallback, &chooser, {.min_version = TLS1_3_VERSION, .cert = &certs().alice});
    ASSERT_HANDSHAKE_OK(conn);
    session = conn->client_session();
  }
  ASSERT_NE(session, nullptr);
  auto conn = handshake(*fallback, &chooser,
                        {.sni = "a.test", .min_version = TLS1_3_VERSION, .session = session.get()});
  const bool resumed = conn->ok() && SSL_session_reused(conn->client.get()) == 1;
  EXPECT_FALSE(resumed) << "a session made without SNI resumed into a verifying server";
  // Without the session, the same name handshakes (and is then checked normally).
  auto fresh = handshake(*fallback, &chooser, {.sni = "a.test", .min_version = TLS1_3_VERSION});
  ASSERT_HANDSHAKE_OK(fresh);
}

// --- TLS to upstreams: ClientContext against a ServerContext ------------------

/// A handshake of `client_ctx` (SNI `sni`, resuming `session`) with `server_ctx`.
struct UpstreamConnection {
  int fds[2] = {-1, -1};
  Owned<SSL> client;
  Owned<SSL> server;
  State client_state = State::kPending;
  State server_state = State::kPending;
  std::string client_error;
  std::string server_error;
  bool ok() const { return client_state == State::kDone && server_state == State::kDone; }
  ~UpstreamConnection() {
    if (client_state == State::kDone) SSL_shutdown(client.get());
    if (server_state == State::kDone) SSL_shutdown(server.get());
    ERR_clear_error();
    client.reset();
    server.reset();
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
};

std::unique_ptr<UpstreamConnection> upstream_handshake(const ClientContext& client_ctx,
                                                       const ServerContext& server_ctx,
                                                       const std::string& sni,
                                                       SSL_SESSION* session = nullptr) {
  auto c = std::make_unique<UpstreamConnection>();
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, c->fds), 0);
  for (int fd : c->fds) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  c->client.reset(client_ctx.new_connection(c->fds[0], sni, session));
  c->server.reset(server_ctx.new_connection(c->fds[1], nullptr));
  EXPECT_TRUE(c->client && c->server);
  for (int round = 0; round < 100 && c->client && c->server; ++round) {
    step(c->client.get(), c->client_state, c->client_error);
    step(c->server.get(), c->server_state, c->server_error);
    if (c->client_state != State::kPending && c->server_state != State::kPending) break;
  }
  return c;
}

ClientSettings verifying(const CertPair& ca) {
  ClientSettings s;
  s.verify = true;
  s.trusted_certificate = {"/certs/ca.pem", ca.cert_pem};
  return s;
}

TEST(ClientContextTest, VerifiedServerAndItsName) {
  auto server = build(settings_for(certs().a, "a"));
  auto client = ClientContext::build(verifying(certs().server_ca));
  auto c = upstream_handshake(*client, *server, "a.test");
  ASSERT_TRUE(c->ok()) << c->client_error << " / " << c->server_error;
  EXPECT_EQ(client->check_server(c->client.get(), "a.test"), "");
  EXPECT_EQ(client->check_server(c->client.get(), "b.test"),
            "upstream SSL certificate does not match \"b.test\"");
  std::string sni;
  EXPECT_TRUE(connection_variable(c->server.get(), "server_name", sni));
  EXPECT_EQ(sni, "a.test");
}

TEST(ClientContextTest, UntrustedServerIsAVerifyError) {
  auto server = build(settings_for(certs().a, "a"));
  auto client = ClientContext::build(verifying(certs().other_ca));
  auto c = upstream_handshake(*client, *server, "");
  ASSERT_TRUE(c->ok()) << c->client_error;  // the verdict comes after the handshake
  // 21: a lone certificate whose issuer is unknown ("unable to verify the first
  // certificate"), what nginx logs for it too.
  const std::string verdict = client->check_server(c->client.get(), "a.test");
  EXPECT_TRUE(verdict.starts_with("upstream SSL certificate verify error: (21:")) << verdict;
  std::string sni;
  EXPECT_FALSE(connection_variable(c->server.get(), "server_name", sni));  // none sent
}

TEST(ClientContextTest, WithoutVerificationAnyCertificateIsAccepted) {
  auto server = build(settings_for(certs().a, "a"));
  auto client = ClientContext::build(ClientSettings{});
  auto c = upstream_handshake(*client, *server, "");
  ASSERT_TRUE(c->ok());
  EXPECT_EQ(client->check_server(c->client.get(), "elsewhere.test"), "");
}

TEST(ClientContextTest, ClientCertificateForTheUpstream) {
  ServerSettings ss = settings_for(certs().a, "a");
  ss.verify_client = VerifyClient::kOn;
  ss.client_certificate = {"/certs/client-ca.pem", certs().client_ca.cert_pem};
  auto server = build(ss);
  ClientSettings cs;
  cs.certificate = {"/certs/alice.pem", certs().alice.cert_pem};
  cs.key = {"/certs/alice.key", certs().alice.key_pem};
  auto client = ClientContext::build(cs);
  auto c = upstream_handshake(*client, *server, "a.test");
  ASSERT_TRUE(c->ok()) << c->client_error << " / " << c->server_error;
  std::string reason;
  EXPECT_EQ(check_client_certificate(c->server.get(), reason), 0) << reason;
  std::string dn;
  ASSERT_TRUE(connection_variable(c->server.get(), "client_s_dn", dn));
  EXPECT_EQ(dn, "CN=alice,O=Tidegate Tests");
}

TEST(ClientContextTest, SessionsResumeUnlessReuseIsOff) {
  auto server = build(settings_for(certs().a, "a"));
  ClientSettings cs;
  cs.protocols = kTlsV1_2;
  auto reusing = ClientContext::build(cs);
  auto first = upstream_handshake(*reusing, *server, "a.test");
  ASSERT_TRUE(first->ok());
  SSL_SESSION* session = resumable_session(first->client.get());
  ASSERT_NE(session, nullptr);
  auto second = upstream_handshake(*reusing, *server, "a.test", session);
  ASSERT_TRUE(second->ok());
  EXPECT_EQ(SSL_session_reused(second->client.get()), 1);
  // proxy_ssl_session_reuse off: the session offered is not used.
  cs.session_reuse = false;
  auto fresh = ClientContext::build(cs);
  auto third = upstream_handshake(*fresh, *server, "a.test", session);
  ASSERT_TRUE(third->ok());
  EXPECT_EQ(SSL_session_reused(third->client.get()), 0);
  free_session(session);
}

TEST(ClientContextTest, BuildErrors) {
  ClientSettings s;
  s.ciphers = "NOPE";
  try {
    ClientContext::build(s);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("SSL_CTX_set_cipher_list(\"NOPE\") failed"));
  }
  ClientSettings t;
  t.verify = true;
  t.trusted_certificate = {"/certs/garbage.pem", "garbage"};
  try {
    ClientContext::build(t);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with(
        "SSL_CTX_load_verify_locations(\"/certs/garbage.pem\") failed"))
        << e.what();
  }
}

}  // namespace
}  // namespace tg::tls
