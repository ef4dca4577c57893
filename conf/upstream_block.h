// Builds one `upstream { ... }` block into an UpstreamConfig: its server lines, the
// balancing method directives, sticky, keepalive and drain_timeout.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "conf/ast.h"
#include "conf/config.h"
#include "conf/template.h"

namespace tg::conf {

/// Compiles an argument of directive `d` with the configuration's variable engine (the
/// builder's, so that unknown variables are reported once the http block is read, as nginx).
using CompileTemplate = std::function<Template(const Directive& d, const std::string& text)>;

/// Reads the `state` file `path` (absolute): its text, or "" when it does not exist
/// yet. Throws ConfError (naming `d`) for any other failure.
using ReadStateFile = std::function<std::string(const Directive& d, const std::string& path)>;

/// Builds the `upstream` block `ud` (already checked against the directive table).
/// Throws ConfError with nginx's message and line; nginx's [warn] messages
/// ("load balancing method redefined in file:line") are appended to `warnings`.
UpstreamConfig build_upstream(const Directive& ud, const CompileTemplate& compile,
                              const ReadStateFile& read_state, const std::string& prefix,
                              std::vector<std::string>& warnings);

}  // namespace tg::conf
