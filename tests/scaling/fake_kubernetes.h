// A fake Kubernetes API server over HTTPS for the kubernetes provider's tests. It keeps
// what the real one would: a Deployment's replicas and resourceVersion, its pods with IPs
// and deletion costs, ready after a delay, the ReplicaSet's choice of pods to delete,
// Status answers for errors; it checks the bearer token and records every request.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "scaling/spec.h"
#include "tests/scaling/fake_http_server.h"

namespace tg::scaling {

/// The 409 Conflict message of a scale PUT under an outdated resourceVersion.
inline const std::string kConflict =
    "Operation cannot be fulfilled on deployments.apps \"api\": the object has been modified; "
    "please apply your changes to the latest version and try again";

/// A pod of the fake's Deployment.
struct Pod {
  std::string name, ip;
  std::chrono::steady_clock::time_point ready_at;
  long cost = 0;  ///< controller.kubernetes.io/pod-deletion-cost
  /// Whether its readiness delay has passed.
  bool ready() const { return std::chrono::steady_clock::now() >= ready_at; }
};

/// The API server of namespace `ns`, Deployment `deployment`, Service `service`.
class FakeKubernetes {
 public:
  /// Serves HTTPS with `tls`'s certificate on 127.0.0.1.
  FakeKubernetes(boost::asio::io_context& io, FakeHttpServer::Options tls);
  /// "https://127.0.0.1:PORT".
  std::string url() const { return server.url(); }
  /// The port it listens on.
  int port() const { return server.port(); }

  /// The Deployment's controllers, at once: pods come (ready after their delay) and go,
  /// the ReplicaSet's way: not ready first, then the lowest deletion cost, then the newest.
  void scale_to(int n);
  /// The pods' names, oldest first.
  std::vector<std::string> pod_names() const;
  /// How many requests of `method` had `path_part` in their path.
  int count(const std::string& method, const std::string& path_part) const;

  std::string token = "t0k3n", ns = "prod", deployment = "api", service = "api";
  int replicas = 0;
  long version = 100;
  std::vector<Pod> pods;
  int next_pod = 0;
  Millis ready_delay{0};
  std::deque<Millis> delays;                         ///< of the next pods, before ready_delay
  boost::json::array extra;                          ///< more endpoints, in a slice of their own
  std::deque<std::pair<std::string, int>> failures;  ///< {"METHOD path-part", status}
  int conflicts = 0;  ///< scale PUTs that someone else's write precedes
  bool hang = false;  ///< record requests, answer none
  FakeHttpServer server;
  std::vector<RecordedRequest>& seen = server.requests;  ///< every request, for the tests

 private:
  using Reply = std::pair<int, boost::json::value>;

  static Reply status(int code, const std::string& reason, const std::string& message);
  boost::json::value scale_object() const;
  boost::json::value slices(const std::string& selector) const;
  Reply handle(const RecordedRequest& r);
};

}  // namespace tg::scaling
