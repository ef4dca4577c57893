// The nginx configuration language as a syntax tree: directives with their
// arguments, optional block, and the file:line they came from.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tg::conf {

class FileSource;

/// The file name of text given with -g; nginx reports its errors as
/// "in command line", without a line number.
inline constexpr std::string_view kCommandLine = "command line";

/// Where a directive was written; every error names it as nginx does ("in file:line").
/// `line` is where the directive's `;` or `{` was read, which is the line nginx
/// reports (cf->conf_file->line when the handler runs), not where its name starts.
struct SourceLocation {
  std::string file;
  int line = 0;
};

/// One directive: `name arg1 "arg 2" { ... }` or `name arg;`.
/// Arguments are unquoted with escapes resolved; `quoted[i]` tells whether the
/// argument was written in quotes (nginx treats `""` as an empty argument).
struct Directive {
  std::string name;
  std::vector<std::string> args;
  std::vector<bool> quoted;
  SourceLocation where;
  bool has_block = false;
  std::vector<Directive> block;
  /// Line of the `}` closing the block (same file as `where`); nginx reports the
  /// checks it makes after reading a block there ("no servers are inside upstream").
  int block_end_line = 0;
};

/// A configuration error. `what()` is nginx's text without the level prefix:
/// `unexpected "}" in /etc/tidegate/tidegate.conf:12`.
class ConfError : public std::runtime_error {
 public:
  ConfError(const std::string& message, const SourceLocation& where)
      : std::runtime_error(message + " in " + where.file +
                           (where.file == kCommandLine ? "" : ":" + std::to_string(where.line))),
        where_(where) {}
  /// An error with no source position (for example, a file that cannot be opened).
  explicit ConfError(const std::string& message) : std::runtime_error(message) {}
  const SourceLocation& where() const { return where_; }

 private:
  SourceLocation where_;
};

/// Options for parsing.
struct ParseOptions {
  /// Directory that relative `include` paths resolve against (nginx's conf prefix:
  /// the directory of the main conf file unless -p says otherwise).
  std::string conf_prefix;
  /// Run the directive table's checks (directive_table.h) on each directive as
  /// it is read, so that errors come in nginx's order: `a b c {` followed by an
  /// unclosed block reports the directive, not the end of file.
  bool check_directives = false;
  /// Where files are read from (nullptr: the disk).
  FileSource* files = nullptr;
};

/// A parsed file with the list of files it read.
struct ParseResult {
  std::vector<Directive> tree;
  /// Every file read, in the order first read, each once (the main file first):
  /// what nginx -T dumps.
  std::vector<std::string> files;
};

/// Parses a whole file; `include` directives are expanded in place (globs allowed,
/// sorted, as nginx). Throws ConfError.
std::vector<Directive> parse_file(const std::string& path, const ParseOptions& options);

/// parse_file, also returning the files read (for -T).
ParseResult parse_file_with_files(const std::string& path, const ParseOptions& options);

/// Parses text held in memory (used for `-g` and tests). `name` is the file name
/// reported in errors; kCommandLine gives nginx's -g rules (no blocks, errors
/// "in command line").
std::vector<Directive> parse_text(const std::string& text, const std::string& name,
                                  const ParseOptions& options);

/// Writes a tree back in nginx syntax (for `-T`).
std::string dump(const std::vector<Directive>& tree);

}  // namespace tg::conf
