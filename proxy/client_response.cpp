// HTTP/1.1 responses to the client: heads (status line, Server, Date,
// Connection, add_header), the answers the session makes itself (return,
// error pages, error_page redirects), and the writes of the responses the
// request exchange forwards (ClientSide).
#include <span>

#include <boost/asio/write.hpp>

#include "common/error_log.h"
#include "proxy/exchange.h"
#include "proxy/http_status.h"
#include "proxy/router.h"

namespace tg::proxy {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// ---- heads ----

void ClientSession::begin_response_head(int status, std::string_view reason) {
  auto& out = x_->out;
  auto& ctx = x_->ctx;
  out.clear();
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason;
  out += "\r\nServer: ";
  out += server_token(settings().server_tokens);
  out += "\r\nDate: ";
  out += http_date_text(std::chrono::system_clock::now());
  out += "\r\n";
  ctx.status = status;
}

void ClientSession::finish_response_head(bool has_body_framing, bool upgrade) {
  auto& x = *x_;
  auto& out = x.out;
  auto& ctx = x.ctx;
  const auto& s = settings();
  if (keep_alive_) {
    if (info_.requests >= static_cast<uint64_t>(s.keepalive_requests) ||
        s.keepalive_timeout.count() == 0 || Clock::now() - created_ >= s.keepalive_time || quit_ ||
        worker_.quitting() || gen_ != worker_.generation()) {
      // After a reload, a connection of the old generation answers the request
      // it has and then closes, so its next request sees the new configuration.
      keep_alive_ = false;
    }
  }
  if (!has_body_framing || upgrade) keep_alive_ = false;
  if (upgrade) {
    out += "Connection: upgrade\r\n";
  } else if (keep_alive_) {
    out += "Connection: keep-alive\r\n";
    if (s.keepalive_header.count() > 0) {
      // keepalive_timeout's second argument (nginx: "Keep-Alive: timeout=N").
      out += "Keep-Alive: timeout=";
      out += std::to_string(s.keepalive_header.count() / 1000);
      out += "\r\n";
    }
  } else {
    out += "Connection: close\r\n";
  }
  bool applies = add_header_applies(ctx.status);
  for (const auto& h : s.add_header) {
    if (!applies && !h.always) continue;
    std::string value;
    expand_header_value(h.value, ctx, value);
    if (value.empty()) continue;
    out += h.name;
    out += ": ";
    out += value;
    out += "\r\n";
    if (ctx.config->uses(conf::Var::kSentHttp)) ctx.sent_headers.emplace_back(h.name, value);
  }
  out += "\r\n";
}

// ---- responses the request exchange forwards (ClientSide) ----

void ClientSession::add_response_header(std::string_view name, std::string_view value) {
  auto& out = x_->out;
  if (iequals(name, "server") || iequals(name, "date")) {
    // passed explicitly with proxy_pass_header: replace ours
    size_t at = out.find(iequals(name, "server") ? "Server: " : "Date: ");
    if (at != std::string::npos) out.erase(at, out.find("\r\n", at) + 2 - at);
  }
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

void ClientSession::set_response_body(ResponseBody body) {
  auto& x = *x_;
  // Without a length, an HTTP/1.1 client gets chunked coding (unless
  // chunked_transfer_encoding is off); an HTTP/1.0 one learns the end from the
  // connection closing.
  x.chunk_response = body == ResponseBody::kStream && x.ctx.protocol != "HTTP/1.0" &&
                     settings().chunked_transfer_encoding;
  x.response_framed = body != ResponseBody::kStream || x.chunk_response;
  if (x.chunk_response) x.out += "Transfer-Encoding: chunked\r\n";
}

void ClientSession::end_response_head(bool upgrade) {
  finish_response_head(x_->response_framed, upgrade);
  x_->head_pending = true;
}

Task<bool> ClientSession::write_response(const char* base, std::span<const http::Span> body,
                                         bool last) {
  auto& x = *x_;
  auto& bufs = x.bufs;  // reused: a warm worker allocates nothing per request here
  bufs.clear();
  if (x.head_pending) bufs.push_back(asio::buffer(x.out));
  x.head_pending = false;
  BodyGather gather(bufs, x.chunk_lines, x.chunk_response, body.size());
  for (const auto& sp : body) gather.add(base + sp.offset, sp.length);
  if (last) gather.finish();
  if (bufs.empty()) co_return true;
  const size_t bytes = asio::buffer_size(bufs);
  // The write itself, not write_client(): one coroutine frame per write.
  arm(settings().send_timeout);
  auto [ec, n] = co_await client_.async_write(std::span<const asio::const_buffer>(bufs), kTuple);
  disarm();
  if (ec) {
    client_write_failed();
    co_return false;
  }
  x.ctx.bytes_sent += bytes;
  co_return true;
}

Task<bool> ClientSession::end_response_body() {
  if (!x_->chunk_response) co_return true;
  // Left out of $bytes_sent as it always was (nginx counts it): a change of its own.
  co_return co_await write_client("0\r\n\r\n");
}

Task<void> ClientSession::respond(int status, std::string_view body, std::string_view content_type,
                                  std::string_view location_header, int redirects,
                                  std::string_view extra_headers) {
  auto& x = *x_;
  auto& ctx = x.ctx;
  const auto& s = settings();
  if (status == 444) {
    // nginx's `return 444`: no answer at all, the connection is closed (logged as 444).
    ctx.status = 444;
    keep_alive_ = false;
    unread_input_ = false;
    in_.end = 0;  // a close, not a lingering one: nothing is owed to this client
    co_return;
  }
  // error_page: internal redirect to a URI or named location, or a redirect to a URL.
  // Applied once per request (nginx's recursive_error_pages off), and only to answers
  // without a body of their own (nginx: `return 404 "text"` and the API module send
  // theirs).
  if (status >= 300 && redirects == 0 && ctx.server && body.empty()) {
    auto page = s.error_page.find(status);
    if (page != s.error_page.end()) {
      int code = s.error_page_code.at(status);
      const std::string& target = x.error_page_target = expand(page->second, ctx);
      if (target.starts_with("http://") || target.starts_with("https://")) {
        co_await respond(code > 0 ? code : 302, {}, {}, target, redirects + 1);
        co_return;
      }
      const conf::Location* loc = nullptr;
      if (target.starts_with("@")) {
        loc = find_named_location(*ctx.server, target);
      } else {
        std::string_view t = target;
        size_t q = t.find('?');
        if (q != std::string_view::npos) ctx.args = std::string_view(target).substr(q + 1);
        ctx.uri = std::string(t.substr(0, q));
        ctx.capture_subject = ctx.uri;
        ctx.captures.spans.clear();
        loc = find_location(*ctx.server, ctx.uri, &ctx.captures);
      }
      // The page answers with the original status, or `=code`, or with `=`
      // alone the target's own status.
      const int saved = code > 0 ? code : code == 0 ? status : 0;
      ctx.status = saved ? saved : status;
      x.out.clear();
      if (!loc || !loc->proxy) {
        // A `return` location: its text becomes the body.
        static const std::vector<conf::RewriteOp> kNoOps;
        for (const auto& op : loc ? loc->rewrite : kNoOps) {
          if (op.kind != conf::RewriteOp::Kind::kReturn) continue;
          std::string text = op.has_value ? expand(op.value, ctx) : std::string();
          ctx.location = loc;
          co_await respond(saved ? saved : op.code, text, loc->settings.default_type, {},
                           redirects + 1);
          co_return;
        }
        if (!loc || !loc->control) {
          // A file (`error_page 404 /404.html`), served with the error's status.
          ctx.location = loc;
          x.forced_status = saved;
          x.error_page_get = true;  // as a proxied page: fetched as GET
          co_await serve_files(loc, redirects + 1);
          co_return;
        }
      } else if (loc) {
        // As nginx: the page is fetched with GET (HEAD stays HEAD) and no body.
        x.forced_status = saved;
        x.error_page_get = true;
        co_await proxy(*loc, redirects + 1);
        co_return;
      }
      // Missing target: fall through to the built-in page.
    }
  }
  if (status == 413) {
    if (x.parser.headers_done() && !x.parser.failed() && !x.parser.message_done()) {
      keep_alive_ = false;
    }
  } else {
    co_await discard_unread_body();
  }
  std::string absolute;
  if (location_header.starts_with("/") && s.absolute_redirect) {
    absolute = location_header;
    make_absolute(absolute);
    location_header = absolute;
  }
  std::string generated;
  std::string_view type = content_type;
  if (body.empty() && status >= 300 &&
      (status >= 400 || !location_header.empty() || status <= 308)) {
    if (status >= 300 && status != 304) {
      generated =
          error_page_body(!bad_request_variant(status).empty() ? 400 : status, s.server_tokens);
      body = generated;
      type = "text/html";
    }
  }
  // nginx's 400 variants (494 to 497) go out as 400 with a page that says which.
  const std::string_view variant = bad_request_variant(status);
  const int wire_status = variant.empty() ? status : 400;
  begin_response_head(wire_status, reason_phrase(wire_status));
  auto& out = x.out;
  if (!variant.empty()) {
    generated =
        "<html>\r\n<head><title>400 " + std::string(variant) +
        "</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>" +
        std::string(variant) + "</center>\r\n<hr><center>" +
        std::string(server_token(s.server_tokens)) + "</center>\r\n</body>\r\n</html>\r\n";
    body = generated;
  }
  bool no_body = status_has_no_body(wire_status);
  if (!no_body) {
    if (!type.empty()) {
      out += "Content-Type: ";
      size_t value_at = out.size();
      out += type;
      out += charset_suffix(type, s.charset, s.charset_types);
      if (ctx.config->uses(conf::Var::kSentHttp)) {
        ctx.sent_headers.emplace_back("Content-Type", out.substr(value_at));
      }
      out += "\r\n";
    }
    out += "Content-Length: ";
    out += std::to_string(body.size());
    out += "\r\n";
  }
  if (!location_header.empty()) {
    out += "Location: ";
    const size_t value_at = out.size();
    out += location_header;
    escape_header_value(out, value_at);
    out += "\r\n";
  }
  out += extra_headers;
  if (status >= 400 && status != 404 && status != 429) {
    // nginx closes after most error statuses it generates itself.
    if (status == 400 || status == 413 || status == 414 || !variant.empty() || status == 408 ||
        status == 500 || status == 501 || status == 505) {
      keep_alive_ = false;
    }
  }
  finish_response_head(true);
  auto& bufs = x.bufs;
  bufs.clear();
  bufs.push_back(asio::buffer(out));
  bool head_only = ctx.method == "HEAD" || no_body;
  if (!head_only && !body.empty()) bufs.push_back(asio::buffer(body));
  size_t total = out.size() + (head_only ? 0 : body.size());
  if (co_await write_client(bufs)) {
    ctx.bytes_sent += total;
    ctx.body_bytes_sent += head_only ? 0 : body.size();
  }
}

void ClientSession::make_absolute(std::string& location) {
  if (!location.starts_with('/') || !settings().absolute_redirect) return;
  // scheme://host[:port] as nginx's header filter builds it: the server's name with
  // server_name_in_redirect, else the request's host, else the local address; the
  // port unless the scheme's own or port_in_redirect off.
  const auto& s = settings();
  const auto& ctx = x_->ctx;
  std::string prefix = info_.tls ? "https://" : "http://";
  if (s.server_name_in_redirect && ctx.server) {
    prefix += ctx.server->names.first;
  } else if (ctx.host_from_request) {
    prefix += ctx.host;
  } else if (info_.server_addr.find(':') != std::string::npos) {
    prefix += "[" + info_.server_addr + "]";
  } else {
    prefix += info_.server_addr;
  }
  if (s.port_in_redirect && info_.server_port != (info_.tls ? 443 : 80)) {
    prefix += ":" + std::to_string(info_.server_port);
  }
  location.insert(0, prefix);
}

Task<void> ClientSession::discard_unread_body() {
  auto& x = *x_;
  // Any unread request body is discarded so the connection can be reused. Not when
  // the client still waits for "100 Continue": it sends nothing then.
  const bool awaits_continue = !x.sent_continue && x.ctx.protocol == "HTTP/1.1" &&
                               iequals(x.ctx.header("expect"), "100-continue");
  if (x.parser.headers_done() && !x.parser.failed() && !x.parser.message_done() &&
      (awaits_continue || !co_await discard_body())) {
    keep_alive_ = false;
  }
}

Task<bool> ClientSession::write_client(const std::vector<asio::const_buffer>& bufs) {
  arm(settings().send_timeout);
  // A span, not the vector: async_write copies its buffer sequence.
  auto [ec, n] = co_await client_.async_write(std::span<const asio::const_buffer>(bufs), kTuple);
  disarm();
  if (ec) {
    client_write_failed();
    co_return false;
  }
  co_return true;
}

void ClientSession::client_write_failed() {
  if (timed_out_) {
    client_timed_out_ = true;
    log(LogLevel::kInfo, "*" + std::to_string(info_.id) +
                             " client timed out (110: Connection timed out) while sending "
                             "response to client, client: " +
                             client_addr());
  }
  keep_alive_ = false;
}

Task<bool> ClientSession::write_client(std::string_view data) {
  auto& bufs = x_->bufs;
  bufs.clear();
  bufs.push_back(asio::buffer(data.data(), data.size()));
  co_return co_await write_client(bufs);
}

}  // namespace tg::proxy
