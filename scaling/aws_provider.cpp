// The aws provider: each call is one coroutine that reads like the API sequence
// (ApiProvider runs it).
#include "scaling/aws_provider.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <cstdlib>
#include <ctime>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "scaling/api_provider.h"
#include "scaling/aws_sigv4.h"
#include "scaling/provider_params.h"

namespace tg::scaling {

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using boost::property_tree::ptree;
template <class T>
using Task = asio::awaitable<T>;
using Params = std::vector<std::pair<std::string, std::string>>;

constexpr auto kRefreshAhead = std::chrono::minutes(5);  // IMDS rotates keys this early
constexpr Millis kImdsTimeout{5000};  // off EC2 the link-local address may never answer
const std::string kRolePath = "/latest/meta-data/iam/security-credentials/";
const ptree kEmpty;  // what a missing list reads as

/// One Query API: the name it signs as, its endpoint and its API version.
struct Service {
  std::string name, url, version;
};

struct Config {
  std::string group, region;
  int port = 0;
  Service autoscaling, ec2;
  std::string imds;
  Millis timeout{30000};
};

struct Member {
  std::string id, state;  // LifecycleState: Pending, InService, Terminating, ...
};

struct Group {
  int desired = 0;
  std::vector<Member> members;
};

// Throttling, failures on AWS's side, and EC2 not yet knowing what Auto Scaling launched.
bool retryable_code(const std::string& code) {
  static const std::set<std::string> kCodes = {
      "Throttling",           "ThrottlingException",
      "RequestLimitExceeded", "ScalingActivityInProgress",
      "ResourceContention",   "InternalFailure",
      "InternalError",        "ServiceUnavailable",
      "Unavailable",          "RequestExpired",
      "ExpiredToken",         "InvalidInstanceID.NotFound"};
  return kCodes.contains(code);
}

bool leaving(const Member& m) {
  return m.state.starts_with("Terminat") || m.state.starts_with("Detach");
}

// The first element named `name` below `tree`, depth first: Auto Scaling's errors are
// ErrorResponse/Error, EC2's Response/Errors/Error.
const ptree* find(const ptree& tree, const std::string& name) {
  for (const auto& [key, child] : tree) {
    if (key == name) return &child;
    if (const ptree* found = find(child, name)) return found;
  }
  return nullptr;
}

std::optional<ptree> parse_xml(const std::string& body) {
  try {
    std::istringstream in(body);
    ptree tree;
    boost::property_tree::read_xml(in, tree, boost::property_tree::xml_parser::trim_whitespace);
    return tree;
  } catch (const boost::property_tree::xml_parser_error&) {
    return std::nullopt;
  }
}

// IMDS's Expiration: "2024-05-01T12:00:00Z".
std::optional<std::chrono::system_clock::time_point> parse_utc(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr || std::string_view(end) != "Z") return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

class AwsProvider final : public ApiProvider {
 public:
  AwsProvider(const ProviderContext& context, Config config, std::optional<AwsCredentials> fixed)
      : ApiProvider(context.control, api_options("aws", config.timeout, {}, {429})),
        config_(std::move(config)),
        fixed_(std::move(fixed)) {}

  std::string type() const override { return "aws"; }

  void list(ListDone done) override { run(list_call(new_call()), std::move(done)); }
  void add(int n, ListDone done) override { run(add_call(n, new_call()), std::move(done)); }
  void remove(std::vector<Instance> instances, RemoveDone done) override {
    run(remove_call(std::move(instances), new_call()), std::move(done));
  }

 private:
  // One IMDS request: the 200 answer's body, or why not.
  Task<ProviderResult<std::string>> imds(std::string method, std::string path, Params headers,
                                         Call call) {
    HttpRequest request{method, config_.imds + path, std::move(headers), "", ""};
    const std::string what =
        "no credentials: AWS_ACCESS_KEY_ID is not set and " + method + " " + config_.imds + path;
    auto reply = co_await send(std::move(request), what, call, kImdsTimeout);
    if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
    auto& r = std::get<HttpResponse>(reply);
    if (r.status == 404 && path == kRolePath) {
      co_return error(what, "HTTP 404 (no instance role?)", false);
    }
    if (r.status != 200) co_return error(what, "HTTP " + std::to_string(r.status));
    co_return std::move(r.body);
  }

  // The environment's keys, or the instance role's from IMDSv2 (token first, then the
  // role's name, then its keys), kept until 5 minutes before they expire.
  Task<ProviderResult<AwsCredentials>> credentials(Call call) {
    if (fixed_) co_return *fixed_;
    if (role_ && std::chrono::system_clock::now() + kRefreshAhead < role_expires_) co_return *role_;
    // Braced lists stay out of co_await expressions: GCC 12 miscompiles them there.
    Params ttl = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
    auto token = co_await imds("PUT", "/latest/api/token", std::move(ttl), call);
    if (auto* e = std::get_if<ProviderError>(&token)) co_return std::move(*e);
    const Params auth = {{"X-aws-ec2-metadata-token", std::get<std::string>(token)}};
    auto roles = co_await imds("GET", kRolePath, auth, call);
    if (auto* e = std::get_if<ProviderError>(&roles)) co_return std::move(*e);
    const std::string& listed = std::get<std::string>(roles);
    const std::string role = listed.substr(0, listed.find_first_of("\r\n"));
    if (role.empty()) co_return error("", "IMDS lists no instance role", false);
    auto document = co_await imds("GET", kRolePath + role, auth, call);
    if (auto* e = std::get_if<ProviderError>(&document)) co_return std::move(*e);
    boost::system::error_code ec;
    const json::value doc = json::parse(std::get<std::string>(document), ec);
    const auto text = [&](const char* key) -> std::string {
      const json::value* v = doc.is_object() ? doc.as_object().if_contains(key) : nullptr;
      return v && v->is_string() ? std::string(v->as_string()) : "";
    };
    const auto expires = parse_utc(text("Expiration"));
    if (ec || text("Code") != "Success" || text("AccessKeyId").empty() ||
        text("SecretAccessKey").empty() || !expires) {
      co_return error("", "unusable credentials for role \"" + role +
                              "\" from IMDS: " + body_excerpt(std::get<std::string>(document)));
    }
    role_ = AwsCredentials{text("AccessKeyId"), text("SecretAccessKey"), text("Token")};
    role_expires_ = *expires;
    co_return *role_;
  }

  // One signed Query API action: its parsed answer, or AWS's error.
  Task<ProviderResult<ptree>> query(Service service, std::string action, Params params, Call call) {
    std::string body = "Action=" + action + "&Version=" + service.version;
    for (const auto& [k, v] : params) {
      body += "&" + url_encode_component(k) + "=" + url_encode_component(v);
    }
    auto creds = co_await credentials(call);
    if (auto* e = std::get_if<ProviderError>(&creds)) co_return std::move(*e);
    HttpRequest request{"POST",
                        service.url,
                        {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                         {"User-Agent", user_agent()}},
                        std::move(body),
                        ""};
    sigv4_sign_request(request, std::get<AwsCredentials>(creds), config_.region, service.name,
                       std::chrono::system_clock::now());
    auto reply = co_await send(std::move(request), action, call);
    if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
    const auto& r = std::get<HttpResponse>(reply);
    auto tree = parse_xml(r.body);
    if (r.status >= 200 && r.status <= 299) {
      if (tree) co_return std::move(*tree);
      co_return error(action, "invalid XML answer \"" + body_excerpt(r.body) + "\"");
    }
    const ptree* failed = tree ? find(*tree, "Error") : nullptr;
    const std::string code = failed ? failed->get("Code", "") : "";
    if (code.empty()) co_return http_error(action, r);
    if (code.starts_with("ExpiredToken")) role_.reset();  // fetched anew on the next call
    co_return error(
        action,
        code + ": " + failed->get("Message", "") + " (HTTP " + std::to_string(r.status) + ")",
        r.status >= 500 || retryable_code(code));
  }

  Task<ProviderResult<Group>> describe_group(Call call) {
    Params params = {{"AutoScalingGroupNames.member.1", config_.group}};
    auto answer =
        co_await query(config_.autoscaling, "DescribeAutoScalingGroups", std::move(params), call);
    if (auto* e = std::get_if<ProviderError>(&answer)) co_return std::move(*e);
    const ptree* groups = find(std::get<ptree>(answer), "AutoScalingGroups");
    for (const auto& [key, g] : groups ? *groups : kEmpty) {
      if (key != "member" || g.get("AutoScalingGroupName", "") != config_.group) continue;
      Group out;
      out.desired = g.get("DesiredCapacity", -1);
      if (out.desired < 0) {
        co_return error("DescribeAutoScalingGroups", "no DesiredCapacity");
      }
      for (const auto& [k, m] : g.get_child("Instances", kEmpty)) {
        if (k == "member")
          out.members.push_back({m.get("InstanceId", ""), m.get("LifecycleState", "")});
      }
      co_return out;
    }
    co_return error("", "no Auto Scaling group \"" + config_.group + "\" in " + config_.region,
                    false);
  }

  // The instances' private addresses with the port; one without an address is left out.
  Task<ProviderResult<std::vector<Instance>>> addresses(std::vector<std::string> ids, Call call) {
    // Without ids DescribeInstances would describe every instance of the account.
    if (ids.empty()) co_return std::vector<Instance>{};
    Params params;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      params.emplace_back("InstanceId." + std::to_string(i + 1), ids[i]);
    }
    auto answer = co_await query(config_.ec2, "DescribeInstances", std::move(params), call);
    if (auto* e = std::get_if<ProviderError>(&answer)) co_return std::move(*e);
    std::map<std::string, std::string> ip;
    const ptree* reservations = find(std::get<ptree>(answer), "reservationSet");
    for (const auto& [key, reservation] : reservations ? *reservations : kEmpty) {
      for (const auto& [k, instance] : reservation.get_child("instancesSet", kEmpty)) {
        // The instance's own privateIpAddress, not its network interfaces' below it.
        if (k == "item") ip[instance.get("instanceId", "")] = instance.get("privateIpAddress", "");
      }
    }
    std::vector<Instance> out;
    for (const auto& id : ids) {
      if (!ip[id].empty()) out.push_back({id, ip[id] + ":" + std::to_string(config_.port)});
    }
    co_return out;
  }

  Task<ProviderResult<std::vector<Instance>>> list_call(Call call) {
    auto group = co_await describe_group(call);
    if (auto* e = std::get_if<ProviderError>(&group)) co_return std::move(*e);
    std::vector<std::string> ids;
    for (const auto& m : std::get<Group>(group).members) {
      if (m.state == "InService") ids.push_back(m.id);
    }
    auto found = co_await addresses(std::move(ids), call);
    // Reported now, so joined: no later add may report them as its new ones.
    if (auto* list = std::get_if<std::vector<Instance>>(&found)) {
      for (const auto& i : *list) launching_.erase(i.id);
    }
    co_return found;
  }

  Task<ProviderResult<std::vector<Instance>>> add_call(int n, Call call) {
    const ProviderError cancelled = error("add", "cancelled");
    if (n <= 0) co_return std::vector<Instance>{};
    auto first = co_await describe_group(call);
    if (auto* e = std::get_if<ProviderError>(&first)) co_return std::move(*e);
    const Group& group = std::get<Group>(first);
    std::set<std::string> before;
    for (const auto& m : group.members) before.insert(m.id);
    std::erase_if(launching_, [&](const std::string& id) {
      return std::none_of(group.members.begin(), group.members.end(),
                          [&](const Member& m) { return m.id == id && !leaving(m); });
    });
    int desired = group.desired;
    if (const int more = n - static_cast<int>(launching_.size()); more > 0) {
      desired += more;
      Params params = {{"AutoScalingGroupName", config_.group},
                       {"DesiredCapacity", std::to_string(desired)},
                       {"HonorCooldown", "false"}};
      auto set = co_await query(config_.autoscaling, "SetDesiredCapacity", std::move(params), call);
      if (auto* e = std::get_if<ProviderError>(&set)) co_return std::move(*e);
    }
    const Millis poll = std::clamp(config_.timeout / 20, Millis(100), Millis(5000));
    std::optional<ProviderError> last;
    for (;;) {
      auto now = co_await describe_group(call);
      if (call.cancelled()) co_return cancelled;
      if (auto* e = std::get_if<ProviderError>(&now)) {
        if (!e->retryable) co_return std::move(*e);
        if (Clock::now() >= call.deadline()) break;  // cut short by the deadline: nothing to add
        last = std::move(*e);
      } else {
        std::vector<std::string> ready;
        for (const auto& m : std::get<Group>(now).members) {
          if (!before.contains(m.id)) launching_.insert(m.id);
          if (launching_.contains(m.id) && m.state == "InService" &&
              static_cast<int>(ready.size()) < n) {
            ready.push_back(m.id);
          }
        }
        if (static_cast<int>(ready.size()) == n) {
          auto found = co_await addresses(ready, call);
          if (auto* e = std::get_if<ProviderError>(&found); e && !e->retryable) co_return *e;
          auto* list = std::get_if<std::vector<Instance>>(&found);
          if (list && static_cast<int>(list->size()) == n) {
            for (const auto& i : *list) launching_.erase(i.id);
            co_return std::move(*list);
          }
          if (!list) last = std::get<ProviderError>(found);
        }
      }
      const auto left = std::chrono::ceil<Millis>(call.deadline() - Clock::now());
      if (left <= Millis(0)) break;
      if (!co_await sleep(call, std::min(poll, left))) co_return cancelled;
    }
    std::string waiting;
    for (const auto& id : launching_) waiting += (waiting.empty() ? "" : ", ") + id;
    co_return error("add", "timed out after " + format_timeout(timeout()) + " waiting for " +
                               std::to_string(n) + " new InService instances of \"" +
                               config_.group + "\" (desired capacity " + std::to_string(desired) +
                               (waiting.empty() ? "" : "; launching: " + waiting) + ")" +
                               (last ? "; last error: " + last->message : ""));
  }

  Task<std::optional<ProviderError>> remove_call(std::vector<Instance> instances, Call call) {
    auto group = co_await describe_group(call);
    if (auto* e = std::get_if<ProviderError>(&group)) co_return std::move(*e);
    const auto& members = std::get<Group>(group).members;
    for (const auto& instance : instances) {
      launching_.erase(instance.id);
      const bool present = std::any_of(members.begin(), members.end(), [&](const Member& m) {
        return m.id == instance.id && !leaving(m);
      });
      if (!present) continue;  // gone or going already: a retried remove must not fail on it
      Params params = {{"InstanceId", instance.id}, {"ShouldDecrementDesiredCapacity", "true"}};
      auto done = co_await query(config_.autoscaling, "TerminateInstanceInAutoScalingGroup",
                                 std::move(params), call);
      if (auto* e = std::get_if<ProviderError>(&done)) co_return std::move(*e);
    }
    co_return std::nullopt;
  }

  Config config_;
  std::optional<AwsCredentials> fixed_;  // from the environment
  std::optional<AwsCredentials> role_;   // from IMDS, until role_expires_
  std::chrono::system_clock::time_point role_expires_;
  std::set<std::string> launching_;  // started by an add, not reported yet
};

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

}  // namespace

std::unique_ptr<Provider> make_aws_provider(const ProviderSpec& spec,
                                            const ProviderContext& context) {
  check_parameters(spec,
                   {"group", "region", "port", "endpoint", "ec2_endpoint", "imds", "timeout"});
  Config config;
  for (const char* key : {"group", "region", "port"}) required_param(spec, key);
  config.group = *spec.param("group");
  config.region = *spec.param("region");
  if (config.region.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") !=
      std::string::npos) {
    throw invalid_value("region", config.region);
  }
  config.port = port_param(spec);
  config.autoscaling = {
      "autoscaling",
      base_url_param(spec, "endpoint", "https://autoscaling." + config.region + ".amazonaws.com") +
          "/",
      "2011-01-01"};
  config.ec2 = {
      "ec2",
      base_url_param(spec, "ec2_endpoint", "https://ec2." + config.region + ".amazonaws.com") + "/",
      "2016-11-15"};
  config.imds = base_url_param(spec, "imds", "http://169.254.169.254");
  config.timeout = positive_duration_param(spec, "timeout", "30s");

  std::optional<AwsCredentials> fixed;
  const std::string key = env("AWS_ACCESS_KEY_ID"), secret = env("AWS_SECRET_ACCESS_KEY");
  if (key.empty() != secret.empty()) {
    throw std::invalid_argument(
        "provider \"aws\": AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
  }
  if (!key.empty()) fixed = AwsCredentials{key, secret, env("AWS_SESSION_TOKEN")};
  return std::make_unique<AwsProvider>(context, std::move(config), std::move(fixed));
}

}  // namespace tg::scaling
