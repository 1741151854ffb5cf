// lowp/types.hpp — the value types: FP8, FP6, FP4, E8M0, FP16, BF16 and small integers.
//
// Layer: formats.  Includes format_traits.hpp and detail/converter.hpp.
//
// One CRTP base holds the storage and every operator; each format is a few lines that
// name its traits table.  Construction from a number rounds to nearest-even and
// saturates (cast<T>(x) with the defaults; see cast.hpp for the other modes); the
// conversions to float and double are exact.
#pragma once

#include <cstdint>
#include <limits>
#include <ostream>
#include <type_traits>

#include "detail/converter.hpp"
#include "format_traits.hpp"

namespace lowp {
namespace detail {

template <class T, class = void>
struct is_lowp_float_impl : std::false_type {};
template <class T>
struct is_lowp_float_impl<T, std::void_t<decltype(T::is_lowp_float)>> : std::true_type {};
template <class T, class = void>
struct is_lowp_int_impl : std::false_type {};
template <class T>
struct is_lowp_int_impl<T, std::void_t<decltype(T::is_lowp_int)>> : std::true_type {};

}  // namespace detail

/// True for lowp's floating-point types (float8_*, float6_*, float4_*, E8M0, float16, bfloat16).
template <class T>
inline constexpr bool is_lowp_float_v = detail::is_lowp_float_impl<T>::value;
/// True for lowp's integer types (int4, uint4, int8, uint8).
template <class T>
inline constexpr bool is_lowp_int_v = detail::is_lowp_int_impl<T>::value;
/// True for every lowp value type.
template <class T>
inline constexpr bool is_lowp_type_v = is_lowp_float_v<T> || is_lowp_int_v<T>;

namespace detail {

// --- the exact intermediate of every source type -----------------------------------

LOWP_HOST_DEVICE LOWP_CONSTEXPR unpacked to_unpacked(float x) noexcept {
  return decode<traits::binary32>(bit_cast<std::uint32_t>(x));
}
LOWP_HOST_DEVICE LOWP_CONSTEXPR unpacked to_unpacked(double x) noexcept {
  return decode<traits::binary64>(bit_cast<std::uint64_t>(x));
}
template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
LOWP_HOST_DEVICE constexpr unpacked to_unpacked(T x) noexcept {
  return unpack_integral(x);
}
template <class T, std::enable_if_t<is_lowp_float_v<T>, int> = 0>
LOWP_HOST_DEVICE constexpr unpacked to_unpacked(T x) noexcept {
  return decode<typename T::traits_type>(x.bits());
}
template <class T, std::enable_if_t<is_lowp_int_v<T>, int> = 0>
LOWP_HOST_DEVICE constexpr unpacked to_unpacked(T x) noexcept {
  return decode_int<typename T::traits_type>(x.bits());
}

/// The exact value u rounded once into To (a lowp type, float or double).
template <class To>
LOWP_HOST_DEVICE LOWP_CONSTEXPR To from_unpacked(const unpacked& u, round_mode mode,
                                                 overflow policy,
                                                 std::uint32_t random_bits = 0) noexcept {
  if constexpr (std::is_same_v<To, float>) {
    return bit_cast<float>(
        static_cast<std::uint32_t>(encode<traits::binary32>(u, mode, policy, random_bits)));
  } else if constexpr (std::is_same_v<To, double>) {
    return bit_cast<double>(encode<traits::binary64>(u, mode, policy, random_bits));
  } else if constexpr (is_lowp_float_v<To>) {
    return To::from_bits(static_cast<typename To::storage_type>(
        encode<typename To::traits_type>(u, mode, policy, random_bits)));
  } else {
    static_assert(is_lowp_int_v<To>, "cast<To>: To must be a lowp type, float or double");
    return To::from_bits(static_cast<typename To::storage_type>(
        encode_int<typename To::traits_type>(u, mode, random_bits)));
  }
}

template <class T>
inline constexpr bool is_cast_source_v =
    std::is_arithmetic_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, long double>;

// --- the CRTP base of every floating-point type -------------------------------------

template <class Derived, class Traits>
class float_base {
 public:
  using traits_type = Traits;
  using storage_type = typename Traits::storage;
  using layout = float_layout<Traits>;
  static constexpr bool is_lowp_float = true;

  constexpr float_base() noexcept = default;

  /// Rounds x to nearest-even, saturating (cast<Derived>(x) with the defaults).
  template <class T, std::enable_if_t<is_cast_source_v<T>, int> = 0>
  LOWP_HOST_DEVICE LOWP_CONSTEXPR explicit float_base(T x) noexcept
      : rep_(static_cast<storage_type>(
            encode<Traits>(to_unpacked(x), round_mode::nearest_even, overflow::saturate))) {}

  /// From another lowp type, with one rounding of its exact value.
  template <class T, std::enable_if_t<is_lowp_type_v<T> && !std::is_same_v<T, Derived>, int> = 0>
  LOWP_HOST_DEVICE constexpr explicit float_base(T x) noexcept
      : rep_(static_cast<storage_type>(
            encode<Traits>(to_unpacked(x), round_mode::nearest_even, overflow::saturate))) {}

  /// The value with code `bits`; bits above the format's width are cleared.
  LOWP_HOST_DEVICE static constexpr Derived from_bits(storage_type bits) noexcept {
    Derived d;
    static_cast<float_base&>(d).rep_ =
        static_cast<storage_type>(bits & (layout::sign_mask | layout::magnitude_mask));
    return d;
  }
  LOWP_HOST_DEVICE constexpr storage_type bits() const noexcept { return rep_; }

  /// Exact.  Inf and NaN (with its payload, for IEEE-style formats) carry over.
  LOWP_HOST_DEVICE LOWP_CONSTEXPR explicit operator float() const noexcept {
    return from_unpacked<float>(decode<Traits>(rep_), round_mode::nearest_even,
                                overflow::non_saturating);
  }
  LOWP_HOST_DEVICE LOWP_CONSTEXPR explicit operator double() const noexcept {
    return from_unpacked<double>(decode<Traits>(rep_), round_mode::nearest_even,
                                 overflow::non_saturating);
  }

  /// From the code, where the format's nan_encoding puts NaN (as decode<Traits> reads it).
  LOWP_HOST_DEVICE constexpr bool is_nan() const noexcept {
    const std::uint64_t mag = rep_ & layout::magnitude_mask;
    if constexpr (Traits::nan == nan_encoding::ieee) {
      return mag > (layout::field_all_ones << layout::M);  // exponent all ones, mantissa != 0
    } else if constexpr (Traits::nan == nan_encoding::all_ones) {
      return mag == layout::magnitude_mask;
    } else if constexpr (Traits::nan == nan_encoding::negative_zero) {
      return rep_ == layout::sign_mask;
    } else {
      return false;
    }
  }
  LOWP_HOST_DEVICE constexpr bool is_inf() const noexcept {
    return decode<Traits>(rep_).kind == unpacked::inf;
  }
  LOWP_HOST_DEVICE constexpr bool is_zero() const noexcept {
    return decode<Traits>(rep_).kind == unpacked::zero;
  }

  // Unary minus flips the sign bit; it leaves zero and NaN of the fnuz formats (which
  // have no -0) alone.  An unsigned format (E8M0) converts |-x| = x: it is the identity.
  LOWP_HOST_DEVICE constexpr Derived operator-() const noexcept {
    if constexpr (!Traits::has_sign) {
      return derived();
    } else {
      if (Traits::nan == nan_encoding::negative_zero && (rep_ & layout::magnitude_mask) == 0)
        return derived();
      return from_bits(static_cast<storage_type>(rep_ ^ layout::sign_mask));
    }
  }
  LOWP_HOST_DEVICE constexpr Derived operator+() const noexcept { return derived(); }

  // Arithmetic in float, rounded once to Derived.  float has at least 2p + 2 bits for
  // every lowp format's precision p, so the double rounding is innocuous for + - * /
  // and the result is the correctly rounded one.
  LOWP_HOST_DEVICE friend LOWP_CONSTEXPR Derived operator+(Derived a, Derived b) noexcept {
    return Derived(static_cast<float>(a) + static_cast<float>(b));
  }
  LOWP_HOST_DEVICE friend LOWP_CONSTEXPR Derived operator-(Derived a, Derived b) noexcept {
    return Derived(static_cast<float>(a) - static_cast<float>(b));
  }
  LOWP_HOST_DEVICE friend LOWP_CONSTEXPR Derived operator*(Derived a, Derived b) noexcept {
    return Derived(static_cast<float>(a) * static_cast<float>(b));
  }
  LOWP_HOST_DEVICE friend LOWP_CONSTEXPR Derived operator/(Derived a, Derived b) noexcept {
    return Derived(static_cast<float>(a) / static_cast<float>(b));
  }
  LOWP_HOST_DEVICE friend LOWP_CONSTEXPR Derived& operator+=(Derived& a, Derived b) noexcept {
    return a = a + b;
  }
  LOWP_HOST_DEVICE friend LOWP_CONSTEXPR Derived& operator-=(Derived& a, Derived b) noexcept {
    return a = a - b;
  }
  LOWP_HOST_DEVICE friend LOWP_CONSTEXPR Derived& operator*=(Derived& a, Derived b) noexcept {
    return a = a * b;
  }
  LOWP_HOST_DEVICE friend LOWP_CONSTEXPR Derived& operator/=(Derived& a, Derived b) noexcept {
    return a = a / b;
  }

  // Comparisons by value, as IEEE 754 section 5.11 orders them: +0 == -0, NaN is
  // unordered (every comparison with it is false but !=).  They compare codes, as
  // ml_dtypes' float8.h does: with NaN set aside, order_key() maps each code to an
  // integer in the order of the values.  The conditions are combined with & and |, not
  // && and ||, so there is no branch on NaN: GCC 12.2 at -O2 threads jumps over such a
  // branch and then folds a caller's !(u <= v) && !(u > v) on floats to false, which
  // NaN makes true (seen in tests/test_types.cpp, which compares both).
  LOWP_HOST_DEVICE friend constexpr bool operator==(Derived a, Derived b) noexcept {
    const bool ordered = both_ordered(a, b), holds = a.order_key() == b.order_key();
    return ordered & holds;
  }
  LOWP_HOST_DEVICE friend constexpr bool operator!=(Derived a, Derived b) noexcept {
    return !(a == b);
  }
  LOWP_HOST_DEVICE friend constexpr bool operator<(Derived a, Derived b) noexcept {
    const bool ordered = both_ordered(a, b), holds = a.order_key() < b.order_key();
    return ordered & holds;
  }
  LOWP_HOST_DEVICE friend constexpr bool operator<=(Derived a, Derived b) noexcept {
    const bool ordered = both_ordered(a, b), holds = a.order_key() <= b.order_key();
    return ordered & holds;
  }
  LOWP_HOST_DEVICE friend constexpr bool operator>(Derived a, Derived b) noexcept { return b < a; }
  LOWP_HOST_DEVICE friend constexpr bool operator>=(Derived a, Derived b) noexcept {
    return b <= a;
  }

  /// Prints the value as a float (so NaN prints as the stream prints a float NaN).
  friend std::ostream& operator<<(std::ostream& os, Derived v) {
    return os << static_cast<float>(v);
  }

 private:
  LOWP_HOST_DEVICE constexpr Derived derived() const noexcept { return from_bits(rep_); }
  // Neither is NaN (IEEE 754: a and b are ordered); branch-free, see the comparisons.
  LOWP_HOST_DEVICE static constexpr bool both_ordered(Derived a, Derived b) noexcept {
    const bool nan_a = a.is_nan(), nan_b = b.is_nan();
    return !(nan_a | nan_b);
  }
  // A magnitude code orders the magnitudes (the exponent field sits above the mantissa
  // field, and Inf above every finite code), so the value order of the non-NaN codes is
  // that of the signed magnitudes: +-mag, where -0 and +0 meet at 0.  A signed format
  // without zero (no subnormals) would need -mag - 1 to keep -2^emin below +2^emin.
  LOWP_HOST_DEVICE constexpr std::int32_t order_key() const noexcept {
    static_assert(layout::E + layout::M < 31, "the magnitude fits an int32");
    const auto mag = static_cast<std::int32_t>(rep_ & layout::magnitude_mask);
    if ((rep_ & layout::sign_mask) == 0) return mag;
    return layout::has_zero ? -mag : -mag - 1;
  }
  storage_type rep_ = 0;
};

// --- the CRTP base of the integer types ---------------------------------------------

template <class Derived, class Traits>
class int_base {
 public:
  using traits_type = Traits;
  using storage_type = typename Traits::storage;
  static constexpr bool is_lowp_int = true;
  static constexpr storage_type code_mask =
      static_cast<storage_type>((std::uint32_t{1} << Traits::bits) - 1);

  constexpr int_base() noexcept = default;

  /// Rounds x to nearest-even and saturates to [min, max]; NaN gives 0.
  template <class T, std::enable_if_t<is_cast_source_v<T>, int> = 0>
  LOWP_HOST_DEVICE LOWP_CONSTEXPR explicit int_base(T x) noexcept
      : rep_(static_cast<storage_type>(
            encode_int<Traits>(to_unpacked(x), round_mode::nearest_even))) {}
  template <class T, std::enable_if_t<is_lowp_type_v<T> && !std::is_same_v<T, Derived>, int> = 0>
  LOWP_HOST_DEVICE constexpr explicit int_base(T x) noexcept
      : rep_(static_cast<storage_type>(
            encode_int<Traits>(to_unpacked(x), round_mode::nearest_even))) {}

  /// The value with two's complement code `bits` (low Traits::bits bits are used).
  LOWP_HOST_DEVICE static constexpr Derived from_bits(storage_type bits) noexcept {
    Derived d;
    static_cast<int_base&>(d).rep_ = static_cast<storage_type>(bits & code_mask);
    return d;
  }
  LOWP_HOST_DEVICE constexpr storage_type bits() const noexcept { return rep_; }

  /// The value as an int, exactly.
  LOWP_HOST_DEVICE constexpr int value() const noexcept {
    int v = static_cast<int>(rep_);
    if (Traits::is_signed && (v >> (Traits::bits - 1)) != 0) v -= 1 << Traits::bits;
    return v;
  }
  LOWP_HOST_DEVICE constexpr explicit operator int() const noexcept { return value(); }
  LOWP_HOST_DEVICE constexpr explicit operator float() const noexcept {
    return static_cast<float>(value());
  }
  LOWP_HOST_DEVICE constexpr explicit operator double() const noexcept {
    return static_cast<double>(value());
  }

  LOWP_HOST_DEVICE friend constexpr bool operator==(Derived a, Derived b) noexcept {
    return a.value() == b.value();
  }
  LOWP_HOST_DEVICE friend constexpr bool operator!=(Derived a, Derived b) noexcept {
    return a.value() != b.value();
  }
  LOWP_HOST_DEVICE friend constexpr bool operator<(Derived a, Derived b) noexcept {
    return a.value() < b.value();
  }
  LOWP_HOST_DEVICE friend constexpr bool operator<=(Derived a, Derived b) noexcept {
    return a.value() <= b.value();
  }
  LOWP_HOST_DEVICE friend constexpr bool operator>(Derived a, Derived b) noexcept {
    return a.value() > b.value();
  }
  LOWP_HOST_DEVICE friend constexpr bool operator>=(Derived a, Derived b) noexcept {
    return a.value() >= b.value();
  }
  friend std::ostream& operator<<(std::ostream& os, Derived v) { return os << v.value(); }

 private:
  storage_type rep_ = 0;
};

}  // namespace detail

// --- the formats ----------------------------------------------------------------------

/// OCP OFP8 E4M3: bias 7, max 448, NaN S.1111.111, no Inf.
struct float8_e4m3fn : detail::float_base<float8_e4m3fn, traits::float8_e4m3fn> {
  using float_base::float_base;
};
/// OCP OFP8 E5M2: bias 15, max 57344, Inf S.11111.00, NaN S.11111.{01,10,11}.
struct float8_e5m2 : detail::float_base<float8_e5m2, traits::float8_e5m2> {
  using float_base::float_base;
};
/// E4M3 "fnuz" (AMD, Graphcore): bias 8, max 240, NaN 0x80 only, no -0, no Inf.
struct float8_e4m3fnuz : detail::float_base<float8_e4m3fnuz, traits::float8_e4m3fnuz> {
  using float_base::float_base;
};
/// E5M2 "fnuz": bias 16, max 57344, NaN 0x80 only, no -0, no Inf.
struct float8_e5m2fnuz : detail::float_base<float8_e5m2fnuz, traits::float8_e5m2fnuz> {
  using float_base::float_base;
};
/// OCP MX FP6 E2M3: bias 1, max 7.5, no Inf/NaN; code in the low 6 bits.
struct float6_e2m3fn : detail::float_base<float6_e2m3fn, traits::float6_e2m3fn> {
  using float_base::float_base;
};
/// OCP MX FP6 E3M2: bias 3, max 28, no Inf/NaN; code in the low 6 bits.
struct float6_e3m2fn : detail::float_base<float6_e3m2fn, traits::float6_e3m2fn> {
  using float_base::float_base;
};
/// OCP MX FP4 E2M1: values +-{0, 0.5, 1, 1.5, 2, 3, 4, 6}, no Inf/NaN; code in the low 4 bits.
struct float4_e2m1fn : detail::float_base<float4_e2m1fn, traits::float4_e2m1fn> {
  using float_base::float_base;
};
/// OCP MX scale E8M0: 2^(code - 127), 0xFF is NaN; no sign (|x| is converted), no zero.
struct float8_e8m0fnu : detail::float_base<float8_e8m0fnu, traits::float8_e8m0fnu> {
  using float_base::float_base;
};
/// IEEE 754 binary16.
struct float16 : detail::float_base<float16, traits::float16> {
  using float_base::float_base;
};
/// bfloat16: the top half of a binary32.
struct bfloat16 : detail::float_base<bfloat16, traits::bfloat16> {
  using float_base::float_base;
};

/// Signed 4-bit integer [-8, 7], two's complement in the low nibble.
struct int4 : detail::int_base<int4, traits::int4> {
  using int_base::int_base;
};
/// Unsigned 4-bit integer [0, 15].
struct uint4 : detail::int_base<uint4, traits::uint4> {
  using int_base::int_base;
};
/// Signed 8-bit integer [-128, 127].
struct int8 : detail::int_base<int8, traits::int8> {
  using int_base::int_base;
};
/// Unsigned 8-bit integer [0, 255].
struct uint8 : detail::int_base<uint8, traits::uint8> {
  using int_base::int_base;
};

#define LOWP_CHECK_TYPE(T, size)                                               \
  static_assert(sizeof(T) == (size), #T " has the size of its storage");       \
  static_assert(std::is_trivially_copyable_v<T>, #T " is trivially copyable"); \
  static_assert(std::is_standard_layout_v<T>, #T " is standard layout")
LOWP_CHECK_TYPE(float8_e4m3fn, 1);
LOWP_CHECK_TYPE(float8_e5m2, 1);
LOWP_CHECK_TYPE(float8_e4m3fnuz, 1);
LOWP_CHECK_TYPE(float8_e5m2fnuz, 1);
LOWP_CHECK_TYPE(float6_e2m3fn, 1);
LOWP_CHECK_TYPE(float6_e3m2fn, 1);
LOWP_CHECK_TYPE(float4_e2m1fn, 1);
LOWP_CHECK_TYPE(float8_e8m0fnu, 1);
LOWP_CHECK_TYPE(float16, 2);
LOWP_CHECK_TYPE(bfloat16, 2);
LOWP_CHECK_TYPE(int4, 1);
LOWP_CHECK_TYPE(uint4, 1);
LOWP_CHECK_TYPE(int8, 1);
LOWP_CHECK_TYPE(uint8, 1);
#undef LOWP_CHECK_TYPE

namespace detail {

// std::numeric_limits for the floating types, every member computed from the traits.
template <class T>
struct float_limits {
  using Tr = typename T::traits_type;
  using L = float_layout<Tr>;

  // A power of two or small integer times one as a double, without <cmath>.
  static constexpr double value_of(std::uint64_t code) noexcept {
    const unpacked u = decode<Tr>(code);
    double v = static_cast<double>(u.sig);
    for (int i = 0; i < u.exp; ++i) v *= 2.0;
    for (int i = 0; i > u.exp; --i) v *= 0.5;
    return v;
  }
  static constexpr int floor_log10(double v) noexcept {  // v >= 1
    int n = 0;
    while (v >= 10.0) {
      v /= 10.0;
      ++n;
    }
    return n;
  }
  static constexpr int ceil_log10(double v) noexcept {  // 0 < v < 1
    int n = 0;
    while (v * 10.0 <= 1.0) {
      v *= 10.0;
      --n;
    }
    return n;
  }

  static constexpr bool is_specialized = true;
  static constexpr bool is_signed = Tr::has_sign;
  static constexpr bool is_integer = false;
  static constexpr bool is_exact = false;
  static constexpr bool has_infinity = Tr::has_inf;
  static constexpr bool has_quiet_NaN = Tr::nan != nan_encoding::none;
  static constexpr bool has_signaling_NaN = Tr::nan == nan_encoding::ieee && L::M >= 2;
  static constexpr std::float_denorm_style has_denorm =
      Tr::has_subnormals ? std::denorm_present : std::denorm_absent;
  static constexpr bool has_denorm_loss = false;
  static constexpr std::float_round_style round_style = std::round_to_nearest;
  static constexpr bool is_iec559 = false;
  static constexpr bool is_bounded = true;
  static constexpr bool is_modulo = false;
  static constexpr int digits = L::M + 1;
  // floor((digits - 1) * log10(2)) and ceil(1 + digits * log10(2)), log10(2) ~ 0.30103.
  static constexpr int digits10 = (digits - 1) * 30103 / 100000;
  static constexpr int max_digits10 = 2 + digits * 30103 / 100000;
  static constexpr int radix = 2;
  static constexpr int min_exponent = L::emin + 1;  // C convention: 2^(min_exponent-1) is normal
  static constexpr int max_exponent = L::emax + 1;
  static constexpr int min_exponent10 =
      ceil_log10(value_of(std::uint64_t{L::min_normal_field} << L::M));
  static constexpr int max_exponent10 = floor_log10(value_of(L::max_magnitude));
  static constexpr bool traps = false;
  static constexpr bool tinyness_before = false;

  static constexpr T min() noexcept {  // smallest positive normal
    return T::from_bits(
        static_cast<typename T::storage_type>(std::uint64_t{L::min_normal_field} << L::M));
  }
  static constexpr T max() noexcept {
    return T::from_bits(static_cast<typename T::storage_type>(L::max_magnitude));
  }
  static constexpr T lowest() noexcept {
    return Tr::has_sign ? T::from_bits(static_cast<typename T::storage_type>(L::sign_mask |
                                                                             L::max_magnitude))
                        : min();
  }
  static constexpr T epsilon() noexcept {  // 2^-M: the gap after 1
    unpacked u;
    u.kind = unpacked::finite;
    u.sig = 1;
    u.exp = -L::M;
    return T::from_bits(static_cast<typename T::storage_type>(
        encode<Tr>(u, round_mode::nearest_even, overflow::saturate)));
  }
  static constexpr T round_error() noexcept {  // 0.5 ulp of 1 for round-to-nearest
    unpacked u;
    u.kind = unpacked::finite;
    u.sig = 1;
    u.exp = -1;
    return T::from_bits(static_cast<typename T::storage_type>(
        encode<Tr>(u, round_mode::nearest_even, overflow::saturate)));
  }
  static constexpr T infinity() noexcept {  // only meaningful if has_infinity
    return Tr::has_inf
               ? T::from_bits(static_cast<typename T::storage_type>(L::field_all_ones << L::M))
               : T{};
  }
  static constexpr T quiet_NaN() noexcept {  // only meaningful if has_quiet_NaN
    return has_quiet_NaN
               ? T::from_bits(static_cast<typename T::storage_type>(nan_code<Tr>(false, 0)))
               : T{};
  }
  static constexpr T signaling_NaN() noexcept {  // IEEE-style: exponent all ones, mantissa 0...01
    return has_signaling_NaN ? T::from_bits(static_cast<typename T::storage_type>(
                                   (L::field_all_ones << L::M) | 1u))
                             : quiet_NaN();
  }
  static constexpr T denorm_min() noexcept { return Tr::has_subnormals ? T::from_bits(1) : min(); }
};

template <class T>
struct int_limits {
  using Tr = typename T::traits_type;
  static constexpr bool is_specialized = true;
  static constexpr bool is_signed = Tr::is_signed;
  static constexpr bool is_integer = true;
  static constexpr bool is_exact = true;
  static constexpr T from_int(std::int32_t v) noexcept {
    return T::from_bits(
        static_cast<typename T::storage_type>(static_cast<std::uint32_t>(v) & T::code_mask));
  }
  static constexpr bool has_infinity = false;
  static constexpr bool has_quiet_NaN = false;
  static constexpr bool has_signaling_NaN = false;
  static constexpr std::float_denorm_style has_denorm = std::denorm_absent;
  static constexpr bool has_denorm_loss = false;
  static constexpr std::float_round_style round_style = std::round_toward_zero;
  static constexpr bool is_iec559 = false;
  static constexpr bool is_bounded = true;
  static constexpr bool is_modulo = false;
  static constexpr int digits = Tr::bits - (Tr::is_signed ? 1 : 0);
  static constexpr int digits10 = digits * 30103 / 100000;
  static constexpr int max_digits10 = 0;
  static constexpr int radix = 2;
  static constexpr int min_exponent = 0, min_exponent10 = 0, max_exponent = 0, max_exponent10 = 0;
  static constexpr bool traps = false;
  static constexpr bool tinyness_before = false;
  static constexpr T min() noexcept { return from_int(Tr::min); }
  static constexpr T max() noexcept { return from_int(Tr::max); }
  static constexpr T lowest() noexcept { return from_int(Tr::min); }
  static constexpr T epsilon() noexcept { return T{}; }
  static constexpr T round_error() noexcept { return T{}; }
  static constexpr T infinity() noexcept { return T{}; }
  static constexpr T quiet_NaN() noexcept { return T{}; }
  static constexpr T signaling_NaN() noexcept { return T{}; }
  static constexpr T denorm_min() noexcept { return T{}; }
};

}  // namespace detail
}  // namespace lowp

namespace std {
#define LOWP_NUMERIC_LIMITS(T, Base) \
  template <>                        \
  class numeric_limits<lowp::T> : public lowp::detail::Base<lowp::T> {}
LOWP_NUMERIC_LIMITS(float8_e4m3fn, float_limits);
LOWP_NUMERIC_LIMITS(float8_e5m2, float_limits);
LOWP_NUMERIC_LIMITS(float8_e4m3fnuz, float_limits);
LOWP_NUMERIC_LIMITS(float8_e5m2fnuz, float_limits);
LOWP_NUMERIC_LIMITS(float6_e2m3fn, float_limits);
LOWP_NUMERIC_LIMITS(float6_e3m2fn, float_limits);
LOWP_NUMERIC_LIMITS(float4_e2m1fn, float_limits);
LOWP_NUMERIC_LIMITS(float8_e8m0fnu, float_limits);
LOWP_NUMERIC_LIMITS(float16, float_limits);
LOWP_NUMERIC_LIMITS(bfloat16, float_limits);
LOWP_NUMERIC_LIMITS(int4, int_limits);
LOWP_NUMERIC_LIMITS(uint4, int_limits);
LOWP_NUMERIC_LIMITS(int8, int_limits);
LOWP_NUMERIC_LIMITS(uint8, int_limits);
#undef LOWP_NUMERIC_LIMITS
}  // namespace std
