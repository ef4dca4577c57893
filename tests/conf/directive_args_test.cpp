#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "conf/directive_args.h"

namespace tg::conf {
namespace {

using namespace std::chrono_literals;
using boost::asio::ip::make_address;
using boost::asio::ip::tcp;

Millis time_of(std::string_view text) {
  Millis t{-1};
  EXPECT_TRUE(parse_time(text, t)) << text;
  return t;
}

TEST(ParseTime, ReadsEveryUnitAndBareSeconds) {
  EXPECT_EQ(time_of("30"), 30s);
  EXPECT_EQ(time_of("0"), 0ms);
  EXPECT_EQ(time_of("500ms"), 500ms);
  EXPECT_EQ(time_of("15s"), 15s);
  EXPECT_EQ(time_of("2m"), 2min);
  EXPECT_EQ(time_of("3h"), 3h);
  EXPECT_EQ(time_of("1d"), 24h);
  EXPECT_EQ(time_of("1w"), 7 * 24h);
}

TEST(ParseTime, CombinesUnitsFromTheMostSignificant) {
  EXPECT_EQ(time_of("1h 30m"), 90min);
  EXPECT_EQ(time_of("1h30m"), 90min);
  EXPECT_EQ(time_of("1h  30m"), 90min);
  EXPECT_EQ(time_of("1d 2h 3m 4s 5ms"), 26h + 3min + 4s + 5ms);
  EXPECT_EQ(time_of("1s500ms"), 1500ms);
  EXPECT_EQ(time_of("1h 30"), 1h + 30s);  // a trailing bare number is seconds
  EXPECT_EQ(time_of("1h "), 1h);
  EXPECT_EQ(time_of("9223372036854775"), Millis(9223372036854775000));
}

TEST(ParseTime, RejectsWhatNginxRejects) {
  for (const char* bad : {"", "ms", "1x", "1M", "1y", "30m 1h", "1m1m", "1500ms1s", " 1h", "1 2 3",
                          "-1", "1.5s", "92233720368547758"}) {
    Millis t{-1};
    EXPECT_FALSE(parse_time(bad, t)) << "[" << bad << "]";
  }
}

int64_t size_of(std::string_view text) {
  int64_t n = -1;
  EXPECT_TRUE(parse_size(text, n)) << text;
  return n;
}

TEST(ParseSize, ReadsBytesAndBinaryUnits) {
  EXPECT_EQ(size_of("1024"), 1024);
  EXPECT_EQ(size_of("0"), 0);
  EXPECT_EQ(size_of("1k"), 1024);
  EXPECT_EQ(size_of("1K"), 1024);
  EXPECT_EQ(size_of("01k"), 1024);
  EXPECT_EQ(size_of("8m"), 8 << 20);
  EXPECT_EQ(size_of("8M"), 8 << 20);
  EXPECT_EQ(size_of("2g"), 2LL << 30);
  EXPECT_EQ(size_of("2G"), 2LL << 30);
  EXPECT_EQ(size_of("9223372036854775807"), 9223372036854775807);
}

TEST(ParseSize, RejectsWhatNginxRejects) {
  for (const char* bad :
       {"", "k", "1kb", "1.5k", "-1", "1 k", "99999999999999999999", "8589934592g"}) {
    int64_t n = -1;
    EXPECT_FALSE(parse_size(bad, n)) << "[" << bad << "]";
  }
}

Millis seconds_of(std::string_view text) {
  Millis t{-1};
  EXPECT_TRUE(parse_seconds(text, t)) << text;
  return t;
}

TEST(ParseSeconds, CountsBareNumbersInSecondsAndAllowsMonthsAndYears) {
  EXPECT_EQ(seconds_of("30"), 30s);
  EXPECT_EQ(seconds_of("2m"), 2min);
  EXPECT_EQ(seconds_of("1M"), 30 * 24h);
  EXPECT_EQ(seconds_of("1y"), 365 * 24h);
  EXPECT_EQ(seconds_of("1h 30"), 1h + 30s);
}

TEST(ParseSeconds, RejectsMillisecondsAndOverflow) {
  for (const char* bad : {"", "500ms", "1x", "9223372036854775807"}) {
    Millis t{-1};
    EXPECT_FALSE(parse_seconds(bad, t)) << "[" << bad << "]";
  }
}

std::vector<tcp::endpoint> resolve_text(const std::string& text, std::string& error) {
  std::string host;
  int port = 0;
  return resolve(text, 80, false, host, port, error);
}

TEST(Resolve, ReadsAddressesWithAndWithoutPort) {
  std::string error;
  EXPECT_EQ(resolve_text("127.0.0.1:8081", error),
            std::vector<tcp::endpoint>{tcp::endpoint(make_address("127.0.0.1"), 8081)});
  EXPECT_EQ(resolve_text("127.0.0.1", error),
            std::vector<tcp::endpoint>{tcp::endpoint(make_address("127.0.0.1"), 80)});
  EXPECT_EQ(resolve_text("[::1]:9", error),
            std::vector<tcp::endpoint>{tcp::endpoint(make_address("::1"), 9)});
  EXPECT_EQ(endpoint_text(tcp::endpoint(make_address("::1"), 9)), "[::1]:9");
}

TEST(Resolve, ReportsNginxReasons) {
  const std::vector<std::pair<std::string, std::string>> cases = {{":80", "no host"},
                                                                  {"127.0.0.1:0", "invalid port"},
                                                                  {"a:x", "invalid port"},
                                                                  {"[::1", "invalid host"}};
  for (const auto& [text, reason] : cases) {
    std::string error;
    EXPECT_TRUE(resolve_text(text, error).empty()) << text;
    EXPECT_EQ(error, reason) << text;
  }
}

}  // namespace
}  // namespace tg::conf
