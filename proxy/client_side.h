// The seam between a request exchange (proxy_pass: pick, attempt, forward) and
// the client protocol that carries the request. An HTTP/1.1 connection
// (ClientSession) implements it today; an HTTP/2 stream will be the second
// front end over the same exchange.
//
// The exchange reads the request head and variables through request() (the one
// HTTP message model, see request_context.h), pulls the body piece by piece,
// hands over the response head header by header, then writes the body in
// pieces. The protocol's framing (chunked coding, DATA frames), its connection
// management (keep-alive, Connection headers) and its deadlines stay on this
// side. Calls are per piece or per write, never per byte.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>

#include "balancing/group_picker.h"
#include "balancing/lease.h"
#include "proxy/net.h"
#include "proxy/request_context.h"
#include "proxy/stream.h"

namespace tg::proxy {

/// What a read of the request body gave.
enum class BodyRead {
  kMore,      ///< pieces were added (maybe none); more of the body follows
  kComplete,  ///< the body is complete: its last pieces were added
  kClosed,    ///< the client went away or timed out (logged, status 408 or 499 set)
  kInvalid,   ///< the bytes broke the body's framing (logged, status 400 set): answer 400
};

/// How much of the request body the client side has read so far.
struct BodyProgress {
  int64_t bytes = 0;      ///< body bytes read ($request_length counts them)
  bool streamed = false;  ///< bytes were read past what is held: the body cannot be resent
};

/// How the response body that follows a head is delimited, as the upstream sent it.
enum class ResponseBody {
  kNone,    ///< no body at all (HEAD, 1xx, 204, 304)
  kLength,  ///< Content-Length, passed on among the headers
  kStream,  ///< no length up front: the upstream's chunked coding, or until it closes
};

/// The client side of one request exchange: what the exchange needs of the client
/// and its protocol. Methods are listed in the order a request uses them.
class ClientSide {
 public:
  /// The request being served: its head, the client's address, variables, and the
  /// fields the access log and metrics report.
  virtual RequestContext& request() = 0;

  // ---- request body ----

  /// Appends the body bytes that arrived with the head to `pieces` (valid until the
  /// request ends) and counts them as read; with `pieces` null they are dropped
  /// uncounted (an error_page fetch sends no body).
  virtual void take_body_received(std::vector<boost::asio::const_buffer>* pieces) = 0;
  /// The body starts to flow: tells a client that waits for it ("Expect:
  /// 100-continue") to send, then reads up to `read_ahead` bytes of it into one
  /// buffer, appending to `held` (valid until the request ends), so that a small
  /// body is complete and can be resent (proxy_request_buffering; 0: none).
  virtual Task<BodyRead> start_body(std::vector<boost::asio::const_buffer>& held,
                                    size_t read_ahead) = 0;
  /// Appends the next piece of the body to `pieces` (valid until the next call),
  /// reading from the client when nothing is held: streaming.
  virtual Task<BodyRead> read_body_piece(std::vector<boost::asio::const_buffer>& pieces) = 0;
  /// How much of the body has been read, and whether it can still be resent.
  virtual BodyProgress body_progress() const = 0;

  // ---- upstream deadlines ----

  /// Starts the deadline of one upstream operation: when `timeout` passes first,
  /// the operation pending on `upstream` is cancelled.
  virtual void arm_upstream(Socket& upstream, std::chrono::milliseconds timeout) = 0;
  /// Ends that deadline; true if it had passed (the operation failed for it).
  virtual bool disarm_upstream() = 0;

  // ---- response ----

  /// Answers with `status` alone: the client side's page for it, or the error_page
  /// for it (`redirects`: error_page redirects so far). Nothing may have been sent.
  virtual Task<void> respond_with_status(int status, int redirects) = 0;
  /// Starts the response head (sets the request's status).
  virtual void begin_response_head(int status, std::string_view reason) = 0;
  /// Makes a Location that starts with '/' absolute (absolute_redirect), as
  /// nginx's header filter does: scheme://host[:port] of the client's request.
  virtual void make_absolute(std::string& location) = 0;
  /// Adds one header to the head; Server and Date replace the proxy's own.
  virtual void add_response_header(std::string_view name, std::string_view value) = 0;
  /// Says how the body is delimited; the protocol chooses its own framing here
  /// (HTTP/1.1: chunked coding for a 1.1 client when there is no length).
  virtual void set_response_body(ResponseBody body) = 0;
  /// Ends the head. `upgrade`: a 101 that turns the connection into a tunnel.
  virtual void end_response_head(bool upgrade) = 0;
  /// Sends the head if it is still pending, then `body` (spans into `base`);
  /// `last` ends the body. False when the client failed (logged; the exchange stops).
  virtual Task<bool> write_response(const char* base, std::span<const http::Span> body,
                                    bool last) = 0;
  /// Ends a body whose end the upstream signalled by closing its connection.
  virtual Task<bool> end_response_body() = 0;
  /// The client's view of this request is broken (a side failed mid-body, or its
  /// body was refused): no further request after this answer on its connection.
  virtual void close_after_response() = 0;
  /// After a 101 went out with write_response: the client and `upstream` exchange
  /// bytes both ways from now on. Takes the upstream socket, the lease and its
  /// picker (which the lease points into), and what the upstream sent past its head.
  virtual void open_tunnel(Stream upstream, std::shared_ptr<balancing::GroupPicker> picker,
                           balancing::Lease lease, std::chrono::steady_clock::duration header_time,
                           std::string from_upstream) = 0;

 protected:
  ~ClientSide() = default;
};

}  // namespace tg::proxy
