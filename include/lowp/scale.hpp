// lowp/scale.hpp — scale policies: how one group of values gets its scale (and zero point).
//
// Layer: quantization.  Includes cast.hpp and the standard library only.
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
//     // (M2's per-row s_max, NVFP4's tensor scale).  A no-op for one-level policies.
//     void prepare(const float* W, std::size_t rows, std::size_t cols, std::size_t group_size);
//     // Params of the n values x[0], x[stride], ..., x[(n-1)*stride] of row `row`.
//     params fit(const float* x, std::size_t n, std::ptrdiff_t stride, std::size_t row) const;
//     typename format::storage_type encode(float x, const params& p) const;   // code bits
//     float decode(typename format::storage_type code, const params& p) const;
//     float fake(float x, const params& p) const;   // == decode(encode(x, p), p)
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
// Element rounding: every element is the *correctly rounded* value of x / s (the exact
// real quotient, computed in double, which is exact enough to never flip a rounding
// decision: see element_codec), in any lowp::rounding or stochastically with a seeded,
// reproducible stream.  Elements always saturate (values beyond the format's range
// clip to +-max), as OCP MX section 6.3 prescribes and as every quantizer does.
//
// Bad input (every policy): a NaN or Inf among the values fit() sees throws
// std::invalid_argument naming the row and the index in the group; an all-zero group
// gets a finite scale and zero codes (never a division by zero); n == 0 is an all-zero
// group.  encode()/decode()/fake() never throw (a NaN passed to encode() gives the
// element format's NaN code, or +max for formats without NaN, as lowp::cast does).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "cast.hpp"

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
  /// sequence of encode() calls give the same codes (reproducible, not thread-safe).
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
  /// GPTQ's `sym=True` convention: s = 2 amax / (2^b - 1) with zero point 2^(b-1), i.e.
  /// codes q - 2^(b-1) in [-2^(b-1), 2^(b-1)-1]; +amax lands on the tie 2^(b-1) - 1/2.
  gptq_full,
};

/// How mx rounds the shared E8M0 scale.
enum class mx_scale_rounding : std::uint8_t {
  floor,  ///< OCP MX v1.0: X = 2^(floor(log2 amax) - emax_elem); the largest elements may clip
  ceil,   ///< torchao "RCEIL": X = 2^ceil(log2(amax / max_elem)); never clips
};

namespace detail {

template <class F>
inline constexpr bool is_element_format_v =
    is_lowp_type_v<F> && !std::is_same_v<F, float8_e8m0fnu>;

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

/// Number of bits of a code of F.
template <class F>
inline constexpr int format_bits() noexcept {
  if constexpr (is_lowp_int_v<F>) {
    return F::traits_type::bits;
  } else {
    return float_layout<typename F::traits_type>::total_bits;
  }
}

/// SplitMix64 (Steele, Lea, Flood 2014; the seeder of xoshiro): one 64-bit draw of a
/// counter-based stream.
constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// Throws std::invalid_argument for the non-finite v at `row`, index `index` of the
/// group (or column `index` of the row when `is_column`).
[[noreturn]] inline void throw_nonfinite(const char* who, float v, std::size_t row,
                                         std::size_t index, bool is_column = false) {
  throw std::invalid_argument(std::string(who) + ": non-finite value (" +
                              (std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf")) +
                              ") at row " + std::to_string(row) + ", " +
                              (is_column ? "column " : "index ") + std::to_string(index) +
                              (is_column ? "" : " of the group"));
}

/// max |x[i*stride]| over the group; throws std::invalid_argument at the first NaN/Inf.
/// Computed as the integer max of the magnitude bits (the order of non-negative floats
/// is the order of their bit patterns), which vectorizes and finds NaN/Inf for free:
/// they are exactly the magnitudes >= 0x7F800000.
inline float group_amax(const char* who, const float* x, std::size_t n, std::ptrdiff_t stride,
                        std::size_t row) {
  std::uint32_t m = 0;
  if (stride == 1) {
    for (std::size_t i = 0; i < n; ++i) m = std::max(m, bit_cast<std::uint32_t>(x[i]) & 0x7FFFFFFFu);
  } else {
    for (std::size_t i = 0; i < n; ++i)
      m = std::max(m, bit_cast<std::uint32_t>(x[static_cast<std::ptrdiff_t>(i) * stride]) & 0x7FFFFFFFu);
  }
  if (m >= 0x7F800000u) {
    for (std::size_t i = 0; i < n; ++i) {
      const float v = x[static_cast<std::ptrdiff_t>(i) * stride];
      if (!std::isfinite(v)) throw_nonfinite(who, v, row, i);
    }
  }
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

/// v rounded to an integer under `mode` (v finite).  Exact: floor() and the difference
/// v - floor(v) are exact in binary floating point.
inline double round_to_integer(double v, rounding mode) noexcept {
  const double fl = std::floor(v);
  const double frac = v - fl;
  if (frac == 0.0) return v;
  switch (mode) {
    case rounding::toward_zero: return v < 0 ? fl + 1.0 : fl;
    case rounding::up: return fl + 1.0;
    case rounding::down: return fl;
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
  const double f = a - t;  // exact
  const double threshold = std::floor(std::ldexp(f, 32));  // exact: f has <= 53 bits
  const double r = static_cast<double>(random_bits) < threshold ? t + 1.0 : t;
  return v < 0 ? -r : r;
}

/// The element half of every policy: a code of x / scale (+ zero point) in format F,
/// rounded as configured, and back.
///
/// Why double: the quotient of two floats, computed in double, is within 2^-53
/// (relative) of the exact quotient, while the exact quotient x / s differs from any
/// rounding boundary m of an element format (m has <= 12 significant bits, m * s <= 36)
/// by at least about 2^-37 relative unless it is exactly on it (x - m s is a non-zero
/// multiple of m s's last bit); so the double quotient
/// is on the same side of every boundary (and on it exactly when the real quotient is),
/// and the one rounding lowp::cast then does is the correct rounding of x / s.  A float
/// quotient (or x * (1/s)) can create false ties and flip the rounding.
template <class F>
class element_codec {
  static_assert(is_element_format_v<F>,
                "element format must be a lowp float or integer type (not E8M0)");

 public:
  using format = F;
  using storage_type = typename F::storage_type;

  explicit element_codec(element_rounding r = {}) noexcept : rnd_(r) {}

  const element_rounding& rounding_config() const noexcept { return rnd_; }
  /// Restarts the stochastic stream at `seed` (and makes the policy stochastic).
  void reseed(std::uint64_t seed) noexcept {
    rnd_.stochastic = true;
    rnd_.seed = seed;
    draws_ = 0;
  }

 protected:
  std::uint32_t next_bits() const noexcept {
    return static_cast<std::uint32_t>(splitmix64(rnd_.seed + 0xD1B54A32D192ED03ull * draws_++) >> 32);
  }

  /// Code of the real number q (already divided by the scale), rounded and saturated.
  storage_type encode_quotient(double q) const noexcept {
    if (rnd_.stochastic) return cast_stochastic<F>(q, next_bits()).bits();
    if constexpr (is_lowp_int_v<F>) {
      // The same function as cast<F>(q, mode) (NaN -> 0, saturate; tested against it),
      // without the generic converter's unpacking: this is the per-element call of
      // GPTQ's column loop.  Rounding happens on [min - 1, max + 1], then the clamp.
      using Tr = typename F::traits_type;
      if (std::isnan(q)) return storage_type{0};
      const double lo = static_cast<double>(Tr::min), hi = static_cast<double>(Tr::max);
      const double r = std::clamp(round_to_integer(std::clamp(q, lo - 1.0, hi + 1.0), rnd_.mode), lo, hi);
      constexpr std::uint32_t code_mask = (std::uint32_t{1} << Tr::bits) - 1u;  // two's complement
      return static_cast<storage_type>(static_cast<std::uint32_t>(static_cast<std::int32_t>(r)) & code_mask);
    } else {
      return cast<F>(q, rnd_.mode).bits();
    }
  }

  /// Code of q + zero for unsigned integer formats with a zero point: round(q) + zero,
  /// clamped to [0, 2^b - 1] (GPTQ quant.py: clamp(round(x / s) + zero, 0, maxq)).
  storage_type encode_quotient_zero(double q, int zero) const noexcept {
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

  /// The float s with encode(x) == lowp::cast<F>(x / s, mode) (x / s exact) when the
  /// policy's encode is of that form with scale `exact`: 0 when it is not (stochastic
  /// rounding, or a scale that is not a float).  See fast_scale() of the policies.
  float fast_divisor(double exact) const noexcept {
    if (rnd_.stochastic) return 0.0f;
    const float s = static_cast<float>(exact);
    return (s > 0.0f && static_cast<double>(s) == exact && std::isfinite(s)) ? s : 0.0f;
  }

  /// The element value of a code (exact).  One-byte formats read a table of
  /// static_cast<double>(F::from_bits(c)) for all 256 storage values, made on first use.
  static double element_value(storage_type code) noexcept {
    if constexpr (sizeof(storage_type) == 1) {
      static const auto table = [] {
        struct values { double v[256]; } t{};
        for (unsigned c = 0; c < 256; ++c) t.v[c] = static_cast<double>(F::from_bits(static_cast<storage_type>(c)));
        return t;
      }();
      return table.v[code];
    } else {
      return static_cast<double>(F::from_bits(code));
    }
  }

  element_rounding rnd_;
  mutable std::uint64_t draws_ = 0;
};

inline void check_group_size(const char* who, std::size_t cols, std::size_t group_size) {
  if (group_size == 0)
    throw std::invalid_argument(std::string(who) + ": group size 0");
  if (cols != 0 && group_size > cols)
    throw std::invalid_argument(std::string(who) + ": group size " + std::to_string(group_size) +
                                " is larger than the row (" + std::to_string(cols) + " columns)");
}

}  // namespace detail

namespace detail {

/// The element codec of the one-level policies whose params are one float scale
/// (absmax, pow2): value = scale * element, element = round(x / scale) from the exact
/// quotient.
template <class F>
class float_scale_codec : public element_codec<F> {
 public:
  using storage_type = typename F::storage_type;
  struct params {
    float scale = 1.0f;
  };
  using element_codec<F>::element_codec;

  storage_type encode(float x, const params& p) const noexcept {
    return this->encode_quotient(static_cast<double>(x) / static_cast<double>(p.scale));
  }
  float decode(storage_type code, const params& p) const noexcept {
    return static_cast<float>(static_cast<double>(p.scale) * this->element_value(code));
  }
  /// For bulk kernels: the float s such that encode(x, p) == lowp::cast<format>(x / s,
  /// rounding) with x / s taken exactly, or 0 when encode() is not of that form
  /// (stochastic rounding, ...).  quantize() uses it for its SIMD path.
  float fast_scale(const params& p) const noexcept { return this->fast_divisor(p.scale); }
  float fake(float x, const params& p) const noexcept { return decode(encode(x, p), p); }
};

}  // namespace detail

// =======================================================================================
// absmax: s = amax / max_code_value
// =======================================================================================

/// Symmetric absmax scaling: one real (float) scale per group, s = fl(amax / Q) where Q is
/// the largest element value: max(F) for FP formats (448, 57344, 6, 7.5, 28, ...),
/// 2^(b-1) - 1 for signed INT (int_range::symmetric), or 2^(b-1) - 1/2 for GPTQ's
/// convention (int_range::gptq_full, s = 2 amax / (2^b - 1)).  Code = round(x / s), saturated.
/// Sources: ZeroQuant-FP (arXiv 2307.09782) sec. 3; GPTQ quant.py (`sym=True`).
///
/// All-zero group: s = 1 (codes are 0).  If amax / Q underflows to 0 (amax below about
/// Q * 2^-149), s is the smallest positive float, which still never clips.
template <class F>
class absmax : public detail::float_scale_codec<F> {
  static_assert(is_lowp_float_v<F> || detail::is_signed_int_format_v<F>,
                "absmax needs a float format or a signed integer format (use minmax for unsigned)");

 public:
  using format = F;
  using storage_type = typename F::storage_type;
  using params = typename detail::float_scale_codec<F>::params;  ///< value = scale * element

  explicit absmax(element_rounding r = {}, int_range range = int_range::symmetric) noexcept
      : detail::float_scale_codec<F>(r), range_(range) {}

  /// The largest element magnitude Q the group's amax is mapped to.
  float max_code_value() const noexcept {
    if constexpr (is_lowp_int_v<F>) {
      if (range_ == int_range::gptq_full) return static_cast<float>(F::traits_type::max) + 0.5f;
    }
    return detail::format_max<F>();
  }
  int_range range() const noexcept { return range_; }

  void prepare(const float*, std::size_t, std::size_t, std::size_t) noexcept {}

  params fit(const float* x, std::size_t n, std::ptrdiff_t stride, std::size_t row) const {
    const float amax = detail::group_amax("lowp::absmax::fit", x, n, stride, row);
    return params{scale_of(amax)};
  }
  /// The scale of a group whose largest magnitude is amax (>= 0, finite).
  float scale_of(float amax) const noexcept {
    if (amax == 0.0f) return 1.0f;
    const float s = amax / max_code_value();
    return s > 0.0f ? s : std::numeric_limits<float>::denorm_min();
  }


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
/// float32 rounding; see detail::element_codec.)
template <class F>
class minmax : public detail::element_codec<F> {
  static_assert(detail::is_unsigned_int_format_v<F>,
                "minmax needs an unsigned integer format (lowp::uint4, lowp::uint8)");

 public:
  using format = F;
  using storage_type = typename F::storage_type;
  struct params {
    float scale = 1.0f;
    std::int32_t zero = 0;  ///< value = scale * (code - zero)
  };

  explicit minmax(element_rounding r = {}) noexcept : detail::element_codec<F>(r) {}

  void prepare(const float*, std::size_t, std::size_t, std::size_t) noexcept {}

  params fit(const float* x, std::size_t n, std::ptrdiff_t stride, std::size_t row) const {
    float xmin = 0.0f, xmax = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
      const float v = x[static_cast<std::ptrdiff_t>(i) * stride];
      if (!std::isfinite(v)) detail::throw_nonfinite("lowp::minmax::fit", v, row, i);
      xmin = std::min(xmin, v);
      xmax = std::max(xmax, v);
    }
    return params_of(xmin, xmax);
  }
  /// GPTQ's find_params for one group with min xmin <= 0 <= xmax.
  static params params_of(float xmin, float xmax) noexcept {
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

  storage_type encode(float x, const params& p) const noexcept {
    return this->encode_quotient_zero(static_cast<double>(x) / static_cast<double>(p.scale), p.zero);
  }
  float decode(storage_type code, const params& p) const noexcept {
    return static_cast<float>(static_cast<double>(p.scale) *
                              (this->element_value(code) - static_cast<double>(p.zero)));
  }
  float fake(float x, const params& p) const noexcept { return decode(encode(x, p), p); }
};

// =======================================================================================
// pow2: ZeroQuant-FP M1
// =======================================================================================

/// Power-of-two scales (ZeroQuant-FP, arXiv 2307.09782, sec. 4 "M1"): the real scale
/// s = amax / max(F) is replaced by s' = 2^k with k = ceil(log2 s) (default: s' >= s, so
/// nothing clips), round(log2 s) or floor(log2 s) (these may clip; clipped elements
/// saturate).  k is computed exactly (no log2() rounding) and clamped to [-149, 127] so
/// that s' is a float.  All-zero group: s' = 1.  With a power-of-two scale, x / s' and
/// code * s' are exact (barring float under/overflow), so the dequantized values are the
/// element values shifted: the property FP4->FP8 casts and integer kernels exploit.
template <class F>
class pow2 : public detail::float_scale_codec<F> {
 public:
  using format = F;
  using storage_type = typename F::storage_type;
  using params = typename detail::float_scale_codec<F>::params;  ///< scale: a power of two

  explicit pow2(element_rounding r = {}, pow2_rounding mode = pow2_rounding::ceil) noexcept
      : detail::float_scale_codec<F>(r), mode_(mode) {}

  pow2_rounding scale_rounding() const noexcept { return mode_; }

  void prepare(const float*, std::size_t, std::size_t, std::size_t) noexcept {}

  params fit(const float* x, std::size_t n, std::ptrdiff_t stride, std::size_t row) const {
    return params{scale_of(detail::group_amax("lowp::pow2::fit", x, n, stride, row))};
  }
  /// The power-of-two scale of a group with largest magnitude amax (finite, >= 0).
  float scale_of(float amax) const noexcept {
    if (amax == 0.0f) return 1.0f;
    const double a = amax, q = detail::format_max<F>();
    int k = 0;
    switch (mode_) {
      case pow2_rounding::ceil: k = detail::ceil_log2_ratio(a, q); break;
      case pow2_rounding::floor: k = detail::floor_log2_ratio(a, q); break;
      case pow2_rounding::nearest: {
        // log2(a/q) in [k, k+1): the nearer end; the midpoint is a/q = 2^(k+1/2), i.e.
        // (a/q)^2 = 2^(2k+1), compared exactly as a^2 vs q^2 2^(2k+1) (both exact in
        // double: 24-bit squares).  It is irrational, so there are no ties.
        k = detail::floor_log2_ratio(a, q);
        if (a * a > q * q * detail::pow2d(2 * k + 1)) ++k;
        break;
      }
    }
    k = std::clamp(k, -149, 127);
    return static_cast<float>(detail::pow2d(k));
  }


 private:
  pow2_rounding mode_;
};

// =======================================================================================
// pow2_relative: ZeroQuant-FP M2
// =======================================================================================

/// Power-of-two *relative* scales (ZeroQuant-FP, arXiv 2307.09782, sec. 4 "M2").
///
/// Within a compute group (one row of W by default; `rows_per_compute_group` rows, or 0
/// for the whole matrix) prepare() finds s_max = max_g s_g, s_g = fl(amax_g / max(F)),
/// kept as one float.  Each group then gets
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
template <class F>
class pow2_relative : public detail::element_codec<F> {
 public:
  using format = F;
  using storage_type = typename F::storage_type;
  struct params {
    float scale_max = 1.0f;  ///< s_max of the group's compute group
    std::uint8_t shift = 0;  ///< k: the group's scale is scale_max * 2^-shift
    /// scale_max * 2^-shift (rounded to float only if that is below FLT_MIN).
    float scale() const noexcept {
      return static_cast<float>(static_cast<double>(scale_max) * detail::pow2d(-static_cast<int>(shift)));
    }
  };

  explicit pow2_relative(element_rounding r = {}, std::size_t rows_per_compute_group = 1,
                         pow2_rounding shift_rounding = pow2_rounding::floor,
                         int max_shift = 8)
      : detail::element_codec<F>(r),
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

  /// Computes s_max for every compute group of the rows x cols matrix W with groups of
  /// group_size columns.  Throws std::invalid_argument for group_size 0 or > cols, and
  /// for a NaN/Inf in W (naming its row and column).
  void prepare(const float* W, std::size_t rows, std::size_t cols, std::size_t group_size) {
    prepare_rows(W, rows, cols, group_size, 0, rows);
  }

  /// Rows per block for prepare_rows(): the compute group (0 when it is the whole matrix,
  /// which cannot be prepared in pieces).
  std::size_t prepare_block_rows() const noexcept { return rows_per_group_; }

  /// prepare() in pieces: the s_max of the compute groups holding rows [first, last) of
  /// the rows x cols matrix W (W points at row 0).  A call with first == 0 starts a new
  /// matrix.  quantize() calls it block by block just before fitting those rows, so each
  /// row is read from memory once.  first and last must be multiples of
  /// prepare_block_rows() (last may be rows); otherwise std::invalid_argument.
  void prepare_rows(const float* W, std::size_t rows, std::size_t cols, std::size_t group_size,
                    std::size_t first, std::size_t last) {
    constexpr const char* who = "lowp::pow2_relative::prepare";
    detail::check_group_size(who, cols, group_size);
    const std::size_t rpg = rows_per_group_ == 0 ? std::max<std::size_t>(rows, 1) : rows_per_group_;
    if (first > last || last > rows || first % rpg != 0 || (last % rpg != 0 && last != rows))
      throw std::invalid_argument("lowp::pow2_relative::prepare_rows: rows [" + std::to_string(first) +
                                  ", " + std::to_string(last) + ") are not whole compute groups");
    if (first == 0) {
      rows_ = rows;
      smax_.assign(rows == 0 ? 0 : (rows + rpg - 1) / rpg, 0.0f);
    }
    const float q = detail::format_max<F>();
    for (std::size_t r = first; r < last; ++r) {
      for (std::size_t c0 = 0; c0 < cols; c0 += group_size) {
        const std::size_t n = std::min(group_size, cols - c0);
        float amax = 0.0f;
        try {
          amax = detail::group_amax(who, W + r * cols + c0, n, 1, r);
        } catch (const std::invalid_argument&) {
          // Report the column of the row, not the index in the group.
          for (std::size_t j = 0; j < n; ++j)
            if (!std::isfinite(W[r * cols + c0 + j]))
              detail::throw_nonfinite(who, W[r * cols + c0 + j], r, c0 + j, true);
          throw;
        }
        float& m = smax_[r / rpg];
        m = std::max(m, amax / q);
      }
    }
    for (std::size_t k = first / rpg; k < (last + rpg - 1) / rpg; ++k)
      if (!(smax_[k] > 0.0f)) smax_[k] = 1.0f;
  }

  /// Sets s_max directly (e.g. a static calibration): one value per compute group.
  void set_scale_max(std::vector<float> smax, std::size_t rows) {
    for (float m : smax)
      if (!(m > 0.0f) || !std::isfinite(m))
        throw std::invalid_argument("lowp::pow2_relative::set_scale_max: s_max must be finite and > 0");
    smax_ = std::move(smax);
    rows_ = rows;
  }

  /// Throws std::logic_error if prepare() has not covered `row`.
  params fit(const float* x, std::size_t n, std::ptrdiff_t stride, std::size_t row) const {
    const float amax = detail::group_amax("lowp::pow2_relative::fit", x, n, stride, row);
    return params_of(amax / detail::format_max<F>(), row);
  }
  /// The params of a group with real scale s_g (= amax / max(F)) in row `row`.
  params params_of(float s_g, std::size_t row) const {
    const std::size_t rpg = rows_per_group_ == 0 ? std::max<std::size_t>(rows_, 1) : rows_per_group_;
    if (row / rpg >= smax_.size())
      throw std::logic_error("lowp::pow2_relative::fit: row " + std::to_string(row) +
                             " not covered by prepare() (call prepare on the matrix first)");
    const float smax = smax_[row / rpg];
    return params{smax, static_cast<std::uint8_t>(shift_of(smax, s_g))};
  }
  /// k for a group scale s_g under s_max (see the class comment).
  int shift_of(float smax, float s_g) const noexcept {
    if (!(s_g > 0.0f)) return max_shift_;
    if (s_g >= smax) return 0;
    const double a = smax, b = s_g;
    int k = detail::floor_log2_ratio(a, b);  // largest k: smax * 2^-k >= s_g
    if (shift_rounding_ == pow2_rounding::nearest) {
      // log2(a/b) in [k, k+1): take k+1 when a/b > 2^(k+1/2), i.e. a^2 > b^2 2^(2k+1).
      if (a * a > b * b * detail::pow2d(2 * k + 1)) ++k;
    }
    return std::clamp(k, 0, max_shift_);
  }

  storage_type encode(float x, const params& p) const noexcept {
    return this->encode_quotient(static_cast<double>(x) / exact_scale(p));
  }
  float decode(storage_type code, const params& p) const noexcept {
    return static_cast<float>(exact_scale(p) * this->element_value(code));
  }
  /// For bulk kernels: the float s such that encode(x, p) == lowp::cast<format>(x / s,
  /// rounding) with x / s taken exactly, or 0 when encode() is not of that form
  /// (stochastic rounding, ...).  quantize() uses it for its SIMD path.
  float fast_scale(const params& p) const noexcept { return this->fast_divisor(exact_scale(p)); }
  float fake(float x, const params& p) const noexcept { return decode(encode(x, p), p); }

 private:
  static double exact_scale(const params& p) noexcept {
    return static_cast<double>(p.scale_max) * detail::pow2d(-static_cast<int>(p.shift));
  }

  std::size_t rows_per_group_;
  pow2_rounding shift_rounding_;
  int max_shift_;
  std::size_t rows_ = 0;
  std::vector<float> smax_;
};

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
class mx : public detail::element_codec<F> {
  static_assert(is_lowp_float_v<F> || detail::is_signed_int_format_v<F>,
                "mx needs a float element format or a signed integer (MXINT) format");

 public:
  using format = F;
  using storage_type = typename F::storage_type;
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
      : detail::element_codec<F>(r), scale_rounding_(scale_rounding), block_(block_size) {
    if (block_size == 0) throw std::invalid_argument("lowp::mx: block size 0");
  }

  std::size_t block_size() const noexcept { return block_; }
  mx_scale_rounding scale_rounding() const noexcept { return scale_rounding_; }

  void prepare(const float*, std::size_t, std::size_t, std::size_t) noexcept {}

  params fit(const float* x, std::size_t n, std::ptrdiff_t stride, std::size_t row) const {
    return params{scale_of(detail::group_amax("lowp::mx::fit", x, n, stride, row))};
  }
  /// The shared scale of a block with largest magnitude amax (finite, >= 0).
  float8_e8m0fnu scale_of(float amax) const noexcept {
    if (amax == 0.0f) return float8_e8m0fnu::from_bits(0);
    int e = scale_rounding_ == mx_scale_rounding::floor
                ? detail::floor_log2(amax) - emax_elem()
                : detail::ceil_log2_ratio(static_cast<double>(amax), max_element());
    e = std::clamp(e, -127, 127);
    return float8_e8m0fnu::from_bits(static_cast<std::uint8_t>(e + 127));
  }

  storage_type encode(float x, const params& p) const noexcept {
    double q = static_cast<double>(x) * detail::pow2d(-unit_exponent(p));  // exact
    if constexpr (is_lowp_int_v<F>) {
      // MXINT is symmetric: codes in [-(2^(b-1)-1), 2^(b-1)-1] (the reference
      // microxcaling library clamps to +-max_norm), so -2^(b-1) is never produced.
      const double m = static_cast<double>(F::traits_type::max);
      q = std::clamp(q, -m, m);  // NaN passes through (and gives code 0)
    }
    return this->encode_quotient(q);
  }
  float decode(storage_type code, const params& p) const noexcept {
    return static_cast<float>(this->element_value(code) * detail::pow2d(unit_exponent(p)));
  }
  /// For bulk kernels: the float s such that encode(x, p) == lowp::cast<format>(x / s,
  /// rounding) with x / s taken exactly, or 0 when encode() is not of that form
  /// (stochastic rounding, ...).  quantize() uses it for its SIMD path.
  float fast_scale(const params& p) const noexcept {
    if constexpr (is_lowp_int_v<F>) {
      (void)p;
      return 0.0f;  // MXINT clamps symmetrically: not a plain cast
    } else {
      return this->fast_divisor(detail::pow2d(unit_exponent(p)));
    }
  }
  float fake(float x, const params& p) const noexcept { return decode(encode(x, p), p); }

 private:
  static int unit_exponent(const params& p) noexcept {
    return static_cast<int>(p.scale.bits()) - 127 + element_unit_exponent();
  }
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
class nvfp4 : public detail::element_codec<float4_e2m1fn> {
 public:
  using format = float4_e2m1fn;
  using storage_type = format::storage_type;
  struct params {
    float8_e4m3fn block_scale = float8_e4m3fn::from_bits(0x38);  ///< b (0x38 = 1.0)
    float tensor_scale = 1.0f;  ///< g, repeated so that params decode on their own
    float scale() const noexcept { return tensor_scale * static_cast<float>(block_scale); }
  };
  static constexpr float e4m3_max = 448.0f;
  static constexpr float e2m1_max = 6.0f;

  explicit nvfp4(element_rounding r = {}) noexcept : detail::element_codec<float4_e2m1fn>(r) {}

  std::size_t block_size() const noexcept { return 16; }
  float tensor_scale() const noexcept { return g_; }
  bool prepared() const noexcept { return prepared_; }

  /// g from the whole matrix.  Throws std::invalid_argument on NaN/Inf (naming the index)
  /// and on group_size 0 or > cols.
  void prepare(const float* W, std::size_t rows, std::size_t cols, std::size_t group_size) {
    detail::check_group_size("lowp::nvfp4::prepare", cols, group_size);
    float amax = 0.0f;
    for (std::size_t r = 0; r < rows; ++r) {
      try {
        amax = std::max(amax, detail::group_amax("lowp::nvfp4::prepare", W + r * cols, cols, 1, r));
      } catch (const std::invalid_argument&) {
        for (std::size_t c = 0; c < cols; ++c)
          if (!std::isfinite(W[r * cols + c]))
            detail::throw_nonfinite("lowp::nvfp4::prepare", W[r * cols + c], r, c, true);
        throw;
      }
    }
    set_tensor_scale(tensor_scale_of(amax));
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

  params fit(const float* x, std::size_t n, std::ptrdiff_t stride, std::size_t row) const {
    if (!prepared_)
      throw std::logic_error("lowp::nvfp4::fit: call prepare() (or set_tensor_scale) first");
    return params_of(detail::group_amax("lowp::nvfp4::fit", x, n, stride, row));
  }
  params params_of(float amax_block) const noexcept {
    const float b = (amax_block / e2m1_max) / g_;
    return params{float8_e4m3fn(b), g_};  // RNE, saturating at 448
  }

  storage_type encode(float x, const params& p) const noexcept {
    const float s = p.scale();
    if (!(s > 0.0f)) return storage_type{0};
    return this->encode_quotient(static_cast<double>(x) / static_cast<double>(s));
  }
  float decode(storage_type code, const params& p) const noexcept {
    return p.scale() * static_cast<float>(format::from_bits(code));
  }
  /// For bulk kernels: the float s such that encode(x, p) == lowp::cast<format>(x / s,
  /// rounding) with x / s taken exactly, or 0 when encode() is not of that form
  /// (stochastic rounding, ...).  quantize() uses it for its SIMD path.
  float fast_scale(const params& p) const noexcept { return this->fast_divisor(p.scale()); }
  float fake(float x, const params& p) const noexcept { return decode(encode(x, p), p); }

 private:
  float g_ = 1.0f;
  bool prepared_ = false;
};

}  // namespace lowp
