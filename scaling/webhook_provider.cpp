// The webhook provider: one signed POST per call (ApiProvider runs it), the answer checked
// strictly (an instance without an address could never join the group).
#include "scaling/webhook_provider.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <array>
#include <boost/json.hpp>
#include <cstdint>
#include <stdexcept>

#include "scaling/api_provider.h"
#include "scaling/provider_params.h"

namespace tg::scaling {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::string hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

// A random (version 4) UUID, the shape of GitHub's X-GitHub-Delivery: receivers that
// deduplicate deliveries already know it.
std::string delivery_id() {
  std::array<unsigned char, 16> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
    // Only unique, not secret: a counter keeps calls going if the generator ever fails.
    static std::uint64_t fallback = 0;
    const std::uint64_t n = ++fallback;
    const std::uint64_t pid = static_cast<std::uint64_t>(::getpid());
    for (int i = 0; i < 8; ++i) {
      b[i] = static_cast<unsigned char>(n >> (8 * i));
      b[8 + i] = static_cast<unsigned char>(pid >> (8 * i));
    }
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  const std::string h = hex(b.data(), b.size());
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

class WebhookProvider final : public ApiProvider {
 public:
  WebhookProvider(const ProviderContext& context, std::string url, std::string secret,
                  HttpClientOptions options, Millis timeout)
      : ApiProvider(context.control, api_options("webhook", timeout, std::move(options))),
        group_(context.group),
        url_(std::move(url)),
        secret_(std::move(secret)) {}

  std::string type() const override { return "webhook"; }

  void list(ListDone done) override {
    run(instances_call(json::object{{"action", "list"}, {"group", group_}}, new_call()),
        std::move(done));
  }

  void add(int n, ListDone done) override {
    run(instances_call(json::object{{"action", "add"}, {"group", group_}, {"count", n}},
                       new_call()),
        std::move(done));
  }

  void remove(std::vector<Instance> instances, RemoveDone done) override {
    json::array list;
    for (const auto& i : instances) {
      list.push_back(json::object{{"id", i.id}, {"address", i.address}});
    }
    run(remove_call(
            json::object{{"action", "remove"}, {"group", group_}, {"instances", std::move(list)}},
            new_call()),
        std::move(done));
  }

 private:
  // list and add: the 2xx answer must carry the instances.
  asio::awaitable<ProviderResult<std::vector<Instance>>> instances_call(json::object body,
                                                                        Call call) {
    auto reply = co_await post(std::move(body), call);
    if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
    co_return parse_instances(std::get<HttpResponse>(reply).body);
  }

  // remove needs only the 2xx.
  asio::awaitable<std::optional<ProviderError>> remove_call(json::object body, Call call) {
    auto reply = co_await post(std::move(body), call);
    if (auto* e = std::get_if<ProviderError>(&reply)) co_return std::move(*e);
    co_return std::nullopt;
  }

  // Sends one signed call; the answer is any 2xx response, or the error for the log.
  asio::awaitable<Reply> post(json::object body, Call call) {
    HttpRequest request;
    request.method = "POST";
    request.url = url_;
    request.body = json::serialize(body);
    request.headers = {{"Content-Type", "application/json"},
                       {"Accept", "application/json"},
                       {"User-Agent", user_agent()},
                       {"X-Tidegate-Delivery", delivery_id()}};
    if (!secret_.empty()) {
      request.headers.emplace_back("X-Tidegate-Signature-256",
                                   webhook_signature(secret_, request.body));
    }
    auto reply = co_await send(std::move(request), "POST " + url_, call);
    const auto* response = std::get_if<HttpResponse>(&reply);
    if (response && (response->status < 200 || response->status > 299)) {
      // The operator's endpoint has no error format of its own to quote.
      std::string text = "HTTP " + std::to_string(response->status) + " from " + url_;
      if (!response->body.empty()) text += ": " + body_excerpt(response->body);
      co_return error("", text, retryable_status(response->status));
    }
    co_return reply;
  }

  ProviderResult<std::vector<Instance>> parse_instances(const std::string& body) const {
    const auto invalid = [&](const std::string& why) {
      return error("", "invalid answer from " + url_ + ": " + why);
    };
    boost::system::error_code ec;
    const json::value answer = json::parse(body, ec);
    if (ec) return invalid(ec.message() + " in \"" + body_excerpt(body) + "\"");
    const json::value* list =
        answer.is_object() ? answer.as_object().if_contains("instances") : nullptr;
    if (list == nullptr || !list->is_array()) return invalid("no \"instances\" array");
    std::vector<Instance> out;
    for (const auto& item : list->as_array()) {
      const auto* object = item.if_object();
      const json::value* id = object ? object->if_contains("id") : nullptr;
      const json::value* address = object ? object->if_contains("address") : nullptr;
      const auto text = [](const json::value* v) {
        return v && v->is_string() && !v->as_string().empty();
      };
      if (!text(id) || !text(address)) {
        return invalid("instances[" + std::to_string(out.size()) +
                       "] needs non-empty strings \"id\" and \"address\"");
      }
      out.push_back({json::value_to<std::string>(*id), json::value_to<std::string>(*address)});
    }
    return out;
  }

  std::string group_;
  std::string url_;
  std::string secret_;
};

}  // namespace

std::string webhook_signature(std::string_view secret, std::string_view body) {
  using Mac = std::unique_ptr<EVP_MAC, decltype(&EVP_MAC_free)>;
  using MacContext = std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)>;
  const Mac mac(EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr), &EVP_MAC_free);
  const MacContext context(mac ? EVP_MAC_CTX_new(mac.get()) : nullptr, &EVP_MAC_CTX_free);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  // A non-null key pointer even for an empty key: null means "no key given".
  static const unsigned char kNoKey = 0;
  const auto* key =
      secret.empty() ? &kNoKey : reinterpret_cast<const unsigned char*>(secret.data());
  unsigned char out[EVP_MAX_MD_SIZE];
  std::size_t size = 0;
  if (!context || EVP_MAC_init(context.get(), key, secret.size(), params) != 1 ||
      EVP_MAC_update(context.get(), reinterpret_cast<const unsigned char*>(body.data()),
                     body.size()) != 1 ||
      EVP_MAC_final(context.get(), out, &size, sizeof out) != 1) {
    throw std::runtime_error("HMAC-SHA256 failed in OpenSSL");
  }
  return "sha256=" + hex(out, size);
}

std::unique_ptr<Provider> make_webhook_provider(const ProviderSpec& spec,
                                                const ProviderContext& context) {
  check_parameters(spec, {"url", "secret", "secret_file", "ca_file", "timeout"});
  const auto url = spec.param("url");
  if (!url) throw std::invalid_argument("provider \"webhook\" needs url=");
  if (!parse_http_url(*url)) throw invalid_value("url", *url);
  const auto secret = secret_param(spec, "secret");
  const Millis timeout = positive_duration_param(spec, "timeout", "30s");
  HttpClientOptions options;
  options.ca_file = spec.param("ca_file").value_or("");
  return std::make_unique<WebhookProvider>(context, *url, secret.value_or(""), std::move(options),
                                           timeout);
}

}  // namespace tg::scaling
