// tidegate: process lifecycle as nginx's (command line, pid file, signals).
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "admin/admin_service.h"
#include "app/cli.h"
#include "app/conf_loading.h"
#include "app/privileged_helper.h"
#include "app/simulate_command.h"
#include "common/error_log.h"
#include "conf/config.h"
#include "health/checker.h"
#include "proxy/runtime.h"
#include "proxy/worker.h"
#include "scaling/autoscaler.h"

namespace {

using namespace tg;
namespace asio = boost::asio;

sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGHUP, SIGQUIT, SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGWINCH})
    sigaddset(&set, sig);
  return set;
}

void say(const std::string& line) {
  std::cerr << "tidegate: " << line << "\n";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int send_signal(const conf::Config& cfg, const std::string& name) {
  const std::string& path = cfg.main.pid_path;
  std::ifstream in(path);
  if (!in) {
    say("[error] open() \"" + path + "\" failed " + errno_text(errno));
    return 1;
  }
  long pid = 0;
  in >> pid;
  if (pid <= 0) {
    say("[error] invalid PID number \"\" in \"" + path + "\"");
    return 1;
  }
  int sig = name == "stop"     ? SIGTERM
            : name == "quit"   ? SIGQUIT
            : name == "reopen" ? SIGUSR1
                               : SIGHUP;
  if (::kill(static_cast<pid_t>(pid), sig) != 0) {
    say("[alert] kill(" + std::to_string(pid) + ", " + std::to_string(sig) + ") failed " +
        errno_text(errno));
    return 1;
  }
  return 0;
}

bool write_pid_file(const std::string& path) {
  if (path.empty()) return true;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    log(LogLevel::kEmerg, "open() \"" + path + "\" failed " + errno_text(errno));
    return false;
  }
  std::string text = std::to_string(::getpid()) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

/// The account to serve as: `user`'s, or nginx's default `nobody nogroup` when
/// started as root without one. None when not started as root, or when it is root.
struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

/// The account to serve as (none: stay as we are). False, with an [emerg] logged,
/// when the account does not exist: never serve as root by accident. The conf
/// builder already refused unknown names; this covers one deleted since.
bool account_to_drop_to(std::string user, std::optional<Account>& out) {
  out.reset();
  if (::geteuid() != 0) {
    if (!user.empty()) {
      log(LogLevel::kWarn,
          "the \"user\" directive makes sense only if the master process runs with "
          "super-user privileges, ignored");
    }
    return true;
  }
  if (user.empty()) user = "nobody nogroup";  // nginx's default (Debian's build)
  std::string name = user.substr(0, user.find(' '));
  std::string group = user.find(' ') == std::string::npos ? name : user.substr(user.find(' ') + 1);
  struct passwd* pw = ::getpwnam(name.c_str());
  if (!pw) {
    log(LogLevel::kEmerg, "getpwnam(\"" + name + "\") failed");
    return false;
  }
  struct group* gr = ::getgrnam(group.c_str());
  if (!gr) {
    log(LogLevel::kEmerg, "getgrnam(\"" + group + "\") failed");
    return false;
  }
  if (pw->pw_uid != 0) out = Account{name, pw->pw_uid, gr->gr_gid};
  return true;
}

bool drop_privileges(const Account& a) {
  if (::setgid(a.gid) != 0 || ::initgroups(a.name.c_str(), a.gid) != 0 || ::setuid(a.uid) != 0) {
    log(LogLevel::kEmerg, "setuid(" + std::to_string(a.uid) + ") failed " + errno_text(errno));
    return false;
  }
  return true;
}

bool daemonize() {
  pid_t pid = ::fork();
  if (pid < 0) {
    log(LogLevel::kEmerg, "fork() failed " + errno_text(errno));
    return false;
  }
  if (pid > 0) ::_exit(0);
  ::setsid();
  ::umask(0);
  int fd = ::open("/dev/null", O_RDWR);
  if (fd >= 0) {
    ::dup2(fd, STDIN_FILENO);
    ::dup2(fd, STDOUT_FILENO);
    if (fd > STDERR_FILENO) ::close(fd);
  }
  return true;
}

/// The groups with an `autoscale` block, for the autoscaler.
std::vector<scaling::Autoscaler::Group> autoscale_groups(const proxy::Runtime& runtime) {
  std::vector<scaling::Autoscaler::Group> out;
  const auto& ups = runtime.config->http.upstreams;
  for (size_t i = 0; i < ups.size() && i < runtime.groups.size(); ++i) {
    if (!ups[i].autoscale) continue;
    out.push_back({runtime.groups[i], *ups[i].autoscale, ups[i].autoscale_server});
  }
  return out;
}

/// The running server: workers plus the control thread's duties.
class Server {
 public:
  Server(app::CommandLine cli, std::shared_ptr<const conf::Config> cfg)
      : cli_(std::move(cli)), cfg_(std::move(cfg)) {}
  ~Server() { stop_signal_thread(); }

  int run() {
    const auto& m = cfg_->main;
    if (m.worker_rlimit_nofile > 0) {
      rlimit rl{static_cast<rlim_t>(m.worker_rlimit_nofile),
                static_cast<rlim_t>(m.worker_rlimit_nofile)};
      if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        log(LogLevel::kAlert, "setrlimit(RLIMIT_NOFILE, " + std::to_string(m.worker_rlimit_nofile) +
                                  ") failed " + errno_text(errno));
      }
    }
    std::shared_ptr<const proxy::Runtime> runtime;
    try {
      runtime = proxy::build_runtime(cfg_, static_cast<size_t>(m.worker_processes), nullptr, 1);
      std::vector<boost::asio::ip::tcp::endpoint> endpoints;
      for (const auto& g : runtime->listeners) endpoints.push_back(g.endpoint);
      auto sockets = proxy::bind_listeners(endpoints, static_cast<size_t>(m.worker_processes));
      for (int i = 0; i < m.worker_processes; ++i) {
        workers_.push_back(std::make_unique<proxy::Worker>(i + 1));
        workers_.back()->open_listeners(*runtime, sockets);
      }
    } catch (const std::exception& e) {
      log(LogLevel::kEmerg, e.what());
      if (!to_stderr_) say(std::string("[emerg] ") + e.what());
      return 1;
    }
    if (m.daemon) {
      if (!daemonize()) return 1;
      control_.notify_fork(asio::execution_context::fork_child);
      for (auto& w : workers_) w->context().notify_fork(asio::execution_context::fork_child);
    }
    // Every listener is bound: now the pid file may say we serve. Written
    // before privileges are dropped, as nginx's master does.
    if (!write_pid_file(m.pid_path)) return 1;
    std::optional<Account> account;
    if (!account_to_drop_to(m.user, account)) return 1;
    if (account) {
      // The helper keeps root for reloads and log reopens (privileged_helper.h);
      // forked now, while this process has no other thread.
      std::vector<std::string> logs = proxy::access_log_paths(*cfg_);
      if (const std::string e = ErrorLog::instance().path(); e != "stderr") logs.push_back(e);
      helper_ = app::PrivilegedHelper::start(load_options(), workers_.size(), std::move(logs),
                                             m.pid_path);
      if (!drop_privileges(*account)) return 1;
    }
    pid_path_ = m.pid_path;
    runtime_ = runtime;
    std::vector<const proxy::WorkerCounters*> counters;
    for (auto& w : workers_) counters.push_back(&w->counters());
    admin_.set_workers(std::move(counters));
    admin_.set_runtime(runtime, runtime->generation);
    admin_.start();
    checker_.configure(runtime->config, runtime->groups);
    admin_.set_autoscaler(&autoscaler_);
    try {
      autoscaler_.configure(autoscale_groups(*runtime));
    } catch (const std::exception& e) {
      log(LogLevel::kEmerg, e.what());
      return 1;
    }
    for (auto& w : workers_) {
      w->set_control(&admin_);
      // The last worker to finish ends the control loop; only this thread joins.
      w->set_on_stopped([this] {
        asio::post(control_, [this] {
          if (++stopped_workers_ == workers_.size()) control_.stop();
        });
      });
      w->start(runtime);
    }
    runtime.reset();  // runtime_ and the workers hold it (a reload must be able to retire it)
    log(LogLevel::kNotice, "tidegate/" TIDEGATE_VERSION " started with " +
                               std::to_string(m.worker_processes) + " worker thread(s)");
    wait_signals();
    control_.run();
    autoscaler_.stop();  // the `local` provider's processes end with us
    for (auto& w : workers_) w->join();
    stop_signal_thread();
    log(LogLevel::kNotice, "exit");
    if (helper_) {
      helper_.reset();  // it removes the pid file, which this process may no longer do
    } else if (!pid_path_.empty()) {
      ::unlink(pid_path_.c_str());
    }
    return 0;
  }

  void set_error_log_to_stderr(bool v) { to_stderr_ = v; }

 private:
  /// Signals are blocked in every thread and taken here with sigwaitinfo(), so
  /// the log can name the sender as nginx does ("received from 1234").
  void wait_signals() {
    signal_thread_ = std::thread([this] {
      sigset_t set = handled_signals();
      for (;;) {
        siginfo_t info{};
        int sig = ::sigwaitinfo(&set, &info);
        if (sig < 0) continue;
        if (signal_thread_done_.load()) return;  // woken by stop_signal_thread()
        asio::post(control_, [this, sig, from = info.si_pid] { on_signal(sig, from); });
      }
    });
  }

  /// Ends the signal thread before the objects it posts to go away.
  void stop_signal_thread() {
    if (!signal_thread_.joinable()) return;
    signal_thread_done_.store(true);
    ::pthread_kill(signal_thread_.native_handle(), SIGUSR2);  // blocked there: wakes sigwaitinfo
    signal_thread_.join();
  }

  void on_signal(int sig, pid_t from) {
    const std::string by = " received from " + std::to_string(from);
    {
      switch (sig) {
        case SIGHUP:
          log(LogLevel::kNotice, "signal 1 (SIGHUP)" + by + ", reconfiguring");
          reload();
          break;
        case SIGUSR1:
          log(LogLevel::kNotice, "signal 10 (SIGUSR1)" + by + ", reopening logs");
          reopen();
          break;
        case SIGQUIT:
          log(LogLevel::kNotice, "signal 3 (SIGQUIT)" + by + ", shutting down");
          graceful_stop();
          break;
        case SIGTERM:
        case SIGINT:
          log(LogLevel::kNotice, "signal " + std::to_string(sig) + " (" +
                                     (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ")" + by +
                                     ", exiting");
          fast_stop();
          return;
      }
    }
  }

  conf::LoadOptions load_options() const {
    return conf::LoadOptions{cli_.prefix, cli_.conf_file, cli_.directives};
  }

  void reopen() {
    std::vector<std::string> paths;
    const std::string error_log = ErrorLog::instance().path();
    if (error_log != "stderr") paths.push_back(error_log);
    for (const auto& [path, file] : runtime_->access_logs) paths.push_back(path);
    std::vector<std::string> errors;
    auto opened = helper_ ? helper_->reopen(paths, errors) : app::open_logs(paths, errors);
    for (auto& [path, fd] : opened) {
      if (path == error_log) ErrorLog::instance().replace(std::move(fd));
      auto it = runtime_->access_logs.find(path);
      if (it != runtime_->access_logs.end() && fd) it->second->replace(std::move(fd));
    }
    for (const auto& e : errors) log(LogLevel::kAlert, e);
  }

  void reload() {
    if (stopping_) return;  // a reload would restart what is being stopped
    std::shared_ptr<const proxy::Runtime> next;
    std::shared_ptr<proxy::NewListeners> sockets;
    try {
      // Everything the new conf needs is read, bound and opened before anything
      // is committed: a failure leaves the running configuration untouched.
      app::KeptResources kept;
      for (const auto& g : runtime_->listeners) kept.endpoints.push_back(g.endpoint);
      for (const auto& [path, file] : runtime_->access_logs) kept.logs.push_back(path);
      app::LoadedConf loaded = helper_ ? helper_->load(load_options(), kept)
                                       : app::load_and_open(load_options(), kept, workers_.size());
      const auto& cfg = loaded.config;
      if (cfg->main.worker_processes != cfg_->main.worker_processes) {
        log(LogLevel::kWarn, "changing worker_processes needs a restart; keeping " +
                                 std::to_string(cfg_->main.worker_processes));
      }
      next = proxy::build_runtime(cfg, workers_.size(), runtime_.get(), runtime_->generation + 1,
                                  &loaded.logs);
      sockets = std::make_shared<proxy::NewListeners>(std::move(loaded.listeners));
      for (const auto& w : cfg->warnings) log(LogLevel::kWarn, w);
      cfg_ = cfg;
    } catch (const std::exception& e) {
      log(LogLevel::kEmerg, e.what());
      return;  // keep serving the old configuration
    }
    runtime_->superseded = true;
    runtime_ = next;
    admin_.set_runtime(next, next->generation);
    checker_.configure(next->config, next->groups);
    try {
      autoscaler_.configure(autoscale_groups(*next));
    } catch (const std::exception& e) {
      log(LogLevel::kEmerg, e.what());
    }
    for (auto& w : workers_) w->reload(next, sockets);
  }

  void graceful_stop() {
    if (stopping_) return;
    stopping_ = true;
    checker_.stop();
    for (auto& w : workers_) w->quit();
    auto timeout = cfg_->main.worker_shutdown_timeout;
    if (timeout.count() > 0) {
      shutdown_timer_.expires_after(timeout);
      shutdown_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) fast_stop();
      });
    }
  }

  void fast_stop() {
    admin_.stop();
    checker_.stop();
    for (auto& w : workers_) w->stop();
    shutdown_timer_.cancel();
    control_.stop();
  }

  app::CommandLine cli_;
  std::unique_ptr<app::PrivilegedHelper> helper_;  ///< when privileges were dropped
  std::shared_ptr<const conf::Config> cfg_;
  std::shared_ptr<const proxy::Runtime> runtime_;
  std::vector<std::unique_ptr<proxy::Worker>> workers_;
  asio::io_context control_{1};
  asio::executor_work_guard<asio::io_context::executor_type> keep_running_{control_.get_executor()};
  asio::steady_timer shutdown_timer_{control_};
  admin::AdminService admin_{control_};
  health::Checker checker_{control_};
  scaling::Autoscaler autoscaler_{control_, admin_.metrics()};
  size_t stopped_workers_ = 0;
  std::thread signal_thread_;
  std::atomic<bool> signal_thread_done_{false};
  std::string pid_path_;
  bool stopping_ = false;
  bool to_stderr_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "simulate")
    return tg::app::run_simulate(argc - 1, argv + 1);
  app::CommandLine cli;
  std::string error;
  if (!app::parse_command_line(argc, argv, cli, error)) {
    say(error);
    return 1;
  }
  if (cli.version || cli.help) {
    std::cerr << "tidegate version: tidegate/" TIDEGATE_VERSION "\n";
    if (cli.version_full) {
      std::cerr << "built by g++ " __VERSION__ "\n"
                << "built with Boost.Asio, PCRE2, OpenSSL\n"
                << "configure arguments: --prefix=" << cli.prefix << "\n";
    }
    if (cli.help) std::cerr << app::usage_text();
    return 0;
  }
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t blocked = handled_signals();
  ::pthread_sigmask(SIG_BLOCK, &blocked, nullptr);  // every thread inherits this

  std::shared_ptr<const conf::Config> cfg;
  try {
    cfg = conf::load_config(conf::LoadOptions{cli.prefix, cli.conf_file, cli.directives});
  } catch (const std::exception& e) {
    say(std::string("[emerg] ") + e.what());
    if (!cli.error_log.empty() && cli.error_log != "stderr" &&
        ErrorLog::instance().open(cli.error_log, LogLevel::kEmerg).empty()) {
      log(LogLevel::kEmerg, e.what());  // nginx also writes it to the -e log
    }
    if (cli.test) say("configuration file " + cli.conf_file + " test failed");
    return 1;
  }
  // nginx prints load-time warnings ("load balancing method redefined") to stderr.
  for (const auto& w : cfg->warnings) say("[warn] " + w);
  if (cli.test) {
    if (!cli.quiet) {
      say("the configuration file " + cli.conf_file + " syntax is ok");
      say("configuration file " + cli.conf_file + " test is successful");
    }
    if (cli.dump) {
      // nginx's -T: every file read, in order, verbatim.
      std::vector<std::string> files = cfg->files;
      if (files.empty()) files.push_back(cli.conf_file);
      for (const auto& f : files) {
        std::cout << "# configuration file " << f << ":\n" << read_file(f) << "\n";
      }
    }
    return 0;
  }
  if (!cli.signal.empty()) return send_signal(*cfg, cli.signal);

  // From here on messages go to the error log (nginx's -e overrides the conf).
  std::string log_path = cli.error_log.empty() ? cfg->main.error_log_path : cli.error_log;
  if (auto err = ErrorLog::instance().open(log_path, cfg->main.error_log_level); !err.empty()) {
    say("[alert] could not open error log file: " + err);
  }
  ErrorLog::instance().set_level(cfg->main.error_log_level);
  Server server(cli, cfg);
  server.set_error_log_to_stderr(log_path == "stderr");
  return server.run();
}
