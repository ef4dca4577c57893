// The `local` provider: instances are child processes of tidegate on this host, one
// port each, stopped when tidegate stops (nginx's workers, but any program).
#pragma once

#include <memory>

#include "scaling/provider.h"

namespace tg::scaling {

/// `provider local command=CMD [host=127.0.0.1] [ports=A-B] [stop_timeout=5s]
/// [timeout=30s]`: each instance is `/bin/sh -c "exec CMD"` with `{port}` replaced by
/// its port and `{id}` by its id (`local-<pid>`, expanded by that shell from `$$`, so not
/// inside single quotes), in its own process group, stdin /dev/null, stdout and stderr
/// tidegate's. Instances are reported at `host:port` as soon as they start (health
/// checks decide when they serve); one that exits on its own is logged and forgotten.
/// Ports come from `ports=` (default: an ephemeral port the kernel picks) and are never
/// given to two live instances. remove() sends SIGTERM, SIGKILL after `stop_timeout`,
/// and completes when they are reaped, or fails after `timeout`. shutdown() stops every
/// child the same way; destroying the provider SIGKILLs what is left and drops callbacks
/// not yet called. Throws std::invalid_argument on a missing or unknown parameter.
std::unique_ptr<Provider> make_local_provider(const ProviderSpec& spec,
                                              const ProviderContext& context);

}  // namespace tg::scaling
