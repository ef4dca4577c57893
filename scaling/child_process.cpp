#include "scaling/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/unique_fd.h"

extern char** environ;

namespace tg::scaling {

namespace asio = boost::asio;

namespace {

// How long a destructor waits for a SIGKILLed child to be reapable before leaving it
// to the io_context: only a child stuck in the kernel (D state) takes this long.
constexpr int kKillWaitMs = 1000;
constexpr std::size_t kReadChunk = 16 * 1024;

// Raw syscalls: glibc 2.36's <sys/pidfd.h> lacks extern "C", so its wrappers do not link
// from C++.
int open_pidfd(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

int signal_pidfd(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

std::system_error spawn_error(int err, const std::string& what, const std::string& path) {
  return std::system_error(err, std::generic_category(), what + " \"" + path + "\" failed");
}

// A CLOEXEC pipe whose ends are above 2, so dup2 onto stdout/stderr in the child cannot
// clobber the other end when tidegate runs with a standard descriptor closed.
void open_pipe(UniqueFd& read_end, UniqueFd& write_end, const std::string& path) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw spawn_error(errno, "pipe2() for", path);
  for (int i = 0; i < 2; ++i) {
    if (fds[i] > 2) continue;
    const int moved = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
    ::close(fds[i]);
    fds[i] = moved;
  }
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  if (!read_end || !write_end) throw spawn_error(errno, "pipe2() for", path);
  ::fcntl(read_end.get(), F_SETFL, O_NONBLOCK);
}

// RAII for posix_spawn's two C structures.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

std::string ExitStatus::text() const {
  if (signal == 0 && code < 0) return "exited (status unknown: reaped elsewhere)";
  if (signal == 0) return "exited with status " + std::to_string(code);
  const char* name = ::sigabbrev_np(signal);
  return "killed by signal " + std::to_string(signal) +
         (name ? " (SIG" + std::string(name) + ")" : "");
}

struct ChildProcess::State {
  struct Capture {
    explicit Capture(asio::io_context& io) : pipe(io) {}
    asio::posix::stream_descriptor pipe;
    std::string text;
    std::size_t limit = 0;
  };

  explicit State(asio::io_context& io) : pidfd(io), out(io), err(io), kill_timer(io) {}

  pid_t pid = -1;
  bool own_group = false;
  bool reaped = false;
  bool kill_armed = false;
  asio::posix::stream_descriptor pidfd;
  Capture out, err;
  asio::steady_timer kill_timer;
  ExitHandler on_exit;

  // Only before the reap: until then the pid (and pgid) cannot name another process.
  void send(int sig) {
    if (reaped) return;
    if (own_group && ::kill(-pid, sig) == 0) return;
    signal_pidfd(pidfd.native_handle(), sig);
  }

  // True once the child is gone: reaped now, or by someone else (SIGCHLD set to SIG_IGN
  // reaps children in the kernel), which leaves the status unknown.
  bool try_reap(ExitStatus& status) {
    siginfo_t info{};
    while (::waitid(P_PIDFD, static_cast<id_t>(pidfd.native_handle()), &info, WEXITED | WNOHANG) !=
           0) {
      if (errno == EINTR) continue;
      status.code = -1;
      reaped = true;
      return true;
    }
    if (info.si_pid == 0) return false;  // still running
    reaped = true;
    if (info.si_code == CLD_EXITED) {
      status.code = info.si_status;
    } else {
      status.signal = info.si_status;
    }
    return true;
  }

  enum class Read { kData, kWouldBlock, kEnd };

  // Keeps at most `c.limit` bytes in all; the rest is read and dropped.
  Read read_into(Capture& c) {
    char buf[kReadChunk];
    const ssize_t n = ::read(c.pipe.native_handle(), buf, sizeof buf);
    if (n < 0) return errno == EAGAIN || errno == EINTR ? Read::kWouldBlock : Read::kEnd;
    if (n == 0) return Read::kEnd;
    const std::size_t room = c.limit - std::min(c.limit, c.text.size());
    c.text.append(buf, std::min(static_cast<std::size_t>(n), room));
    return Read::kData;
  }

  static void watch_output(const std::shared_ptr<State>& self, Capture& c) {
    c.pipe.async_wait(asio::posix::descriptor_base::wait_read,
                      [self, &c](const boost::system::error_code& ec) {
                        if (ec || !c.pipe.is_open()) return;
                        if (self->read_into(c) != Read::kEnd) {
                          watch_output(self, c);
                        } else {
                          boost::system::error_code ignored;
                          c.pipe.close(ignored);
                        }
                      });
  }

  // What the child wrote before it exited is in the pipe now; a grandchild that kept the
  // pipe open must not hold the exit back, so no waiting for end of file.
  void drain(Capture& c) {
    if (!c.pipe.is_open()) return;
    // Bounded: a grandchild writing without end cannot keep the exit from completing.
    for (std::size_t reads = c.limit / kReadChunk + 4; reads > 0; --reads) {
      if (read_into(c) != Read::kData) break;
    }
    boost::system::error_code ignored;
    c.pipe.close(ignored);
  }

  static void watch_exit(const std::shared_ptr<State>& self) {
    self->pidfd.async_wait(asio::posix::descriptor_base::wait_read,
                           [self](const boost::system::error_code& ec) {
                             if (ec || self->reaped) return;
                             ExitStatus status;
                             if (self->try_reap(status)) {
                               self->finish(status);
                             } else {
                               watch_exit(self);  // woken before the exit: wait again
                             }
                           });
  }

  void finish(const ExitStatus& status) {
    drain(out);
    drain(err);
    kill_timer.cancel();
    // Moved out first: the handler may destroy the ChildProcess, which clears on_exit.
    ExitHandler handler = std::move(on_exit);
    on_exit = nullptr;
    if (handler) handler(status);
  }
};

ChildProcess::ChildProcess(asio::io_context& io, const std::vector<std::string>& argv,
                           const ChildOptions& options, ExitHandler on_exit)
    : state_(std::make_shared<State>(io)) {
  if (argv.empty()) throw std::invalid_argument("ChildProcess needs a program");
  const std::string& path = argv.front();
  State& s = *state_;
  s.own_group = options.own_group;
  s.out.limit = options.stdout_limit;
  s.err.limit = options.stderr_limit;
  s.on_exit = std::move(on_exit);

  UniqueFd out_read, out_write, err_read, err_write;
  if (options.capture_stdout) open_pipe(out_read, out_write, path);
  if (options.capture_stderr) open_pipe(err_read, err_write, path);

  SpawnSetup setup;
  // The pipes first (their ends are above 2), then stdin, then everything else goes:
  // listening sockets and the error log's file must not outlive tidegate in a child.
  if (out_write) ::posix_spawn_file_actions_adddup2(&setup.actions, out_write.get(), 1);
  if (err_write) ::posix_spawn_file_actions_adddup2(&setup.actions, err_write.get(), 2);
  ::posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  ::posix_spawnattr_setsigmask(&setup.attr, &none);
  ::posix_spawnattr_setsigdefault(&setup.attr, &all);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (options.own_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    ::posix_spawnattr_setpgroup(&setup.attr, 0);
  }
  ::posix_spawnattr_setflags(&setup.attr, flags);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  if (const int rc =
          ::posix_spawn(&s.pid, path.c_str(), &setup.actions, &setup.attr, args.data(), environ);
      rc != 0) {
    throw spawn_error(rc, "posix_spawn()", path);
  }

  // Watching it cannot fail in practice (a kernel before 5.3 has no pidfd); if it does,
  // the child must not outlive the error, and only here is a blocking reap acceptable.
  try {
    UniqueFd pidfd(open_pidfd(s.pid));
    if (!pidfd) throw spawn_error(errno, "pidfd_open() for", path);
    s.pidfd.assign(pidfd.get());
    pidfd.release();
    if (out_read) s.out.pipe.assign(out_read.release());
    if (err_read) s.err.pipe.assign(err_read.release());
  } catch (...) {
    ::kill(s.pid, SIGKILL);
    while (::waitpid(s.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw;
  }
  State::watch_exit(state_);
  if (s.out.pipe.is_open()) State::watch_output(state_, s.out);
  if (s.err.pipe.is_open()) State::watch_output(state_, s.err);
}

ChildProcess::~ChildProcess() {
  State& s = *state_;
  s.on_exit = nullptr;
  s.kill_timer.cancel();
  boost::system::error_code ignored;
  s.out.pipe.close(ignored);
  s.err.pipe.close(ignored);
  if (s.reaped || !s.pidfd.is_open()) return;
  s.send(SIGKILL);
  ExitStatus status;
  pollfd p{s.pidfd.native_handle(), POLLIN, 0};
  while (::poll(&p, 1, kKillWaitMs) < 0 && errno == EINTR) {
  }
  if (s.try_reap(status)) {
    s.pidfd.close(ignored);
    return;
  }
  // Still dying: the pending exit watch (which holds the state) reaps it, on_exit unset.
}

pid_t ChildProcess::pid() const {
  return state_->pid;
}

bool ChildProcess::running() const {
  return !state_->reaped;
}

void ChildProcess::terminate(std::chrono::milliseconds grace) {
  State& s = *state_;
  if (s.reaped) return;
  s.send(SIGTERM);
  if (s.kill_armed && s.kill_timer.expiry() <= asio::steady_timer::clock_type::now() + grace) {
    return;
  }
  s.kill_armed = true;
  s.kill_timer.expires_after(grace);
  s.kill_timer.async_wait(
      [weak = std::weak_ptr<State>(state_)](const boost::system::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self) return;
        self->send(SIGKILL);
      });
}

void ChildProcess::kill() {
  state_->send(SIGKILL);
}

const std::string& ChildProcess::captured_stdout() const {
  return state_->out.text;
}

const std::string& ChildProcess::captured_stderr() const {
  return state_->err.text;
}

}  // namespace tg::scaling
