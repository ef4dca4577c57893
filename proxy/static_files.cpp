// Static files, as nginx's try_files, index, autoindex, static, not_modified and
// range modules answer them: the URI mapped under `root` (or `alias`), GET and
// HEAD, conditional requests (304/412), byte ranges (206/416, multipart), and
// the body sent with sendfile(2) on plain connections (no copy through user
// space) or read in pieces and written through TLS.
#include <dirent.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/error_log.h"
#include "common/unique_fd.h"
#include "proxy/exchange.h"
#include "proxy/http_status.h"
#include "proxy/router.h"
#include "proxy/session.h"

namespace tg::proxy {

namespace asio = boost::asio;
using conf::StaticFiles;

namespace {

/// nginx's limit on internal redirects of one request.
constexpr int kMaxRedirects = 10;

std::string errno_words(int e) {
  return "(" + std::to_string(e) + ": " + std::strerror(e) + ")";
}

/// Opens `path` read-only without following a symlink in any component
/// (disable_symlinks on): each directory is opened with O_NOFOLLOW from the root.
UniqueFd open_without_symlinks(const std::string& path, int flags) {
  UniqueFd dir(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  size_t at = 1;
  while (dir) {
    const size_t slash = path.find('/', at);
    const std::string part = path.substr(at, slash == std::string::npos ? slash : slash - at);
    if (slash == std::string::npos || slash + 1 == path.size()) {
      if (part.empty()) return dir;  // the path names a directory ("/x/")
      return UniqueFd(::openat(dir.get(), part.c_str(), flags | O_NOFOLLOW));
    }
    if (!part.empty()) {
      dir = UniqueFd(
          ::openat(dir.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    }
    at = slash + 1;
  }
  return dir;
}

UniqueFd open_file(const std::string& path, bool no_symlinks) {
  const int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC;
  if (no_symlinks) return open_without_symlinks(path, flags);
  return UniqueFd(::open(path.c_str(), flags));
}

/// Whether `path` is a directory (`dir`) or something else that exists, looked up as
/// open_file would (without symlinks when `no_symlinks`).
bool exists(const std::string& path, bool no_symlinks, bool dir) {
  UniqueFd fd = open_file(path, no_symlinks);
  struct stat st;
  return fd && ::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode) == dir;
}

/// `"<mtime hex>-<size hex>"`, nginx's ETag.
std::string etag_of(const struct stat& st) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "\"%llx-%llx\"", static_cast<unsigned long long>(st.st_mtime),
                static_cast<unsigned long long>(st.st_size));
  return buf;
}

std::chrono::system_clock::time_point mtime_of(const struct stat& st) {
  return std::chrono::system_clock::from_time_t(st.st_mtime);
}

/// An HTTP date (RFC 1123, RFC 850 or asctime, as nginx's ngx_parse_http_time);
/// -1 when it is none.
time_t parse_http_date(std::string_view text) {
  std::string s(trim(text));
  struct tm tm {};
  for (const char* format :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    tm = {};
    const char* end = ::strptime(s.c_str(), format, &tm);
    if (end && *end == '\0') return ::timegm(&tm);
  }
  return -1;
}

/// nginx's ngx_http_test_if_match: is `etag` in the list (`*` matches any)? A weak
/// comparison for If-None-Match.
bool etag_listed(std::string_view list, std::string_view etag, bool weak) {
  list = trim(list);
  if (list == "*") return true;
  if (weak && etag.starts_with("W/")) etag.remove_prefix(2);
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view item = trim(list.substr(0, comma));
    if (weak && item.starts_with("W/")) item.remove_prefix(2);
    if (item == etag) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

struct ByteRange {
  int64_t first = 0;
  int64_t last = 0;  ///< inclusive
};

enum class RangeResult { kNone, kRanges, kUnsatisfiable };

/// nginx's ngx_http_range_parse: "bytes=a-b,c-,-n". Another unit is ignored (the
/// whole file goes out); a malformed or reversed range, or none within the file, is
/// unsatisfiable (416); ranges that add up to more than the file are ignored.
RangeResult parse_ranges(std::string_view header, int64_t size, int max_ranges,
                         std::vector<ByteRange>& out) {
  header = trim(header);
  if (!header.starts_with("bytes=")) return RangeResult::kNone;
  header.remove_prefix(6);
  int64_t total = 0;
  bool any_satisfiable = false;
  while (true) {
    header = trim(header);
    const size_t comma = header.find(',');
    std::string_view item = trim(header.substr(0, comma));
    const size_t dash = item.find('-');
    if (dash == std::string_view::npos) return RangeResult::kUnsatisfiable;
    auto number = [](std::string_view digits, int64_t& v) {
      if (digits.empty() || digits.size() > 18) return false;
      v = 0;
      for (char c : digits) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
      }
      return true;
    };
    int64_t first = 0, last = 0;
    const std::string_view a = trim(item.substr(0, dash)), b = trim(item.substr(dash + 1));
    bool empty = false;
    if (a.empty()) {
      if (!number(b, last)) return RangeResult::kUnsatisfiable;  // suffix: the last bytes
      empty = last == 0;
      first = size > last ? size - last : 0;
      last = size - 1;
    } else {
      if (!number(a, first)) return RangeResult::kUnsatisfiable;
      if (b.empty()) {
        last = size - 1;
      } else if (!number(b, last) || last < first) {
        return RangeResult::kUnsatisfiable;
      }
      if (last >= size) last = size - 1;
    }
    if (!empty && first < size && size > 0) {
      any_satisfiable = true;
      out.push_back(ByteRange{first, last});
      total += last - first + 1;
    }
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  if (!any_satisfiable) return RangeResult::kUnsatisfiable;
  if (total > size || (max_ranges >= 0 && static_cast<int>(out.size()) > max_ranges)) {
    out.clear();
    return RangeResult::kNone;
  }
  return RangeResult::kRanges;
}

/// Whether Accept-Encoding takes gzip: listed, and not with q=0.
bool accepts_gzip(std::string_view header) {
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view item = trim(header.substr(0, comma));
    const size_t semi = item.find(';');
    if (iequals(trim(item.substr(0, semi)), "gzip")) {
      if (semi == std::string_view::npos) return true;
      std::string_view q = trim(item.substr(semi + 1));
      if (!q.starts_with("q=")) return true;
      q.remove_prefix(2);
      return q.find_first_not_of("0.") != std::string_view::npos;  // not q=0, 0.0, 0.000
    }
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

/// ngx_http_headers_module's expires: Expires and Cache-Control lines.
void add_expires(const StaticFiles& f, std::string& out) {
  using E = StaticFiles::Expires;
  switch (f.expires) {
    case E::kOff:
      return;
    case E::kEpoch:
      out += "Expires: Thu, 01 Jan 1970 00:00:01 GMT\r\nCache-Control: no-cache\r\n";
      return;
    case E::kMax:
      out += "Expires: Thu, 31 Dec 2037 23:55:55 GMT\r\nCache-Control: max-age=315360000\r\n";
      return;
    case E::kTime:
      out += "Expires: ";
      out += http_date_text(std::chrono::system_clock::now() +
                            std::chrono::seconds(f.expires_seconds));
      out += "\r\n";
      if (f.expires_seconds < 0) {
        out += "Cache-Control: no-cache\r\n";
      } else {
        out += "Cache-Control: max-age=" + std::to_string(f.expires_seconds) + "\r\n";
      }
      return;
  }
}

}  // namespace

std::optional<std::string> ClientSession::file_path(const conf::Location* loc,
                                                    std::string_view uri) {
  auto& ctx = x_->ctx;
  const auto& f = settings().files;
  std::string path = expand(f.root, ctx);
  if (f.alias && loc) {
    // A regex location's alias is the whole path (its captures name the file).
    if (loc->match != conf::Location::Match::kRegex) {
      if (!uri.starts_with(loc->pattern)) return std::nullopt;
      path += uri.substr(loc->pattern.size());
    }
  } else {
    if (!uri.starts_with('/')) return std::nullopt;  // "-x" must not reach "root-x"
    path += uri;
  }
  // The URI was normalised (no dot segments), but an alias without its trailing
  // slash (`location /img { alias /data/img/; }` asked for /img../x) or variables
  // could still climb out: refused, never served (nginx serves it).
  if (path.find('\0') != std::string::npos || path.find("/../") != std::string::npos ||
      path.ends_with("/..") || !path.starts_with('/')) {
    return std::nullopt;
  }
  return path;
}

Task<void> ClientSession::serve_files(const conf::Location* loc, int redirects) {
  auto& x = *x_;
  auto& ctx = x.ctx;
  const auto& s = settings();
  const auto& f = s.files;
  co_await discard_unread_body();  // an answer from files reads no body
  if (redirects > kMaxRedirects) {
    log(LogLevel::kError, "*" + std::to_string(info_.id) +
                              " rewrite or internal redirection cycle while internally "
                              "redirecting to \"" +
                              ctx.uri + "\"" + describe_request());
    co_await respond_error(500, redirects);
    co_return;
  }
  // ---- try_files: the first that exists, else the last as a fallback ----
  if (!f.try_files.empty()) {
    bool found = false;
    for (size_t i = 0; i + 1 < f.try_files.size() && !found; ++i) {
      // As nginx: an argument written with a trailing slash tests for a directory,
      // and the URI it sets has no slash (a directory URI without one is then
      // redirected to it).
      const bool want_dir = f.try_files[i].source().ends_with('/');
      std::string candidate = expand(f.try_files[i], ctx);
      if (want_dir && candidate.size() > 1 && candidate.ends_with('/')) candidate.pop_back();
      auto path = file_path(loc, candidate);
      if (!path || !exists(*path, f.disable_symlinks, want_dir)) continue;
      ctx.uri = std::move(candidate);
      found = true;
    }
    if (!found) {
      const conf::Template& fallback = f.try_files.back();
      std::string last = expand(fallback, ctx);
      // `=code` is a status only when written so (the conf checked it), never a
      // variable's value.
      if (fallback.is_literal() && last.starts_with('=')) {
        co_await respond_error(std::atoi(last.c_str() + 1), redirects);
        co_return;
      }
      if (!last.starts_with('/') && !last.starts_with('@')) {
        log(LogLevel::kError, "*" + std::to_string(info_.id) + " try_files fallback \"" + last +
                                  "\" is not a URI" + describe_request());
        co_await respond_error(500, redirects);
        co_return;
      }
      const conf::Location* next = nullptr;
      if (last.starts_with('@')) {
        next = find_named_location(*ctx.server, last);
      } else {
        const size_t q = last.find('?');
        if (q != std::string::npos) {
          x.error_page_target = last.substr(q + 1);  // keeps $args' text alive
          ctx.args = x.error_page_target;
          last.resize(q);
        }
        ctx.uri = std::move(last);
        ctx.capture_subject = ctx.uri;
        ctx.captures.spans.clear();
        next = find_location(*ctx.server, ctx.uri, &ctx.captures);
      }
      co_await run_location(next, redirects + 1);
      co_return;
    }
  }
  // nginx refuses other methods at once, POST only once the file is found (an
  // error_page's file is fetched as GET, whatever the method).
  if (ctx.method != "GET" && ctx.method != "HEAD" && ctx.method != "POST" && !x.error_page_get) {
    co_await respond_error(405, redirects);
    co_return;
  }
  // ---- a directory: index files, else autoindex, else 403 ----
  if (ctx.uri.ends_with('/')) {
    // The index file is looked for in the directory the URI maps to (a regex
    // alias maps it whole), as nginx's index module does.
    const auto dir_of_uri = file_path(loc, ctx.uri);
    for (const auto& index : f.index) {
      std::string name = expand(index, ctx);
      std::string target = name.starts_with('/') ? name : ctx.uri + name;
      if (!name.starts_with('/')) {
        if (!dir_of_uri || name.find('/') != std::string::npos ||
            !exists(*dir_of_uri + name, f.disable_symlinks, false)) {
          continue;
        }
      }
      // nginx: an internal redirect to the index file's URI (locations match anew).
      ctx.uri = std::move(target);
      ctx.capture_subject = ctx.uri;
      ctx.captures.spans.clear();
      co_await run_location(find_location(*ctx.server, ctx.uri, &ctx.captures), redirects + 1);
      co_return;
    }
    auto dir = file_path(loc, ctx.uri);
    if (!dir || !exists(*dir, f.disable_symlinks, true)) {
      if (dir && f.log_not_found) {
        log(LogLevel::kError, "*" + std::to_string(info_.id) + " \"" + *dir +
                                  (f.index.empty() ? "" : expand(f.index.front(), ctx)) +
                                  "\" is not found " + errno_words(ENOENT) + describe_request());
      }
      co_await respond_error(404, redirects);
      co_return;
    }
    if (f.autoindex) {
      co_await serve_autoindex(*dir, redirects);
      co_return;
    }
    log(LogLevel::kError, "*" + std::to_string(info_.id) + " directory index of \"" + *dir +
                              "\" is forbidden" + describe_request());
    co_await respond_error(403, redirects);
    co_return;
  }
  // ---- a file ----
  auto path = file_path(loc, ctx.uri);
  if (!path) {
    co_await respond_error(404, redirects);
    co_return;
  }
  // gzip_static: the precompressed file, when there is one and the client takes it.
  bool gzipped = false;
  UniqueFd fd;
  if (f.gzip_static == StaticFiles::GzipStatic::kAlways ||
      (f.gzip_static == StaticFiles::GzipStatic::kOn &&
       accepts_gzip(ctx.header("accept-encoding")))) {
    fd = open_file(*path + ".gz", f.disable_symlinks);
    struct stat gz;
    gzipped = fd && ::fstat(fd.get(), &gz) == 0 && S_ISREG(gz.st_mode);
    if (!gzipped) fd.reset();
  }
  if (!fd) fd = open_file(*path, f.disable_symlinks);
  if (!fd) {
    const int e = errno;
    const int status = e == ENOENT || e == ENOTDIR || e == ENAMETOOLONG ? 404
                       : e == EACCES || e == ELOOP || e == EPERM        ? 403
                                                                        : 500;
    if (status != 404 || f.log_not_found) {
      log(status == 500 ? LogLevel::kCrit : LogLevel::kError,
          "*" + std::to_string(info_.id) + " open() \"" + *path + "\" failed " + errno_words(e) +
              describe_request());
    }
    co_await respond_error(status, redirects);
    co_return;
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    co_await respond_error(500, redirects);
    co_return;
  }
  if (S_ISDIR(st.st_mode)) {
    // nginx: 301 to the directory's URI with a slash (and the arguments).
    co_await redirect_with_slash(redirects);
    co_return;
  }
  if (!S_ISREG(st.st_mode)) {
    co_await respond_error(404, redirects);
    co_return;
  }
  if (ctx.method == "POST" && !x.error_page_get) {
    co_await respond_error(405, redirects);
    co_return;
  }
  co_await send_file(std::move(fd), st, *path, redirects, gzipped);
}

Task<void> ClientSession::send_file(UniqueFd fd, const struct stat& st, const std::string& path,
                                    int redirects, bool gzipped) {
  auto& x = *x_;
  auto& ctx = x.ctx;
  const auto& s = settings();
  const auto& f = s.files;
  const int64_t size = st.st_size;
  const std::string etag = f.etag ? etag_of(st) : std::string();
  const time_t mtime = st.st_mtime;
  // An error_page's file keeps the error's status: no conditionals, no ranges, and
  // (as nginx) no Last-Modified or Accept-Ranges.
  const int forced = x.forced_status;

  // ---- conditional requests (nginx's not_modified filter) ----
  const std::string_view if_unmodified = ctx.header("if-unmodified-since");
  const std::string_view if_match = ctx.header("if-match");
  const time_t unmodified_since = parse_http_date(if_unmodified);
  const bool unmodified_fails =
      !if_unmodified.empty() && unmodified_since != -1 && mtime > unmodified_since;
  const bool match_fails =
      !if_match.empty() && !etag.empty() && !etag_listed(if_match, etag, false);
  if (!forced && (unmodified_fails || match_fails)) {
    co_await respond_error(412, redirects);
    co_return;
  }
  const std::string_view ims = ctx.header("if-modified-since");
  const std::string_view inm = ctx.header("if-none-match");
  bool not_modified = false;
  const bool ims_used = !ims.empty() && f.if_modified_since != StaticFiles::IfModifiedSince::kOff;
  if (!forced && (ims_used || (!inm.empty() && !etag.empty()))) {
    not_modified = true;
    if (!ims.empty() && f.if_modified_since != StaticFiles::IfModifiedSince::kOff) {
      const time_t since = parse_http_date(ims);
      const bool modified =
          since == -1 ||
          (f.if_modified_since == StaticFiles::IfModifiedSince::kExact ? since != mtime
                                                                       : mtime > since);
      if (modified) not_modified = false;
    }
    if (not_modified && !inm.empty() && (etag.empty() || !etag_listed(inm, etag, true))) {
      not_modified = false;
    }
  }

  // ---- ranges ----
  std::vector<ByteRange> ranges;
  RangeResult range_result = RangeResult::kNone;
  const std::string_view range = ctx.header("range");
  if (!forced && !not_modified && !range.empty() && f.max_ranges != 0) {
    const std::string_view if_range = trim(ctx.header("if-range"));
    bool range_ok = true;
    if (!if_range.empty()) {
      range_ok = if_range.starts_with('"') ? if_range == etag : parse_http_date(if_range) == mtime;
    }
    if (range_ok) range_result = parse_ranges(range, size, f.max_ranges, ranges);
  }

  // ---- the head ----
  std::string type;
  {
    const size_t slash = path.rfind('/');
    const size_t dot = path.rfind('.');
    if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
      std::string ext = path.substr(dot + 1);
      for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const auto& types = ctx.config->http.types;
      if (auto it = types.find(ext); it != types.end()) type = it->second;
    }
    if (type.empty()) type = s.default_type;
    type += charset_suffix(type, s.charset, s.charset_types);
  }
  const int status = forced                                        ? forced
                     : not_modified                                ? 304
                     : range_result == RangeResult::kUnsatisfiable ? 416
                     : range_result == RangeResult::kRanges        ? 206
                                                                   : 200;
  if (status == 416) {
    // nginx's 416: its error page, with the size the ranges missed.
    x.answer_text = "Content-Range: bytes */" + std::to_string(size) + "\r\n";
    co_await respond(416, {}, {}, {}, redirects, x.answer_text);
    co_return;
  }
  begin_response_head(status, reason_phrase(status));
  auto& out = x.out;
  static constexpr std::string_view kBoundary = "00000000000000000001";
  auto content_range = [size](const ByteRange& r) {
    return "Content-Range: bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/" +
           std::to_string(size) + "\r\n";
  };
  // multipart/byteranges: each part's head, and the closing boundary, made once for
  // both the Content-Length and the writes.
  std::vector<std::string> part_heads;
  const std::string multipart_end = "\r\n--" + std::string(kBoundary) + "--\r\n";
  int64_t body_length = size;
  if (status != 304) {
    if (status == 206 && ranges.size() > 1) {
      out += "Content-Type: multipart/byteranges; boundary=";
      out += kBoundary;
      out += "\r\n";
      body_length = static_cast<int64_t>(multipart_end.size());
      for (const auto& r : ranges) {
        part_heads.push_back("\r\n--" + std::string(kBoundary) + "\r\nContent-Type: " + type +
                             "\r\n" + content_range(r) + "\r\n");
        body_length += static_cast<int64_t>(part_heads.back().size()) + (r.last - r.first + 1);
      }
    } else {
      out += "Content-Type: " + type + "\r\n";
      if (status == 206) {
        out += content_range(ranges[0]);
        body_length = ranges[0].last - ranges[0].first + 1;
      }
    }
    out += "Content-Length: " + std::to_string(body_length) + "\r\n";
  }
  if (!forced) {
    out += "Last-Modified: ";
    out += http_date_text(mtime_of(st));
    out += "\r\n";
  }
  if (!etag.empty()) out += "ETag: " + etag + "\r\n";
  if (gzipped) out += "Content-Encoding: gzip\r\n";
  if (gzipped && f.gzip_vary) out += "Vary: Accept-Encoding\r\n";
  if (status == 200 && f.max_ranges != 0) out += "Accept-Ranges: bytes\r\n";
  add_expires(f, out);
  finish_response_head(true);
  const bool head_only = ctx.method == "HEAD" || status == 304;
  if (!co_await write_client(out)) co_return;
  ctx.bytes_sent += out.size();
  if (head_only) co_return;

  // ---- the body ----
  if (!part_heads.empty()) {
    for (size_t i = 0; i < ranges.size(); ++i) {
      const auto& r = ranges[i];
      if (!co_await write_client(part_heads[i]) ||
          !co_await send_file_range(fd.get(), r.first, r.last - r.first + 1)) {
        co_return;
      }
      ctx.bytes_sent += part_heads[i].size();
    }
    if (co_await write_client(multipart_end)) ctx.bytes_sent += multipart_end.size();
    ctx.body_bytes_sent = ctx.bytes_sent - out.size();
    co_return;
  }
  const int64_t first = status == 206 ? ranges[0].first : 0;
  co_await send_file_range(fd.get(), first, body_length);
  ctx.body_bytes_sent = ctx.bytes_sent - out.size();
}

Task<bool> ClientSession::send_file_range(int fd, int64_t offset, int64_t length) {
  auto& ctx = x_->ctx;
  const auto& s = settings();
  if (!client_.tls()) {
    // sendfile(2): the kernel copies from the page cache to the socket.
    off_t at = offset;
    int64_t left = length;
    Socket& socket = client_.socket();
    while (left > 0) {
      const ssize_t n = ::sendfile(socket.native_handle(), fd, &at,
                                   static_cast<size_t>(std::min<int64_t>(left, 1 << 30)));
      if (n > 0) {
        left -= n;
        ctx.bytes_sent += static_cast<uint64_t>(n);
        continue;
      }
      if (n == 0) break;  // the file got shorter
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        keep_alive_ = false;
        co_return false;
      }
      arm(s.send_timeout);
      auto [ec] = co_await socket.async_wait(Socket::wait_write, kTuple);
      disarm();
      if (ec) {
        client_write_failed();
        co_return false;
      }
    }
    if (left > 0) {
      keep_alive_ = false;  // fewer bytes than the Content-Length promised
      co_return false;
    }
    co_return true;
  }
  // TLS: read a piece, write it (OpenSSL encrypts from user space).
  PooledBuffer buffer;
  int64_t at = offset;
  int64_t left = length;
  while (left > 0) {
    const ssize_t n =
        ::pread(fd, buffer.get(), static_cast<size_t>(std::min<int64_t>(left, kIoBuffer)), at);
    if (n <= 0) {
      keep_alive_ = false;
      co_return false;
    }
    if (!co_await write_client(std::string_view(buffer.get(), static_cast<size_t>(n)))) {
      co_return false;
    }
    ctx.bytes_sent += static_cast<uint64_t>(n);
    at += n;
    left -= n;
  }
  co_return true;
}

Task<void> ClientSession::serve_autoindex(const std::string& dir_path, int redirects) {
  auto& x = *x_;
  auto& ctx = x.ctx;
  const auto& f = settings().files;
  struct Entry {
    std::string name;
    bool dir;
    time_t mtime;
    int64_t size;
  };
  std::vector<Entry> entries;
  // disable_symlinks: the directory is opened without following a symlink on the
  // way, and its entries are looked at as they are (a symlink is not listed).
  UniqueFd dir_fd = f.disable_symlinks
                        ? open_without_symlinks(dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                        : UniqueFd(::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  DIR* dir = dir_fd ? ::fdopendir(dir_fd.get()) : nullptr;
  if (!dir) {
    const int e = errno;
    log(LogLevel::kError, "*" + std::to_string(info_.id) + " opendir() \"" + dir_path +
                              "\" failed " + errno_words(e) + describe_request());
    co_await respond_error(e == ENOENT || e == ENOTDIR ? 404 : 403, redirects);
    co_return;
  }
  dir_fd.release();  // closedir closes it
  while (struct dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;  // nginx lists no hidden entries
    struct stat st;
    const int flags = f.disable_symlinks ? AT_SYMLINK_NOFOLLOW : 0;
    if (::fstatat(::dirfd(dir), e->d_name, &st, flags) != 0) continue;
    if (S_ISLNK(st.st_mode)) continue;
    entries.push_back(Entry{e->d_name, S_ISDIR(st.st_mode), st.st_mtime, st.st_size});
  }
  ::closedir(dir);
  // Directories first, then by name (nginx's ngx_http_autoindex_cmp_entries).
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.dir != b.dir) return a.dir;
    return a.name < b.name;
  });
  std::string body;
  if (f.autoindex_json) {
    body = "[\r\n";
    for (size_t i = 0; i < entries.size(); ++i) {
      const auto& e = entries[i];
      body += "{ \"name\":\"";
      for (unsigned char c : e.name) {
        if (c < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          body += escaped;
          continue;
        }
        if (c == '"' || c == '\\') body += '\\';
        body += static_cast<char>(c);
      }
      body += "\", \"type\":\"";
      body += e.dir ? "directory" : "file";
      body += "\", \"mtime\":\"";
      body += http_date_text(std::chrono::system_clock::from_time_t(e.mtime));
      body += "\"";
      if (!e.dir) body += ", \"size\":" + std::to_string(e.size);
      body += " }";
      if (i + 1 < entries.size()) body += ",\r\n";
    }
    body += "\r\n]";
    co_await respond(200, body, "application/json", {}, redirects);
    co_return;
  }
  std::string title;
  for (char c : ctx.uri) {
    if (c == '<')
      title += "&lt;";
    else if (c == '>')
      title += "&gt;";
    else if (c == '&')
      title += "&amp;";
    else if (c == '"')
      title += "&quot;";
    else
      title += c;
  }
  body = "<html>\r\n<head><title>Index of " + title + "</title></head>\r\n<body>\r\n<h1>Index of " +
         title + "</h1><hr><pre><a href=\"../\">../</a>\r\n";
  for (const auto& e : entries) {
    std::string href;
    for (unsigned char c : e.name) {
      // nginx's NGX_ESCAPE_HTML: what would end the attribute or change the URI.
      if (c <= 0x20 || c >= 0x7f || std::strchr("\"#%&'<>?", c)) {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%%%02X", c);
        href += hex;
      } else {
        href += static_cast<char>(c);
      }
    }
    if (e.dir) href += '/';
    std::string shown = e.name + (e.dir ? "/" : "");
    // Names longer than 50 columns are cut to 47 and "..>".
    size_t columns = shown.size();
    if (columns > 50) {
      shown = shown.substr(0, 47) + "..>";
      columns = 50;
    }
    std::string escaped;
    for (char c : shown) {
      if (c == '<')
        escaped += "&lt;";
      else if (c == '>')
        escaped += "&gt;";
      else if (c == '&')
        escaped += "&amp;";
      else if (c == '"')
        escaped += "&quot;";
      else
        escaped += c;
    }
    body += "<a href=\"" + href + "\">" + escaped + "</a>";
    body.append(50 - columns + 1, ' ');
    struct tm tm;
    if (f.autoindex_localtime) {
      ::localtime_r(&e.mtime, &tm);
    } else {
      ::gmtime_r(&e.mtime, &tm);
    }
    char date[32];
    std::strftime(date, sizeof date, "%d-%b-%Y %H:%M", &tm);
    body += date;
    char size[32];
    if (e.dir) {
      std::snprintf(size, sizeof size, "%20s", "-");
    } else if (f.autoindex_exact_size) {
      std::snprintf(size, sizeof size, "%20lld", static_cast<long long>(e.size));
    } else {
      // nginx's human sizes: K, M, G with one decimal below 10.
      double v = static_cast<double>(e.size);
      const char* unit = "";
      for (const char* u : {"K", "M", "G", "T"}) {
        if (v < 1024) break;
        v /= 1024;
        unit = u;
      }
      std::snprintf(size, sizeof size, "%19.0f%s", v, unit);
      if (!*unit) std::snprintf(size, sizeof size, "%20lld", static_cast<long long>(e.size));
    }
    body += size;
    body += "\r\n";
  }
  body += "</pre><hr></body>\r\n</html>\r\n";
  co_await respond(200, body, "text/html", {}, redirects);
}

}  // namespace tg::proxy
