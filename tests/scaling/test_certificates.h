// Throwaway PEM keys and certificates for the TLS fakes, made by the openssl command (which
// the tests need anyway, as operators do): a CA per test suite, and server certificates it
// signs for the names the adapter will check.
#pragma once

#include <filesystem>
#include <string>

namespace tg::scaling {

/// Writes a self-signed CA into `dir`: NAME.pem and NAME.key, subject CN=`common_name`,
/// valid for 2 days. Fails the test when openssl does.
void make_test_ca(const std::filesystem::path& dir, const std::string& name,
                  const std::string& common_name);

/// Writes a certificate signed by the CA `ca` (made by make_test_ca in the same `dir`):
/// NAME.pem and NAME.key, subject CN=NAME, for `subject_alt_names` as openssl writes them
/// ("IP:127.0.0.1,DNS:localhost"). Fails the test when openssl does.
void make_test_certificate(const std::filesystem::path& dir, const std::string& name,
                           const std::string& ca, const std::string& subject_alt_names);

}  // namespace tg::scaling
