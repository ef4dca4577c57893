// The exec provider against small shell scripts written per test; and the ChildProcess
// guarantees it relies on (descriptors closed, output capped). Every wait is bounded.
#include "scaling/exec_provider.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include "common/unique_fd.h"
#include "scaling/child_process.h"
#include "tests/scaling/child_test_support.h"

namespace tg::scaling {
namespace {

using namespace std::chrono_literals;
using child_test::process_alive;
using Clock = std::chrono::steady_clock;
using ListResult = ProviderResult<std::vector<Instance>>;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ExecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = child_test::make_temp_dir("tg-exec");
    ASSERT_FALSE(dir_.empty());
  }

  void TearDown() override {
    provider_.reset();
    child_test::expect_no_child_left();
    std::filesystem::remove_all(dir_);
  }

  // Writes an executable script that records its arguments, one a line, then runs `body`.
  std::string script(const std::string& body) {
    const std::string path = dir_ + "/scale";
    std::ofstream(path) << "#!/bin/sh\nprintf '%s\\n' \"$@\" > " << dir_ << "/args\n" << body;
    ::chmod(path.c_str(), 0755);
    return path;
  }

  Provider& make(const std::string& body, std::string timeout = "5s") {
    provider_ = make_exec_provider(
        ProviderSpec{"exec", {{"command", script(body)}, {"timeout", std::move(timeout)}}},
        ProviderContext{io_, "app"});
    return *provider_;
  }

  std::string args() { return read_file(dir_ + "/args"); }

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

  ListResult wait_list(const std::function<void(Provider::ListDone)>& call) {
    std::optional<ListResult> result;
    call([&](ListResult r) { result = std::move(r); });
    EXPECT_FALSE(result) << "completed inline";
    EXPECT_TRUE(run_until([&] { return result.has_value(); }));
    return result.value_or(ProviderError{"no completion"});
  }
  ListResult list() {
    return wait_list([&](auto done) { provider_->list(std::move(done)); });
  }
  ListResult add(int n) {
    return wait_list([&](auto done) { provider_->add(n, std::move(done)); });
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

  static ProviderError error_of(const ListResult& result) {
    if (const auto* e = std::get_if<ProviderError>(&result)) return *e;
    ADD_FAILURE() << "succeeded";
    return {};
  }

  boost::asio::io_context io_;
  std::unique_ptr<Provider> provider_;
  std::string dir_;
};

TEST_F(ExecTest, ListPassesTheGroupAndParsesInstances) {
  make(R"(echo '{"instances":[{"id":"i-1","address":"10.0.0.1:80"},)"
       R"({"id":"i-2","address":"10.0.0.2:80"}]}')"
       "\n");
  const auto result = list();
  ASSERT_TRUE(std::holds_alternative<std::vector<Instance>>(result)) << error_of(result).message;
  EXPECT_EQ(std::get<std::vector<Instance>>(result),
            (std::vector<Instance>{{"i-1", "10.0.0.1:80"}, {"i-2", "10.0.0.2:80"}}));
  EXPECT_EQ(args(), "list\napp\n");
}

TEST_F(ExecTest, AddPassesTheCountAndAcceptsABareArray) {
  make(R"(echo '[{"id":"i-3","address":"10.0.0.3:8080"}]')"
       "\n");
  const auto result = add(2);
  ASSERT_TRUE(std::holds_alternative<std::vector<Instance>>(result)) << error_of(result).message;
  EXPECT_EQ(std::get<std::vector<Instance>>(result),
            (std::vector<Instance>{{"i-3", "10.0.0.3:8080"}}));
  EXPECT_EQ(args(), "add\napp\n2\n");
}

TEST_F(ExecTest, RemovePassesEveryIdAndIgnoresStdout) {
  make("echo 'not json'\n");
  EXPECT_EQ(remove({{"i-1", "10.0.0.1:80"}, {"i-2", "10.0.0.2:80"}}), std::nullopt);
  EXPECT_EQ(args(), "remove\napp\ni-1\ni-2\n");
}

TEST_F(ExecTest, RemoveOfNothingRunsNothing) {
  make("");
  EXPECT_EQ(remove({}), std::nullopt);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/args"));
}

TEST_F(ExecTest, NonZeroExitIsARetryableErrorWithTheFirstStderrLine) {
  make("echo 'quota exceeded' >&2\necho 'second line' >&2\nexit 3\n");
  const auto error = error_of(add(2));
  EXPECT_EQ(error.message,
            "exec provider: \"" + dir_ + "/scale add app 2\" exited with status 3: quota exceeded");
  EXPECT_TRUE(error.retryable);
}

TEST_F(ExecTest, ExitStatusTwoIsNotRetryable) {
  make("echo 'no such group' >&2\nexit 2\n");
  const auto error = remove({{"i-1", "10.0.0.1:80"}});
  ASSERT_TRUE(error);
  EXPECT_EQ(error->message, "exec provider: \"" + dir_ +
                                "/scale remove app i-1\" exited with status 2: no such group");
  EXPECT_FALSE(error->retryable);
}

TEST_F(ExecTest, DeathBySignalIsAnError) {
  make("kill -KILL $$\n");
  EXPECT_EQ(error_of(list()).message,
            "exec provider: \"" + dir_ + "/scale list app\" killed by signal 9 (SIGKILL)");
}

TEST_F(ExecTest, InvalidJsonIsAnError) {
  make("echo '{\"instances\": [' \n");
  const auto error = error_of(list());
  EXPECT_EQ(
      error.message.rfind("exec provider: \"" + dir_ + "/scale list app\" printed invalid JSON", 0),
      0u)
      << error.message;
  EXPECT_TRUE(error.retryable);
}

TEST_F(ExecTest, MissingFieldIsAnError) {
  make(R"(echo '{"instances":[{"id":"i-1"}]}')"
       "\n");
  EXPECT_EQ(
      error_of(list()).message,
      "exec provider: \"" + dir_ + "/scale list app\" printed instance 0 without \"address\"");
}

TEST_F(ExecTest, OutputWithoutInstancesIsAnError) {
  make(R"(echo '{"servers":[]}')"
       "\n");
  EXPECT_EQ(error_of(list()).message,
            "exec provider: \"" + dir_ + "/scale list app\" printed no \"instances\" array");
}

TEST_F(ExecTest, RunPastTheTimeoutIsKilledWithWhatItStarted) {
  make("echo 'still working' >&2\nsleep 30 &\necho $! > " + dir_ + "/sleep\nwait\n", "1s");
  const auto start = Clock::now();
  const auto error = error_of(list());
  const auto took = Clock::now() - start;
  EXPECT_EQ(error.message,
            "exec provider: \"" + dir_ + "/scale list app\" timed out after 1s: still working");
  EXPECT_TRUE(error.retryable);
  EXPECT_GE(took, 1s);
  EXPECT_LT(took, 3s);
  const pid_t sleep_pid = std::stoi(read_file(dir_ + "/sleep"));
  EXPECT_TRUE(run_until([&] { return !process_alive(sleep_pid); }, 2s)) << "group not killed";
}

TEST_F(ExecTest, LargeStderrDoesNotBlockTheCommand) {
  // 256 KiB on stderr: more than a pipe holds and than is kept.
  make("head -c 262144 /dev/zero | tr '\\0' x >&2\necho '[]'\n");
  const auto result = list();
  ASSERT_TRUE(std::holds_alternative<std::vector<Instance>>(result)) << error_of(result).message;
  EXPECT_TRUE(std::get<std::vector<Instance>>(result).empty());
}

TEST_F(ExecTest, MissingExecutableFailsTheCall) {
  provider_ = make_exec_provider(ProviderSpec{"exec", {{"command", dir_ + "/absent"}}},
                                 ProviderContext{io_, "app"});
  const auto error = error_of(list());
  EXPECT_EQ(
      error.message.rfind("exec provider: \"" + dir_ + "/absent list app\" could not start", 0), 0u)
      << error.message;
}

TEST_F(ExecTest, ShutdownCancelsRunsInFlight) {
  make("sleep 30\n");
  std::optional<ListResult> result;
  provider_->list([&](ListResult r) { result = std::move(r); });
  ASSERT_TRUE(run_until([&] { return std::filesystem::exists(dir_ + "/args"); }));
  provider_->shutdown();
  ASSERT_TRUE(run_until([&] { return result.has_value(); }, 2s));
  const auto error = error_of(*result);
  EXPECT_FALSE(error.retryable);
  EXPECT_NE(error.message.find("cancelled"), std::string::npos) << error.message;
  EXPECT_FALSE(error_of(add(1)).retryable) << "refused after shutdown";
}

TEST_F(ExecTest, BadParametersThrow) {
  const auto message = [&](std::vector<std::pair<std::string, std::string>> params) {
    try {
      make_exec_provider(ProviderSpec{"exec", std::move(params)}, ProviderContext{io_, "app"});
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  EXPECT_EQ(message({{"timeout", "1s"}}), "provider \"exec\" needs command=");
  EXPECT_EQ(message({{"command", "/x"}, {"shell", "bash"}}),
            "unknown parameter \"shell\" of provider \"exec\"");
  EXPECT_EQ(message({{"command", "/x"}, {"timeout", "-1"}}),
            "invalid value \"-1\" of \"timeout=\"");
}

using ChildProcessTest = ExecTest;

TEST_F(ChildProcessTest, ChildInheritsNoDescriptorAboveStderr) {
  // Like tidegate's listening sockets: open, and not close-on-exec.
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  std::optional<ExitStatus> status;
  ChildProcess child(io_, {"/bin/ls", "/proc/self/fd"}, ChildOptions{.capture_stdout = true},
                     [&](const ExitStatus& s) { status = s; });
  ASSERT_TRUE(run_until([&] { return status.has_value(); }));
  EXPECT_TRUE(status->success()) << status->text();
  EXPECT_EQ(child.captured_stdout(), "0\n1\n2\n3\n") << "3 is ls's own directory";
}

TEST_F(ChildProcessTest, CapturedOutputIsCappedAndTheChildStillFinishes) {
  std::optional<ExitStatus> status;
  ChildProcess child(
      io_, {"/bin/sh", "-c", "head -c 300000 /dev/zero; echo err >&2; exit 4"},
      ChildOptions{.capture_stdout = true, .capture_stderr = true, .stdout_limit = 1000},
      [&](const ExitStatus& s) { status = s; });
  ASSERT_TRUE(run_until([&] { return status.has_value(); }));
  EXPECT_EQ(status->text(), "exited with status 4");
  EXPECT_EQ(child.captured_stdout().size(), 1000u);
  EXPECT_EQ(child.captured_stderr(), "err\n");
}

TEST_F(ChildProcessTest, TerminateEscalatesToSigkillAfterTheGrace) {
  std::optional<ExitStatus> status;
  ChildProcess child(io_, {"/bin/sh", "-c", "trap '' TERM; echo; exec sleep 30"},
                     ChildOptions{.own_group = true, .capture_stdout = true},
                     [&](const ExitStatus& s) { status = s; });
  ASSERT_TRUE(run_until([&] { return !child.captured_stdout().empty(); }));
  child.terminate(200ms);
  ASSERT_TRUE(run_until([&] { return status.has_value(); }, 2s));
  EXPECT_EQ(status->signal, SIGKILL);
  EXPECT_FALSE(child.running());
}

TEST_F(ChildProcessTest, DestroyingKillsAndReapsWithoutCallingTheHandler) {
  bool called = false;
  pid_t pid = 0;
  {
    ChildProcess child(io_, {"/bin/sleep", "30"}, ChildOptions{},
                       [&](const ExitStatus&) { called = true; });
    pid = child.pid();
  }
  EXPECT_FALSE(process_alive(pid));
  run_until([] { return false; }, 50ms);
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace tg::scaling
