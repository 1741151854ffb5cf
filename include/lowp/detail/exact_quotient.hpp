// lowp/detail/exact_quotient.hpp — bulk encoders of correctly rounded quotients x / s:
// the codes of F(x / s) for a float divisor s, computed without ever rounding x / s twice.
//
// Layer: bulk.  Includes cast.hpp, packed.hpp, bulk.hpp and the standard library.
//
// quantize() (quantize.hpp) encodes each group whose policy's encode() is a plain cast of
// x / s (policy_base::cast_divisor) through quotient_encoder: FP4 rounded to nearest even
// straight from compares (fp4_nearest_encoder), every other case as exact quotients
// (exact_quotients) converted in bulk (lowp::convert, SIMD).  The codes are those of
// lowp::cast<F>(x / s) with x / s the exact real quotient, element by element.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../bulk.hpp"
#include "../cast.hpp"
#include "../packed.hpp"

namespace lowp::detail {

/// The most significant bits any value or rounding boundary (midpoint between two
/// neighbours) of F can have: M + 2 for an FP format, b + 1 for a b-bit integer.
template <class F>
constexpr int boundary_bits() noexcept {
  if constexpr (is_lowp_int_v<F>) {
    return F::traits_type::bits + 1;
  } else {
    return float_layout<typename F::traits_type>::M + 2;
  }
}

/// Formats whose nearest-even grid scaled_grid_values() rounds on (with subnormals and a
/// signed zero, or signed/unsigned integers): fake_quantize() skips their codes, and the
/// policies' quantize_batch() runs grid_quantize_scaled() on them (scale.hpp).
template <class F>
inline constexpr bool has_grid_values_v = is_lowp_int_v<F> || (std::is_same_v<F, float8_e4m3fn> ||
                                                               std::is_same_v<F, float8_e5m2> ||
                                                               std::is_same_v<F, float6_e3m2fn> ||
                                                               std::is_same_v<F, float6_e2m3fn> ||
                                                               std::is_same_v<F, float4_e2m1fn>);

/// The bits of a float that every deterministic rounding to F rounds exactly as it rounds
/// the real quotient x / s (s > 0 finite), so that a float -> F conversion of it is the
/// correctly rounded x / s.
///
/// Why it works: q = fl(x / s) is correctly rounded, and every rounding boundary of F
/// (a value or a midpoint, <= boundary_bits<F>() significant bits, well above the float
/// subnormal range) is a float, so fl() never carries x / s across one; it can only land
/// *on* one when x / s is merely close to it.  Only then (q has few significant bits and
/// the residual x - q s, computed exactly in double and only its sign used, is non-zero)
/// q moves one float ulp toward x / s: a float with 24 significant bits, which is no
/// boundary, on the same side as x / s.  Plain float division would instead create
/// false ties (and x * (1/s) is not even correctly rounded).  Branch-free, so that loops
/// over it vectorize.
template <class F>
inline std::uint32_t exact_quotient_bits(float x, float s) noexcept {
  constexpr std::uint32_t low = (std::uint32_t{1} << (24 - boundary_bits<F>())) - 1u;
  const float q = x / s;
  const std::uint32_t b = bit_cast<std::uint32_t>(q);
  // x - q s, exactly signed: the product is exact in double, and the rounded difference
  // has the sign of the exact one (never 0 unless it is: both are multiples of 2^-298,
  // far above double's underflow).
  const double r = static_cast<double>(x) - static_cast<double>(q) * static_cast<double>(s);
  // delta = candidate ? (grow ? +1 : -1) : 0, |q| moving toward |x / s|.
  const std::uint32_t candidate =
      static_cast<std::uint32_t>((b & low) == 0) & static_cast<std::uint32_t>(r != 0.0);
  const std::uint32_t grow = static_cast<std::uint32_t>(r > 0.0) ^ (b >> 31);
  return b + candidate * (2u * grow - 1u);
}

/// q[i] = exact_quotient_bits<F>(x[i], s) as floats, for i < n: the quotients x[i] / s
/// that a bulk float -> F conversion rounds correctly.
template <class F>
inline void exact_quotients(const float* x, std::size_t n, float s, float* q) noexcept {
  LOWP_SIMD_LOOP
  for (std::size_t i = 0; i < n; ++i) q[i] = bit_cast<float>(exact_quotient_bits<F>(x[i], s));
}

/// F's grid rounding on float bits: q rounded to F's grid to nearest, ties to even, and
/// saturated, for finite q and F either a float format with subnormals and a signed zero
/// (FP8 E4M3/E5M2, FP6, FP4 E2M1) or an integer format (INT8, INT4, unsigned).  The one
/// rounding that scaled_grid_values() (fake_quantize()'s values) and
/// grid_quantize_scaled() (scale.hpp: the policies' codes and values) share.
/// Branch-free, so that loops over it vectorize.  The magnitude a = |q| is rounded in one
/// of two ways:
///
///   a >= 2^emin (F normal):  float bits   s eeeeeeee mmm|mmmmmmmmmmmmmmmmmmmm   (E4M3)
///                            keep F's M mantissa bits: add 2^(22-M) - 1 plus the last
///                            kept bit (ties to even), clear the 23-M bits below;
///   a <  2^emin (subnormal): (a + 2^(emin-M+23)) - 2^(emin-M+23): float's own rounding
///                            at that exponent, whose ulp is F's subnormal quantum.
///
/// An integer format takes the second form alone, with quantum 1 ((a + 2^23) - 2^23),
/// and saturates at its max, or at -min below zero (127 and 128 for INT8).
///
/// The selections work on the magnitudes' bits as signed integers (a non-negative float
/// orders as its bits; every candidate, rounded up past the largest float included, stays
/// below 2^31): integer compares, masks and min, which vectorize.  A mask, not a ?:, picks
/// the subnormal candidate: GCC keeps a branch around a float add/subtract that may raise
/// FP exceptions (-ftrapping-math), and the loop then does not vectorize.
template <class F, bool = is_lowp_int_v<F>>
struct grid_rounding;

template <class F>
struct grid_rounding<F, true> {
  using u32 = std::uint32_t;
  using i32 = std::int32_t;
  static constexpr float magic = 8388608.0f;  // 2^23: a + 2^23 - 2^23 rounds a < 2^23
  const u32 magic_bits = bit_cast<u32>(magic);
  const i32 hi_bits = static_cast<i32>(bit_cast<u32>(static_cast<float>(F::traits_type::max)));
  const i32 lo_bits = static_cast<i32>(bit_cast<u32>(-static_cast<float>(F::traits_type::min)));

  /// The float bits of |q| rounded and saturated: ab = |q|'s bits, negative = all ones
  /// when q < 0 (it picks the bound), else 0.
  i32 magnitude(u32 ab, i32 negative) const noexcept {
    const auto r = static_cast<i32>(bit_cast<u32>((bit_cast<float>(ab) + magic) - magic));
    const i32 top = (lo_bits & negative) | (hi_bits & ~negative);
    return r < top ? r : top;
  }
};

template <class F>
struct grid_rounding<F, false> {
  using u32 = std::uint32_t;
  using i32 = std::int32_t;
  using L = float_layout<typename F::traits_type>;
  static_assert(L::has_zero, "a format with subnormals");
  static constexpr int shift = 23 - L::M;
  static constexpr u32 below = (u32{1} << (shift - 1)) - 1u, keep = ~((u32{1} << shift) - 1u);
  const float magic = std::ldexp(1.0f, L::emin - L::M + 23);
  const u32 magic_bits = bit_cast<u32>(magic);
  const i32 min_normal_bits = static_cast<i32>(bit_cast<u32>(std::ldexp(1.0f, L::emin)));
  const i32 top_bits = static_cast<i32>(bit_cast<u32>(
      static_cast<float>(F::from_bits(static_cast<typename F::storage_type>(L::max_magnitude)))));

  /// The float bits of |q| rounded and saturated: ab = |q|'s bits (the sign does not
  /// matter: the grid is symmetric).
  i32 magnitude(u32 ab, i32 /*negative*/) const noexcept {
    const auto normal = static_cast<i32>((ab + below + ((ab >> shift) & 1u)) & keep);
    const auto sub = static_cast<i32>(bit_cast<u32>((bit_cast<float>(ab) + magic) - magic));
    const i32 is_sub = -static_cast<i32>(static_cast<i32>(ab) < min_normal_bits);
    const i32 r = (sub & is_sub) | (normal & ~is_sub);
    return r < top_bits ? r : top_bits;
  }
};

/// out[i] = s · v[i], where v[i] is q[i] rounded to F's grid (grid_rounding): the value
/// of lowp::cast<F>(q[i]), for finite q.  fake_quantize()'s path for exact quotients
/// q = x / s: the same bits as decoding the codes, without them.  Branch-free, so that it
/// vectorizes.
template <class F>
inline void scaled_grid_values(const float* q, std::size_t n, float s, float* out) noexcept {
  static_assert(sizeof(typename F::storage_type) == 1, "formats of at most 8 bits");
  using u32 = std::uint32_t;
  using i32 = std::int32_t;
  const grid_rounding<F> grid;
  LOWP_SIMD_LOOP
  for (std::size_t i = 0; i < n; ++i) {
    const u32 b = bit_cast<u32>(q[i]), sign = b & 0x80000000u;
    const auto m = static_cast<u32>(grid.magnitude(b ^ sign, -static_cast<i32>(sign >> 31)));
    if constexpr (is_lowp_int_v<F>) {
      // + 0: an integer has no -0 (a negative q that rounds to 0 gives code 0, value +0).
      out[i] = (bit_cast<float>(m | sign) + 0.0f) * s;
    } else {
      out[i] = bit_cast<float>(m | sign) * s;
    }
  }
}

/// E2M1 codes of x / s, rounded to nearest even and saturated, for s > 0 finite: the
/// count of the seven rounding boundaries m * s (m = 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5,
/// the midpoints between the magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6) that |x| passes, plus
/// the sign bit.  Exact: m * s is exact in double, and for a float a,
///   a / s > m  <=>  a > RD(m s)      a / s >= m  <=>  a >= RU(m s)
/// (RD/RU: m s rounded down/up to float).  A tie goes to the even magnitude code: below
/// for the midpoints after an even code (strict >), above after an odd one (>=).  Seven
/// compares per element, which vectorize; no division, no conversion.
struct fp4_nearest_encoder {
  float t[7];
  explicit fp4_nearest_encoder(float s) noexcept {
    constexpr double mid[7] = {0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0};
    for (int i = 0; i < 7; ++i) {
      const double T = mid[i] * static_cast<double>(s);  // exact: 24-bit s times a <= 3-bit m
      const float f = static_cast<float>(T);
      std::uint32_t b = bit_cast<std::uint32_t>(f);  // f >= 0: +-1 on the bits is the next float
      if (i % 2 == 0 && static_cast<double>(f) > T) --b;  // RD
      if (i % 2 == 1 && static_cast<double>(f) < T) ++b;  // RU
      t[i] = bit_cast<float>(b);
    }
  }
  std::uint32_t code(float x) const noexcept {
    const std::uint32_t bx = bit_cast<std::uint32_t>(x);
    const float a = bit_cast<float>(bx & 0x7FFFFFFFu);
    using u32 = std::uint32_t;
    const u32 c = u32(a > t[0]) + u32(a >= t[1]) + u32(a > t[2]) + u32(a >= t[3]) + u32(a > t[4]) +
                  u32(a >= t[5]) + u32(a > t[6]);
    return c | ((bx >> 28) & 8u);
  }
  /// Packed codes of x[0..2m) into bytes[0..m): element 2j in the low nibble.  In
  /// chunks: codes in 32-bit lanes first (compares vectorize without narrowing), then
  /// the nibbles are paired.
  void encode_pairs(const float* x, std::size_t m, std::uint8_t* bytes) const noexcept {
    constexpr std::size_t chunk = 64;  // pairs
    std::uint32_t c[2 * chunk];
    for (std::size_t j0 = 0; j0 < m; j0 += chunk) {
      const std::size_t len = m - j0 < chunk ? m - j0 : chunk;
      const float* xs = x + 2 * j0;
      for (std::size_t i = 0; i < 2 * len; ++i) c[i] = code(xs[i]);
      for (std::size_t j = 0; j < len; ++j)
        bytes[j0 + j] = static_cast<std::uint8_t>(c[2 * j] | (c[2 * j + 1] << 4));
    }
  }
};

/// Writes the codes of F(x / s) (x / s exact, rounded with `mode`, saturated) for runs
/// of x with a float divisor s > 0 each into a code container: packed_vector<F> (the
/// default low-nibble-first layout) or std::vector<F>, at given element positions.
/// E2M1 with nearest-even goes straight to the codes (fp4_nearest_encoder); every other
/// case buffers exact quotients so that adjacent short runs share one lowp::convert call.
/// Call finish() after the last run.
template <class F, class Codes>
class quotient_encoder {
  static_assert(std::is_same_v<Codes, packed_vector<F>> || std::is_same_v<Codes, std::vector<F>>,
                "codes: packed_vector<F> or std::vector<F>");

 public:
  /// `buffer`: quotients held before a conversion (a row's worth is plenty).
  quotient_encoder(Codes& codes, rounding mode, std::size_t buffer)
      : codes_(codes), mode_(mode), capacity_(buffer == 0 ? 1 : buffer) {}

  /// Elements [first, first + n) of the codes = F(x[i] / s).
  void encode(const float* x, std::size_t n, float s, std::size_t first) {
    if constexpr (std::is_same_v<Codes, packed_vector<float4_e2m1fn>>) {
      if (mode_ == rounding::nearest_even) {
        encode_fp4_nearest(x, n, s, first);
        return;
      }
    }
    if (pending_ != 0 && first != pending_first_ + pending_) flush();  // not adjacent
    constexpr std::size_t piece = 4096;  // huge runs (per tensor) in pieces
    for (std::size_t i0 = 0; i0 < n; i0 += piece) {
      const std::size_t len = n - i0 < piece ? n - i0 : piece;
      if (pending_ + len > buf_.size()) {
        flush();
        if (buf_.size() < len) buf_.resize(std::max(len, capacity_));
      }
      if (pending_ == 0) pending_first_ = first + i0;
      exact_quotients<F>(x + i0, len, s, buf_.data() + pending_);
      pending_ += len;
      if (pending_ == buf_.size()) flush();  // while the quotients are hot in the cache
    }
  }
  /// Encodes the quotients still buffered.
  void finish() { flush(); }

 private:
  void encode_fp4_nearest(const float* x, std::size_t n, float s, std::size_t first) {
    const fp4_nearest_encoder enc(s);
    std::size_t i = 0;
    if (first % 2 != 0) {  // an odd start: the first code shares its byte with the previous run
      codes_.set(first, F::from_bits(static_cast<std::uint8_t>(enc.code(x[0]))));
      i = 1;
    }
    const std::size_t pairs = (n - i) / 2;
    enc.encode_pairs(x + i, pairs, codes_.bytes() + (first + i) / 2);
    i += 2 * pairs;
    if (i < n) codes_.set(first + i, F::from_bits(static_cast<std::uint8_t>(enc.code(x[i]))));
  }

  /// Converts the buffered quotients into their elements: in bulk where the packed layout
  /// allows (a run starting on a byte), else element by element.
  void flush() {
    const std::size_t len = pending_, at = pending_first_;
    pending_ = 0;
    if (len == 0) return;
    if constexpr (is_packable_v<F>) {
      constexpr std::size_t per = packed_bits_v<F> == 4 ? 2 : 4;  // elements that start a byte
      if (at % per == 0) {
        convert(buf_.data(), codes_.span().subspan(at, len), mode_);
        return;
      }
      for (std::size_t i = 0; i < len; ++i) codes_.set(at + i, cast<F>(buf_[i], mode_));
    } else {
      convert(buf_.data(), codes_.data() + at, len, mode_);
    }
  }

  Codes& codes_;
  rounding mode_;
  std::size_t capacity_;
  std::vector<float> buf_;
  std::size_t pending_ = 0, pending_first_ = 0;
};

}  // namespace lowp::detail
