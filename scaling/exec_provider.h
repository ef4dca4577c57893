// The `exec` provider: an operator's executable does the work (cloud CLI, Ansible,
// a script), one run per call, so any platform fits without code in tidegate.
#pragma once

#include <memory>

#include "scaling/provider.h"

namespace tg::scaling {

/// `provider exec command=PATH [timeout=30s]`: each call runs PATH directly (no shell)
/// in its own process group, with stdin /dev/null:
///   `PATH list GROUP`, `PATH add GROUP N`, `PATH remove GROUP ID...`.
/// list and add print `{"instances":[{"id":"...","address":"host:port"},...]}` (or the
/// bare array, at most 4 MiB) on stdout; remove's stdout is ignored. Exit status 0 is
/// success; 2 means the request itself is wrong (bad arguments, unknown group) and is
/// not retried; any other status, a signal, unreadable output or a run past `timeout`
/// (the process group is then SIGKILLed) is a retryable error. Error messages name the
/// command, the reason and the first line of its stderr:
///   `exec provider: "/x/scale add app 2" exited with status 3: quota exceeded`.
/// shutdown() kills the runs in flight (their calls fail, not retryable); destroying the
/// provider kills them and drops callbacks not yet called. Throws std::invalid_argument
/// on a missing or unknown parameter.
std::unique_ptr<Provider> make_exec_provider(const ProviderSpec& spec,
                                             const ProviderContext& context);

}  // namespace tg::scaling
