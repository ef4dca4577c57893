// What the adapters' `provider TYPE key=value ...` parameters share: the same checks and
// the same [emerg] words for every provider, so that an operator who has seen one
// provider's message knows them all.
#pragma once

#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "scaling/spec.h"

namespace tg::scaling {

/// The error for a value that cannot be used: `invalid value "V" of "KEY="`.
std::invalid_argument invalid_value(const std::string& key, const std::string& value);

/// Refuses a key that is not in `known`: `unknown parameter "K" of provider "TYPE"`, so
/// that a misspelt parameter is not silently ignored.
void check_parameters(const ProviderSpec& spec, std::initializer_list<std::string_view> known);

/// The value of `key`; throws `provider "TYPE" needs KEY=` when it is missing or empty.
std::string required_param(const ProviderSpec& spec, const std::string& key);

/// A TCP port, 1 to 65535, written as digits only; nullopt otherwise.
std::optional<int> parse_port(std::string_view text);

/// `port=`, required: the port the instances serve on.
int port_param(const ProviderSpec& spec);

/// A duration parameter in provider_duration()'s syntax that must not be 0 (`timeout=`,
/// `poll=`): `fallback` when it is not given.
Millis positive_duration_param(const ProviderSpec& spec, const std::string& key,
                               const std::string& fallback);

/// An API's base URL (http or https), `fallback` when not given; trailing slashes are
/// dropped so that API paths can be appended as they are documented.
std::string base_url_param(const ProviderSpec& spec, const std::string& key,
                           const std::string& fallback);

/// A secret given inline as `KEY=` or in a file as `KEY_file=` (read now, so that a
/// missing file fails at -t; a trailing newline, as `echo` writes, is dropped); nullopt
/// when neither is given. Throws when both are given, when the inline value is empty, or
/// when the file cannot be read or is empty.
std::optional<std::string> secret_param(const ProviderSpec& spec, const std::string& key);

}  // namespace tg::scaling
