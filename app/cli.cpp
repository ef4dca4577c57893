#include "app/cli.h"

#include <unistd.h>

#ifndef TIDEGATE_PREFIX
#define TIDEGATE_PREFIX "/usr/local/tidegate/"
#endif

namespace tg::app {

bool parse_command_line(int argc, char** argv, CommandLine& out, std::string& error) {
  for (int i = 1; i < argc; ++i) {
    const char* p = argv[i];
    if (*p++ != '-') {
      error = std::string("invalid option: \"") + argv[i] + "\"";
      return false;
    }
    while (*p) {
      char opt = *p++;
      auto value = [&](const char* what, std::string& dest) {
        if (*p) {
          dest = p;
        } else if (i + 1 < argc) {
          dest = argv[++i];
        } else {
          error = std::string("option \"-") + opt + "\" requires " + what;
          return false;
        }
        p = "";
        return true;
      };
      switch (opt) {
        case '?':
        case 'h':
          out.help = true;
          break;
        case 'v':
          out.version = true;
          break;
        case 'V':
          out.version = out.version_full = true;
          break;
        case 't':
          out.test = true;
          break;
        case 'T':
          out.test = out.dump = true;
          break;
        case 'q':
          out.quiet = true;
          break;
        case 'p':
          if (!value("directory name", out.prefix)) return false;
          break;
        case 'c':
          if (!value("file name", out.conf_file)) return false;
          break;
        case 'e':
          if (!value("file name", out.error_log)) return false;
          break;
        case 'g':
          if (!value("parameters", out.directives)) return false;
          break;
        case 's':
          if (!value("parameter", out.signal)) return false;
          if (out.signal != "stop" && out.signal != "quit" && out.signal != "reopen" &&
              out.signal != "reload") {
            error = "invalid option: \"-s " + out.signal + "\"";
            return false;
          }
          break;
        default:
          error = std::string("invalid option: \"") + opt + "\"";
          return false;
      }
    }
  }
  if (out.prefix.empty()) out.prefix = TIDEGATE_PREFIX;
  if (out.prefix[0] != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof cwd)) out.prefix = std::string(cwd) + "/" + out.prefix;
  }
  if (out.prefix.back() != '/') out.prefix += '/';
  if (out.conf_file.empty()) out.conf_file = "conf/tidegate.conf";
  if (out.conf_file[0] != '/') out.conf_file = out.prefix + out.conf_file;
  if (!out.error_log.empty() && out.error_log != "stderr" && out.error_log[0] != '/') {
    out.error_log = out.prefix + out.error_log;
  }
  return true;
}

std::string usage_text() {
  return "Usage: tidegate [-?hvVtTq] [-s signal] [-p prefix]\n"
         "             [-e filename] [-c filename] [-g directives]\n"
         "       tidegate simulate -c filename --trace load.csv [--out dir] (simulate -h)\n\n"
         "Options:\n"
         "  -?,-h         : this help\n"
         "  -v            : show version and exit\n"
         "  -V            : show version and configure options then exit\n"
         "  -t            : test configuration and exit\n"
         "  -T            : test configuration, dump it and exit\n"
         "  -q            : suppress non-error messages during configuration testing\n"
         "  -s signal     : send signal to a master process: stop, quit, reopen, reload\n"
         "  -p prefix     : set prefix path (default: " TIDEGATE_PREFIX
         ")\n"
         "  -e filename   : set error log file (default: logs/error.log)\n"
         "  -c filename   : set configuration file (default: conf/tidegate.conf)\n"
         "  -g directives : set global directives out of configuration file\n\n";
}

}  // namespace tg::app
