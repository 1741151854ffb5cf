// lowp/model/quantize_model.hpp — ZeroQuant-FP on a whole model: every linear layer's
// weights quantized (RTN or GPTQ, INT or FP, absmax / min-max / M1 / M2 / MX / NVFP4
// scales, optional LoRC) block by block on calibration data, in the GPTQ reference's
// "true sequential" order.
//
// Layer: model.  Includes model/forward.hpp, model/llama.hpp, and the solvers (gptq.hpp,
// hessian.hpp, lorc.hpp).
//
// The sequence, per block (GPTQ's llama.py, llama_sequential with --true-sequential):
//
//   X ── calibration stream: the block's input for every calibration sequence
//   for each stage in  q,k,v → o → gate,up → down:
//       compute the stage's input from the previous stage's (whose layers are already
//       quantized), accumulate its Hessian H = 2/n Σ xᵀx (one H for q/k/v, one for
//       gate/up), quantize the stage's layers against H, replace their weights;
//   X ← the block's output with all its layers quantized: the next block's input.
//
// The stages run over all the calibration data before the next begins, so each chunk of
// sequences keeps its state inside the block (the residual stream and the current stage's
// input; the attention output until the FFN's input is computed): attention runs once
// per block, as in a forward pass.  Memory: the model's weights plus one block's
// activations for the calibration data (a few tokens x dim matrices, one tokens x
// hidden_dim).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../gptq.hpp"
#include "../hessian.hpp"
#include "../lorc.hpp"
#include "../quantize.hpp"
#include "forward.hpp"
#include "llama.hpp"

namespace lowp::model {

/// The element format of quantized weights (the paper's INT4/INT8 and FP4/FP8).
enum class weight_format { int4, int8, fp4_e2m1, fp8_e4m3 };
/// How a group's scale is chosen: absmax (symmetric), minmax (asymmetric, INT only), M1
/// (power-of-two scales) or M2 (power-of-two ratios to the row's largest scale; FP only),
/// OCP MX (E8M0 scales, blocks of 32; FP), NVFP4 (E4M3 scales, blocks of 16; FP4 only).
enum class scale_policy { absmax, minmax, m1, m2, mx, nvfp4 };
/// Round-to-nearest, or GPTQ's error-compensating column sweep.
enum class weight_method { rtn, gptq };

/// "int4", "int8", "fp4_e2m1", "fp8_e4m3".
inline const char* weight_format_name(weight_format f) noexcept {
  switch (f) {
    case weight_format::int4:
      return "int4";
    case weight_format::int8:
      return "int8";
    case weight_format::fp4_e2m1:
      return "fp4_e2m1";
    case weight_format::fp8_e4m3:
      break;
  }
  return "fp8_e4m3";
}

/// "absmax", "minmax", "m1", "m2", "mx", "nvfp4".
inline const char* scale_policy_name(scale_policy p) noexcept {
  switch (p) {
    case scale_policy::absmax:
      return "absmax";
    case scale_policy::minmax:
      return "minmax";
    case scale_policy::m1:
      return "m1";
    case scale_policy::m2:
      return "m2";
    case scale_policy::mx:
      return "mx";
    case scale_policy::nvfp4:
      break;
  }
  return "nvfp4";
}

/// "fp32", "int8", "fp8_e4m3".
inline const char* lorc_factor_format_name(lorc_factor_format f) noexcept {
  switch (f) {
    case lorc_factor_format::fp32:
      return "fp32";
    case lorc_factor_format::int8:
      return "int8";
    case lorc_factor_format::fp8_e4m3:
      break;
  }
  return "fp8_e4m3";
}

/// How every quantized weight is quantized.
struct weight_scheme {
  weight_format format = weight_format::fp4_e2m1;
  scale_policy policy = scale_policy::absmax;
  /// Columns per scale group; 0, or a group at least as long as the row, means one group
  /// per row (per channel).  MX needs 32 and NVFP4 16 (their block sizes).
  std::size_t group_size = 128;
  weight_method method = weight_method::gptq;
  bool act_order = false;      ///< GPTQ: columns by descending diag H
  bool static_groups = false;  ///< GPTQ: groups fitted up front (needed with act_order)
  double percdamp = 0.01;      ///< GPTQ: λ = percdamp · mean(diag H)
  std::size_t lorc_rank = 0;   ///< LoRC rank; 0 = no LoRC
  lorc_factor_format lorc_factors = lorc_factor_format::int8;

  /// The granularity a rows x cols weight is quantized at.
  granularity groups_for(std::size_t cols) const noexcept {
    if (policy == scale_policy::mx || policy == scale_policy::nvfp4)
      return granularity::per_block();
    if (group_size == 0 || group_size >= cols) return granularity::per_channel();
    return granularity::per_group(group_size);
  }
  /// Columns per group for a row of cols.
  std::size_t group_columns(std::size_t cols) const noexcept {
    if (policy == scale_policy::mx) return 32;
    if (policy == scale_policy::nvfp4) return 16;
    return group_size == 0 || group_size >= cols ? cols : group_size;
  }

  /// Throws std::invalid_argument, naming the option, for a combination that cannot work:
  /// minmax with FP elements, M1/M2/MX with INT elements, NVFP4 other than with FP4, MX
  /// with a group size other than 32, NVFP4 other than 16, a LoRC rank above min(rows,
  /// cols) of the smallest layer (min_dim), percdamp negative or not finite.
  void validate(std::size_t min_dim) const {
    const auto bad = [](const std::string& why) {
      throw std::invalid_argument("lowp::model::weight_scheme: " + why);
    };
    const bool fp = format == weight_format::fp4_e2m1 || format == weight_format::fp8_e4m3;
    const std::string combo =
        std::string(scale_policy_name(policy)) + " with " + weight_format_name(format);
    if (policy == scale_policy::minmax && fp)
      bad(combo + ": min-max (a zero point) is for INT elements");
    if ((policy == scale_policy::m1 || policy == scale_policy::m2 || policy == scale_policy::mx) &&
        !fp) {
      bad(combo + ": M1, M2 and MX scales are for FP elements");
    }
    if (policy == scale_policy::nvfp4 && format != weight_format::fp4_e2m1)
      bad(combo + ": NVFP4 is FP4 (E2M1)");
    if (policy == scale_policy::mx && group_size != 32) {
      bad("MX scales blocks of 32 elements, group size " + std::to_string(group_size) +
          " asked for");
    }
    if (policy == scale_policy::nvfp4 && group_size != 16) {
      bad("NVFP4 scales blocks of 16 elements, group size " + std::to_string(group_size) +
          " asked for");
    }
    if (lorc_rank > min_dim) {
      bad("LoRC rank " + std::to_string(lorc_rank) +
          " is larger than the smallest layer's min(rows, cols) = " + std::to_string(min_dim));
    }
    if (!(std::isfinite(percdamp) && percdamp >= 0)) bad("percdamp must be finite and >= 0");
  }
};

namespace detail {

/// Calls f(policy) with the lowp policy object of scheme s (validated by the caller).
template <class F>
void visit_weight_policy(const weight_scheme& s, F&& f) {
  switch (s.policy) {
    case scale_policy::absmax:
      switch (s.format) {
        case weight_format::int4:
          return f(absmax<int4>{});
        case weight_format::int8:
          return f(absmax<int8>{});
        case weight_format::fp4_e2m1:
          return f(absmax<float4_e2m1fn>{});
        case weight_format::fp8_e4m3:
          return f(absmax<float8_e4m3fn>{});
      }
      break;
    case scale_policy::minmax:
      if (s.format == weight_format::int4) return f(minmax<uint4>{});
      if (s.format == weight_format::int8) return f(minmax<uint8>{});
      break;
    case scale_policy::m1:
      if (s.format == weight_format::fp4_e2m1) return f(m1<float4_e2m1fn>{});
      if (s.format == weight_format::fp8_e4m3) return f(m1<float8_e4m3fn>{});
      break;
    case scale_policy::m2:
      if (s.format == weight_format::fp4_e2m1) return f(m2<float4_e2m1fn>{});
      if (s.format == weight_format::fp8_e4m3) return f(m2<float8_e4m3fn>{});
      break;
    case scale_policy::mx:
      if (s.format == weight_format::fp4_e2m1) return f(mx<float4_e2m1fn>{});
      if (s.format == weight_format::fp8_e4m3) return f(mx<float8_e4m3fn>{});
      break;
    case scale_policy::nvfp4:
      if (s.format == weight_format::fp4_e2m1) return f(nvfp4{});
      break;
  }
  s.validate(0);  // throws for the combination; unreachable for a validated scheme
  throw std::invalid_argument("lowp::model: no policy for this weight scheme");
}

/// W_hat + U V, each element summed in double (k ascending) and rounded once to float:
/// the products of floats are exact in double, so no compiler contraction changes it, and
/// an engine can reproduce the folded weights bit for bit (docs/models.md).
inline row_major_matrixf fold_lorc(const row_major_matrixf& W_hat, const row_major_matrixf& U,
                                   const row_major_matrixf& V) {
  row_major_matrixf out(W_hat.rows(), W_hat.cols());
  for (Eigen::Index r = 0; r < W_hat.rows(); ++r) {
    for (Eigen::Index c = 0; c < W_hat.cols(); ++c) {
      double acc = W_hat(r, c);
      for (Eigen::Index k = 0; k < U.cols(); ++k)
        acc += static_cast<double>(U(r, k)) * static_cast<double>(V(k, c));
      out(r, c) = static_cast<float>(acc);
    }
  }
  return out;
}

/// Σ over rows of d H dᵀ, d = row of D (the layer's squared output error on the
/// calibration inputs behind H, up to H's scale), in double.
inline double quadratic_form(const row_major_matrixf& D, const Eigen::MatrixXf& H) {
  const Eigen::MatrixXd Dd = D.cast<double>();
  return (Dd * H.cast<double>()).cwiseProduct(Dd).sum();
}

}  // namespace detail

/// One quantized weight as an engine stores it (the packed file's layout,
/// docs/models.md): codes row-major, 4-bit codes two per byte (element 2j in the low
/// nibble of byte j, across rows), 8-bit codes one per byte; the group scales in the
/// policy's hardware form (lowp::kernel_scales); LoRC's factors as codes and scales.
struct packed_weight {
  std::size_t rows = 0, cols = 0;
  std::vector<std::uint8_t> codes;
  kernel_scales scales;
  std::size_t groups_per_row = 0;
  /// Empty, or one entry per column naming the group of its row whose scales it uses
  /// (GPTQ's act_order with groups shorter than a row: AutoGPTQ's g_idx; see
  /// quantized_tensor::group_index()).
  std::vector<std::int32_t> g_idx;
  /// LoRC (rank 0: none): Û (rows x r) and V̂ (r x cols) as used, and their codes and
  /// scales when quantized (lorc_result's layout: a scale per row of Û, per column of V̂).
  std::size_t lorc_rank = 0;
  lorc_factor_format lorc_factors = lorc_factor_format::fp32;
  row_major_matrixf U_hat, V_hat;
  std::vector<std::uint8_t> U_codes, V_codes;
  std::vector<float> U_scales, V_scales;
};

/// One weight quantized: what replaces it in the model, its packed form, and how good it is.
struct weight_outcome {
  row_major_matrixf fake;  ///< dequantized (LoRC folded in): the weights a runtime uses
  packed_weight packed;
  double loss = 0;              ///< ½ Σ_rows (w - ŵ) H (w - ŵ)ᵀ, ŵ the fake row, H undamped
  double rel_output_error = 0;  ///< ‖(W - Ŵ) Xᵀ‖² / ‖W Xᵀ‖² on the calibration inputs (via H)
  int damping_retries = 0;            ///< GPTQ's retries with more damping (0 normally)
  std::vector<std::string> warnings;  ///< GPTQ's warnings (dead columns, extra damping)
  double seconds_quantize = 0, seconds_lorc = 0;
};

/// Quantizes one rows x cols weight W (row-major) with scheme s against the Hessian H of
/// its inputs (hessian_accumulator::hessian(); RTN ignores it but for the error figures).
/// Throws std::invalid_argument for a scheme validate() rejects or shapes that disagree,
/// std::domain_error for NaN/Inf, as gptq() and lorc() do.
inline weight_outcome quantize_weight(const float* W, std::size_t rows, std::size_t cols,
                                      const Eigen::MatrixXf& H, const weight_scheme& s) {
  using clock = std::chrono::steady_clock;
  s.validate(std::min(rows, cols));
  if (H.rows() != static_cast<Eigen::Index>(cols) || H.cols() != static_cast<Eigen::Index>(cols)) {
    throw std::invalid_argument("lowp::model::quantize_weight: H is " + std::to_string(H.rows()) +
                                "x" + std::to_string(H.cols()) + ", the weight has " +
                                std::to_string(cols) + " columns");
  }
  weight_outcome out;
  row_major_matrixf W_hat;
  const auto t0 = clock::now();
  detail::visit_weight_policy(s, [&](auto policy) {
    using Policy = decltype(policy);
    quantized_tensor<Policy> q;
    if (s.method == weight_method::gptq) {
      gptq_options o;
      o.groups = s.groups_for(cols);
      o.percdamp = s.percdamp;
      o.act_order = s.act_order;
      o.static_groups = s.static_groups;
      gptq_result<Policy> r = gptq(W, rows, cols, H, policy, o);
      out.damping_retries = r.damping_retries;
      out.warnings = std::move(r.warnings);
      W_hat = std::move(r.dequantized);
      q = std::move(r.quantized);
    } else {
      q = quantize(policy, W, rows, cols, s.groups_for(cols));
      W_hat.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
      q.dequantize(W_hat.data());
    }
    packed_weight& p = out.packed;
    p.rows = rows;
    p.cols = cols;
    p.scales = scales_for_kernel(q);
    p.groups_per_row = q.groups_per_row();
    p.g_idx.assign(q.group_index().begin(), q.group_index().end());
    constexpr bool four_bit = packed_bits_v<typename quantized_tensor<Policy>::format> == 4;
    const std::size_t n = rows * cols;
    p.codes.assign(four_bit ? (n + 1) / 2 : n, 0);
    for (std::size_t i = 0; i < n; ++i) {
      const auto code = static_cast<std::uint8_t>(q.code_flat(i));
      if (four_bit) {
        p.codes[i / 2] = static_cast<std::uint8_t>(p.codes[i / 2] | (code & 0x0f) << (4 * (i % 2)));
      } else {
        p.codes[i] = code;
      }
    }
  });
  const auto t1 = clock::now();
  out.seconds_quantize = std::chrono::duration<double>(t1 - t0).count();
  const Eigen::Map<const row_major_matrixf> Wm(W, static_cast<Eigen::Index>(rows),
                                               static_cast<Eigen::Index>(cols));
  if (s.lorc_rank > 0) {
    lorc_options lo;
    lo.rank = s.lorc_rank;
    lo.factors = s.lorc_factors;
    lorc_result c = lorc(Wm, W_hat, lo);
    packed_weight& p = out.packed;
    p.lorc_rank = s.lorc_rank;
    p.lorc_factors = s.lorc_factors;
    out.fake = detail::fold_lorc(W_hat, c.U_hat, c.V_hat);
    p.U_hat = std::move(c.U_hat);
    p.V_hat = std::move(c.V_hat);
    p.U_codes = std::move(c.U_codes);
    p.V_codes = std::move(c.V_codes);
    p.U_scales = std::move(c.U_scales);
    p.V_scales = std::move(c.V_scales);
  } else {
    out.fake = std::move(W_hat);
  }
  out.seconds_lorc = std::chrono::duration<double>(clock::now() - t1).count();
  const row_major_matrixf D = Wm - out.fake;
  out.loss = 0.5 * detail::quadratic_form(D, H);
  const double signal = detail::quadratic_form(Wm, H);
  out.rel_output_error = signal > 0 ? 2 * out.loss / signal : 0.0;
  return out;
}

namespace detail {

/// Calls f(q) with the quantized_tensor a packed_weight's codes and scales stand for,
/// under scheme s (LoRC not included).  Throws std::invalid_argument, naming `who`, when
/// the arrays' sizes disagree with the shape and the scheme.
template <class F>
void visit_packed_tensor(const packed_weight& p, const weight_scheme& s, const char* who, F&& f) {
  const auto bad = [&](const std::string& why) {
    throw std::invalid_argument(std::string(who) + ": " + why);
  };
  const std::size_t rows = p.rows, cols = p.cols, n = rows * cols;
  visit_weight_policy(s, [&](auto policy) {
    using Policy = decltype(policy);
    using T = quantized_tensor<Policy>;
    constexpr bool four_bit = packed_bits_v<typename T::format> == 4;
    if (p.codes.size() != (four_bit ? (n + 1) / 2 : n))
      bad("codes of the wrong size for " + std::to_string(n) + " elements");
    std::vector<typename T::storage_type> codes(n);
    for (std::size_t i = 0; i < n; ++i) {
      codes[i] = static_cast<typename T::storage_type>(
          four_bit ? (p.codes[i / 2] >> (4 * (i % 2))) & 0x0f : p.codes[i]);
    }
    const std::size_t groups = rows * p.groups_per_row;
    std::vector<typename T::params_type> params(groups);
    const kernel_scales& k = p.scales;
    const auto need = [&](std::size_t have, std::size_t want, const char* what) {
      if (have != want)
        bad(std::string(what) + ": " + std::to_string(have) + " values, " + std::to_string(want) +
            " expected");
    };
    if constexpr (lowp::detail::is_instance_of<absmax, Policy>::value ||
                  lowp::detail::is_instance_of<pow2, Policy>::value) {
      need(k.group_scale.size(), groups, "group scales");
      for (std::size_t g = 0; g < groups; ++g) params[g].scale = k.group_scale[g];
    } else if constexpr (lowp::detail::is_instance_of<minmax, Policy>::value) {
      need(k.group_scale.size(), groups, "group scales");
      need(k.zero_point.size(), groups, "zero points");
      for (std::size_t g = 0; g < groups; ++g) params[g] = {k.group_scale[g], k.zero_point[g]};
    } else if constexpr (lowp::detail::is_instance_of<mx, Policy>::value) {
      need(k.group_code.size(), groups, "E8M0 scale codes");
      for (std::size_t g = 0; g < groups; ++g)
        params[g].scale = float8_e8m0fnu::from_bits(k.group_code[g]);
    } else if constexpr (std::is_same_v<Policy, nvfp4>) {
      need(k.group_code.size(), groups, "E4M3 block scale codes");
      for (std::size_t g = 0; g < groups; ++g) {
        params[g].block_scale = float8_e4m3fn::from_bits(k.group_code[g]);
        params[g].tensor_scale = k.tensor_scale;
      }
    } else {  // pow2_relative (M2)
      need(k.row_scale.size(), rows, "row scales");
      need(k.group_shift.size(), groups, "group shifts");
      for (std::size_t g = 0; g < groups; ++g) {
        params[g].scale_max = k.row_scale[g / p.groups_per_row];
        params[g].shift = k.group_shift[g];
      }
    }
    if (!p.g_idx.empty() && p.g_idx.size() != cols)
      bad("g_idx: " + std::to_string(p.g_idx.size()) + " values, " + std::to_string(cols) +
          " expected");
    std::vector<std::uint32_t> g_idx(p.g_idx.size());
    for (std::size_t c = 0; c < g_idx.size(); ++c) {
      if (p.g_idx[c] < 0) bad("g_idx: column " + std::to_string(c) + " names a negative group");
      g_idx[c] = static_cast<std::uint32_t>(p.g_idx[c]);
    }
    f(T::from_codes(policy, rows, cols, s.groups_for(cols), codes.data(), std::move(params),
                    std::move(g_idx)));
  });
}

/// A packed_weight's LoRC factors Û (rows x r) and V̂ (r x cols) as used: stored in float,
/// or decoded (code · scale, in double, rounded once).  Throws std::invalid_argument,
/// naming `who`, for arrays of the wrong size or shape.
inline std::pair<row_major_matrixf, row_major_matrixf> lorc_factors(const packed_weight& p,
                                                                    const char* who) {
  const auto bad = [&](const std::string& why) {
    throw std::invalid_argument(std::string(who) + ": " + why);
  };
  const std::size_t rows = p.rows, cols = p.cols;
  const auto r = static_cast<Eigen::Index>(p.lorc_rank);
  row_major_matrixf U = p.U_hat, V = p.V_hat;
  if (p.lorc_factors != lorc_factor_format::fp32) {
    if (p.U_codes.size() != rows * p.lorc_rank || p.V_codes.size() != p.lorc_rank * cols ||
        p.U_scales.size() != rows || p.V_scales.size() != cols) {
      bad("LoRC factor codes or scales of the wrong size");
    }
    U.resize(static_cast<Eigen::Index>(rows), r);
    V.resize(r, static_cast<Eigen::Index>(cols));
    const auto value = [&](std::uint8_t code, float scale) {
      const double e =
          p.lorc_factors == lorc_factor_format::int8
              ? static_cast<double>(int8::from_bits(static_cast<int8::storage_type>(code)))
              : static_cast<double>(float8_e4m3fn::from_bits(code));
      return static_cast<float>(e * static_cast<double>(scale));
    };
    for (std::size_t i = 0; i < rows; ++i) {
      for (std::size_t j = 0; j < p.lorc_rank; ++j)
        U.data()[i * p.lorc_rank + j] = value(p.U_codes[i * p.lorc_rank + j], p.U_scales[i]);
    }
    for (std::size_t j = 0; j < p.lorc_rank; ++j) {
      for (std::size_t c = 0; c < cols; ++c)
        V.data()[j * cols + c] = value(p.V_codes[j * cols + c], p.V_scales[c]);
    }
  } else if (U.rows() != static_cast<Eigen::Index>(rows) || U.cols() != r || V.rows() != r ||
             V.cols() != static_cast<Eigen::Index>(cols)) {
    bad("LoRC factors of the wrong shape");
  }
  return {std::move(U), std::move(V)};
}

}  // namespace detail

/// The weights a packed_weight stands for: its codes decoded with its scales by scheme s
/// (the policy's own decode()), LoRC's factors decoded (code · scale, in double, rounded
/// once) and folded in as detail::fold_lorc does.  Bit for bit the weight_outcome::fake
/// it was packed from.  Throws std::invalid_argument when the arrays' sizes disagree with
/// the shape and the scheme.
inline row_major_matrixf unpack_weight(const packed_weight& p, const weight_scheme& s) {
  constexpr const char* who = "lowp::model::unpack_weight";
  row_major_matrixf W_hat(static_cast<Eigen::Index>(p.rows), static_cast<Eigen::Index>(p.cols));
  detail::visit_packed_tensor(p, s, who, [&](const auto& q) { q.dequantize(W_hat.data()); });
  if (p.lorc_rank == 0) return W_hat;
  const auto [U, V] = detail::lorc_factors(p, who);
  return detail::fold_lorc(W_hat, U, V);
}

/// What quantize_model() does besides the weight scheme.
struct model_quant_options {
  weight_scheme weights;
  /// The per-token format of the linear layers' inputs in the quantized model.
  activation_format activations = activation_format::none;
  /// Whether the calibration passes quantize the linear layers' inputs too (so each
  /// Hessian comes from the inputs the quantized layer will see; docs/models.md).
  bool calibrate_with_quantized_activations = true;
  /// Layers left in float: "down_proj" (every block's), or "layers.3.down_proj" (one).
  std::vector<std::string> skip;
  /// Calibration sequences per block run (bounds the activations held at once).
  std::size_t chunk = 8;
};

/// One linear layer's line of the progress report.
struct layer_report {
  std::size_t block = 0;
  linear which = linear::q;
  bool skipped = false;
  double seconds = 0;  ///< quantization (+ LoRC) of this layer
  double loss = 0, rel_output_error = 0;
  int damping_retries = 0;
  std::vector<std::string> warnings;
};

/// The name of a block's linear layer: "layers.3.down_proj".
inline std::string layer_name(std::size_t block, linear l) {
  return "layers." + std::to_string(block) + "." + linear_name(l);
}

/// Seconds per stage of quantize_model().
struct pipeline_times {
  double calibration_forward = 0;  ///< block runs over the calibration stream
  double forward_gemms = 0;        ///< its GEMMs: linear layers, attention's q kᵀ and P v
  double hessians = 0;             ///< accumulating the Hessians
  double quantize = 0;             ///< GPTQ or RTN
  double lorc = 0;
  double total = 0;
  /// The share of total spent outside GPTQ (its Hessians included: gptq.py's add_batch),
  /// LoRC and the forward GEMMs: softmax, RoPE, RMSNorm, SwiGLU, the activations'
  /// quantization, the embedding, packing and the reports.  0 when total is 0.
  double other_share() const noexcept {
    return total > 0 ? (total - forward_gemms - hessians - quantize - lorc) / total : 0.0;
  }
};

/// What quantize_model() returns: a report and a packed weight per linear layer (in block
/// order, q k v o gate up down; skipped layers have an empty packed weight).
struct quantized_model {
  std::vector<layer_report> reports;
  std::vector<packed_weight> packed;
  pipeline_times times;
};

namespace detail {
inline bool is_skipped(const std::vector<std::string>& skip, std::size_t block, linear l) {
  const std::string full = layer_name(block, l);
  return std::any_of(skip.begin(), skip.end(),
                     [&](const std::string& s) { return s == linear_name(l) || s == full; });
}
}  // namespace detail

/// Quantizes every linear layer of m in place (its weights replaced by the fake-quantized
/// ones), block by block as the header comment says, on `count` calibration sequences of
/// T tokens (row-major).  `on_layer`, if set, is called as each layer finishes.
/// Throws before any work: std::invalid_argument for a scheme validate() rejects (against
/// the model's smallest layer), an unknown layer name in skip, T outside [2, seq_len],
/// count 0, fewer calibration tokens than the widest layer input has features, or a
/// token id outside the vocabulary.  During the work, what gptq(), lorc()
/// and run_block() throw (std::domain_error for NaN/Inf, a Hessian GPTQ's damping retries
/// cannot make positive definite); m then holds a partly quantized model.
inline quantized_model quantize_model(
    llama_model& m, const std::int32_t* calibration, std::size_t count, std::size_t T,
    const model_quant_options& opt, const std::function<void(const layer_report&)>& on_layer = {}) {
  constexpr const char* who = "lowp::model::quantize_model";
  using clock = std::chrono::steady_clock;
  const auto seconds_since = [](clock::time_point t) {
    return std::chrono::duration<double>(clock::now() - t).count();
  };
  const auto start = clock::now();
  const llama_config& c = m.config;
  // 0. Everything checked before any work.
  opt.weights.validate(std::min({c.kv_dim(), c.dim, c.hidden_dim}));
  if (count == 0 || T < 2 || T > c.seq_len || calibration == nullptr) {
    throw std::invalid_argument(std::string(who) + ": " + std::to_string(count) +
                                " calibration sequences of " + std::to_string(T) +
                                " tokens (need at least one, of 2 to seq_len " +
                                std::to_string(c.seq_len) + " tokens)");
  }
  const std::size_t widest = std::max(c.dim, c.hidden_dim);
  if (count * T < widest) {  // a Hessian of fewer tokens than features is singular
    throw std::invalid_argument(
        std::string(who) + ": " + std::to_string(count * T) +
        " calibration tokens, fewer than the " + std::to_string(widest) +
        " features of the widest layer input (a Hessian needs at least as many)");
  }
  for (const std::string& s : opt.skip) {
    bool known = false;
    for (const linear l : all_linears) {
      known = known || s == linear_name(l);
      for (std::size_t b = 0; b < c.n_layers; ++b) known = known || s == layer_name(b, l);
    }
    if (!known)
      throw std::invalid_argument(std::string(who) + ": no layer named '" + s + "' to skip");
  }
  for (std::size_t i = 0; i < count * T; ++i) {
    if (calibration[i] < 0 || static_cast<std::size_t>(calibration[i]) >= c.vocab_size) {
      throw std::invalid_argument(
          std::string(who) + ": calibration token " + std::to_string(calibration[i]) +
          " at sequence " + std::to_string(i / T) + ", position " + std::to_string(i % T) +
          " is outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
    }
  }

  quantized_model out;
  forward_options fo;  // the calibration passes: no hooks, activations as the options say
  fo.activations =
      opt.calibrate_with_quantized_activations ? opt.activations : activation_format::none;
  fo.gemm_seconds = &out.times.forward_gemms;
  const std::size_t chunk = std::max<std::size_t>(1, opt.chunk);

  // The calibration stream, in chunks of sequences, with each chunk's state inside the
  // current block: X the residual stream, then the linear layers' inputs of the stages.
  struct chunk_state {
    row_major_matrixf X, in, att;
  };
  std::vector<chunk_state> chunks;
  auto t = clock::now();
  for (std::size_t s = 0; s < count; s += chunk) {
    chunks.push_back({embed(m, calibration + s * T, std::min(chunk, count - s), T), {}, {}});
  }
  out.times.calibration_forward += seconds_since(t);

  // One stage over every chunk: `step` computes a chunk's input of the stage's layers
  // (into state.in); its Hessian is accumulated, and the layers quantized and replaced.
  const auto stage = [&](std::size_t b, std::size_t features, std::initializer_list<linear> layers,
                         const std::function<void(chunk_state&)>& step) {
    const bool any = std::any_of(layers.begin(), layers.end(),
                                 [&](linear l) { return !detail::is_skipped(opt.skip, b, l); });
    hessian_accumulator acc(features);
    for (chunk_state& st : chunks) {
      const auto t0 = clock::now();
      step(st);
      const auto t1 = clock::now();
      out.times.calibration_forward += std::chrono::duration<double>(t1 - t0).count();
      if (any) {
        acc.add_batch(st.in.data(), static_cast<std::size_t>(st.in.rows()), features);
        out.times.hessians += seconds_since(t1);
      }
    }
    const Eigen::MatrixXf H = any ? acc.hessian() : Eigen::MatrixXf();
    for (const linear l : layers) {
      layer_report r;
      r.block = b;
      r.which = l;
      if (detail::is_skipped(opt.skip, b, l)) {
        r.skipped = true;
        out.packed.emplace_back();
      } else {
        const tensor_ref w = m.blocks[b].weight(l);
        weight_outcome q = quantize_weight(w.data, w.rows, w.cols, H, opt.weights);
        m.replace(b, l, q.fake.data());
        r.seconds = q.seconds_quantize + q.seconds_lorc;
        r.loss = q.loss;
        r.rel_output_error = q.rel_output_error;
        r.damping_retries = q.damping_retries;
        r.warnings = std::move(q.warnings);
        out.times.quantize += q.seconds_quantize;
        out.times.lorc += q.seconds_lorc;
        out.packed.push_back(std::move(q.packed));
      }
      out.reports.push_back(r);
      if (on_layer) on_layer(r);
    }
  };
  for (std::size_t b = 0; b < c.n_layers; ++b) {
    // q, k, v on RMSNorm(X); o on the attention of the quantized q, k, v; gate and up on
    // RMSNorm(X + o(att)) with o quantized; down on SwiGLU of the quantized gate and up.
    stage(b, c.dim, {linear::q, linear::k, linear::v},
          [&](chunk_state& st) { st.in = detail::block_qkv_input(m, b, st.X, fo); });
    stage(b, c.dim, {linear::o}, [&](chunk_state& st) {
      st.att = detail::block_o_input(m, b, st.in, T, fo, nullptr);
      st.in = st.att;
    });
    stage(b, c.dim, {linear::gate, linear::up}, [&](chunk_state& st) {
      st.in = detail::block_gate_up_input(m, b, st.X, st.att, fo);
      st.att = row_major_matrixf();
    });
    stage(b, c.hidden_dim, {linear::down},
          [&](chunk_state& st) { st.in = detail::block_down_input(m, b, st.in, fo); });
    // The block's output with all its layers quantized: the next block's input.
    t = clock::now();
    for (chunk_state& st : chunks) {
      detail::block_output(m, b, st.X, st.in, fo);
      st.in = row_major_matrixf();
    }
    out.times.calibration_forward += seconds_since(t);
  }
  out.times.total = seconds_since(start);
  return out;
}

}  // namespace lowp::model
