// Per-request state of an HTTP/1.1 client session (private to its files:
// session.cpp, client_response.cpp, request_body.cpp, tunnel.cpp, ...).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/buffer.hpp>

#include "proxy/io_buffers.h"
#include "proxy/request_context.h"
#include "proxy/session.h"
#include "proxy/upstream_exchange.h"
#include "proxy/websocket_frames.h"

namespace tg::proxy {

/// Per-request state that only exists while a request is being served.
struct ClientSession::Exchange {
  HttpParser parser{http::MessageType::kRequest};
  RequestContext ctx;
  size_t consumed = 0;              ///< bytes of in_ the parser has taken
  std::unique_ptr<char[]> io;       ///< client body buffer
  const char* body_base = nullptr;  ///< buffer the parser's body spans point into
  int64_t body_bytes = 0;
  bool body_from_socket = false;  ///< body bytes were read past the head buffer
  bool sent_continue = false;
  UpstreamBuffers upstream;       ///< proxy_pass's storage (upstream_exchange.h)
  int forced_status = 0;          ///< error_page: status to answer with (0 = the upstream's)
  bool error_page_get = false;    ///< error_page redirect: fetch with GET, without the body
  std::string leftover;           ///< bytes read after a body: the next pipelined request
  std::string answer_text;        ///< text or Location of an answer routing chose
  std::string error_page_target;  ///< the error_page URI or URL taken ($args may point into it)
  std::string out;                ///< response head being assembled
  bool head_pending = false;      ///< `out` holds a head write_response has still to send
  bool chunk_response = false;    ///< the response body goes out chunk-encoded
  bool response_framed = true;    ///< the client can tell where the response body ends
  size_t head_bytes = 0;          ///< size of the response head sent (tunnels)
  std::string request_head_copy;  ///< the request head, kept while a tunnel is open
  std::vector<boost::asio::const_buffer> bufs;  ///< gather list for the current write
  std::string chunk_lines;                      ///< chunk-size lines for the current write
  ConnectionInfo real_client;                   ///< ctx.conn once the realip module applied
  bool realip_done = false;                     ///< applied at server level
  std::vector<ConnHold> conn_holds;  ///< limit_conn places, given back when the request ends
};

/// State of an open tunnel (owned by the session while it is one).
struct ClientSession::Tunnel {
  Tunnel(Stream up, std::shared_ptr<balancing::GroupPicker> from, balancing::Lease held,
         std::chrono::steady_clock::duration header)
      : upstream(std::move(up)),
        picker(std::move(from)),
        lease(std::move(held)),
        header_time(header) {}

  Stream upstream;
  /// The lease points into its picker: declared first, so it outlives the lease.
  std::shared_ptr<balancing::GroupPicker> picker;
  balancing::Lease lease;  ///< keeps the tunnel counted as an active connection
  std::chrono::steady_clock::duration header_time;
  std::chrono::steady_clock::time_point opened = std::chrono::steady_clock::now();
  std::chrono::milliseconds idle_timeout{0};  ///< proxy_read_timeout
  bool websocket = false;
  bool stopping = false;    ///< ending: callbacks that complete now do nothing more
  bool going_away = false;  ///< drain_timeout passed: close with 1001
  bool cut = false;         ///< a write was cut short: frame boundaries are lost
  int open = 2;             ///< directions still running
  std::string initial[2];   ///< bytes that came with the heads, written first
  PooledBuffer held[2];     ///< a read whose write is still in progress
  /// The pending write's buffer, per direction (a client stream writes from a span
  /// that must outlive the operation).
  boost::asio::const_buffer writing[2];
  FrameBoundary boundary[2];
};

}  // namespace tg::proxy
