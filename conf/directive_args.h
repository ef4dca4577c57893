// Reading directive arguments as nginx's slot functions do: numbers, times, host:port
// addresses, and the `in file:line` error naming a directive. Shared by the builders in
// conf/ (config_builder.cpp, upstream_block.cpp); not part of the configuration model.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "conf/ast.h"
#include "conf/config.h"

namespace tg::conf {

/// ASCII lower case.
std::string lower(std::string_view s);

/// Throws ConfError(message) at the directive's line.
[[noreturn]] void fail(const Directive& d, const std::string& message);

/// nginx's ngx_parse_time: milliseconds, or seconds when `is_sec` (then `1M` and `1y` are
/// allowed and `ms` is not). False on syntax errors and overflow.
bool parse_nginx_time(std::string_view text, bool is_sec, int64_t& out);

/// nginx's ngx_parse_time(text, 1) as milliseconds: the unit of server parameters
/// (fail_timeout=, slow_start=) and sticky's expires=. False on errors and overflow.
bool parse_seconds(std::string_view text, Millis& out);

/// Argument `i` as a time (ngx_conf_set_msec_slot): `"name" directive invalid value`.
Millis time_arg(const Directive& d, size_t i);

/// A non-negative decimal of at most 9 digits.
bool parse_int(const std::string& s, int& out);

/// Argument `i` as a number (ngx_conf_set_num_slot): `"name" directive invalid number`.
int int_arg(const Directive& d, size_t i);

/// Resolves "host[:port]" (nginx's ngx_parse_url for listen/upstream); port defaults to
/// `default_port`. Every address of a name is returned, each once. On failure returns
/// nothing and sets `error` to nginx's words ("invalid port", "no host", "host not found").
std::vector<boost::asio::ip::tcp::endpoint> resolve(const std::string& text, int default_port,
                                                    bool passive, std::string& host_out,
                                                    int& port_out, std::string& error);

/// "127.0.0.1:8081" / "[::1]:8081", as $upstream_addr prints an address.
std::string endpoint_text(const boost::asio::ip::tcp::endpoint& ep);

}  // namespace tg::conf
