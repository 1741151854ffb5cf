// lowp/gptq.hpp — GPTQ: one-shot weight quantization that minimizes a layer's output error.
//
// Layer: solvers (needs Eigen: link lowp::solvers, or lowp::solvers_compiled).  Includes
// hessian.hpp, quantize.hpp, eigen.hpp, detail/finite.hpp, detail/linalg.hpp,
// detail/parallel.hpp, detail/solvers_api.hpp and Eigen/Dense.
//
// GPTQ (Frantar, Ashkboos, Hoefler, Alistarh 2022, arXiv 2210.17323) quantizes the
// columns of a weight matrix W (rows = output channels, cols = input features) one at a
// time, and after each column spreads that column's rounding error over the columns not
// yet quantized so that ||W X - Ŵ X||² on calibration activations X stays small.  gptq()
// follows the reference implementation (IST-DASLab gptq.py, `GPTQ.fasterquant`) step by
// step.  Where each line of the reference is done (functions of detail::gptq_steps):
//
//   fasterquant                                      lowp
//   self.H, accumulated by add_batch                 hessian_accumulator (hessian.hpp)
//   dead = torch.diag(H) == 0; H[dead, dead] = 1;
//     W[:, dead] = 0                                 remove_dead_columns
//   quantizer.find_params(W) (per channel)           the first group fit (quantize_tile_rows),
//                                                      fit_static_groups with act_order
//   static_groups: find_params(W[:, i:i+groupsize])  fit_static_groups
//   perm = torch.argsort(torch.diag(H), True)        order_by_diagonal
//   W = W[:, perm]; H = H[perm][:, perm]             permute
//   H[diag, diag] += percdamp * mean(diag(H));       damp_and_factor: V and diag F in place
//     Hinv = chol(cholesky_inverse(chol(H)), upper)    of Hinv (factor_inverse_free)
//   for i1 in range(0, columns, blocksize):          the block loop of gptq(); start_block
//     if (i1 + i) % groupsize == 0:
//       find_params(W[:, (i1+i):(i1+i+groupsize)])   group_start_values, policy.fit
//     q = quantize(w, scale, zero, maxq)             quantize_tile_rows: quantize_batch
//     Losses1[:, i] = (w - q) ** 2 / d ** 2          quantize_tile_rows
//     err1 = (w - q) / d;
//       W1[:, i:] -= err1 * Hinv1[i, i:]             quantize_tile_rows, update_rest_of_block
//     Losses[:, i1:i2] = Losses1 / 2                 add_block_losses
//     W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])     update_later_columns
//   Q = Q[:, invperm]                                codes stored at their original column
//
// Nothing is inverted: the Cholesky factor F of H + λI (upper triangular, H + λI = F Fᵀ)
// is the inverse of the reference's Hinv, and the loop works with V = F diag(F)⁻¹ where
// the reference has Hinv (the same numbers; docs/gptq.md, "The V form", derives it, and
// lists where lowp deliberately differs from the reference).
//
// The quantizer is a policy (the "group quantizer" concept of lowp/quantize.hpp):
//
//   struct Policy {
//     using format = ...;   // element type, e.g. lowp::int4
//     using params = ...;   // scale (+ zero point) of one group of one row, trivially copyable
//     void prepare(const float* W, std::size_t rows, std::size_t cols, std::size_t group_size);
//     params fit(const float* x, std::size_t n, std::ptrdiff_t stride, std::size_t row) const;
//     typename format::storage_type encode(float x, const params& p);  // stochastic: draws
//     float decode(typename format::storage_type code, const params& p) const;
//     float fake(float x, const params& p);     // decode(encode(x, p), p)
//     const element_rounding& rounding_config() const;  // stochastic: rows run in order
//     // Optional: encode + decode of n values, each with its own params (p[i * stride]);
//     // without it lowp::quantize_batch (scale.hpp) calls encode()/decode() per element.
//     void quantize_batch(const float* x, std::size_t n, const params* p,
//                         std::ptrdiff_t stride, typename format::storage_type* codes, float* q);
//   };
//
// The column loop quantizes tiles of rows (column_loop::tile_rows, 32) one column at a
// time: each column of a tile is one quantize_batch() call, vectorized for lowp's
// policies on the common formats; the in-block error updates run for the tile's rows at
// once.  Rows never mix, so the result is the same bits as row by row (docs/gptq.md, "The
// column loop's batches").
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/finite.hpp"
#include "detail/linalg.hpp"
#include "detail/parallel.hpp"
#include "detail/solvers_api.hpp"
#include "eigen.hpp"  // row_major_matrixf
#include "hessian.hpp"
#include "quantize.hpp"

namespace lowp {

/// Knobs of gptq(); the defaults are the reference's.
struct gptq_options {
  /// Columns per lazy-update block (reference `blocksize`, paper §4 Step 2).  >= 1.
  std::size_t block_size = 128;
  /// The quantization groups along a row, by the rule quantize() follows: per_channel()
  /// (one group per row, the default), per_group(g) (the reference's `groupsize`; g >= 1
  /// and g <= cols), or per_block() (the policy's block: MX 32, NVFP4 16).  Anything else
  /// (group size 0, a group larger than the row, per_tensor, per_token) throws
  /// std::invalid_argument.
  granularity groups = granularity::per_channel();
  /// λ = percdamp · mean(diag H) is added to diag H (reference `percdamp`).  >= 0.
  double percdamp = 0.01;
  /// Quantize columns by descending diag H (reference `actorder`).  With groups shorter
  /// than a row and no static_groups, the groups are runs of g columns of that order,
  /// fitted when they start (AutoGPTQ's `desc_act`); the result's quantized tensor then
  /// has a group index (quantized_tensor::group_index(), AutoGPTQ's `g_idx`).
  bool act_order = false;
  /// Fit every group's parameters up front on the original weights (reference
  /// `static_groups`): groups of consecutive original columns, also with act_order.
  bool static_groups = false;
  /// If the damped H is not positive definite: this many retries, the damping fraction
  /// 10x larger each time; then std::domain_error.
  int max_damping_retries = 3;
  /// Run the Cholesky of H in double instead of float (docs/gptq.md, "Precision").
  bool factor_in_double = false;
};

/// What gptq() returns; everything in the ORIGINAL column order.
template <class Policy>
struct gptq_result {
  /// Codes + per-group params (+ the prepared policy): group j of row r covers columns
  /// [j*g, min((j+1)*g, cols)), granularity per_group(g), or per_channel for one group;
  /// with act_order's dynamic groups, the columns group_index() names (group j: the
  /// columns at positions [j*g, (j+1)*g) of the quantization order).
  quantized_tensor<Policy> quantized;
  row_major_matrixf dequantized;  ///< Ŵ = quantized.dequantize(), rows x cols
  /// Per column: Σ_rows (w̃ - q)² / (2 Hinv_jj²) = Σ_rows ((w̃ - q) F_jj)² / 2 (w̃ the value
  /// quantized), the reference's Losses summed over rows.
  /// Their sum equals ½ Σ_rows (w - ŵ)(H + λI)(w - ŵ)ᵀ with w the (dead-zeroed) input row.
  std::vector<double> column_losses;
  double total_loss = 0;                  ///< Σ column_losses
  double damping = 0;                     ///< λ actually added to diag H
  int damping_retries = 0;                ///< retries that were needed (0 normally)
  std::vector<std::size_t> dead_columns;  ///< columns with H_ii == 0 (quantized as zero)
  /// What went quietly worse than asked, in words; empty normally.  The reference's
  /// behaviour is kept in each case: dead columns (some, or all: an all-zero Ŵ, as from
  /// all-zero calibration activations) and damping raised by the retries.
  std::vector<std::string> warnings;
};

namespace detail::gptq_steps {

/// Columns per group (cols for one group per row), checked as quantize() checks them (see
/// gptq_options::groups).
template <class Policy>
std::size_t group_columns(const Policy& policy, std::size_t rows, std::size_t cols,
                          const gptq_options& opt) {
  const granularity::kind kind = opt.groups.type();
  if (kind == granularity::kind::per_tensor || kind == granularity::kind::per_token) {
    throw std::invalid_argument(
        "lowp::gptq: groups must be per_channel(), per_group(g) or per_block() (GPTQ fits its "
        "groups along each row of W)");
  }
  return detail::resolve_grid("lowp::gptq", opt.groups, policy, rows, cols).group;
}

/// gptq()'s contract (see there); throws std::invalid_argument or std::domain_error.
LOWP_SOLVERS_API void check_arguments(const float* W, std::size_t rows, std::size_t cols,
                                      const Eigen::MatrixXf& H, const gptq_options& opt);

/// Dead columns, inputs that are always zero (nothing to preserve): where H_ii == 0,
/// H_ii = 1 and W's column i = 0.  Returns their indices.
LOWP_SOLVERS_API std::vector<std::size_t> remove_dead_columns(row_major_matrixf& W,
                                                              Eigen::MatrixXf& H);

/// The reference's static groups: every group's params fitted on W up front, row-major
/// (rows x groups per row), groups of g consecutive columns.
template <class Policy>
void fit_static_groups(Policy& policy, const row_major_matrixf& W, std::size_t g,
                       std::vector<typename Policy::params>& params) {
  const auto rows = static_cast<std::size_t>(W.rows()), cols = static_cast<std::size_t>(W.cols());
  const std::size_t ngroups = (cols + g - 1) / g;
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t k = 0; k < ngroups; ++k) {
      const std::size_t c0 = k * g, n = std::min(g, cols - c0);
      params[r * ngroups + k] = policy.fit(W.data() + r * cols + c0, n, 1, r);
    }
  }
}

/// Column j of the quantization order is original column indices()[j].
using column_permutation = Eigen::PermutationMatrix<Eigen::Dynamic, Eigen::Dynamic, Eigen::Index>;

/// act_order: columns by descending diag H.  Ties are ordered by column index (stable
/// sort; the reference's torch.argsort is not stable).
LOWP_SOLVERS_API column_permutation order_by_diagonal(const Eigen::MatrixXf& H);

/// W ← W P and H ← Pᵀ H P: the reference's W[:, perm] and H[perm][:, perm].
LOWP_SOLVERS_API void permute(const column_permutation& P, row_major_matrixf& W,
                              Eigen::MatrixXf& H);

/// The factor that replaces the reference's Hinv = chol((H + λI)⁻¹, upper) = F⁻¹, where
/// F is upper triangular with H + λI = F Fᵀ.
struct inverse_free_factor {
  row_major_matrixf V;   ///< F diag(F)⁻¹: unit upper triangular, zeros below the diagonal
  std::vector<float> f;  ///< diag(F) = 1 / diag(Hinv)
  double damping = 0;    ///< λ
  int retries = 0;       ///< damping retries it took
};

/// λ = percdamp · mean(diag H), then the factor of H + λI.  If H + λI is not positive
/// definite (the float Cholesky fails, or F has a non-finite or non-positive diagonal,
/// or V a non-finite entry), the fraction is retried max_damping_retries times, each
/// time 10x larger (from 1e-3 if percdamp was 0), then std::domain_error; the reference
/// simply fails.
LOWP_SOLVERS_API inverse_free_factor damp_and_factor(const Eigen::MatrixXf& H,
                                                     const gptq_options& opt);

/// The starting values of a group of n columns that starts the block at column i1, for
/// every row: Start = W[:, i1:i1+n] + Shift[:, i1:i1+n] V_gg⁻¹, with V_gg V's n x n
/// diagonal block at i1 (column_loop::start_block).
LOWP_SOLVERS_API void group_start_from_block(const row_major_matrixf& W,
                                             const row_major_matrixf& Shift,
                                             const row_major_matrixf& V, std::size_t i1,
                                             std::size_t n, row_major_matrixf& Start);

/// The lazy update of the block [i1, i2) to every later column, one GEMM:
/// Shift[:, i2:] += Delta[:, :i2-i1] · V[i1:i2, i2:] (column_loop::update_later_columns).
LOWP_SOLVERS_API void add_later_shifts(row_major_matrixf& Shift, const row_major_matrixf& Delta,
                                       const row_major_matrixf& V, std::size_t i1, std::size_t i2);

/// The column loop (the paper's Algorithm 1) in the V form, one block of columns at a
/// time.  W holds the original weights w; Shift accumulates w̃ - w, what the error
/// updates have added so far, so the current weight is w̃ = w + Shift, and with δ = w - q
///
///   w̃_j = w_j + Σ_{k<j} δ_k V_kj         (the reference's updates, docs/gptq.md)
///
/// in-block for tiles of rows (quantize_tile), for later blocks as one GEMM per block
/// (update_later_columns).  Codes, Ŵ and params are written in the original column order.
template <class Policy>
class column_loop {
 public:
  using storage_type = typename Policy::format::storage_type;
  using params_type = typename Policy::params;

  /// W (rows x cols, permuted) and F stay referenced; params is filled in already for
  /// static params, else by the group fits; codes (rows x cols) and Q (Ŵ, rows x cols)
  /// are written.
  column_loop(Policy& policy, const row_major_matrixf& W, const inverse_free_factor& F,
              const column_permutation& perm, std::size_t group, std::size_t block,
              bool static_params, std::vector<params_type>& params,
              std::vector<storage_type>& codes, row_major_matrixf& Q)
      : policy_(policy),
        W_(W),
        V_(F.V),
        f_(F.f),
        perm_(perm),
        rows_(static_cast<std::size_t>(W.rows())),
        cols_(static_cast<std::size_t>(W.cols())),
        g_(group),
        B_(block),
        ngroups_((cols_ + g_ - 1) / g_),
        static_params_(static_params),
        params_(params),
        codes_(codes),
        Q_(Q),
        Shift_(row_major_matrixf::Zero(W.rows(), W.cols())),
        Delta_(W.rows(), to_index(block)),
        Loss_(W.rows(), to_index(block)),
        current_(static_params ? 0 : rows_) {}

  /// Starts the block of columns [i1, i2).  A group that starts at the block's start and
  /// ends inside it (the default, group = block) gets its starting values here, for all
  /// rows at once: the forward substitution of group_start_values, z V_gg = s, as one
  /// GEMM with V_gg⁻¹ (= Hinv's diagonal block scaled; faster here than Eigen's
  /// triangular solve, and the same numbers up to float rounding).
  void start_block(std::size_t i1, std::size_t i2) {
    i1_ = i1;
    i2_ = i2;
    const std::size_t g0 = std::min(g_, cols_ - i1);
    start_from_block_ = !static_params_ && i1 > 0 && i1 % g_ == 0 && g0 <= i2 - i1;
    if (start_from_block_) group_start_from_block(W_, Shift_, V_, i1, g0, Start_);
  }

  /// Rows per tile of quantize_tile() for a deterministic policy (a stochastic one takes
  /// tiles of one row, so that its random stream is drawn in row order).
  static constexpr std::size_t tile_rows = 32;

  /// Rows per tile: tile_rows, or 1 for a stochastic policy (quantize_batch() draws in
  /// the order of its elements: one row's columns in order, as the reference does).
  std::size_t tile_height() const { return policy_.rounding_config().stochastic ? 1 : tile_rows; }
  /// Tiles that cover the rows (the last may be partial).
  std::size_t tiles() const {
    const std::size_t h = tile_height();
    return (rows_ + h - 1) / h;
  }

  /// Quantizes tile `tile` of the block: rows [tile·h, min((tile+1)·h, rows)), h =
  /// tile_height().  Tiles are independent (parallel_rows over tiles).
  void quantize_tile(std::size_t tile) {
    if (tile_height() == 1) {
      quantize_tile_rows<1>(tile);
    } else {
      quantize_tile_rows<tile_rows>(tile * tile_rows);
    }
  }

  /// Adds the block's losses, summed over rows, to column_losses (original order).
  void add_block_losses(std::vector<double>& column_losses) {
    const std::size_t count = i2_ - i1_;
    block_losses_.assign(count, 0.0);
    for (std::size_t r = 0; r < rows_; ++r) {  // along Loss's rows: it is larger than L2
      const double* loss = Loss_.data() + r * B_;
      for (std::size_t j = 0; j < count; ++j) block_losses_[j] += loss[j];
    }
    const Eigen::Index* perm = perm_.indices().data();
    for (std::size_t j = 0; j < count; ++j) {
      column_losses[static_cast<std::size_t>(perm[i1_ + j])] += block_losses_[j];
    }
  }

  /// The lazy update of every column past the block, one GEMM (the reference's
  /// W[:, i2:] -= Err1 · Hinv[i1:i2, i2:]): Shift[:, i2:] += Δ · V[i1:i2, i2:].
  void update_later_columns() {
    if (i2_ < cols_) add_later_shifts(Shift_, Delta_, V_, i1_, i2_);
  }

 private:
  /// A tile's block, transposed: column j of the block is the T values [j·T, (j+1)·T),
  /// one per row of the tile (rows past the matrix's end are padding: zeros).
  template <std::size_t T>
  struct tile_block {
    explicit tile_block(std::size_t count)
        : w(count * T, 0.0f),
          shift(count * T, 0.0f),
          q(count * T),
          delta(count * T),
          loss(count * T),
          code(count * T) {}
    std::vector<float> w;      // the original weights w
    std::vector<float> shift;  // the shifts w̃ - w, updated in place
    std::vector<float> q;      // the quantized values
    std::vector<float> delta;  // δ = w - q
    std::vector<double> loss;  // (w̃ - q)² F_jj² / 2
    std::vector<storage_type> code;
  };

  /// Quantizes rows [r0, r0 + nt) of the block, nt = min(T, rows - r0), one column at a
  /// time for all of them: for each column, the group's params where a group starts (per
  /// row), x = w̃ for the T rows, one quantize_batch() (encode + decode, each row with its
  /// own params), the losses and δ = w - q for the T rows at once.  The tile's block is
  /// held transposed (tile_block: a column's T values contiguous), so every step is a
  /// loop over the T rows.  Each row sees exactly the arithmetic of a row on its own (the
  /// same operations in the same order: rows never mix), so the result does not depend on
  /// T or on the row's place in its tile.  Padding rows (past the matrix's end) carry
  /// zeros and the first row's params, and are never stored.
  ///
  /// The error updates (the paper's eq. (2)) in sub-blocks of at most S columns, each
  /// ending before the next group start: inside one, column j's shift gets the updates of
  /// the sub-block's earlier columns just before j is quantized (in column order, as
  /// updating after each column would add them); to the rest of the block they go once at
  /// the sub-block's end (update_rest_of_block).
  template <std::size_t T>
  void quantize_tile_rows(std::size_t r0) {
    const std::size_t cols = cols_, g = g_, i1 = i1_, count = i2_ - i1_;
    const std::size_t nt = std::min(T, rows_ - r0);
    const float* V = V_.data();
    const Eigen::Index* perm = perm_.indices().data();
    tile_block<T> b(count);
    for (std::size_t t = 0; t < nt; ++t) {
      const float* w = W_.data() + (r0 + t) * cols + i1;
      const float* shift = Shift_.data() + (r0 + t) * cols + i1;
      for (std::size_t j = 0; j < count; ++j) {
        b.w[j * T + t] = w[j];
        b.shift[j * T + t] = shift[j];
      }
    }
    params_type p[T];  // each row's current params
    auto pad = [&] {
      for (std::size_t t = nt; t < T; ++t) p[t] = p[0];
    };
    if (!static_params_) {
      for (std::size_t t = 0; t < nt; ++t) p[t] = current_[r0 + t];
      pad();
    }
    std::size_t static_group = ngroups_;  // none yet
    std::vector<float> scratch;
    float x[T];
    constexpr std::size_t S = 16;
    for (std::size_t j0 = 0; j0 < count;) {
      std::size_t j1 = std::min(j0 + S, count);
      if (!static_params_) j1 = std::min(j1, ((i1 + j0) / g + 1) * g - i1);
      for (std::size_t j = j0; j < j1; ++j) {
        const std::size_t c = i1 + j;                         // position in the order
        const auto orig = static_cast<std::size_t>(perm[c]);  // original column
        if (static_params_) {
          if (orig / g != static_group) {
            static_group = orig / g;
            for (std::size_t t = 0; t < nt; ++t) p[t] = params_[(r0 + t) * ngroups_ + static_group];
            pad();
          }
        } else if (c % g == 0) {
          const std::size_t n = std::min(g, cols - c);
          for (std::size_t t = 0; t < nt; ++t) {
            p[t] = policy_.fit(group_start_values<T>(b, r0 + t, t, j, n, scratch), n, 1, r0 + t);
            params_[(r0 + t) * ngroups_ + c / g] = p[t];
          }
          pad();
        }
        // w̃_j = w_j + shift_j, the shift completed here by the sub-block's earlier columns
        // (eq. (2), added in column order as updates after each column would add them).
        const float* w = b.w.data() + j * T;
        float shift[T];
        for (std::size_t t = 0; t < T; ++t) shift[t] = b.shift[j * T + t];
        for (std::size_t a = j0; a < j; ++a) {
          const float v = V[(i1 + a) * cols + c];
          const float* da = b.delta.data() + a * T;
          for (std::size_t t = 0; t < T; ++t) shift[t] += da[t] * v;
        }
        for (std::size_t t = 0; t < T; ++t) x[t] = w[t] + shift[t];
        float* q = b.q.data() + j * T;
        quantize_batch(policy_, x, T, p, 1, b.code.data() + j * T, q);
        // The reference's loss (w̃ - q)² / (2 Hinv_jj²), with 1 / Hinv_jj = F_jj.
        const float fc = f_[c];
        double* loss = b.loss.data() + j * T;
        float* delta = b.delta.data() + j * T;
        for (std::size_t t = 0; t < T; ++t) {
          const double e = static_cast<double>(x[t] - q[t]) * static_cast<double>(fc);
          loss[t] = 0.5 * e * e;
          delta[t] = w[t] - q[t];
        }
      }
      update_rest_of_block<T>(b, j0, j1);
      j0 = j1;
    }
    // Codes and Ŵ at their original columns, δ and the losses into the block's rows x
    // block matrices, row by row; the params of the current groups for the next block.
    // (The block's shifts are not needed any more.)
    for (std::size_t t = 0; t < nt; ++t) {
      const std::size_t r = r0 + t;
      storage_type* codes = codes_.data() + r * cols;
      float* What = Q_.data() + r * cols;
      float* delta = Delta_.data() + r * B_;
      double* loss = Loss_.data() + r * B_;
      for (std::size_t j = 0; j < count; ++j) {
        const auto orig = static_cast<std::size_t>(perm[i1 + j]);
        codes[orig] = b.code[j * T + t];
        What[orig] = b.q[j * T + t];
        delta[j] = b.delta[j * T + t];
        loss[j] = b.loss[j * T + t];
      }
      if (!static_params_) current_[r0 + t] = p[t];
    }
  }

  /// The values a group starts from: the current values (the reference's w after the
  /// updates from columns 0..c-1) of the n columns of the group that starts at
  /// c = i1 + j, in row r (row t of the tile b).  Every in-block shift is complete here (a
  /// group start begins a sub-block).
  template <std::size_t T>
  const float* group_start_values(const tile_block<T>& b, std::size_t r, std::size_t t,
                                  std::size_t j, std::size_t n, std::vector<float>& scratch) const {
    if (start_from_block_ && j == 0) return Start_.data() + r * n;
    const std::size_t cols = cols_, i1 = i1_, i2 = i2_, count = i2_ - i1_;
    const float* V = V_.data();
    const std::size_t c = i1 + j, in_block = std::min(n, count - j);
    // First the shifts s_t = Σ_{k<c} δ_k V_kt; columns past the block end still lack
    // this block's part, added here.
    scratch.resize(n);
    for (std::size_t u = 0; u < in_block; ++u) scratch[u] = b.shift[(j + u) * T + t];
    float* past = scratch.data() + in_block;  // columns i2 .. c+n-1
    const std::size_t m = n - in_block;
    for (std::size_t u = 0; u < m; ++u) past[u] = Shift_.data()[r * cols + i2 + u];
    for (std::size_t k = 0; k < j; ++k) {  // along rows of V
      const float dk = b.delta[k * T + t];
      const float* vk = V + (i1 + k) * cols + i2;
      for (std::size_t u = 0; u < m; ++u) past[u] += dk * vk[u];
    }
    // s_t is w̃_t - w_t only for t = c: the reference's partial update of a later
    // column t is z_t with z_t = s_t - Σ_{c<=a<t} z_a V_at (its Hinv = F⁻¹ restricted
    // to the group is the inverse of F's diagonal block), a forward substitution with
    // the group's block of V: n²/2 per row and group.  Nothing to do at c = 0.
    if (c > 0) {
      for (std::size_t a = 0; a + 1 < n; ++a) {
        const float za = scratch[a];
        const float* va = V + (c + a) * cols + c;  // row c+a of V, from column c
        for (std::size_t u = a + 1; u < n; ++u) scratch[u] -= za * va[u];
      }
    }
    for (std::size_t u = 0; u < in_block; ++u) scratch[u] += b.w[(j + u) * T + t];
    for (std::size_t u = 0; u < m; ++u) past[u] += W_.data()[r * cols + i2 + u];
    return scratch.data();
  }

  /// The sub-block [j0, j1)'s updates to the rest of the block (columns j1 .. end) for
  /// the tile's rows: shift_k += Σ_{j0<=a<j1} δ_a V_ak, in strips of H rows and four
  /// columns held in registers (4 x H accumulators; each V_ak is read once per strip).
  /// Per row the same sum in the same order as one row on its own.
  template <std::size_t T>
  void update_rest_of_block(tile_block<T>& b, std::size_t j0, std::size_t j1) const {
    constexpr std::size_t H = T < 16 ? T : 16;
    static_assert(T % H == 0, "whole strips");
    const std::size_t cols = cols_, i1 = i1_, count = i2_ - i1_;
    const float* V = V_.data();
    for (std::size_t h = 0; h < T; h += H) {
      float* shift = b.shift.data() + h;
      const float* delta = b.delta.data() + h;
      std::size_t k = j1;
      for (; k + 4 <= count; k += 4) {
        float a0[H], a1[H], a2[H], a3[H];
        float* s = shift + k * T;
        for (std::size_t t = 0; t < H; ++t) {
          a0[t] = s[t];
          a1[t] = s[T + t];
          a2[t] = s[2 * T + t];
          a3[t] = s[3 * T + t];
        }
        for (std::size_t a = j0; a < j1; ++a) {
          const float* da = delta + a * T;
          const float* va = V + (i1 + a) * cols + i1 + k;
          const float v0 = va[0], v1 = va[1], v2 = va[2], v3 = va[3];
          for (std::size_t t = 0; t < H; ++t) {
            a0[t] += da[t] * v0;
            a1[t] += da[t] * v1;
            a2[t] += da[t] * v2;
            a3[t] += da[t] * v3;
          }
        }
        for (std::size_t t = 0; t < H; ++t) {
          s[t] = a0[t];
          s[T + t] = a1[t];
          s[2 * T + t] = a2[t];
          s[3 * T + t] = a3[t];
        }
      }
      for (; k < count; ++k) {
        float acc[H];
        float* s = shift + k * T;
        for (std::size_t t = 0; t < H; ++t) acc[t] = s[t];
        for (std::size_t a = j0; a < j1; ++a) {
          const float v = V[(i1 + a) * cols + i1 + k];
          const float* da = delta + a * T;
          for (std::size_t t = 0; t < H; ++t) acc[t] += da[t] * v;
        }
        for (std::size_t t = 0; t < H; ++t) s[t] = acc[t];
      }
    }
  }

  Policy& policy_;
  const row_major_matrixf& W_;
  const row_major_matrixf& V_;
  const std::vector<float>& f_;
  const column_permutation& perm_;
  std::size_t rows_, cols_, g_, B_, ngroups_;
  bool static_params_;
  std::vector<params_type>& params_;
  std::vector<storage_type>& codes_;
  row_major_matrixf& Q_;
  row_major_matrixf Shift_;  // w̃ - w
  row_major_matrixf Delta_;  // δ = w - q of the block, rows x block
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> Loss_;  // rows x block
  row_major_matrixf Start_;           // a group's current values when it starts at a block start
  std::vector<params_type> current_;  // the params of each row's current group
  std::vector<double> block_losses_;
  std::size_t i1_ = 0, i2_ = 0;  // the current block
  bool start_from_block_ = false;
};

/// The silent degradations of a finished run, in words (gptq_result::warnings).
template <class Result>
std::vector<std::string> warnings_of(const Result& res, std::size_t cols, const gptq_options& opt) {
  std::vector<std::string> w;
  const std::size_t dead = res.dead_columns.size();
  if (dead == cols) {
    w.push_back(
        "lowp::gptq: every column of H is zero (all-zero calibration activations?), so "
        "every column is dead and the quantized W is all zero");
  } else if (dead > 0) {
    w.push_back("lowp::gptq: " + std::to_string(dead) + " of " + std::to_string(cols) +
                " columns have H_ii = 0 (inputs never active in the calibration data) and are "
                "quantized as zero (dead_columns lists them)");
  }
  if (res.damping_retries > 0) {
    w.push_back("lowp::gptq: H + lambda I was not positive definite at percdamp = " +
                std::to_string(opt.percdamp) + "; damping raised " +
                std::to_string(res.damping_retries) +
                " time(s) to lambda = " + std::to_string(res.damping));
  }
  return w;
}

}  // namespace detail::gptq_steps

/// GPTQ-quantizes W (rows x cols, row-major; row = output channel) given the Hessian H
/// (cols x cols, from hessian_accumulator) with the group-quantizer `policy`.
///
/// Contract: rows, cols >= 1; H square with cols rows; W and H finite; block_size >= 1;
/// percdamp finite and >= 0; opt.groups as quantize() takes them (gptq_options::groups).
/// Violations throw std::invalid_argument (shapes, options) or std::domain_error (NaN/Inf,
/// H not positive definite after the retries, mean(diag H) <= 0).  H must be symmetric
/// (it is not checked; the Cholesky reads its lower triangle, act_order both).
template <class Policy>
gptq_result<Policy> gptq(const float* W, std::size_t rows, std::size_t cols,
                         const Eigen::MatrixXf& H, Policy policy, const gptq_options& opt = {}) {
  namespace steps = detail::gptq_steps;
  using storage_type = typename Policy::format::storage_type;
  using params_type = typename Policy::params;
  static_assert(std::is_trivially_copyable_v<params_type>,
                "Policy::params must be trivially copyable");

  steps::check_arguments(W, rows, cols, H, opt);
  const std::size_t g = steps::group_columns(policy, rows, cols, opt);
  const std::size_t ngroups = (cols + g - 1) / g;
  const Eigen::Index R = detail::to_index(rows), C = detail::to_index(cols);
  gptq_result<Policy> res;

  row_major_matrixf Wd = Eigen::Map<const row_major_matrixf>(W, R, C);
  Eigen::MatrixXf Hd = H;
  res.dead_columns = steps::remove_dead_columns(Wd, Hd);

  // Static groups, and per-channel params with act_order, are fitted up front on W in its
  // original column order; other groups when they start, on their current values.
  policy.prepare(Wd.data(), rows, cols, g);
  const bool static_params = opt.static_groups || (opt.act_order && g == cols);
  std::vector<params_type> params(rows * ngroups);
  if (static_params) steps::fit_static_groups(policy, Wd, g, params);

  steps::column_permutation perm(C);
  perm.setIdentity();
  if (opt.act_order) {
    perm = steps::order_by_diagonal(Hd);
    steps::permute(perm, Wd, Hd);
  }

  const steps::inverse_free_factor F = steps::damp_and_factor(Hd, opt);
  res.damping = F.damping;
  res.damping_retries = F.retries;

  // The blocks of B columns (Algorithm 1).
  std::vector<storage_type> codes(rows * cols, storage_type{});
  res.dequantized.resize(R, C);
  res.column_losses.assign(cols, 0.0);
  const std::size_t B = std::min(opt.block_size, cols);
  // A stochastic policy's encode() advances its random stream (scale.hpp): rows in order.
  const bool threaded = !policy.rounding_config().stochastic;
  steps::column_loop<Policy> loop(policy, Wd, F, perm, g, B, static_params, params, codes,
                                  res.dequantized);
  for (std::size_t i1 = 0; i1 < cols; i1 += B) {
    const std::size_t i2 = std::min(i1 + B, cols), count = i2 - i1;
    loop.start_block(i1, i2);
    detail::parallel_rows(loop.tiles(), loop.tile_height() * count * count, threaded,
                          [&](std::size_t t) { loop.quantize_tile(t); });
    loop.add_block_losses(res.column_losses);
    loop.update_later_columns();
  }

  res.total_loss = std::accumulate(res.column_losses.begin(), res.column_losses.end(), 0.0);
  res.warnings = steps::warnings_of(res, cols, opt);
  const granularity gran = g == cols ? granularity::per_channel() : granularity::per_group(g);
  res.quantized = quantized_tensor<Policy>::from_codes(std::move(policy), rows, cols, gran,
                                                       codes.data(), std::move(params));
  if (!static_params && opt.act_order && g < cols) {
    // Dynamic groups: the group of column c is its position in the order, divided by g
    // (AutoGPTQ: g_idx = [i // groupsize for i in range(columns)][invperm]).
    std::vector<std::uint32_t> g_idx(cols);
    const Eigen::Index* order = perm.indices().data();
    for (std::size_t pos = 0; pos < cols; ++pos)
      g_idx[static_cast<std::size_t>(order[pos])] = static_cast<std::uint32_t>(pos / g);
    res.quantized.set_group_index(std::move(g_idx));
  }
  return res;
}

/// gptq() on an Eigen matrix (any storage order; copied to row-major if needed).
template <class Policy, class Derived>
gptq_result<Policy> gptq(const Eigen::MatrixBase<Derived>& W, const Eigen::MatrixXf& H,
                         Policy policy, const gptq_options& opt = {}) {
  const row_major_matrixf Wr = W.template cast<float>();
  return gptq(Wr.data(), static_cast<std::size_t>(Wr.rows()), static_cast<std::size_t>(Wr.cols()),
              H, std::move(policy), opt);
}

/// The policies whose gptq() lowp::solvers_compiled holds ready-made (the compiled mode,
/// detail/solvers_api.hpp): the paper's weight formats, INT4/INT8 and FP4/FP8 E4M3, under
/// absmax, M1 and M2, asymmetric min-max INT (the GPTQ reference's default), MX and NVFP4.
/// X(policy) for each.
// clang-format off
#define LOWP_GPTQ_COMPILED_POLICIES(X)                                                       \
  X(absmax<int4>) X(absmax<int8>) X(minmax<uint4>) X(minmax<uint8>)                         \
  X(absmax<float4_e2m1fn>) X(absmax<float8_e4m3fn>)                                         \
  X(m1<float4_e2m1fn>) X(m2<float4_e2m1fn>) X(m1<float8_e4m3fn>) X(m2<float8_e4m3fn>)       \
  X(mx<float4_e2m1fn>) X(mx<float8_e4m3fn>) X(nvfp4)
// clang-format on

#if defined(LOWP_SOLVERS_COMPILED)
// In the compiled mode these instantiations are made once, in the library: a translation
// unit that calls gptq() with one of these policies compiles none of it.
#define LOWP_GPTQ_EXTERN_TEMPLATE(P)                                             \
  extern template gptq_result<P> gptq<P>(const float*, std::size_t, std::size_t, \
                                         const Eigen::MatrixXf&, P, const gptq_options&);
LOWP_GPTQ_COMPILED_POLICIES(LOWP_GPTQ_EXTERN_TEMPLATE)
#undef LOWP_GPTQ_EXTERN_TEMPLATE
#endif

// ---------------------------------------------------------------------------------------
// The non-template steps' definitions: here in header-only mode, in lowp::solvers_compiled
// in the compiled mode (detail/solvers_api.hpp).
// ---------------------------------------------------------------------------------------
#if LOWP_SOLVERS_HEADER_BODIES

namespace detail::gptq_steps {

/// V and f of H + λI, without inverting anything: F = J L J for J (H + λI) J = L Lᵀ, J
/// the exchange matrix (docs/gptq.md, "The V form").  Returns false when the damped H is
/// not numerically positive definite in Scalar.  H must be symmetric.
///
/// Index reversal is a buffer reversal: for a symmetric column-major H, the row-major
/// matrix R(i, j) = H(n-1-i, n-1-j) = J H J is H's buffer read backwards, and
/// F(i, j) = L(n-1-i, n-1-j).
template <class Scalar>
bool factor_inverse_free(const Eigen::MatrixXf& H, double lambda, inverse_free_factor& out) {
  using Mat = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Index n = H.rows();
  const std::size_t nn = static_cast<std::size_t>(H.size());
  Mat R(n, n);
  const float* h = H.data();
  Scalar* rp = R.data();
  for (std::size_t t = 0; t < nn; ++t) rp[t] = static_cast<Scalar>(h[nn - 1 - t]);
  R.diagonal().array() += static_cast<Scalar>(lambda);
  if (!cholesky_lower_inplace<Mat>(R)) return false;
  std::vector<Scalar> inv(static_cast<std::size_t>(n));
  std::vector<float>& f = out.f;
  f.resize(static_cast<std::size_t>(n));
  for (Eigen::Index j = 0; j < n; ++j) {
    const Scalar d = R(n - 1 - j, n - 1 - j);
    if (!(std::isfinite(d) && d > 0)) return false;
    inv[static_cast<std::size_t>(j)] = Scalar(1) / d;
    f[static_cast<std::size_t>(j)] = static_cast<float>(d);
  }
  row_major_matrixf& V = out.V;
  V.resize(n, n);
  bool finite = true;
  for (Eigen::Index i = 0; i < n; ++i) {
    const Scalar* lrow = rp + (n - 1 - i) * n;  // row n-1-i of L, read backwards
    float* vrow = V.data() + i * n;
    for (Eigen::Index j = 0; j < i; ++j) vrow[j] = 0.0f;
    for (Eigen::Index j = i; j < n; ++j) {
      vrow[j] = static_cast<float>(lrow[n - 1 - j] * inv[static_cast<std::size_t>(j)]);
      finite &= std::isfinite(vrow[j]);
    }
  }
  return finite;
}

LOWP_SOLVERS_API void check_arguments(const float* W, std::size_t rows, std::size_t cols,
                                      const Eigen::MatrixXf& H, const gptq_options& opt) {
  if (rows == 0 || cols == 0 || W == nullptr) {
    throw std::invalid_argument("lowp::gptq: W is empty");
  }
  if (H.rows() != H.cols() || static_cast<std::size_t>(H.rows()) != cols) {
    throw std::invalid_argument("lowp::gptq: H is " + std::to_string(H.rows()) + "x" +
                                std::to_string(H.cols()) + ", expected " + std::to_string(cols) +
                                "x" + std::to_string(cols) + " (W has " + std::to_string(cols) +
                                " columns)");
  }
  if (opt.block_size == 0) throw std::invalid_argument("lowp::gptq: block_size must be >= 1");
  if (!(std::isfinite(opt.percdamp) && opt.percdamp >= 0)) {
    throw std::invalid_argument("lowp::gptq: percdamp must be finite and >= 0");
  }
  if (opt.max_damping_retries < 0) {
    throw std::invalid_argument("lowp::gptq: max_damping_retries < 0");
  }
  require_finite<std::domain_error>("lowp::gptq", "W", W, rows, cols, true);
  require_finite<std::domain_error>("lowp::gptq", "H", H);
}

LOWP_SOLVERS_API std::vector<std::size_t> remove_dead_columns(row_major_matrixf& W,
                                                              Eigen::MatrixXf& H) {
  std::vector<std::size_t> dead;
  for (Eigen::Index i = 0; i < H.cols(); ++i) {
    if (H(i, i) == 0.0f) {
      H(i, i) = 1.0f;
      W.col(i).setZero();
      dead.push_back(static_cast<std::size_t>(i));
    }
  }
  return dead;
}

LOWP_SOLVERS_API column_permutation order_by_diagonal(const Eigen::MatrixXf& H) {
  column_permutation P(H.rows());
  P.setIdentity();
  Eigen::Index* p = P.indices().data();
  std::stable_sort(p, p + P.size(),
                   [&](Eigen::Index a, Eigen::Index b) { return H(a, a) > H(b, b); });
  return P;
}

LOWP_SOLVERS_API void permute(const column_permutation& P, row_major_matrixf& W,
                              Eigen::MatrixXf& H) {
  row_major_matrixf WP = W * P;
  Eigen::MatrixXf PHP = H(P.indices(), P.indices());  // H(p_i, p_j), column by column
  W.swap(WP);
  H.swap(PHP);
}

LOWP_SOLVERS_API inverse_free_factor damp_and_factor(const Eigen::MatrixXf& H,
                                                     const gptq_options& opt) {
  const double mean_diag = static_cast<double>(H.diagonal().cast<double>().mean());
  if (!(mean_diag > 0)) {
    throw std::domain_error("lowp::gptq: mean(diag H) <= 0: H is not a Hessian");
  }
  inverse_free_factor F;
  double frac = opt.percdamp;
  for (int attempt = 0; attempt <= opt.max_damping_retries; ++attempt) {
    if (attempt > 0) frac = frac > 0 ? frac * 10 : 1e-3;
    F.damping = frac * mean_diag;
    const bool ok = opt.factor_in_double ? factor_inverse_free<double>(H, F.damping, F)
                                         : factor_inverse_free<float>(H, F.damping, F);
    if (ok) {
      F.retries = attempt;
      return F;
    }
  }
  throw std::domain_error(
      "lowp::gptq: H + lambda*I is not positive definite even with damping "
      "fraction " +
      std::to_string(frac) + " (after " + std::to_string(opt.max_damping_retries) + " retries)");
}

LOWP_SOLVERS_API void group_start_from_block(const row_major_matrixf& W,
                                             const row_major_matrixf& Shift,
                                             const row_major_matrixf& V, std::size_t i1,
                                             std::size_t n, row_major_matrixf& Start) {
  const Eigen::Index bi1 = to_index(i1), gn = to_index(n);
  const row_major_matrixf Vinv = V.block(bi1, bi1, gn, gn)
                                     .triangularView<Eigen::UnitUpper>()
                                     .solve(row_major_matrixf::Identity(gn, gn));
  Start.noalias() = Shift.middleCols(bi1, gn) * Vinv;
  Start += W.middleCols(bi1, gn);
}

LOWP_SOLVERS_API void add_later_shifts(row_major_matrixf& Shift, const row_major_matrixf& Delta,
                                       const row_major_matrixf& V, std::size_t i1, std::size_t i2) {
  const Eigen::Index rest = Shift.cols() - to_index(i2);
  const Eigen::Index bi1 = to_index(i1), bi2 = to_index(i2), cnt = to_index(i2 - i1);
  Shift.rightCols(rest).noalias() += Delta.leftCols(cnt) * V.block(bi1, bi2, cnt, rest);
}

}  // namespace detail::gptq_steps

#endif  // LOWP_SOLVERS_HEADER_BODIES

}  // namespace lowp
