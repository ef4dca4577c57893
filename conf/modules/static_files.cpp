// Static files (ngx_http_core_module's root and alias, the index, try_files,
// autoindex, headers and gzip_static modules' directives): where a location's files are and
// how they are answered.
#include "conf/directive_args.h"
#include "conf/modules/modules.h"

namespace tg::conf::modules {

bool static_files(const Directive& d, StaticFiles& s, bool& index_replaced,
                  const std::string& prefix,
                  const std::function<Template(const Directive&, const std::string&)>& compile) {
  const std::string& n = d.name;
  if (n == "root" || n == "alias") {
    std::string path = d.args[0];
    // nginx: a relative root is under the prefix (a path starting with a variable is
    // taken as it is).
    if (!path.starts_with('/') && !path.starts_with('$')) path = prefix + path;
    if (n == "root" && path.size() > 1 && path.ends_with('/')) path.pop_back();
    s.root = compile(d, path);
    s.alias = n == "alias";
  } else if (n == "index") {
    if (!index_replaced) {
      index_replaced = true;
      s.index.clear();
    }
    for (const auto& a : d.args) {
      if (a.empty()) fail(d, "index \"" + a + "\" in \"index\" directive is invalid");
      s.index.push_back(compile(d, a));
    }
  } else if (n == "try_files") {
    s.try_files.clear();
    for (const auto& a : d.args) s.try_files.push_back(compile(d, a));
    const std::string& last = d.args.back();
    if (last.starts_with('=')) {
      int code = 0;
      // nginx takes 0..999; a status that is no HTTP answer is refused here.
      if (!parse_int(last.substr(1), code) || code < 200 || code > 999) {
        fail(d, "invalid code \"" + last + "\"");
      }
    }
  } else if (n == "expires") {
    size_t i = 0;
    if (d.args[0] == "modified") ++i;  // from the file's time: not kept apart here
    if (i >= d.args.size()) fail(d, "invalid number of arguments in \"expires\" directive");
    const std::string& v = d.args[i];
    if (v == "off") {
      s.expires = StaticFiles::Expires::kOff;
    } else if (v == "epoch") {
      s.expires = StaticFiles::Expires::kEpoch;
    } else if (v == "max") {
      s.expires = StaticFiles::Expires::kMax;
    } else {
      std::string_view t = v;
      const bool negative = t.starts_with('-');
      if (negative || t.starts_with('+')) t.remove_prefix(1);
      if (t.starts_with('@')) fail(d, "\"expires @time\" is not supported yet");
      int64_t seconds = 0;
      if (!parse_nginx_time(t, true, seconds)) fail(d, "invalid value \"" + v + "\"");
      s.expires = StaticFiles::Expires::kTime;
      s.expires_seconds = negative ? -seconds : seconds;
    }
  } else if (n == "etag") {
    s.etag = d.args[0] == "on";
  } else if (n == "if_modified_since") {
    const std::string& v = d.args[0];
    if (v == "off") {
      s.if_modified_since = StaticFiles::IfModifiedSince::kOff;
    } else if (v == "exact") {
      s.if_modified_since = StaticFiles::IfModifiedSince::kExact;
    } else if (v == "before") {
      s.if_modified_since = StaticFiles::IfModifiedSince::kBefore;
    } else {
      fail(d, "invalid value \"" + v + "\"");
    }
  } else if (n == "disable_symlinks") {
    if (d.args[0] != "on" && d.args[0] != "off" && d.args[0] != "if_not_owner") {
      fail(d, "invalid value \"" + d.args[0] + "\"");
    }
    // if_not_owner is taken as on: stricter, never weaker.
    s.disable_symlinks = d.args[0] != "off";
  } else if (n == "autoindex") {
    s.autoindex = d.args[0] == "on";
  } else if (n == "autoindex_format") {
    const std::string& v = d.args[0];
    if (v != "html" && v != "json") fail(d, "autoindex_format \"" + v + "\" is not supported yet");
    s.autoindex_json = v == "json";
  } else if (n == "autoindex_exact_size") {
    s.autoindex_exact_size = d.args[0] == "on";
  } else if (n == "autoindex_localtime") {
    s.autoindex_localtime = d.args[0] == "on";
  } else if (n == "max_ranges") {
    s.max_ranges = int_arg(d, 0);
  } else if (n == "log_not_found") {
    s.log_not_found = d.args[0] == "on";
  } else if (n == "gzip_static") {
    const std::string& v = d.args[0];
    if (v != "on" && v != "off" && v != "always") fail(d, "invalid value \"" + v + "\"");
    s.gzip_static = v == "on"       ? StaticFiles::GzipStatic::kOn
                    : v == "always" ? StaticFiles::GzipStatic::kAlways
                                    : StaticFiles::GzipStatic::kOff;
  } else if (n == "gzip_vary") {
    s.gzip_vary = d.args[0] == "on";
  } else {
    return false;
  }
  return true;
}

}  // namespace tg::conf::modules
