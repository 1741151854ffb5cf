// tests/oracle/format_oracle.hpp — an independent reference model of every lowp format.
//
// This file deliberately shares NO code and NO constants with lowp (it does not include
// any lowp header).  Each format is described by its own spec table written from the
// standards, every code is decoded into its exact value with std::ldexp, and a conversion
// is answered by looking the input up in the sorted table of finite values and applying
// the rounding rule to the two neighbouring table entries.  It is deliberately the
// "slow, obvious" algorithm: nothing here manipulates the input's bits except to read the
// NaN payload.
//
// Sources of the spec tables:
//   - OCP 8-bit Floating Point Specification (OFP8) rev. 1.0, 2023, Table 1:
//     E4M3 bias 7, no Inf, NaN S.1111.111, max 448;  E5M2 bias 15, IEEE-style Inf/NaN,
//     max 57344.
//   - The "fnuz" FP8 formats (Graphcore/AMD; LLVM APFloat Float8E4M3FNUZ / Float8E5M2FNUZ,
//     arXiv:2206.02915): bias 8 / 16, no Inf, no -0, the single NaN is 0x80.
//   - OCP Microscaling Formats (MX) Specification v1.0, 2023, section 5.3 and 5.4:
//     FP6 E2M3 bias 1 max 7.5, FP6 E3M2 bias 3 max 28, FP4 E2M1 bias 1 max 6, all without
//     Inf/NaN; E8M0 scale: 2^(e-127), 0xFF = NaN, no sign, no zero.
//   - IEEE 754-2019 section 3.6 (binary16), and bfloat16 (the upper half of binary32).
//
// The conversion contract modelled (lowp issue 3):
//   one rounding of the exact input; results whose rounded magnitude (with an unbounded
//   exponent range, IEEE 754-2019 4.3) exceeds max, and +-Inf inputs, go to +-max under
//   saturate and to Inf / NaN / max (first the format has) under non_saturating, except
//   that a directed rounding toward zero for that sign gives max for a finite input
//   (IEEE 754-2019 7.4).  Ties-to-even pick the even code.  NaN inputs give the format's
//   NaN (payload rules in nan_code()).  E8M0 converts |x|, and everything below its
//   smallest value 2^-127 gives 0x00.  The fnuz formats have no -0.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace lowp_oracle {

// --- shared vocabulary --------------------------------------------------------------

enum class mode { nearest_even, nearest_away, toward_zero, up, down };
enum class ovf { saturate, non_saturating };

inline constexpr mode all_modes[] = {mode::nearest_even, mode::nearest_away, mode::toward_zero,
                                     mode::up, mode::down};
inline constexpr ovf all_ovfs[] = {ovf::saturate, ovf::non_saturating};

inline const char* name(mode m) {
  switch (m) {
    case mode::nearest_even:
      return "nearest_even";
    case mode::nearest_away:
      return "nearest_away";
    case mode::toward_zero:
      return "toward_zero";
    case mode::up:
      return "up";
    case mode::down:
      return "down";
  }
  return "?";
}
inline const char* name(ovf o) {
  return o == ovf::saturate ? "saturate" : "non_saturating";
}

inline std::uint32_t float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float bits_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline std::uint64_t double_bits(double d) {
  std::uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}
inline double bits_double(std::uint64_t u) {
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}

/// A fixed-seed 64-bit generator (splitmix64, Steele, Lea & Flood, OOPSLA 2014): the
/// tests' random inputs are reproducible on every platform.
struct splitmix64 {
  std::uint64_t state;
  explicit splitmix64(std::uint64_t seed) : state(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint32_t next32() { return static_cast<std::uint32_t>(next() >> 32); }
  /// Uniform in [0, n) (n > 0); the modulo bias (< n / 2^64) is irrelevant here.
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  /// Uniform double in [0, 1) with 53 random bits.
  double unit() { return std::ldexp(static_cast<double>(next() >> 11), -53); }
};

// --- the exact input ----------------------------------------------------------------

/// An input value as the oracle sees it: its class, sign, exact magnitude, and for NaN
/// the payload bits *below the quiet bit* (left-aligned in `payload_bits` bits) when the
/// source is an IEEE-style format.  `payload_known` is false for NaNs of formats that
/// have no quiet bit (E4M3FN, fnuz, E8M0): the contract leaves such payloads open.
struct input {
  enum kind_t { finite, inf, nan } kind = finite;
  bool negative = false;
  double magnitude = 0.0;  ///< exact |value| for finite inputs
  bool payload_known = true;
  bool sign_known = true;  ///< false for NaNs whose sign is meaningless (fnuz 0x80, E8M0)
  std::uint64_t payload = 0;
  int payload_bits = 0;
};

inline input from_double(double x) {
  input in;
  const std::uint64_t b = double_bits(x);
  in.negative = (b >> 63) != 0;
  if (std::isnan(x)) {
    in.kind = input::nan;
    in.payload = b & ((std::uint64_t{1} << 51) - 1);  // binary64: quiet bit is bit 51
    in.payload_bits = 51;
  } else if (std::isinf(x)) {
    in.kind = input::inf;
  } else {
    in.magnitude = std::fabs(x);
  }
  return in;
}

inline input from_float(float x) {
  input in = from_double(static_cast<double>(x));  // float -> double is exact
  if (in.kind == input::nan) {
    in.payload = float_bits(x) & ((std::uint32_t{1} << 22) - 1);  // quiet bit is bit 22
    in.payload_bits = 22;
  }
  return in;
}

// --- floating-point formats -----------------------------------------------------------

/// How a format spends its top codes.
enum class special_kind {
  ieee,         ///< exponent all-ones: mantissa 0 = Inf, else NaN (E5M2, binary16, bfloat16)
  e4m3fn,       ///< no Inf; only S.1111.111 is NaN (OCP E4M3)
  fnuz,         ///< no Inf, no -0: the code 1000...0 is the single NaN
  finite_only,  ///< every code is a finite number (MX FP6 / FP4)
  e8m0          ///< unsigned powers of two 2^(e-127); 0xFF is NaN (MX scale)
};

/// A floating-point format's spec table, written from the standards cited above.
struct float_spec {
  const char* name;
  int width;     ///< bits in a code
  int exp_bits;  ///< exponent field width
  int man_bits;  ///< trailing significand field width
  int bias;
  special_kind kind;
  bool has_sign() const { return kind != special_kind::e8m0; }
  bool has_inf() const { return kind == special_kind::ieee; }
  bool has_nan() const { return kind != special_kind::finite_only; }
};

inline constexpr float_spec spec_e4m3fn{"float8_e4m3fn", 8, 4, 3, 7, special_kind::e4m3fn};
inline constexpr float_spec spec_e5m2{"float8_e5m2", 8, 5, 2, 15, special_kind::ieee};
inline constexpr float_spec spec_e4m3fnuz{"float8_e4m3fnuz", 8, 4, 3, 8, special_kind::fnuz};
inline constexpr float_spec spec_e5m2fnuz{"float8_e5m2fnuz", 8, 5, 2, 16, special_kind::fnuz};
inline constexpr float_spec spec_e2m3fn{"float6_e2m3fn", 6, 2, 3, 1, special_kind::finite_only};
inline constexpr float_spec spec_e3m2fn{"float6_e3m2fn", 6, 3, 2, 3, special_kind::finite_only};
inline constexpr float_spec spec_e2m1fn{"float4_e2m1fn", 4, 2, 1, 1, special_kind::finite_only};
inline constexpr float_spec spec_e8m0fnu{"float8_e8m0fnu", 8, 8, 0, 127, special_kind::e8m0};
inline constexpr float_spec spec_binary16{"float16", 16, 5, 10, 15, special_kind::ieee};
inline constexpr float_spec spec_bfloat16{"bfloat16", 16, 8, 7, 127, special_kind::ieee};

/// One decoded code.
struct code_value {
  enum kind_t { finite, inf, nan } kind;
  double value;  ///< exact, signed (-0.0 for negative zero); meaningless for NaN
};

/// Decodes `code` of format `s` straight from the field definitions.
inline code_value decode(const float_spec& s, std::uint32_t code) {
  const std::uint32_t man_mask = (1u << s.man_bits) - 1u;
  const std::uint32_t exp_mask = (1u << s.exp_bits) - 1u;
  const std::uint32_t man = code & man_mask;
  const std::uint32_t ex = (code >> s.man_bits) & exp_mask;
  const bool neg = s.has_sign() && ((code >> (s.width - 1)) & 1u) != 0;
  const double sign = neg ? -1.0 : 1.0;
  switch (s.kind) {
    case special_kind::e8m0:
      if (code == 0xFFu) return {code_value::nan, 0.0};
      return {code_value::finite, std::ldexp(1.0, static_cast<int>(code) - 127)};
    case special_kind::ieee:
      if (ex == exp_mask) return {man == 0 ? code_value::inf : code_value::nan, sign * HUGE_VAL};
      break;
    case special_kind::e4m3fn:
      if (ex == exp_mask && man == man_mask) return {code_value::nan, 0.0};
      break;
    case special_kind::fnuz:
      if (neg && ex == 0 && man == 0) return {code_value::nan, 0.0};
      break;
    case special_kind::finite_only:
      break;
  }
  // IEEE 754-2019 3.4: subnormal (ex == 0): 0.m * 2^(1-bias); normal: 1.m * 2^(ex-bias).
  const double sig =
      ex == 0 ? static_cast<double>(man) : static_cast<double>(man) + std::ldexp(1.0, s.man_bits);
  const int e = (ex == 0 ? 1 : static_cast<int>(ex)) - s.bias - s.man_bits;
  return {code_value::finite, sign * std::ldexp(sig, e)};
}

/// The rounding oracle of one floating-point format.
class float_oracle {
 public:
  explicit float_oracle(const float_spec& s) : spec_(s) {
    const std::uint32_t ncodes = 1u << s.width;
    for (std::uint32_t c = 0; c < ncodes; ++c) {
      const code_value v = decode(s, c);
      if (v.kind != code_value::finite || std::signbit(v.value)) continue;
      mags_.push_back(v.value);
      codes_.push_back(c);
    }
    // Positive codes increase with their value in every format, so the table comes out
    // sorted; check rather than assume.
    for (std::size_t i = 1; i < mags_.size(); ++i)
      if (!(mags_[i - 1] < mags_[i])) throw std::logic_error("oracle: value table not sorted");
    max_ = mags_.back();
    max_code_ = codes_.back();
    // The value one ulp above max on the unbounded-exponent grid (IEEE 754-2019 4.3's
    // "rounded ... with unbounded exponent range"), and its parity (the code after
    // max's, as if the exponent field were wider).
    ext_ = max_ + std::ldexp(1.0, std::ilogb(max_) - s.man_bits);
    ext_code_ = max_code_ + 1;
    sign_bit_ = s.has_sign() ? (1u << (s.width - 1)) : 0u;
    for (std::uint32_t c = 0; c < ncodes; ++c) {
      if (decode(s, c).kind == code_value::inf && (c & sign_bit_) == 0) inf_code_ = c;
    }
  }

  const float_spec& spec() const { return spec_; }
  /// Sorted non-negative finite values (0 first where the format has zero).
  const std::vector<double>& magnitudes() const { return mags_; }
  /// The code of magnitudes()[i].
  const std::vector<std::uint32_t>& magnitude_codes() const { return codes_; }
  double max() const { return max_; }
  /// One ulp above max on the unbounded grid: the first value that overflows.
  double beyond_max() const { return ext_; }
  std::uint32_t sign_bit() const { return sign_bit_; }

  /// Every rounding boundary and code value as a positive magnitude: the values, the
  /// midpoints between neighbours, and the overflow threshold and beyond-max value.
  std::vector<double> boundaries() const {
    std::vector<double> b(mags_);
    for (std::size_t i = 0; i + 1 < mags_.size(); ++i) b.push_back((mags_[i] + mags_[i + 1]) / 2);
    b.push_back((max_ + ext_) / 2);
    b.push_back(ext_);
    if (spec_.kind == special_kind::e8m0) b.push_back(mags_[0] / 2);  // below the minimum
    std::sort(b.begin(), b.end());
    return b;
  }

  /// The expected code of converting `in` with rounding `m` and overflow `o`.
  /// `hint`, if given, caches the table position between calls with nearby inputs (it
  /// only saves the binary search; any value is safe).
  std::uint32_t convert(const input& in, mode m, ovf o, std::size_t* hint = nullptr) const {
    if (in.kind == input::nan) return nan_code(in);
    bool neg = in.negative;
    if (!spec_.has_sign()) neg = false;  // E8M0 converts |x|
    if (in.kind == input::inf) return overflow_code(neg, o);
    const magnitude_mode mm = to_magnitude_mode(m, neg);
    const long idx = round_magnitude(in.magnitude, mm, hint);
    if (idx < 0) return overflow_code(neg, o);
    return with_sign(codes_[static_cast<std::size_t>(idx)], neg);
  }
  std::uint32_t convert(double x, mode m, ovf o) const { return convert(from_double(x), m, o); }
  std::uint32_t convert(float x, mode m, ovf o) const { return convert(from_float(x), m, o); }

  /// All ten answers at once, out[m][o] for the modes and overflows in the order of
  /// all_modes / all_ovfs: the same rules as convert(), with one table look-up.
  void convert_all(const input& in, std::uint32_t (&out)[5][2], std::size_t* hint = nullptr) const {
    if (in.kind == input::nan) {
      const std::uint32_t n = nan_code(in);
      for (auto& row : out) row[0] = row[1] = n;
      return;
    }
    const bool neg = in.negative && spec_.has_sign();
    if (in.kind == input::inf) {
      for (auto& row : out) {
        row[0] = overflow_code(neg, ovf::saturate);
        row[1] = overflow_code(neg, ovf::non_saturating);
      }
      return;
    }
    // The magnitude's results for toward-zero, away, nearest-even and nearest-away.
    const position p = locate(in.magnitude, hint);
    long idx[4];
    for (int k = 0; k < 4; ++k) idx[k] = pick(p, static_cast<magnitude_mode>(k));
    auto code = [&](magnitude_mode mm, ovf o) {
      const long i = idx[static_cast<int>(mm)];
      return i < 0 ? overflow_code(neg, o) : with_sign(codes_[static_cast<std::size_t>(i)], neg);
    };
    for (int mi = 0; mi < 5; ++mi) {
      const magnitude_mode mm = to_magnitude_mode(all_modes[mi], neg);
      out[mi][0] = code(mm, ovf::saturate);
      out[mi][1] = code(mm, ovf::non_saturating);
    }
  }

  /// Stochastic rounding: truncate toward zero to the grid (r), f = discarded fraction
  /// of the ulp; round away iff random_bits < floor(f * 2^32).
  std::uint32_t convert_stochastic(const input& in, std::uint32_t random_bits, ovf o) const {
    if (in.kind != input::finite) return convert(in, mode::nearest_even, o);
    bool neg = in.negative && spec_.has_sign();
    const double a = in.magnitude;
    if (a >= ext_) return overflow_code(neg, o);         // even the truncation exceeds max
    if (a < mags_[0]) return with_sign(codes_[0], neg);  // E8M0 below 2^-127
    const std::size_t i = floor_index(a, nullptr);
    if (mags_[i] == a) return with_sign(codes_[i], neg);
    const bool away = random_bits < stochastic_threshold(in);
    if (!away) return with_sign(codes_[i], neg);
    if (i + 1 == mags_.size()) return overflow_code(neg, o);
    return with_sign(codes_[i + 1], neg);
  }

  /// floor(f * 2^32) for the discarded fraction f of a finite input between two grid
  /// values (0 for exact inputs and inputs outside [min, beyond_max)).
  std::uint64_t stochastic_threshold(const input& in) const {
    const double a = in.magnitude;
    if (in.kind != input::finite || a >= ext_ || a < mags_[0]) return 0;
    const std::size_t i = floor_index(a, nullptr);
    const double lo = mags_[i];
    const double hi = i + 1 < mags_.size() ? mags_[i + 1] : ext_;
    // a - lo and the division by the power-of-two spacing are exact in double (Sterbenz).
    const double f = (a - lo) / (hi - lo);
    return static_cast<std::uint64_t>(std::floor(std::ldexp(f, 32)));
  }

  /// The NaN code that a NaN input becomes (the contract's NaN rules).
  std::uint32_t nan_code(const input& in) const {
    switch (spec_.kind) {
      case special_kind::e4m3fn:
        return (in.negative ? sign_bit_ : 0u) | 0x7Fu;
      case special_kind::fnuz:
        return 0x80u;
      case special_kind::e8m0:
        return 0xFFu;
      case special_kind::finite_only:
        return max_code_;  // +max, as CUDA does
      case special_kind::ieee:
        break;
    }
    // sign | all-ones exponent | quiet bit | the top (M-1) payload bits below the quiet
    // bit of the source (what F16C's VCVTPS2PH does for binary16).
    const int keep = spec_.man_bits - 1;
    std::uint64_t p = in.payload;
    if (in.payload_bits >= keep) {
      p >>= (in.payload_bits - keep);
    } else {
      p <<= (keep - in.payload_bits);
    }
    const std::uint32_t exp_all = ((1u << spec_.exp_bits) - 1u) << spec_.man_bits;
    const std::uint32_t quiet = 1u << (spec_.man_bits - 1);
    return (in.negative ? sign_bit_ : 0u) | exp_all | quiet | static_cast<std::uint32_t>(p);
  }

  /// True if `code` is a NaN of this format.
  bool is_nan_code(std::uint32_t code) const { return decode(spec_, code).kind == code_value::nan; }

 private:
  // (The order is used by convert_all.)
  enum class magnitude_mode { toward_zero, away, nearest_even, nearest_away };

  magnitude_mode to_magnitude_mode(mode m, bool neg) const {
    switch (m) {
      case mode::nearest_even:
        return magnitude_mode::nearest_even;
      case mode::nearest_away:
        return magnitude_mode::nearest_away;
      case mode::toward_zero:
        return magnitude_mode::toward_zero;
      case mode::up:
        return neg ? magnitude_mode::toward_zero : magnitude_mode::away;
      case mode::down:
        return neg ? magnitude_mode::away : magnitude_mode::toward_zero;
    }
    return magnitude_mode::nearest_even;
  }

  // Largest i with mags_[i] <= a (requires a >= mags_[0]).
  std::size_t floor_index(double a, std::size_t* hint) const {
    const std::size_t n = mags_.size();
    if (hint != nullptr && *hint < n) {
      for (std::size_t i = *hint; i < n && i <= *hint + 2; ++i) {
        if (mags_[i] <= a && (i + 1 == n || a < mags_[i + 1])) return *hint = i;
      }
    }
    const auto it = std::upper_bound(mags_.begin(), mags_.end(), a);
    const std::size_t i = static_cast<std::size_t>(it - mags_.begin()) - 1;
    if (hint != nullptr) *hint = i;
    return i;
  }

  // Where a magnitude lies relative to the table.
  struct position {
    enum { below_min, inside, beyond } where;  // beyond: a >= the first overflowing value
    std::size_t i;                             // largest i with mags_[i] <= a (inside)
    bool exact;                                // a == mags_[i]
    bool top;                                  // i is max: the upper neighbour is beyond_max()
    int vs_mid;                                // sign of a - (mags_[i] + upper) / 2
    bool up_even;                              // the upper neighbour's code is even
  };

  position locate(double a, std::size_t* hint) const {
    position p{position::inside, 0, false, false, 0, false};
    if (a < mags_[0]) {  // only E8M0: everything below 2^-127 gives 0x00
      p.where = position::below_min;
      return p;
    }
    if (a >= ext_) {
      p.where = position::beyond;
      return p;
    }
    p.i = floor_index(a, hint);
    p.exact = mags_[p.i] == a;
    p.top = p.i + 1 == mags_.size();
    const double hi = p.top ? ext_ : mags_[p.i + 1];
    const double mid = (mags_[p.i] + hi) / 2;  // exact: both have few significant bits
    p.vs_mid = a < mid ? -1 : (a > mid ? 1 : 0);
    p.up_even = ((p.top ? ext_code_ : codes_[p.i + 1]) & 1u) == 0;  // ties to the even code
    return p;
  }

  // Index into the table, or -1 for overflow.
  long pick(const position& p, magnitude_mode mm) const {
    if (p.where == position::below_min) return 0;
    if (p.where == position::beyond)
      return mm == magnitude_mode::toward_zero ? static_cast<long>(mags_.size() - 1) : -1;
    if (p.exact) return static_cast<long>(p.i);
    bool up = false;
    switch (mm) {
      case magnitude_mode::toward_zero:
        up = false;
        break;
      case magnitude_mode::away:
        up = true;
        break;
      case magnitude_mode::nearest_even:
        up = p.vs_mid > 0 || (p.vs_mid == 0 && p.up_even);
        break;
      case magnitude_mode::nearest_away:
        up = p.vs_mid >= 0;
        break;
    }
    if (!up) return static_cast<long>(p.i);
    return p.top ? -1 : static_cast<long>(p.i + 1);
  }

  long round_magnitude(double a, magnitude_mode mm, std::size_t* hint) const {
    return pick(locate(a, hint), mm);
  }

  std::uint32_t with_sign(std::uint32_t code, bool neg) const {
    if (!neg) return code;
    if (spec_.kind == special_kind::fnuz && code == 0) return 0;  // no -0
    return code | sign_bit_;
  }

  std::uint32_t overflow_code(bool neg, ovf o) const {
    if (o == ovf::non_saturating) {
      if (spec_.has_inf()) return with_sign(inf_code_, neg);
      if (spec_.has_nan()) {
        input n;
        n.kind = input::nan;
        n.negative = neg;
        return nan_code(n);
      }
    }
    return with_sign(max_code_, neg);
  }

  float_spec spec_;
  std::vector<double> mags_;
  std::vector<std::uint32_t> codes_;
  double max_ = 0, ext_ = 0;
  std::uint32_t max_code_ = 0, ext_code_ = 0, sign_bit_ = 0, inf_code_ = 0;
};

/// The exact input that decoding `code` of format `s` gives (for casts between formats):
/// IEEE-style NaNs carry their payload below the quiet bit; other NaNs carry none.
inline input input_from_code(const float_spec& s, std::uint32_t code) {
  input in;
  const code_value v = decode(s, code);
  in.negative = s.has_sign() && ((code >> (s.width - 1)) & 1u) != 0;
  if (v.kind == code_value::nan) {
    in.kind = input::nan;
    if (s.kind == special_kind::ieee) {
      in.payload_bits = s.man_bits - 1;
      in.payload = code & ((1u << (s.man_bits - 1)) - 1u);
    } else {
      in.payload_known = false;
      in.sign_known = s.kind == special_kind::e4m3fn;
    }
  } else if (v.kind == code_value::inf) {
    in.kind = input::inf;
  } else {
    in.magnitude = std::fabs(v.value);
  }
  return in;
}

// --- integer formats ------------------------------------------------------------------

struct int_spec {
  const char* name;
  int width;
  bool is_signed;
  long min() const { return is_signed ? -(1L << (width - 1)) : 0L; }
  long max() const { return is_signed ? (1L << (width - 1)) - 1 : (1L << width) - 1; }
};

inline constexpr int_spec spec_int4{"int4", 4, true};
inline constexpr int_spec spec_uint4{"uint4", 4, false};
inline constexpr int_spec spec_int8{"int8", 8, true};
inline constexpr int_spec spec_uint8{"uint8", 8, false};

/// The integer a code stands for (two's complement when signed).
inline long int_decode(const int_spec& s, std::uint32_t code) {
  const long v = static_cast<long>(code & ((1u << s.width) - 1u));
  return s.is_signed && v >= (1L << (s.width - 1)) ? v - (1L << s.width) : v;
}

/// Integer conversion: round to an integer with the mode, then clamp to [min, max];
/// NaN gives 0 and +-Inf give max / min.  Returns the integer value.
inline long int_convert(const int_spec& s, const input& in, mode m) {
  if (in.kind == input::nan) return 0;
  if (in.kind == input::inf) return in.negative ? s.min() : s.max();
  // Work on the magnitude: a - floor(a) is exact for a >= 0 (Sterbenz), which x - floor(x)
  // is not for negative x (-0.49999999999999994 - (-1) rounds to 0.5).
  const double a = in.magnitude;
  const double fl = std::floor(a);
  const double frac = a - fl;
  bool away = false;  // from zero
  switch (m) {
    case mode::toward_zero:
      away = false;
      break;
    case mode::up:
      away = !in.negative;
      break;
    case mode::down:
      away = in.negative;
      break;
    case mode::nearest_even:
      away = frac > 0.5 || (frac == 0.5 && std::fmod(fl, 2.0) != 0);
      break;
    case mode::nearest_away:
      away = frac >= 0.5;
      break;
  }
  const double mag = (frac != 0 && away) ? fl + 1 : fl;
  const double r = in.negative ? -mag : mag;
  if (r < static_cast<double>(s.min())) return s.min();
  if (r > static_cast<double>(s.max())) return s.max();
  return static_cast<long>(r);
}

/// floor(f * 2^32) for the fractional part f of |x| (0 for non-finite inputs).
inline std::uint64_t int_stochastic_threshold(const input& in) {
  if (in.kind != input::finite) return 0;
  const double f = in.magnitude - std::floor(in.magnitude);  // exact
  return static_cast<std::uint64_t>(std::floor(std::ldexp(f, 32)));
}

/// Stochastic rounding to an integer: r = trunc(x), f = |x - r|; away iff
/// random_bits < floor(f * 2^32); then clamp.
inline long int_convert_stochastic(const int_spec& s, const input& in, std::uint32_t random_bits) {
  if (in.kind != input::finite) return int_convert(s, in, mode::nearest_even);
  const double t = std::floor(in.magnitude);
  double r = random_bits < int_stochastic_threshold(in) ? t + 1 : t;
  if (in.negative) r = -r;
  if (r < static_cast<double>(s.min())) return s.min();
  if (r > static_cast<double>(s.max())) return s.max();
  return static_cast<long>(r);
}

// --- one interface over both kinds ---------------------------------------------------

/// A float or integer format's oracle behind one interface; results are codes (two's
/// complement codes for the integers).
class reference {
 public:
  explicit reference(const float_spec& s) : name_(s.name), width_(s.width), fo_(s), float_(true) {}
  explicit reference(const int_spec& s)
      : name_(s.name), width_(s.width), fo_(spec_e2m1fn), float_(false), is_(s) {}

  const char* name() const { return name_; }
  bool is_float() const { return float_; }
  int width() const { return width_; }
  std::uint32_t code_count() const { return 1u << width_; }
  std::uint32_t code_mask() const { return code_count() - 1u; }
  const float_oracle& floats() const { return fo_; }
  const int_spec& ints() const { return is_; }

  std::uint32_t int_code(long v) const {
    return static_cast<std::uint32_t>(static_cast<unsigned long>(v)) & code_mask();
  }

  std::uint32_t expect(const input& in, mode m, ovf o, std::size_t* hint = nullptr) const {
    if (float_) return fo_.convert(in, m, o, hint);
    return int_code(int_convert(is_, in, m));
  }
  void expect_all(const input& in, std::uint32_t (&out)[5][2], std::size_t* hint = nullptr) const {
    if (float_) return fo_.convert_all(in, out, hint);
    for (int mi = 0; mi < 5; ++mi)
      out[mi][0] = out[mi][1] = int_code(int_convert(is_, in, all_modes[mi]));
  }
  std::uint32_t expect_stochastic(const input& in, std::uint32_t bits, ovf o) const {
    if (float_) return fo_.convert_stochastic(in, bits, o);
    return int_code(int_convert_stochastic(is_, in, bits));
  }
  std::uint64_t stochastic_threshold(const input& in) const {
    return float_ ? fo_.stochastic_threshold(in) : int_stochastic_threshold(in);
  }

  /// The exact input that the code stands for.
  input input_of(std::uint32_t code) const {
    if (float_) return input_from_code(fo_.spec(), code);
    input in;
    const long v = int_decode(is_, code);
    in.negative = v < 0;
    in.magnitude = std::fabs(static_cast<double>(v));
    return in;
  }
  bool is_nan_code(std::uint32_t code) const { return float_ && fo_.is_nan_code(code); }
  bool is_inf_code(std::uint32_t code) const {
    return float_ && decode(fo_.spec(), code).kind == code_value::inf;
  }
  /// The exact value of a non-NaN code (signed; -0.0 for negative zero).
  double value_of(std::uint32_t code) const {
    if (float_) return decode(fo_.spec(), code).value;
    return static_cast<double>(int_decode(is_, code));
  }

  /// Sorted non-negative representable magnitudes (for integers: 0 .. max(|min|, max)).
  std::vector<double> magnitudes() const {
    if (float_) return fo_.magnitudes();
    std::vector<double> m;
    const long top = std::max(-is_.min(), is_.max());
    for (long k = 0; k <= top; ++k) m.push_back(static_cast<double>(k));
    return m;
  }
  /// Positive magnitudes where some rounding mode changes its result (values, midpoints,
  /// overflow thresholds), plus 0.
  std::vector<double> boundaries() const {
    if (float_) {
      std::vector<double> b = fo_.boundaries();
      if (b.front() != 0.0) b.insert(b.begin(), 0.0);
      return b;
    }
    std::vector<double> b;
    const long top = std::max(-is_.min(), is_.max()) + 2;
    for (long k = 0; k <= top; ++k) {
      b.push_back(static_cast<double>(k));
      b.push_back(static_cast<double>(k) + 0.5);
    }
    return b;
  }
  /// The exponent range (ilogb) worth sampling: a little below the smallest nonzero
  /// magnitude to a little above the overflow threshold.
  int exp_lo() const {
    if (!float_) return -4;
    const auto& m = fo_.magnitudes();
    return std::ilogb(m[0] > 0 ? m[0] : m[1]) - 4;
  }
  int exp_hi() const { return float_ ? std::ilogb(fo_.beyond_max()) + 2 : width_ + 1; }

 private:
  const char* name_;
  int width_;
  float_oracle fo_;
  bool float_;
  int_spec is_{"", 0, false};
};

}  // namespace lowp_oracle
