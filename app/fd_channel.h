// Messages with file descriptors over a Unix stream socket, for the privileged
// helper (privileged_helper.h): a length-prefixed payload followed by the
// descriptors in batches (SCM_RIGHTS). Blocking; both ends are tidegate.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/unique_fd.h"

namespace tg::app {

/// Sends `payload` and `fds` (which stay open here). False on a write error.
bool send_message(int socket, std::string_view payload, const std::vector<int>& fds);

/// Limits on what one message may carry. The defaults fit a conf snapshot; the
/// privileged helper takes far less from the process it serves (no descriptors).
struct MessageLimits {
  uint32_t max_payload = 256u << 20;
  uint32_t max_fds = 1u << 16;
};

/// Receives one message. False on end of input, or a malformed message or one
/// beyond `limits` (nothing of it is read then).
bool receive_message(int socket, std::string& payload, std::vector<UniqueFd>& fds,
                     MessageLimits limits = {});

/// Builds a payload: numbers and length-prefixed strings.
class WireWriter {
 public:
  void u32(uint32_t v);
  void str(std::string_view s);
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

/// Reads a payload built by WireWriter; every read is bounds-checked and a
/// short payload makes ok() false (values read then are 0 / empty).
class WireReader {
 public:
  explicit WireReader(std::string_view in) : in_(in) {}
  uint32_t u32();
  std::string str();
  bool ok() const { return ok_; }

 private:
  std::string_view in_;
  bool ok_ = true;
};

}  // namespace tg::app
