// One client connection: a coroutine that reads like the protocol (read head,
// route, run the location's handler, repeat while keep-alive).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/stat.h>

#include "common/unique_fd.h"
#include "proxy/client_side.h"
#include "proxy/net.h"
#include "proxy/request_context.h"
#include "proxy/stream.h"
#include "proxy/worker.h"

namespace tg::proxy {

/// A growable byte buffer for request heads (bounded by the caller).
struct ByteBuffer {
  std::unique_ptr<char[]> data;
  size_t capacity = 0;
  size_t end = 0;  ///< bytes held
  void reserve(size_t n);
  /// Gives the memory back (small buffers to a per-thread pool, so the
  /// allocations of connections that come and go do not fragment the heap).
  void release();
};

/// An HTTP/1.1 client connection, and the client side (client_side.h) of the
/// request exchange each of its requests runs.
class ClientSession final : public std::enable_shared_from_this<ClientSession>, public ClientSide {
  friend class Worker;

 public:
  ClientSession(Worker& worker, Socket socket, std::shared_ptr<WorkerGeneration> generation,
                const ListenGroup* listen);
  ~ClientSession();

  /// Starts serving a freshly accepted connection; the session keeps itself
  /// alive (through its pending operations) until the connection ends.
  static void start(std::shared_ptr<ClientSession> session);

  /// Graceful stop: close now if idle between requests, else after this response.
  void on_quit();

  struct Exchange;  // per-request heavy state, allocated while busy
  struct Tunnel;    // an upgraded connection's state, while it is open

  /// True if this connection is a tunnel to a draining server whose drain_timeout
  /// has passed (the worker checks every second).
  bool tunnel_past_drain_deadline(std::chrono::steady_clock::time_point now) const;
  /// Ends the tunnel: WebSocket close frames (1001) to both sides when the streams
  /// are between frames, else a plain close.
  void close_tunnel_going_away();

 private:
  void wait_for_request(std::chrono::milliseconds timeout);
  void recycle_exchange();
  static std::unique_ptr<Exchange> take_exchange();
  void on_readable(const boost::system::error_code& ec);
  void close();
  Task<void> serve_requests();
  /// On a TLS address, before the first request (session_tls.cpp): tells TLS from a
  /// plain HTTP request (answered 400/497 after its head, as nginx), then the
  /// handshake within client_header_timeout. False: the connection is done.
  Task<bool> start_tls();
  /// `listen ... proxy_protocol`: reads the PROXY header (v1 or v2) before anything
  /// else, within client_header_timeout. False: broken or gone (logged, closed).
  Task<bool> read_proxy_protocol();
  /// After a head on a TLS address: the plain-HTTP answer (497), and the client
  /// certificate's verdict (495, 496). False when the request was answered.
  Task<bool> check_tls_request();
  /// SNI chose another server than Host does, and Host's verifies clients (421).
  bool misdirected() const;
  /// The client certificate's verdict for the server Host picked: 0, 495, 496, or
  /// 421 when the handshake checked it for another server.
  int client_certificate_status(std::string& reason) const;
  Task<bool> read_head();
  /// Server-level rewrite and the location: the task that answers the request.
  Task<void> handle_request();
  Task<void> run_location(const conf::Location* loc, int redirects);
  /// `extra_headers`: raw "Name: value\r\n" lines for the head.
  Task<void> respond(int status, std::string_view body, std::string_view content_type,
                     std::string_view location_header, int redirects,
                     std::string_view extra_headers = {});
  /// The access phase (allow/deny, auth_basic): false when it answered 403 or 401.
  Task<bool> check_access(const conf::Location& loc);
  /// ngx_http_limit_req_module's preaccess phase: false when the request was refused
  /// (answered with limit_req_status); a request beyond `delay` waits its turn.
  Task<bool> limit_requests(const conf::Location& loc);
  /// ngx_http_limit_conn_module: false when a key has its limit of requests in
  /// progress (answered with limit_conn_status); else the places are held until the
  /// request ends.
  Task<bool> limit_connections(const conf::Location& loc);
  /// ", client: ..., server: ..., request: \"...\", host: \"...\"" for log lines.
  std::string describe_request() const;
  /// ngx_http_realip_module: when the TCP peer is one of `s.real_ip_from`, the
  /// client becomes the address in `s.real_ip_header` (X-Forwarded-For walked from the
  /// right, past trusted proxies with real_ip_recursive). Once per request.
  void apply_realip(const conf::LocationSettings& s);
  /// The client's address for log lines: the realip one once applied.
  const std::string& client_addr() const;
  // Static files (static_files.cpp).
  /// try_files, index, autoindex and the file itself for `loc` (null: the server's).
  Task<void> serve_files(const conf::Location* loc, int redirects);
  /// The file `uri` names under root/alias; nothing when the path would climb out.
  std::optional<std::string> file_path(const conf::Location* loc, std::string_view uri);
  /// A regular file's answer: conditionals, ranges, head, body.
  /// `gzipped`: the file is gzip_static's "path.gz" (its type is path's).
  Task<void> send_file(UniqueFd fd, const struct stat& st, const std::string& path, int redirects,
                       bool gzipped = false);
  /// Bytes [offset, offset + length) of `fd` to the client (sendfile on plain sockets).
  Task<bool> send_file_range(int fd, int64_t offset, int64_t length);
  Task<void> serve_autoindex(const std::string& dir_path, int redirects);
  /// nginx's 301 to the URI with a slash added (and the arguments).
  Task<void> redirect_with_slash(int redirects);
  /// A location answered by the control thread (api, prometheus, dashboard).
  Task<void> serve_control(const conf::Location& loc, int redirects);
  /// Reads the whole request body into `out` (at most `limit` bytes); false when the
  /// client failed or the body was larger (413 answered).
  Task<bool> read_body(std::string& out, int64_t limit, int redirects);
  /// `respond` with the status alone: the built-in page or its error_page.
  Task<void> respond_error(int status, int redirects = 0) {
    return respond(status, {}, {}, {}, redirects);
  }
  /// proxy_pass: runs the request exchange (upstream_exchange.h) for `loc`.
  Task<void> proxy(const conf::Location& loc, int redirects);
  Task<bool> discard_body();
  /// Reads and drops what is left of the request body (the connection stays
  /// reusable), or marks the connection to close when that cannot be done.
  Task<void> discard_unread_body();
  /// The request body could not be read: the read failed (`ec`: 408 or 499) or
  /// the bytes broke the body's framing (400). Logs nginx's line, sets the status
  /// and closes the connection after the answer, if any.
  void body_failed(const boost::system::error_code& ec);
  Task<bool> write_client(const std::vector<boost::asio::const_buffer>& bufs);
  Task<bool> write_client(std::string_view data);
  /// A write to the client failed: logs a timeout, no further request.
  void client_write_failed();

  // ClientSide, for the request exchange (request_body.cpp, client_response.cpp,
  // tunnel.cpp).
  RequestContext& request() override;
  void take_body_received(std::vector<boost::asio::const_buffer>* pieces) override;
  Task<BodyRead> start_body(std::vector<boost::asio::const_buffer>& held,
                            size_t read_ahead) override;
  Task<BodyRead> read_body_piece(std::vector<boost::asio::const_buffer>& pieces) override;
  BodyProgress body_progress() const override;
  void arm_upstream(Socket& upstream, std::chrono::milliseconds timeout) override;
  bool disarm_upstream() override;
  Task<void> respond_with_status(int status, int redirects) override {
    return respond(status, {}, {}, {}, redirects);
  }
  void begin_response_head(int status, std::string_view reason) override;
  void add_response_header(std::string_view name, std::string_view value) override;
  void make_absolute(std::string& location) override;
  void set_response_body(ResponseBody body) override;
  void end_response_head(bool upgrade) override;
  Task<bool> write_response(const char* base, std::span<const http::Span> body, bool last) override;
  Task<bool> end_response_body() override;
  void close_after_response() override { keep_alive_ = false; }
  /// Turns the connection into a tunnel with `upstream` (after a 101 went out):
  /// the request's coroutines then return and serve_requests starts it (tunnel.cpp).
  void open_tunnel(Stream upstream, std::shared_ptr<balancing::GroupPicker> picker,
                   balancing::Lease lease, std::chrono::steady_clock::duration header_time,
                   std::string from_upstream) override;
  void keep_request_head();
  void run_tunnel();
  void tunnel_wait(int dir);
  void tunnel_readable(int dir, const boost::system::error_code& ec);
  void tunnel_direction_done(int dir, bool failed);
  void close_tunnel();
  /// `upgrade`: a 101 that turns the connection into a tunnel (Connection: upgrade).
  void finish_response_head(bool has_body_framing, bool upgrade = false);
  void finish_request();
  /// A request began (head read or refused): counts it in progress.
  void begin_request();
  /// Its end: the worker's counters and the status zones.
  void record_request();
  void set_idle(bool idle);
  const conf::LocationSettings& settings() const;

  void arm(std::chrono::milliseconds timeout);
  void disarm();
  /// Called by the worker when this connection's deadline passed.
  void on_deadline();

  Worker& worker_;
  Stream client_;
  bool timed_out_ = false;
  /// The client, not an upstream, timed out (reading the request or sending the
  /// response): what reset_timedout_connection resets.
  bool client_timed_out_ = false;
  Socket* upstream_socket_ = nullptr;  ///< cancelled on timeout

  std::shared_ptr<WorkerGeneration> gen_;
  const ListenGroup* listen_;
  ConnectionInfo info_;
  std::unique_ptr<Exchange> x_;
  std::unique_ptr<Tunnel> tunnel_;  ///< set while the connection is a tunnel
  ByteBuffer in_;                   ///< request head bytes (and pipelined leftovers)
  std::chrono::steady_clock::time_point created_;
  std::chrono::milliseconds idle_timeout_;  ///< client_header_timeout, then keepalive_timeout
  bool keep_alive_ = true;
  bool idle_ = false;  ///< waiting for a request (counted in WorkerCounters::idle)
  bool quit_ = false;
  bool unread_input_ = false;            ///< answered before the request was fully read
  bool tls_pending_ = false;             ///< a TLS address whose handshake has not run yet
  bool proxy_protocol_pending_ = false;  ///< its PROXY header has not been read yet
  bool plain_on_tls_ = false;            ///< plain HTTP came to a TLS address
  size_t slot_ = 0;                      ///< index in the worker's session table
  friend class Worker;
};

}  // namespace tg::proxy
