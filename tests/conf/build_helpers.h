// Helpers shared by the config-builder tests: build a conf from text.
#pragma once

#include <memory>
#include <string>

#include "conf/ast.h"
#include "conf/config.h"

namespace tg::conf::testing {

/// Prefix and conf path the texts are built with.
inline LoadOptions options() {
  LoadOptions o;
  o.prefix = "/pfx/";
  o.conf_file = "/pfx/conf/tidegate.conf";
  return o;
}

/// Builds `text` (file name "t.conf").
inline std::shared_ptr<const Config> build(const std::string& text) {
  return build_config(parse_text(text, "t.conf", {}), options());
}

/// The message of the ConfError building `text` throws ("" if none).
inline std::string build_error(const std::string& text) {
  try {
    build(text);
  } catch (const ConfError& e) {
    return e.what();
  }
  return "";
}

/// `body` placed on line 3 of `events {}\nhttp {\n<body>\n}`.
inline std::string in_http(const std::string& body) {
  return "events {}\nhttp {\n" + body + "\n}\n";
}

}  // namespace tg::conf::testing
