// P-256 keys: quick to make, and what clusters and load balancers use today.
#include "tests/scaling/test_certificates.h"

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

namespace tg::scaling {

namespace {

const std::string kNewKey = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";

void run_in(const std::filesystem::path& dir, const std::string& commands) {
  const std::string script = "cd " + dir.string() + " && " + commands;
  ASSERT_EQ(std::system(("(" + script + ") >/dev/null 2>&1").c_str()), 0) << script;
}

}  // namespace

void make_test_ca(const std::filesystem::path& dir, const std::string& name,
                  const std::string& common_name) {
  run_in(dir, "openssl req -x509" + kNewKey + " -keyout " + name + ".key -out " + name +
                  ".pem -days 2 -subj /CN=" + common_name +
                  " -addext basicConstraints=critical,CA:TRUE"
                  " -addext keyUsage=critical,keyCertSign");
}

void make_test_certificate(const std::filesystem::path& dir, const std::string& name,
                           const std::string& ca, const std::string& subject_alt_names) {
  std::ofstream(dir / (name + ".ext")) << "subjectAltName=" << subject_alt_names << "\n";
  run_in(dir, "openssl req" + kNewKey + " -keyout " + name + ".key -out " + name +
                  ".csr -subj /CN=" + name + " && openssl x509 -req -in " + name + ".csr -CA " +
                  ca + ".pem -CAkey " + ca + ".key -CAcreateserial -days 2 -out " + name +
                  ".pem -extfile " + name + ".ext");
}

}  // namespace tg::scaling
