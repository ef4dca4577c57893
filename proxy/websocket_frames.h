// Just enough of RFC 6455 framing for a proxy that copies WebSocket bytes: where
// frames end (so a frame can be inserted between two), and close frames.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace tg::proxy {

/// Follows frame boundaries in one direction of a WebSocket byte stream.
class FrameBoundary {
 public:
  /// Consumes the next `n` bytes of the stream.
  void feed(const unsigned char* p, std::size_t n) noexcept;
  /// True when the bytes fed so far end exactly at the end of a frame.
  bool at_boundary() const noexcept { return have_ == 0 && payload_left_ == 0; }
  /// Messages whose last frame's head was fed since the previous call (a data frame
  /// with FIN: a whole message, or the end of a fragmented one; control frames are not
  /// messages). What the autoscaler's `ws_messages` metric counts.
  std::uint32_t take_messages() noexcept { return std::exchange(messages_, 0); }

 private:
  unsigned char head_[14] = {};
  std::size_t have_ = 0;  ///< header bytes collected
  std::size_t need_ = 2;  ///< header length once known
  std::uint64_t payload_left_ = 0;
  std::uint32_t messages_ = 0;
};

/// A close frame with `code` and `reason` (reason at most 123 bytes). Frames a
/// client sends must be masked (RFC 6455 5.3); `mask_key` gives that key.
std::string websocket_close_frame(std::uint16_t code, std::string_view reason, bool masked,
                                  std::uint32_t mask_key = 0x5a3c96e1);

}  // namespace tg::proxy
