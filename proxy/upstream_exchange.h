// proxy_pass for one request: the request exchange that every client protocol
// runs, talking to its client through ClientSide (client_side.h). Its steps,
// one file each:
//   proxy_pass.cpp           the retry loop: pick a peer, attempt, settle (proxy_next_upstream)
//   upstream_request.cpp     the upstream request head, built once from the location's settings
//   upstream_attempt.cpp     one attempt against one peer: connect or reuse, send, read the head
//   response_forwarding.cpp  the response head and body to the client, the peer's outcome
// Synchronous steps are plain functions; a request awaits three coroutines of
// the exchange (the loop, one attempt, the forwarding), each a frame allocation.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>

#include "balancing/attempt.h"
#include "balancing/group_picker.h"
#include "balancing/lease.h"
#include "balancing/pick_input.h"
#include "proxy/client_side.h"
#include "proxy/io_buffers.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"

namespace tg::proxy {

/// Storage of an upstream exchange that keeps its capacity from one request to
/// the next (it lives in the front end's recycled per-request state): a warm
/// worker allocates nothing per request here.
struct UpstreamBuffers {
  http::HttpParser response{http::MessageType::kResponse};  ///< the upstream's response
  std::string head;                                         ///< request head sent upstream
  std::string uri;                                          ///< URI sent upstream
  std::string response_head_copy;                    ///< response head kept for $upstream_http_*
  std::vector<boost::asio::const_buffer> held_body;  ///< body read before the first attempt
  std::vector<boost::asio::const_buffer> piece;      ///< body piece being streamed
  std::vector<boost::asio::const_buffer> bufs;       ///< gather list of the upstream write
  std::string chunk_lines;                           ///< its chunk-size lines

  /// Gives back spare capacity (while a tunnel holds the request state).
  void shrink();
};

/// What the front end asks of an exchange, and where it runs.
struct UpstreamRequest {
  Worker& worker;                ///< the worker the client is served on (pickers, keep-alive pool)
  WorkerGeneration& generation;  ///< the configuration the client's connection pinned
  /// The server whose header rules apply (ignore_invalid_headers, underscores_in_headers).
  const conf::ServerBlock& header_rules;
  UpstreamBuffers& buffers;        ///< the client side's recycled storage for the exchange
  const conf::Location& location;  ///< the location with proxy_pass
  int redirects = 0;               ///< error_page redirects so far
  int forced_status = 0;           ///< error_page: the status to answer with (0: the upstream's)
  bool error_page_get = false;     ///< error_page: fetch with GET, without the request body
};

/// Appends `item` to a ", "-separated list ($upstream_addr, $upstream_status, ...).
void append_list(std::string& list, std::string_view item);

/// Logs an upstream failure as nginx does, with the request and the upstream's URL.
void log_upstream_error(const RequestContext& ctx, std::string_view what,
                        const std::string& upstream_url);

/// One try against one picked peer (upstream_attempt.cpp), and what it gave.
struct UpstreamAttempt {
  /// What went wrong, in nginx's proxy_next_upstream terms.
  enum class Failure { kNone, kError, kTimeout, kInvalidHeader };
  /// The request body failed on the client's side while it was being sent.
  enum class BodyFailure { kNone, kClient, kTooLarge };

  UpstreamAttempt(balancing::Lease picked, std::chrono::steady_clock::time_point now)
      : lease(std::move(picked)), peer(lease.peer()), start(now) {}

  balancing::Lease lease;  ///< released with the attempt's outcome
  balancing::Peer& peer;   ///< the picked server
  const std::chrono::steady_clock::time_point start;
  std::optional<UpstreamConnection> conn;  ///< set once the attempt began
  bool cached = false;                     ///< the connection came from the keep-alive pool
  Failure failure = Failure::kNone;
  std::string what;  ///< the error-log line of a failure
  BodyFailure body_failure = BodyFailure::kNone;
  BodyRead body_read = BodyRead::kMore;  ///< with kClient: how the client failed
  bool request_sent = false;             ///< some of the request reached the peer (non_idempotent)
  uint64_t bytes_to_upstream = 0;        ///< the peer's received bytes
  uint64_t bytes_from_upstream = 0;      ///< the peer's sent bytes
  size_t held = 0;                       ///< response bytes in the upstream buffer
  size_t fed = 0;                        ///< of which the parser took
  std::chrono::steady_clock::duration header_time{};  ///< until the head was read

  /// Closes the connection (a failed or dropped attempt).
  void close();
};

/// proxy_pass for one request: picks peers of the location's group until one
/// answers or proxy_next_upstream stops, then forwards the answer to `client`.
class UpstreamExchange {
 public:
  /// Runs the exchange for the request `client` holds, to its end.
  static Task<void> run(ClientSide& client, UpstreamRequest request);

 private:
  using Clock = std::chrono::steady_clock;
  /// What the retry loop does after an attempt.
  enum class Next {
    kRetry,    ///< pick the next peer (or the same one on a fresh connection)
    kAnswer,   ///< answer with a status of the proxy's own (error_page applies)
    kEnd,      ///< the client went away: nothing to answer
    kForward,  ///< pass the upstream's response on
  };

  UpstreamExchange(ClientSide& client, const UpstreamRequest& request);
  UpstreamExchange(const UpstreamExchange&) = delete;
  UpstreamExchange& operator=(const UpstreamExchange&) = delete;

  // upstream_request.cpp: the request as it goes upstream.
  /// Checks the request and builds its upstream head; the status to refuse it
  /// with (500: a bad proxy_method value, 413: a declared body too large), or 0.
  int prepare_request();
  /// proxy_method, or the request's: false when its value is not a token.
  bool choose_method();
  void build_uri();
  void build_head();

  // proxy_pass.cpp: the retry loop's decisions.
  /// client_max_body_size for a body whose length was not declared: true (and
  /// logged, the connection to close) when what was read exceeds it.
  bool body_over_limit();
  /// Tries, timing and the upstream buffer, before the first pick.
  void prepare_attempts();
  /// What hash, ip_hash and sticky pick by: evaluated once per request.
  void prepare_pick_input();
  /// nginx's ngx_http_upstream_next() rules: may `condition` go to the next peer?
  bool may_try_next(unsigned condition, bool request_sent) const;
  /// Settles a finished attempt: releases what it no longer needs, records its
  /// status and times, and says what comes next (`status` for kAnswer).
  Next settle(UpstreamAttempt& a, int& status);
  /// "http://peer/uri" for error-log lines.
  std::string upstream_url(const balancing::Peer& peer) const;

  // upstream_attempt.cpp
  /// Connects (or reuses a cached connection), sends the head and the body and
  /// reads the response head into the upstream buffer.
  Task<void> attempt(UpstreamAttempt& a);
  /// proxy_pass https://: the TLS handshake on a fresh connection, and the check of
  /// the server's certificate (proxy_ssl_verify); sets the attempt's failure.
  Task<void> start_upstream_tls(UpstreamAttempt& a);
  /// The TLS settings' id connections are kept under (0: plain HTTP).
  std::uint64_t tls_context_id() const { return target_.https ? loc_.upstream_tls->id() : 0; }

  // response_forwarding.cpp
  /// The response head to the client, then the body, then the peer's outcome.
  Task<void> forward_response(UpstreamAttempt& a);
  /// Passes the upstream's head on to the client side; true for a 101 that opens a tunnel.
  bool pass_response_head(UpstreamAttempt& a);
  /// proxy_redirect on a Location (`location`) or Refresh value: true with the new
  /// value in `out` when a rule matched.
  bool rewrite_redirect(std::string_view value, bool location, std::string& out);
  /// Records the response on the peer, releases the lease, and pools the
  /// connection when it can carry another request.
  void finish_with_peer(UpstreamAttempt& a, bool upstream_ok, bool client_ok, bool extra_bytes);

  ClientSide& client_;
  RequestContext& ctx_;
  Worker& worker_;
  UpstreamBuffers& buf_;
  const conf::ServerBlock& header_rules_;
  const conf::Location& loc_;
  const conf::LocationSettings& s_;
  const conf::ProxyTarget& target_;
  const conf::UpstreamConfig& ucfg_;
  const http::HttpParser& req_;  ///< the request head (and its body's framing)
  /// Held for the whole request (and by a tunnel): leases point into it, and the
  /// worker may replace it meanwhile when the group's membership changes.
  std::shared_ptr<balancing::GroupPicker> picker_;
  const int redirects_;
  const int forced_status_;
  const bool error_page_get_;
  bool has_body_ = false;
  bool chunked_up_ = false;  ///< the body goes upstream chunk-encoded
  bool body_held_ = false;   ///< the whole body is in buf_.held_body
  /// $upstream_*_time strings are built only when some variable reads them.
  bool keep_times_ = false;
  /// The last attempt failed on a cached connection: the next one connects afresh.
  bool retried_cached_ = false;
  std::string_view method_;
  std::string method_text_;  ///< proxy_method's value
  int group_size_ = 1;       ///< nginx's peer.tries
  Clock::time_point started_;
  balancing::Attempt tried_;
  balancing::PickInput pick_input_;
  std::string hash_key_;
  std::string sticky_route_;
  /// The upstream's head must fit proxy_buffer_size (as nginx); bodies are read
  /// through the same buffer. A pooled 16 KB one, or its own when larger.
  PooledBuffer pooled_buf_;
  std::unique_ptr<char[]> large_buf_;
  size_t upbuf_size_ = 0;
  char* upbuf_ = nullptr;
};

}  // namespace tg::proxy
