// Builds a Config from literal nginx text, as the proxy tests need one.
#pragma once

#include <memory>
#include <string>

#include "conf/ast.h"
#include "conf/config.h"

namespace tg::proxy::test {

/// Parses and builds `text` (a whole configuration, `http { ... }` included).
inline std::shared_ptr<const conf::Config> config_from(const std::string& text) {
  conf::LoadOptions options;
  options.prefix = "/tmp/tidegate-test/";
  options.conf_file = "/tmp/tidegate-test/conf/tidegate.conf";
  return conf::build_config(conf::parse_text(text, "test.conf", {}), options);
}

}  // namespace tg::proxy::test
