// PCRE2 regexes as nginx uses them (`location ~`, `server_name ~`, `map ~`),
// compiled once at load with JIT; matching is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tg::conf {

/// Capture spans of one match: pairs of offsets into the subject ($0 = whole).
struct Captures {
  std::vector<std::pair<size_t, size_t>> spans;
  /// $n as a view into `subject`, empty when the group did not participate.
  std::string_view group(std::string_view subject, size_t n) const;
};

class Regex {
 public:
  Regex() = default;
  /// Compiles `pattern`; on failure returns nullptr and fills `error` with
  /// nginx's text: `pcre2_compile() failed: <reason> in "<pattern>" at "<rest>"`.
  static std::shared_ptr<const Regex> compile(const std::string& pattern, bool caseless,
                                              std::string& error);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  /// True when `subject` matches; fills `captures` when given.
  bool match(std::string_view subject, Captures* captures = nullptr) const;
  int capture_count() const { return capture_count_; }
  const std::string& pattern() const { return pattern_; }

 private:
  void* code_ = nullptr;  // pcre2_code*
  int capture_count_ = 0;
  std::string pattern_;
};

}  // namespace tg::conf
