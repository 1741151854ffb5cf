// lowp/detail/philox.hpp — Philox4x32-10, the counter-based random generator behind
// lowp::convert_stochastic: the random bits of element i are a function of (seed, i) only.
//
// Layer: bulk (standard library only).  Includes config.hpp.
//
// Why counter-based: a sequential generator (a std::mt19937 stream) would give element i
// whatever draw the thread that converts it reaches, so the result would depend on the
// thread count, the chunking and the SIMD width.  Philox instead computes draw i directly
// from i, like a block cipher in counter mode, so any element can be converted anywhere,
// in any order, with the same bits.
//
// Philox4x32-10 (J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw, "Parallel random
// numbers: as easy as 1, 2, 3", SC'11; the generator of Random123 and of
// cuRAND's CURAND_RNG_PSEUDO_PHILOX4_32_10) maps a 128-bit counter c = (c0, c1, c2, c3)
// and a 64-bit key k = (k0, k1) to 128 random bits by ten rounds of
//
//     (hi0, lo0) = M0 * c0,  (hi1, lo1) = M1 * c2      (full 32 x 32 -> 64-bit products)
//     c = (hi1 ^ c1 ^ k0,  lo1,  hi0 ^ c3 ^ k1,  lo0)
//
// with the key bumped by the Weyl constants between rounds, (k0, k1) += (W0, W1) mod 2^32
// (round r uses k + r * W).  M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9 (the golden
// ratio), W1 = 0xBB67AE85 (sqrt(3) - 1), as in Random123's philox.h.  Ten rounds is the
// count the paper recommends: a safety margin over the fewest rounds that pass TestU01's
// BigCrush.  tests/test_stochastic.cpp checks Random123's known-answer vectors
// (kat_vectors) for this exact function.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "../config.hpp"

namespace lowp::detail {

inline constexpr std::uint32_t philox_m0 = 0xD2511F53u;
inline constexpr std::uint32_t philox_m1 = 0xCD9E8D57u;
inline constexpr std::uint32_t philox_w0 = 0x9E3779B9u;
inline constexpr std::uint32_t philox_w1 = 0xBB67AE85u;

/// Philox4x32-10 of one counter under one key: 128 random bits as four words.  Total
/// (every counter and key is valid), constexpr, noexcept.
constexpr std::array<std::uint32_t, 4> philox4x32_10(std::array<std::uint32_t, 4> counter,
                                                     std::array<std::uint32_t, 2> key) noexcept {
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = std::uint64_t{philox_m0} * counter[0];
    const std::uint64_t p1 = std::uint64_t{philox_m1} * counter[2];
    const auto hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const auto hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    counter = {hi1 ^ counter[1] ^ key[0], lo1, hi0 ^ counter[3] ^ key[1], lo0};
    key = {key[0] + philox_w0, key[1] + philox_w1};  // unsigned: wraps mod 2^32
  }
  return counter;
}

/// The random words of elements 4 * block .. 4 * block + 3 of the stream `seed`: Philox of
/// the counter (low, high 32 bits of block, 0, 0) under the key (low, high 32 bits of seed).
/// Word j is stochastic_bits(seed, 4 * block + j).
constexpr std::array<std::uint32_t, 4> stochastic_bits4(std::uint64_t seed,
                                                        std::uint64_t block) noexcept {
  return philox4x32_10(
      {static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32), 0u, 0u},
      {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)});
}

/// The 32 random bits lowp::convert_stochastic feeds to cast_stochastic for element `index`
/// of a call with `seed`: word index % 4 of stochastic_bits4(seed, index / 4).  Depends on
/// (seed, index) only; every (seed, index) is valid (the counter's top two words stay 0, so
/// indices never wrap).
constexpr std::uint32_t stochastic_bits(std::uint64_t seed, std::uint64_t index) noexcept {
  return stochastic_bits4(seed, index / 4)[static_cast<std::size_t>(index % 4)];
}

}  // namespace lowp::detail
