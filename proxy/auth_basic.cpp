#include "proxy/auth_basic.h"

#include <crypt.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error_log.h"

namespace tg::proxy {
namespace {

std::string base64_decode(std::string_view in) {
  std::string out((in.size() / 4 + 1) * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0 || in.size() % 4 != 0) return {};
  out.resize(static_cast<size_t>(n));
  // EVP_DecodeBlock counts padding as zero bytes.
  for (size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) out.pop_back();
  return out;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

using Md5 = std::array<unsigned char, 16>;

Md5 md5_of(std::initializer_list<std::string_view> parts) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_md5(), nullptr);
  for (auto p : parts) EVP_DigestUpdate(ctx, p.data(), p.size());
  Md5 out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, out.data(), &len);
  EVP_MD_CTX_free(ctx);
  return out;
}

/// Apache's MD5 crypt (`$apr1$salt$hash`), as described by its documentation: the
/// FreeBSD MD5-crypt rounds with the magic "$apr1$".
std::string apr1(std::string_view password, std::string_view salt) {
  constexpr std::string_view kMagic = "$apr1$";
  if (salt.size() > 8) salt = salt.substr(0, 8);
  const Md5 alternate = md5_of({password, salt, password});
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_md5(), nullptr);
  EVP_DigestUpdate(ctx, password.data(), password.size());
  EVP_DigestUpdate(ctx, kMagic.data(), kMagic.size());
  EVP_DigestUpdate(ctx, salt.data(), salt.size());
  for (size_t left = password.size(); left > 0; left -= std::min<size_t>(left, 16)) {
    EVP_DigestUpdate(ctx, alternate.data(), std::min<size_t>(left, 16));
  }
  for (size_t i = password.size(); i > 0; i >>= 1) {
    const char zero = 0;
    EVP_DigestUpdate(ctx, (i & 1) ? &zero : password.data(), 1);
  }
  Md5 digest{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest.data(), &len);
  EVP_MD_CTX_free(ctx);
  const std::string_view d(reinterpret_cast<const char*>(digest.data()), 16);
  for (int round = 0; round < 1000; ++round) {
    std::string_view prev(reinterpret_cast<const char*>(digest.data()), 16);
    std::string buf;
    buf.append((round & 1) ? password : prev);
    if (round % 3) buf.append(salt);
    if (round % 7) buf.append(password);
    buf.append((round & 1) ? prev : password);
    digest = md5_of({buf});
  }
  (void)d;
  static constexpr char kItoa64[] =
      "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string out(kMagic);
  out.append(salt);
  out.push_back('$');
  auto put = [&](unsigned value, int chars) {
    for (int i = 0; i < chars; ++i) {
      out.push_back(kItoa64[value & 0x3f]);
      value >>= 6;
    }
  };
  auto b = [&](int i) { return static_cast<unsigned>(digest[static_cast<size_t>(i)]); };
  put((b(0) << 16) | (b(6) << 8) | b(12), 4);
  put((b(1) << 16) | (b(7) << 8) | b(13), 4);
  put((b(2) << 16) | (b(8) << 8) | b(14), 4);
  put((b(3) << 16) | (b(9) << 8) | b(15), 4);
  put((b(4) << 16) | (b(10) << 8) | b(5), 4);
  put(b(11), 2);
  return out;
}

}  // namespace

bool verify_password(std::string_view hash, std::string_view password) {
  if (hash.starts_with("{PLAIN}")) return equal_constant_time(hash.substr(7), password);
  if (hash.starts_with("{SHA}") || hash.starts_with("{SSHA}")) {
    const bool salted = hash[1] == 'S' && hash[2] == 'S';
    const std::string raw = base64_decode(hash.substr(salted ? 6 : 5));
    if (raw.size() < SHA_DIGEST_LENGTH) return false;
    const std::string_view salt = std::string_view(raw).substr(SHA_DIGEST_LENGTH);
    if (!salted && !salt.empty()) return false;
    std::string input(password);
    input.append(salt);
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
    return equal_constant_time(
        std::string_view(reinterpret_cast<const char*>(digest), SHA_DIGEST_LENGTH),
        std::string_view(raw).substr(0, SHA_DIGEST_LENGTH));
  }
  if (hash.starts_with("$apr1$")) {
    const std::string_view rest = hash.substr(6);
    const size_t dollar = rest.find('$');
    if (dollar == std::string_view::npos) return false;
    return equal_constant_time(apr1(password, rest.substr(0, dollar)), hash);
  }
  // crypt(3): the hash carries its method and salt.
  crypt_data data{};
  const std::string h(hash), p(password);
  const char* out = ::crypt_rn(p.c_str(), h.c_str(), &data, sizeof data);
  return out != nullptr && out[0] != '*' && equal_constant_time(out, hash);
}

std::optional<std::pair<std::string, std::string>> basic_credentials(std::string_view header) {
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  if (header.size() < 6) return std::nullopt;
  for (size_t i = 0; i < 5; ++i) {
    if ((header[i] | 0x20) != "basic"[i]) return std::nullopt;
  }
  if (header[5] != ' ') return std::nullopt;
  std::string_view encoded = header.substr(6);
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
  const std::string decoded = base64_decode(encoded);
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(decoded.substr(0, colon), decoded.substr(colon + 1));
}

UserFiles::Result UserFiles::check(const std::string& path, const std::string& user,
                                   std::string_view password, std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = "open() \"" + path + "\" failed " + errno_text(errno);
    return Result::kFileError;
  }
  const auto mtime =
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec);
  File& f = files_[path];
  if (f.size != static_cast<long long>(st.st_size) || f.mtime != mtime) {
    std::ifstream in(path);
    if (!in) {
      error = "open() \"" + path + "\" failed " + errno_text(errno);
      files_.erase(path);
      return Result::kFileError;
    }
    f.users.clear();
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      // nginx takes the hash up to the next ':' (htpasswd comment fields follow).
      std::string hash = line.substr(colon + 1);
      hash = hash.substr(0, hash.find(':'));
      f.users.emplace(line.substr(0, colon), std::move(hash));
    }
    f.size = static_cast<long long>(st.st_size);
    f.mtime = mtime;
  }
  auto it = f.users.find(user);
  if (it == f.users.end()) return Result::kNoUser;
  return verify_password(it->second, password) ? Result::kAllowed : Result::kMismatch;
}

}  // namespace tg::proxy
