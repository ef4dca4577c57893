// The local provider with real children: Python's http.server as the backend, the
// shell for the odd ones (ignores SIGTERM, exits at once). Every wait is bounded.
#include "scaling/local_provider.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include "common/unique_fd.h"
#include "tests/scaling/child_test_support.h"

namespace tg::scaling {
namespace {

using namespace std::chrono_literals;
using child_test::process_alive;
using Clock = std::chrono::steady_clock;
using ListResult = ProviderResult<std::vector<Instance>>;

const std::string kHttpServer = "/usr/bin/python3 -m http.server {port} --bind 127.0.0.1";

bool accepts(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

int port_of(const Instance& instance) {
  return std::stoi(instance.address.substr(instance.address.rfind(':') + 1));
}

pid_t pid_of(const Instance& instance) {
  return std::stoi(instance.id.substr(std::string("local-").size()));
}

class LocalProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = child_test::make_temp_dir("tg-local");
    ASSERT_FALSE(dir_.empty());
  }

  void TearDown() override {
    provider_.reset();
    child_test::expect_no_child_left();
    std::filesystem::remove_all(dir_);
  }

  Provider& make(std::vector<std::pair<std::string, std::string>> params) {
    provider_ =
        make_local_provider(ProviderSpec{"local", std::move(params)}, ProviderContext{io_, "app"});
    return *provider_;
  }

  // Runs the loop until `done` holds or `limit` passes; never longer.
  bool run_until(const std::function<bool()>& done, Clock::duration limit = 5s) {
    const auto deadline = Clock::now() + limit;
    while (!done()) {
      if (Clock::now() >= deadline) return false;
      io_.restart();
      io_.run_for(10ms);
      if (io_.stopped()) std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  ListResult list() {
    std::optional<ListResult> result;
    provider_->list([&](ListResult r) { result = std::move(r); });
    EXPECT_FALSE(result) << "completed inline";
    EXPECT_TRUE(run_until([&] { return result.has_value(); }));
    return result.value_or(ProviderError{"no completion"});
  }

  std::vector<Instance> add(int n) {
    std::optional<ListResult> result;
    provider_->add(n, [&](ListResult r) { result = std::move(r); });
    EXPECT_FALSE(result) << "completed inline";
    EXPECT_TRUE(run_until([&] { return result.has_value(); }));
    if (!result || !std::holds_alternative<std::vector<Instance>>(*result)) {
      ADD_FAILURE() << "add failed";
      return {};
    }
    return std::get<std::vector<Instance>>(*result);
  }

  std::optional<ProviderError> remove(std::vector<Instance> instances) {
    bool called = false;
    std::optional<ProviderError> error;
    provider_->remove(std::move(instances), [&](std::optional<ProviderError> e) {
      called = true;
      error = std::move(e);
    });
    EXPECT_FALSE(called) << "completed inline";
    EXPECT_TRUE(run_until([&] { return called; }));
    return error;
  }

  std::vector<Instance> listed() {
    auto result = list();
    return std::holds_alternative<std::vector<Instance>>(result)
               ? std::get<std::vector<Instance>>(result)
               : std::vector<Instance>{};
  }

  bool serving(const std::vector<Instance>& instances) {
    return run_until([&] {
      for (const auto& i : instances) {
        if (!accepts(port_of(i))) return false;
      }
      return true;
    });
  }

  boost::asio::io_context io_;
  std::unique_ptr<Provider> provider_;
  std::string dir_;
};

TEST_F(LocalProviderTest, AddStartsServersOnDistinctPortsThatAcceptConnections) {
  make({{"command", kHttpServer}});
  const auto added = add(2);
  ASSERT_EQ(added.size(), 2u);
  EXPECT_NE(port_of(added[0]), port_of(added[1]));
  for (const auto& i : added) {
    EXPECT_EQ(i.address.rfind("127.0.0.1:", 0), 0u) << i.address;
    EXPECT_TRUE(process_alive(pid_of(i))) << i.id;
  }
  EXPECT_TRUE(serving(added));
  const auto now = listed();
  EXPECT_EQ(std::set<std::string>({now.at(0).id, now.at(1).id}),
            std::set<std::string>({added[0].id, added[1].id}));
}

TEST_F(LocalProviderTest, RemoveStopsOnlyTheGivenInstance) {
  make({{"command", kHttpServer}});
  const auto added = add(2);
  ASSERT_EQ(added.size(), 2u);
  ASSERT_TRUE(serving(added));
  EXPECT_EQ(remove({added[0]}), std::nullopt);
  EXPECT_FALSE(process_alive(pid_of(added[0])));
  EXPECT_FALSE(accepts(port_of(added[0])));
  EXPECT_TRUE(accepts(port_of(added[1])));
  EXPECT_EQ(listed(), std::vector<Instance>{added[1]});
}

TEST_F(LocalProviderTest, RemoveOfUnknownInstanceSucceeds) {
  make({{"command", kHttpServer}});
  EXPECT_EQ(remove({Instance{"local-1", "127.0.0.1:1"}}), std::nullopt);
}

TEST_F(LocalProviderTest, ChildKilledFromOutsideDisappearsFromList) {
  make({{"command", kHttpServer}});
  const auto added = add(2);
  ASSERT_EQ(added.size(), 2u);
  ASSERT_EQ(::kill(pid_of(added[0]), SIGKILL), 0);
  EXPECT_TRUE(run_until([&] { return listed().size() == 1; }));
  EXPECT_EQ(listed(), std::vector<Instance>{added[1]});
}

TEST_F(LocalProviderTest, ChildExitingOnItsOwnIsLoggedAndForgotten) {
  make({{"command", "/bin/sh -c 'exit 1'"}});
  testing::internal::CaptureStderr();
  const auto added = add(1);
  const bool gone = run_until([&] { return listed().empty(); });
  const std::string log = testing::internal::GetCapturedStderr();
  ASSERT_EQ(added.size(), 1u);
  EXPECT_TRUE(gone);
  EXPECT_NE(log.find("[warn]"), std::string::npos) << log;
  EXPECT_NE(log.find("local provider: instance " + added[0].id + " exited with status 1"),
            std::string::npos)
      << log;
}

TEST_F(LocalProviderTest, CommandGetsThePortAndTheInstanceId) {
  make({{"command", "/usr/bin/env PORT={port} ID={id} /bin/sh -c 'echo $PORT $ID > " + dir_ +
                        "/seen; exec sleep 100'"}});
  const auto added = add(1);
  ASSERT_EQ(added.size(), 1u);
  std::string seen;
  ASSERT_TRUE(run_until([&] {
    std::ifstream in(dir_ + "/seen");
    return std::getline(in, seen) && !seen.empty();
  }));
  EXPECT_EQ(seen, std::to_string(port_of(added[0])) + " " + added[0].id);
}

TEST_F(LocalProviderTest, HostIsTheAddressReported) {
  make({{"command", "/bin/sleep 100"}, {"host", "10.1.2.3"}});
  const auto added = add(1);
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0].address.rfind("10.1.2.3:", 0), 0u) << added[0].address;
}

TEST_F(LocalProviderTest, PortsInTheRangeAreNotReusedWhileHeld) {
  int first = 0;  // two consecutive ports nothing listens on
  for (int port = 20000; port < 30000 && first == 0; port += 7) {
    UniqueFd a(::socket(AF_INET, SOCK_STREAM, 0)), b(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool free_a = ::bind(a.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    addr.sin_port = htons(static_cast<uint16_t>(port + 1));
    if (free_a && ::bind(b.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      first = port;
    }
  }
  ASSERT_NE(first, 0);
  make({{"command", "/bin/sleep 100"},
        {"ports", std::to_string(first) + "-" + std::to_string(first + 1)}});
  const auto added = add(2);
  ASSERT_EQ(added.size(), 2u);
  EXPECT_EQ(std::set<int>({port_of(added[0]), port_of(added[1])}),
            std::set<int>({first, first + 1}));

  std::optional<ListResult> full;
  provider_->add(1, [&](ListResult r) { full = std::move(r); });
  ASSERT_TRUE(run_until([&] { return full.has_value(); }));
  ASSERT_TRUE(std::holds_alternative<ProviderError>(*full));
  EXPECT_EQ(
      std::get<ProviderError>(*full).message,
      "local provider: no free port in " + std::to_string(first) + "-" + std::to_string(first + 1));

  EXPECT_EQ(remove({added[0]}), std::nullopt);
  const auto again = add(1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(port_of(again[0]), port_of(added[0]));
}

TEST_F(LocalProviderTest, ChildIgnoringSigtermIsKilledAfterStopTimeout) {
  // The inner shell ignores TERM (so does its sleep) and says so once the trap is set.
  make({{"command", "/bin/sh -c 'trap \"\" TERM; sleep 100 & echo $! > " + dir_ + "/sleep; wait'"},
        {"stop_timeout", "300ms"}});
  const auto added = add(1);
  ASSERT_EQ(added.size(), 1u);
  pid_t sleep_pid = 0;
  ASSERT_TRUE(run_until([&] {
    std::ifstream in(dir_ + "/sleep");
    return static_cast<bool>(in >> sleep_pid);
  }));
  const auto start = Clock::now();
  EXPECT_EQ(remove(added), std::nullopt);
  const auto took = Clock::now() - start;
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 3s);
  EXPECT_FALSE(process_alive(pid_of(added[0])));
  EXPECT_TRUE(run_until([&] { return !process_alive(sleep_pid); }, 2s)) << "group not killed";
  EXPECT_TRUE(listed().empty());
}

TEST_F(LocalProviderTest, RemovePastTimeoutFailsRetryably) {
  make({{"command", "/bin/sh -c 'trap \"\" TERM; echo > " + dir_ + "/ready; sleep 100'"},
        {"stop_timeout", "2s"},
        {"timeout", "200ms"}});
  const auto added = add(1);
  ASSERT_EQ(added.size(), 1u);
  ASSERT_TRUE(run_until([&] { return std::filesystem::exists(dir_ + "/ready"); }));
  const auto error = remove(added);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->message, "local provider: remove timed out after 200ms");
  EXPECT_TRUE(error->retryable);
  EXPECT_TRUE(listed().empty()) << "an instance being stopped is not listed";
}

TEST_F(LocalProviderTest, ShutdownStopsEveryChildAndRefusesAdd) {
  make({{"command", kHttpServer}});
  const auto added = add(2);
  ASSERT_EQ(added.size(), 2u);
  ASSERT_TRUE(serving(added));
  provider_->shutdown();
  EXPECT_TRUE(run_until(
      [&] { return !process_alive(pid_of(added[0])) && !process_alive(pid_of(added[1])); }));
  EXPECT_FALSE(accepts(port_of(added[0])));
  EXPECT_FALSE(accepts(port_of(added[1])));
  EXPECT_TRUE(listed().empty());
  std::optional<ListResult> refused;
  provider_->add(1, [&](ListResult r) { refused = std::move(r); });
  ASSERT_TRUE(run_until([&] { return refused.has_value(); }));
  EXPECT_TRUE(std::holds_alternative<ProviderError>(*refused));
}

TEST_F(LocalProviderTest, DestroyingTheProviderKillsItsChildren) {
  make({{"command", "/bin/sh -c 'trap \"\" TERM; sleep 100'"}});
  const auto added = add(2);
  ASSERT_EQ(added.size(), 2u);
  provider_.reset();
  EXPECT_FALSE(process_alive(pid_of(added[0])));
  EXPECT_FALSE(process_alive(pid_of(added[1])));
}

TEST_F(LocalProviderTest, BadParametersThrow) {
  const auto message = [&](std::vector<std::pair<std::string, std::string>> params) {
    try {
      make(std::move(params));
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  EXPECT_EQ(message({{"host", "127.0.0.1"}}), "provider \"local\" needs command=");
  EXPECT_EQ(message({{"command", "x"}, {"color", "red"}}),
            "unknown parameter \"color\" of provider \"local\"");
  EXPECT_EQ(message({{"command", "x"}, {"ports", "9000-8000"}}),
            "invalid value \"9000-8000\" of \"ports=\"");
  EXPECT_EQ(message({{"command", "x"}, {"ports", "0-10"}}), "invalid value \"0-10\" of \"ports=\"");
  EXPECT_EQ(message({{"command", "x"}, {"stop_timeout", "soon"}}),
            "invalid value \"soon\" of \"stop_timeout=\"");
}

}  // namespace
}  // namespace tg::scaling
