// lowp/w4a8.hpp — a CPU linear layer Y = A · Wᵀ on packed 4-bit weights and per-token
// 8-bit activations: ZeroQuant-FP's W4A8 run for real, not simulated.
//
// Layer: quantize.  Includes quantize.hpp, shift_cast.hpp, detail/threads.hpp,
// detail/simd.hpp, detail/w4a8_avx2.hpp, detail/w4a8_avx512.hpp.
//
//   lowp::w4a8_weights W(lowp::quantize(lowp::m2<lowp::float4_e2m1fn>{}, w, out, in,
//                                       lowp::granularity::per_group(128)));
//   lowp::w4a8_activations A =
//       lowp::w4a8_activations::quantize(lowp::w4a8_activation::fp8_e4m3, x, tokens, in);
//   std::vector<float> Y = lowp::w4a8_linear(A, W);           // tokens x out
//
// An engine with its own threads prepares the call once and runs ranges of output rows
// from its threads (docs/w4a8.md, "Threads, and an engine's own"):
//
//   const lowp::w4a8_plan plan(A, W, options);                 // options.threaded = false
//   plan.run(Y.data(), {first, count});                         // on each engine thread
//
// The pairs (weights, activations):
//   FP4 E2M1 under M1 (pow2), M2 (pow2_relative) or absmax scales, with FP8 E4M3
//   activations; INT4 (symmetric absmax) with INT8 activations.  Activations are
//   quantized per token with absmax scales, as the model layer's forward pass does.
//
// Why the FP path is cheap (Wu et al. 2023, sec. 4): with M1/M2 a group's scale is the
// row's s_max times 2^-k_g, so code · 2^-k_g is an exact FP8 value (the shift cast,
// shift_cast.hpp) and an E4M3 activation times it is exact in float32 (4 × 2 significant
// bits).  A row then accumulates across all its groups with no per-group multiply, and
// s_max is applied once per output: the paper's point.  Under absmax the group scales are
// arbitrary floats and are applied per group.  The INT path accumulates each group in
// int32 exactly and applies the group's scale once.
//
// The exactness contract (docs/w4a8.md has the derivations).  Let p_i = a_i · w_i be the
// exact products of the element values (E4M3 or INT8 code value a_i, E2M1 value times
// 2^-k_g or INT4 value w_i), s_a the token's scale, and let "the reference order" be the
// order below, over the prepared column order (w4a8_weights::column_order()):
//   - M1/M2:    y = Σ_i p_i (one running float sum, fused multiply-adds),
//               Y = fl(fl(y · s_row) · s_a);
//   - absmax:   S_g = Σ_{i in g} p_i (running float sum), y = fma(S_g, s_g, y) over the
//               groups in order, Y = fl(y · s_a);
//   - INT:      acc_g = Σ_{i in g} p_i in exact integers, y = fma(float(acc_g), s_g, y)
//               over the groups in order, Y = fl(y · s_a).
//   * The portable path and the AVX2 prefill (many tokens) path compute exactly the
//     reference order: the same bits.  Every INT path also gives the same bits: its sums
//     are integers.  The FP decode paths sum in SIMD lanes, another order, and the
//     AVX-512 FP paths also in the pairs of vdpbf16ps, in the order the CPU adds them.
//   * Every FP result satisfies |Y - Y*| ≤ γ_{K+1} · s_a · Σ_i |p_i| · s_i, where Y* is the
//     exact real product of the quantized operands, s_i element i's scale (s_row·2^-k_g
//     folded: s_row for M1/M2, s_g for absmax), K the number of columns and
//     γ_n = n·u / (1 - n·u), u = 2^-24, as long as nothing overflows float.  The products
//     are exact for every shift k ≤ 126, subnormal results included (their last bit is at
//     least 2^-9 · 2^-127).
//   * The INT sums are exact while |acc_g| < 2^24, i.e. for groups of at most 16384
//     columns (|a| ≤ 128, |w| ≤ 8); w4a8_weights throws for longer groups.
//   * On data whose running sums are exact in float (small integers times powers of two,
//     power-of-two scales) every path is bit-exact with a float GEMM on the dequantized
//     operands.
//   The contract assumes the default floating-point environment (round to nearest, no
//   FTZ/DAZ); the kernel runs its threads under the caller's, as the bulk calls do.
//
// Paths: w4a8_path::portable (plain C++, the reference order); w4a8_path::avx2 (AVX2 +
// FMA); w4a8_path::avx512 (decode and prefill on AVX512-BF16's vdpbf16ps for FP4 weights,
// on AVX512-VNNI's vpdpbusd for INT4 weights; FP4 weights with an M1/M2 shift above 116
// run those rows, or that prefill, on AVX2); w4a8_path::automatic (the best this CPU has
// for the scheme).  The SIMD paths are compiled with target attributes, so they are there
// whatever -m flags the program uses, and chosen at run time from CPUID.  Forcing a path
// the CPU or compiler lacks throws std::invalid_argument.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "detail/simd.hpp"
#include "detail/threads.hpp"
#include "detail/w4a8_avx2.hpp"
#include "detail/w4a8_avx512.hpp"
#include "quantize.hpp"
#include "shift_cast.hpp"

namespace lowp {

/// The activation formats of w4a8_linear: FP8 E4M3 (with FP4 weights) or INT8 (with INT4
/// weights), quantized per token with absmax scales.
enum class w4a8_activation : std::uint8_t { fp8_e4m3, int8 };

/// "fp8_e4m3", "int8".
constexpr const char* w4a8_activation_name(w4a8_activation a) noexcept {
  return a == w4a8_activation::int8 ? "int8" : "fp8_e4m3";
}

/// The weight schemes of w4a8_linear.
enum class w4a8_scheme : std::uint8_t {
  fp4_m1,      ///< float4_e2m1fn, pow2 (M1) scales
  fp4_m2,      ///< float4_e2m1fn, pow2_relative (M2) scales
  fp4_absmax,  ///< float4_e2m1fn, absmax scales
  int4_absmax  ///< int4, absmax (symmetric) scales
};

/// "fp4_m1", "fp4_m2", "fp4_absmax", "int4_absmax".
constexpr const char* w4a8_scheme_name(w4a8_scheme s) noexcept {
  switch (s) {
    case w4a8_scheme::fp4_m1:
      return "fp4_m1";
    case w4a8_scheme::fp4_m2:
      return "fp4_m2";
    case w4a8_scheme::fp4_absmax:
      return "fp4_absmax";
    case w4a8_scheme::int4_absmax:
      break;
  }
  return "int4_absmax";
}

/// The activation format a weight scheme pairs with.
constexpr w4a8_activation w4a8_activation_for(w4a8_scheme s) noexcept {
  return s == w4a8_scheme::int4_absmax ? w4a8_activation::int8 : w4a8_activation::fp8_e4m3;
}

/// The supported pairs, for error messages.
inline constexpr const char* w4a8_supported_pairs =
    "FP4 E2M1 weights under M1 (pow2), M2 (pow2_relative) or absmax scales with FP8 E4M3 "
    "activations; INT4 weights under symmetric absmax scales with INT8 activations; "
    "granularity per_channel, per_group or per_tensor";

/// Which code runs w4a8_linear.
enum class w4a8_path : std::uint8_t {
  automatic,  ///< the best path this CPU and compiler have for the weights' scheme
  portable,   ///< plain C++: the reference order of the contract
  avx2,       ///< AVX2 + FMA (x86-64, GCC or Clang)
  /// AVX-512 F/BW with AVX512-BF16 (FP4 weights) or AVX512-VNNI (INT4 weights), and AVX2 +
  /// FMA (x86-64, GCC 10+ or Clang 9+)
  avx512
};

/// "automatic", "portable", "avx2", "avx512".
constexpr const char* w4a8_path_name(w4a8_path p) noexcept {
  switch (p) {
    case w4a8_path::portable:
      return "portable";
    case w4a8_path::avx2:
      return "avx2";
    case w4a8_path::avx512:
      return "avx512";
    case w4a8_path::automatic:
      break;
  }
  return "automatic";
}

/// True when path p can run weights of scheme s here (automatic and portable always can;
/// avx512 needs AVX512-BF16 for the FP4 schemes, AVX512-VNNI for INT4, and AVX2 + FMA).
inline bool w4a8_path_available(w4a8_path p, w4a8_scheme s) noexcept {
  switch (p) {
    case w4a8_path::avx2:
      return detail::w4a8_avx2::available();
    case w4a8_path::avx512:
      return detail::w4a8_avx2::available() &&
             (s == w4a8_scheme::int4_absmax ? detail::w4a8_avx512::vnni_available()
                                            : detail::w4a8_avx512::bf16_available());
    case w4a8_path::automatic:
    case w4a8_path::portable:
      break;
  }
  return true;
}

/// True when path p can run weights of every scheme here.
inline bool w4a8_path_available(w4a8_path p) noexcept {
  return w4a8_path_available(p, w4a8_scheme::fp4_m2) &&
         w4a8_path_available(p, w4a8_scheme::int4_absmax);
}

/// The path automatic resolves to for weights of scheme s on this machine.
inline w4a8_path w4a8_best_path(w4a8_scheme s) noexcept {
  if (w4a8_path_available(w4a8_path::avx512, s)) return w4a8_path::avx512;
  return w4a8_path_available(w4a8_path::avx2, s) ? w4a8_path::avx2 : w4a8_path::portable;
}

/// The path automatic resolves to for FP4 weights on this machine (the paper's scheme).
inline w4a8_path w4a8_best_path() noexcept {
  return w4a8_best_path(w4a8_scheme::fp4_m2);
}

/// How the FP decode (few tokens) path brings an E2M1 code and its group's shift k to the
/// multiplier.  All are exact and give the same products; they differ in cost and in the
/// summation order only (so every one meets the contract).  The portable and prefill
/// paths ignore it.
enum class w4a8_weight_cast : std::uint8_t {
  automatic,  ///< the fastest here: integer on the AVX2 decode, table on the AVX-512 one
  table,      ///< a float per weight: the 16 values of the group's k, made once by
              ///< shift_cast, then a byte lookup
  shift,      ///< a float per weight: the k = 0 table, then k subtracted from each
              ///< weight's exponent field
  integer     ///< no float per weight: 2 · E2M1 as an integer, activations as integers of
              ///< 2^-9, exact integer sums per group, 2^-k applied to each group's sum.
              ///< The AVX2 decode's kernel (the AVX-512 decode runs its AVX2 rows for it)
};

/// "automatic", "table", "shift", "integer".
constexpr const char* w4a8_weight_cast_name(w4a8_weight_cast c) noexcept {
  switch (c) {
    case w4a8_weight_cast::table:
      return "table";
    case w4a8_weight_cast::shift:
      return "shift";
    case w4a8_weight_cast::integer:
      return "integer";
    case w4a8_weight_cast::automatic:
      break;
  }
  return "automatic";
}

/// Output rows [first, first + count) of a w4a8_linear call; count = all runs to the last
/// row.  An engine with its own threads gives each thread a range (and threaded = false):
/// the ranges write disjoint entries of one Y, and every output has the bits of the call
/// over all rows.
struct w4a8_row_range {
  static constexpr std::size_t all = static_cast<std::size_t>(-1);
  std::size_t first = 0;
  std::size_t count = all;
};

/// Options of w4a8_linear.
struct w4a8_options {
  w4a8_path path = w4a8_path::automatic;
  w4a8_weight_cast weight_cast = w4a8_weight_cast::automatic;
  /// Output rows over OpenMP's threads when the work is large enough (the same bits on
  /// any thread count: each output is computed by one thread, in one order).
  bool threaded = true;
  /// Tokens from which the prefill (GEMM) path is used instead of one decode (GEMV) pass
  /// per token.  The two paths satisfy the same contract; only their order may differ.
  std::size_t gemm_min_tokens = 4;
  /// The output rows to compute (all by default).  Each call prepares the tokens'
  /// activations again: O(tokens · in), next to O(tokens · in · count) for the rows.
  w4a8_row_range rows{};
};

// =======================================================================================
// Activations
// =======================================================================================

/// Per-token quantized activations: tokens x in codes (row-major, one byte each: E4M3 or
/// INT8) and one absmax scale per token.  Made by quantize() or from_codes(); immutable.
class w4a8_activations {
 public:
  using fp8_tensor = quantized_tensor<absmax<float8_e4m3fn>>;
  using int8_tensor = quantized_tensor<absmax<int8>>;

  /// Quantizes the tokens x in row-major matrix X per token (lowp::quantize with
  /// absmax<float8_e4m3fn> or absmax<int8> and granularity::per_token()): the codes and
  /// scales whose dequantize() is fake_quantize()'s result bit for bit.  Throws
  /// std::invalid_argument for in == 0 or a null X with tokens > 0, std::domain_error
  /// naming the first NaN/Inf.  tokens == 0 gives empty activations.
  static w4a8_activations quantize(w4a8_activation format, const float* X, std::size_t tokens,
                                   std::size_t in) {
    constexpr const char* who = "lowp::w4a8_activations::quantize";
    check_shape(who, tokens, in, X != nullptr);
    w4a8_activations a;
    const granularity g = granularity::per_token();
    if (format == w4a8_activation::int8) {
      a.t_ = tokens == 0 ? int8_tensor(absmax<int8>{}, 0, in, g)
                         : lowp::quantize(absmax<int8>{}, X, tokens, in, g);
    } else {
      a.t_ = tokens == 0 ? fp8_tensor(absmax<float8_e4m3fn>{}, 0, in, g)
                         : lowp::quantize(absmax<float8_e4m3fn>{}, X, tokens, in, g);
    }
    return a;
  }

  /// Activations from an engine's buffers: tokens x in codes (row-major bytes) and one
  /// scale per token (value = scale · code value).  Throws std::invalid_argument for
  /// in == 0 or null pointers with tokens > 0; std::domain_error for a scale that is not
  /// finite or an E4M3 NaN code (0x7F, 0xFF), naming the token (and column).
  static w4a8_activations from_codes(w4a8_activation format, std::size_t tokens, std::size_t in,
                                     const std::uint8_t* codes, const float* scales) {
    constexpr const char* who = "lowp::w4a8_activations::from_codes";
    check_shape(who, tokens, in, codes != nullptr && scales != nullptr);
    for (std::size_t t = 0; t < tokens; ++t) {
      if (!std::isfinite(scales[t]))
        throw std::domain_error(std::string(who) + ": the scale of token " + std::to_string(t) +
                                " is not finite");
    }
    w4a8_activations a;
    if (format == w4a8_activation::int8) {
      std::vector<absmax<int8>::params> p(tokens);
      for (std::size_t t = 0; t < tokens; ++t) p[t].scale = scales[t];
      a.t_ = int8_tensor::from_codes(absmax<int8>{}, tokens, in, granularity::per_token(), codes,
                                     std::move(p));
    } else {
      for (std::size_t i = 0; i < tokens * in; ++i) {
        if ((codes[i] & 0x7Fu) == 0x7Fu)
          throw std::domain_error(std::string(who) + ": E4M3 code 0x" +
                                  (codes[i] == 0xFF ? std::string("FF") : std::string("7F")) +
                                  " (NaN) at token " + std::to_string(i / in) + ", column " +
                                  std::to_string(i % in));
      }
      std::vector<absmax<float8_e4m3fn>::params> p(tokens);
      for (std::size_t t = 0; t < tokens; ++t) p[t].scale = scales[t];
      a.t_ = fp8_tensor::from_codes(absmax<float8_e4m3fn>{}, tokens, in, granularity::per_token(),
                                    codes, std::move(p));
    }
    return a;
  }

  w4a8_activation format() const noexcept {
    return t_.index() == 1 ? w4a8_activation::int8 : w4a8_activation::fp8_e4m3;
  }
  std::size_t tokens() const noexcept {
    return std::visit([](const auto& t) { return t.rows(); }, t_);
  }
  std::size_t in() const noexcept {
    return std::visit([](const auto& t) { return t.cols(); }, t_);
  }
  /// The code bytes, tokens x in, row-major (E4M3 or two's complement INT8).
  const std::uint8_t* codes() const noexcept {
    return std::visit([](const auto& q) { return q.code_bytes(); }, t_);
  }
  /// The code byte of token t, column c.  Unchecked.
  std::uint8_t code(std::size_t t, std::size_t c) const noexcept {
    return std::visit([&](const auto& q) { return static_cast<std::uint8_t>(q.code(t, c)); }, t_);
  }
  /// The scale of token t.  Unchecked.
  float scale(std::size_t t) const noexcept {
    return std::visit([&](const auto& q) { return q.params()[t].scale; }, t_);
  }
  /// The dequantized activations (tokens x in, row-major) into out: scale · code value, bit
  /// for bit fake_quantize()'s result for quantize()'s activations.
  void dequantize(float* out) const {
    std::visit([&](const auto& q) { q.dequantize(out); }, t_);
  }
  /// The underlying tensor (fp8_tensor or int8_tensor).
  const std::variant<fp8_tensor, int8_tensor>& tensor() const noexcept { return t_; }

 private:
  static void check_shape(const char* who, std::size_t tokens, std::size_t in, bool pointers) {
    if (in == 0) throw std::invalid_argument(std::string(who) + ": in = 0 columns");
    if (tokens > 0 && !pointers)
      throw std::invalid_argument(std::string(who) + ": null pointer with " +
                                  std::to_string(tokens) + " tokens");
  }

  std::variant<fp8_tensor, int8_tensor> t_;
};

namespace detail {

// The 16 weight values of a group as bfloat16 bit patterns: E2M1 value · 2^-k (exact:
// shift_cast<bfloat16> is exact for k ≤ 132) or the INT4 value.
inline w4a8_avx2::bf16_table w4a8_weight_table(bool int4_weights, unsigned k) noexcept {
  w4a8_avx2::bf16_table t{};
  for (unsigned c = 0; c < 16; ++c) {
    const auto code = static_cast<std::uint8_t>(c);
    t[c] = int4_weights
               ? bfloat16(static_cast<float>(static_cast<int>(int4::from_bits(code)))).bits()
               : shift_cast<bfloat16>(float4_e2m1fn::from_bits(code), -static_cast<int>(k)).bits();
  }
  return t;
}

// The weight tables: one per shift k (E2M1 · 2^-k), or the INT4 values; as bfloat16
// bits, as pshufb byte tables, as vpermw tables, as floats.
struct w4a8_tables {
  std::vector<w4a8_avx2::bf16_table> bf16;
  std::vector<w4a8_avx2::split_table> split;
  std::vector<w4a8_avx512::bf16_table32> wide;
  std::vector<std::array<float, 16>> values;

  w4a8_tables() = default;
  /// For INT4 weights (one table) or E2M1 weights (one per shift k ≤ max_shift).
  w4a8_tables(bool int4, unsigned max_shift) {
    const std::size_t n = int4 ? 1 : std::size_t{max_shift} + 1;
    for (std::size_t k = 0; k < n; ++k) {
      bf16.push_back(w4a8_weight_table(int4, static_cast<unsigned>(k)));
      split.push_back(w4a8_avx2::split(bf16.back()));
      w4a8_avx512::bf16_table32 w{};
      std::copy(bf16.back().begin(), bf16.back().end(), w.begin());
      wide.push_back(w);
      std::array<float, 16> v{};
      for (std::size_t c = 0; c < 16; ++c)
        v[c] = static_cast<float>(bfloat16::from_bits(bf16.back()[c]));
      values.push_back(v);
    }
  }
};

}  // namespace detail

// =======================================================================================
// Weights
// =======================================================================================

/// Weights prepared for w4a8_linear (an engine's load-time repack): out x in codes of a
/// quantized_tensor with packed 4-bit codes, regrouped so that each group's columns are
/// contiguous (a group index, AutoGPTQ's g_idx, is honoured) and padded with zero codes to
/// a multiple of 64 columns, plus the scales in the kernel's form: per row s_row and a
/// shift k per group (M1, M2) or a float scale per group (absmax).
class w4a8_weights {
 public:
  /// Columns per SIMD block: a group is padded to a multiple of this.
  static constexpr std::size_t block = 64;

  w4a8_weights() = default;

  /// Prepares W.  Policy: pow2<float4_e2m1fn> (M1), pow2_relative<float4_e2m1fn> (M2),
  /// absmax<float4_e2m1fn> or absmax<int4> (anything else fails to compile, naming the
  /// supported pairs).  Throws std::invalid_argument for an empty W, granularity per_block,
  /// an INT4 group longer than 16384 columns (its int32 sums would not convert to float
  /// exactly), an M1 row whose group scales span more than 2^126, or an M2 shift above 126
  /// (from_codes tensors); std::domain_error for a scale that is not finite, an M1 scale
  /// that is not a power of two, or a negative scale, naming the row and group.
  template <class Policy>
  explicit w4a8_weights(const quantized_tensor<Policy>& W) {
    constexpr const char* who = "lowp::w4a8_weights";
    constexpr bool m1 = std::is_same_v<Policy, pow2<float4_e2m1fn>>;
    constexpr bool m2 = std::is_same_v<Policy, pow2_relative<float4_e2m1fn>>;
    constexpr bool fp_absmax = std::is_same_v<Policy, absmax<float4_e2m1fn>>;
    constexpr bool int_absmax = std::is_same_v<Policy, absmax<int4>>;
    static_assert(m1 || m2 || fp_absmax || int_absmax,
                  "lowp::w4a8_weights: supported pairs are FP4 E2M1 weights under pow2 (M1), "
                  "pow2_relative (M2) or absmax scales, and INT4 weights under absmax scales");
    scheme_ = m1          ? w4a8_scheme::fp4_m1
              : m2        ? w4a8_scheme::fp4_m2
              : fp_absmax ? w4a8_scheme::fp4_absmax
                          : w4a8_scheme::int4_absmax;
    out_ = W.rows();
    in_ = W.cols();
    if (W.empty())
      throw std::invalid_argument(std::string(who) + ": an empty " + std::to_string(out_) + "x" +
                                  std::to_string(in_) + " weight");
    if (W.gran().type() == granularity::kind::per_block)
      throw std::invalid_argument(std::string(who) + ": granularity per_block is not supported (" +
                                  w4a8_supported_pairs + ")");
    const bool per_tensor = W.gran().type() == granularity::kind::per_tensor;
    groups_ = per_tensor ? 1 : W.groups_per_row();
    layout_columns(W, per_tensor);
    if (int_absmax) {
      for (std::size_t j = 0; j < groups_; ++j) {
        if (seg_begin_[j + 1] - seg_begin_[j] > max_int_group)
          throw std::invalid_argument(std::string(who) + ": an INT4 group of " +
                                      std::to_string(seg_begin_[j + 1] - seg_begin_[j]) +
                                      " columns (padded), above " + std::to_string(max_int_group) +
                                      ": its int32 sums would not convert exactly");
      }
    }
    // The scales in the kernel's form.
    const auto params_of = [&](std::size_t r, std::size_t j) -> const typename Policy::params& {
      return per_tensor ? W.params()[0] : W.group_params(r, j);
    };
    const auto bad_scale = [&](const char* what, std::size_t r, std::size_t j) {
      throw std::domain_error(std::string(who) + ": " + what + " at row " + std::to_string(r) +
                              ", group " + std::to_string(j));
    };
    if constexpr (m1 || m2) {
      row_scale_.resize(out_);
      shift_.resize(out_ * groups_);
      for (std::size_t r = 0; r < out_; ++r) {
        if constexpr (m2) {
          const float smax = params_of(r, 0).scale_max;
          if (!std::isfinite(smax) || !(smax > 0.0f)) bad_scale("s_max not finite and > 0", r, 0);
          row_scale_[r] = smax;
          for (std::size_t j = 0; j < groups_; ++j) {
            const auto& p = params_of(r, j);
            if (p.scale_max != smax) bad_scale("s_max differs from the row's", r, j);
            if (p.shift > max_shift)
              throw std::invalid_argument(std::string(who) + ": shift " + std::to_string(p.shift) +
                                          " above " + std::to_string(max_shift) + " at row " +
                                          std::to_string(r) + ", group " + std::to_string(j));
            shift_[r * groups_ + j] = p.shift;
          }
        } else {  // M1: s_row = the row's largest 2^e, k_g = e_row - e_g
          int e_max = std::numeric_limits<int>::min();
          std::vector<int> e(groups_);
          for (std::size_t j = 0; j < groups_; ++j) {
            const float s = params_of(r, j).scale;
            if (!std::isfinite(s) || !(s > 0.0f)) bad_scale("scale not finite and > 0", r, j);
            int ex = 0;
            if (std::frexp(s, &ex) != 0.5f) bad_scale("M1 scale not a power of two", r, j);
            e[j] = ex - 1;
            e_max = std::max(e_max, e[j]);
          }
          row_scale_[r] = std::ldexp(1.0f, e_max);
          for (std::size_t j = 0; j < groups_; ++j) {
            const int k = e_max - e[j];
            if (k > static_cast<int>(max_shift))
              throw std::invalid_argument(std::string(who) + ": the M1 scales of row " +
                                          std::to_string(r) + " span 2^" + std::to_string(k) +
                                          ", above 2^" + std::to_string(max_shift));
            shift_[r * groups_ + j] = static_cast<std::uint8_t>(k);
          }
        }
      }
    } else {
      group_scale_.resize(out_ * groups_);
      for (std::size_t r = 0; r < out_; ++r) {
        for (std::size_t j = 0; j < groups_; ++j) {
          const float s = params_of(r, j).scale;
          if (!std::isfinite(s)) bad_scale("scale not finite", r, j);
          if (s < 0.0f) bad_scale("negative scale", r, j);
          group_scale_[r * groups_ + j] = s;
        }
      }
    }
    unsigned top = 0;
    for (const std::uint8_t k : shift_) top = std::max<unsigned>(top, k);
    largest_shift_ = top;
    tables_ = detail::w4a8_tables(int_absmax, top);
    // The codes, regrouped and padded, in storage order (see column_order()).
    codes_.assign(out_ * kp_ / 2, 0);
    for (std::size_t r = 0; r < out_; ++r) {
      std::uint8_t* row = codes_.data() + r * (kp_ / 2);
      for (std::size_t s = 0; s < kp_; ++s) {
        const std::int32_t c = storage_col_[s];
        if (c < 0) continue;
        const unsigned code = static_cast<unsigned>(W.code(r, static_cast<std::size_t>(c))) & 0xFu;
        row[s / 2] = static_cast<std::uint8_t>(row[s / 2] | (code << (4 * (s % 2))));
      }
    }
  }

  w4a8_scheme scheme() const noexcept { return scheme_; }
  /// The activation format this scheme multiplies.
  w4a8_activation activation() const noexcept { return w4a8_activation_for(scheme_); }
  std::size_t out() const noexcept { return out_; }
  std::size_t in() const noexcept { return in_; }
  /// Columns after padding each group to a multiple of `block`.
  std::size_t padded_in() const noexcept { return kp_; }
  std::size_t groups() const noexcept { return groups_; }
  /// Bytes of codes and scales the kernel reads per call (the GEMV roofline's bytes).
  std::size_t bytes() const noexcept {
    return codes_.size() + shift_.size() + row_scale_.size() * sizeof(float) +
           group_scale_.size() * sizeof(float);
  }
  /// The original column at each position of the reference order (-1: padding).
  const std::vector<std::int32_t>& column_order() const noexcept { return compute_col_; }

  // ---- For the kernels (raw access) ----
  const std::uint8_t* row_codes(std::size_t r) const noexcept {
    return codes_.data() + r * (kp_ / 2);
  }
  /// Start of group j in the reference order (j = groups() gives padded_in()).
  std::size_t group_begin(std::size_t j) const noexcept { return seg_begin_[j]; }
  std::uint8_t shift(std::size_t r, std::size_t j) const noexcept {
    return shift_[r * groups_ + j];
  }
  float row_scale(std::size_t r) const noexcept { return row_scale_[r]; }
  float group_scale(std::size_t r, std::size_t j) const noexcept {
    return group_scale_[r * groups_ + j];
  }
  bool has_group_scales() const noexcept { return !group_scale_.empty(); }
  /// The largest M1/M2 shift k of any group (0 for absmax).
  unsigned largest_shift() const noexcept { return largest_shift_; }
  /// Row r's shifts (G of them; M1/M2 only) and group scales (absmax only).
  const std::uint8_t* shifts_of(std::size_t r) const noexcept {
    return shift_.data() + r * groups_;
  }
  const float* group_scales_of(std::size_t r) const noexcept {
    return group_scale_.data() + r * groups_;
  }
  /// The 16 weight values per shift k (or the INT4 values), made once here.
  const detail::w4a8_tables& tables() const noexcept { return tables_; }
  /// The original column at storage position s (-1: padding).
  const std::vector<std::int32_t>& storage_columns() const noexcept { return storage_col_; }

  /// Largest M1/M2 shift the kernel takes: every E2M1 value times 2^-126 is a float.
  static constexpr unsigned max_shift = 126;
  /// Longest INT4 group (padded): |acc| ≤ 16384 · 128 · 8 = 2^24.
  static constexpr std::size_t max_int_group = 16384;

 private:
  // Groups in order, each group's columns ascending, padded to `block`; then inside each
  // block of 64 the SIMD decode's order (detail::w4a8_block_position).
  template <class Policy>
  void layout_columns(const quantized_tensor<Policy>& W, bool per_tensor) {
    std::vector<std::vector<std::int32_t>> members(groups_);
    for (std::size_t c = 0; c < in_; ++c) {
      const std::size_t j = per_tensor ? 0 : W.group_of_column(c);
      members[j].push_back(static_cast<std::int32_t>(c));
    }
    seg_begin_.assign(groups_ + 1, 0);
    for (std::size_t j = 0; j < groups_; ++j) {
      const std::size_t n = (members[j].size() + block - 1) / block * block;
      seg_begin_[j + 1] = seg_begin_[j] + n;
    }
    kp_ = seg_begin_[groups_];
    compute_col_.assign(kp_, -1);
    storage_col_.assign(kp_, -1);
    for (std::size_t j = 0; j < groups_; ++j) {
      for (std::size_t i = 0; i < members[j].size(); ++i) {
        const std::size_t q = seg_begin_[j] + i;
        compute_col_[q] = members[j][i];
        storage_col_[q / block * block + detail::w4a8_block_position(q % block)] = members[j][i];
      }
    }
  }

  w4a8_scheme scheme_ = w4a8_scheme::fp4_m2;
  std::size_t out_ = 0, in_ = 0, kp_ = 0, groups_ = 0;
  std::vector<std::size_t> seg_begin_;
  std::vector<std::int32_t> compute_col_, storage_col_;
  std::vector<std::uint8_t> codes_;
  std::vector<std::uint8_t> shift_;
  std::vector<float> row_scale_, group_scale_;
  unsigned largest_shift_ = 0;
  detail::w4a8_tables tables_;
};

namespace detail {

// The value of every activation code byte (E4M3 or INT8), made once per call.
struct w4a8_code_values {
  std::array<float, 256> v{};
  explicit w4a8_code_values(w4a8_activation f) noexcept {
    for (unsigned c = 0; c < 256; ++c) {
      const auto b = static_cast<std::uint8_t>(c);
      v[c] = f == w4a8_activation::int8 ? static_cast<float>(static_cast<std::int8_t>(b))
                                        : static_cast<float>(float8_e4m3fn::from_bits(b));
    }
  }
};

// The activation values of token t in the reference order (zeros in the padding), written
// to out[q · stride].
inline void w4a8_gather_floats(const w4a8_activations& A, const w4a8_weights& W,
                               const w4a8_code_values& values, std::size_t t, float* out,
                               std::size_t stride = 1) {
  const std::vector<std::int32_t>& col = W.column_order();
  const std::uint8_t* codes = A.codes() + t * A.in();
  for (std::size_t q = 0; q < col.size(); ++q)
    out[q * stride] = col[q] < 0 ? 0.0f : values.v[codes[static_cast<std::size_t>(col[q])]];
}

// The weight code of row r at reference position q.
inline unsigned w4a8_code_at(const w4a8_weights& W, std::size_t r, std::size_t q) noexcept {
  const std::size_t s =
      q / w4a8_weights::block * w4a8_weights::block + w4a8_block_position(q % w4a8_weights::block);
  return (W.row_codes(r)[s / 2] >> (4 * (s % 2))) & 0xFu;
}

// Y for token t, row r, from y (the sum before scales): the contract's last step.
inline float w4a8_finish(const w4a8_weights& W, std::size_t r, float y, float sa) noexcept {
  return W.has_group_scales() ? y * sa : (y * W.row_scale(r)) * sa;
}

// Calls f(r0, n) for chunks of at most `chunk` rows of opt.rows (count resolved by
// w4a8_linear), with for_each_chunk_as_caller's threading for `elements` per row.
template <class F>
inline void w4a8_for_rows(const w4a8_options& opt, std::size_t chunk, std::size_t elements, F&& f) {
  for_each_chunk_as_caller(
      opt.rows.count, chunk, [&](std::size_t c0, std::size_t n) { f(opt.rows.first + c0, n); },
      elements, opt.threaded);
}

// One call's tokens laid out for W's kernel (made once), and the rows over them: the
// paths below, each a class whose constructor prepares and whose run() computes rows
// opt.rows (resolved) into Y.  run() is const and reads only what the constructor made, so
// threads may run disjoint ranges at once.  A and W are kept by reference.
struct w4a8_prepared {
  virtual ~w4a8_prepared() = default;
  virtual void run(float* Y, const w4a8_options& opt) const = 0;
};

// The portable path: the contract's reference order, one output at a time.
class w4a8_portable final : public w4a8_prepared {
 public:
  // Nothing to prepare once: run() gathers each token as it goes (O(in) per token and
  // call, next to O(in · rows)), so that a long prompt costs no buffer of its size.
  w4a8_portable(const w4a8_activations& A, const w4a8_weights& W) : A_(A), W_(W) {}

  void run(float* Y, const w4a8_options& opt) const override {
    const w4a8_activations& A = A_;
    const w4a8_weights& W = W_;
    const std::size_t kp = W.padded_in(), G = W.groups(), out = W.out();
    const bool int_path = W.scheme() == w4a8_scheme::int4_absmax;
    const w4a8_tables& tables = W.tables();
    const w4a8_code_values values(A.format());
    std::vector<float> x(kp);
    for (std::size_t t = 0; t < A.tokens(); ++t) {
      w4a8_gather_floats(A, W, values, t, x.data());
      const float sa = A.scale(t);
      w4a8_for_rows(opt, 16, kp, [&](std::size_t r0, std::size_t n) {
        for (std::size_t r = r0; r < r0 + n; ++r) {
          float y = 0.0f;
          for (std::size_t j = 0; j < G; ++j) {
            const std::array<float, 16>& w =
                tables.values[W.has_group_scales() ? 0 : W.shift(r, j)];
            const std::size_t q0 = W.group_begin(j), q1 = W.group_begin(j + 1);
            if (int_path) {
              std::int32_t acc = 0;
              for (std::size_t q = q0; q < q1; ++q)
                acc += static_cast<std::int32_t>(x[q]) *
                       static_cast<std::int32_t>(w[w4a8_code_at(W, r, q)]);
              y = std::fma(static_cast<float>(acc), W.group_scale(r, j), y);
            } else if (W.has_group_scales()) {
              float s = 0.0f;
              for (std::size_t q = q0; q < q1; ++q) s = std::fma(x[q], w[w4a8_code_at(W, r, q)], s);
              y = std::fma(s, W.group_scale(r, j), y);
            } else {
              for (std::size_t q = q0; q < q1; ++q) y = std::fma(x[q], w[w4a8_code_at(W, r, q)], y);
            }
          }
          Y[t * out + r] = w4a8_finish(W, r, y, sa);
        }
      });
    }
  }

 private:
  const w4a8_activations& A_;
  const w4a8_weights& W_;
};

// The AVX2 integer FP decode looks for two-plane pieces (w4a8_integer_activations) where
// the rows its preparation serves (a w4a8_linear call's range, or all of a plan's rows)
// come to at least this many per thread.
inline constexpr std::size_t w4a8_two_plane_min_rows = 512;

#if defined(LOWP_W4A8_AVX2)

// The integer FP rows' tables (w4a8_avx2::fp_row_integer), made once per activation
// format.  Per code c: A = its value · 2^9, an integer (E4M3's last bit is ≥ 2^-9; INT8),
// and for every t ≤ max_t the balanced base-256 digits of X = A / 2^t, d0 + 256 · d1 +
// 65536 · d2 with |d0|, |d1| ≤ 128 (truncated where 2^t does not divide A: never read).
// Per shift k: 2^-(10+k), exact (subnormal above 116); per t, the lift 2^t.
struct w4a8_integer_codes {
  // The most trailing zeros a nonzero A has: E4M3's 256 = 1.0 · 2^8 gives 2^17.
  static constexpr int max_t = 17;
  std::array<std::int32_t, 256> value{};
  std::array<std::array<std::uint32_t, 256>, max_t + 1> digits{};  // bytes d0, d1, d2
  std::array<float, w4a8_weights::max_shift + 1> unit{};
  std::array<float, max_t + 1> lift{};         // 2^t
  std::array<std::uint32_t, 256> magnitude{};  // |A|, for the search for two-plane pieces

  explicit w4a8_integer_codes(w4a8_activation f) {
    const w4a8_code_values v(f);
    for (int t = 0; t <= max_t; ++t) lift[static_cast<std::size_t>(t)] = std::ldexp(1.0f, t);
    for (std::size_t c = 0; c < 256; ++c) {
      // E4M3's NaN codes (which w4a8_activations refuses) get 0 rather than a NaN cast.
      const auto a = std::isnan(v.v[c]) ? 0 : static_cast<std::int32_t>(v.v[c] * 512.0f);
      value[c] = a;
      magnitude[c] = static_cast<std::uint32_t>(a < 0 ? -a : a);
      for (int t = 0; t <= max_t; ++t) {
        const std::int32_t x = a / (std::int32_t{1} << t);
        const std::int32_t d0 = ((x + 128) & 255) - 128, x1 = (x - d0) / 256;
        const std::int32_t d1 = ((x1 + 128) & 255) - 128, d2 = (x1 - d1) / 256;
        digits[static_cast<std::size_t>(t)][c] = (static_cast<std::uint32_t>(d0) & 0xFFu) |
                                                 (static_cast<std::uint32_t>(d1) & 0xFFu) << 8 |
                                                 (static_cast<std::uint32_t>(d2) & 0xFFu) << 16;
      }
    }
    for (std::size_t k = 0; k < unit.size(); ++k)
      unit[k] = std::ldexp(1.0f, -10 - static_cast<int>(k));
  }
  static const w4a8_integer_codes& of(w4a8_activation f) {
    static const w4a8_integer_codes e4m3(w4a8_activation::fp8_e4m3), i8(w4a8_activation::int8);
    return f == w4a8_activation::int8 ? i8 : e4m3;
  }
};

// One token's activations for the integer FP rows, piece by piece (w4a8_avx2::
// fp_row_integer): the digit planes of X = A / 2^t, the split (planes, 2^t), and the
// eight bias lanes 12 · Σ X.  With TryTwo, t is the trailing zeros every |A| of the
// piece shares, and the piece gets two planes where max |X| ≤ 32639 = 127 + 256 · 127;
// otherwise three with t = 0.  Block b's codes are in storage order (code 0, value 0, in
// the padding); its storage position e goes to byte (e % 2) · 32 + e / 2 of each digit
// plane, and its bias share to int32 lane e / 8 of the piece's.  (Local arrays: byte
// stores into them cannot alias the tables, so the loops keep their pointers in
// registers.)
template <bool TryTwo>
inline void w4a8_integer_activations(const std::uint8_t* codes,
                                     const std::vector<std::int32_t>& storage,
                                     const std::vector<w4a8_avx2::integer_piece>& pieces,
                                     const w4a8_integer_codes& icodes, std::int8_t* digits,
                                     w4a8_avx2::integer_split* splits, std::int32_t* bias) {
  constexpr std::uint32_t two_plane_max = 127 + 256 * 127;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const w4a8_avx2::integer_piece pc = pieces[i];
    const std::size_t n = 64 * static_cast<std::size_t>(pc.blocks);
    std::uint8_t cb[128];
    const std::int32_t* stored = storage.data() + 64 * static_cast<std::size_t>(pc.block);
    for (std::size_t e = 0; e < n; ++e) {
      const std::int32_t c = stored[e];
      cb[e] = c < 0 ? std::uint8_t{0} : codes[static_cast<std::size_t>(c)];
    }
    // t: the trailing zeros all |A| share; top: the largest |A| (all ones: none sought).
    // Four independent chains of or / max, as one would be bound by its latency.
    unsigned t = 0;
    std::uint32_t top = ~0u;
    if constexpr (TryTwo) {
      std::uint32_t bits[4] = {}, most[4] = {};
      for (std::size_t e = 0; e < n; e += 4) {
        LOWP_W4A8_UNROLL(4)
        for (std::size_t j = 0; j < 4; ++j) {
          const std::uint32_t m = icodes.magnitude[cb[e + j]];
          bits[j] |= m;
          most[j] = std::max(most[j], m);
        }
      }
      const std::uint32_t all = bits[0] | bits[1] | bits[2] | bits[3];
      while (all != 0 && ((all >> t) & 1u) == 0) ++t;
      top = std::max(std::max(most[0], most[1]), std::max(most[2], most[3]));
    }
    const bool two = (top >> t) <= two_plane_max;
    if (!two) t = 0;
    // (t ≤ max_t: a nonzero |A| < 2^18 has at most 17 trailing zeros.)
    splits[i] = {icodes.lift[static_cast<std::size_t>(t)], two ? 2u : 3u};
    const std::uint32_t* dt = icodes.digits[static_cast<std::size_t>(t)].data();
    for (std::uint32_t blk = 0; blk < pc.blocks; ++blk) {
      const std::uint8_t* cbk = cb + 64 * blk;
      std::int8_t plane[3][64];
      for (std::size_t l = 0; l < 8; ++l) {
        std::int32_t lane = 0;  // Σ A over the lane's 8 positions
        LOWP_W4A8_UNROLL(4)
        for (std::size_t j = 0; j < 4; ++j) {  // positions e = 8l + 2j (even), e + 1 (odd)
          const std::uint8_t ce = cbk[8 * l + 2 * j], co = cbk[8 * l + 2 * j + 1];
          const std::uint32_t de = dt[ce], d_o = dt[co];
          const std::size_t at = 4 * l + j;
          plane[0][at] = static_cast<std::int8_t>(de);
          plane[0][at + 32] = static_cast<std::int8_t>(d_o);
          plane[1][at] = static_cast<std::int8_t>(de >> 8);
          plane[1][at + 32] = static_cast<std::int8_t>(d_o >> 8);
          plane[2][at] = static_cast<std::int8_t>(de >> 16);
          plane[2][at + 32] = static_cast<std::int8_t>(d_o >> 16);
          lane += icodes.value[ce] + icodes.value[co];
        }
        // Σ X = Σ A / 2^t, exact: 2^t divides every A.
        bias[8 * i + l] += 12 * (lane < 0 ? -(-lane >> t) : lane >> t);
      }
      std::memcpy(digits + 192 * (static_cast<std::size_t>(pc.block) + blk), plane, sizeof plane);
    }
  }
}

// The integer FP rows' pieces (w4a8_avx2::integer_piece): each group in runs of at most
// two blocks, in order (groups are whole blocks).
inline std::vector<w4a8_avx2::integer_piece> w4a8_integer_pieces(const w4a8_weights& W) {
  constexpr std::size_t B = w4a8_weights::block;
  std::vector<w4a8_avx2::integer_piece> pieces;
  for (std::size_t j = 0; j < W.groups(); ++j)
    for (std::size_t b = W.group_begin(j) / B; b < W.group_begin(j + 1) / B; b += 2)
      pieces.push_back(
          {static_cast<std::uint32_t>(b),
           static_cast<std::uint32_t>(std::min<std::size_t>(2, W.group_begin(j + 1) / B - b)),
           static_cast<std::uint32_t>(j)});
  return pieces;
}

// The decode path (few tokens): one pass over the weights per token, with the AVX2 rows,
// or with avx512 the vdpbf16ps (FP) and vpdpbusd (INT) rows.  There an FP row with a shift
// above w4a8_avx512::max_shift runs the AVX2 row (bfloat16 denormals would read as zero).
// The FP rows take opt.weight_cast (automatic: integer on AVX2, table on AVX-512; integer
// runs the AVX2 integer rows on either).  The activations per token: floats in the
// reference order (AVX2 float FP rows); two or three digit planes per piece and the
// pieces' biases (integer FP rows, fp_row_integer); bfloat16 in fp_position order (AVX-512 FP
// rows); INT8 codes per block of 64 as [even, odd storage positions] (AVX2) or in storage order
// (AVX-512), and each group's code sum.
template <bool avx512>
class w4a8_simd_decode final : public w4a8_prepared {
 public:
  // rows: how many rows the runs will take per call (for the two-plane search's cost).
  w4a8_simd_decode(const w4a8_activations& A, const w4a8_weights& W, const w4a8_options& opt,
                   std::size_t rows)
      : A_(A), W_(W), icodes_(w4a8_integer_codes::of(A.format())) {
    const std::size_t kp = W.padded_in(), G = W.groups(), T = A.tokens();
    int_path_ = W.scheme() == w4a8_scheme::int4_absmax;
    cast_ = opt.weight_cast != w4a8_weight_cast::automatic ? opt.weight_cast
            : avx512                                       ? w4a8_weight_cast::table
                                                           : w4a8_weight_cast::integer;
    integer_rows_ = !int_path_ && cast_ == w4a8_weight_cast::integer;
    bf16_ = avx512 && !int_path_ && !integer_rows_;
    avx2_fp_rows_ =
        !int_path_ && !integer_rows_ && (!avx512 || W.largest_shift() > w4a8_avx512::max_shift);
    seg_.resize(G + 1);
    for (std::size_t j = 0; j <= G; ++j) seg_[j] = W.group_begin(j);
    if (integer_rows_) pieces_ = w4a8_integer_pieces(W);
    const std::size_t P = pieces_.size();
    for (std::size_t i = 0; i < P; ++i)
      pairs_ =
          pairs_ && pieces_[i].block == 2 * i && pieces_[i].blocks == 2 && pieces_[i].group == i;
    // Looking for two-plane pieces costs about 0.7 ns per column and token, on the calling
    // thread, and saves about 1.1 ns per row for each piece found, shared by the threads:
    // it pays from a few hundred rows per thread on (w4a8_two_plane_min_rows).
    const bool try_two = rows >= w4a8_two_plane_min_rows * chunk_threads(opt.threaded);
    digits_.resize(integer_rows_ ? T * (kp / w4a8_weights::block * 192) : 0);
    splits_.resize(T * P);
    bias_.assign(T * P * 8, 0);
    x_.resize(avx2_fp_rows_ ? T * kp : 0);
    xb_.resize(bf16_ ? T * kp : 0);
    xi_.resize(int_path_ ? T * kp : 0);
    asum_.resize(int_path_ ? T * G : 0);
    const std::vector<std::int32_t>& storage = W.storage_columns();
    const w4a8_code_values values(A.format());
    std::array<std::uint16_t, 256> code_bf16{};  // E4M3 code -> bfloat16 bits (exact)
    if (bf16_)
      for (std::size_t c = 0; c < 256; ++c) code_bf16[c] = bfloat16(values.v[c]).bits();
    for (std::size_t t = 0; t < T; ++t) {
      const std::uint8_t* codes = A.codes() + t * A.in();
      if (int_path_ || bf16_) {
        for (std::size_t s = 0; s < kp; ++s) {
          const std::int32_t c = storage[s];
          const std::uint8_t a = c < 0 ? std::uint8_t{0} : codes[static_cast<std::size_t>(c)];
          const std::size_t even_odd = s / 64 * 64 + w4a8_avx512::fp_position(s % 64);
          if (bf16_)
            xb_[t * kp + even_odd] = c < 0 ? std::uint16_t{0} : code_bf16[a];
          else
            xi_[t * kp + (avx512 ? s : even_odd)] = static_cast<std::int8_t>(a);
        }
      }
      if (integer_rows_)
        (try_two ? w4a8_integer_activations<true>
                 : w4a8_integer_activations<false>)(codes, storage, pieces_, icodes_,
                                                    digits_.data() + t * (digits_.size() / T),
                                                    splits_.data() + t * P,
                                                    bias_.data() + t * P * 8);
      for (std::size_t j = 0; j < (int_path_ ? G : 0); ++j) {  // groups are whole blocks
        std::int32_t sum = 0;
        for (std::size_t q = seg_[j]; q < seg_[j + 1]; ++q) sum += xi_[t * kp + q];
        asum_[t * G + j] = sum;
      }
      if (avx2_fp_rows_) w4a8_gather_floats(A, W, values, t, x_.data() + t * kp);
    }
  }

  void run(float* Y, const w4a8_options& opt) const override {
    const w4a8_activations& A = A_;
    const w4a8_weights& W = W_;
    const std::size_t kp = W.padded_in(), G = W.groups(), out = W.out(), T = A.tokens();
    const std::size_t P = pieces_.size();
    const w4a8_tables& tables = W.tables();
    const bool int_path = int_path_, integer_rows = integer_rows_, pairs = pairs_;
    [[maybe_unused]] const bool avx2_fp_rows = avx2_fp_rows_;
    const bool shift = cast_ == w4a8_weight_cast::shift;
    const std::size_t* seg = seg_.data();
    for (std::size_t t = 0; t < T; ++t) {
      const std::int8_t* digits =
          integer_rows ? digits_.data() + t * (digits_.size() / T) : nullptr;
      const w4a8_avx2::integer_split* splits = splits_.data() + t * P;
      const std::int32_t* bias = bias_.data() + t * P * 8;
      const float* x = x_.empty() ? nullptr : x_.data() + t * kp;
      [[maybe_unused]] const std::uint16_t* xb = xb_.empty() ? nullptr : xb_.data() + t * kp;
      const std::int8_t* xi = xi_.empty() ? nullptr : xi_.data() + t * kp;
      const std::int32_t* asum = asum_.empty() ? nullptr : asum_.data() + t * G;
      const float sa = A.scale(t);
      w4a8_for_rows(opt, 16, kp, [&](std::size_t r0, std::size_t n) {
        for (std::size_t r = r0; r < r0 + n; ++r) {
          const std::uint8_t* w = W.row_codes(r);
          const float* gs = W.has_group_scales() ? W.group_scales_of(r) : nullptr;
          const std::uint8_t* k = W.has_group_scales() ? nullptr : W.shifts_of(r);
          float y;
          if (integer_rows) {
            y = gs != nullptr
                    ? (pairs ? w4a8_avx2::fp_row_integer<true, true>
                             : w4a8_avx2::fp_row_integer<true, false>)(w, digits, bias,
                                                                       pieces_.data(), splits, P, k,
                                                                       gs, icodes_.unit.data())
                    : (pairs ? w4a8_avx2::fp_row_integer<false, true>
                             : w4a8_avx2::fp_row_integer<false, false>)(w, digits, bias,
                                                                        pieces_.data(), splits, P,
                                                                        k, gs, icodes_.unit.data());
            Y[t * out + r] = w4a8_finish(W, r, y, sa);
            continue;
          }
#if defined(LOWP_W4A8_AVX512)
          if constexpr (avx512) {
            if (int_path) {
              Y[t * out + r] = w4a8_finish(W, r, w4a8_avx512::int_row(w, xi, asum, seg, G, gs), sa);
              continue;
            }
            if (!avx2_fp_rows || k == nullptr ||
                *std::max_element(k, k + G) <= w4a8_avx512::max_shift) {
              y = shift ? w4a8_avx512::fp_row<true>(w, xb, seg, G, k, gs, tables.wide.data())
                        : w4a8_avx512::fp_row<false>(w, xb, seg, G, k, gs, tables.wide.data());
              Y[t * out + r] = w4a8_finish(W, r, y, sa);
              continue;
            }
          }
#endif
          if (int_path) {
            y = w4a8_avx2::int_row(w, xi, asum, seg, G, gs);
          } else {
            y = shift ? w4a8_avx2::fp_row<true>(w, x, seg, G, k, gs, tables.split.data())
                      : w4a8_avx2::fp_row<false>(w, x, seg, G, k, gs, tables.split.data());
          }
          Y[t * out + r] = w4a8_finish(W, r, y, sa);
        }
      });
    }
  }

 private:
  const w4a8_activations& A_;
  const w4a8_weights& W_;
  const w4a8_integer_codes& icodes_;
  w4a8_weight_cast cast_ = w4a8_weight_cast::automatic;
  bool int_path_ = false, integer_rows_ = false, bf16_ = false, avx2_fp_rows_ = false;
  bool pairs_ = true;  // every piece i is blocks 2i, 2i + 1 of group i (groups of 128)
  std::vector<std::size_t> seg_;
  std::vector<w4a8_avx2::integer_piece> pieces_;
  // Per token (the token's slice of each):
  std::vector<std::int8_t> digits_;               // integer FP rows: the digit planes
  std::vector<w4a8_avx2::integer_split> splits_;  // and each piece's split
  std::vector<std::int32_t> bias_;                // and bias lanes
  std::vector<float> x_;                          // AVX2 float FP rows: the values
  std::vector<std::uint16_t> xb_;                 // AVX-512 FP rows: bfloat16
  std::vector<std::int8_t> xi_;                   // INT rows: the codes
  std::vector<std::int32_t> asum_;                // and each group's code sum
};

// The prefill's column chunks: each group in pieces of at most kc positions (a multiple of
// 64), in order.
struct w4a8_chunk {
  std::size_t q0, q1, group;
  bool first, last;  // of its group
};
inline std::vector<w4a8_chunk> w4a8_chunks(const w4a8_weights& W, std::size_t kc) {
  std::vector<w4a8_chunk> chunks;
  for (std::size_t j = 0; j < W.groups(); ++j) {
    for (std::size_t q0 = W.group_begin(j); q0 < W.group_begin(j + 1); q0 += kc) {
      const std::size_t q1 = std::min(q0 + kc, W.group_begin(j + 1));
      chunks.push_back({q0, q1, j, q0 == W.group_begin(j), q1 == W.group_begin(j + 1)});
    }
  }
  return chunks;
}

// The FP prefill, shared by the AVX2 and the AVX-512 tiles: the weights of MC rows x one
// chunk of at most KC positions decoded once (Tiles::decode_rows), then MR x NR register
// tiles (Tiles::micro_kernel_n) over the activations packed tile by tile
// (Tiles::pack_token: [tile][kp][NR] values in the tiles' order, zero past the last
// token).  M1/M2: one running sum per output across the whole row; absmax: each group's
// sum, then y = fma(S_g, s_g, y) at its last chunk.
template <class Tiles>
class w4a8_fp_prefill final : public w4a8_prepared {
 public:
  using element = typename Tiles::element;
  static constexpr std::size_t MR = Tiles::rows, NR = Tiles::tokens, MC = 96, KC = 512;

  w4a8_fp_prefill(const w4a8_activations& A, const w4a8_weights& W)
      : A_(A),
        W_(W),
        tiles_((A.tokens() + NR - 1) / NR),
        Ap_(tiles_ * W.padded_in() * NR, element{0}),
        chunks_(w4a8_chunks(W, KC)) {
    const std::size_t kp = W.padded_in();
    const w4a8_code_values values(A.format());
    for (std::size_t t = 0; t < A.tokens(); ++t)
      Tiles::pack_token(A, W, values, t, Ap_.data() + (t / NR) * kp * NR, t % NR);
  }

  void run(float* Y, const w4a8_options& opt) const override {
    const w4a8_activations& A = A_;
    const w4a8_weights& W = W_;
    const std::size_t kp = W.padded_in(), out = W.out(), T = A.tokens();
    const std::size_t tiles = tiles_, TN = tiles * NR;
    const bool scaled = W.has_group_scales();
    const w4a8_tables& tables = W.tables();
    w4a8_for_rows(opt, MC, kp * TN, [&](std::size_t r0, std::size_t n) {
      std::vector<element> Wd(n * KC);
      std::vector<float> Cy(n * TN, 0.0f), Cg(scaled ? n * TN : 0);
      std::vector<std::uint8_t> k_row(n);
      std::vector<float> s_row(n);
      for (const w4a8_chunk& c : chunks_) {
        const std::size_t kc = c.q1 - c.q0;
        if (!scaled)
          for (std::size_t i = 0; i < n; ++i) k_row[i] = W.shift(r0 + i, c.group);
        Tiles::decode_rows(W.row_codes(r0), kp / 2, n, c.q0, c.q1, tables,
                           scaled ? nullptr : k_row.data(), Wd.data(), kc);
        if (scaled && c.last)
          for (std::size_t i = 0; i < n; ++i) s_row[i] = W.group_scale(r0 + i, c.group);
        for (std::size_t tile = 0; tile < tiles; ++tile) {
          const element* a = Ap_.data() + (tile * kp + c.q0) * NR;
          for (std::size_t p = 0; p < n; p += MR) {
            const int mr = static_cast<int>(std::min(MR, n - p));
            const element* wp = Wd.data() + p * kc;
            const std::size_t at = p * TN + tile * NR;
            if (!scaled) {
              Tiles::micro_kernel_n(mr, wp, kc, a, kc, Cy.data() + at, TN, Cy.data() + at, nullptr);
            } else {
              const float* in = c.first ? nullptr : Cg.data() + at;
              float* to = c.last ? Cy.data() + at : Cg.data() + at;
              Tiles::micro_kernel_n(mr, wp, kc, a, kc, in, TN, to,
                                    c.last ? s_row.data() + p : nullptr);
            }
          }
        }
      }
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t t = 0; t < T; ++t)
          Y[t * out + r0 + i] = w4a8_finish(W, r0 + i, Cy[i * TN + t], A.scale(t));
    });
  }

 private:
  const w4a8_activations& A_;
  const w4a8_weights& W_;
  std::size_t tiles_;
  std::vector<element> Ap_;  // the tokens packed tile by tile (Tiles::pack_token)
  std::vector<w4a8_chunk> chunks_;
};

// The AVX2 tiles: weights decoded to floats, 6 x 16 FMA tiles in the reference order.
struct w4a8_avx2_tiles {
  using element = float;
  static constexpr std::size_t rows = 6, tokens = 16;
  static void pack_token(const w4a8_activations& A, const w4a8_weights& W,
                         const w4a8_code_values& values, std::size_t t, float* tile,
                         std::size_t lane) {
    w4a8_gather_floats(A, W, values, t, tile + lane, tokens);
  }
  static void decode_rows(const std::uint8_t* codes, std::size_t stride, std::size_t n,
                          std::size_t q0, std::size_t q1, const w4a8_tables& tables,
                          const std::uint8_t* k_row, float* out, std::size_t ld) {
    w4a8_avx2::decode_rows(codes, stride, n, q0, q1, tables.split.data(), k_row, out, ld);
  }
  static void micro_kernel_n(int mr, const float* Wp, std::size_t ldw, const float* Ap,
                             std::size_t kc, const float* Cin, std::size_t ldc, float* Cout,
                             const float* scales) {
    w4a8_avx2::micro_kernel_n(mr, Wp, ldw, Ap, kc, Cin, ldc, Cout, scales);
  }
};

#endif

#if defined(LOWP_W4A8_AVX2) && defined(LOWP_W4A8_AVX512)

// The AVX-512 FP tiles: weights and activations as bfloat16, vdpbf16ps (two products per
// lane and instruction) in 8 x 32 register tiles.  The activations of a tile:
// [kp / 2 pairs][32 tokens][2], each block of 64 positions in the decoder's order
// (fp_position).  For FP4 weights whose shifts are all ≤ w4a8_avx512::max_shift
// (w4a8_linear checks).
struct w4a8_avx512_tiles {
  using element = std::uint16_t;
  static constexpr std::size_t rows = w4a8_avx512::prefill_rows;
  static constexpr std::size_t tokens = w4a8_avx512::prefill_tokens;
  static void pack_token(const w4a8_activations& A, const w4a8_weights& W,
                         const w4a8_code_values& values, std::size_t t, std::uint16_t* tile,
                         std::size_t lane) {
    const std::uint8_t* codes = A.codes() + t * A.in();
    const std::vector<std::int32_t>& storage = W.storage_columns();
    for (std::size_t s = 0; s < storage.size(); ++s) {
      if (storage[s] < 0) continue;
      const std::size_t p = s / 64 * 64 + w4a8_avx512::fp_position(s % 64);
      tile[(p / 2 * tokens + lane) * 2 + p % 2] =
          bfloat16(values.v[codes[static_cast<std::size_t>(storage[s])]]).bits();
    }
  }
  static void decode_rows(const std::uint8_t* codes, std::size_t stride, std::size_t n,
                          std::size_t q0, std::size_t q1, const w4a8_tables& tables,
                          const std::uint8_t* k_row, std::uint16_t* out, std::size_t ld) {
    w4a8_avx512::decode_rows(codes, stride, n, q0, q1, tables.wide.data(), k_row, out, ld);
  }
  static void micro_kernel_n(int mr, const std::uint16_t* Wp, std::size_t ldw,
                             const std::uint16_t* Ap, std::size_t kc, const float* Cin,
                             std::size_t ldc, float* Cout, const float* scales) {
    w4a8_avx512::micro_kernel_n(mr, Wp, ldw, Ap, kc, Cin, ldc, Cout, scales);
  }
};

// The AVX-512 INT prefill: the same blocking on biased INT4 bytes and INT8 codes, with
// vpdpbusd (four products per lane and instruction) in 8 x 32 tiles of exact int32
// group sums; at a group's last chunk y = fma(float(acc_g - 8 · Σ a), s_g, y), the
// reference order's bits.
class w4a8_avx512_prefill_int final : public w4a8_prepared {
 public:
  static constexpr std::size_t MR = w4a8_avx512::prefill_rows, NR = w4a8_avx512::prefill_tokens;
  static constexpr std::size_t MC = 96, KC = 512;

  w4a8_avx512_prefill_int(const w4a8_activations& A, const w4a8_weights& W)
      : A_(A),
        W_(W),
        tiles_((A.tokens() + NR - 1) / NR),
        Ap_(tiles_ * W.padded_in() * NR, 0),
        asum_(A.tokens() * W.groups(), 0),
        chunks_(w4a8_chunks(W, KC)) {
    const std::size_t kp = W.padded_in(), G = W.groups();
    const std::vector<std::int32_t>& storage = W.storage_columns();
    for (std::size_t t = 0; t < A.tokens(); ++t) {
      const std::uint8_t* codes = A.codes() + t * A.in();
      std::int8_t* tile = Ap_.data() + (t / NR) * kp * NR;
      for (std::size_t j = 0; j < G; ++j) {
        for (std::size_t s = W.group_begin(j); s < W.group_begin(j + 1); ++s) {
          if (storage[s] < 0) continue;
          const auto a = static_cast<std::int8_t>(codes[static_cast<std::size_t>(storage[s])]);
          tile[(s / 4 * NR + t % NR) * 4 + s % 4] = a;
          asum_[t * G + j] += a;
        }
      }
    }
  }

  void run(float* Y, const w4a8_options& opt) const override {
    const w4a8_activations& A = A_;
    const w4a8_weights& W = W_;
    const std::size_t kp = W.padded_in(), G = W.groups(), out = W.out(), T = A.tokens();
    const std::size_t tiles = tiles_, TN = tiles * NR;
    const std::vector<std::int8_t>& Ap = Ap_;
    const std::vector<std::int32_t>& asum = asum_;
    const std::vector<w4a8_chunk>& chunks = chunks_;
    w4a8_for_rows(opt, MC, kp * TN, [&](std::size_t r0, std::size_t n) {
      std::vector<std::uint8_t> Wd(n * KC);
      std::vector<float> Cy(n * TN, 0.0f);
      std::vector<std::int32_t> Cg(n * TN);
      for (const w4a8_chunk& c : chunks) {
        const std::size_t kc = c.q1 - c.q0;
        w4a8_avx512::decode_rows_int(W.row_codes(r0), kp / 2, n, c.q0, c.q1, Wd.data(), kc);
        for (std::size_t tile = 0; tile < tiles; ++tile) {
          const std::int8_t* a = Ap.data() + (tile * kp + c.q0) * NR;
          for (std::size_t p = 0; p < n; p += MR) {
            const std::size_t at = p * TN + tile * NR;
            w4a8_avx512::micro_kernel_int_n(static_cast<int>(std::min(MR, n - p)),
                                            Wd.data() + p * kc, kc, a, kc,
                                            c.first ? nullptr : Cg.data() + at, TN, Cg.data() + at);
          }
        }
        if (!c.last) continue;
        for (std::size_t i = 0; i < n; ++i) {
          const float sg = W.group_scale(r0 + i, c.group);
          for (std::size_t t = 0; t < T; ++t) {
            const std::int32_t acc = Cg[i * TN + t] - 8 * asum[t * G + c.group];
            Cy[i * TN + t] = std::fma(static_cast<float>(acc), sg, Cy[i * TN + t]);
          }
        }
      }
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t t = 0; t < T; ++t)
          Y[t * out + r0 + i] = w4a8_finish(W, r0 + i, Cy[i * TN + t], A.scale(t));
    });
  }

 private:
  const w4a8_activations& A_;
  const w4a8_weights& W_;
  std::size_t tiles_;
  // The codes, tile by tile: [tile][kp / 4 quads][32 tokens][4], in storage order, zero
  // past the last token; asum_[t · G + j]: the sum of token t's codes in group j.
  std::vector<std::int8_t> Ap_;
  std::vector<std::int32_t> asum_;
  std::vector<w4a8_chunk> chunks_;
};

#endif

}  // namespace detail

// =======================================================================================
// The linear layer
// =======================================================================================

namespace detail {

// The checks w4a8_linear and w4a8_plan share (everything but Y and the row range).
inline void w4a8_check(const char* who, const w4a8_activations& A, const w4a8_weights& W,
                       const w4a8_options& opt) {
  if (W.out() == 0)
    throw std::invalid_argument(std::string(who) + ": the weights are not prepared (empty)");
  if (A.in() != W.in())
    throw std::invalid_argument(std::string(who) + ": activations with " + std::to_string(A.in()) +
                                " columns, weights with " + std::to_string(W.in()));
  if (A.format() != W.activation())
    throw std::invalid_argument(std::string(who) + ": " + w4a8_scheme_name(W.scheme()) +
                                " weights with " + w4a8_activation_name(A.format()) +
                                " activations; supported: " + w4a8_supported_pairs);
  if (!w4a8_path_available(opt.path, W.scheme()))
    throw std::invalid_argument(
        std::string(who) + ": path " + w4a8_path_name(opt.path) + " forced, but " +
        (detail::w4a8_avx2::available()
             ? detail::w4a8_avx512::unavailable_reason(W.scheme() == w4a8_scheme::int4_absmax)
             : detail::w4a8_avx2::unavailable_reason()));
}

// rows with its count resolved (all: to the last row); throws where it reaches past W's
// rows.
inline w4a8_row_range w4a8_resolve(const char* who, w4a8_row_range rows, std::size_t out) {
  if (rows.first > out || (rows.count != w4a8_row_range::all && rows.count > out - rows.first))
    throw std::invalid_argument(
        std::string(who) + ": rows (first " + std::to_string(rows.first) + ", count " +
        (rows.count == w4a8_row_range::all ? std::string("all") : std::to_string(rows.count)) +
        ") reach past the weights' " + std::to_string(out) + " rows");
  if (rows.count == w4a8_row_range::all) rows.count = out - rows.first;
  return rows;
}

// The path for (A, W, opt), its tokens prepared; rows: how many rows a run will take (for
// cost decisions only).  A.tokens() > 0.
inline std::unique_ptr<w4a8_prepared> w4a8_prepare(const w4a8_activations& A, const w4a8_weights& W,
                                                   const w4a8_options& opt, std::size_t rows) {
  const w4a8_path path = opt.path == w4a8_path::automatic ? w4a8_best_path(W.scheme()) : opt.path;
  if (path == w4a8_path::portable) return std::make_unique<w4a8_portable>(A, W);
#if defined(LOWP_W4A8_AVX2)
#if defined(LOWP_W4A8_AVX512)
  if (path == w4a8_path::avx512) {
    if (A.tokens() < opt.gemm_min_tokens)
      return std::make_unique<w4a8_simd_decode<true>>(A, W, opt, rows);
    if (W.scheme() == w4a8_scheme::int4_absmax)
      return std::make_unique<w4a8_avx512_prefill_int>(A, W);
    if (W.largest_shift() <= w4a8_avx512::max_shift)
      return std::make_unique<w4a8_fp_prefill<w4a8_avx512_tiles>>(A, W);
  }
#endif
  if (A.tokens() >= opt.gemm_min_tokens)
    return std::make_unique<w4a8_fp_prefill<w4a8_avx2_tiles>>(A, W);
  return std::make_unique<w4a8_simd_decode<false>>(A, W, opt, rows);
#else
  (void)rows;
  return std::make_unique<w4a8_portable>(A, W);  // path is portable without the SIMD paths
#endif
}

}  // namespace detail

/// Y = A · Wᵀ: Y is tokens x out, row-major (Y[t·out + o] = Σ_c A(t, c) W(o, c) in the
/// dequantized values, computed as the file comment's contract says).  Throws
/// std::invalid_argument when A.in() != W.in(), when the pair is not supported (FP4 weights
/// need FP8 E4M3 activations, INT4 weights INT8; the message names the supported pairs),
/// when Y is null with tokens > 0 and a nonempty range, when opt.path is a path this CPU
/// or compiler lacks for W's scheme (w4a8_path_available(opt.path, W.scheme())), or when
/// opt.rows reaches past W.out() (its first may equal W.out(): an empty range).  Nothing
/// is written then.
/// With opt.rows, only the outputs o in the range are written (Y[t·out + o]; Y is still
/// tokens x W.out()), each with the bits of the call over all rows.  Zero tokens or an
/// empty range: nothing to do.  Each call prepares the tokens' activations; an engine whose
/// threads each take a range shares one w4a8_plan instead.
inline void w4a8_linear(const w4a8_activations& A, const w4a8_weights& W, float* Y,
                        const w4a8_options& opt = {}) {
  constexpr const char* who = "lowp::w4a8_linear";
  detail::w4a8_check(who, A, W, opt);
  w4a8_options o = opt;
  o.rows = detail::w4a8_resolve(who, opt.rows, W.out());
  if (A.tokens() == 0 || o.rows.count == 0) return;
  if (Y == nullptr)
    throw std::invalid_argument(std::string(who) + ": null Y with " + std::to_string(A.tokens()) +
                                " tokens");
  detail::w4a8_prepare(A, W, o, o.rows.count)->run(Y, o);
}

/// One w4a8_linear call in two steps, for an engine whose own threads each compute a range
/// of output rows: the constructor lays the tokens' activations out for W's kernel once
/// (O(tokens · in); the portable path gathers each token in run() instead), and run()
/// computes any range of rows from it.  run() is const and may
/// be called from many threads at once, on disjoint ranges of one Y; each output has the
/// bits of w4a8_linear(A, W, Y, opt).  The plan keeps references to A and W (run() reads
/// their codes and scales), which must outlive it unchanged; temporaries do not compile.
class w4a8_plan {
 public:
  /// Throws as w4a8_linear does for A, W and opt (opt.rows is not read: each run() names
  /// its range).  opt.threaded applies to each run(); an engine's threads pass false, or
  /// each would start an OpenMP team of its own.
  w4a8_plan(const w4a8_activations& A, const w4a8_weights& W, const w4a8_options& opt = {})
      : opt_(opt), out_(W.out()), tokens_(A.tokens()) {
    detail::w4a8_check(who, A, W, opt);
    // The runs share the preparation, so its cost decisions count all rows.
    if (tokens_ > 0) prepared_ = detail::w4a8_prepare(A, W, opt, W.out());
  }
  w4a8_plan(w4a8_activations&&, const w4a8_weights&, const w4a8_options& = {}) = delete;
  w4a8_plan(const w4a8_activations&, w4a8_weights&&, const w4a8_options& = {}) = delete;
  w4a8_plan(w4a8_activations&&, w4a8_weights&&, const w4a8_options& = {}) = delete;

  /// Rows `rows` of Y = A · Wᵀ into Y (tokens x out, row-major; only those rows' entries
  /// are written).  Throws std::invalid_argument, writing nothing, when rows reaches past
  /// out() or when Y is null with tokens > 0 and a nonempty range; std::logic_error on a
  /// plan that was moved from.
  void run(float* Y, w4a8_row_range rows = {}) const {
    w4a8_options o = opt_;
    o.rows = detail::w4a8_resolve(who, rows, out_);
    if (tokens_ > 0 && !prepared_)
      throw std::logic_error(std::string(who) + ": run() on a plan that was moved from");
    if (tokens_ == 0 || o.rows.count == 0) return;
    if (Y == nullptr)
      throw std::invalid_argument(std::string(who) + ": null Y with " + std::to_string(tokens_) +
                                  " tokens");
    prepared_->run(Y, o);
  }

  std::size_t out() const noexcept { return out_; }
  std::size_t tokens() const noexcept { return tokens_; }

 private:
  static constexpr const char* who = "lowp::w4a8_plan";
  w4a8_options opt_;
  std::size_t out_, tokens_;
  std::unique_ptr<detail::w4a8_prepared> prepared_;
};

/// w4a8_linear into a new tokens x out vector (0 outside opt.rows).
inline std::vector<float> w4a8_linear(const w4a8_activations& A, const w4a8_weights& W,
                                      const w4a8_options& opt = {}) {
  std::vector<float> Y(A.tokens() * W.out());
  w4a8_linear(A, W, Y.data(), opt);
  return Y;
}

}  // namespace lowp
