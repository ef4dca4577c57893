#include "common/trusted_open.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/error_log.h"

namespace tg {

UniqueFd open_trusted(const std::string& path, int flags, mode_t mode, std::string& error) {
  const int base = flags | O_CLOEXEC | O_NONBLOCK;
  UniqueFd fd(::open(path.c_str(), base | O_NOFOLLOW, mode));
  if (!fd && errno == ELOOP) {
    // The last component is a symbolic link. Its owner and its text are read
    // from one descriptor of the link itself, so the link cannot be swapped
    // between the check and the read.
    UniqueFd link(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (!link || ::fstat(link.get(), &st) != 0) {
      error = "open() \"" + path + "\" failed " + errno_text(errno);
      return {};
    }
    if (!S_ISLNK(st.st_mode)) {  // replaced by a file meanwhile: try again from the start
      return open_trusted(path, flags, mode, error);
    }
    if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
      error = "open() \"" + path + "\" failed: it is a symbolic link owned by uid " +
              std::to_string(st.st_uid) + ", which a process running as uid " +
              std::to_string(::geteuid()) + " does not follow";
      return {};
    }
    char text[PATH_MAX];
    const ssize_t n = ::readlinkat(link.get(), "", text, sizeof text);
    if (n <= 0 || static_cast<size_t>(n) >= sizeof text) {
      error = "readlink() \"" + path + "\" failed " + errno_text(n < 0 ? errno : ENAMETOOLONG);
      return {};
    }
    std::string target(text, static_cast<size_t>(n));
    if (target.front() != '/') {
      const size_t slash = path.rfind('/');
      if (slash != std::string::npos) target = path.substr(0, slash + 1) + target;
    }
    fd.reset(::open(target.c_str(), base, mode));  // the target was chosen by a trusted owner
  }
  if (!fd) {
    error = "open() \"" + path + "\" failed " + errno_text(errno);
    return {};
  }
  const int fl = ::fcntl(fd.get(), F_GETFL);
  if (fl >= 0) ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

}  // namespace tg
