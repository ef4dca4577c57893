// nginx-format error log: `2026/11/23 16:28:58 [warn] <pid>#<tid>: message`.
// One process-wide log; any thread may write. Lines are assembled in a
// thread-local buffer and written with a single write(2) so they never interleave.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "common/unique_fd.h"

namespace tg {

/// nginx's levels, most verbose first.
enum class LogLevel { kDebug, kInfo, kNotice, kWarn, kError, kCrit, kAlert, kEmerg };

std::string_view level_name(LogLevel level);
/// Parses "debug".."emerg"; returns false for anything else.
bool parse_level(std::string_view text, LogLevel& out);

class ErrorLog {
 public:
  /// The process-wide instance.
  static ErrorLog& instance();

  /// Opens `path` for appending ("stderr" means standard error). Returns an
  /// errno-style message on failure and keeps the previous target.
  std::string open(const std::string& path, LogLevel level);
  /// Writes to `fd` from now on, for the same path (SIGUSR1: the file was
  /// re-opened, possibly by the privileged helper). Ignored while on stderr.
  void replace(UniqueFd fd);
  /// The file written ("stderr" for standard error).
  std::string path() const;
  /// The descriptor written to.
  int fd() const { return fd_.load(); }
  void set_level(LogLevel level) { level_.store(level, std::memory_order_relaxed); }
  bool enabled(LogLevel level) const { return level >= level_.load(std::memory_order_relaxed); }
  /// Small numeric id of the calling thread for the `#tid` field (0 = main).
  static void set_thread_id(int id);

  void write(LogLevel level, std::string_view message);

 private:
  ErrorLog() = default;
  /// Makes `fd` the target, keeping the old descriptor number when there is one.
  void install(int fd);
  std::atomic<int> fd_{2};
  std::atomic<LogLevel> level_{LogLevel::kNotice};
  std::string path_ = "stderr";
};

inline void log(LogLevel level, std::string_view message) {
  auto& l = ErrorLog::instance();
  if (l.enabled(level)) l.write(level, message);
}

/// Formats errno the way nginx prints it: "(111: Connection refused)".
std::string errno_text(int err);

}  // namespace tg
