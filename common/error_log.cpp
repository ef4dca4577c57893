#include "common/error_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>

#include "common/trusted_open.h"

namespace tg {
namespace {
constexpr std::string_view kNames[] = {"debug", "info", "notice", "warn",
                                       "error", "crit", "alert",  "emerg"};
thread_local int t_thread_id = 0;
std::mutex g_open_mutex;
}  // namespace

std::string_view level_name(LogLevel level) {
  return kNames[static_cast<int>(level)];
}

bool parse_level(std::string_view text, LogLevel& out) {
  for (int i = 0; i < 8; ++i) {
    if (kNames[i] == text) {
      out = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

ErrorLog& ErrorLog::instance() {
  static ErrorLog log;
  return log;
}

void ErrorLog::set_thread_id(int id) {
  t_thread_id = id;
}

UniqueFd open_log_file(const std::string& path, std::string& error) {
  return open_trusted(path, O_WRONLY | O_APPEND | O_CREAT, 0644, error);
}

std::string ErrorLog::open(const std::string& path, LogLevel level) {
  int fd = 2;
  if (path != "stderr") {
    std::string error;
    UniqueFd file = open_log_file(path, error);
    if (!file) return error;
    fd = file.release();
  }
  std::lock_guard lock(g_open_mutex);
  install(fd);
  path_ = path;
  set_level(level);
  return {};
}

void ErrorLog::replace(UniqueFd fd) {
  std::lock_guard lock(g_open_mutex);
  if (path_ != "stderr") install(fd.release());
}

std::string ErrorLog::path() const {
  std::lock_guard lock(g_open_mutex);
  return path_;
}

void ErrorLog::install(int fd) {
  int old = fd_.load();
  if (old > 2 && fd > 2) {
    // Keep the fd number: another thread may be writing through it right now,
    // and a freed number could be reused by a socket.
    ::dup2(fd, old);
    ::close(fd);
  } else {
    fd_.store(fd);
  }
}

void ErrorLog::write(LogLevel level, std::string_view message) {
  char head[96];
  time_t now = ::time(nullptr);
  struct tm tm;
  ::localtime_r(&now, &tm);
  int n = std::snprintf(head, sizeof head,
                        "%04d/%02d/%02d %02d:%02d:%02d [%s] %d#%d: ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                        level_name(level).data(), static_cast<int>(::getpid()), t_thread_id);
  thread_local std::string line;
  line.assign(head, static_cast<size_t>(n));
  line.append(message);
  line.push_back('\n');
  ssize_t rc = ::write(fd_.load(std::memory_order_relaxed), line.data(), line.size());
  (void)rc;
}

std::string errno_text(int err) {
  char buf[128];
  const char* text = ::strerror_r(err, buf, sizeof buf);
  return "(" + std::to_string(err) + ": " + text + ")";
}

}  // namespace tg
