// Locations answered by the control thread (the admin API, Prometheus metrics,
// the dashboard): the worker reads the request, hands it over, and writes the
// answer back when the control thread is done.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "conf/config.h"

namespace tg::proxy {

/// A request for the control thread.
struct ControlRequest {
  conf::ControlHandler handler;
  std::string method;
  std::string location;  ///< the location's prefix ("/api")
  std::string path;      ///< the normalised URI path ($uri)
  std::string args;      ///< query string, without '?'
  std::string body;
  std::string client;  ///< the client's address (for the notice logged on a write)
};

/// What the control thread answers.
struct ControlResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  /// Extra header lines ("Name: value"), e.g. Allow on 405.
  std::vector<std::string> headers;

  /// A page that only reads: `make_body()` of `content_type` for GET and HEAD, a 405
  /// with `Allow: GET, HEAD` for any other method.
  template <typename MakeBody>
  static ControlResponse read_only(const std::string& method, std::string content_type,
                                   MakeBody&& make_body) {
    ControlResponse r;
    if (method != "GET" && method != "HEAD") {
      r.status = 405;
      r.content_type.clear();
      r.headers.push_back("Allow: GET, HEAD");
      return r;
    }
    r.content_type = std::move(content_type);
    r.body = make_body();
    return r;
  }
};

class ControlPlane {
 public:
  virtual ~ControlPlane() = default;
  /// Called on a worker thread: runs `request` on the control thread, which calls
  /// `done` there with the answer (the caller moves it back to its own thread).
  virtual void handle(ControlRequest request, std::function<void(ControlResponse)> done) = 0;
};

}  // namespace tg::proxy
