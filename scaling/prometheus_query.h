// An `autoscale` block's external metric: `metric NAME prometheus=URL query=PROMQL` is an
// instant query whose single value is the metric. Prometheus's HTTP API answers
// {"status":"success","data":{"resultType":"vector"|"scalar","result":...}} with sample
// values as strings ("0.75", "NaN", "+Inf"), or {"status":"error","errorType",..,"error"}.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <variant>

#include <boost/asio/io_context.hpp>

#include "scaling/http_client.h"
#include "scaling/spec.h"

namespace tg::scaling {

/// The metric's value, or why there is none ("query returned no samples").
using PrometheusResult = std::variant<double, std::string /*error*/>;

/// Reads an /api/v1/query answer: one vector sample's or a scalar's value (NaN and ±Inf
/// are returned as such: whether they count is the caller's policy), or the error.
PrometheusResult parse_prometheus_answer(std::string_view body);

/// One instant query against one Prometheus, fetched whenever the caller's interval says.
///
/// Destroying it aborts a fetch in flight, whose callback then never runs.
class PrometheusQuery {
 public:
  using Done = std::function<void(PrometheusResult)>;

  /// `base_url` is Prometheus's root ("http://prom:9090", or with a path prefix);
  /// throws std::invalid_argument when it is not http(s) (or `options.ca_file` is bad).
  /// timeout: 10 s per fetch.
  PrometheusQuery(boost::asio::io_context& io, std::string base_url, std::string query,
                  Millis timeout = Millis(10'000), HttpClientOptions options = {});

  /// GETs <base>/api/v1/query?query=<encoded>; `done` runs once, on the io_context.
  void fetch(std::function<void(std::variant<double, std::string /*error*/>)> done);
  /// The full URL fetched.
  const std::string& url() const { return url_; }

 private:
  std::string base_url_;
  std::string url_;
  Millis timeout_;
  HttpClient client_;  // last: destroyed first, dropping the callbacks that use `this`
};

}  // namespace tg::scaling
