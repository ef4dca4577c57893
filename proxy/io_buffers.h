// Buffers of the request path, shared by the client side, the upstream exchange
// and tunnels: the pooled I/O buffer, and the gather list that writes body bytes
// raw or chunk-encoded without copying them.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/buffer.hpp>

namespace tg::proxy {

/// Size of the client-body and upstream I/O buffers.
constexpr size_t kIoBuffer = 16 * 1024;

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

}  // namespace tg::proxy
