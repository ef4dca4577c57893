// nginx's command line: -c -p -g -e -t -T -q -s -v -V -h.
#pragma once

#include <string>

namespace tg::app {

struct CommandLine {
  std::string prefix;         ///< -p (ends with '/')
  std::string conf_file;      ///< -c, resolved against the prefix
  std::string directives;     ///< -g
  std::string error_log;      ///< -e ("stderr" allowed)
  std::string signal;         ///< -s
  bool test = false;          ///< -t
  bool dump = false;          ///< -T
  bool quiet = false;         ///< -q
  bool version = false;       ///< -v
  bool version_full = false;  ///< -V
  bool help = false;          ///< -h / -?
};

/// Parses argv. Returns false and fills `error` with nginx's wording
/// ("invalid option: ...", "option "-c" requires file name") on bad input.
bool parse_command_line(int argc, char** argv, CommandLine& out, std::string& error);

std::string usage_text();

}  // namespace tg::app
