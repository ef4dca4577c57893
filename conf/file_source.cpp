#include "conf/file_source.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "common/trusted_open.h"

namespace tg::conf {
namespace {

// nginx's "(2: No such file or directory)" suffix.
std::string errno_text(int err) {
  return " (" + std::to_string(err) + ": " + std::generic_category().message(err) + ")";
}

class DiskFiles : public FileSource {
 public:
  bool read(const std::string& path, std::string& text, std::string& error) override {
    // As root (the privileged helper reads the state file in a directory the
    // unprivileged user owns): no links of other users, only regular files, bounded.
    UniqueFd file = open_trusted(path, O_RDONLY, 0, error);
    if (!file) return false;
    struct stat st {};
    if (::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      error = "\"" + path + "\" is not a regular file";
      return false;
    }
    constexpr off_t kMaxFile = 64 << 20;
    if (st.st_size > kMaxFile) {
      error = "\"" + path + "\" is larger than 64M";
      return false;
    }
    const int fd = file.get();
    text.clear();
    char buffer[16384];
    for (;;) {
      const ssize_t n = ::pread(fd, buffer, sizeof buffer, static_cast<off_t>(text.size()));
      if (n < 0) {
        if (errno == EINTR) continue;
        error = "pread() \"" + path + "\" failed" + errno_text(errno);
        return false;
      }
      if (n == 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
      if (text.size() > static_cast<size_t>(kMaxFile)) {
        error = "\"" + path + "\" is larger than 64M";
        return false;
      }
    }
    return true;
  }

  bool glob(const std::string& pattern, std::vector<std::string>& matches,
            std::string& error) override {
    glob_t result{};
    errno = 0;
    const int rc = ::glob(pattern.c_str(), 0, nullptr, &result);
    matches.clear();
    if (rc == 0) {
      for (std::size_t i = 0; i < result.gl_pathc; ++i) matches.emplace_back(result.gl_pathv[i]);
    }
    const int err = errno != 0 ? errno : (rc == GLOB_NOSPACE ? ENOMEM : EIO);
    ::globfree(&result);
    if (rc != 0 && rc != GLOB_NOMATCH) {
      error = "glob() \"" + pattern + "\" failed" + errno_text(err);
      return false;
    }
    return true;
  }
};

}  // namespace

FileSource& disk_files() {
  static DiskFiles disk;
  return disk;
}

bool RecordingFiles::read(const std::string& path, std::string& text, std::string& error) {
  if (!disk_files().read(path, text, error)) return false;
  reads.emplace_back(path, text);
  return true;
}

bool RecordingFiles::glob(const std::string& pattern, std::vector<std::string>& matches,
                          std::string& error) {
  if (!disk_files().glob(pattern, matches, error)) return false;
  globs.emplace_back(pattern, matches);
  return true;
}

bool SnapshotFiles::read(const std::string& path, std::string& text, std::string& error) {
  for (const auto& [p, t] : reads_) {
    if (p == path) {
      text = t;
      return true;
    }
  }
  error = "open() \"" + path + "\" failed" + errno_text(ENOENT);
  return false;
}

bool SnapshotFiles::glob(const std::string& pattern, std::vector<std::string>& matches,
                         std::string& error) {
  for (const auto& [p, m] : globs_) {
    if (p == pattern) {
      matches = m;
      return true;
    }
  }
  error = "glob() \"" + pattern + "\" failed" + errno_text(ENOENT);
  return false;
}

}  // namespace tg::conf
