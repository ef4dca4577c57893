// `tidegate simulate`: the command line, the conf (parsed as `-t` would, no provider
// started), the trace file, and the summary table. The model itself is scaling/'s.
#include "app/simulate_command.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/error_log.h"
#include "conf/config.h"
#include "scaling/simulator.h"

namespace tg::app {
namespace {

constexpr std::string_view kUsage =
    "Usage: tidegate simulate -c CONF --trace CSV [--upstream NAME] [--out DIR]\n"
    "         [--startup S] [--capacity RPS] [--latency MS] [--metric-lag S]\n"
    "         [--initial N] [--start 2026-01-05T00:00:00Z] [--quiet]\n\n"
    "Replays CSV (time,rps[,connections][,latency_ms]) through the upstream's autoscale\n"
    "policies with a simulated clock. Defaults: startup 60s, capacity 400 req/s per\n"
    "instance, latency 50 ms at idle, metric-lag 0s, initial: what the first load needs.\n"
    "--out DIR writes DIR/ticks.csv and DIR/chart.svg.\n";

/// A bad command line or input: the text after "tidegate: simulate: ".
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

double positive_number(std::string_view option, std::string_view text, bool zero_ok) {
  double v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v) ||
      v < 0 || (v == 0 && !zero_ok)) {
    throw Failure("invalid " + std::string(option) + " \"" + std::string(text) + "\"");
  }
  return v;
}

/// "60", "60s", "2m", "1h".
std::chrono::seconds duration(std::string_view option, std::string_view text) {
  double scale = 1;
  if (!text.empty() && (text.back() == 's' || text.back() == 'm' || text.back() == 'h')) {
    scale = text.back() == 'h' ? 3600 : text.back() == 'm' ? 60 : 1;
    text.remove_suffix(1);
  }
  return std::chrono::seconds(std::lround(positive_number(option, text, true) * scale));
}

/// "2026-06-01T00:00:00Z", "...+02:00", or a date alone (midnight UTC).
std::chrono::sys_seconds instant(std::string_view text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, n = 0;
  const std::string t(text);
  const bool date_only = std::sscanf(t.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 &&
                         n == static_cast<int>(t.size());
  std::chrono::seconds offset{0};
  if (!date_only) {
    if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &n) != 6) {
      n = -1;
    }
    const std::string_view zone = n < 0 ? "?" : text.substr(static_cast<std::size_t>(n));
    int oh = 0, om = 0, m = 0;
    if (zone == "Z") {
    } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') &&
               std::sscanf(t.c_str() + n + 1, "%2d:%2d%n", &oh, &om, &m) == 2 && m == 5) {
      offset = std::chrono::seconds((zone[0] == '-' ? -1 : 1) * (oh * 3600 + om * 60));
    } else {
      n = -1;
    }
    if (n < 0) throw Failure("invalid --start \"" + t + "\" (2026-06-01T00:00:00Z)");
  }
  const std::chrono::year_month_day day{std::chrono::year{y}, std::chrono::month(unsigned(mo)),
                                        std::chrono::day(unsigned(d))};
  if (!day.ok() || h > 23 || mi > 59 || s > 59) {
    throw Failure("invalid --start \"" + t + "\" (2026-06-01T00:00:00Z)");
  }
  return std::chrono::sys_days{day} + std::chrono::hours(h) + std::chrono::minutes(mi) +
         std::chrono::seconds(s) - offset;
}

std::string absolute(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[4096];
  return ::getcwd(cwd, sizeof cwd) ? std::string(cwd) + "/" + path : path;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure("open() \"" + path + "\" failed " + errno_text(errno));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw Failure("write() \"" + path.string() + "\" failed " + errno_text(errno));
}

std::string fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

struct Options {
  std::string conf, trace, upstream, out;
  scaling::InstanceModel model;
  bool quiet = false;
  bool help = false;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i], value;
    if (arg == "-h" || arg == "--help" || arg == "-?") {
      o.help = true;
      return o;
    }
    if (arg == "--quiet" || arg == "-q") {
      o.quiet = true;
      continue;
    }
    const auto eq = arg.find('=');
    const bool inline_value = arg.starts_with("--") && eq != std::string_view::npos;
    const std::string_view name = inline_value ? arg.substr(0, eq) : arg;
    if (inline_value) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      throw Failure("option \"" + std::string(name) + "\" requires a value");
    }
    if (name == "-c" || name == "--conf") {
      o.conf = absolute(std::string(value));
    } else if (name == "--trace") {
      o.trace = std::string(value);
    } else if (name == "--upstream") {
      o.upstream = std::string(value);
    } else if (name == "--out") {
      o.out = std::string(value);
    } else if (name == "--startup") {
      o.model.startup = duration(name, value);
    } else if (name == "--metric-lag") {
      o.model.metric_lag = duration(name, value);
    } else if (name == "--capacity") {
      o.model.capacity = positive_number(name, value, false);
    } else if (name == "--latency") {
      o.model.latency_ms = positive_number(name, value, false);
    } else if (name == "--initial") {
      o.model.initial = static_cast<int>(positive_number(name, value, true));
    } else if (name == "--start") {
      o.model.start = instant(value);
    } else {
      throw Failure("invalid option: \"" + std::string(name) + "\"");
    }
  }
  if (o.conf.empty()) throw Failure("no conf file: -c CONF is required");
  if (o.trace.empty()) throw Failure("no trace: --trace CSV is required");
  return o;
}

/// The `autoscale` block to simulate: `--upstream`'s, or the first there is.
const conf::UpstreamConfig& pick(const conf::Config& cfg, const Options& o) {
  for (const auto& u : cfg.http.upstreams) {
    if (u.autoscale && (o.upstream.empty() || u.name == o.upstream)) return u;
  }
  throw Failure("no upstream " + (o.upstream.empty() ? "" : "\"" + o.upstream + "\" ") +
                "with an \"autoscale\" block in " + o.conf);
}

void print_summary(const scaling::SimResult& r, const conf::UpstreamConfig& u, const Options& o,
                   double ran_ms) {
  const auto& s = r.summary;
  const auto minutes = static_cast<long>(std::lround(s.duration_s / 60));
  std::cout << "upstream \"" << u.name << "\", "
            << std::filesystem::path(o.trace).filename().string() << ": " << minutes / 60 << "h"
            << (minutes % 60 < 10 ? "0" : "") << minutes % 60 << "m simulated in "
            << fixed(ran_ms, 0) << " ms (startup " << o.model.startup.count() << "s, capacity "
            << fixed(o.model.capacity, 0) << " req/s)\n";
  const std::pair<std::string, std::string> rows[] = {
      {"deficit", fixed(s.deficit_instance_s, 0) + " instance-s"},
      {"overloaded", fixed(s.overloaded_s / 60, 1) + " min"},
      {"instance-hours", fixed(s.instance_hours, 1)},
      {"  the limit", fixed(s.limit_instance_hours, 1) + " (knows the load " +
                          std::to_string(o.model.startup.count() + u.autoscale->warmup.count()) +
                          "s ahead)"},
      {"scaling changes", std::to_string(s.changes)},
      {"max instances", std::to_string(s.max_instances)},
      {"p95 max", fixed(s.p95_max_ms, 0) + " ms"},
      {"p95 mean", fixed(s.p95_mean_ms, 0) + " ms (weighted by load)"},
  };
  for (const auto& [k, v] : rows) {
    std::string line = "  " + k;
    line.resize(20, ' ');
    std::cout << line << v << "\n";
  }
}

}  // namespace

int run_simulate(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    if (o.help) {
      std::cerr << kUsage;
      return 0;
    }
    // Parsed as `-t` parses it (the provider line checked, nothing started); the prefix
    // only names paths no one opens here.
    const auto cfg = conf::load_config(
        conf::LoadOptions{o.conf.substr(0, o.conf.rfind('/') + 1), o.conf, "", nullptr});
    const conf::UpstreamConfig& u = pick(*cfg, o);
    std::vector<scaling::TracePoint> trace;
    try {
      trace = scaling::parse_trace(read_all(o.trace));
    } catch (const scaling::TraceError& e) {
      throw Failure(o.trace + (e.line > 0 ? ":" + std::to_string(e.line) : "") + ": " + e.what());
    }
    const auto began = std::chrono::steady_clock::now();
    const scaling::SimResult r = scaling::simulate(*u.autoscale, trace, o.model);
    const double ran_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count();
    if (!o.out.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(o.out, ec);
      if (ec) {
        throw Failure("mkdir() \"" + o.out + "\" failed (" + std::to_string(ec.value()) + ": " +
                      ec.message() + ")");
      }
      const std::string title =
          "tidegate simulate: " + std::filesystem::path(o.conf).filename().string() + ", " +
          std::filesystem::path(o.trace).filename().string() + " (startup " +
          std::to_string(o.model.startup.count()) + "s, capacity " + fixed(o.model.capacity, 0) +
          " req/s per instance)";
      write_file(std::filesystem::path(o.out) / "ticks.csv", scaling::ticks_csv(r));
      write_file(std::filesystem::path(o.out) / "chart.svg", scaling::svg_chart(r, title));
    }
    if (!o.quiet) print_summary(r, u, o, ran_ms);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "tidegate: simulate: " << e.what() << "\n";
  }
  return 1;
}

}  // namespace tg::app
