// An owned file descriptor, closed when its owner goes.
#pragma once

#include <unistd.h>

#include <string>
#include <utility>

namespace tg {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  /// Gives up ownership.
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

/// Opens a log file as nginx does (append, create with mode 0644), following a
/// symbolic link only when root or this process's user owns it (open_trusted). On failure
/// returns an empty UniqueFd and nginx's words in `error`:
/// `open() "/x/error.log" failed (13: Permission denied)`.
UniqueFd open_log_file(const std::string& path, std::string& error);

}  // namespace tg
