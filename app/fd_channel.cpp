#include "app/fd_channel.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tg::app {
namespace {

constexpr size_t kFdsPerBatch = 200;  // under SCM_MAX_FD (253)

bool write_all(int socket, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(socket, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool read_all(int socket, char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::recv(socket, data, size, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

void put_u32(char* at, uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t get_u32(const char* at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(at[i])) << (8 * i);
  return v;
}

}  // namespace

bool send_message(int socket, std::string_view payload, const std::vector<int>& fds) {
  char header[8];
  put_u32(header, static_cast<uint32_t>(payload.size()));
  put_u32(header + 4, static_cast<uint32_t>(fds.size()));
  if (!write_all(socket, header, sizeof header) ||
      !write_all(socket, payload.data(), payload.size())) {
    return false;
  }
  for (size_t at = 0; at < fds.size(); at += kFdsPerBatch) {
    const size_t n = std::min(kFdsPerBatch, fds.size() - at);
    char byte = 'F';
    iovec iov{&byte, 1};
    std::vector<char> control(CMSG_SPACE(n * sizeof(int)));
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(n * sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), fds.data() + at, n * sizeof(int));
    ssize_t sent;
    do {
      sent = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent != 1) return false;
  }
  return true;
}

bool receive_message(int socket, std::string& payload, std::vector<UniqueFd>& fds,
                     MessageLimits limits) {
  char header[8];
  if (!read_all(socket, header, sizeof header)) return false;
  const uint32_t size = get_u32(header);
  const uint32_t count = get_u32(header + 4);
  if (size > limits.max_payload || count > limits.max_fds) return false;
  payload.resize(size);
  if (!read_all(socket, payload.data(), size)) return false;
  fds.clear();
  while (fds.size() < count) {
    const size_t n = std::min<size_t>(kFdsPerBatch, count - fds.size());
    char byte;
    iovec iov{&byte, 1};
    std::vector<char> control(CMSG_SPACE(n * sizeof(int)));
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    ssize_t got;
    do {
      got = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
    } while (got < 0 && errno == EINTR);
    if (got != 1) return false;
    size_t received = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < k; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        fds.emplace_back(fd);
        ++received;
      }
    }
    if (received != n || (msg.msg_flags & MSG_CTRUNC)) return false;
  }
  return true;
}

void WireWriter::u32(uint32_t v) {
  char b[4];
  put_u32(b, v);
  out_.append(b, 4);
}

void WireWriter::str(std::string_view s) {
  u32(static_cast<uint32_t>(s.size()));
  out_.append(s);
}

uint32_t WireReader::u32() {
  if (!ok_ || in_.size() < 4) {
    ok_ = false;
    return 0;
  }
  uint32_t v = get_u32(in_.data());
  in_.remove_prefix(4);
  return v;
}

std::string WireReader::str() {
  const uint32_t n = u32();
  if (!ok_ || in_.size() < n) {
    ok_ = false;
    return {};
  }
  std::string s(in_.substr(0, n));
  in_.remove_prefix(n);
  return s;
}

}  // namespace tg::app
