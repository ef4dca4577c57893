// Per-request state of a client session (private to session.cpp and proxy_pass.cpp).
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/buffer.hpp>

#include "proxy/request_context.h"
#include "proxy/session.h"
#include "proxy/websocket_frames.h"

namespace tg::proxy {

/// Size of the client-body and upstream I/O buffers.
constexpr size_t kIoBuffer = 16 * 1024;

/// Appends body bytes to a gather list, raw or chunk-encoded. Chunk-size lines
/// are kept in `lines`, reserved up front so the buffers pointing into it stay
/// valid until the write completes. One encoder for request and response bodies.
class BodyGather {
 public:
  BodyGather(std::vector<boost::asio::const_buffer>& out, std::string& lines, bool chunked,
             size_t pieces)
      : out_(out), lines_(lines), chunked_(chunked) {
    lines_.clear();
    if (chunked_) lines_.reserve(pieces * 18 + 8);
  }
  void add(const char* data, size_t n) {
    if (chunked_) {
      char line[20];
      int len = std::snprintf(line, sizeof line, "%zx\r\n", n);
      size_t at = lines_.size();
      lines_.append(line, static_cast<size_t>(len));
      out_.push_back(boost::asio::buffer(lines_.data() + at, static_cast<size_t>(len)));
    }
    out_.push_back(boost::asio::buffer(data, n));
    if (chunked_) out_.push_back(boost::asio::buffer("\r\n", 2));
  }
  /// The last chunk (chunked encoding only).
  void finish() {
    if (chunked_) out_.push_back(boost::asio::buffer("0\r\n\r\n", 5));
  }

 private:
  std::vector<boost::asio::const_buffer>& out_;
  std::string& lines_;
  bool chunked_;
};

/// A kIoBuffer-sized buffer from a small per-thread pool, returned when the
/// holder goes away: connections waiting for their next request hold none.
class PooledBuffer {
 public:
  PooledBuffer() = default;
  PooledBuffer(PooledBuffer&&) = default;
  PooledBuffer& operator=(PooledBuffer&&) = default;
  ~PooledBuffer() { reset(); }
  char* get() {
    if (!data_) data_ = acquire();
    return data_.get();
  }
  void reset() {
    if (data_) release(std::move(data_));
  }

 private:
  static std::unique_ptr<char[]> acquire();
  static void release(std::unique_ptr<char[]> buffer);
  std::unique_ptr<char[]> data_;
};

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
  HttpParser upstream{http::MessageType::kResponse};
  std::string upstream_head;       ///< request head sent upstream
  std::string uri_out;             ///< URI sent upstream
  int forced_status = 0;           ///< error_page: status to answer with (0 = the upstream's)
  bool error_page_get = false;     ///< error_page redirect: fetch with GET, without the body
  std::string upstream_head_copy;  ///< upstream response head kept for $upstream_http_*
  std::string leftover;            ///< bytes read after a body: the next pipelined request
  std::string out;                 ///< response head being assembled
  size_t head_bytes = 0;           ///< size of the response head sent
  std::string request_head_copy;   ///< the request head, kept while a tunnel is open
  std::vector<boost::asio::const_buffer> bufs;  ///< gather list for the current write
  std::string chunk_lines;                      ///< chunk-size lines for the current write
  ConnectionInfo real_client;                   ///< ctx.conn once the realip module applied
  bool realip_done = false;                     ///< applied at server level
  std::vector<ConnHold> conn_holds;  ///< limit_conn places, given back when the request ends
};

/// State of an open tunnel (owned by the session while it is one).
struct ClientSession::Tunnel {
  Tunnel(Socket up, std::shared_ptr<balancing::GroupPicker> from, balancing::Lease held,
         std::chrono::steady_clock::duration header)
      : upstream(std::move(up)),
        picker(std::move(from)),
        lease(std::move(held)),
        header_time(header) {}

  Socket upstream;
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
  FrameBoundary boundary[2];
};

}  // namespace tg::proxy
