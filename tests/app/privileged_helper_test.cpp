#include "app/privileged_helper.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "proxy/listen_sockets.h"

namespace tg::app {
namespace {

/// An ephemeral port that was free a moment ago.
int free_port() {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// The helper without root: the protocol, the conf snapshot and what it refuses.
class PrivilegedHelperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "tg-helper-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
    write("inc/a.conf", "worker_processes 1;\n");
    write("tidegate.conf", "include inc/*.conf;\nevents {}\nhttp {\n  access_log " + dir_ +
                               "/access.log;\n  server { listen 127.0.0.1:" +
                               std::to_string(free_port()) + "; }\n}\n");
    options_ = conf::LoadOptions{dir_ + "/", dir_ + "/tidegate.conf", ""};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(dir_ + "/" + name).parent_path());
    std::ofstream(dir_ + "/" + name) << text;
  }

  std::string dir_;
  conf::LoadOptions options_;
};

TEST_F(PrivilegedHelperTest, LoadSendsTheConfItReadAndOpensWhatItNeeds) {
  auto helper = PrivilegedHelper::start(options_, 2, {}, "");
  ASSERT_TRUE(helper);
  LoadedConf loaded = helper->load(options_, {});
  ASSERT_TRUE(loaded.config);
  // The include was expanded from the helper's glob, in this process.
  EXPECT_EQ(loaded.config->files.size(), 2u);
  ASSERT_EQ(loaded.logs.size(), 1u);
  EXPECT_TRUE(loaded.logs.begin()->second);
  ASSERT_EQ(loaded.listeners.sockets.size(), 1u);
  EXPECT_EQ(loaded.listeners.sockets[0].second.size(), 2u);  // one per worker
  // A log the running generation already has is not opened again.
  KeptResources kept;
  kept.logs.push_back(dir_ + "/access.log");
  kept.endpoints.push_back(loaded.listeners.sockets[0].first);
  LoadedConf again = helper->load(options_, kept);
  EXPECT_TRUE(again.logs.empty());
  EXPECT_TRUE(again.listeners.sockets.empty());
}

TEST_F(PrivilegedHelperTest, ConfErrorsComeBackWithFileAndLine) {
  auto helper = PrivilegedHelper::start(options_, 1, {}, "");
  write("inc/a.conf", "worker_processes 1;\nbogus on;\n");
  try {
    helper->load(options_, {});
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_EQ(std::string(e.what()), "unknown directive \"bogus\" in " + dir_ + "/inc/a.conf:2");
  }
}

TEST_F(PrivilegedHelperTest, ReopenOnlyOpensLogsOfTheConf) {
  auto helper = PrivilegedHelper::start(options_, 1, {dir_ + "/error.log"}, "");
  std::vector<std::string> errors;
  auto opened = helper->reopen({dir_ + "/error.log", "/etc/shadow"}, errors);
  EXPECT_EQ(opened.size(), 1u);
  EXPECT_TRUE(opened.count(dir_ + "/error.log"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "\"/etc/shadow\" is not a log file of the configuration");
  // A loaded conf's access log becomes reopenable.
  helper->load(options_, {});
  errors.clear();
  opened = helper->reopen({dir_ + "/access.log"}, errors);
  EXPECT_EQ(opened.size(), 1u);
  EXPECT_TRUE(errors.empty());
}

TEST_F(PrivilegedHelperTest, HelperRemovesThePidFileWhenTheServerGoes) {
  const std::string pid_file = dir_ + "/tidegate.pid";
  std::ofstream(pid_file) << ::getpid() << "\n";
  auto helper = PrivilegedHelper::start(options_, 1, {}, pid_file);
  helper.reset();  // closes the socket and waits for the helper
  EXPECT_FALSE(std::filesystem::exists(pid_file));
}

}  // namespace
}  // namespace tg::app
