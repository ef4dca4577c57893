#include "proxy/http_parser.h"

#include <cctype>

namespace tg::proxy {
namespace {
HttpParser* self(llhttp_t* p) {
  return static_cast<HttpParser*>(p->data);
}
}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  // ASCII only (header names are tokens): no locale lookups on the hot path.
  auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c | 0x20 : c; };
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(static_cast<unsigned char>(a[i])) != lower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = trim(list.substr(0, comma));
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

HttpParser::HttpParser(llhttp_type_t type) {
  llhttp_settings_init(&settings_);
  settings_.on_url = &HttpParser::on_url;
  settings_.on_status = &HttpParser::on_status;
  settings_.on_header_field = &HttpParser::on_header_field;
  settings_.on_header_value = &HttpParser::on_header_value;
  settings_.on_headers_complete = &HttpParser::on_headers_complete;
  settings_.on_body = &HttpParser::on_body;
  settings_.on_message_complete = &HttpParser::on_message_complete;
  llhttp_init(&parser_, type, &settings_);
  parser_.data = this;
}

void HttpParser::reset() {
  llhttp_reset(&parser_);
  parser_.data = this;
  url_ = status_ = {};
  headers_.clear();
  body_.clear();
  in_value_ = headers_done_ = message_done_ = failed_ = upgrade_ = keep_alive_ = false;
  no_body_ = false;
  content_length_ = 0;
  error_ = HPE_OK;
  error_reason_ = "";
}

void HttpParser::extend(Span& span, uint32_t offset, size_t len) {
  // Pieces of one token arrive in order and contiguously in our buffer.
  if (span.length == 0) span.offset = offset;
  span.length += static_cast<uint32_t>(len);
}

int HttpParser::on_url(llhttp_t* p, const char* at, size_t len) {
  auto* s = self(p);
  extend(s->url_, static_cast<uint32_t>(at - s->base_), len);
  return 0;
}

int HttpParser::on_status(llhttp_t* p, const char* at, size_t len) {
  auto* s = self(p);
  extend(s->status_, static_cast<uint32_t>(at - s->base_), len);
  return 0;
}

int HttpParser::on_header_field(llhttp_t* p, const char* at, size_t len) {
  auto* s = self(p);
  // Chunked trailers: dropped as nginx drops them. Recording them would mix spans of
  // body buffers into the head's header list.
  if (s->headers_done_) return 0;
  // llhttp 8 takes "Bad Name:" and "X-Name :" as names; nginx (1.21.1+) answers 400, and a
  // name with a space must not reach an upstream that might read it differently.
  for (size_t i = 0; i < len; ++i) {
    if (at[i] == ' ' || at[i] == '\t') {
      llhttp_set_error_reason(p, "Invalid header token");
      return -1;
    }
  }
  if (s->in_value_ || s->headers_.empty()) {
    s->headers_.emplace_back();
    s->in_value_ = false;
  }
  extend(s->headers_.back().name, static_cast<uint32_t>(at - s->base_), len);
  return 0;
}

int HttpParser::on_header_value(llhttp_t* p, const char* at, size_t len) {
  auto* s = self(p);
  if (s->headers_done_) return 0;  // trailer
  s->in_value_ = true;
  extend(s->headers_.back().value, static_cast<uint32_t>(at - s->base_), len);
  return 0;
}

int HttpParser::on_headers_complete(llhttp_t* p) {
  auto* s = self(p);
  s->headers_done_ = true;
  s->keep_alive_ = llhttp_should_keep_alive(p) != 0;
  s->content_length_ = static_cast<int64_t>(p->content_length);
  if (s->no_body_) return 1;  // response to HEAD: no body follows
  return 0;
}

int HttpParser::on_body(llhttp_t* p, const char* at, size_t len) {
  auto* s = self(p);
  s->body_.push_back(Span{static_cast<uint32_t>(at - s->base_), static_cast<uint32_t>(len)});
  return 0;
}

int HttpParser::on_message_complete(llhttp_t* p) {
  auto* s = self(p);
  s->message_done_ = true;
  s->keep_alive_ = llhttp_should_keep_alive(p) != 0;
  // Our pause comes before llhttp's own HPE_PAUSED_UPGRADE, so feed() never sees that
  // code: take the flag llhttp sets for Upgrade + "Connection: upgrade" and for CONNECT.
  s->upgrade_ = p->upgrade != 0;
  return HPE_PAUSED;  // leave pipelined bytes for the next message
}

bool HttpParser::body_until_close() const {
  return headers_done_ && !message_done_ && llhttp_message_needs_eof(&parser_) != 0;
}

size_t HttpParser::feed(const char* base, size_t begin, size_t end) {
  base_ = base;
  if (message_done_ || failed_ || begin == end) return 0;
  const char* start = base + begin;
  llhttp_errno_t rc = llhttp_execute(&parser_, start, end - begin);
  if (rc == HPE_OK) return end - begin;
  const char* pos = llhttp_get_error_pos(&parser_);
  size_t consumed = pos ? static_cast<size_t>(pos - start) : end - begin;
  if (rc == HPE_PAUSED) {
    llhttp_resume(&parser_);
    return consumed;
  }
  if (rc == HPE_PAUSED_UPGRADE) {
    upgrade_ = true;
    message_done_ = true;
    llhttp_resume_after_upgrade(&parser_);
    return consumed;
  }
  failed_ = true;
  error_ = rc;
  error_reason_ = llhttp_get_error_reason(&parser_);
  return consumed;
}

bool HttpParser::finish() {
  llhttp_errno_t rc = llhttp_finish(&parser_);
  if (rc == HPE_OK || rc == HPE_PAUSED) {
    if (rc == HPE_PAUSED) llhttp_resume(&parser_);
    return true;
  }
  failed_ = true;
  error_ = rc;
  error_reason_ = llhttp_get_error_reason(&parser_);
  return false;
}

}  // namespace tg::proxy
