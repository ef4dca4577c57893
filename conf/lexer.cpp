// A transcription of nginx's ngx_conf_read_token state machine, so that every
// configuration nginx accepts splits into the same words here, and every one it
// rejects fails with the same message.
#include "conf/lexer.h"

#include <optional>
#include <utility>

namespace tg::conf {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Characters that a backslash turns into something else (see unescape_word).
bool is_escape_target(char c) {
  return c == '"' || c == '\'' || c == '\\' || c == 't' || c == 'r' || c == 'n';
}

// The bare (unquoted) spelling of `value`, or nothing when the lexer cannot read
// any bare word back as exactly `value` (spaces, `;`, a leading `#`, ...).
std::optional<std::string> bare_spelling(std::string_view value) {
  if (value.empty() || value[0] == '#' || value[0] == '}') return std::nullopt;
  std::string out;
  bool after_dollar = false;  // `${` does not open a block
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const bool dollar_before = std::exchange(after_dollar, false);
    switch (c) {
      case '\\':
        if (i + 1 < value.size() && !is_escape_target(value[i + 1])) {
          // nginx keeps `\x` as written, and the backslash protects x from
          // ending the word, so the pair goes out verbatim.
          out += c;
          out += value[++i];
        } else {
          out += "\\\\";
        }
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '"':
      case '\'':
        out += '\\';  // a leading quote would open a quoted word
        out += c;
        break;
      case ' ':
      case ';':
        return std::nullopt;
      case '{':
        if (!dollar_before) return std::nullopt;
        out += c;
        break;
      case '$':
        out += c;
        after_dollar = true;
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string quoted_spelling(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";  // keeps one directive per line in dumps
        break;
      default:
        out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace

Lexer::Lexer(std::string_view text, std::string file) : text_(text), file_(std::move(file)) {}

void Lexer::fail(const std::string& message) const {
  throw ConfError(message, SourceLocation{file_, line_});
}

Statement Lexer::next() {
  Statement st;
  // The flags mirror ngx_conf_read_token's locals of the same names.
  bool need_space = false;     // a quoted word just closed: only a separator may follow
  bool last_space = true;      // between words
  bool sharp_comment = false;  // inside `# ...`
  bool variable = false;       // just read `$`, so `{` belongs to `${name}`
  bool escaped = false;        // previous character was a backslash (nginx: `quoted`)
  bool s_quoted = false;
  bool d_quoted = false;
  bool word_quoted = false;
  std::size_t start = pos_;

  auto finish = [&](StatementEnd end) {
    st.end = end;
    st.line = line_;
    return std::move(st);
  };

  for (;;) {
    if (pos_ >= text_.size()) {
      if (!st.words.empty() || !last_space) {
        // nginx words this by source: a file, or the -g parameter.
        fail(file_ == kCommandLine ? "unexpected end of parameter, expecting \";\""
                                   : "unexpected end of file, expecting \";\" or \"}\"");
      }
      return finish(StatementEnd::kEndOfInput);
    }

    const char ch = text_[pos_++];
    if (ch == '\n') {
      ++line_;
      sharp_comment = false;
    }
    if (sharp_comment) continue;
    if (escaped) {
      escaped = false;
      continue;
    }

    if (need_space) {
      if (is_space(ch)) {
        last_space = true;
        need_space = false;
        continue;
      }
      if (ch == ';') return finish(StatementEnd::kSemicolon);
      if (ch == '{') return finish(StatementEnd::kBlockStart);
      if (ch != ')') fail(std::string("unexpected \"") + ch + "\"");
      // nginx lets `)` follow a quoted word for `if ($a = "b")`.
      last_space = true;
      need_space = false;
    }

    if (last_space) {
      start = pos_ - 1;
      word_quoted = false;
      if (is_space(ch)) continue;
      switch (ch) {
        case ';':
        case '{':
          if (st.words.empty()) fail(std::string("unexpected \"") + ch + "\"");
          return finish(ch == '{' ? StatementEnd::kBlockStart : StatementEnd::kSemicolon);
        case '}':
          if (!st.words.empty()) fail("unexpected \"}\"");
          return finish(StatementEnd::kBlockEnd);
        case '#':
          sharp_comment = true;
          continue;
        case '\\':
          escaped = true;
          last_space = false;
          continue;
        case '"':
        case '\'':
          ++start;
          (ch == '"' ? d_quoted : s_quoted) = true;
          word_quoted = true;
          last_space = false;
          continue;
        case '$':
          variable = true;
          last_space = false;
          continue;
        default:
          last_space = false;
          continue;
      }
    }

    if (ch == '{' && variable) continue;
    variable = false;
    if (ch == '\\') {
      escaped = true;
      continue;
    }
    if (ch == '$') {
      variable = true;
      continue;
    }

    bool found = false;
    if (d_quoted) {
      if (ch == '"') {
        d_quoted = false;
        need_space = true;
        found = true;
      }
    } else if (s_quoted) {
      if (ch == '\'') {
        s_quoted = false;
        need_space = true;
        found = true;
      }
    } else if (is_space(ch) || ch == ';' || ch == '{') {
      last_space = true;
      found = true;
    }
    if (!found) continue;

    st.words.push_back(unescape_word(text_.substr(start, pos_ - 1 - start)));
    st.quoted.push_back(word_quoted);
    if (ch == ';') return finish(StatementEnd::kSemicolon);
    if (ch == '{') return finish(StatementEnd::kBlockStart);
  }
}

std::string unescape_word(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size()) {
      switch (raw[i + 1]) {
        case '"':
        case '\'':
        case '\\':
          out += raw[++i];
          continue;
        case 't':
          out += '\t';
          ++i;
          continue;
        case 'r':
          out += '\r';
          ++i;
          continue;
        case 'n':
          out += '\n';
          ++i;
          continue;
        default:
          break;
      }
    }
    out += raw[i];
  }
  return out;
}

std::string encode_word(std::string_view value, bool prefer_quoted) {
  if (!prefer_quoted) {
    if (auto bare = bare_spelling(value)) return *bare;
  }
  return quoted_spelling(value);
}

}  // namespace tg::conf
