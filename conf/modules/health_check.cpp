// NGINX Plus's ngx_http_upstream_hc_module: `health_check` (location) and
// `match` (http), with tidegate's `type=tcp` and `timeout=` parameters.
#include <limits>

#include "conf/directive_args.h"
#include "conf/modules/modules.h"

namespace tg::conf::modules {
namespace {

constexpr int64_t kMaxTimeMs = std::numeric_limits<int32_t>::max();

/// "200" or "200-399", both ends 100..599.
bool status_range(const std::string& text, std::pair<int, int>& out) {
  const size_t dash = text.find('-');
  int lo = 0, hi = 0;
  if (dash == std::string::npos) {
    if (!parse_int(text, lo)) return false;
    hi = lo;
  } else if (!parse_int(text.substr(0, dash), lo) || !parse_int(text.substr(dash + 1), hi)) {
    return false;
  }
  if (lo < 100 || hi > 599 || lo > hi) return false;
  out = {lo, hi};
  return true;
}

MatchTest match_test(const Directive& line) {
  MatchTest t;
  const auto& a = line.args;
  auto regex = [&](const std::string& pattern) {
    std::string error;
    auto re = Regex::compile(pattern, false, error);
    if (!re) fail(line, error);
    return re;
  };
  if (line.name == "status") {
    t.kind = MatchTest::Kind::kStatus;
    size_t i = 0;
    if (!a.empty() && a[0] == "!") {
      t.negate = true;
      ++i;
    }
    if (i == a.size()) fail(line, "invalid number of arguments in \"status\" match");
    for (; i < a.size(); ++i) {
      std::pair<int, int> range;
      if (!status_range(a[i], range)) fail(line, "invalid status \"" + a[i] + "\"");
      t.statuses.push_back(range);
    }
  } else if (line.name == "header") {
    t.kind = MatchTest::Kind::kHeader;
    if (a.size() == 2 && a[0] == "!") {
      t.negate = true;
      t.header = lower(a[1]);
    } else if (a.size() == 1) {
      t.header = lower(a[0]);
    } else if (a.size() == 3) {
      t.header = lower(a[0]);
      const std::string& op = a[1];
      if (op == "=" || op == "!=") {
        t.op = MatchTest::Op::kEquals;
        t.value = a[2];
      } else if (op == "~" || op == "!~") {
        t.op = MatchTest::Op::kRegex;
        t.regex = regex(a[2]);
      } else {
        fail(line, "invalid header operator \"" + op + "\"");
      }
      t.negate = op[0] == '!';
    } else {
      fail(line, "invalid number of arguments in \"header\" match");
    }
  } else if (line.name == "body") {
    t.kind = MatchTest::Kind::kBody;
    if (a.size() != 2 || (a[0] != "~" && a[0] != "!~")) {
      fail(line, "invalid body match, it must be \"body ~ regex\" or \"body !~ regex\"");
    }
    t.op = MatchTest::Op::kRegex;
    t.negate = a[0] == "!~";
    t.regex = regex(a[1]);
  } else if (line.name == "require") {
    fail(line, "\"require\" in \"match\" is not supported by tidegate yet");
  } else {
    fail(line, "unknown directive \"" + line.name + "\" in \"match\"");
  }
  return t;
}

}  // namespace

bool match_block(const Directive& d, std::vector<MatchBlock>& matches) {
  if (d.name != "match") return false;
  for (const auto& m : matches) {
    if (m.name == d.args[0]) fail(d, "duplicate match \"" + d.args[0] + "\"");
  }
  MatchBlock block;
  block.name = d.args[0];
  for (const auto& line : d.block) block.tests.push_back(match_test(line));
  matches.push_back(std::move(block));
  return true;
}

bool health_check(const Directive& d, const std::vector<MatchBlock>& matches,
                  std::vector<HealthCheck>& checks) {
  if (d.name != "health_check") return false;
  HealthCheck hc;
  hc.where = d.where;
  bool timeout_set = false;
  for (const auto& a : d.args) {
    const size_t eq = a.find('=');
    const std::string key = a.substr(0, eq);
    const std::string value = eq == std::string::npos ? std::string() : a.substr(eq + 1);
    auto invalid = [&]() { fail(d, "invalid parameter \"" + a + "\""); };
    auto time = [&](Millis& out) {
      int64_t ms = 0;  // at most 24 days: deadlines are added to the clock
      if (!parse_nginx_time(value, false, ms) || ms < 0 || ms > kMaxTimeMs) invalid();
      out = Millis(ms);
    };
    auto count = [&](int& out, int min, int max) {
      if (!parse_int(value, out) || out < min || out > max) invalid();
    };
    if (eq == std::string::npos) {
      if (a == "mandatory") {
        hc.mandatory = true;
      } else if (a == "persistent") {
        hc.persistent = true;
      } else {
        invalid();
      }
    } else if (key == "interval") {
      time(hc.interval);
      if (hc.interval.count() == 0) invalid();
    } else if (key == "jitter") {
      time(hc.jitter);
    } else if (key == "fails") {
      count(hc.fails, 1, 1'000'000);
    } else if (key == "passes") {
      count(hc.passes, 1, 1'000'000);
    } else if (key == "uri") {
      if (value.empty() || value[0] != '/') invalid();
      for (const char c : value) {  // it goes into the request line as it is
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) invalid();
      }
      hc.uri = value;
    } else if (key == "port") {
      count(hc.port, 1, 65535);
    } else if (key == "match") {
      for (size_t i = 0; i < matches.size(); ++i) {
        if (matches[i].name == value) hc.match = static_cast<int>(i);
      }
      if (hc.match < 0) fail(d, "match \"" + value + "\" not found");
    } else if (key == "type") {
      if (value == "tcp") {
        hc.type = HealthCheck::Type::kTcp;
      } else if (value == "websocket") {
        hc.type = HealthCheck::Type::kWebSocket;
      } else if (value == "http") {
        hc.type = HealthCheck::Type::kHttp;
      } else {
        fail(d, "health check type \"" + value + "\" is not supported by tidegate yet");
      }
    } else if (key == "timeout") {
      time(hc.read_timeout);
      if (hc.read_timeout.count() == 0) invalid();
      hc.connect_timeout = hc.read_timeout;
      timeout_set = true;
    } else if (key == "keepalive_time") {
      time(hc.keepalive_time);
    } else {
      invalid();
    }
  }
  if (hc.persistent && !hc.mandatory) {
    fail(d, "\"persistent\" requires \"mandatory\"");
  }
  // The location fills the rest; a timeout= given here wins over its proxy timeouts.
  hc.connect_timeout = timeout_set ? hc.connect_timeout : Millis(-1);
  checks.push_back(std::move(hc));
  return true;
}

}  // namespace tg::conf::modules
