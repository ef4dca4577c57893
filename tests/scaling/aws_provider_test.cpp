// The aws provider against a fake Auto Scaling + EC2 endpoint and a fake IMDSv2 on
// 127.0.0.1, run by the test on the same io_context. The fake keeps a group's state
// (desired capacity; instances that turn InService after a delay), answers with AWS's
// XML shapes and error formats, and checks every request: the SigV4 Authorization
// recomputed from the raw request with the fake's own copy of the credentials, the
// X-Amz-Date, the Action, Version and parameters. The fake IMDS refuses a GET without a
// token from its PUT, and header names must be exact.
#include "scaling/aws_provider.h"

#include <cstdlib>
#include <ctime>
#include <deque>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "scaling/aws_sigv4.h"
#include "tests/scaling/fake_http_server.h"
#include "tests/scaling/provider_fixture.h"

namespace tg::scaling {
namespace {

using Reply = FakeReply;

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Form = std::map<std::string, std::string>;

const std::set<std::string> kAutoScaling = {"DescribeAutoScalingGroups", "SetDesiredCapacity",
                                            "TerminateInstanceInAutoScalingGroup"};

// The Query API's form: name=value pairs, percent-encoded.
Form parse_form(const std::string& body) {
  Form form;
  std::istringstream in(body);
  for (std::string pair; std::getline(in, pair, '&');) {
    const auto eq = pair.find('=');
    EXPECT_NE(eq, std::string::npos) << body;
    EXPECT_TRUE(
        form.emplace(percent_decode(pair.substr(0, eq)), percent_decode(pair.substr(eq + 1)))
            .second)
        << "repeated parameter in " << body;
  }
  return form;
}

std::string aws_error(const std::string& code, const std::string& message) {
  return "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><Error>"
         "<Type>Sender</Type><Code>" +
         code + "</Code><Message>" + message +
         "</Message></Error><RequestId>r-1</RequestId></ErrorResponse>";
}

std::string ec2_error(const std::string& code, const std::string& message) {
  return "<Response><Errors><Error><Code>" + code + "</Code><Message>" + message +
         "</Message></Error></Errors><RequestID>r-2</RequestID></Response>";
}

// An Auto Scaling group behind both Query APIs, checking what it is sent.
class FakeAws {
 public:
  struct Vm {
    std::string id, ip;
    Clock::time_point ready_at;  // Pending before, InService after
  };

  explicit FakeAws(boost::asio::io_context& io) : server(io) {
    server.respond = [this](const RecordedRequest& r) { return handle(r); };
  }
  std::string url() const { return server.url("/"); }
  void launch(Millis after) {
    const int n = next_id++;
    vms.push_back(
        {"i-" + std::to_string(1000 + n), "10.0.0." + std::to_string(n), Clock::now() + after});
  }
  std::string state(const Vm& vm) const {
    return Clock::now() >= vm.ready_at ? "InService" : "Pending";
  }
  int count(const std::string& action) const {
    return static_cast<int>(std::count_if(calls.begin(), calls.end(),
                                          [&](const Form& f) { return f.at("Action") == action; }));
  }

  AwsCredentials expected{"AKIDFAKE", "fake/secret+key", ""};
  bool expect_bad_signature = false;
  int desired = 0, max = 10, next_id = 1;
  std::vector<Vm> vms;
  Millis launch_delay{150};
  std::map<std::string, std::deque<Reply>> scripted;  // answers given first, per Action
  std::vector<Form> calls;                            // every well-signed request's form
  FakeHttpServer server;

 private:
  Reply handle(const RecordedRequest& r) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/");
    EXPECT_EQ(r.header("content-type"), "application/x-www-form-urlencoded; charset=utf-8");
    EXPECT_TRUE(r.header("user-agent").starts_with("tidegate/"));
    Form form = parse_form(r.body);
    const std::string action = form["Action"];
    const bool asg = kAutoScaling.contains(action);
    EXPECT_EQ(form["Version"], asg ? "2011-01-01" : "2016-11-15") << action;
    if (const std::string problem = check_signature(r, asg ? "autoscaling" : "ec2");
        !problem.empty()) {
      if (!expect_bad_signature) ADD_FAILURE() << problem;
      return {403, aws_error("SignatureDoesNotMatch",
                             "The request signature we calculated does "
                             "not match the signature you provided.")};
    }
    EXPECT_FALSE(expect_bad_signature) << "a request signed with the wrong secret passed";
    calls.push_back(form);
    if (auto& queue = scripted[action]; !queue.empty()) {
      Reply reply = queue.front();
      queue.pop_front();
      return reply;
    }
    if (action == "DescribeAutoScalingGroups") return describe_groups(form);
    if (action == "SetDesiredCapacity") return set_desired(form);
    if (action == "TerminateInstanceInAutoScalingGroup") return terminate(form);
    if (action == "DescribeInstances") return describe_instances(form);
    ADD_FAILURE() << "unexpected Action " << action;
    return {400, aws_error("InvalidAction", action)};
  }

  // What AWS checks: the scope, the date, the signed headers, then the signature itself,
  // recomputed from the request as received.
  std::string check_signature(const RecordedRequest& r, const std::string& service) const {
    // "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
    // SignedHeaders=a;b;c, Signature=HEX", split at its fixed words.
    const std::string auth = r.header("authorization");
    const auto headers_at = auth.find(", SignedHeaders="), signature_at = auth.find(", Signature=");
    const std::string prefix = "AWS4-HMAC-SHA256 Credential=";
    if (!auth.starts_with(prefix) || headers_at == std::string::npos ||
        signature_at == std::string::npos || signature_at < headers_at ||
        auth.size() - signature_at != 12 + 64) {
      return "malformed Authorization: " + auth;
    }
    const std::string date = r.header("x-amz-date");
    const auto digits = [&](std::size_t from, std::size_t n) {
      return date.size() > from + n - 1 &&
             std::all_of(date.begin() + from, date.begin() + from + n, ::isdigit);
    };
    if (date.size() != 16 || !digits(0, 8) || date[8] != 'T' || !digits(9, 6) || date[15] != 'Z') {
      return "X-Amz-Date " + date;
    }
    std::tm tm{};
    strptime(date.c_str(), "%Y%m%dT%H%M%SZ", &tm);
    if (std::abs(std::time(nullptr) - timegm(&tm)) > 300) return "X-Amz-Date is not now";
    const std::string scope = expected.access_key_id + "/" + date.substr(0, 8) + "/eu-central-1/" +
                              service + "/aws4_request";
    if (auth.substr(prefix.size(), headers_at - prefix.size()) != scope) {
      return "wrong credential scope in " + auth;
    }
    std::vector<std::string> names;
    std::istringstream list(auth.substr(headers_at + 16, signature_at - headers_at - 16));
    for (std::string name; std::getline(list, name, ';');) names.push_back(name);
    const auto named = [&](const std::string& n) {
      return std::find(names.begin(), names.end(), n) != names.end();
    };
    if (!named("host") || !named("x-amz-date") || !named("content-type"))
      return "unsigned: " + auth;
    if (named("x-amz-security-token") != !expected.session_token.empty() ||
        (named("x-amz-security-token") &&
         r.header("x-amz-security-token") != expected.session_token)) {
      return "session token missing, unsigned or wrong";
    }
    SigV4Input input;
    input.method = r.method;
    input.path = r.target;
    for (const auto& [name, value] : r.headers) {
      if (named(lowercase(name))) input.headers.emplace_back(name, value);
    }
    input.payload = r.body;
    const auto mine = sigv4_sign(input, expected, "eu-central-1", service, date);
    return mine.authorization == auth ? "" : "signature mismatch: " + auth;
  }

  Reply describe_groups(const Form& form) {
    EXPECT_EQ(form.size(), 3u);
    if (form.at("AutoScalingGroupNames.member.1") != "api-asg") {
      return {200,
              "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult>"
              "<AutoScalingGroups/></DescribeAutoScalingGroupsResult>"
              "</DescribeAutoScalingGroupsResponse>"};
    }
    std::string members;
    for (const auto& vm : vms) {
      members += "<member><InstanceId>" + vm.id +
                 "</InstanceId><AvailabilityZone>eu-central-1a"
                 "</AvailabilityZone><LifecycleState>" +
                 state(vm) + "</LifecycleState><HealthStatus>Healthy</HealthStatus></member>";
    }
    return {
        200,
        "<?xml version=\"1.0\"?>\n<DescribeAutoScalingGroupsResponse xmlns=\""
        "http://autoscaling.amazonaws.com/doc/2011-01-01/\">\n <DescribeAutoScalingGroupsResult>"
        "<AutoScalingGroups><member><AutoScalingGroupName>api-asg</AutoScalingGroupName>"
        "<MinSize>0</MinSize><MaxSize>" +
            std::to_string(max) + "</MaxSize><DesiredCapacity>" + std::to_string(desired) +
            "</DesiredCapacity><Instances>" + members +
            "</Instances></member></AutoScalingGroups></DescribeAutoScalingGroupsResult>"
            "<ResponseMetadata><RequestId>r-3</RequestId></ResponseMetadata>"
            "</DescribeAutoScalingGroupsResponse>"};
  }

  Reply set_desired(const Form& form) {
    EXPECT_EQ(form.at("AutoScalingGroupName"), "api-asg");
    EXPECT_EQ(form.at("HonorCooldown"), "false");
    const int value = std::stoi(form.at("DesiredCapacity"));
    if (value > max) {
      return {400,
              aws_error("ValidationError", "New SetDesiredCapacity value " + std::to_string(value) +
                                               " is above max value " + std::to_string(max) +
                                               " for the AutoScalingGroup.")};
    }
    for (int i = desired; i < value; ++i) launch(launch_delay);
    desired = value;
    return {200,
            "<SetDesiredCapacityResponse><ResponseMetadata><RequestId>r-4</RequestId>"
            "</ResponseMetadata></SetDesiredCapacityResponse>"};
  }

  Reply terminate(const Form& form) {
    EXPECT_EQ(form.at("ShouldDecrementDesiredCapacity"), "true");
    const std::string id = form.at("InstanceId");
    const auto it = std::find_if(vms.begin(), vms.end(), [&](const Vm& vm) { return vm.id == id; });
    if (it == vms.end()) {
      return {400, aws_error("ValidationError",
                             "Instance Id not found - No managed instance "
                             "found for instance ID: " +
                                 id)};
    }
    vms.erase(it);
    --desired;
    return {200,
            "<TerminateInstanceInAutoScalingGroupResponse><TerminateInstanceInAutoScalingGroup"
            "Result><Activity><StatusCode>InProgress</StatusCode></Activity></Terminate"
            "InstanceInAutoScalingGroupResult></TerminateInstanceInAutoScalingGroupResponse>"};
  }

  Reply describe_instances(const Form& form) {
    std::string items;
    for (std::size_t n = 1; form.contains("InstanceId." + std::to_string(n)); ++n) {
      const std::string id = form.at("InstanceId." + std::to_string(n));
      const auto it =
          std::find_if(vms.begin(), vms.end(), [&](const Vm& vm) { return vm.id == id; });
      if (it == vms.end()) {
        return {400, ec2_error("InvalidInstanceID.NotFound",
                               "The instance ID '" + id + "' does not exist")};
      }
      // A network interface's address comes first, to catch a reader that takes any.
      items += "<item><reservationId>r-" + id + "</reservationId><instancesSet><item><instanceId>" +
               id +
               "</instanceId><networkInterfaceSet><item><privateIpAddress>192.0.2.99"
               "</privateIpAddress></item></networkInterfaceSet><instanceState><code>16</code>"
               "<name>running</name></instanceState><privateIpAddress>" +
               it->ip + "</privateIpAddress></item></instancesSet></item>";
    }
    EXPECT_FALSE(items.empty()) << "DescribeInstances without ids describes the whole account";
    return {200,
            "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
            "<requestId>r-5</requestId><reservationSet>" +
                items + "</reservationSet></DescribeInstancesResponse>"};
  }
};

// IMDSv2: a token from PUT /latest/api/token first, then the role and its keys.
class FakeImds {
 public:
  FakeImds(boost::asio::io_context& io, FakeAws& aws) : server(io), aws_(aws) {
    server.respond = [this](const RecordedRequest& r) { return handle(r); };
  }
  std::string url() const { return server.url(""); }
  std::chrono::seconds lifetime{3600};  // of the keys handed out
  int token_puts = 0, key_gets = 0;
  FakeHttpServer server;

 private:
  Reply handle(const RecordedRequest& r) {
    if (r.method == "PUT" && r.target == "/latest/api/token") {
      if (r.exact_header("X-aws-ec2-metadata-token-ttl-seconds") != "21600") {
        ADD_FAILURE() << "token PUT without X-aws-ec2-metadata-token-ttl-seconds: 21600";
        return {400, ""};
      }
      tokens_.push_back("token-" + std::to_string(++token_puts));
      return {200, tokens_.back()};
    }
    const std::string token = r.exact_header("X-aws-ec2-metadata-token");
    if (r.method != "GET" || std::find(tokens_.begin(), tokens_.end(), token) == tokens_.end()) {
      ADD_FAILURE() << r.method << " " << r.target << " without a token from the PUT";
      return {401, ""};
    }
    const std::string prefix = "/latest/meta-data/iam/security-credentials/";
    if (r.target == prefix) return {200, "tidegate-role"};
    if (r.target != prefix + "tidegate-role") return {404, ""};
    ++key_gets;
    aws_.expected = {"ASIAFAKE" + std::to_string(key_gets),
                     "role/secret" + std::to_string(key_gets),
                     "session-token-" + std::to_string(key_gets)};
    const std::time_t expires = std::time(nullptr) + lifetime.count();
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&expires));
    return {200,
            "{\"Code\":\"Success\",\"LastUpdated\":\"2024-01-01T00:00:00Z\",\"Type\":"
            "\"AWS-HMAC\",\"AccessKeyId\":\"" +
                aws_.expected.access_key_id + "\",\"SecretAccessKey\":\"" +
                aws_.expected.secret_access_key + "\",\"Token\":\"" + aws_.expected.session_token +
                "\",\"Expiration\":\"" + when + "\"}"};
  }
  FakeAws& aws_;
  std::vector<std::string> tokens_;
};

class AwsProviderTest : public ProviderFixture {
 protected:
  AwsProviderTest() : ProviderFixture("aws") {}
  void SetUp() override {
    ::setenv("AWS_ACCESS_KEY_ID", "AKIDFAKE", 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", "fake/secret+key", 1);
    ::unsetenv("AWS_SESSION_TOKEN");
  }
  void TearDown() override {
    for (const char* name : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}) {
      ::unsetenv(name);
    }
  }
  std::unique_ptr<Provider> make(Params extra = {}) {
    Params params = {{"group", "api-asg"},    {"region", "eu-central-1"},  {"port", "8080"},
                     {"endpoint", aws.url()}, {"ec2_endpoint", aws.url()}, {"imds", imds.url()},
                     {"timeout", "3s"}};
    return ProviderFixture::make(override_params(std::move(params), extra));
  }

  FakeAws aws{io};
  FakeImds imds{io, aws};
};

TEST_F(AwsProviderTest, ListReturnsInServiceInstancesAtTheirPrivateAddress) {
  aws.launch(0ms);
  aws.launch(1h);  // still Pending
  aws.launch(0ms);
  aws.desired = 3;
  auto p = make();
  EXPECT_EQ(p->type(), "aws");
  EXPECT_EQ(p->kind(), Provider::Kind::kInstances);
  EXPECT_EQ(instances(list(*p)),
            (std::vector<Instance>{{"i-1001", "10.0.0.1:8080"}, {"i-1003", "10.0.0.3:8080"}}));
  ASSERT_EQ(aws.calls.size(), 2u);
  EXPECT_EQ(aws.calls[0], (Form{{"Action", "DescribeAutoScalingGroups"},
                                {"Version", "2011-01-01"},
                                {"AutoScalingGroupNames.member.1", "api-asg"}}));
  EXPECT_EQ(aws.calls[1], (Form{{"Action", "DescribeInstances"},
                                {"Version", "2016-11-15"},
                                {"InstanceId.1", "i-1001"},
                                {"InstanceId.2", "i-1003"}}));
  EXPECT_EQ(imds.server.requests.size(), 0u);  // the environment's keys came first
}

TEST_F(AwsProviderTest, ListWithNothingInServiceAsksEc2Nothing) {
  aws.launch(1h);
  auto p = make();
  EXPECT_EQ(instances(list(*p)), std::vector<Instance>{});
  EXPECT_EQ(aws.calls.size(), 1u);
}

TEST_F(AwsProviderTest, AddRaisesTheDesiredCapacityAndReportsTheNewInstancesOnceInService) {
  aws.launch(0ms);
  aws.desired = 1;
  auto p = make();
  const auto start = Clock::now();
  EXPECT_EQ(instances(add(*p, 2)),
            (std::vector<Instance>{{"i-1002", "10.0.0.2:8080"}, {"i-1003", "10.0.0.3:8080"}}));
  EXPECT_GE(Clock::now() - start, aws.launch_delay);
  EXPECT_EQ(aws.desired, 3);
  EXPECT_EQ(aws.count("SetDesiredCapacity"), 1);
  const auto set = std::find_if(aws.calls.begin(), aws.calls.end(), [](const Form& f) {
    return f.at("Action") == "SetDesiredCapacity";
  });
  EXPECT_EQ(*set, (Form{{"Action", "SetDesiredCapacity"},
                        {"Version", "2011-01-01"},
                        {"AutoScalingGroupName", "api-asg"},
                        {"DesiredCapacity", "3"},
                        {"HonorCooldown", "false"}}));
}

TEST_F(AwsProviderTest, TimedOutAddIsRetryableAndTheNextAddReportsItsInstanceWithoutRaisingAgain) {
  aws.desired = 1;
  aws.launch(0ms);
  aws.launch_delay = 1h;
  auto p = make({{"timeout", "400ms"}});
  const ProviderError e = error(add(*p, 1));
  EXPECT_EQ(e.message,
            "aws provider: add: timed out after 400ms waiting for 1 new InService instances of "
            "\"api-asg\" (desired capacity 2; launching: i-1002)");
  EXPECT_TRUE(e.retryable);
  aws.vms[1].ready_at = Clock::now();  // it made it after all
  EXPECT_EQ(instances(add(*p, 1)), (std::vector<Instance>{{"i-1002", "10.0.0.2:8080"}}));
  EXPECT_EQ(aws.count("SetDesiredCapacity"), 1);
  EXPECT_EQ(aws.desired, 2);
}

TEST_F(AwsProviderTest, RemoveTerminatesEachInstanceStillThereAndLowersTheDesiredCapacity) {
  for (int i = 0; i < 3; ++i) aws.launch(0ms);
  aws.desired = 3;
  auto p = make();
  const auto result =
      remove(*p, {{"i-1001", "10.0.0.1:8080"}, {"i-1003", "10.0.0.3:8080"}, {"i-9", "x:1"}});
  EXPECT_FALSE(result) << result->message;
  ASSERT_EQ(aws.calls.size(), 3u);
  for (const auto& [call, id] : {std::pair{1, "i-1001"}, {2, "i-1003"}}) {
    EXPECT_EQ(aws.calls[call], (Form{{"Action", "TerminateInstanceInAutoScalingGroup"},
                                     {"Version", "2011-01-01"},
                                     {"InstanceId", id},
                                     {"ShouldDecrementDesiredCapacity", "true"}}));
  }
  EXPECT_EQ(aws.desired, 1);
  ASSERT_EQ(aws.vms.size(), 1u);
  EXPECT_EQ(aws.vms[0].id, "i-1002");
}

TEST_F(AwsProviderTest, AwsErrorsCarryCodeAndMessageAndOnlyTransientOnesAreRetryable) {
  auto p = make();
  const std::string what = "aws provider: DescribeAutoScalingGroups: ";
  for (const auto& [reply, message, retryable] :
       {std::tuple{Reply{400, aws_error("Throttling", "Rate exceeded")},
                   "Throttling: Rate exceeded (HTTP 400)", true},
        {Reply{400, aws_error("ValidationError", "bad")}, "ValidationError: bad (HTTP 400)", false},
        {Reply{403, aws_error("AccessDenied", "no")}, "AccessDenied: no (HTTP 403)", false},
        {Reply{500, aws_error("InternalFailure", "oops")}, "InternalFailure: oops (HTTP 500)",
         true},
        {Reply{503, "<html>busy</html"}, "HTTP 503: <html>busy</html", true},
        {Reply{200, "not xml <"}, "invalid XML answer \"not xml <\"", true}}) {
    aws.scripted["DescribeAutoScalingGroups"].push_back(reply);
    const ProviderError e = error(list(*p));
    EXPECT_EQ(e.message, what + message);
    EXPECT_EQ(e.retryable, retryable) << message;
  }
}

TEST_F(AwsProviderTest, ScalingActivityInProgressIsRetryableAndAboveMaxIsNot) {
  aws.desired = 0;
  auto p = make();
  aws.scripted["SetDesiredCapacity"].push_back(
      {400, aws_error("ScalingActivityInProgress", "Scaling activities are in progress")});
  EXPECT_TRUE(error(add(*p, 1)).retryable);
  aws.max = 1;
  const ProviderError e = error(add(*p, 2));
  EXPECT_EQ(e.message,
            "aws provider: SetDesiredCapacity: ValidationError: New SetDesiredCapacity value 2 is "
            "above max value 1 for the AutoScalingGroup. (HTTP 400)");
  EXPECT_FALSE(e.retryable);
}

TEST_F(AwsProviderTest, Ec2ErrorsAreReadInTheirOwnFormat) {
  aws.launch(0ms);
  auto p = make();
  aws.scripted["DescribeInstances"].push_back(
      {503, ec2_error("RequestLimitExceeded", "Request limit exceeded.")});
  const ProviderError e = error(list(*p));
  EXPECT_EQ(e.message,
            "aws provider: DescribeInstances: RequestLimitExceeded: Request limit exceeded. "
            "(HTTP 503)");
  EXPECT_TRUE(e.retryable);
}

TEST_F(AwsProviderTest, UnknownGroupIsNotRetryable) {
  auto p = make({{"group", "nope"}});
  const ProviderError e = error(list(*p));
  EXPECT_EQ(e.message, "aws provider: no Auto Scaling group \"nope\" in eu-central-1");
  EXPECT_FALSE(e.retryable);
}

TEST_F(AwsProviderTest, SessionTokenFromTheEnvironmentIsSentAndSigned) {
  ::setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzE//token==", 1);
  aws.expected.session_token = "FwoGZXIvYXdzE//token==";
  auto p = make();
  EXPECT_EQ(instances(list(*p)), std::vector<Instance>{});
  EXPECT_EQ(aws.server.requests.at(0).header("x-amz-security-token"), "FwoGZXIvYXdzE//token==");
}

TEST_F(AwsProviderTest, TheFakeRejectsASignatureMadeWithAnotherSecret) {
  ::setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret", 1);
  aws.expect_bad_signature = true;
  auto p = make();
  const ProviderError e = error(list(*p));
  EXPECT_TRUE(
      e.message.starts_with("aws provider: DescribeAutoScalingGroups: SignatureDoesNotMatch: "))
      << e.message;
  EXPECT_FALSE(e.retryable);
}

TEST_F(AwsProviderTest, WithoutEnvironmentKeysImdsV2GivesTheRolesKeysKeptUntilNearExpiry) {
  TearDown();
  aws.launch(0ms);
  auto p = make();
  EXPECT_EQ(instances(list(*p)).size(), 1u);
  EXPECT_EQ(instances(list(*p)).size(), 1u);
  EXPECT_EQ(imds.token_puts, 1);
  EXPECT_EQ(imds.key_gets, 1);
  ASSERT_EQ(imds.server.requests.size(), 3u);
  EXPECT_EQ(imds.server.requests[0].method + " " + imds.server.requests[0].target,
            "PUT /latest/api/token");
  EXPECT_EQ(imds.server.requests[1].target, "/latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(imds.server.requests[2].target,
            "/latest/meta-data/iam/security-credentials/tidegate-role");
  EXPECT_EQ(aws.server.requests.at(0).header("x-amz-security-token"), "session-token-1");
}

TEST_F(AwsProviderTest, ImdsKeysWithinFiveMinutesOfExpiryAreFetchedAgain) {
  TearDown();
  imds.lifetime = std::chrono::seconds(120);
  auto p = make();
  instances(list(*p));
  instances(list(*p));  // signed with the second keys: the fake expects those now
  EXPECT_EQ(imds.token_puts, 2);
  EXPECT_EQ(imds.key_gets, 2);
}

TEST_F(AwsProviderTest, UnreachableImdsIsARetryableErrorNamingIt) {
  TearDown();
  const std::string closed = refused_url(io);
  auto p = make({{"imds", closed}});
  const ProviderError e = error(list(*p));
  EXPECT_EQ(e.message, "aws provider: no credentials: AWS_ACCESS_KEY_ID is not set and PUT " +
                           closed + "/latest/api/token: connection refused");
  EXPECT_TRUE(e.retryable);
}

TEST_F(AwsProviderTest, ShutdownEndsAnAddThatIsWaitingWithCancelled) {
  aws.launch_delay = 1h;
  auto p = make({{"timeout", "10s"}});
  std::optional<ProviderResult<std::vector<Instance>>> result;
  p->add(1, [&](auto r) { result = std::move(r); });
  run_until(io, [&] { return aws.count("DescribeAutoScalingGroups") >= 2; });
  p->shutdown();
  run_until(io, result);
  EXPECT_EQ(error(*result).message, "aws provider: add: cancelled");
}

TEST_F(AwsProviderTest, DestroyingTheProviderDropsCallbacksInFlight) {
  aws.launch_delay = 1h;
  auto p = make();
  bool called = false;
  p->add(1, [&](auto) { called = true; });
  run_until(io, [&] { return aws.count("SetDesiredCapacity") == 1; });
  p->list([&](auto) { called = true; });  // not even started yet
  expect_destruction_drops_callbacks(p, called, 400ms);
}

TEST_F(AwsProviderTest, CallbackNeverRunsInsideTheCall) {
  auto p = make();
  expect_callbacks_after_the_calls(*p);
}

TEST_F(AwsProviderTest, ParametersAreCheckedAtConstruction) {
  // Without the fixture's defaults: each case names all it gives.
  const auto message = [&](Params params) { return refusal(std::move(params)); };
  const Params good = {{"group", "g"}, {"region", "us-east-1"}, {"port", "80"}};
  EXPECT_EQ(message(good), "(accepted)");
  EXPECT_EQ(message({{"region", "us-east-1"}, {"port", "80"}}), "provider \"aws\" needs group=");
  EXPECT_EQ(message({{"group", "g"}, {"port", "80"}}), "provider \"aws\" needs region=");
  EXPECT_EQ(message({{"group", "g"}, {"region", "us-east-1"}}), "provider \"aws\" needs port=");
  auto with = [&](std::string k, std::string v) {
    Params p = good;
    p.emplace_back(k, v);
    return message(p);
  };
  EXPECT_EQ(with("zone", "a"), "unknown parameter \"zone\" of provider \"aws\"");
  EXPECT_EQ(with("timeout", "0s"), "invalid value \"0s\" of \"timeout=\"");
  EXPECT_EQ(with("endpoint", "ftp://x"), "invalid value \"ftp://x\" of \"endpoint=\"");
  EXPECT_EQ(message({{"group", "g"}, {"region", "US East"}, {"port", "80"}}),
            "invalid value \"US East\" of \"region=\"");
  EXPECT_EQ(message({{"group", "g"}, {"region", "us-east-1"}, {"port", "80x"}}),
            "invalid value \"80x\" of \"port=\"");
  EXPECT_EQ(message({{"group", "g"}, {"region", "us-east-1"}, {"port", "0"}}),
            "invalid value \"0\" of \"port=\"");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  EXPECT_EQ(message(good),
            "provider \"aws\": AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
}

}  // namespace
}  // namespace tg::scaling
