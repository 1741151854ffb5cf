// lowp/scale.hpp — scale policies: how one group of values gets its scale (and zero point).
//
// Layer: quantization.  Includes cast.hpp, detail/finite.hpp and the standard library.
//
// A *scale policy* turns a group of real values into the parameters (scale, zero point,
// shared exponent, ...) of one group, and then each value into a code of an element
// format.  Every policy here models the "group quantizer" concept shared by
// lowp::quantize (quantize.hpp) and GPTQ (gptq.hpp):
//
//   struct SomePolicy {
//     using format = ...;   // element type: lowp::float4_e2m1fn, lowp::int4, ...
//     using params = ...;   // scale (+ zero point) of one group of one row; trivially copyable
//     // Second level, called once per matrix before any fit(): sees the whole matrix
//     // (M2's per-row s_max, NVFP4's tensor scale).  One-level policies read nothing.
//     void prepare(const float* W, std::size_t rows, std::size_t cols, std::size_t group_size);
//     // Params of the n values x[0], x[stride], ..., x[(n-1)*stride] of row `row`.
//     params fit(const float* x, std::size_t n, std::ptrdiff_t stride, std::size_t row) const;
//     // Code bits of x.  Not const: a stochastic policy draws from its own random stream.
//     typename format::storage_type encode(float x, const params& p);
//     float decode(typename format::storage_type code, const params& p) const;
//     float fake(float x, const params& p);   // == decode(encode(x, p), p)
//     // How elements are rounded.  When .stochastic, encode() advances the policy's
//     // stream, so calls to one policy object's encode() must not overlap in time.
//     const element_rounding& rounding_config() const;
//     // Optional, the batch form (GPTQ's column of a tile of rows): codes[i] and q[i] =
//     // encode(x[i], p[i*stride]) and its decode(), in order.  lowp::quantize_batch()
//     // calls it, or encode()/decode() element by element for a policy without it.
//     void quantize_batch(const float* x, std::size_t n, const params* p, std::ptrdiff_t stride,
//                         typename format::storage_type* codes, float* q);
//   };
//
// W is rows x cols, row-major (row = output channel); a group is g consecutive columns of
// one row (g = cols: per channel; a last, shorter group when cols % g != 0).
//
// The policies (formulas and sources in docs/quantization.md):
//   absmax<F>          s = amax / max(F)                      (ZeroQuant-FP, GPTQ sym)
//   minmax<F>          asymmetric INT, zero point             (GPTQ quant.py)
//   pow2<F>            s' = 2^ceil(log2 s)                    (ZeroQuant-FP "M1")
//   pow2_relative<F>   s'_g = s_max * 2^-floor(log2(s_max/s_g))  (ZeroQuant-FP "M2")
//   mx<F>              E8M0 X = 2^(floor(log2 amax) - emax_elem) (OCP MX v1.0 sec. 6.3)
//   nvfp4              E2M1 / E4M3 block scale / float tensor scale (NVIDIA, torchao)
//
// Each policy class is its formula and its docs: the scale of a group from its largest
// magnitude (scale_of(amax), or params_for_amax() for two-level params; minmax: from its
// range), exact_scale() (the s of value = s * element), and encode()/decode() only where
// its elements differ from x / s rounded.  What every policy shares is
// detail::policy_base (CRTP): the element rounding and its random stream, fit() and
// prepare() with their NaN/Inf checks, encode()/decode() of value = s * element, fake(),
// cast_divisor() for the bulk path, quantize_batch() (vectorized on the common formats).
//
// Element rounding: every element is the *correctly rounded* value of x / s (the exact
// real quotient, computed in double, which is exact enough to never flip a rounding
// decision: see policy_base), in any lowp::rounding or stochastically with a seeded,
// reproducible stream.  Elements always saturate (values beyond the format's range
// clip to +-max), as OCP MX section 6.3 prescribes and as every quantizer does.
//
// Bad input (every policy): a NaN or Inf among the values fit() or prepare() reads throws
// std::domain_error naming it (fit: the row and the index in the group; prepare: the
// index, row and column in W); an all-zero group gets a finite scale and zero codes
// (never a division by zero); n == 0 is an all-zero group.  encode()/decode()/fake() never
// throw (a NaN passed to encode() gives the element format's NaN code, or +max for
// formats without NaN, as lowp::cast does).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cast.hpp"
#include "detail/exact_quotient.hpp"
#include "detail/finite.hpp"

namespace lowp {

/// How elements are rounded to the element format.
struct element_rounding {
  rounding mode = rounding::nearest_even;  ///< used when !stochastic
  bool stochastic = false;                 ///< stochastic rounding (lowp::cast_stochastic)
  std::uint64_t seed = 0;                  ///< seed of the stochastic stream

  /// Round to nearest, ties to even (the default).
  static constexpr element_rounding nearest() noexcept { return {}; }
  /// Deterministic rounding `r`.
  static constexpr element_rounding with(rounding r) noexcept { return {r, false, 0}; }
  /// Stochastic rounding driven by a SplitMix64 stream started at `seed`: the k-th
  /// element a policy object encodes uses the k-th draw, so the same seed and the same
  /// sequence of encode() calls give the same codes (reproducible; encode() is then
  /// sequential state, see policy_base).
  static constexpr element_rounding stochastic_with_seed(std::uint64_t s) noexcept {
    return {rounding::nearest_even, true, s};
  }
};

/// How pow2 rounds a real scale s to a power of two.
enum class pow2_rounding : std::uint8_t {
  ceil,     ///< 2^ceil(log2 s) >= s: never clips (ZeroQuant-FP M1; the default)
  nearest,  ///< 2^round(log2 s): the nearer power in the log domain; may clip (saturates)
  floor,    ///< 2^floor(log2 s) <= s: may clip (saturates)
};

/// Which INT grid absmax uses for a signed integer format of b bits.
enum class int_range : std::uint8_t {
  /// s = amax / (2^(b-1) - 1); codes in [-(2^(b-1)-1), 2^(b-1)-1] (the usual symmetric INT).
  symmetric,
  /// GPTQ's symmetric grid (quant.py, `sym=True`): s = 2 amax / (2^b - 1) with zero point
  /// 2^(b-1), i.e. codes q - 2^(b-1) in [-2^(b-1), 2^(b-1)-1]; +amax lands on the tie
  /// 2^(b-1) - 1/2.
  gptq_sym,
};

/// How mx rounds the shared E8M0 scale.
enum class mx_scale_rounding : std::uint8_t {
  floor,  ///< OCP MX v1.0: X = 2^(floor(log2 amax) - emax_elem); the largest elements may clip
  ceil,   ///< torchao "RCEIL": X = 2^ceil(log2(amax / max_elem)); never clips
};

namespace detail {

template <class F>
inline constexpr bool is_element_format_v = is_lowp_type_v<F> && !std::is_same_v<F, float8_e8m0fnu>;

template <class F, class = void>
struct is_signed_int_format : std::false_type {};
template <class F>
struct is_signed_int_format<F, std::enable_if_t<is_lowp_int_v<F>>>
    : std::bool_constant<F::traits_type::is_signed> {};
template <class F>
inline constexpr bool is_signed_int_format_v = is_signed_int_format<F>::value;
template <class F>
inline constexpr bool is_unsigned_int_format_v = is_lowp_int_v<F> && !is_signed_int_format_v<F>;

/// The largest finite value of an element format, as a float (exact).
template <class F>
inline float format_max() noexcept {
  if constexpr (is_lowp_int_v<F>) {
    return static_cast<float>(F::traits_type::max);
  } else {
    return static_cast<float>(std::numeric_limits<F>::max());
  }
}

/// The largest element magnitude a code of F can have, as a float (exact): max(F) for the
/// FP formats, max(|min|, max) for the integer ones (INT8's -128 is a code).
template <class F>
inline float format_max_magnitude() noexcept {
  if constexpr (is_lowp_int_v<F>) {
    return std::max(static_cast<float>(F::traits_type::max),
                    -static_cast<float>(F::traits_type::min));
  } else {
    return format_max<F>();
  }
}

/// The real scale amax / q of a group, as a float that is never 0 for amax > 0 and never
/// makes the group clip: fl(amax / q), except where that rounds to a subnormal float s
/// with s * q < amax (subnormals are multiples of 2^-149, so the rounding there can lose
/// up to half of the group's range: amax = 7 * 2^-149 and E2M1's q = 6 gave s = 2^-149
/// and a largest value of 6 * 2^-149); then the next float up.  In the normal range the
/// float quotient is kept, as GPTQ's quant.py and ZeroQuant-FP compute it (a half-ulp
/// shortfall at most saturates the largest element to within an ulp of itself).
/// 0 for amax = 0.
inline float real_scale(float amax, float q) noexcept {
  if (!(amax > 0.0f)) return 0.0f;
  float s = amax / q;
  if (s < std::numeric_limits<float>::min() &&
      static_cast<double>(s) * static_cast<double>(q) < static_cast<double>(amax))
    s = std::nextafter(s, std::numeric_limits<float>::infinity());
  return s;
}

/// SplitMix64 (Steele, Lea, Flood 2014; the seeder of xoshiro): one 64-bit draw of a
/// counter-based stream.
constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// max |x_i| of the group x[0], x[stride], ..., x[(n-1)*stride] (0 when n == 0), or
/// nullopt when one of the values is NaN or Inf: the one scan gives both.
inline std::optional<float> finite_amax(const float* x, std::size_t n,
                                        std::ptrdiff_t stride) noexcept {
  const std::uint32_t m = max_magnitude_bits(x, n, stride);
  if (m >= nonfinite_magnitude) return std::nullopt;
  return bit_cast<float>(m);
}

/// 2^k as a double, for k in [-1022, 1023] (exact; built from the bits).
inline double pow2d(int k) noexcept {
  return bit_cast<double>(static_cast<std::uint64_t>(k + 1023) << 52);
}

/// floor(log2 v) of a normal double v > 0 (every float > 0 is one), exactly.
inline int floor_log2(double v) noexcept {
  return static_cast<int>((bit_cast<std::uint64_t>(v) >> 52) & 0x7FF) - 1023;
}

/// floor(log2(a / b)) for normal doubles a, b > 0, exactly: the difference of the
/// exponents, minus one when a's significand is below b's.
inline int floor_log2_ratio(double a, double b) noexcept {
  constexpr std::uint64_t frac = (std::uint64_t{1} << 52) - 1;
  const std::uint64_t ba = bit_cast<std::uint64_t>(a), bb = bit_cast<std::uint64_t>(b);
  return floor_log2(a) - floor_log2(b) - ((ba & frac) < (bb & frac) ? 1 : 0);
}

/// ceil(log2(a / b)) for normal doubles a, b > 0, exactly (the smallest k with
/// 2^k b >= a): one more than the floor unless a / b is a power of two.
inline int ceil_log2_ratio(double a, double b) noexcept {
  constexpr std::uint64_t frac = (std::uint64_t{1} << 52) - 1;
  const std::uint64_t ba = bit_cast<std::uint64_t>(a), bb = bit_cast<std::uint64_t>(b);
  return floor_log2_ratio(a, b) + ((ba & frac) != (bb & frac) ? 1 : 0);
}

/// round(log2(a / b)) for positive floats a, b (as doubles): the nearer power of two in
/// the log domain.  With k = floor(log2(a/b)), log2(a/b) is in [k, k+1) and the midpoint
/// is a/b = 2^(k+1/2), i.e. (a/b)^2 = 2^(2k+1), compared exactly as a^2 vs b^2 2^(2k+1)
/// (both exact in double: 24-bit squares).  The midpoint is irrational: no ties.
inline int nearest_log2_ratio(double a, double b) noexcept {
  const int k = floor_log2_ratio(a, b);
  return a * a > b * b * pow2d(2 * k + 1) ? k + 1 : k;
}

/// v rounded to an integer under `mode` (v finite).  Exact: floor() and the difference
/// v - floor(v) are exact in binary floating point.
inline double round_to_integer(double v, rounding mode) noexcept {
  const double fl = std::floor(v);
  const double frac = v - fl;
  if (frac == 0.0) return v;
  switch (mode) {
    case rounding::toward_zero:
      return v < 0 ? fl + 1.0 : fl;
    case rounding::up:
      return fl + 1.0;
    case rounding::down:
      return fl;
    case rounding::nearest_away:
      if (frac == 0.5) return v < 0 ? fl : fl + 1.0;
      return frac < 0.5 ? fl : fl + 1.0;
    case rounding::nearest_even:
    default:
      if (frac == 0.5) return std::fmod(fl, 2.0) == 0.0 ? fl : fl + 1.0;
      return frac < 0.5 ? fl : fl + 1.0;
  }
}

/// Stochastic rounding to an integer with lowp's rule: away from zero iff
/// random_bits < floor(f * 2^32), f the discarded fraction of |v|.
inline double stochastic_round_to_integer(double v, std::uint32_t random_bits) noexcept {
  const double a = std::fabs(v);
  const double t = std::floor(a);
  const double f = a - t;                                  // exact
  const double threshold = std::floor(std::ldexp(f, 32));  // exact: f has <= 53 bits
  const double r = static_cast<double>(random_bits) < threshold ? t + 1.0 : t;
  return v < 0 ? -r : r;
}

// --- batch kernels: quantize_batch() of lowp's policies -------------------------------

/// x is neither NaN nor ±Inf.
inline bool is_finite_float(float x) noexcept {
  return (bit_cast<std::uint32_t>(x) & 0x7F800000u) != 0x7F800000u;
}

/// For i in [0, n): codes[i] = the code of F(x[i] / s[i]) (the real quotient, rounded to
/// nearest even, saturated) and out[i] = s[i] · its element value, in float: the same bits
/// as policy_base's encode() and decode() with the exact scale s[i], for finite x[i] and
/// s[i] > 0 finite (other elements get unspecified results: the caller redoes them).  A
/// different divisor per element (GPTQ's column batches: one row each).
///
/// Why the values are decode()'s bits: decode() rounds exact_scale · element once from
/// double, where the product is exact (<= 8 significant bits times 24); the float multiply
/// rounds the same exact product once.  The grid rounding is fake_quantize()'s
/// (detail/exact_quotient.hpp, grid_rounding): F's normal range keeps M mantissa bits of
/// the float (ties to even on the bits), its subnormal range rounds by adding and
/// subtracting 2^(emin-M+23), whose float ulp is F's subnormal quantum; an integer format
/// the same with quantum 1.  The code then comes from the rounded magnitude v: normal,
/// F's exponent and mantissa are v's bits shifted, less the bias difference; subnormal,
/// v / quantum, read off the bits of v + 2^(emin-M+23).  Branch-free, so it vectorizes.
template <class F>
inline void grid_quantize_scaled(const float* x, const float* s, std::size_t n,
                                 typename F::storage_type* codes, float* out) noexcept {
  static_assert(has_grid_values_v<F>, "a format with a grid (detail/exact_quotient.hpp)");
  using u32 = std::uint32_t;
  using i32 = std::int32_t;
  using storage = typename F::storage_type;
  const grid_rounding<F> grid;
  if constexpr (is_lowp_int_v<F>) {
    constexpr u32 mask = (u32{1} << F::traits_type::bits) - 1u;
    LOWP_SIMD_LOOP
    for (std::size_t i = 0; i < n; ++i) {
      const float si = s[i];
      const u32 b = exact_quotient_bits<F>(x[i], si), sign = b & 0x80000000u;
      const i32 negative = -static_cast<i32>(sign >> 31);
      const auto m = static_cast<u32>(grid.magnitude(b ^ sign, negative));  // as float bits
      const u32 k = bit_cast<u32>(bit_cast<float>(m) + grid.magic) - grid.magic_bits;  // |element|
      const auto neg = static_cast<u32>(negative);
      codes[i] = static_cast<storage>(((k ^ neg) - neg) & mask);  // two's complement
      // + 0: an integer has no -0 (a negative quotient that rounds to 0 gives code 0).
      out[i] = (bit_cast<float>(m | sign) + 0.0f) * si;
    }
  } else {
    using L = float_layout<typename F::traits_type>;
    constexpr int shift = 23 - L::M;
    constexpr u32 exponent_offset = static_cast<u32>(127 - F::traits_type::bias) << L::M;
    constexpr auto sign_code = static_cast<u32>(L::sign_mask);
    LOWP_SIMD_LOOP
    for (std::size_t i = 0; i < n; ++i) {
      const float si = s[i];
      const u32 b = exact_quotient_bits<F>(x[i], si), sign = b & 0x80000000u;
      const i32 r = grid.magnitude(b ^ sign, 0);
      const auto v = static_cast<u32>(r);  // the rounded magnitude's float bits
      const u32 normal_code = (v >> shift) - exponent_offset;
      const u32 sub_code = bit_cast<u32>(bit_cast<float>(v) + grid.magic) - grid.magic_bits;
      const auto v_sub = static_cast<u32>(-static_cast<i32>(r < grid.min_normal_bits));
      const u32 code = (sub_code & v_sub) | (normal_code & ~v_sub);
      codes[i] = static_cast<storage>(code | ((sign >> 31) * sign_code));
      out[i] = bit_cast<float>(v | sign) * si;
    }
  }
}

/// minmax's batch kernel (unsigned one-byte F): codes[i] = clamp(round(x[i] / s[i]) +
/// z[i], 0, max) with x / s the real quotient rounded to nearest even, and out[i] =
/// s[i] · (code - z[i]), for finite x[i] and s[i] > 0 finite (others: unspecified).  The
/// same bits as minmax's encode() and decode(): the quotients that matter lie within
/// max + 1/2 of zero (beyond, the clamp decides either way), where every rounding
/// boundary has <= b + 1 significant bits, so the moved float quotient rounds as the real
/// one; code - z is a small integer, exact in float, so the float multiply rounds the
/// exact product once, as decode() does.
template <class F>
inline void grid_quantize_zero(const float* x, const float* s, const float* z, std::size_t n,
                               typename F::storage_type* codes, float* out) noexcept {
  static_assert(
      is_lowp_int_v<F> && !F::traits_type::is_signed && sizeof(typename F::storage_type) == 1,
      "an unsigned one-byte integer format");
  using u32 = std::uint32_t;
  using storage = typename F::storage_type;
  const float hi = static_cast<float>(F::traits_type::max);
  const float limit = 4.0f * hi + 8.0f;  // encode_quotient_zero's clamp before rounding
  const float magic = 8388608.0f;
  const u32 magic_bits = bit_cast<u32>(magic);
  LOWP_SIMD_LOOP
  for (std::size_t i = 0; i < n; ++i) {
    const float si = s[i];
    float q = bit_cast<float>(exact_quotient_bits<F>(x[i], si));
    q = q < -limit ? -limit : q;
    q = q > limit ? limit : q;
    const u32 b = bit_cast<u32>(q), sign = b & 0x80000000u;
    const float a = bit_cast<float>(b ^ sign);
    const float r = bit_cast<float>(bit_cast<u32>((a + magic) - magic) | sign);  // round(q)
    float c = r + z[i];
    c = c < 0.0f ? 0.0f : c;
    c = c > hi ? hi : c;
    c = c + 0.0f;  // -0 (a negative q rounded to 0, zero point 0) is code 0
    codes[i] = static_cast<storage>(bit_cast<u32>(c + magic) - magic_bits);
    out[i] = (c - z[i]) * si;
  }
}

inline void check_group_size(const char* who, std::size_t cols, std::size_t group_size) {
  if (group_size == 0) throw std::invalid_argument(std::string(who) + ": group size 0");
  if (cols != 0 && group_size > cols)
    throw std::invalid_argument(std::string(who) + ": group size " + std::to_string(group_size) +
                                " is larger than the row (" + std::to_string(cols) + " columns)");
}

/// Marks the policies derived from policy_base (quantize() uses their *_if_finite hooks).
struct policy_tag {};

/// What every scale policy shares (CRTP: `class P : public policy_base<P, F>`).  Derived
/// provides `name` ("lowp::absmax"), `params` and its formula:
///
///   scale_of(float amax) -> the scale   // or params_for_amax(amax, row) -> params
///   double exact_scale(const params& p) const;   // s of value = s * element, exactly
///
/// and, where they differ from the defaults here, encode()/decode()/cast_divisor()
/// (minmax's zero point, MXINT's clamp, NVFP4's zero block scale), fit_if_finite()
/// (minmax: from the range instead of amax), and prepare_block_rows() /
/// prepare_rows_if_finite() for a second level (M2, NVFP4; one-level policies prepare
/// nothing).
///
/// Why elements divide in double: the quotient of two floats, computed in double, is
/// within 2^-53 (relative) of the exact quotient, while the exact quotient x / s differs
/// from any rounding boundary m of an element format (m has <= 12 significant bits,
/// m * s <= 36) by at least about 2^-37 relative unless it is exactly on it (x - m s is a
/// non-zero multiple of m s's last bit); so the double quotient is on the same side of
/// every boundary (and on it exactly when the real quotient is), and the one rounding
/// lowp::cast then does is the correct rounding of x / s.  A float quotient (or
/// x * (1/s)) can create false ties and flip the rounding.
///
/// Stochastic rounding: the k-th draw of the policy's stream is the high half of
/// SplitMix64(seed + k * 0xD1B54A32D192ED03).  The count of draws taken is the policy's
/// only mutable state, advanced by encode() (and fake()), which are therefore not const;
/// deterministic rounding never touches it, so concurrent encode() calls on one policy
/// are safe exactly when !rounding_config().stochastic.
///
/// Member templates with `class D = Derived` name Derived's types, which are incomplete
/// where this base is instantiated; D is never given explicitly.
template <class Derived, class F>
class policy_base : public policy_tag {
  static_assert(is_element_format_v<F>,
                "element format must be a lowp float or integer type (not E8M0)");

 public:
  using format = F;
  using storage_type = typename F::storage_type;

  const element_rounding& rounding_config() const noexcept { return rnd_; }
  /// Restarts the stochastic stream at `seed` (and makes the policy stochastic).
  void reseed(std::uint64_t seed) noexcept {
    rnd_.stochastic = true;
    rnd_.seed = seed;
    draws_ = 0;
  }

  // --- second level -------------------------------------------------------------------

  /// Prepares the policy on the rows x cols matrix W with groups of group_size columns.
  /// Throws std::domain_error for a NaN or Inf in the rows it reads (naming its index,
  /// row and column); in two-level policies, std::invalid_argument for group_size 0 or
  /// > cols.
  void prepare(const float* W, std::size_t rows, std::size_t cols, std::size_t group_size) {
    prepare_rows(W, rows, cols, group_size, 0, rows);
  }
  /// prepare() in pieces: rows [first, last) of W (W points at row 0).  A call with
  /// first == 0 starts a new matrix.  first and last must be multiples of
  /// prepare_block_rows() (last may be rows); otherwise std::invalid_argument.
  void prepare_rows(const float* W, std::size_t rows, std::size_t cols, std::size_t group_size,
                    std::size_t first, std::size_t last) {
    const std::size_t block = derived().prepare_block_rows();
    const std::size_t b = block == 0 ? std::max<std::size_t>(rows, 1) : block;
    if (first > last || last > rows || first % b != 0 || (last % b != 0 && last != rows))
      throw std::invalid_argument(who("prepare_rows") + ": rows [" + std::to_string(first) + ", " +
                                  std::to_string(last) + ") are not whole compute groups");
    if (derived().prepare_rows_if_finite(W, rows, cols, group_size, first, last)) return;
    const float* w = W + first * cols;
    const std::size_t i = first_nonfinite(w, (last - first) * cols);
    throw_nonfinite<std::domain_error>(who("prepare").c_str(), "W", w[i],
                                       at_index(first * cols + i, cols));
  }
  /// Rows per block of prepare_rows(): one-level policies prepare nothing, any block does.
  /// (M2: its compute group; NVFP4: 0, the whole matrix at once.)
  std::size_t prepare_block_rows() const noexcept { return 1; }
  /// prepare_rows() without its checks, for quantize(): false when the rows it reads hold
  /// a NaN or Inf, found by the scan that reads them anyway.  Here: reads nothing.
  bool prepare_rows_if_finite(const float*, std::size_t, std::size_t, std::size_t, std::size_t,
                              std::size_t) noexcept {
    return true;
  }

  // --- first level --------------------------------------------------------------------

  /// The params of the n values x[0], x[stride], ..., x[(n-1)*stride] of row `row`.
  /// Throws std::domain_error for a NaN or Inf among them (naming the row and the
  /// index in the group).
  template <class D = Derived>
  typename D::params fit(const float* x, std::size_t n, std::ptrdiff_t stride,
                         std::size_t row) const {
    if (const auto p = derived().fit_if_finite(x, n, stride, row)) return *p;
    const std::size_t i = first_nonfinite(x, n, stride);
    const float v = x[static_cast<std::ptrdiff_t>(i) * stride];
    throw_nonfinite<std::domain_error>(who("fit").c_str(), "the group", v, at_row_index(row, i));
  }
  /// fit() without the report: nullopt when one of the values is NaN or Inf, seen by the
  /// scan that computes the group's amax (no second pass; quantize() then reports the
  /// element in its own terms).  Otherwise params_for_amax(amax, row).
  template <class D = Derived>
  std::optional<typename D::params> fit_if_finite(const float* x, std::size_t n,
                                                  std::ptrdiff_t stride, std::size_t row) const {
    const std::optional<float> amax = finite_amax(x, n, stride);
    if (!amax) return std::nullopt;
    return derived().params_for_amax(*amax, row);
  }
  /// The params of a group whose largest magnitude is amax (finite, >= 0): here those of a
  /// policy whose params are its one scale, scale_of(amax) (absmax, pow2, mx).
  template <class D = Derived>
  typename D::params params_for_amax(float amax, std::size_t /*row*/) const {
    return {derived().scale_of(amax)};
  }

  // --- elements: value = s * element, element = x / s rounded -------------------------

  /// The code of x: x / exact_scale(p), rounded as configured, saturated.
  template <class D = Derived>
  storage_type encode(float x, const typename D::params& p) noexcept {
    return encode_quotient(static_cast<double>(x) / derived().exact_scale(p));
  }
  /// The value of a code: exact_scale(p) * element, rounded once to float.
  template <class D = Derived>
  float decode(storage_type code, const typename D::params& p) const noexcept {
    return static_cast<float>(derived().exact_scale(p) * element_value(code));
  }
  /// decode(encode(x, p), p).
  template <class D = Derived>
  float fake(float x, const typename D::params& p) noexcept {
    return derived().decode(derived().encode(x, p), p);
  }
  /// For bulk kernels: the float s such that encode(x, p) == lowp::cast<format>(x / s,
  /// rounding_config().mode) with x / s taken exactly, or 0 when encode() is not of that
  /// form (stochastic rounding, a scale that is not a float, a zero point, a clamp).
  /// quantize() encodes the groups with s > 0 in bulk.
  template <class D = Derived>
  float cast_divisor(const typename D::params& p) const noexcept {
    return float_divisor(derived().exact_scale(p));
  }

  // --- batches: GPTQ's column of a tile of rows ----------------------------------------

  /// codes[i] = encode(x[i], p[i * stride]) and q[i] = decode(codes[i], p[i * stride]) for
  /// i in [0, n), in that order (a stochastic policy draws in it): one column of a tile of
  /// rows in GPTQ's column loop, each row with its own params.  Rounded to nearest even on
  /// the formats of detail::has_grid_values_v (INT4/INT8, FP8 E4M3/E5M2, FP6, FP4),
  /// the elements whose divisor cast_divisor(p) is a float go through the vectorized
  /// detail::grid_quantize_scaled (the same bits; tested against encode()/decode()); the
  /// rest (stochastic or directed rounding, a scale that is not a float, MXINT's clamp, a
  /// zero NVFP4 block scale, a non-finite x) element by element, as quantize_batch_generic.
  template <class D = Derived>
  void quantize_batch(const float* x, std::size_t n, const typename D::params* p,
                      std::ptrdiff_t stride, storage_type* codes, float* q) {
    if constexpr (has_grid_values_v<F>) {
      if (!rnd_.stochastic && rnd_.mode == rounding::nearest_even) {
        constexpr std::size_t chunk = 64;
        float s[chunk];
        bool redo[chunk];
        for (std::size_t i0 = 0; i0 < n; i0 += chunk) {
          const std::size_t len = std::min(chunk, n - i0);
          const typename D::params* pc = p + static_cast<std::ptrdiff_t>(i0) * stride;
          std::size_t redone = 0;
          for (std::size_t i = 0; i < len; ++i) {
            const float d = derived().cast_divisor(pc[static_cast<std::ptrdiff_t>(i) * stride]);
            redo[i] = !(d > 0.0f) || !is_finite_float(x[i0 + i]);
            s[i] = redo[i] ? 1.0f : d;  // 1: a harmless divisor for an element redone below
            redone += redo[i];
          }
          if (redone < len) grid_quantize_scaled<F>(x + i0, s, len, codes + i0, q + i0);
          if (redone == 0) continue;
          for (std::size_t i = 0; i < len; ++i) {
            if (redo[i])
              quantize_batch_generic(x + i0 + i, 1, pc + static_cast<std::ptrdiff_t>(i) * stride,
                                     stride, codes + i0 + i, q + i0 + i);
          }
        }
        return;
      }
    }
    quantize_batch_generic(x, n, p, stride, codes, q);
  }

  /// quantize_batch() element by element: encode() then decode() of each, in order.
  template <class D = Derived>
  void quantize_batch_generic(const float* x, std::size_t n, const typename D::params* p,
                              std::ptrdiff_t stride, storage_type* codes, float* q) {
    for (std::size_t i = 0; i < n; ++i) {
      const typename D::params& pi = p[static_cast<std::ptrdiff_t>(i) * stride];
      codes[i] = derived().encode(x[i], pi);
      q[i] = derived().decode(codes[i], pi);
    }
  }

 protected:
  explicit policy_base(element_rounding r) noexcept : rnd_(r) {}

  /// "lowp::<policy>::<fn>", for messages.
  static std::string who(const char* fn) { return std::string(Derived::name) + "::" + fn; }

  /// Code of the real number q (already divided by the scale), rounded and saturated.
  storage_type encode_quotient(double q) noexcept {
    if (rnd_.stochastic) return cast_stochastic<F>(q, next_bits()).bits();
    if constexpr (is_lowp_int_v<F>) {
      // The same function as cast<F>(q, mode) (NaN -> 0, saturate; tested against it),
      // without the generic converter's unpacking: this is the per-element call of
      // GPTQ's column loop.  Rounding happens on [min - 1, max + 1], then the clamp.
      using Tr = typename F::traits_type;
      if (std::isnan(q)) return storage_type{0};
      const double lo = static_cast<double>(Tr::min), hi = static_cast<double>(Tr::max);
      const double r =
          std::clamp(round_to_integer(std::clamp(q, lo - 1.0, hi + 1.0), rnd_.mode), lo, hi);
      constexpr std::uint32_t code_mask = (std::uint32_t{1} << Tr::bits) - 1u;  // two's complement
      const auto bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(r));
      return static_cast<storage_type>(bits & code_mask);
    } else {
      return cast<F>(q, rnd_.mode).bits();
    }
  }

  /// Code of q + zero for unsigned integer formats with a zero point: round(q) + zero,
  /// clamped to [0, 2^b - 1] (GPTQ quant.py: clamp(round(x / s) + zero, 0, maxq)).
  storage_type encode_quotient_zero(double q, int zero) noexcept {
    static_assert(is_lowp_int_v<F>, "a zero point needs an integer format");
    if (std::isnan(q)) return storage_type{0};
    const double lo = static_cast<double>(F::traits_type::min);
    const double hi = static_cast<double>(F::traits_type::max);
    q = std::clamp(q, -4.0 * hi - 8.0, 4.0 * hi + 8.0);  // far outside: the clamp below decides
    const double r = rnd_.stochastic ? stochastic_round_to_integer(q, next_bits())
                                     : round_to_integer(q, rnd_.mode);
    const double c = std::clamp(r + static_cast<double>(zero), lo, hi);
    return F::from_bits(static_cast<storage_type>(static_cast<int>(c))).bits();
  }

  /// The scale `exact` as the float divisor of cast_divisor(): 0 under stochastic
  /// rounding, or when `exact` is not a positive finite float.
  float float_divisor(double exact) const noexcept {
    if (rnd_.stochastic) return 0.0f;
    const float s = static_cast<float>(exact);
    return (s > 0.0f && static_cast<double>(s) == exact && std::isfinite(s)) ? s : 0.0f;
  }

  /// The element value of a code (exact).  One-byte formats read a table of
  /// static_cast<double>(F::from_bits(c)) for all 256 storage values, made on first use.
  static double element_value(storage_type code) noexcept {
    if constexpr (sizeof(storage_type) == 1) {
      static const auto table = [] {
        struct values {
          double v[256];
        } t{};
        for (unsigned c = 0; c < 256; ++c)
          t.v[c] = static_cast<double>(F::from_bits(static_cast<storage_type>(c)));
        return t;
      }();
      return table.v[code];
    } else {
      return static_cast<double>(F::from_bits(code));
    }
  }

 private:
  Derived& derived() noexcept { return static_cast<Derived&>(*this); }
  const Derived& derived() const noexcept { return static_cast<const Derived&>(*this); }

  std::uint32_t next_bits() noexcept {
    const std::uint64_t k = draws_++;
    return static_cast<std::uint32_t>(splitmix64(rnd_.seed + 0xD1B54A32D192ED03ull * k) >> 32);
  }

  element_rounding rnd_;
  std::uint64_t draws_ = 0;  ///< draws taken from the stochastic stream
};

/// Whether Policy has the batch member quantize_batch(x, n, p, stride, codes, q).
template <class Policy, class = void>
struct has_quantize_batch : std::false_type {};
template <class Policy>
struct has_quantize_batch<
    Policy, std::void_t<decltype(std::declval<Policy&>().quantize_batch(
                std::declval<const float*>(), std::size_t{},
                std::declval<const typename Policy::params*>(), std::ptrdiff_t{},
                std::declval<typename Policy::format::storage_type*>(), std::declval<float*>()))>>
    : std::true_type {};

}  // namespace detail

/// The batch form of a group quantizer: codes[i] = policy.encode(x[i], p[i * stride]) and
/// q[i] = policy.decode(codes[i], p[i * stride]) for i in [0, n), in order.  Calls the
/// policy's own quantize_batch() when it has one (lowp's policies: vectorized for the
/// common formats, see policy_base::quantize_batch), else encode() and decode() element
/// by element: any group quantizer has it.  GPTQ's column loop calls it once per column of
/// a tile of rows.  x, codes and q hold n elements and p holds (n - 1) * stride + 1 params
/// (nothing is read for n = 0); a NaN or Inf x gets what encode() gives it.  Throws what
/// the policy's encode()/decode() throw: nothing, for lowp's policies (they are noexcept).
template <class Policy>
void quantize_batch(Policy& policy, const float* x, std::size_t n, const typename Policy::params* p,
                    std::ptrdiff_t stride, typename Policy::format::storage_type* codes, float* q) {
  if constexpr (detail::has_quantize_batch<Policy>::value) {
    policy.quantize_batch(x, n, p, stride, codes, q);
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      const typename Policy::params& pi = p[static_cast<std::ptrdiff_t>(i) * stride];
      codes[i] = policy.encode(x[i], pi);
      q[i] = policy.decode(codes[i], pi);
    }
  }
}

// =======================================================================================
// absmax: s = amax / max_code_value
// =======================================================================================

/// Symmetric absmax scaling: one real (float) scale per group, s = fl(amax / Q) where Q is
/// the largest element value: max(F) for FP formats (448, 57344, 6, 7.5, 28, ...),
/// 2^(b-1) - 1 for signed INT (int_range::symmetric), or 2^(b-1) - 1/2 for GPTQ's
/// symmetric grid (int_range::gptq_sym, s = 2 amax / (2^b - 1)).  Code = round(x / s),
/// saturated.  Sources: ZeroQuant-FP (arXiv 2307.09782) sec. 3; GPTQ quant.py (`sym=True`).
///
/// All-zero group: s = 1 (codes are 0).  Where amax / Q is subnormal it is rounded up,
/// not to nearest, so that the group never clips (detail::real_scale); the smallest
/// scale is the smallest positive float, never 0.
template <class F>
class absmax : public detail::policy_base<absmax<F>, F> {
  static_assert(is_lowp_float_v<F> || detail::is_signed_int_format_v<F>,
                "absmax needs a float format or a signed integer format (use minmax for unsigned)");

 public:
  static constexpr const char* name = "lowp::absmax";
  struct params {
    float scale = 1.0f;  ///< value = scale * element
  };

  explicit absmax(element_rounding r = {}, int_range range = int_range::symmetric) noexcept
      : detail::policy_base<absmax<F>, F>(r), range_(range) {}

  /// The largest element magnitude Q the group's amax is mapped to.
  float max_code_value() const noexcept {
    if constexpr (is_lowp_int_v<F>) {
      if (range_ == int_range::gptq_sym) return static_cast<float>(F::traits_type::max) + 0.5f;
    }
    return detail::format_max<F>();
  }
  int_range range() const noexcept { return range_; }

  /// The scale of a group whose largest magnitude is amax (>= 0, finite).
  float scale_of(float amax) const noexcept {
    if (amax == 0.0f) return 1.0f;
    return detail::real_scale(amax, max_code_value());
  }
  static double exact_scale(const params& p) noexcept { return p.scale; }

 private:
  int_range range_;
};

// =======================================================================================
// minmax: asymmetric INT with a zero point (GPTQ quant.py)
// =======================================================================================

/// Asymmetric min-max INT quantization with an integer zero point, exactly GPTQ's
/// quant.py (`sym=False`): xmin = min(min x, 0), xmax = max(max x, 0); an all-zero group
/// uses [-1, 1]; s = fl((xmax - xmin) / maxq), zero = round_half_even(-xmin / s);
/// code q = clamp(round(x / s) + zero, 0, maxq); value = s * (q - zero).
/// F must be an unsigned integer format (uint4, uint8): maxq = 2^b - 1.
/// (One difference from PyTorch: x / s is rounded from the exact quotient, not from its
/// float32 rounding; see detail::policy_base.)
template <class F>
class minmax : public detail::policy_base<minmax<F>, F> {
  static_assert(detail::is_unsigned_int_format_v<F>,
                "minmax needs an unsigned integer format (lowp::uint4, lowp::uint8)");

 public:
  using storage_type = typename F::storage_type;
  static constexpr const char* name = "lowp::minmax";
  struct params {
    float scale = 1.0f;
    std::int32_t zero = 0;  ///< value = scale * (code - zero)
  };

  explicit minmax(element_rounding r = {}) noexcept : detail::policy_base<minmax<F>, F>(r) {}

  /// The params of the group's range [min(min x, 0), max(max x, 0)]; nullopt for a NaN or
  /// Inf in it (see policy_base::fit_if_finite).
  std::optional<params> fit_if_finite(const float* x, std::size_t n, std::ptrdiff_t stride,
                                      std::size_t /*row*/) const noexcept {
    if (detail::max_magnitude_bits(x, n, stride) >= detail::nonfinite_magnitude)
      return std::nullopt;
    float xmin = 0.0f, xmax = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
      const float v = x[static_cast<std::ptrdiff_t>(i) * stride];
      xmin = std::min(xmin, v);
      xmax = std::max(xmax, v);
    }
    return params_for_range(xmin, xmax);
  }
  /// GPTQ's find_params for one group with min xmin <= 0 <= xmax.
  static params params_for_range(float xmin, float xmax) noexcept {
    if (xmin == 0.0f && xmax == 0.0f) {
      xmin = -1.0f;
      xmax = 1.0f;
    }
    const float maxq = static_cast<float>(F::traits_type::max);
    float s = (xmax - xmin) / maxq;
    if (!(s > 0.0f)) s = std::numeric_limits<float>::denorm_min();
    if (!std::isfinite(s)) s = std::numeric_limits<float>::max();
    const double z = detail::round_to_integer(-static_cast<double>(xmin) / static_cast<double>(s),
                                              rounding::nearest_even);
    return params{s, static_cast<std::int32_t>(std::clamp(z, 0.0, static_cast<double>(maxq)))};
  }

  storage_type encode(float x, const params& p) noexcept {
    const double q = static_cast<double>(x) / static_cast<double>(p.scale);
    return this->encode_quotient_zero(q, p.zero);
  }
  float decode(storage_type code, const params& p) const noexcept {
    return static_cast<float>(static_cast<double>(p.scale) *
                              (this->element_value(code) - static_cast<double>(p.zero)));
  }
  /// 0: with a zero point, encode() is not a plain cast of x / s.
  float cast_divisor(const params& /*p*/) const noexcept { return 0.0f; }

  /// policy_base::quantize_batch() with the zero point: rounded to nearest even on
  /// one-byte formats (uint4, uint8), elements with a positive finite scale, a finite x
  /// and |zero| <= 2^20 go through the vectorized detail::grid_quantize_zero (the same
  /// bits as encode()/decode(); tested), the rest element by element.
  void quantize_batch(const float* x, std::size_t n, const params* p, std::ptrdiff_t stride,
                      storage_type* codes, float* q) {
    const element_rounding& rnd = this->rounding_config();
    if constexpr (sizeof(storage_type) == 1) {
      if (!rnd.stochastic && rnd.mode == rounding::nearest_even) {
        constexpr std::size_t chunk = 64;
        float s[chunk], z[chunk];
        bool redo[chunk];
        for (std::size_t i0 = 0; i0 < n; i0 += chunk) {
          const std::size_t len = std::min(chunk, n - i0);
          const params* pc = p + static_cast<std::ptrdiff_t>(i0) * stride;
          std::size_t redone = 0;
          for (std::size_t i = 0; i < len; ++i) {
            const params& pi = pc[static_cast<std::ptrdiff_t>(i) * stride];
            const std::int32_t zero = pi.zero;
            redo[i] = !(pi.scale > 0.0f) || !detail::is_finite_float(pi.scale) ||
                      !detail::is_finite_float(x[i0 + i]) || zero < -(1 << 20) || zero > (1 << 20);
            s[i] = redo[i] ? 1.0f : pi.scale;
            z[i] = redo[i] ? 0.0f : static_cast<float>(pi.zero);
            redone += redo[i];
          }
          if (redone < len) detail::grid_quantize_zero<F>(x + i0, s, z, len, codes + i0, q + i0);
          if (redone == 0) continue;
          for (std::size_t i = 0; i < len; ++i) {
            if (redo[i])
              this->quantize_batch_generic(x + i0 + i, 1,
                                           pc + static_cast<std::ptrdiff_t>(i) * stride, stride,
                                           codes + i0 + i, q + i0 + i);
          }
        }
        return;
      }
    }
    this->quantize_batch_generic(x, n, p, stride, codes, q);
  }
};

// =======================================================================================
// pow2: ZeroQuant-FP M1
// =======================================================================================

/// Power-of-two scales (ZeroQuant-FP, arXiv 2307.09782, sec. 4 "M1"): the real scale
/// s = amax / max(F) is replaced by s' = 2^k with k = ceil(log2 s) (default: s' >= s, so
/// nothing clips), round(log2 s) or floor(log2 s) (these may clip; clipped elements
/// saturate).  k is computed exactly (no log2() rounding) and clamped to [-149, k_max],
/// k_max = floor(log2(FLT_MAX / Q)) with Q the largest element magnitude (E2M1: 125,
/// E4M3: 119, INT8: 120), so that every code times s' is a finite float: near FLT_MAX
/// the ceil rule would give 2^126 for E2M1 and the code 4 would dequantize to 2^128 = Inf.
/// A group with amax above Q * 2^k_max (E2M1: above about 2.55e38) therefore clips
/// (saturates), the only case where the ceil rule does.  All-zero group: s' = 1.  With a
/// power-of-two scale, x / s' and code * s' are exact (barring float under/overflow), so the
/// dequantized values are the element values shifted: the property FP4->FP8 casts and integer
/// kernels exploit.
template <class F>
class pow2 : public detail::policy_base<pow2<F>, F> {
 public:
  static constexpr const char* name = "lowp::pow2";
  struct params {
    float scale = 1.0f;  ///< a power of two; value = scale * element
  };

  explicit pow2(element_rounding r = {}, pow2_rounding mode = pow2_rounding::ceil) noexcept
      : detail::policy_base<pow2<F>, F>(r), mode_(mode) {}

  pow2_rounding scale_rounding() const noexcept { return mode_; }

  /// The power-of-two scale of a group with largest magnitude amax (finite, >= 0).
  float scale_of(float amax) const noexcept {
    if (amax == 0.0f) return 1.0f;
    const double a = amax, q = detail::format_max<F>();
    int k = 0;
    switch (mode_) {
      case pow2_rounding::ceil:
        k = detail::ceil_log2_ratio(a, q);
        break;
      case pow2_rounding::floor:
        k = detail::floor_log2_ratio(a, q);
        break;
      case pow2_rounding::nearest:
        k = detail::nearest_log2_ratio(a, q);
        break;
    }
    return static_cast<float>(detail::pow2d(std::clamp(k, -149, max_exponent())));
  }
  /// k_max: the largest k for which every element value times 2^k is a finite float.
  static int max_exponent() noexcept {
    return detail::floor_log2_ratio(std::numeric_limits<float>::max(),
                                    detail::format_max_magnitude<F>());
  }
  static double exact_scale(const params& p) noexcept { return p.scale; }

 private:
  pow2_rounding mode_;
};

// =======================================================================================
// pow2_relative: ZeroQuant-FP M2
// =======================================================================================

/// Power-of-two *relative* scales (ZeroQuant-FP, arXiv 2307.09782, sec. 4 "M2").
///
/// Within a compute group (one row of W by default; `rows_per_compute_group` rows, or 0
/// for the whole matrix) prepare() finds s_max = max_g s_g, s_g = fl(amax_g / max(F))
/// (never 0 for amax_g > 0: detail::real_scale), kept as one float.  Each group then gets
///
///     s'_g = s_max * 2^-k_g,   k_g = floor(log2(s_max / s_g))   (default)
///
/// the largest power-of-two fraction of s_max that is still >= s_g, so no group clips,
/// and the groups differ from s_max by exact powers of two: the shifts k_g are small
/// integers, and code * 2^-k_g is an exact FP8 value (the FP4->FP8 "shift cast"), with
/// s_max applied once after the matrix product.  The paper does not print formulas; this
/// is the reading that keeps both of its stated properties (no clipping; exact shift).
/// With shift_rounding = nearest, k_g = round(log2(s_max / s_g)) (nearest in the log
/// domain), which may make s'_g < s_g (the group's largest elements saturate).
///
/// Shift range: k_g is clamped to [0, max_shift].  The default max_shift = 8 is the
/// largest shift for which every E2M1 value times 2^-k is an E4M3 value (E4M3's smallest
/// subnormal is 2^-9 = 0.5 * 2^-8), so the FP4->E4M3 shift cast is always exact.  A group
/// needing more (s_g < s_max / 2^9) gets s_max * 2^-max_shift > s_g: it does not clip, but
/// uses a coarser scale than M1 would.  Raise max_shift (<= 126) for pure simulation; then
/// shifts above 8 are not exactly castable to E4M3 (the smallest codes underflow).
///
/// Groups larger than s_max: prepare() must see the matrix that will be quantized.  When
/// GPTQ calls fit() on updated weights a group's s_g can exceed the s_max found by
/// prepare(): the shift clamps at 0, the group uses s_max, and its elements beyond
/// s_max * max(F) saturate (clip).  s_max never changes after prepare(), so the groups
/// already quantized stay valid.  An all-zero compute group has s_max = 1; an all-zero
/// group gets k = max_shift (its codes are 0).
///
/// prepare() computes s_max for every compute group of W (group_size 0 or > cols:
/// std::invalid_argument); prepare_rows() does it block by block, which quantize() uses
/// just before fitting each block, so each row is read from memory once.
template <class F>
class pow2_relative : public detail::policy_base<pow2_relative<F>, F> {
 public:
  static constexpr const char* name = "lowp::pow2_relative";
  struct params {
    float scale_max = 1.0f;  ///< s_max of the group's compute group
    std::uint8_t shift = 0;  ///< k: the group's scale is scale_max * 2^-shift
    /// scale_max * 2^-shift (rounded to float only if that is below FLT_MIN).
    float scale() const noexcept { return static_cast<float>(exact_scale(*this)); }
  };

  explicit pow2_relative(element_rounding r = {}, std::size_t rows_per_compute_group = 1,
                         pow2_rounding shift_rounding = pow2_rounding::floor, int max_shift = 8)
      : detail::policy_base<pow2_relative<F>, F>(r),
        rows_per_group_(rows_per_compute_group),
        shift_rounding_(shift_rounding),
        max_shift_(max_shift) {
    if (max_shift < 0 || max_shift > 126)
      throw std::invalid_argument("lowp::pow2_relative: max_shift must be in [0, 126]");
    if (shift_rounding == pow2_rounding::ceil)
      throw std::invalid_argument(
          "lowp::pow2_relative: shift rounding must be floor (no clipping) or nearest");
  }

  int max_shift() const noexcept { return max_shift_; }
  std::size_t rows_per_compute_group() const noexcept { return rows_per_group_; }
  /// s_max of every compute group, as found by the last prepare().
  const std::vector<float>& scale_max() const noexcept { return smax_; }

  /// Rows per block of prepare_rows(): the compute group (0 when it is the whole matrix,
  /// which cannot be prepared in pieces).
  std::size_t prepare_block_rows() const noexcept { return rows_per_group_; }
  /// The s_max of the compute groups holding rows [first, last) of W; false (at the first
  /// NaN or Inf, seen by the amax scans) when the rows are not all finite.
  bool prepare_rows_if_finite(const float* W, std::size_t rows, std::size_t cols,
                              std::size_t group_size, std::size_t first, std::size_t last) {
    detail::check_group_size("lowp::pow2_relative::prepare", cols, group_size);
    const std::size_t rpg = compute_rows(rows), groups = rows == 0 ? 0 : (rows + rpg - 1) / rpg;
    // Only a new shape resizes: quantize() on several threads first calls this with
    // first = last = 0, then prepares disjoint blocks at once, chunk 0 included, and each
    // block sets (never accumulates into) only its own compute groups' entries.
    if (first == 0) {
      if (rows != rows_ || smax_.size() != groups) {
        rows_ = rows;
        smax_.assign(groups, 0.0f);
      }
    } else if (rows != rows_ || smax_.size() != groups) {
      throw std::logic_error(
          "lowp::pow2_relative::prepare_rows: rows [0, first) of this matrix "
          "were not prepared first");
    }
    const float q = detail::format_max<F>();
    for (std::size_t k = first / rpg; k < (last + rpg - 1) / rpg; ++k) {
      float m = 0.0f;
      for (std::size_t r = k * rpg; r < std::min((k + 1) * rpg, rows); ++r) {
        for (std::size_t c0 = 0; c0 < cols; c0 += group_size) {
          const std::size_t n = std::min(group_size, cols - c0);
          const std::optional<float> amax = detail::finite_amax(W + r * cols + c0, n, 1);
          if (!amax) return false;
          m = std::max(m, detail::real_scale(*amax, q));
        }
      }
      smax_[k] = m > 0.0f ? m : 1.0f;
    }
    return true;
  }

  /// Sets s_max directly (e.g. a static calibration): one value per compute group.
  void set_scale_max(std::vector<float> smax, std::size_t rows) {
    for (float m : smax)
      if (!(m > 0.0f) || !std::isfinite(m))
        throw std::invalid_argument(
            "lowp::pow2_relative::set_scale_max: s_max must be finite and > 0");
    smax_ = std::move(smax);
    rows_ = rows;
  }

  /// The params of a group with largest magnitude amax in row `row`.  Throws
  /// std::logic_error if prepare() has not covered `row`.
  params params_for_amax(float amax, std::size_t row) const {
    return params_for_scale(detail::real_scale(amax, detail::format_max<F>()), row);
  }
  /// The params of a group with real scale s_g (= amax / max(F)) in row `row`.
  params params_for_scale(float s_g, std::size_t row) const {
    if (row / compute_rows(rows_) >= smax_.size())
      throw std::logic_error("lowp::pow2_relative::fit: row " + std::to_string(row) +
                             " not covered by prepare() (call prepare on the matrix first)");
    const float smax = smax_[row / compute_rows(rows_)];
    return params{smax, static_cast<std::uint8_t>(shift_of(smax, s_g))};
  }
  /// k for a group scale s_g under s_max (see the class comment).
  int shift_of(float smax, float s_g) const noexcept {
    if (!(s_g > 0.0f)) return max_shift_;
    if (s_g >= smax) return 0;
    const int k = shift_rounding_ == pow2_rounding::nearest ? detail::nearest_log2_ratio(smax, s_g)
                                                            : detail::floor_log2_ratio(smax, s_g);
    return std::clamp(k, 0, max_shift_);
  }
  static double exact_scale(const params& p) noexcept {
    return static_cast<double>(p.scale_max) * detail::pow2d(-static_cast<int>(p.shift));
  }

 private:
  std::size_t compute_rows(std::size_t rows) const noexcept {
    return rows_per_group_ == 0 ? std::max<std::size_t>(rows, 1) : rows_per_group_;
  }

  std::size_t rows_per_group_;
  pow2_rounding shift_rounding_;
  int max_shift_;
  std::size_t rows_ = 0;
  std::vector<float> smax_;
};

/// ZeroQuant-FP's names for the two power-of-two scale constraints (arXiv 2307.09782,
/// sec. 4): M1 maps every scale to a power of two (pow2); M2 keeps one real scale per
/// compute group and makes each group's scale a power-of-two fraction of it
/// (pow2_relative).  The same classes: lowp::m1<F>{} is a lowp::pow2<F>.
template <class F>
using m1 = pow2<F>;
template <class F>
using m2 = pow2_relative<F>;

// =======================================================================================
// mx: OCP Microscaling v1.0
// =======================================================================================

/// OCP Microscaling (MX) v1.0 block scaling: a block of k = 32 elements shares one E8M0
/// scale X = 2^e (OCP MX v1.0 sec. 6.3, "quantize_mx"):
///
///     e = floor(log2 amax) - emax_elem,   emax_elem = the element format's largest
///         normal exponent: E4M3 8, E5M2 15, E3M2 4, E2M3 2, E2M1 2, INT8 0,
///
/// elements = F(x / X), saturating (the largest elements can clip: e.g. E2M1 with
/// amax = 7 * 2^j stores 6 * 2^j).  scale_rounding = ceil is torchao's "RCEIL":
/// e = ceil(log2(amax / max_elem)), which never clips.  e is clamped to E8M0's
/// [-127, 127]; an all-zero block gets X = 2^-127 (code 0x00) and zero codes.
/// Integer element formats are MXINT: two's complement with an implicit scale
/// 2^-(b-2) (MXINT8: code / 64, max 127/64, emax 0; OCP MX sec. 5.3.3), used
/// symmetrically (codes in [-127, 127], as microsoft/microxcaling clamps to +-max_norm):
/// with -128 allowed, a block of amax just below 2^k would round to -2^k and quantizing
/// the dequantized block again would pick a different scale.
/// The block size is a parameter (block_size(); OCP fixes 32); with per_block
/// granularity the quantizers use it.  Any other group size works too (a shorter last
/// block is quantized like a zero-padded one).
template <class F>
class mx : public detail::policy_base<mx<F>, F> {
  static_assert(is_lowp_float_v<F> || detail::is_signed_int_format_v<F>,
                "mx needs a float element format or a signed integer (MXINT) format");

 public:
  using storage_type = typename F::storage_type;
  static constexpr const char* name = "lowp::mx";
  struct params {
    float8_e8m0fnu scale = float8_e8m0fnu::from_bits(127);  ///< X
  };

  /// The exponent of the implicit scale of MXINT elements (-6 for INT8), 0 for FP.
  static constexpr int element_unit_exponent() noexcept {
    if constexpr (is_lowp_int_v<F>) {
      return -(F::traits_type::bits - 2);
    } else {
      return 0;
    }
  }
  /// emax_elem: the exponent of the element format's largest normal power of two.
  static constexpr int emax_elem() noexcept {
    if constexpr (is_lowp_int_v<F>) {
      return 0;
    } else {
      return float_layout<typename F::traits_type>::emax;
    }
  }
  /// The largest element value (in units of X): 448, 57344, 28, 7.5, 6, 127/64.
  static double max_element() noexcept {
    return std::ldexp(static_cast<double>(detail::format_max<F>()), element_unit_exponent());
  }

  explicit mx(element_rounding r = {}, mx_scale_rounding scale_rounding = mx_scale_rounding::floor,
              std::size_t block_size = 32)
      : detail::policy_base<mx<F>, F>(r), scale_rounding_(scale_rounding), block_(block_size) {
    if (block_size == 0) throw std::invalid_argument("lowp::mx: block size 0");
  }

  std::size_t block_size() const noexcept { return block_; }
  mx_scale_rounding scale_rounding() const noexcept { return scale_rounding_; }

  /// The shared scale of a block with largest magnitude amax (finite, >= 0).
  float8_e8m0fnu scale_of(float amax) const noexcept {
    if (amax == 0.0f) return float8_e8m0fnu::from_bits(0);
    int e = scale_rounding_ == mx_scale_rounding::floor
                ? detail::floor_log2(amax) - emax_elem()
                : detail::ceil_log2_ratio(static_cast<double>(amax), max_element());
    e = std::clamp(e, -127, 127);
    return float8_e8m0fnu::from_bits(static_cast<std::uint8_t>(e + 127));
  }
  /// X times the implicit unit of the elements: 2^(e + element_unit_exponent()), exactly.
  static double exact_scale(const params& p) noexcept {
    return detail::pow2d(static_cast<int>(p.scale.bits()) - 127 + element_unit_exponent());
  }

  /// x / X (exact: X is a power of two), rounded; MXINT is symmetric: codes in
  /// [-(2^(b-1)-1), 2^(b-1)-1] (the reference microxcaling library clamps to +-max_norm),
  /// so -2^(b-1) is never produced.
  storage_type encode(float x, const params& p) noexcept {
    double q = static_cast<double>(x) / exact_scale(p);
    if constexpr (is_lowp_int_v<F>) {
      const double m = static_cast<double>(F::traits_type::max);
      q = std::clamp(q, -m, m);  // NaN passes through (and gives code 0)
    }
    return this->encode_quotient(q);
  }
  /// 0 for MXINT (the symmetric clamp is not a plain cast), else X.
  float cast_divisor(const params& p) const noexcept {
    return is_lowp_int_v<F> ? 0.0f : this->float_divisor(exact_scale(p));
  }

 private:
  mx_scale_rounding scale_rounding_;
  std::size_t block_;
};

// =======================================================================================
// nvfp4: NVIDIA's two-level FP4
// =======================================================================================

/// NVFP4: E2M1 elements, blocks of 16 sharing an E4M3 scale, and one float tensor scale
/// (NVIDIA Blackwell / TensorRT Model Optimizer; torchao `nvfp4_tensor.py`):
///
///     g   = fl(amax_tensor / (448 * 6))                      (prepare: the whole matrix)
///     b   = E4M3( fl(fl(amax_block / 6) / g) )               (round to nearest even, saturating)
///     s   = fl(g * b);   code = E2M1(x / s) (saturating);   value = fl(s * E2M1 value)
///
/// Rounding b to E4M3 can make s < amax_block / 6; those elements saturate at 6.  A block
/// whose b rounds to 0 (amax_block < ~2^-10 * 6g: negligible against the tensor) gets zero
/// codes.  An all-zero tensor has g = 1.  fit() throws std::logic_error before
/// prepare()/set_tensor_scale(); a block larger than prepare() saw saturates (b <= 448).
class nvfp4 : public detail::policy_base<nvfp4, float4_e2m1fn> {
 public:
  static constexpr const char* name = "lowp::nvfp4";
  struct params {
    float8_e4m3fn block_scale = float8_e4m3fn::from_bits(0x38);  ///< b (0x38 = 1.0)
    float tensor_scale = 1.0f;  ///< g, repeated so that params decode on their own
    float scale() const noexcept { return tensor_scale * static_cast<float>(block_scale); }
  };
  static constexpr float e4m3_max = 448.0f;
  static constexpr float e2m1_max = 6.0f;

  explicit nvfp4(element_rounding r = {}) noexcept : policy_base(r) {}

  std::size_t block_size() const noexcept { return 16; }
  float tensor_scale() const noexcept { return g_; }
  bool prepared() const noexcept { return prepared_; }

  /// prepare() needs the whole matrix (the tensor's amax): one block of all rows.
  std::size_t prepare_block_rows() const noexcept { return 0; }
  /// g from the whole matrix W (group_size 0 or > cols: std::invalid_argument); false when
  /// W holds a NaN or Inf, seen by the amax scan.
  bool prepare_rows_if_finite(const float* W, std::size_t rows, std::size_t cols,
                              std::size_t group_size, std::size_t /*first*/, std::size_t /*last*/) {
    detail::check_group_size("lowp::nvfp4::prepare", cols, group_size);
    const std::optional<float> amax = detail::finite_amax(W, rows * cols, 1);
    if (!amax) return false;
    set_tensor_scale(tensor_scale_of(*amax));
    return true;
  }
  /// g for a tensor whose largest magnitude is amax.
  static float tensor_scale_of(float amax) noexcept {
    if (amax == 0.0f) return 1.0f;
    const float g = amax / (e4m3_max * e2m1_max);
    return g > 0.0f ? g : std::numeric_limits<float>::denorm_min();
  }
  /// Sets g directly (static calibration).  Throws std::invalid_argument unless finite, > 0.
  void set_tensor_scale(float g) {
    if (!(g > 0.0f) || !std::isfinite(g))
      throw std::invalid_argument("lowp::nvfp4::set_tensor_scale: g must be finite and > 0");
    g_ = g;
    prepared_ = true;
  }

  /// The params of a block with largest magnitude amax_block.  Throws std::logic_error
  /// before prepare().
  params params_for_amax(float amax_block, std::size_t /*row*/) const {
    if (!prepared_)
      throw std::logic_error("lowp::nvfp4::fit: call prepare() (or set_tensor_scale) first");
    const float b = (amax_block / e2m1_max) / g_;
    return params{float8_e4m3fn(b), g_};  // RNE, saturating at 448
  }
  static double exact_scale(const params& p) noexcept { return p.scale(); }

  /// E2M1(x / s); a block whose scale is 0 has zero codes (and takes no random draw).
  storage_type encode(float x, const params& p) noexcept {
    if (!(p.scale() > 0.0f)) return storage_type{0};
    return encode_quotient(static_cast<double>(x) / exact_scale(p));
  }

 private:
  float g_ = 1.0f;
  bool prepared_ = false;
};

}  // namespace lowp
