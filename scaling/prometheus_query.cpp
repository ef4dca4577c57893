// Prometheus's instant query: the HTTP exchange is HttpClient's; this file only builds the
// URL and insists on exactly one value, because a policy compares one number.
#include "scaling/prometheus_query.h"

#include <boost/json.hpp>
#include <charconv>
#include <optional>
#include <stdexcept>

namespace tg::scaling {

namespace json = boost::json;

namespace {

// Prometheus writes values with Go's FormatFloat: "0.75", "1e+06", "NaN", "+Inf", "-Inf".
PrometheusResult sample_value(const json::value& pair) {
  const auto* array = pair.if_array();
  if (array == nullptr || array->size() != 2) return std::string("sample is not [time, value]");
  const json::value& v = (*array)[1];
  if (v.is_number()) return v.to_number<double>();
  if (!v.is_string()) return std::string("sample value is not a string");
  std::string_view text = v.as_string();
  // std::from_chars takes "inf" and "nan" in any case but no leading '+'.
  if (text.starts_with('+')) text.remove_prefix(1);
  double out = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return "sample value \"" + std::string(v.as_string()) + "\" is not a number";
  }
  return out;
}

const json::value* field(const json::value& v, std::string_view name) {
  const auto* object = v.if_object();
  return object ? object->if_contains(name) : nullptr;
}

std::string text_of(const json::value* v) {
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// `errorType: error` when `answer` is Prometheus's {"status":"error"}.
std::optional<std::string> error_answer(const json::value& answer) {
  if (text_of(field(answer, "status")) != "error") return std::nullopt;
  return text_of(field(answer, "errorType")) + ": " + text_of(field(answer, "error"));
}

}  // namespace

PrometheusResult parse_prometheus_answer(std::string_view body) {
  boost::system::error_code ec;
  const json::value answer = json::parse(body, ec);
  if (ec) return "invalid JSON from Prometheus: " + ec.message();
  if (auto error = error_answer(answer)) return *std::move(error);
  const std::string status = text_of(field(answer, "status"));
  if (status != "success") return std::string("Prometheus answer has no \"status\":\"success\"");
  const json::value* data = field(answer, "data");
  const std::string type = data ? text_of(field(*data, "resultType")) : std::string();
  const json::value* result = data ? field(*data, "result") : nullptr;
  if (result == nullptr) return std::string("Prometheus answer has no data.result");
  if (type == "scalar") return sample_value(*result);
  if (type != "vector") {
    return "query returned a " + (type.empty() ? std::string("result of no type") : type) +
           "; an instant vector or a scalar is needed";
  }
  const auto* samples = result->if_array();
  if (samples == nullptr) return std::string("data.result of a vector is not an array");
  if (samples->empty()) return std::string("query returned no samples");
  if (samples->size() > 1) {
    return "query returned " + std::to_string(samples->size()) +
           " samples; aggregate it (e.g. avg(...))";
  }
  const json::value& sample = samples->front();
  if (const json::value* value = field(sample, "value")) return sample_value(*value);
  if (field(sample, "histogram")) {
    return std::string("query returned a native histogram; use histogram_quantile() or sum()");
  }
  return std::string("sample has no \"value\"");
}

PrometheusQuery::PrometheusQuery(boost::asio::io_context& io, std::string base_url,
                                 std::string query, Millis timeout, HttpClientOptions options)
    : base_url_(std::move(base_url)), timeout_(timeout), client_(io, std::move(options)) {
  if (!parse_http_url(base_url_)) {
    throw std::invalid_argument("invalid value \"" + base_url_ + "\" of \"prometheus=\"");
  }
  std::string root = base_url_;
  while (root.ends_with('/')) root.pop_back();
  url_ = root + "/api/v1/query?query=" + url_encode_component(query);
}

void PrometheusQuery::fetch(std::function<void(std::variant<double, std::string>)> done) {
  HttpRequest request;
  request.url = url_;
  request.headers = {{"Accept", "application/json"}, {"User-Agent", user_agent()}};
  client_.send(std::move(request), timeout_, [this, done = std::move(done)](HttpResult result) {
    if (auto* error = std::get_if<std::string>(&result)) {
      done(base_url_ + ": " + *error);
      return;
    }
    const auto& response = std::get<HttpResponse>(result);
    if (response.status >= 200 && response.status <= 299) {
      done(parse_prometheus_answer(response.body));
      return;
    }
    // 400, 422 and 503 carry Prometheus's own error, which says more than the status.
    boost::system::error_code ec;
    const json::value answer = json::parse(response.body, ec);
    if (auto error = ec ? std::nullopt : error_answer(answer)) {
      done(*std::move(error));
      return;
    }
    std::string message = "HTTP " + std::to_string(response.status) + " from " + base_url_;
    if (!response.body.empty()) message += ": " + body_excerpt(response.body);
    done(std::move(message));
  });
}

}  // namespace tg::scaling
