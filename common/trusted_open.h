// Opening files named by a conf in a process that may be root (the serving
// process before it drops privileges, the privileged helper after): a symbolic
// link as the last component of the path is followed only when it belongs to
// root or to the process's own user. Otherwise the unprivileged `user`, which
// owns the log or state directory, could point logs/error.log at
// /root/.ssh/authorized_keys and have root open it for writing (the attack on
// Debian's nginx log directory, CVE-2016-1247). FIFOs with no reader do not
// block the opener: the open is non-blocking and the descriptor blocking after.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/unique_fd.h"

namespace tg {

/// open(2) with `flags` (O_CLOEXEC added) under the rule above. On failure
/// returns an empty UniqueFd and nginx's words in `error`:
/// `open() "/x/error.log" failed (13: Permission denied)`.
UniqueFd open_trusted(const std::string& path, int flags, mode_t mode, std::string& error);

}  // namespace tg
