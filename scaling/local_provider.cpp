#include "scaling/local_provider.h"
#include "scaling/provider_params.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <system_error>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/error_log.h"
#include "common/unique_fd.h"
#include "scaling/child_process.h"

namespace tg::scaling {

namespace asio = boost::asio;

namespace {

constexpr const char* kShell = "/bin/sh";
// The kernel may offer a port one of our children was given but has not bound yet:
// ask again, up to this many times.
constexpr int kEphemeralTries = 64;

struct PortRange {
  int first = 0, last = 0;  ///< 0, 0: the kernel's ephemeral ports
};

PortRange parse_ports(const std::string& value) {
  const auto bad = [&] {
    return std::invalid_argument("invalid value \"" + value + "\" of \"ports=\"");
  };
  const auto number = [&](std::string_view text) {
    int n = 0;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || p != text.data() + text.size() || n < 1 || n > 65535) throw bad();
    return n;
  };
  const auto dash = value.find('-');
  const std::string_view text(value);
  PortRange range{number(text.substr(0, dash)), 0};
  range.last = dash == std::string::npos ? range.first : number(text.substr(dash + 1));
  if (range.last < range.first) throw bad();
  return range;
}

// Whether nothing listens on `port` now (any address). SO_REUSEADDR as servers set it,
// so a connection lingering in TIME_WAIT does not make the port look taken.
bool port_free(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  const int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  return ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

// A port the kernel would give a new listener on 127.0.0.1, or 0.
int ephemeral_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 0;
  }
  return ntohs(addr.sin_port);
}

// "30s" when whole seconds, else "1500ms": as a conf would write it.
std::string duration_text(Millis d) {
  return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + "s"
                               : std::to_string(d.count()) + "ms";
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

class LocalProvider final : public Provider {
 public:
  LocalProvider(const ProviderSpec& spec, const ProviderContext& context);
  ~LocalProvider() override;
  std::string type() const override { return "local"; }
  bool instances_end_with_provider() const override { return true; }
  void list(ListDone done) override;
  void add(int n, ListDone done) override;
  void remove(std::vector<Instance> instances, RemoveDone done) override;
  void shutdown() override;

 private:
  struct Child {
    Instance instance;
    int port = 0;
    bool stopping = false;  ///< terminate() sent: no longer listed, port still held
    std::unique_ptr<ChildProcess> process;
  };
  // One remove() call: done when every child it names is reaped.
  struct Removal {
    explicit Removal(asio::io_context& io) : deadline(io) {}
    RemoveDone done;
    std::set<std::string> waiting;  ///< ids
    asio::steady_timer deadline;
  };

  int pick_port();
  void stop(Child& child);
  void on_exit(std::uint64_t serial, const ExitStatus& status);
  void finish_removal(std::uint64_t serial, std::optional<ProviderError> error);
  template <class Done, class Result>
  void complete(Done done, Result result) {
    asio::post(io_, [done = std::move(done), result = std::move(result)]() mutable {
      done(std::move(result));
    });
  }

  asio::io_context& io_;
  std::string command_;
  std::string host_ = "127.0.0.1";
  PortRange ports_;
  Millis stop_timeout_{5000};
  Millis timeout_{30000};
  bool shut_down_ = false;
  int next_port_ = 0;  ///< where the search in ports_ resumes (round robin)
  std::uint64_t next_serial_ = 0;
  std::map<std::uint64_t, Child> children_;
  std::map<std::uint64_t, std::shared_ptr<Removal>> removals_;
};

LocalProvider::LocalProvider(const ProviderSpec& spec, const ProviderContext& context)
    : io_(context.control) {
  check_parameters(spec, {"command", "host", "ports", "stop_timeout", "timeout"});
  command_ = required_param(spec, "command");
  if (const auto h = spec.param("host")) host_ = *h;
  if (const auto p = spec.param("ports")) ports_ = parse_ports(*p);
  if (const auto t = spec.param("stop_timeout"))
    stop_timeout_ = provider_duration("stop_timeout", *t);
  if (const auto t = spec.param("timeout")) timeout_ = provider_duration("timeout", *t);
  if (host_.find(':') != std::string::npos && host_.front() != '[') host_ = "[" + host_ + "]";
  next_port_ = ports_.first;
}

LocalProvider::~LocalProvider() {
  // All at once: each ChildProcess's destructor then reaps a child already dying
  // instead of killing and waiting for one after another.
  for (auto& [serial, child] : children_) child.process->kill();
}

void LocalProvider::list(ListDone done) {
  std::vector<Instance> instances;
  for (const auto& [serial, child] : children_) {
    if (!child.stopping) instances.push_back(child.instance);
  }
  complete(std::move(done), ProviderResult<std::vector<Instance>>(std::move(instances)));
}

int LocalProvider::pick_port() {
  std::set<int> held;
  for (const auto& [serial, child] : children_) held.insert(child.port);
  if (ports_.first == 0) {
    for (int i = 0; i < kEphemeralTries; ++i) {
      const int port = ephemeral_port();
      if (port != 0 && !held.contains(port)) return port;
    }
    return 0;
  }
  const int size = ports_.last - ports_.first + 1;
  for (int i = 0; i < size; ++i) {
    const int port = next_port_;
    next_port_ = port == ports_.last ? ports_.first : port + 1;
    if (!held.contains(port) && port_free(port)) return port;
  }
  return 0;
}

void LocalProvider::add(int n, ListDone done) {
  using Result = ProviderResult<std::vector<Instance>>;
  if (shut_down_) {
    return complete(std::move(done), Result(ProviderError{"local provider: shut down", false}));
  }
  std::vector<Instance> added;
  std::vector<std::uint64_t> started;
  std::optional<ProviderError> error;
  for (int i = 0; i < n && !error; ++i) {
    const int port = pick_port();
    if (port == 0) {
      error = ProviderError{ports_.first == 0 ? "local provider: no free ephemeral port"
                                              : "local provider: no free port in " +
                                                    std::to_string(ports_.first) + "-" +
                                                    std::to_string(ports_.last)};
      break;
    }
    // exec: the pid we get is the command's, so `$$` in the shell is the instance's id.
    std::string command = replace_all(command_, "{port}", std::to_string(port));
    command = replace_all(std::move(command), "{id}", "local-$$");
    const std::uint64_t serial = next_serial_++;
    try {
      auto process = std::make_unique<ChildProcess>(
          io_, std::vector<std::string>{kShell, "-c", "exec " + command},
          ChildOptions{.own_group = true},
          [this, serial](const ExitStatus& status) { on_exit(serial, status); });
      Instance instance{"local-" + std::to_string(process->pid()),
                        host_ + ":" + std::to_string(port)};
      added.push_back(instance);
      started.push_back(serial);
      children_.emplace(serial, Child{std::move(instance), port, false, std::move(process)});
    } catch (const std::system_error& e) {
      error = ProviderError{std::string("local provider: ") + e.what()};
    }
  }
  if (error) {
    // All or nothing: what this call started would otherwise run unreported until the
    // next list().
    for (const auto serial : started) {
      Child& child = children_.at(serial);
      child.stopping = true;
      child.process->kill();
    }
    return complete(std::move(done), Result(std::move(*error)));
  }
  complete(std::move(done), Result(std::move(added)));
}

void LocalProvider::stop(Child& child) {
  if (child.stopping) return;
  child.stopping = true;
  child.process->terminate(stop_timeout_);
}

void LocalProvider::remove(std::vector<Instance> instances, RemoveDone done) {
  const std::uint64_t serial = next_serial_++;
  auto removal = std::make_shared<Removal>(io_);
  removal->done = std::move(done);
  for (const auto& instance : instances) {
    for (auto& [key, child] : children_) {
      if (child.instance.id != instance.id) continue;
      removal->waiting.insert(instance.id);
      stop(child);
    }
  }
  if (removal->waiting.empty()) return complete(std::move(removal->done), std::nullopt);
  removal->deadline.expires_after(timeout_);
  removal->deadline.async_wait([this, serial, weak = std::weak_ptr<Removal>(removal)](
                                   const boost::system::error_code& ec) {
    if (ec || weak.expired()) return;  // done, or the provider is gone
    finish_removal(
        serial, ProviderError{"local provider: remove timed out after " + duration_text(timeout_)});
  });
  removals_.emplace(serial, std::move(removal));
}

void LocalProvider::finish_removal(std::uint64_t serial, std::optional<ProviderError> error) {
  const auto it = removals_.find(serial);
  if (it == removals_.end()) return;
  std::shared_ptr<Removal> removal = std::move(it->second);
  removals_.erase(it);
  removal->deadline.cancel();
  complete(std::move(removal->done), std::move(error));
}

void LocalProvider::on_exit(std::uint64_t serial, const ExitStatus& status) {
  const auto it = children_.find(serial);
  if (it == children_.end()) return;
  const std::string id = it->second.instance.id;
  if (it->second.stopping) {
    log(LogLevel::kInfo, "local provider: instance " + id + " stopped (" + status.text() + ")");
  } else {
    log(LogLevel::kWarn, "local provider: instance " + id + " " + status.text());
  }
  children_.erase(it);  // destroys the ChildProcess calling us: it allows that
  std::vector<std::uint64_t> finished;
  for (auto& [key, removal] : removals_) {
    if (removal->waiting.erase(id) != 0 && removal->waiting.empty()) finished.push_back(key);
  }
  for (const auto key : finished) finish_removal(key, std::nullopt);
}

void LocalProvider::shutdown() {
  shut_down_ = true;
  for (auto& [serial, child] : children_) stop(child);
}

}  // namespace

std::unique_ptr<Provider> make_local_provider(const ProviderSpec& spec,
                                              const ProviderContext& context) {
  return std::make_unique<LocalProvider>(spec, context);
}

}  // namespace tg::scaling
