#include "scaling/exec_provider.h"
#include "scaling/provider_params.h"

#include <cstdint>
#include <map>
#include <stdexcept>
#include <system_error>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include "scaling/child_process.h"

namespace tg::scaling {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// A list of a large fleet is long ("id" and "address" are ~80 bytes an instance).
constexpr std::size_t kStdoutLimit = 4 * 1024 * 1024;
constexpr std::size_t kStderrLimit = 64 * 1024;
constexpr std::size_t kReasonLimit = 300;  // of the stderr line in an error message
// Exit status meaning "the request itself is wrong": retrying cannot help.
constexpr int kBadRequestStatus = 2;

std::string duration_text(Millis d) {
  return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + "s"
                               : std::to_string(d.count()) + "ms";
}

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.size() > kReasonLimit) line.resize(kReasonLimit);
  return line;
}

// `{"instances":[...]}` or `[...]`; every entry with a non-empty id and address.
ProviderResult<std::vector<Instance>> parse_instances(const std::string& text) {
  boost::system::error_code ec;
  const json::value doc = json::parse(text, ec);
  if (ec) return ProviderError{"printed invalid JSON (" + ec.message() + ")"};
  const json::array* array = doc.if_array();
  if (const json::object* object = doc.if_object()) {
    if (const json::value* v = object->if_contains("instances")) array = v->if_array();
  }
  if (!array) return ProviderError{"printed no \"instances\" array"};
  std::vector<Instance> instances;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const json::object* entry = (*array)[i].if_object();
    Instance instance;
    for (auto [field, out] : {std::pair{"id", &instance.id}, {"address", &instance.address}}) {
      const json::value* v = entry ? entry->if_contains(field) : nullptr;
      const json::string* s = v ? v->if_string() : nullptr;
      if (!s || s->empty()) {
        return ProviderError{"printed instance " + std::to_string(i) + " without \"" + field +
                             "\""};
      }
      *out = std::string(*s);
    }
    instances.push_back(std::move(instance));
  }
  return instances;
}

class ExecProvider final : public Provider {
 public:
  ExecProvider(const ProviderSpec& spec, const ProviderContext& context);
  ~ExecProvider() override;
  std::string type() const override { return "exec"; }
  void list(ListDone done) override;
  void add(int n, ListDone done) override;
  void remove(std::vector<Instance> instances, RemoveDone done) override;
  void shutdown() override;

 private:
  struct Run {
    explicit Run(asio::io_context& io) : deadline(io) {}
    std::string what;  ///< the command line, for messages
    std::unique_ptr<ChildProcess> process;
    asio::steady_timer deadline;
    std::string killed_for;  ///< why tidegate killed it ("timed out after 30s")
    bool retryable = true;
    bool prints_instances = false;  ///< list and add: stdout is the result
    ListDone done;
  };

  void run(std::vector<std::string> args, bool prints_instances, ListDone done);
  void finish(std::uint64_t serial, const ExitStatus& status);

  asio::io_context& io_;
  std::string group_;
  std::string command_;
  Millis timeout_{30000};
  bool shut_down_ = false;
  std::uint64_t next_serial_ = 0;
  std::map<std::uint64_t, std::shared_ptr<Run>> runs_;
};

ExecProvider::ExecProvider(const ProviderSpec& spec, const ProviderContext& context)
    : io_(context.control), group_(context.group) {
  check_parameters(spec, {"command", "timeout"});
  command_ = required_param(spec, "command");
  if (const auto t = spec.param("timeout")) timeout_ = provider_duration("timeout", *t);
}

ExecProvider::~ExecProvider() {
  for (auto& [serial, run] : runs_) run->process->kill();  // all dying before one is reaped
}

void ExecProvider::run(std::vector<std::string> args, bool prints_instances, ListDone done) {
  args.insert(args.begin(), command_);
  std::string what;
  for (const auto& a : args) what += (what.empty() ? "" : " ") + a;
  const auto fail = [&](std::string reason, bool retryable) {
    asio::post(io_, [done = std::move(done),
                     e = ProviderError{"exec provider: \"" + what + "\" " + reason, retryable}] {
      done(e);
    });
  };
  if (shut_down_) return fail("not run: the provider is shut down", false);

  const std::uint64_t serial = next_serial_++;
  auto run = std::make_shared<Run>(io_);
  run->what = what;
  try {
    run->process = std::make_unique<ChildProcess>(
        io_, args,
        ChildOptions{.own_group = true,
                     .capture_stdout = true,
                     .capture_stderr = true,
                     .stdout_limit = kStdoutLimit,
                     .stderr_limit = kStderrLimit},
        [this, serial](const ExitStatus& status) { finish(serial, status); });
  } catch (const std::system_error& e) {
    return fail(std::string("could not start: ") + e.what(), true);
  }
  run->prints_instances = prints_instances;
  run->done = std::move(done);
  run->deadline.expires_after(timeout_);
  run->deadline.async_wait([weak = std::weak_ptr<Run>(run),
                            text = duration_text(timeout_)](const boost::system::error_code& ec) {
    const auto r = weak.lock();
    if (ec || !r || !r->killed_for.empty()) return;
    r->killed_for = "timed out after " + text;
    r->process->kill();  // its group: what the command started must not outlive the call
  });
  runs_.emplace(serial, std::move(run));
}

void ExecProvider::finish(std::uint64_t serial, const ExitStatus& status) {
  const auto it = runs_.find(serial);
  if (it == runs_.end()) return;
  const std::shared_ptr<Run> run = std::move(it->second);
  runs_.erase(it);
  run->deadline.cancel();
  const std::string& out = run->process->captured_stdout();
  ProviderResult<std::vector<Instance>> result = std::vector<Instance>{};
  if (!run->killed_for.empty()) {
    result = ProviderError{run->killed_for, run->retryable};
  } else if (!status.success()) {
    result =
        ProviderError{status.text(), !(status.signal == 0 && status.code == kBadRequestStatus)};
  } else if (run->prints_instances && out.size() >= kStdoutLimit) {
    result = ProviderError{"printed more than " + std::to_string(kStdoutLimit) + " bytes"};
  } else if (run->prints_instances) {
    result = parse_instances(out);
  }
  if (auto* error = std::get_if<ProviderError>(&result)) {
    error->message = "exec provider: \"" + run->what + "\" " + error->message;
    if (const std::string reason = first_line(run->process->captured_stderr()); !reason.empty()) {
      error->message += ": " + reason;
    }
  }
  run->done(std::move(result));
}

void ExecProvider::list(ListDone done) {
  run({"list", group_}, true, std::move(done));
}

void ExecProvider::add(int n, ListDone done) {
  if (n <= 0) {
    return asio::post(io_, [done = std::move(done)] { done(std::vector<Instance>{}); });
  }
  run({"add", group_, std::to_string(n)}, true, std::move(done));
}

void ExecProvider::remove(std::vector<Instance> instances, RemoveDone done) {
  if (instances.empty()) return asio::post(io_, [done = std::move(done)] { done(std::nullopt); });
  std::vector<std::string> args{"remove", group_};
  for (const auto& instance : instances) args.push_back(instance.id);
  run(std::move(args), false, [done = std::move(done)](ProviderResult<std::vector<Instance>> r) {
    if (auto* error = std::get_if<ProviderError>(&r)) return done(std::move(*error));
    done(std::nullopt);
  });
}

void ExecProvider::shutdown() {
  shut_down_ = true;
  for (auto& [serial, run] : runs_) {
    if (!run->killed_for.empty()) continue;
    run->killed_for = "cancelled: tidegate is stopping";
    run->retryable = false;
    run->process->kill();
  }
}

}  // namespace

std::unique_ptr<Provider> make_exec_provider(const ProviderSpec& spec,
                                             const ProviderContext& context) {
  return std::make_unique<ExecProvider>(spec, context);
}

}  // namespace tg::scaling
