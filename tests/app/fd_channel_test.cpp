#include "app/fd_channel.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

namespace tg::app {
namespace {

struct Pair {
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    a.reset(fds[0]);
    b.reset(fds[1]);
  }
  UniqueFd a, b;
};

TEST(FdChannel, PayloadAndDescriptorsArriveInOrder) {
  Pair p;
  int pipes[300][2];
  std::vector<int> send_fds;
  for (auto& pp : pipes) {
    ASSERT_EQ(::pipe2(pp, O_CLOEXEC), 0);
    send_fds.push_back(pp[1]);  // more than one SCM_RIGHTS batch
  }
  const std::string payload(100000, 'x');
  std::thread sender([&] { EXPECT_TRUE(send_message(p.a.get(), payload, send_fds)); });
  std::string got;
  std::vector<UniqueFd> fds;
  ASSERT_TRUE(receive_message(p.b.get(), got, fds));
  sender.join();
  EXPECT_EQ(got, payload);
  ASSERT_EQ(fds.size(), 300u);
  // Each received descriptor is the write end of the matching pipe.
  for (size_t i = 0; i < 300; ++i) {
    char c = static_cast<char>('a' + i % 26);
    ASSERT_EQ(::write(fds[i].get(), &c, 1), 1);
    char r = 0;
    ASSERT_EQ(::read(pipes[i][0], &r, 1), 1);
    EXPECT_EQ(r, c);
    ::close(pipes[i][0]);
    ::close(pipes[i][1]);
  }
}

TEST(FdChannel, EndOfInputIsNotAMessage) {
  Pair p;
  p.a.reset();
  std::string got;
  std::vector<UniqueFd> fds;
  EXPECT_FALSE(receive_message(p.b.get(), got, fds));
}

TEST(FdChannel, MessagesBeyondTheLimitsAreRefused) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd r(pipe_fds[0]), w(pipe_fds[1]);
  {
    Pair p;  // a descriptor where none may come
    std::thread sender([&] { send_message(p.a.get(), "x", {w.get()}); });
    std::string got;
    std::vector<UniqueFd> fds;
    EXPECT_FALSE(receive_message(p.b.get(), got, fds, MessageLimits{1024, 0}));
    EXPECT_TRUE(fds.empty());
    p.b.reset();
    sender.join();
  }
  {
    Pair p;  // a payload larger than allowed
    const std::string big(2048, 'x');
    std::thread sender([&] { send_message(p.a.get(), big, {}); });
    std::string got;
    std::vector<UniqueFd> fds;
    EXPECT_FALSE(receive_message(p.b.get(), got, fds, MessageLimits{1024, 0}));
    EXPECT_TRUE(got.empty());
    p.b.reset();
    sender.join();
  }
  Pair p;  // within the limits
  std::thread sender([&] { send_message(p.a.get(), "ok", {}); });
  std::string got;
  std::vector<UniqueFd> fds;
  EXPECT_TRUE(receive_message(p.b.get(), got, fds, MessageLimits{1024, 0}));
  sender.join();
  EXPECT_EQ(got, "ok");
}

TEST(FdChannel, WireRoundTripAndShortInput) {
  WireWriter w;
  w.u32(7);
  w.str("hello");
  w.str("");
  WireReader r(w.bytes());
  EXPECT_EQ(r.u32(), 7u);
  EXPECT_EQ(r.str(), "hello");
  EXPECT_EQ(r.str(), "");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.u32(), 0u);
  EXPECT_FALSE(r.ok());
  WireReader cut(std::string_view(w.bytes()).substr(0, 6));
  cut.u32();
  EXPECT_EQ(cut.str(), "");
  EXPECT_FALSE(cut.ok());
}

}  // namespace
}  // namespace tg::app
