// nginx's request routing: server block by listen address and Host
// (exact, longest leading wildcard, longest trailing wildcard, first regex,
// default_server), then location (exact, longest prefix, `^~`, nested, regex in
// conf order).
#pragma once

#include <string_view>
#include <vector>

#include "conf/config.h"

namespace tg::proxy {

/// The server blocks that listen on one address:port. On a TLS address it also
/// picks the server (and so the certificate) for a client's SNI name.
struct ListenGroup final : tls::SniChooser {
  ListenGroup(boost::asio::ip::tcp::endpoint endpoint, int backlog)
      : endpoint(endpoint), backlog(backlog) {}
  boost::asio::ip::tcp::endpoint endpoint;
  int backlog = 511;
  std::vector<const conf::ServerBlock*> servers;
  const conf::ServerBlock* default_server = nullptr;
  /// TLS on this address (a `listen ... ssl` of any of its servers): the context a
  /// handshake starts with (the default server's, else the first server's that has one).
  const tls::ServerContext* tls = nullptr;
  /// `listen ... proxy_protocol` on any of its servers' lines for this address.
  bool proxy_protocol = false;
  /// nginx's SNI rule: the server_name lookup a Host would get.
  const tls::ServerContext* choose_tls(std::string_view name) const override;
};

/// Groups the configuration's server blocks by listen address (conf order kept).
std::vector<ListenGroup> group_listeners(const conf::Config& config);

/// Picks the server block for a normalised (lower-case, no port) host name.
const conf::ServerBlock* find_server(const ListenGroup& group, std::string_view host);

/// Picks the location for a normalised URI; fills `captures` when a regex
/// location matched. Returns nullptr when no location matches. Sets
/// `*redirect` when the URI is `/x` and the location found is a `/x/` handled
/// by proxy_pass (nginx answers 301 to `/x/` then).
const conf::Location* find_location(const conf::ServerBlock& server, std::string_view uri,
                                    conf::Captures* captures, bool* redirect = nullptr);

/// Finds a named location (`@name`) of a server.
const conf::Location* find_named_location(const conf::ServerBlock& server, std::string_view name);

/// Normalises a Host header value: lower case, port and trailing dot removed.
/// Returns false for a value nginx rejects with 400.
bool normalize_host(std::string_view raw, std::string& out);

/// Decodes %XX, merges slashes and resolves "." and ".." as nginx does for $uri.
/// Returns false for a URI that escapes the root or is malformed.
bool normalize_uri(std::string_view path, std::string& out);

}  // namespace tg::proxy
