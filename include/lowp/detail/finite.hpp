// lowp/detail/finite.hpp — the one NaN/Inf check of lowp's public entry points, and the
// one message format for reporting what it found.
//
// Layer: bulk (standard library and config.hpp only).
//
// Every public function that takes floats it cannot quantize meaningfully (quantize,
// fake_quantize, the policies' fit/prepare, gptq, hessian_accumulator::add_batch, lorc)
// finds the first non-finite element with first_nonfinite() and reports it with
// throw_nonfinite(), so that every such error reads the same way:
//
//   <function>: <operand> contains NaN or Inf (<NaN|+Inf|-Inf> at <position>)
//
// e.g. "lowp::gptq: W contains NaN or Inf (NaN at row 2, column 5)".
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "../config.hpp"

namespace lowp::detail {

/// Index of the first NaN or ±Inf in x[0], x[stride], ..., x[(n-1)·stride], or n when
/// all are finite.
///
///   binary32:  s'eeeeeeee'mmmmmmmmmmmmmmmmmmmmmmm
///   non-finite  <=>  e == 0xFF  <=>  (bits & 0x7FFFFFFF) >= 0x7F800000 (+Inf's bits)
///
/// The scan takes the integer max of the magnitude bits over chunks of 4096: a
/// branch-free loop the compiler vectorizes (std::isfinite per element is not), then
/// looks for the element only in the chunk that holds one.
inline std::size_t first_nonfinite(const float* x, std::size_t n, std::ptrdiff_t stride = 1) noexcept {
  constexpr std::uint32_t inf_bits = 0x7F800000u;   // 0'11111111'00000000000000000000000
  constexpr std::uint32_t magnitude = 0x7FFFFFFFu;  // every bit but the sign
  constexpr std::size_t chunk = 4096;
  for (std::size_t i0 = 0; i0 < n; i0 += chunk) {
    const std::size_t i1 = std::min(n, i0 + chunk);
    std::uint32_t m = 0;
    if (stride == 1) {
      for (std::size_t i = i0; i < i1; ++i) m = std::max(m, bit_cast<std::uint32_t>(x[i]) & magnitude);
    } else {
      for (std::size_t i = i0; i < i1; ++i)
        m = std::max(m, bit_cast<std::uint32_t>(x[static_cast<std::ptrdiff_t>(i) * stride]) & magnitude);
    }
    if (m >= inf_bits) {
      for (std::size_t i = i0; i < i1; ++i)
        if ((bit_cast<std::uint32_t>(x[static_cast<std::ptrdiff_t>(i) * stride]) & magnitude) >= inf_bits) return i;
    }
  }
  return n;
}

/// "NaN", "+Inf" or "-Inf" for a non-finite v.
inline const char* nonfinite_name(float v) noexcept {
  return std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
}

/// "row r, column c".
inline std::string at_row_column(std::size_t row, std::size_t column) {
  return "row " + std::to_string(row) + ", column " + std::to_string(column);
}

/// Throws Exception with the one message format (see the top of this file):
/// "<who>: <operand> contains NaN or Inf (<NaN|+Inf|-Inf> at <where>)".
template <class Exception>
[[noreturn]] void throw_nonfinite(const char* who, const char* operand, float v, const std::string& where) {
  throw Exception(std::string(who) + ": " + operand + " contains NaN or Inf (" + nonfinite_name(v) + " at " +
                  where + ")");
}

}  // namespace lowp::detail
