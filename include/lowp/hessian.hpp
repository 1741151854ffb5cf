// lowp/hessian.hpp — the layer Hessian H = (2/N) Σ x xᵀ that GPTQ takes, accumulated from
// calibration activations streamed in batches.
//
// Layer: solvers (needs Eigen: link lowp::solvers, or lowp::solvers_compiled).  Includes
// eigen.hpp, detail/finite.hpp, detail/linalg.hpp and detail/solvers_api.hpp.
//
// For a linear layer y = W x and the squared output error ||W X - Ŵ X||², the Hessian with
// respect to a row of W is 2 X Xᵀ (GPTQ, Frantar et al., arXiv 2210.17323, sec. 3); the
// reference (IST-DASLab gptq.py, `GPTQ.add_batch`) keeps its running average over the
// N tokens seen so far, H = (2/N) Σ_t x_t x_tᵀ, and so does hessian_accumulator.
#pragma once

#include <Eigen/Dense>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "detail/finite.hpp"
#include "detail/linalg.hpp"
#include "detail/solvers_api.hpp"
#include "eigen.hpp"  // row_major_matrixf

namespace lowp {

/// Streams calibration activations into the GPTQ Hessian H = (2/N) Σ_t x_t x_tᵀ, where
/// x_t (one row of X) is a token's input to the layer and N counts every token so far.
///
/// Precision (tested against a double reference in tests/test_gptq.cpp): each batch's
/// Gram matrix XᵀX is computed in float by Eigen GEMMs (the O(t·n²) part, multi-threaded;
/// see detail::rank_update_lower); the running average across batches is kept in double,
/// H ← H·N/(N+t) + (2/(N+t))·XᵀX, as gptq.py's add_batch does in float.  So the only
/// float rounding is inside one batch's dot products (relative error ~ sqrt(t)·2⁻²⁴
/// typically), whatever the number of batches.
class hessian_accumulator {
 public:
  /// An empty accumulator for layers with `features` inputs.  Throws
  /// std::invalid_argument if features == 0.
  /// Allocates nothing yet: the n x n buffers are made by the first batch.
  explicit hessian_accumulator(std::size_t features) : features_(features) {
    if (features == 0) {
      throw std::invalid_argument("lowp::hessian_accumulator: features must be > 0");
    }
    (void)detail::to_index(features);
  }

  /// Adds a batch X of `tokens` rows, row-major, `features` floats per row.
  /// Throws std::invalid_argument if features differs from the constructor's or tokens == 0
  /// (or x is null), std::domain_error if X holds NaN or Inf or if the batch's XᵀX
  /// overflows float (finite activations of magnitude about 1e19 and above).  After a
  /// throw H is as it was: every earlier batch is kept.
  void add_batch(const float* x, std::size_t tokens, std::size_t features);

  /// The same for an Eigen expression with one token per row.
  template <class Derived>
  void add_batch(const Eigen::MatrixBase<Derived>& X) {
    const row_major_matrixf tmp = X.template cast<float>();
    add_batch(tmp.data(), static_cast<std::size_t>(tmp.rows()),
              static_cast<std::size_t>(tmp.cols()));
  }

  std::size_t features() const noexcept { return features_; }
  /// Tokens seen so far (N).
  std::uint64_t tokens() const noexcept { return tokens_; }
  /// H in double (the accumulator itself).  Throws std::logic_error before any batch.
  const Eigen::MatrixXd& hessian_double() const {
    if (tokens_ == 0) {
      throw std::logic_error("lowp::hessian_accumulator::hessian_double: no batch added yet");
    }
    return h_;
  }
  /// H rounded to float, what gptq() takes.  Throws std::logic_error before any batch.
  Eigen::MatrixXf hessian() const {
    if (tokens_ == 0) {
      throw std::logic_error("lowp::hessian_accumulator::hessian: no batch added yet");
    }
    return h_.cast<float>();
  }
  /// Forgets every batch (and frees the buffers).
  void reset() {
    h_.resize(0, 0);
    gram_.resize(0, 0);
    tokens_ = 0;
  }

 private:
  // The batch's Gram matrix is computed in float: finite activations can overflow it, and
  // an Inf there would make H non-finite for good.  Checked before H is touched.
  void require_finite_gram(Eigen::Index n) const;

  std::size_t features_;
  std::uint64_t tokens_ = 0;
  Eigen::MatrixXd h_;
  Eigen::MatrixXf gram_;
};

// The definitions: here in header-only mode, in lowp::solvers_compiled in the compiled
// mode (detail/solvers_api.hpp).
#if LOWP_SOLVERS_HEADER_BODIES

LOWP_SOLVERS_API void hessian_accumulator::add_batch(const float* x, std::size_t tokens,
                                                     std::size_t features) {
  if (features != features_) {
    throw std::invalid_argument("lowp::hessian_accumulator::add_batch: X has " +
                                std::to_string(features) + " features, expected " +
                                std::to_string(features_));
  }
  if (tokens == 0 || x == nullptr) {
    throw std::invalid_argument("lowp::hessian_accumulator::add_batch: empty batch");
  }
  detail::require_finite<std::domain_error>("lowp::hessian_accumulator::add_batch", "X", x, tokens,
                                            features, true);
  const Eigen::Index n = detail::to_index(features_);
  Eigen::Map<const row_major_matrixf> X(x, detail::to_index(tokens), n);
  // The Gram matrix's lower triangle, by panel GEMMs (rank_update_lower); only that
  // triangle is read below.  The first batch only writes h_.
  gram_.resize(n, n);
  detail::rank_update_lower<Eigen::MatrixXf, Eigen::MatrixXf>(gram_, X.transpose(), 1.0f, true);
  require_finite_gram(n);
  if (tokens_ == 0) h_.resize(n, n);
  const double total = static_cast<double>(tokens_) + static_cast<double>(tokens);
  const double keep = static_cast<double>(tokens_) / total;
  detail::axpby_symmetric_from_lower(h_, gram_, keep, 2.0 / total);
  tokens_ += tokens;
}

LOWP_SOLVERS_API void hessian_accumulator::require_finite_gram(Eigen::Index n) const {
  for (Eigen::Index j = 0; j < n; ++j) {  // column j's lower part: rows j..n-1, contiguous
    const float* col = gram_.data() + j * n + j;
    const auto len = static_cast<std::size_t>(n - j);
    if (detail::max_magnitude_bits(col, len, 1) < detail::nonfinite_magnitude) continue;
    const std::size_t i = detail::first_nonfinite(col, len);
    throw std::domain_error(
        std::string("lowp::hessian_accumulator::add_batch: X^T X overflows float (") +
        detail::nonfinite_name(col[i]) + " at " +
        detail::at_row_column(static_cast<std::size_t>(j) + i, static_cast<std::size_t>(j)) +
        "); scale the activations down.  H is unchanged");
  }
}

#endif  // LOWP_SOLVERS_HEADER_BODIES

}  // namespace lowp
