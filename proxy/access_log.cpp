#include "proxy/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "common/error_log.h"

namespace tg::proxy {

std::shared_ptr<AccessLogFile> AccessLogFile::open(const std::string& path, std::string& error) {
  UniqueFd fd = open_log_file(path, error);
  if (!fd) return nullptr;
  return adopt(path, std::move(fd));
}

std::shared_ptr<AccessLogFile> AccessLogFile::adopt(const std::string& path, UniqueFd fd) {
  auto f = std::make_shared<AccessLogFile>();
  f->path_ = path;
  f->fd_ = fd.release();
  return f;
}

AccessLogFile::~AccessLogFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AccessLogFile::replace(UniqueFd file) {
  const int fd = file.release();
  int old = fd_.load();
  if (old >= 0) {
    ::dup2(fd, old);  // same fd number: writers in other threads stay valid
    ::close(fd);
  } else {
    fd_.store(fd);
  }
}

void AccessLogFile::write(const std::string& data) const {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd_.load(std::memory_order_relaxed), data.data() + off, data.size() - off);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      log(LogLevel::kAlert, "write() to \"" + path_ + "\" failed " + errno_text(errno));
      return;
    }
    off += static_cast<size_t>(n);
  }
}

void AccessLogWriter::append(const std::shared_ptr<AccessLogFile>& file, std::string_view line,
                             size_t limit) {
  std::string& buf = buffers_[file];
  buf.append(line);
  buf.push_back('\n');
  if (buf.size() >= limit) {
    file->write(buf);
    buf.clear();
  }
}

void AccessLogWriter::flush() {
  for (auto& [file, buf] : buffers_) {
    if (!buf.empty()) file->write(buf);
  }
  buffers_.clear();  // releases files a reload dropped
}

}  // namespace tg::proxy
