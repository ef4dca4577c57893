#include "health/checker.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "common/error_log.h"
#include "health/match.h"
#include "http/parser.h"

namespace tg::health {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// One timer drives every probe: each tick starts the checks that are due and
// closes the sockets of steps past their deadline (no timer per probe: 1,000
// servers checked every second would re-arm the reactor's timerfd thousands of
// times a second). Checks start up to one tick late; timeouts end up to one late.
constexpr std::chrono::milliseconds kTick{25};
// Membership changes and outlier detection are looked at every this many ticks.
constexpr int kReconcileTicks = 8;
using SteadyTime = std::chrono::steady_clock::time_point;
constexpr size_t kMaxHead = 16 * 1024;  // the largest response head a check reads
constexpr size_t kFirstRead = 2048;     // the buffer grows to kMaxHead for a larger head
const std::vector<http::HeaderSpan> kNoHeaders;

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

/// RFC 6455 §4.1: 16 random bytes, base64.
std::string websocket_key() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    std::random_device rd;
    for (auto& b : raw) b = static_cast<unsigned char>(rd());
  }
  return base64(raw, sizeof raw);
}

/// RFC 6455 §4.2.2: base64(SHA-1(key + the protocol's GUID)).
std::string websocket_accept(const std::string& key) {
  const std::string text = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha1(), nullptr);
  return base64(digest, len);
}

std::string_view header_value(const CheckResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (iequal(n, name)) return v;
  }
  return {};
}

}  // namespace

struct Checker::Probe {
  Probe(asio::io_context& io, std::shared_ptr<const conf::Config> c, size_t i,
        std::shared_ptr<balancing::Peer> p)
      : config(std::move(c)), check(i), peer(std::move(p)), socket(io) {}
  const conf::HealthCheck& hc() const { return config->http.health_checks[check]; }

  std::shared_ptr<const conf::Config> config;  ///< keeps the check's settings alive
  size_t check;
  std::shared_ptr<balancing::Peer> peer;
  CheckState state;
  bool stopped = false;
  bool in_flight = false;  ///< a check is running
  bool timed_out = false;
  SteadyTime deadline = SteadyTime::max();  ///< the running step's end (tick() enforces it)
  tcp::socket socket;
  std::string request;  ///< the check's request head (built at the first check)
  std::chrono::steady_clock::time_point connected_at;  ///< of the open socket (keepalive_time)

  void stop() {
    stopped = true;
    boost::system::error_code ec;
    socket.close(ec);
  }
  /// The next step must end within `t`, or tick() closes the socket under it.
  void arm(std::chrono::milliseconds t) { deadline = std::chrono::steady_clock::now() + t; }
  void disarm() { deadline = SteadyTime::max(); }
};

Checker::Checker(asio::io_context& io) : io_(io), tick_timer_(io) {}

Checker::~Checker() {
  stop();
}

void Checker::configure(std::shared_ptr<const conf::Config> config,
                        std::vector<std::shared_ptr<balancing::GroupMembership>> groups) {
  for (auto& [key, p] : probes_) p->stop();
  probes_.clear();
  due_ = {};
  in_flight_.clear();
  config_ = std::move(config);
  groups_ = std::move(groups);
  versions_.assign(config_->http.health_checks.size(), 0);
  // Outlier state stays across a reload (an ejected server must still come back);
  // groups without outlier_detection (any more) have nobody ejected or counted.
  const auto& ups = config_->http.upstreams;
  for (size_t i = 0; i < ups.size() && i < groups_.size(); ++i) {
    if (ups[i].outlier) continue;
    outliers_.forget(groups_[i]->name());
    for (const auto& s : groups_[i]->servers()) {
      s.peer->set_outlier_counting(false);
      s.peer->reset_consecutive_errors();
      s.peer->set_ejected(false);
    }
  }
  const bool was_running = running_;
  running_ = true;
  reconcile();
  if (!was_running) tick();
}

void Checker::stop() {
  running_ = false;
  tick_timer_.cancel();
  for (auto& [key, p] : probes_) p->stop();
  probes_.clear();
  due_ = {};
  in_flight_.clear();
}

void Checker::reconcile() {
  if (!running_) return;
  const auto& checks = config_->http.health_checks;
  for (size_t i = 0; i < checks.size(); ++i) {
    const auto& group = *groups_[checks[i].upstream];
    if (group.version() == versions_[i]) continue;
    versions_[i] = group.version();
    std::vector<std::uint64_t> ids;
    for (const auto& s : group.servers()) {
      ids.push_back(s.peer->id());
      if (!probes_.count({i, s.peer->id()})) start_probe(i, s.peer);
    }
    std::sort(ids.begin(), ids.end());
    for (auto it = probes_.lower_bound({i, 0}); it != probes_.end() && it->first.first == i;) {
      if (std::binary_search(ids.begin(), ids.end(), it->first.second)) {
        ++it;
      } else {
        it->second->stop();
        it = probes_.erase(it);
      }
    }
  }
  const auto& ups = config_->http.upstreams;
  const auto now = balancing::Clock::now();
  for (size_t i = 0; i < ups.size() && i < groups_.size(); ++i) {
    if (!ups[i].outlier) continue;
    for (const auto& s : groups_[i]->servers()) s.peer->set_outlier_counting(true);
    outliers_.tick(*ups[i].outlier, *groups_[i], now);
  }
}

void Checker::schedule(const std::shared_ptr<Probe>& p, SteadyTime at) {
  due_.push(Due{at, ++due_seq_, p});
}

void Checker::tick() {
  if (!running_) return;
  if (++ticks_ % kReconcileTicks == 0) reconcile();
  const auto now = std::chrono::steady_clock::now();
  // Deadlines: only the checks running now (a few at a time) are looked at.
  std::erase_if(in_flight_, [](const auto& p) { return !p->in_flight || p->stopped; });
  for (const auto& p : in_flight_) {
    if (now >= p->deadline) {  // a hung step: its operation fails with the socket closed
      p->timed_out = true;
      p->deadline = SteadyTime::max();
      boost::system::error_code ignored;
      p->socket.close(ignored);
    }
  }
  // Due checks come off a heap ordered by time: a tick costs what it starts.
  while (!due_.empty() && due_.top().at <= now) {
    std::shared_ptr<Probe> p = due_.top().probe;
    due_.pop();
    if (p->stopped) continue;
    p->in_flight = true;
    in_flight_.push_back(p);
    asio::co_spawn(io_, run(std::move(p)), asio::detached);
  }
  tick_timer_.expires_after(kTick);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void Checker::start_probe(size_t check, std::shared_ptr<balancing::Peer> peer) {
  auto p = std::make_shared<Probe>(io_, config_, check, std::move(peer));
  // A server already unhealthy (before a reload, or by another check) needs
  // `passes` passes to come back, not `fails` failures to stay out.
  p->state.healthy = p->peer->healthy();
  // A server is checked as soon as it is known (a `checking` one waits for this),
  // or within the jitter; then every interval plus up to jitter.
  schedule(p, std::chrono::steady_clock::now() + jitter(p->hc().jitter));
  probes_.emplace(Key{check, p->peer->id()}, std::move(p));
}

std::chrono::milliseconds Checker::jitter(std::chrono::milliseconds max) {
  if (max.count() <= 0) return {};
  return std::chrono::milliseconds(
      std::uniform_int_distribution<std::int64_t>(0, max.count())(rng_));
}

asio::awaitable<void> Checker::run(std::shared_ptr<Probe> p) {
  std::string stage, error;
  const bool passed = co_await check_once(*p, stage, error);
  if (p->stopped) co_return;  // the probe (and maybe the checker) is gone
  p->disarm();
  p->in_flight = false;
  schedule(p, std::chrono::steady_clock::now() + p->hc().interval + jitter(p->hc().jitter));
  apply(*p, passed, stage, error);
}

asio::awaitable<bool> Checker::check_once(Probe& p, std::string& stage, std::string& error) {
  const conf::HealthCheck& hc = p.hc();
  tcp::endpoint ep = p.peer->endpoint();
  if (hc.port > 0) ep.port(static_cast<std::uint16_t>(hc.port));
  boost::system::error_code ignored;
  const bool websocket = hc.type == conf::HealthCheck::Type::kWebSocket;
  const bool keepalive = hc.keepalive_time.count() > 0 && hc.type == conf::HealthCheck::Type::kHttp;
  const auto now = std::chrono::steady_clock::now();
  p.timed_out = false;  // set by tick() when a step's deadline closes the socket
  // keepalive_time: a connection that a previous check left open, young enough.
  bool reused = keepalive && p.socket.is_open() && now - p.connected_at < hc.keepalive_time;
  if (!reused) p.socket.close(ignored);
  auto failed = [&](const char* what, const boost::system::error_code& ec, const char* during) {
    stage = during;
    error = p.timed_out ? "upstream timed out (110: Connection timed out)"
                        : std::string(what) + " failed (" + std::to_string(ec.value()) + ": " +
                              ec.message() + ")";
    p.disarm();
    p.socket.close(ignored);
    return false;
  };

  // The request is the same for every check of this probe (built once), but a
  // WebSocket handshake's key.
  if (p.request.empty()) {
    p.request = "GET " + hc.uri + " HTTP/" +
                (websocket || keepalive ? std::string("1.1") : hc.http_version) + "\r\n";
    for (const auto& [name, value] : hc.headers) {
      if ((websocket || keepalive) && iequal(name, "connection")) continue;
      if (websocket && iequal(name, "upgrade")) continue;
      p.request += name + ": " + value + "\r\n";
    }
    if (!websocket) p.request += "\r\n";
  }
  std::string key;
  std::string ws_request;
  if (websocket) {
    key = websocket_key();
    ws_request = p.request +
                 "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                 "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  }
  const std::string& request = websocket ? ws_request : p.request;

  const conf::MatchBlock* match = hc.match >= 0 ? &p.config->http.matches[hc.match] : nullptr;
  // A connection kept for the next check must be read to the end of the answer.
  bool needs_body = keepalive;
  bool needs_headers = websocket;
  if (match) {
    for (const auto& t : match->tests) {
      needs_body |= t.kind == conf::MatchTest::Kind::kBody;
      needs_headers |= t.kind == conf::MatchTest::Kind::kHeader;
    }
  }
  http::HttpParser parser(http::MessageType::kResponse);
  auto closed_early = [&] {
    stage = parser.headers_done() ? "reading response body from upstream"
                                  : "reading response header from upstream";
    error = "upstream prematurely closed connection";
    p.disarm();
    p.socket.close(ignored);
    return false;
  };
  std::string buf;
  size_t held = 0, fed = 0;
  CheckResponse response;
  bool head_copied = false;
  // A reused connection the server closed meanwhile fails before any answer: the
  // check is made again once on a new connection, as nginx retries a cached one.
  for (int attempt = 0;; ++attempt) {
    if (!reused) {
      p.arm(hc.connect_timeout);
      auto [cec] = co_await p.socket.async_connect(ep, kTuple);
      if (p.stopped) co_return false;
      if (cec) co_return failed("connect()", cec, "connecting to upstream");
      p.connected_at = now;
      if (hc.type == conf::HealthCheck::Type::kTcp) {
        stage = "connecting to upstream";
        p.disarm();
        p.socket.close(ignored);
        co_return true;
      }
    }
    p.arm(hc.read_timeout);
    auto [wec, wn] = co_await asio::async_write(p.socket, asio::buffer(request), kTuple);
    if (p.stopped) co_return false;
    if (wec && reused && attempt == 0) {
      p.socket.close(ignored);
      reused = false;
      continue;
    }
    if (wec) co_return failed("writev()", wec, "sending request to upstream");

    parser.reset();
    parser.set_limits(http::HeadLimits{static_cast<uint32_t>(kMaxHead), 0, 0});
    parser.set_no_body(false);
    buf.assign(kFirstRead, '\0');
    held = fed = 0;
    response = CheckResponse{};
    head_copied = false;
    bool retry = false;
    for (;;) {
      if (held == buf.size()) {
        if (parser.headers_done()) {
          // The head is copied out: the buffer takes the body, keeping unparsed bytes.
          buf.erase(0, fed);
          held -= fed;
          fed = 0;
          buf.resize(std::max(buf.size(), held + kFirstRead));
        } else if (buf.size() < kMaxHead) {
          buf.resize(std::min(buf.size() * 2, kMaxHead));  // offsets stay valid
        } else {
          break;  // a head larger than kMaxHead
        }
      }
      p.arm(hc.read_timeout);  // as proxy_read_timeout: between two reads
      auto [rec, n] = co_await p.socket.async_read_some(
          asio::buffer(buf.data() + held, buf.size() - held), kTuple);
      if (p.stopped) co_return false;
      if (rec && held == 0 && reused && attempt == 0 && !p.timed_out) {
        retry = true;  // closed by the server while idle
        break;
      }
      if (rec == asio::error::eof) {
        if (!parser.finish()) co_return closed_early();
      } else if (rec) {
        co_return failed("recv()", rec,
                         parser.headers_done() ? "reading response body from upstream"
                                               : "reading response header from upstream");
      }
      held += n;
      if (n > 0) fed += parser.feed(buf.data(), fed, held);
      if (parser.failed()) {
        stage = "reading response header from upstream";
        error = "upstream sent invalid response";
        p.disarm();
        p.socket.close(ignored);
        co_return false;
      }
      if (parser.headers_done() && !head_copied) {
        head_copied = true;
        response.status = parser.status_code();
        for (const auto& h : needs_headers ? parser.headers() : kNoHeaders) {
          response.headers.emplace_back(std::string(h.name.in(buf.data())),
                                        std::string(h.value.in(buf.data())));
        }
      }
      for (const auto& sp : parser.body()) {
        const size_t room = kMaxCheckBody - response.body.size();
        response.body.append(buf.data() + sp.offset, std::min<size_t>(sp.length, room));
      }
      parser.body().clear();
      if (head_copied && (websocket || !needs_body || parser.message_done() ||
                          response.body.size() >= kMaxCheckBody)) {
        break;
      }
      if (rec == asio::error::eof) co_return closed_early();
    }
    if (!retry) break;
    p.socket.close(ignored);
    reused = false;
  }
  if (!head_copied) {
    p.disarm();
    p.socket.close(ignored);
    stage = "reading response header from upstream";
    error = "upstream sent too big header";
    co_return false;
  }
  if (websocket) {
    // The bytes after the 101's head are the first WebSocket frames.
    co_return co_await close_websocket(p, response, key, buf.substr(fed, held - fed), stage, error);
  }
  p.disarm();
  // Kept for the next check only when the answer ended cleanly and may be followed.
  if (!keepalive || !parser.message_done() || !parser.keep_alive() || fed != held) {
    p.socket.close(ignored);
  }
  std::string_view why;
  const bool ok = passes(match, response, why);
  stage = std::string(why);
  co_return ok;
}

asio::awaitable<bool> Checker::close_websocket(Probe& p, const CheckResponse& r,
                                               const std::string& key, std::string pending,
                                               std::string& stage, std::string& error) {
  boost::system::error_code ignored;
  auto fail = [&](std::string what) {
    stage = "checking WebSocket handshake of upstream";
    error = std::move(what);
    p.disarm();
    p.socket.close(ignored);
    return false;
  };
  const std::string_view connection = header_value(r, "connection");
  std::string lower_connection(connection);
  std::transform(lower_connection.begin(), lower_connection.end(), lower_connection.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (r.status != 101 || !iequal(header_value(r, "upgrade"), "websocket") ||
      lower_connection.find("upgrade") == std::string::npos) {
    co_return fail("");
  }
  if (header_value(r, "sec-websocket-accept") != websocket_accept(key)) {
    co_return fail("upstream sent a wrong \"Sec-WebSocket-Accept\"");
  }
  // A clean close (RFC 6455 §5.5.1): a masked close frame with status 1000, then
  // the server's close frame back.
  const unsigned char frame[] = {0x88,
                                 0x82,
                                 0x12,
                                 0x34,
                                 0x56,
                                 0x78,
                                 static_cast<unsigned char>(0x03 ^ 0x12),
                                 static_cast<unsigned char>(0xE8 ^ 0x34)};
  auto [wec, wn] = co_await asio::async_write(p.socket, asio::buffer(frame), kTuple);
  if (p.stopped) co_return false;
  if (wec) co_return fail("writev() failed while closing the WebSocket");
  // Frames the server sent meanwhile come first; only the close frame matters.
  char chunk[4096];
  for (;;) {
    size_t at = 0;
    while (at + 2 <= pending.size()) {
      const auto b0 = static_cast<unsigned char>(pending[at]);
      const auto b1 = static_cast<unsigned char>(pending[at + 1]);
      if ((b0 & 0x0f) == 0x8) {
        p.disarm();
        p.socket.close(ignored);
        stage = "closing WebSocket of upstream";
        co_return true;
      }
      uint64_t len = b1 & 0x7f;
      size_t head = 2;
      if (len == 126 || len == 127) {
        const size_t extra = len == 126 ? 2 : 8;
        if (at + 2 + extra > pending.size()) break;
        len = 0;
        for (size_t i = 0; i < extra; ++i) {
          len = (len << 8) | static_cast<unsigned char>(pending[at + 2 + i]);
        }
        head += extra;
      }
      if (b1 & 0x80) head += 4;  // a masked frame (a server should not send one)
      if (at + head + len > pending.size()) break;
      at += head + static_cast<size_t>(len);
    }
    pending.erase(0, at);
    if (pending.size() > (1u << 20)) co_return fail("upstream sent too much before closing");
    auto [rec, n] = co_await p.socket.async_read_some(asio::buffer(chunk), kTuple);
    if (p.stopped) co_return false;
    if (rec) {
      stage = "closing WebSocket of upstream";
      error = p.timed_out ? "upstream timed out (110: Connection timed out)"
                          : "upstream closed the connection without a close frame";
      p.disarm();
      p.socket.close(ignored);
      co_return false;
    }
    pending.append(chunk, n);
  }
}

void Checker::apply(Probe& p, bool passed, const std::string& stage, const std::string& error) {
  const conf::HealthCheck& hc = p.hc();
  balancing::Peer& peer = *p.peer;
  auto& counters = peer.health();
  counters.checks.fetch_add(1, std::memory_order_relaxed);
  if (!passed) counters.fails.fetch_add(1, std::memory_order_relaxed);
  counters.last_passed.store(passed ? 1 : 0, std::memory_order_relaxed);

  auto where = [&] {
    return ", health check \"" + hc.uri + "\" of peer " + peer.name() + " in upstream \"" +
           config_->http.upstreams[hc.upstream].name + "\"";
  };
  if (!passed && !error.empty()) log(LogLevel::kError, error + " while " + stage + where());

  const bool checking = peer.checking();
  record(p.state, passed, hc.fails, hc.passes, checking);
  // The server's verdict: every check of its group, each having had its say.
  bool healthy = true, all_checked = true;
  const auto& checks = config_->http.health_checks;
  for (size_t j = 0; j < checks.size(); ++j) {
    if (checks[j].upstream != hc.upstream) continue;
    auto it = probes_.find({j, peer.id()});
    if (it == probes_.end()) continue;
    healthy = healthy && it->second->state.healthy;
    all_checked = all_checked && it->second->state.checked;
  }
  // `checking` is not a verdict: a server leaving it healthy is not logged, one
  // failing its first check is, as any server turning unhealthy.
  const bool was_healthy = peer.healthy();
  if (checking && healthy && !all_checked) return;  // other checks still to pass
  peer.set_healthy(healthy);
  if (checking) peer.set_checking(false);
  if (healthy == was_healthy) return;
  if (!healthy) {
    counters.unhealthy.fetch_add(1, std::memory_order_relaxed);
    log(LogLevel::kWarn, "peer is unhealthy while " + stage + where());
  } else {
    log(LogLevel::kNotice, "peer is healthy while " + stage + where());
  }
}

}  // namespace tg::health
