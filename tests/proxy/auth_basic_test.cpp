#include "proxy/auth_basic.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace tg::proxy {
namespace {

// Hashes made with `openssl passwd` and Python's hashlib for the password "password".
TEST(AuthBasic, VerifiesEveryHtpasswdFormat) {
  EXPECT_TRUE(verify_password("{PLAIN}password", "password"));
  EXPECT_TRUE(verify_password("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "password"));
  EXPECT_TRUE(verify_password("$apr1$xyz$NU.niW1.aK5j0LYFfMca4/", "password"));
  EXPECT_TRUE(verify_password(
      "$6$abcdefgh$yVfUwsw5T.JApa8POvClA1pQ5peiq97DUNyXCZN5IrF.BMSkiaLQ5kvpuEm/VQ1Tvh/"
      "KV2TcaWh8qinoW5dhA1",
      "password"));
  for (const char* hash :
       {"{PLAIN}password", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "$apr1$xyz$NU.niW1.aK5j0LYFfMca4/",
        "$6$abcdefgh$yVfUwsw5T.JApa8POvClA1pQ5peiq97DUNyXCZN5IrF.BMSkiaLQ5kvpuEm/VQ1Tvh/"
        "KV2TcaWh8qinoW5dhA1"}) {
    EXPECT_FALSE(verify_password(hash, "Password")) << hash;
    EXPECT_FALSE(verify_password(hash, "")) << hash;
  }
  EXPECT_FALSE(verify_password("garbage", "password"));
}

TEST(AuthBasic, SaltedSha) {
  // {SSHA}: base64(sha1(password + salt) + salt), salt "salt".
  EXPECT_TRUE(verify_password("{SSHA}yI6cZwQadOA1e+/f+T+H3eCQQhRzYWx0", "password"));
  EXPECT_FALSE(verify_password("{SSHA}yI6cZwQadOA1e+/f+T+H3eCQQhRzYWx0", "passwore"));
}

TEST(AuthBasic, ParsesTheAuthorizationHeader) {
  auto c = basic_credentials("Basic dXNlcjpwYTpzcw==");  // user:pa:ss
  ASSERT_TRUE(c);
  EXPECT_EQ(c->first, "user");
  EXPECT_EQ(c->second, "pa:ss");
  EXPECT_TRUE(basic_credentials("basic   dXNlcjpwYTpzcw=="));
  EXPECT_FALSE(basic_credentials("Bearer x"));
  EXPECT_FALSE(basic_credentials("Basic ***"));
  EXPECT_FALSE(basic_credentials("Basic dXNlcg=="));  // no colon
}

TEST(AuthBasic, UserFileIsReReadWhenItChanges) {
  const auto path =
      std::filesystem::temp_directory_path() / ("tg-htpasswd-" + std::to_string(::getpid()));
  std::ofstream(path) << "# comment\nalice:{PLAIN}one\nbob:$apr1$xyz$NU.niW1.aK5j0LYFfMca4/:x\n";
  UserFiles files;
  std::string error;
  EXPECT_EQ(files.check(path, "alice", "one", error), UserFiles::Result::kAllowed);
  EXPECT_EQ(files.check(path, "bob", "password", error), UserFiles::Result::kAllowed);
  EXPECT_EQ(files.check(path, "alice", "two", error), UserFiles::Result::kMismatch);
  EXPECT_EQ(files.check(path, "carol", "x", error), UserFiles::Result::kNoUser);
  std::ofstream(path) << "alice:{PLAIN}changed-password\n";
  EXPECT_EQ(files.check(path, "alice", "changed-password", error), UserFiles::Result::kAllowed);
  std::filesystem::remove(path);
  EXPECT_EQ(files.check(path, "alice", "changed-password", error), UserFiles::Result::kFileError);
  EXPECT_NE(error.find("(2: No such file or directory)"), std::string::npos) << error;
}

}  // namespace
}  // namespace tg::proxy
