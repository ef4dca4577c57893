#include "app/privileged_helper.h"

#include <dirent.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <fstream>
#include <set>
#include <stdexcept>

#include "app/fd_channel.h"
#include "common/error_log.h"
#include "conf/file_source.h"
#include "proxy/runtime.h"

namespace tg::app {
namespace {

using boost::asio::ip::tcp;

enum Request : uint32_t { kReload = 1, kReopen = 2 };

/// Closes every descriptor the helper inherited but `keep` (listening sockets,
/// event loops): it must not hold the server's ports or files open.
void close_inherited(const std::set<int>& keep) {
  std::vector<int> open;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(dir)) {
      if (e->d_name[0] == '.') continue;
      open.push_back(std::atoi(e->d_name));
    }
    ::closedir(dir);
  }
  for (int fd : open) {
    if (fd > 2 && !keep.count(fd)) ::close(fd);
  }
}

std::string serve_reload(WireReader& in, const conf::LoadOptions& options, size_t workers,
                         std::set<std::string>& allowed_logs, std::vector<int>& fds,
                         std::vector<UniqueFd>& owned) {
  KeptResources kept;
  for (uint32_t n = in.u32(); in.ok() && n > 0; --n) {
    std::string address = in.str();
    uint32_t port = in.u32();
    boost::system::error_code ec;
    auto a = boost::asio::ip::make_address(address, ec);
    if (!ec) kept.endpoints.emplace_back(a, static_cast<uint16_t>(port));
  }
  for (uint32_t n = in.u32(); in.ok() && n > 0; --n) kept.logs.push_back(in.str());
  WireWriter out;
  if (!in.ok()) {
    out.u32(1);
    out.str("malformed request to the privileged helper");
    return out.bytes();
  }
  conf::RecordingFiles files;
  conf::LoadOptions recorded = options;
  recorded.files = &files;
  LoadedConf loaded;
  try {
    loaded = load_and_open(recorded, kept, workers);
  } catch (const std::exception& e) {
    out.u32(1);
    out.str(e.what());
    return out.bytes();
  }
  for (const auto& path : proxy::access_log_paths(*loaded.config)) allowed_logs.insert(path);
  out.u32(0);
  out.u32(static_cast<uint32_t>(files.reads.size()));
  for (const auto& [path, text] : files.reads) {
    out.str(path);
    out.str(text);
  }
  out.u32(static_cast<uint32_t>(files.globs.size()));
  for (const auto& [pattern, matches] : files.globs) {
    out.str(pattern);
    out.u32(static_cast<uint32_t>(matches.size()));
    for (const auto& m : matches) out.str(m);
  }
  out.u32(static_cast<uint32_t>(loaded.logs.size()));
  for (auto& [path, fd] : loaded.logs) {
    out.str(path);
    fds.push_back(fd.get());
    owned.push_back(std::move(fd));
  }
  out.u32(static_cast<uint32_t>(loaded.listeners.sockets.size()));
  for (auto& [endpoint, sockets] : loaded.listeners.sockets) {
    out.str(endpoint.address().to_string());
    out.u32(endpoint.port());
    out.u32(static_cast<uint32_t>(sockets.size()));
    for (auto& s : sockets) {
      fds.push_back(s.get());
      owned.push_back(std::move(s));
    }
  }
  return out.bytes();
}

std::string serve_reopen(WireReader& in, const std::set<std::string>& allowed_logs,
                         std::vector<int>& fds, std::vector<UniqueFd>& owned) {
  std::vector<std::string> paths;
  std::vector<std::string> errors;
  for (uint32_t n = in.u32(); in.ok() && n > 0; --n) {
    std::string path = in.str();
    if (allowed_logs.count(path)) {
      paths.push_back(std::move(path));
    } else {
      errors.push_back("\"" + path + "\" is not a log file of the configuration");
    }
  }
  auto opened = open_logs(paths, errors);
  WireWriter out;
  out.u32(static_cast<uint32_t>(opened.size()));
  for (auto& [path, fd] : opened) {
    out.str(path);
    fds.push_back(fd.get());
    owned.push_back(std::move(fd));
  }
  out.u32(static_cast<uint32_t>(errors.size()));
  for (const auto& e : errors) out.str(e);
  return out.bytes();
}

/// The helper's life: answer requests until the server goes away.
[[noreturn]] void serve(int socket, const conf::LoadOptions& options, size_t workers,
                        std::set<std::string> allowed_logs, const std::string& pid_path,
                        pid_t server) {
  ::prctl(PR_SET_NAME, "tidegate-priv", 0, 0, 0);
  std::string payload;
  std::vector<UniqueFd> received;
  // Requests are a few paths and addresses; they never carry descriptors. A
  // request beyond that ends the helper (the server then has no helper, and
  // reloads fail loudly) rather than root reading whatever it is sent.
  constexpr MessageLimits kRequestLimits{1u << 20, 0};
  while (receive_message(socket, payload, received, kRequestLimits)) {
    WireReader in(payload);
    std::vector<int> fds;
    std::vector<UniqueFd> owned;  // closed here once sent
    std::string reply;
    switch (in.u32()) {
      case kReload:
        reply = serve_reload(in, options, workers, allowed_logs, fds, owned);
        break;
      case kReopen:
        reply = serve_reopen(in, allowed_logs, fds, owned);
        break;
      default:
        ::_exit(1);
    }
    if (!send_message(socket, reply, fds)) break;
  }
  // The server is gone: remove its pid file as nginx's master does, unless a
  // new instance has written its own since.
  if (!pid_path.empty()) {
    std::ifstream in(pid_path);
    long pid = 0;
    if (in >> pid && pid == server) ::unlink(pid_path.c_str());
  }
  ::_exit(0);
}

}  // namespace

std::unique_ptr<PrivilegedHelper> PrivilegedHelper::start(const conf::LoadOptions& options,
                                                          size_t workers,
                                                          std::vector<std::string> log_paths,
                                                          std::string pid_path) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    log(LogLevel::kAlert, "socketpair() failed " + errno_text(errno));
    return nullptr;
  }
  const pid_t server = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    log(LogLevel::kAlert, "fork() failed " + errno_text(errno));
    ::close(pair[0]);
    ::close(pair[1]);
    return nullptr;
  }
  if (pid == 0) {
    ::close(pair[0]);
    // Keep only the socket and the error log (the helper logs its own failures).
    close_inherited({pair[1], ErrorLog::instance().fd()});
    serve(pair[1], options, workers, std::set<std::string>(log_paths.begin(), log_paths.end()),
          pid_path, server);
  }
  ::close(pair[1]);
  return std::unique_ptr<PrivilegedHelper>(new PrivilegedHelper(UniqueFd(pair[0]), pid));
}

PrivilegedHelper::~PrivilegedHelper() {
  socket_.reset();  // the helper sees the end of input and exits
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

LoadedConf PrivilegedHelper::load(const conf::LoadOptions& options, const KeptResources& kept) {
  WireWriter request;
  request.u32(kReload);
  request.u32(static_cast<uint32_t>(kept.endpoints.size()));
  for (const auto& ep : kept.endpoints) {
    request.str(ep.address().to_string());
    request.u32(ep.port());
  }
  request.u32(static_cast<uint32_t>(kept.logs.size()));
  for (const auto& path : kept.logs) request.str(path);
  std::string payload;
  std::vector<UniqueFd> fds;
  if (!send_message(socket_.get(), request.bytes(), {}) ||
      !receive_message(socket_.get(), payload, fds)) {
    throw std::runtime_error("the privileged helper process (" + std::to_string(pid_) +
                             ") does not answer");
  }
  WireReader in(payload);
  if (in.u32() != 0) throw std::runtime_error(in.str());
  std::vector<std::pair<std::string, std::string>> reads;
  for (uint32_t n = in.u32(); in.ok() && n > 0; --n) {
    std::string path = in.str();
    reads.emplace_back(std::move(path), in.str());
  }
  std::vector<std::pair<std::string, std::vector<std::string>>> globs;
  for (uint32_t n = in.u32(); in.ok() && n > 0; --n) {
    std::string pattern = in.str();
    std::vector<std::string> matches;
    for (uint32_t m = in.u32(); in.ok() && m > 0; --m) matches.push_back(in.str());
    globs.emplace_back(std::move(pattern), std::move(matches));
  }
  LoadedConf out;
  size_t next_fd = 0;
  auto take_fd = [&]() { return next_fd < fds.size() ? std::move(fds[next_fd++]) : UniqueFd(); };
  for (uint32_t n = in.u32(); in.ok() && n > 0; --n) {
    std::string path = in.str();
    out.logs.emplace(std::move(path), take_fd());
  }
  for (uint32_t n = in.u32(); in.ok() && n > 0; --n) {
    std::string address = in.str();
    const uint32_t port = in.u32();
    std::vector<UniqueFd> sockets;
    for (uint32_t k = in.u32(); in.ok() && k > 0; --k) sockets.push_back(take_fd());
    out.listeners.sockets.emplace_back(
        tcp::endpoint(boost::asio::ip::make_address(address), static_cast<uint16_t>(port)),
        std::move(sockets));
  }
  if (!in.ok() || next_fd != fds.size()) {
    throw std::runtime_error("malformed answer from the privileged helper");
  }
  conf::SnapshotFiles snapshot(std::move(reads), std::move(globs));
  conf::LoadOptions from_snapshot = options;
  from_snapshot.files = &snapshot;
  out.config = conf::load_config(from_snapshot);
  return out;
}

std::map<std::string, UniqueFd> PrivilegedHelper::reopen(const std::vector<std::string>& paths,
                                                         std::vector<std::string>& errors) {
  WireWriter request;
  request.u32(kReopen);
  request.u32(static_cast<uint32_t>(paths.size()));
  for (const auto& p : paths) request.str(p);
  std::string payload;
  std::vector<UniqueFd> fds;
  std::map<std::string, UniqueFd> out;
  if (!send_message(socket_.get(), request.bytes(), {}) ||
      !receive_message(socket_.get(), payload, fds)) {
    errors.push_back("the privileged helper process (" + std::to_string(pid_) +
                     ") does not answer");
    return out;
  }
  WireReader in(payload);
  size_t next_fd = 0;
  for (uint32_t n = in.u32(); in.ok() && n > 0 && next_fd < fds.size(); --n) {
    std::string path = in.str();
    out.emplace(std::move(path), std::move(fds[next_fd++]));
  }
  for (uint32_t n = in.u32(); in.ok() && n > 0; --n) errors.push_back(in.str());
  return out;
}

}  // namespace tg::app
