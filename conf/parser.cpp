// Builds the directive tree from lexer statements and expands `include` in
// place, following nginx's ngx_conf_parse and ngx_conf_include.
#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>
#include <vector>

#include "conf/ast.h"
#include "conf/directive_table.h"
#include "conf/file_source.h"
#include "conf/lexer.h"

namespace tg::conf {
namespace {

// nginx has no limit and recurses until it runs out of descriptors; a
// self-including file should fail fast with a clear message instead.
constexpr int kMaxIncludeDepth = 64;

[[noreturn]] void fail_at(const std::string& message, const SourceLocation* where) {
  if (where != nullptr) throw ConfError(message, *where);
  throw ConfError(message);
}

class Parser {
 public:
  explicit Parser(const ParseOptions& options) : options_(options) {}

  // `ctx` is the context the file's directives are checked in as they are read,
  // or 0 for no checks (ParseOptions::check_directives).
  std::vector<Directive> parse_file(const std::string& path, const SourceLocation* included_from,
                                    int depth, unsigned ctx) {
    std::string text, error;
    if (!files().read(path, text, error)) fail_at(error, included_from);
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
    std::vector<std::string> matches;
    std::string error;
    if (!files().glob(path, matches, error)) throw ConfError(error, d.where);
    for (const auto& match : matches) append(match);
  }

  std::string full_name(const std::string& name) const {
    const std::string& prefix = options_.conf_prefix;
    if (name.starts_with('/') || prefix.empty()) return name;
    return prefix.ends_with('/') ? prefix + name : prefix + "/" + name;
  }

  FileSource& files() const { return options_.files ? *options_.files : disk_files(); }

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
