// Splits nginx configuration text into statements, exactly as nginx's
// ngx_conf_read_token does: one call yields the words of one directive and
// what ended it (`;`, `{`, `}` or end of input).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "conf/ast.h"

namespace tg::conf {

/// What ended a statement.
enum class StatementEnd {
  kSemicolon,   ///< `name args;`
  kBlockStart,  ///< `name args {`
  kBlockEnd,    ///< `}` (no words)
  kEndOfInput,  ///< end of the text (no words)
};

/// One statement: its words (name first) with escapes resolved.
struct Statement {
  std::vector<std::string> words;
  /// `quoted[i]` is true when `words[i]` was written in single or double quotes.
  std::vector<bool> quoted;
  /// Line where the statement ended: its `;`, `{` or `}` (or the last line at end of
  /// input). nginx reports a directive's errors there, since its handler runs as
  /// soon as the terminator is read (cf->conf_file->line).
  int line = 0;
  StatementEnd end = StatementEnd::kEndOfInput;
};

/// Reads statements from text held in memory. Throws ConfError on malformed
/// input with nginx's messages (`unexpected "}"`, `unexpected end of file,
/// expecting ";" or "}"`, `unexpected "x"`; for -g text, whose file name is
/// kCommandLine, `unexpected end of parameter, expecting ";"`).
class Lexer {
 public:
  /// `file` is the name used in error positions; the text must outlive the lexer.
  Lexer(std::string_view text, std::string file);

  /// Reads the next statement.
  Statement next();

  /// The current line (1-based): nginx reports errors at the reader's position.
  int line() const { return line_; }
  const std::string& file() const { return file_; }

 private:
  [[noreturn]] void fail(const std::string& message) const;

  std::string_view text_;
  std::size_t pos_ = 0;
  std::string file_;
  int line_ = 1;
};

/// Resolves nginx's escapes in a raw word: `\"`, `\'`, `\\` become the
/// character, `\t`, `\r`, `\n` the control character; any other backslash is
/// kept (so regexes keep `\d`). nginx applies this to quoted and bare words alike.
std::string unescape_word(std::string_view raw);

/// Writes a word so that the lexer reads it back unchanged: bare when
/// `prefer_quoted` is false and the value allows it, otherwise in double quotes.
std::string encode_word(std::string_view value, bool prefer_quoted);

}  // namespace tg::conf
