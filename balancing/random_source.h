// The seedable random source of the random and peak_ewma algorithms.
#pragma once

#include <cstdint>

namespace tg::balancing {

/// SplitMix64 (Steele, Lea, Flood 2014): 8 bytes of state, one multiply-xorshift chain
/// per draw, every seed valid. Good enough to spread load, not for secrets.
/// Each GroupPicker owns one, so draws need no synchronisation; give each worker its
/// own seed, or all workers draw the same sequence.
class SplitMix64 {
 public:
  /// Default seed of a GroupPicker that was given none.
  static constexpr std::uint64_t kDefaultSeed = 0x7469'6465'6761'7465;  // "tidegate"

  explicit SplitMix64(std::uint64_t seed = kDefaultSeed) noexcept : state_(seed) {}

  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9e37'79b9'7f4a'7c15);
    z = (z ^ (z >> 30)) * 0xbf58'476d'1ce4'e5b9;
    z = (z ^ (z >> 27)) * 0x94d0'49bb'1331'11eb;
    return z ^ (z >> 31);
  }

  /// Uniform in [0, bound) for bound > 0, by Lemire's multiply-shift (the bias, at most
  /// bound / 2^64, is far below anything a load balancer can notice).
  std::uint64_t below(std::uint64_t bound) noexcept {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }

 private:
  std::uint64_t state_;
};

}  // namespace tg::balancing
