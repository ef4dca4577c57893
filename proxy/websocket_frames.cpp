#include "proxy/websocket_frames.h"

#include <algorithm>

namespace tg::proxy {

void FrameBoundary::feed(const unsigned char* p, std::size_t n) noexcept {
  while (n > 0) {
    if (payload_left_ > 0) {
      const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(payload_left_, n));
      payload_left_ -= take;
      p += take;
      n -= take;
      continue;
    }
    head_[have_++] = *p++;
    --n;
    if (have_ == 2) {
      const unsigned len7 = head_[1] & 0x7f;
      need_ = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((head_[1] & 0x80) ? 4 : 0);
    }
    if (have_ >= 2 && have_ == need_) {
      // FIN set on a data or continuation frame (opcodes 0-7; 8-15 are control).
      if ((head_[0] & 0x80) && (head_[0] & 0x08) == 0) ++messages_;
      const unsigned len7 = head_[1] & 0x7f;
      std::uint64_t len = len7;
      if (len7 == 126) {
        len = (std::uint64_t{head_[2]} << 8) | head_[3];
      } else if (len7 == 127) {
        len = 0;
        for (int i = 2; i < 10; ++i) len = (len << 8) | head_[i];
      }
      payload_left_ = len;
      have_ = 0;
      need_ = 2;
    }
  }
}

std::string websocket_close_frame(std::uint16_t code, std::string_view reason, bool masked,
                                  std::uint32_t mask_key) {
  reason = reason.substr(0, 123);
  std::string payload;
  payload += static_cast<char>(code >> 8);
  payload += static_cast<char>(code & 0xff);
  payload += reason;
  std::string frame;
  frame += static_cast<char>(0x88);  // FIN + close
  frame += static_cast<char>((masked ? 0x80 : 0) | payload.size());
  if (masked) {
    const unsigned char key[4] = {
        static_cast<unsigned char>(mask_key >> 24), static_cast<unsigned char>(mask_key >> 16),
        static_cast<unsigned char>(mask_key >> 8), static_cast<unsigned char>(mask_key)};
    frame.append(reinterpret_cast<const char*>(key), 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
      payload[i] = static_cast<char>(payload[i] ^ key[i % 4]);
  }
  frame += payload;
  return frame;
}

}  // namespace tg::proxy
