// Access logs: files opened by the control thread, written by workers through a
// per-worker buffer (nginx's `buffer=`; flushed when full and once a second).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "common/unique_fd.h"

namespace tg::proxy {

/// An open access log file shared by all workers (O_APPEND, so whole-buffer
/// writes from different workers do not interleave within a line).
class AccessLogFile {
 public:
  /// Opens `path`; returns nullptr and fills `error` on failure.
  static std::shared_ptr<AccessLogFile> open(const std::string& path, std::string& error);
  /// Wraps a descriptor opened elsewhere (by the privileged helper).
  static std::shared_ptr<AccessLogFile> adopt(const std::string& path, UniqueFd fd);
  ~AccessLogFile();
  /// Writes to `fd` from now on (SIGUSR1: the path was re-opened); the old
  /// descriptor number stays valid for writers in other threads.
  void replace(UniqueFd fd);
  void write(const std::string& data) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::atomic<int> fd_{-1};
};

/// One worker's buffers, one per file.
class AccessLogWriter {
 public:
  ~AccessLogWriter() { flush(); }
  /// Appends one line (with '\n'); writes the buffer out when it passes `limit`.
  /// The buffer keeps the file alive until it is flushed (a reload may drop it).
  void append(const std::shared_ptr<AccessLogFile>& file, std::string_view line, size_t limit);
  void flush();

 private:
  std::map<std::shared_ptr<AccessLogFile>, std::string> buffers_;
};

}  // namespace tg::proxy
