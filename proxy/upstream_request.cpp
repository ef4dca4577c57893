// The request as it goes upstream: its method, its URI and its head, built once
// per request from the location's settings (proxy_pass URI, proxy_method,
// proxy_set_header, proxy_pass_request_headers, proxy_http_version) and resent
// as it is on every retry.
#include "common/error_log.h"
#include "proxy/http_status.h"
#include "proxy/upstream_exchange.h"

namespace tg::proxy {

namespace {

/// Request headers a proxy never forwards as they came (nginx's
/// ngx_http_proxy_headers plus the framing we set ourselves).
bool hop_by_hop_request(std::string_view name) {
  return iequals(name, "connection") || iequals(name, "keep-alive") || iequals(name, "te") ||
         iequals(name, "expect") || iequals(name, "upgrade") ||
         iequals(name, "transfer-encoding") || iequals(name, "content-length") ||
         iequals(name, "proxy-connection");
}

const std::vector<http::HeaderSpan> kNoHeaders;

}  // namespace

int UpstreamExchange::prepare_request() {
  has_body_ = !error_page_get_ && (req_.chunked() || req_.content_length() > 0);
  if (!choose_method()) return 500;
  if (s_.client_max_body_size > 0 && req_.content_length() > s_.client_max_body_size) {
    log(LogLevel::kError,
        "*" + std::to_string(ctx_.conn->id) + " client intended to send too large body: " +
            std::to_string(req_.content_length()) + " bytes, client: " + ctx_.conn->remote_addr);
    client_.close_after_response();
    return 413;
  }
  chunked_up_ = has_body_ && req_.chunked();
  build_uri();
  build_head();
  return 0;
}

bool UpstreamExchange::choose_method() {
  // An error_page fetch is a GET (HEAD stays HEAD) without the original body;
  // otherwise proxy_method, when set, names the upstream's method.
  method_ = error_page_get_ && ctx_.method != "HEAD" ? std::string_view("GET") : ctx_.method;
  if (error_page_get_ || s_.proxy_method.source().empty()) return true;
  expand(s_.proxy_method, ctx_, method_text_);
  if (!http::is_token(method_text_)) {  // a variable must not break the request line
    log(LogLevel::kError, "*" + std::to_string(ctx_.conn->id) +
                              " invalid \"proxy_method\" value \"" + method_text_ +
                              "\", client: " + ctx_.conn->remote_addr);
    return false;
  }
  method_ = method_text_;
  return true;
}

void UpstreamExchange::build_uri() {
  std::string& uri = buf_.uri;
  uri.clear();
  if (!target_.has_uri) {
    if (redirects_ == 0 && ctx_.request_uri.starts_with('/')) {
      uri = ctx_.request_uri;  // unchanged, as the client sent it (origin form)
    } else {
      escape_uri(ctx_.uri, uri);
      if (!ctx_.args.empty()) {
        uri += '?';
        uri += ctx_.args;
      }
    }
    return;
  }
  // The part of $uri that matched the location prefix is replaced by the URI.
  uri = target_.uri;
  std::string_view rest = ctx_.uri;
  if (loc_.match != conf::Location::Match::kNamed && rest.size() >= loc_.pattern.size()) {
    rest.remove_prefix(loc_.pattern.size());
  }
  escape_uri(rest, uri);
  if (!ctx_.args.empty()) {
    uri += '?';
    uri += ctx_.args;
  }
}

void UpstreamExchange::build_head() {
  std::string& head = buf_.head;
  head.clear();
  head += method_;
  head += ' ';
  head += buf_.uri;
  // A chunked body needs HTTP/1.1 framing even when proxy_http_version is 1.0
  // (nginx buffers such bodies to disk instead; tidegate streams).
  head += s_.proxy_http_version == "1.1" || chunked_up_ ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n";
  for (const auto& h : s_.proxy_set_header) {
    size_t mark = head.size();
    head += h.name;
    head += ": ";
    size_t value_at = head.size();
    expand_header_value(h.value, ctx_, head);
    if (head.size() == value_at) {
      head.resize(mark);  // an empty value removes the header
      continue;
    }
    head += "\r\n";
  }
  const char* base = ctx_.base;
  std::string_view connection_tokens = ctx_.header("connection");
  for (const auto& hs : s_.proxy_pass_request_headers ? req_.headers() : kNoHeaders) {
    std::string_view name = hs.name.in(base);
    if (hop_by_hop_request(name)) continue;
    // ignore_invalid_headers (on by default): names that are not tokens, and
    // names with '_' unless underscores_in_headers is on, are not passed.
    if (header_rules_.ignore_invalid_headers &&
        (!http::is_token(name) ||
         (!header_rules_.underscores_in_headers && name.find('_') != std::string_view::npos))) {
      continue;
    }
    bool overridden = false;
    for (const auto& h : s_.proxy_set_header) {
      if (iequals(h.name, name)) {
        overridden = true;
        break;
      }
    }
    if (overridden || (!connection_tokens.empty() && has_token(connection_tokens, name))) continue;
    head += name;
    head += ": ";
    head += trim(hs.value.in(base));
    head += "\r\n";
  }
  if (chunked_up_) {
    head += "Transfer-Encoding: chunked\r\n";
  } else if (!error_page_get_ && req_.content_length() >= 0 &&
             (has_body_ || method_ == "POST" || method_ == "PUT")) {
    head += "Content-Length: ";
    head += std::to_string(req_.content_length());
    head += "\r\n";
  }
  head += "\r\n";
}

}  // namespace tg::proxy
