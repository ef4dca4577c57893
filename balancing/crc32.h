// CRC-32 as nginx's ngx_crc32 computes it (the zlib/IEEE 802.3 polynomial), for hash
// and hash consistent.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace tg::balancing {

/// Incremental CRC-32 (reflected polynomial 0xEDB88320): init, update, final as nginx's
/// ngx_crc32_init / ngx_crc32_update / ngx_crc32_final.
class Crc32 {
 public:
  Crc32& update(std::span<const std::uint8_t> bytes) noexcept;
  Crc32& update(std::string_view text) noexcept {
    return update(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }
  std::uint32_t final() const noexcept { return ~state_; }

 private:
  std::uint32_t state_ = 0xffffffff;
};

/// crc32 of `text` in one go (nginx: ngx_crc32_long). crc32("123456789") == 0xCBF43926.
inline std::uint32_t crc32(std::string_view text) noexcept {
  return Crc32().update(text).final();
}

}  // namespace tg::balancing
