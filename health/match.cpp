#include "health/match.h"

#include <strings.h>

namespace tg::health {
namespace {

bool header_test(const conf::MatchTest& t, const CheckResponse& r) {
  bool present = false;
  bool satisfied = false;
  for (const auto& [name, value] : r.headers) {
    if (name.size() != t.header.size() || ::strncasecmp(name.data(), t.header.data(), name.size()))
      continue;
    present = true;
    switch (t.op) {
      case conf::MatchTest::Op::kPresent:
        satisfied = true;
        break;
      case conf::MatchTest::Op::kEquals:
        if ((value == t.value) != t.negate) satisfied = true;
        break;
      case conf::MatchTest::Op::kRegex:
        if (t.regex->match(value) != t.negate) satisfied = true;
        break;
    }
  }
  // `header ! Name`: absent. The value tests (negated or not) need the header.
  if (t.op == conf::MatchTest::Op::kPresent) return present != t.negate;
  return satisfied;
}

}  // namespace

bool passes(const conf::MatchBlock* match, const CheckResponse& r, std::string_view& stage) {
  if (match == nullptr || match->tests.empty()) {
    stage = "checking status code of upstream";
    return r.status >= 200 && r.status < 400;
  }
  for (const auto& t : match->tests) {
    bool ok = true;
    switch (t.kind) {
      case conf::MatchTest::Kind::kStatus: {
        bool in = false;
        for (const auto& [lo, hi] : t.statuses) in = in || (r.status >= lo && r.status <= hi);
        ok = in != t.negate;
        stage = "checking status code of upstream";
        break;
      }
      case conf::MatchTest::Kind::kHeader:
        ok = header_test(t, r);
        stage = "checking headers of upstream";
        break;
      case conf::MatchTest::Kind::kBody:
        ok = t.regex->match(r.body) != t.negate;
        stage = "checking body of upstream";
        break;
    }
    if (!ok) return false;
  }
  stage = "checking status code of upstream";
  return true;
}

}  // namespace tg::health
