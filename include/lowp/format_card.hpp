// lowp/format_card.hpp — human-readable descriptions of every format ("format cards").
//
// Layer: formats.  Includes cast.hpp.  Host only (uses iostreams).
#pragma once

#include <cstdint>
#include <iomanip>
#include <limits>
#include <ostream>
#include <sstream>
#include <string>

#include "cast.hpp"

namespace lowp {

/// The facts of a floating-point format, as numbers and codes.
struct format_info {
  const char* name;
  int total_bits, exponent_bits, mantissa_bits, bias;
  bool has_sign, has_inf, has_nan, has_subnormals, has_negative_zero;
  double max, min_normal, min_subnormal;       // min_subnormal == min_normal without subnormals
  std::uint32_t max_code, inf_code, nan_code;  // inf_code/nan_code are meaningful only if present
};

/// The card of lowp floating-point type T.
template <class T>
format_info describe() {
  static_assert(is_lowp_float_v<T>, "describe<T>() takes a lowp floating-point type");
  using Tr = typename T::traits_type;
  using L = float_layout<Tr>;
  using lim = std::numeric_limits<T>;
  format_info f{};
  f.name = Tr::name;
  f.total_bits = L::total_bits;
  f.exponent_bits = L::E;
  f.mantissa_bits = L::M;
  f.bias = Tr::bias;
  f.has_sign = Tr::has_sign;
  f.has_inf = Tr::has_inf;
  f.has_nan = Tr::nan != nan_encoding::none;
  f.has_subnormals = Tr::has_subnormals;
  f.has_negative_zero = L::has_negative_zero;
  f.max = static_cast<double>(lim::max());
  f.min_normal = static_cast<double>(lim::min());
  f.min_subnormal = static_cast<double>(lim::denorm_min());
  f.max_code = lim::max().bits();
  f.inf_code = lim::infinity().bits();
  f.nan_code = lim::quiet_NaN().bits();
  return f;
}

namespace detail {
inline std::string hex_code(std::uint32_t code, int bits) {
  std::ostringstream s;
  s << "0x" << std::hex << std::uppercase << std::setw((bits + 3) / 4) << std::setfill('0') << code;
  return s.str();
}
inline std::string binary_code(std::uint32_t code, const format_info& f) {
  std::string s;
  for (int i = f.total_bits - 1; i >= 0; --i) {
    s += ((code >> i) & 1u) ? '1' : '0';
    const bool sign_end = f.has_sign && i == f.total_bits - 1;
    const bool exp_end = i == f.mantissa_bits && f.mantissa_bits > 0;
    if ((sign_end || exp_end) && i != 0) s += '.';
  }
  return s;
}
}  // namespace detail

/// Prints the card of T: layout, range, special codes, and for formats of at most six
/// bits every code with its value.
template <class T>
void print_format_card(std::ostream& os) {
  const format_info f = describe<T>();
  const int w = f.total_bits;
  os << f.name << ": " << f.total_bits << " bits = " << (f.has_sign ? "1 sign + " : "no sign + ")
     << f.exponent_bits << " exponent + " << f.mantissa_bits << " mantissa, bias " << f.bias
     << '\n';
  os << "  max " << f.max << " (" << detail::hex_code(f.max_code, w) << ")"
     << ", min normal " << f.min_normal;
  if (f.has_subnormals)
    os << ", min subnormal " << f.min_subnormal;
  else
    os << ", no subnormals, no zero";
  os << '\n';
  os << "  Inf: " << (f.has_inf ? detail::hex_code(f.inf_code, w) : std::string("none"))
     << ", NaN: " << (f.has_nan ? detail::hex_code(f.nan_code, w) : std::string("none"))
     << ", -0: " << (f.has_negative_zero ? "yes" : "no") << '\n';
  if (f.total_bits <= 6) {
    os << "  code  bits      value\n";
    for (std::uint32_t c = 0; c < (1u << w); ++c) {
      const T v = T::from_bits(static_cast<typename T::storage_type>(c));
      os << "  " << detail::hex_code(c, w) << "  " << std::left << std::setw(9)
         << detail::binary_code(c, f) << std::right << ' ' << static_cast<float>(v) << '\n';
    }
  }
}

/// One line per format: the table the demo prints.
inline void print_format_table(std::ostream& os) {
  os << std::left << std::setw(17) << "format" << std::right << std::setw(5) << "bits"
     << std::setw(4) << "E" << std::setw(4) << "M" << std::setw(6) << "bias" << std::setw(14)
     << "max" << std::setw(14) << "min normal" << std::setw(14) << "min subnorm" << std::setw(7)
     << "Inf" << std::setw(7) << "NaN" << '\n';
  auto row = [&os](const format_info& f) {
    os << std::left << std::setw(17) << f.name << std::right << std::setw(5) << f.total_bits
       << std::setw(4) << f.exponent_bits << std::setw(4) << f.mantissa_bits << std::setw(6)
       << f.bias << std::setw(14) << std::setprecision(6) << f.max << std::setw(14) << f.min_normal
       << std::setw(14) << (f.has_subnormals ? f.min_subnormal : f.min_normal) << std::setw(7)
       << (f.has_inf ? detail::hex_code(f.inf_code, f.total_bits) : std::string("-"))
       << std::setw(7)
       << (f.has_nan ? detail::hex_code(f.nan_code, f.total_bits) : std::string("-")) << '\n';
  };
  row(describe<float8_e4m3fn>());
  row(describe<float8_e5m2>());
  row(describe<float8_e4m3fnuz>());
  row(describe<float8_e5m2fnuz>());
  row(describe<float6_e2m3fn>());
  row(describe<float6_e3m2fn>());
  row(describe<float4_e2m1fn>());
  row(describe<float8_e8m0fnu>());
  row(describe<float16>());
  row(describe<bfloat16>());
}

}  // namespace lowp
