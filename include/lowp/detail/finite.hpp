// lowp/detail/finite.hpp — the one NaN/Inf check of lowp's public entry points, and the
// one message format for reporting what it found.
//
// Layer: bulk (standard library and config.hpp only).
//
// Every public function that takes floats it cannot quantize meaningfully (quantize,
// fake_quantize, the policies' fit/prepare, gptq, hessian_accumulator::add_batch, lorc)
// finds the first non-finite element with first_nonfinite() and reports it with
// throw_nonfinite(), so that every such error reads the same way.  (Scans that read the
// values anyway, such as the amax of a group, see a NaN/Inf for free in
// max_magnitude_bits(), and call first_nonfinite() only then.)  The message:
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

/// The bits of +Inf, 0'11111111'00000000000000000000000: a float's magnitude bits
/// (bits & 0x7FFFFFFF) are >= this exactly when the float is NaN or ±Inf.
inline constexpr std::uint32_t nonfinite_magnitude = 0x7F800000u;

/// The largest magnitude bits (bits & 0x7FFFFFFF) of x[0], x[stride], ...,
/// x[(n-1)·stride]; 0 when n == 0.  Non-negative floats are ordered as their bit patterns,
/// so bit_cast<float>() of the result is max |x_i| when every x_i is finite, and the result
/// is >= nonfinite_magnitude exactly when one of them is NaN or ±Inf.  An integer max over
/// the bits: a branch-free loop the compiler vectorizes (std::isfinite per element and a
/// float max are not).  The scan both of the amax of a group and of first_nonfinite().
inline std::uint32_t max_magnitude_bits(const float* x, std::size_t n,
                                        std::ptrdiff_t stride = 1) noexcept {
  constexpr std::uint32_t magnitude = 0x7FFFFFFFu;  // every bit but the sign
  std::uint32_t m = 0;
  if (stride == 1) {
    for (std::size_t i = 0; i < n; ++i) m = std::max(m, bit_cast<std::uint32_t>(x[i]) & magnitude);
  } else {
    for (std::size_t i = 0; i < n; ++i)
      m = std::max(m,
                   bit_cast<std::uint32_t>(x[static_cast<std::ptrdiff_t>(i) * stride]) & magnitude);
  }
  return m;
}

/// Index of the first NaN or ±Inf in x[0], x[stride], ..., x[(n-1)·stride], or n when
/// all are finite.  Scans chunks of 4096 with max_magnitude_bits(), then looks for the
/// element only in the chunk that holds one.
inline std::size_t first_nonfinite(const float* x, std::size_t n,
                                   std::ptrdiff_t stride = 1) noexcept {
  constexpr std::size_t chunk = 4096;
  for (std::size_t i0 = 0; i0 < n; i0 += chunk) {
    const std::size_t i1 = std::min(n, i0 + chunk);
    const float* xs = x + static_cast<std::ptrdiff_t>(i0) * stride;
    if (max_magnitude_bits(xs, i1 - i0, stride) >= nonfinite_magnitude) {
      for (std::size_t i = i0; i < i1; ++i)
        if (!std::isfinite(x[static_cast<std::ptrdiff_t>(i) * stride])) return i;
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

/// "index i (row r, column c)": element i of a row-major matrix with `cols` columns.
inline std::string at_index(std::size_t i, std::size_t cols) {
  const std::size_t row = cols == 0 ? 0 : i / cols, column = cols == 0 ? 0 : i % cols;
  return "index " + std::to_string(i) + " (" + at_row_column(row, column) + ")";
}

/// "row r, index i": element i of a group of values of row r.
inline std::string at_row_index(std::size_t row, std::size_t i) {
  return "row " + std::to_string(row) + ", index " + std::to_string(i);
}

/// Throws Exception with the one message format (see the top of this file):
/// "<who>: <operand> contains NaN or Inf (<NaN|+Inf|-Inf> at <where>)".
template <class Exception>
[[noreturn]] void throw_nonfinite(const char* who, const char* operand, float v,
                                  const std::string& where) {
  throw Exception(std::string(who) + ": " + operand + " contains NaN or Inf (" + nonfinite_name(v) +
                  " at " + where + ")");
}

}  // namespace lowp::detail
