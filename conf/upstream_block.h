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

/// Builds the `upstream` block `ud` (already checked against the directive table).
/// Throws ConfError with nginx's message and line; nginx's [warn] messages
/// ("load balancing method redefined in file:line") are appended to `warnings`.
UpstreamConfig build_upstream(const Directive& ud, const CompileTemplate& compile,
                              std::vector<std::string>& warnings);

}  // namespace tg::conf
