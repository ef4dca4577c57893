// Builds the directive tree from lexer statements and expands `include` in
// place, following nginx's ngx_conf_parse and ngx_conf_include.
#include <fcntl.h>
#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>
#include <vector>

#include "conf/ast.h"
#include "conf/directive_table.h"
#include "conf/lexer.h"

namespace tg::conf {
namespace {

// nginx has no limit and recurses until it runs out of descriptors; a
// self-including file should fail fast with a clear message instead.
constexpr int kMaxIncludeDepth = 64;

// nginx's "(2: No such file or directory)" suffix.
std::string errno_text(int err) {
  return " (" + std::to_string(err) + ": " + std::generic_category().message(err) + ")";
}

[[noreturn]] void fail_at(const std::string& message, const SourceLocation* where) {
  if (where != nullptr) throw ConfError(message, *where);
  throw ConfError(message);
}

// Closes a descriptor on every exit path.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Frees glob(3) results on every exit path.
class GlobResult {
 public:
  GlobResult() = default;
  GlobResult(const GlobResult&) = delete;
  GlobResult& operator=(const GlobResult&) = delete;
  ~GlobResult() { ::globfree(&result_); }
  glob_t* get() { return &result_; }
  std::size_t size() const { return result_.gl_pathc; }
  const char* operator[](std::size_t i) const { return result_.gl_pathv[i]; }

 private:
  glob_t result_{};
};

// Reads a whole file; errors name the directive that asked for it (nginx
// reports them "in" the including file, or bare for the main file).
std::string read_file(const std::string& path, const SourceLocation* included_from) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    fail_at("open() \"" + path + "\" failed" + errno_text(errno), included_from);
  }
  std::string text;
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::pread(fd.get(), buffer, sizeof buffer, static_cast<off_t>(text.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_at("pread() \"" + path + "\" failed" + errno_text(errno), included_from);
    }
    if (n == 0) return text;
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

class Parser {
 public:
  explicit Parser(const ParseOptions& options) : options_(options) {}

  // `ctx` is the context the file's directives are checked in as they are read,
  // or 0 for no checks (ParseOptions::check_directives).
  std::vector<Directive> parse_file(const std::string& path, const SourceLocation* included_from,
                                    int depth, unsigned ctx) {
    const std::string text = read_file(path, included_from);
    // nginx -T dumps each file once, in the order first read, even if included twice.
    if (std::find(files_.begin(), files_.end(), path) == files_.end()) files_.push_back(path);
    return parse_text(text, path, depth, ctx);
  }

  std::vector<std::string> take_files() { return std::move(files_); }

  std::vector<Directive> parse_text(std::string_view text, const std::string& name, int depth,
                                    unsigned ctx) {
    Lexer lexer(text, name);
    std::vector<Directive> tree;
    parse_level(lexer, tree, /*in_block=*/false, depth, ctx);
    return tree;
  }

  unsigned top_context() const { return options_.check_directives ? unsigned{kMain} : 0u; }

 private:
  // Reads directives up to the `}` closing the current block, or to the end of
  // the file at top level. A file must balance its own braces, as in nginx.
  void parse_level(Lexer& lexer, std::vector<Directive>& out, bool in_block, int depth,
                   unsigned ctx) {
    for (;;) {
      Statement st = lexer.next();
      if (st.end == StatementEnd::kEndOfInput) {
        if (in_block) {
          throw ConfError("unexpected end of file, expecting \"}\"",
                          SourceLocation{lexer.file(), lexer.line()});
        }
        return;
      }
      if (st.end == StatementEnd::kBlockEnd) {
        if (!in_block) throw ConfError("unexpected \"}\"", SourceLocation{lexer.file(), st.line});
        return;
      }

      Directive d;
      d.name = std::move(st.words.front());
      d.args.assign(std::make_move_iterator(st.words.begin() + 1),
                    std::make_move_iterator(st.words.end()));
      d.quoted.assign(st.quoted.begin() + 1, st.quoted.end());
      d.where = SourceLocation{lexer.file(), st.line};
      d.has_block = st.end == StatementEnd::kBlockStart;
      if (d.has_block && lexer.file() == kCommandLine) {
        throw ConfError("block directives are not supported in -g option", d.where);
      }

      if (d.name == "include") {
        include(d, out, depth, ctx);
        continue;
      }
      // nginx runs each directive's handler when its `;` or `{` is read, so its
      // table errors come before any error later in the file.
      if (ctx != 0) check_directive(d, static_cast<Context>(ctx));
      if (d.has_block) {
        const unsigned child = ctx != 0 ? block_context(d.name, static_cast<Context>(ctx)) : 0;
        parse_level(lexer, d.block, /*in_block=*/true, depth, child);
        d.block_end_line = lexer.line();  // the `}` was the last character read
      }
      out.push_back(std::move(d));
    }
  }

  // nginx `include file|mask;`: any context; relative to the conf prefix; a
  // mask (`*?[`) expands to its sorted matches and may match nothing.
  void include(const Directive& d, std::vector<Directive>& out, int depth, unsigned ctx) {
    if (d.has_block) throw ConfError("directive \"include\" is not terminated by \";\"", d.where);
    if (d.args.size() != 1) {
      throw ConfError("invalid number of arguments in \"include\" directive", d.where);
    }
    const std::string path = full_name(d.args[0]);
    if (depth + 1 > kMaxIncludeDepth) {
      throw ConfError("include of \"" + path + "\" is nested deeper than " +
                          std::to_string(kMaxIncludeDepth) + " levels",
                      d.where);
    }
    auto append = [&](const std::string& file) {
      std::vector<Directive> included = parse_file(file, &d.where, depth + 1, ctx);
      out.insert(out.end(), std::make_move_iterator(included.begin()),
                 std::make_move_iterator(included.end()));
    };

    if (path.find_first_of("*?[") == std::string::npos) {
      append(path);
      return;
    }
    GlobResult matches;
    errno = 0;
    const int rc = ::glob(path.c_str(), 0, nullptr, matches.get());
    if (rc == GLOB_NOMATCH) return;
    if (rc != 0) {
      const int err = errno != 0 ? errno : (rc == GLOB_NOSPACE ? ENOMEM : EIO);
      throw ConfError("glob() \"" + path + "\" failed" + errno_text(err), d.where);
    }
    for (std::size_t i = 0; i < matches.size(); ++i) append(matches[i]);
  }

  std::string full_name(const std::string& name) const {
    const std::string& prefix = options_.conf_prefix;
    if (name.starts_with('/') || prefix.empty()) return name;
    return prefix.ends_with('/') ? prefix + name : prefix + "/" + name;
  }

  const ParseOptions& options_;
  std::vector<std::string> files_;
};

void dump_level(const std::vector<Directive>& tree, int depth, std::string& out) {
  const std::string indent(static_cast<std::size_t>(depth) * 4, ' ');
  for (const Directive& d : tree) {
    out += indent;
    out += encode_word(d.name, false);
    for (std::size_t i = 0; i < d.args.size(); ++i) {
      out += ' ';
      out += encode_word(d.args[i], i < d.quoted.size() && d.quoted[i]);
    }
    if (!d.has_block) {
      out += ";\n";
      continue;
    }
    out += " {\n";
    dump_level(d.block, depth + 1, out);
    out += indent;
    out += "}\n";
  }
}

}  // namespace

std::vector<Directive> parse_file(const std::string& path, const ParseOptions& options) {
  Parser parser(options);
  return parser.parse_file(path, nullptr, 0, parser.top_context());
}

ParseResult parse_file_with_files(const std::string& path, const ParseOptions& options) {
  Parser parser(options);
  ParseResult result;
  result.tree = parser.parse_file(path, nullptr, 0, parser.top_context());
  result.files = parser.take_files();
  return result;
}

std::vector<Directive> parse_text(const std::string& text, const std::string& name,
                                  const ParseOptions& options) {
  Parser parser(options);
  return parser.parse_text(text, name, 0, parser.top_context());
}

std::string dump(const std::vector<Directive>& tree) {
  std::string out;
  dump_level(tree, 0, out);
  return out;
}

}  // namespace tg::conf
