// The privileged helper: a small process that keeps the privileges tidegate
// started with (root) after the serving process drops them (`user`), so that
// reload and log reopen keep working as in nginx, whose master stays root.
//
// It never takes a path or an address from the serving process: on "reload"
// it reads the conf files named on the command line itself (as nginx's master
// does), binds the conf's new listen addresses (ports below 1024 too) and
// opens its new access logs, and sends back the files' contents and the
// descriptors. On "reopen" it re-opens log files, but only paths that a conf
// it loaded names. The serving process parses the same bytes root read. A
// serving process taken over by an attacker can make the helper reload the
// conf root owns, and nothing else.
//
// The helper is forked before privileges are dropped and before any thread
// starts; it exits when the serving process closes its end of the socket (and
// then removes the pid file, which the unprivileged server may not).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "app/conf_loading.h"
#include "common/unique_fd.h"

namespace tg::app {

class PrivilegedHelper {
 public:
  /// Forks the helper. `options` say where the conf is (-p -c -g), `workers`
  /// how many sockets to bind per address, `log_paths` the logs it may reopen
  /// before any reload (the error log and the access logs of the first conf).
  /// Returns nullptr (and logs why) when the fork fails.
  static std::unique_ptr<PrivilegedHelper> start(const conf::LoadOptions& options, size_t workers,
                                                 std::vector<std::string> log_paths,
                                                 std::string pid_path);
  ~PrivilegedHelper();
  PrivilegedHelper(const PrivilegedHelper&) = delete;
  PrivilegedHelper& operator=(const PrivilegedHelper&) = delete;

  /// Has the helper read the conf and open what it needs; parses the same
  /// bytes here. Throws std::exception with the [emerg] text.
  LoadedConf load(const conf::LoadOptions& options, const KeptResources& kept);

  /// Has the helper re-open `paths` (those a loaded conf names); failures go to
  /// `errors` in nginx's words.
  std::map<std::string, UniqueFd> reopen(const std::vector<std::string>& paths,
                                         std::vector<std::string>& errors);

  /// The helper's process id.
  pid_t pid() const { return pid_; }

 private:
  PrivilegedHelper(UniqueFd socket, pid_t pid) : socket_(std::move(socket)), pid_(pid) {}
  UniqueFd socket_;
  pid_t pid_;
};

}  // namespace tg::app
