// ngx_http_auth_basic_module at run time: the Authorization header, the user
// file (htpasswd) and its password hashes.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace tg::proxy {

/// Checks `password` against an htpasswd hash, in the formats nginx accepts:
/// `{PLAIN}text`, `{SHA}` (base64 SHA-1), `{SSHA}` (salted), Apache's `$apr1$`
/// (MD5), and crypt(3) through libxcrypt (`$1$`, `$5$`, `$6$`, bcrypt `$2y$`, ...).
bool verify_password(std::string_view hash, std::string_view password);

/// The user and password of `Authorization: Basic base64(user:password)`;
/// nullopt when the header is absent or malformed.
std::optional<std::pair<std::string, std::string>> basic_credentials(std::string_view header);

/// The user files one worker reads, re-read when their size or mtime changes (nginx
/// reads the file on every request; a stat() is cheaper than a read).
class UserFiles {
 public:
  enum class Result { kAllowed, kNoUser, kMismatch, kFileError };
  /// Checks `user`/`password` against `path`. On kFileError, `error` has nginx's words.
  Result check(const std::string& path, const std::string& user, std::string_view password,
               std::string& error);

 private:
  struct File {
    long long size = -1;
    std::chrono::nanoseconds mtime{0};
    std::map<std::string, std::string, std::less<>> users;  ///< user -> hash
  };
  std::map<std::string, File, std::less<>> files_;
};

}  // namespace tg::proxy
