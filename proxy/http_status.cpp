#include "proxy/http_status.h"

#include "http/head_line.h"

namespace tg::proxy {

using http::iequals;
using http::trim;

std::string_view bad_request_variant(int status) {
  switch (status) {
    case 494:
      return "Request Header Or Cookie Too Large";
    case 495:
      return "The SSL certificate error";
    case 496:
      return "No required SSL certificate was sent";
    case 497:
      return "The plain HTTP request was sent to HTTPS port";
    default:
      return {};
  }
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Moved Temporarily";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Time-out";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Request Entity Too Large";
    case 414:
      return "Request-URI Too Large";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Requested Range Not Satisfiable";
    case 421:
      return "Misdirected Request";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Temporarily Unavailable";
    case 504:
      return "Gateway Time-out";
    case 505:
      return "HTTP Version Not Supported";
    case 507:
      return "Insufficient Storage";
    default:
      return {};
  }
}

std::string charset_suffix(std::string_view content_type, const std::string& charset,
                           const std::vector<std::string>& charset_types) {
  if (charset.empty()) return {};
  std::string_view mime = trim(content_type.substr(0, content_type.find(';')));
  if (content_type.find(';') != std::string_view::npos) {
    // A charset parameter already there is kept (nginx recodes only with source_charset).
    std::string_view params = content_type.substr(content_type.find(';'));
    for (size_t i = 0; i + 8 <= params.size(); ++i) {
      if (iequals(params.substr(i, 8), "charset=")) return {};
    }
  }
  bool listed = charset_types.size() == 1 && charset_types[0] == "*";
  for (const auto& t : charset_types) listed = listed || iequals(t, mime);
  if (!listed) return {};
  return "; charset=" + charset;
}

std::string_view server_token(bool with_version) {
  return with_version ? std::string_view("tidegate/" TIDEGATE_VERSION)
                      : std::string_view("tidegate");
}

std::string error_page_body(int status, bool server_tokens) {
  std::string title = std::to_string(status);
  std::string_view reason = reason_phrase(status);
  if (!reason.empty()) {
    title += ' ';
    title += reason;
  }
  std::string body = "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n";
  body += "<center><h1>" + title + "</h1></center>\r\n";
  body += "<hr><center>";
  body += server_token(server_tokens);
  body += "</center>\r\n</body>\r\n</html>\r\n";
  return body;
}

bool add_header_applies(int status) {
  switch (status) {
    case 200:
    case 201:
    case 204:
    case 206:
    case 301:
    case 302:
    case 303:
    case 304:
    case 307:
    case 308:
      return true;
    default:
      return false;
  }
}

void escape_uri(std::string_view in, std::string& out) {
  static const char* hex = "0123456789ABCDEF";
  // nginx's table: " ", "#", "%", "?", %00-%1F and %7F-%FF; everything else goes as is.
  for (unsigned char c : in) {
    if (c <= 0x20 || c >= 0x7f || c == '#' || c == '%' || c == '?') {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
}

}  // namespace tg::proxy
