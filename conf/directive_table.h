// The directives tidegate knows, where each may appear and how many arguments
// it takes: nginx's ngx_command_t table, and the checks ngx_conf_handler makes
// with it before any directive is interpreted.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "conf/ast.h"

namespace tg::conf {

/// Where a directive may appear (nginx's NGX_MAIN_CONF, NGX_HTTP_SRV_CONF, ...).
enum Context : unsigned {
  kMain = 1,
  kEvents = 2,
  kHttp = 4,
  kServer = 8,
  kLocation = 16,
  kUpstream = 32,
  kIf = 64,
  kAutoscale = 128,  ///< tidegate's `autoscale` block in an upstream
};

/// Accepted argument counts and block shape (nginx's NGX_CONF_TAKE1, ...);
/// kTakeN is bit N, so `arity & (1u << args.size())` tests an exact count.
enum Arity : unsigned {
  kNoArgs = 1,
  kTake1 = 2,
  kTake2 = 4,
  kTake3 = 8,
  kTake4 = 16,
  kTake5 = 32,
  kTake6 = 64,
  kTake7 = 128,
  k1More = 256,
  k2More = 512,
  kFlag = 1024,  ///< exactly one argument, `on` or `off`
  kBlock = 2048,
  kAnyArgs = 4096,
};

/// One row of the table. A name may have several rows for different contexts
/// (`server` is a block in http and a one-line directive in upstream).
struct DirectiveSpec {
  std::string_view name;
  unsigned contexts;      ///< Context bits
  unsigned arity;         ///< Arity bits
  bool noop;              ///< accepted for compatibility, has no effect in tidegate
  std::string_view note;  ///< a few words for the README compatibility table
};

/// Every row, in table order (grouped by the context that owns the directive).
std::span<const DirectiveSpec> directive_specs();

/// The row for `name` in context `ctx`, or nullptr when none applies there.
const DirectiveSpec* find_directive(std::string_view name, Context ctx);

/// The context a block directive opens when written in `parent`, or nothing
/// (0) when its contents are key/value lists that must not be validated
/// (`map`, `types`, `split_clients`, `geo`, `match`).
unsigned block_context(std::string_view name, Context parent);

/// The checks for one directive written in `ctx` (not its block): unknown name,
/// wrong context, block shape, argument count, on/off. Throws ConfError.
void check_directive(const Directive& d, Context ctx);

/// Checks a parsed tree (main context at top level) as nginx does before
/// interpreting it: unknown directives, wrong context, block shape, argument
/// count and on/off flags. Throws ConfError naming the directive's file:line.
void validate(const std::vector<Directive>& tree);

}  // namespace tg::conf
