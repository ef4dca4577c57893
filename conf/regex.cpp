#define PCRE2_CODE_UNIT_WIDTH 8
#include "conf/regex.h"

#include <pcre2.h>

namespace tg::conf {
namespace {
// One match-data block per thread, big enough for any capture count we allow.
constexpr uint32_t kMaxPairs = 64;
pcre2_match_data* thread_match_data() {
  thread_local std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
      pcre2_match_data_create(kMaxPairs, nullptr), &pcre2_match_data_free);
  return data.get();
}
}  // namespace

std::string_view Captures::group(std::string_view subject, size_t n) const {
  if (n >= spans.size()) return {};
  auto [b, e] = spans[n];
  if (b == PCRE2_UNSET || e < b || e > subject.size()) return {};
  return subject.substr(b, e - b);
}

std::shared_ptr<const Regex> Regex::compile(const std::string& pattern, bool caseless,
                                            std::string& error) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  uint32_t options = caseless ? PCRE2_CASELESS : 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   options, &err, &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    error = "pcre2_compile() failed: " + std::string(reinterpret_cast<char*>(msg)) + " in \"" +
            pattern + "\" at \"" + pattern.substr(std::min(offset, pattern.size())) + "\"";
    return nullptr;
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort: falls back to the interpreter
  auto re = std::shared_ptr<Regex>(new Regex());
  re->code_ = code;
  re->pattern_ = pattern;
  uint32_t count = 0;
  pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &count);
  re->capture_count_ = static_cast<int>(count);
  return re;
}

Regex::~Regex() {
  if (code_) pcre2_code_free(static_cast<pcre2_code*>(code_));
}

bool Regex::match(std::string_view subject, Captures* captures) const {
  pcre2_match_data* md = thread_match_data();
  int rc =
      pcre2_match(static_cast<pcre2_code*>(code_), reinterpret_cast<PCRE2_SPTR>(subject.data()),
                  subject.size(), 0, 0, md, nullptr);
  if (rc < 0) return false;
  if (captures) {
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    uint32_t pairs =
        std::min<uint32_t>(pcre2_get_ovector_count(md), static_cast<uint32_t>(capture_count_) + 1);
    captures->spans.resize(pairs);
    for (uint32_t i = 0; i < pairs; ++i) captures->spans[i] = {ov[2 * i], ov[2 * i + 1]};
  }
  return true;
}

}  // namespace tg::conf
