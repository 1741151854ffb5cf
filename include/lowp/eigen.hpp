// lowp/eigen.hpp — Eigen glue for the quantizers and the metrics.
//
// Layer: quantization (Eigen).  Includes <Eigen/Core>, quantize.hpp and metrics.hpp; the
// only quantization header that needs Eigen (link lowp::solvers).
//
// Any dense Eigen expression is accepted (column- or row-major, blocks, maps); it is
// evaluated into a row-major float matrix first, since lowp's group layout is row-major
// (groups are consecutive columns of one row).  Double matrices are rounded to float
// first (the quantizers work on float data).  Results are column-major Eigen::MatrixXf.
#pragma once

#include <Eigen/Core>

#include "metrics.hpp"
#include "quantize.hpp"

namespace lowp {

/// Row-major float matrix: the layout lowp's quantizers read.
using row_major_matrixf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace detail {
template <class Derived>
row_major_matrixf to_row_major(const Eigen::MatrixBase<Derived>& m) {
  return m.template cast<float>();
}
inline std::size_t eigen_size(Eigen::Index n) noexcept {
  return static_cast<std::size_t>(n);
}

template <class A, class B>
void check_same_shape(const char* who, const Eigen::MatrixBase<A>& a,
                      const Eigen::MatrixBase<B>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols())
    throw std::invalid_argument(std::string(who) + ": shapes differ (" + std::to_string(a.rows()) +
                                " x " + std::to_string(a.cols()) + " vs " +
                                std::to_string(b.rows()) + " x " + std::to_string(b.cols()) + ")");
}

/// metric(x, y) of two matrices of one shape, through the metric's pointer form.
template <class A, class B>
double eigen_metric(const char* who, double (*metric)(const float*, const float*, std::size_t),
                    const Eigen::MatrixBase<A>& x, const Eigen::MatrixBase<B>& y) {
  check_same_shape(who, x, y);
  const row_major_matrixf a = to_row_major(x), b = to_row_major(y);
  return metric(a.data(), b.data(), eigen_size(a.size()));
}
}  // namespace detail

/// lowp::quantize on an Eigen matrix (rows = output channels / tokens).  Same contract
/// (std::invalid_argument for NaN/Inf naming the element, bad group sizes; an empty
/// matrix gives an empty tensor).
template <class Policy, class Derived>
quantized_tensor<Policy> quantize(Policy policy, const Eigen::MatrixBase<Derived>& W,
                                  granularity gran) {
  const row_major_matrixf w = detail::to_row_major(W);
  return quantize(std::move(policy), w.data(), detail::eigen_size(w.rows()),
                  detail::eigen_size(w.cols()), gran);
}

/// Quantize-dequantize of an Eigen matrix: the float matrix a model would see.
/// Same contract as lowp::fake_quantize.
template <class Policy, class Derived>
Eigen::MatrixXf fake_quantize(Policy policy, const Eigen::MatrixBase<Derived>& W,
                              granularity gran) {
  row_major_matrixf w = detail::to_row_major(W);
  fake_quantize(std::move(policy), w.data(), w.data(), detail::eigen_size(w.rows()),
                detail::eigen_size(w.cols()), gran);
  return w;
}

/// The dequantized values of q as an Eigen matrix.
template <class Policy>
Eigen::MatrixXf dequantize_matrix(const quantized_tensor<Policy>& q) {
  row_major_matrixf out(static_cast<Eigen::Index>(q.rows()), static_cast<Eigen::Index>(q.cols()));
  q.dequantize(out.data());
  return out;
}

// Metrics on Eigen matrices: the same definitions and contract as metrics.hpp, plus
// std::invalid_argument when the shapes differ.
template <class A, class B>
double mse(const Eigen::MatrixBase<A>& x, const Eigen::MatrixBase<B>& y) {
  return detail::eigen_metric("lowp::mse", mse, x, y);
}
template <class A, class B>
double sqnr_db(const Eigen::MatrixBase<A>& x, const Eigen::MatrixBase<B>& y) {
  return detail::eigen_metric("lowp::sqnr_db", sqnr_db, x, y);
}
template <class A, class B>
double max_abs_error(const Eigen::MatrixBase<A>& x, const Eigen::MatrixBase<B>& y) {
  return detail::eigen_metric("lowp::max_abs_error", max_abs_error, x, y);
}
template <class A, class B>
double relative_frobenius_error(const Eigen::MatrixBase<A>& x, const Eigen::MatrixBase<B>& y) {
  return detail::eigen_metric("lowp::relative_frobenius_error", relative_frobenius_error, x, y);
}
template <class A, class B>
double cosine_similarity(const Eigen::MatrixBase<A>& x, const Eigen::MatrixBase<B>& y) {
  return detail::eigen_metric("lowp::cosine_similarity", cosine_similarity, x, y);
}

/// ||W Xᵀ - W_hat Xᵀ||^2 / ||W Xᵀ||^2 for W, W_hat (rows x cols) and calibration inputs X
/// (tokens x cols, one token per row, as hessian_accumulator takes them).  Throws
/// std::invalid_argument on mismatched shapes or an empty one.
template <class A, class B, class C>
double layer_output_error(const Eigen::MatrixBase<A>& W, const Eigen::MatrixBase<B>& W_hat,
                          const Eigen::MatrixBase<C>& X) {
  detail::check_same_shape("lowp::layer_output_error", W, W_hat);
  if (W.cols() != X.cols())
    throw std::invalid_argument("lowp::layer_output_error: W has " + std::to_string(W.cols()) +
                                " columns but X (tokens x features) has " +
                                std::to_string(X.cols()));
  const row_major_matrixf w = detail::to_row_major(W), wh = detail::to_row_major(W_hat),
                          x = detail::to_row_major(X);
  return layer_output_error(w.data(), wh.data(), x.data(), detail::eigen_size(w.rows()),
                            detail::eigen_size(w.cols()), detail::eigen_size(x.rows()));
}

}  // namespace lowp
