// A child process owned by the control thread: spawned without inheriting tidegate's
// descriptors (listening sockets, the error log, pipes), watched through a pidfd on the
// io_context so its exit is an ordinary completion, and never left a zombie.
// Used by the `local` provider (its instances) and the `exec` provider (its calls).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace tg::scaling {

/// How a child ended: an exit status, or the signal that killed it.
struct ExitStatus {
  int code = 0;    ///< exit(2)'s status when signal is 0; -1 if another reaper took it
  int signal = 0;  ///< the terminating signal, 0 when the child exited
  bool success() const { return signal == 0 && code == 0; }
  /// "exited with status 3", "killed by signal 9 (SIGKILL)": for log lines and errors.
  std::string text() const;
};

/// How to start a child. Defaults: same process group, stdout and stderr inherited.
struct ChildOptions {
  /// A group of its own (pgid = pid): terminate() and kill() then reach what the child
  /// started too, and a terminal's Ctrl-C reaches tidegate alone, which stops it in order.
  bool own_group = false;
  bool capture_stdout = false;  ///< kept in captured_stdout() instead of inherited
  bool capture_stderr = false;  ///< kept in captured_stderr() instead of inherited
  /// Bytes kept of each captured stream (64 KiB); the rest is read and dropped, so a
  /// chatty child neither blocks on a full pipe nor grows tidegate's memory.
  std::size_t stdout_limit = 64 * 1024;
  std::size_t stderr_limit = 64 * 1024;
};

/// A running child. Destroying it kills the child (its group, with own_group) with
/// SIGKILL and reaps it. Its stdin is /dev/null, every descriptor above 2 is closed in
/// it, and signal dispositions are reset (tidegate ignores SIGPIPE; children must not).
/// Lives on one io_context and must be destroyed before that io_context.
class ChildProcess {
 public:
  /// Called once, on the io_context, after the child is reaped and its captured output
  /// read; never after the ChildProcess is destroyed (it may destroy it).
  using ExitHandler = std::function<void(const ExitStatus&)>;

  /// Starts argv[0] (a path; not searched in PATH) with argv and tidegate's environment.
  /// Throws std::system_error when it cannot be started (its message names argv[0]).
  ChildProcess(boost::asio::io_context& io, const std::vector<std::string>& argv,
               const ChildOptions& options, ExitHandler on_exit);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// The child's pid (also its pgid with own_group); stays set after it exits.
  pid_t pid() const;
  /// False once the child has been reaped.
  bool running() const;
  /// SIGTERM now, SIGKILL after `grace` if it has not exited. A second call does not
  /// extend the first's deadline: the earlier SIGKILL wins.
  void terminate(std::chrono::milliseconds grace);
  /// SIGKILL now; the exit handler still runs when the child is reaped.
  void kill();
  /// What the child printed, up to the limits (complete once the exit handler runs).
  const std::string& captured_stdout() const;
  const std::string& captured_stderr() const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with pending handlers, which outlive `this`
};

}  // namespace tg::scaling
