// What the tests of process-running providers (local, exec) share: a private temp
// directory, whether a pid still runs, and the check that no child was left behind.
#pragma once

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace tg::scaling::child_test {

/// Gone, or a zombie its new parent has not reaped yet (a grandchild of ours).
inline bool process_alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

/// A new directory under /tmp named after `prefix` ("" when mkdtemp fails).
inline std::string make_temp_dir(const std::string& prefix) {
  std::string pattern = "/tmp/" + prefix + "-XXXXXX";
  return ::mkdtemp(pattern.data()) ? pattern : std::string();
}

/// Every child reaped: none left, not even a zombie.
inline void expect_no_child_left() {
  errno = 0;
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "a child was left";
  EXPECT_EQ(errno, ECHILD);
}

}  // namespace tg::scaling::child_test
