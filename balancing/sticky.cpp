#include "balancing/sticky.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace tg::balancing {

std::string sticky_id_for(const ServerConfig& config) {
  if (!config.route.empty()) return config.route;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(config.name.data(), config.name.size(), digest, &length, EVP_md5(), nullptr) !=
      1) {
    // Only when OpenSSL cannot provide MD5 at all (e.g. a FIPS-only provider).
    throw std::runtime_error("sticky: MD5 is not available from OpenSSL");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(2 * length, '\0');
  for (unsigned int i = 0; i < length; ++i) {
    id[2 * i] = kHex[digest[i] >> 4];
    id[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return id;
}

}  // namespace tg::balancing
