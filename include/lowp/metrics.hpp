// lowp/metrics.hpp — quantization error metrics.
//
// Layer: quantization.  Includes the standard library only.
//
// Every metric compares a reference x (the original values) with an approximation y
// (the dequantized ones), accumulating in double.  Pointer forms take n >= 1 values;
// vector forms also check that the sizes agree.  Bad input: n == 0 or mismatched sizes
// throw std::invalid_argument; NaN/Inf in the data are not errors here, they propagate
// into the result (a metric of a broken tensor is NaN or Inf, not an exception).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace lowp {
namespace detail {

inline void check_metric_size(const char* who, std::size_t n) {
  if (n == 0) throw std::invalid_argument(std::string(who) + ": empty input");
}
inline void check_metric_sizes(const char* who, std::size_t a, std::size_t b) {
  if (a != b)
    throw std::invalid_argument(std::string(who) + ": sizes differ (" + std::to_string(a) + " vs " +
                                std::to_string(b) + ")");
  check_metric_size(who, a);
}

/// The vector form of a metric: its pointer form, after checking the sizes.
inline double vector_metric(const char* who,
                            double (*metric)(const float*, const float*, std::size_t),
                            const std::vector<float>& x, const std::vector<float>& y) {
  check_metric_sizes(who, x.size(), y.size());
  return metric(x.data(), y.data(), x.size());
}

struct sums {
  double xx = 0, yy = 0, xy = 0, ee = 0, max_abs = 0;
};
inline sums accumulate(const float* x, const float* y, std::size_t n) noexcept {
  sums s;
  for (std::size_t i = 0; i < n; ++i) {
    const double a = x[i], b = y[i], e = a - b;
    s.xx += a * a;
    s.yy += b * b;
    s.xy += a * b;
    s.ee += e * e;
    const double ae = std::fabs(e);
    s.max_abs = (ae > s.max_abs || std::isnan(ae)) ? ae : s.max_abs;
  }
  return s;
}

}  // namespace detail

/// Mean squared error (1/n) sum (x_i - y_i)^2.  Throws std::invalid_argument if n == 0.
inline double mse(const float* x, const float* y, std::size_t n) {
  detail::check_metric_size("lowp::mse", n);
  return detail::accumulate(x, y, n).ee / static_cast<double>(n);
}

/// Signal-to-quantization-noise ratio in dB: 10 log10(sum x^2 / sum (x - y)^2).
/// +Inf when y == x exactly; -Inf when x is all zero and y is not; NaN when both are
/// all zero.  Throws std::invalid_argument if n == 0.
inline double sqnr_db(const float* x, const float* y, std::size_t n) {
  detail::check_metric_size("lowp::sqnr_db", n);
  const auto s = detail::accumulate(x, y, n);
  if (s.ee == 0.0)
    return s.xx == 0.0 ? std::numeric_limits<double>::quiet_NaN()
                       : std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(s.xx / s.ee);
}

/// max |x_i - y_i|.  Throws std::invalid_argument if n == 0.
inline double max_abs_error(const float* x, const float* y, std::size_t n) {
  detail::check_metric_size("lowp::max_abs_error", n);
  return detail::accumulate(x, y, n).max_abs;
}

/// Relative Frobenius (L2) error ||x - y|| / ||x||.  +Inf if x is all zero and y is
/// not, 0 if both are.  Throws std::invalid_argument if n == 0.
inline double relative_frobenius_error(const float* x, const float* y, std::size_t n) {
  detail::check_metric_size("lowp::relative_frobenius_error", n);
  const auto s = detail::accumulate(x, y, n);
  if (s.xx == 0.0) return s.ee == 0.0 ? 0.0 : std::numeric_limits<double>::infinity();
  return std::sqrt(s.ee / s.xx);
}

/// Cosine similarity <x, y> / (||x|| ||y||), in [-1, 1].  By convention 1 when both
/// are all zero and 0 when exactly one is.  Throws std::invalid_argument if n == 0.
inline double cosine_similarity(const float* x, const float* y, std::size_t n) {
  detail::check_metric_size("lowp::cosine_similarity", n);
  const auto s = detail::accumulate(x, y, n);
  if (s.xx == 0.0 || s.yy == 0.0) return (s.xx == 0.0 && s.yy == 0.0) ? 1.0 : 0.0;
  return std::clamp(s.xy / (std::sqrt(s.xx) * std::sqrt(s.yy)), -1.0, 1.0);
}

/// Layer-output error ||W X - W_hat X||_F^2 / ||W X||_F^2 (GPTQ's objective, normalized),
/// W and W_hat rows x cols, X tokens x cols (one token's input per row, as engines store
/// activations and as hessian_accumulator takes them), all row-major: the layer's output
/// for token t is W x_t.  Computed as ||(W - W_hat) X^T||^2 / ||W X^T||^2 in double.  0 when
/// both are zero; +Inf when only W X^T is zero.  Throws std::invalid_argument if any
/// dimension is 0.
inline double layer_output_error(const float* W, const float* W_hat, const float* X,
                                 std::size_t rows, std::size_t cols, std::size_t tokens) {
  if (rows == 0 || cols == 0 || tokens == 0)
    throw std::invalid_argument("lowp::layer_output_error: empty dimension (W " +
                                std::to_string(rows) + " x " + std::to_string(cols) + ", X " +
                                std::to_string(tokens) + " x " + std::to_string(cols) + ")");
  double num = 0, den = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    const float* w = W + r * cols;
    const float* wh = W_hat + r * cols;
    for (std::size_t t = 0; t < tokens; ++t) {
      const float* x = X + t * cols;
      double y = 0, d = 0;
      for (std::size_t k = 0; k < cols; ++k) {
        const double xk = x[k], wk = w[k];
        y += wk * xk;
        d += (wk - static_cast<double>(wh[k])) * xk;
      }
      num += d * d;
      den += y * y;
    }
  }
  if (den == 0.0) return num == 0.0 ? 0.0 : std::numeric_limits<double>::infinity();
  return num / den;
}

// --- std::vector forms: also check that the sizes agree --------------------------------

inline double mse(const std::vector<float>& x, const std::vector<float>& y) {
  return detail::vector_metric("lowp::mse", mse, x, y);
}
inline double sqnr_db(const std::vector<float>& x, const std::vector<float>& y) {
  return detail::vector_metric("lowp::sqnr_db", sqnr_db, x, y);
}
inline double max_abs_error(const std::vector<float>& x, const std::vector<float>& y) {
  return detail::vector_metric("lowp::max_abs_error", max_abs_error, x, y);
}
inline double relative_frobenius_error(const std::vector<float>& x, const std::vector<float>& y) {
  return detail::vector_metric("lowp::relative_frobenius_error", relative_frobenius_error, x, y);
}
inline double cosine_similarity(const std::vector<float>& x, const std::vector<float>& y) {
  return detail::vector_metric("lowp::cosine_similarity", cosine_similarity, x, y);
}
/// Vector form of layer_output_error; throws std::invalid_argument unless
/// W.size() == W_hat.size() == rows * cols and X.size() == tokens * cols.
inline double layer_output_error(const std::vector<float>& W, const std::vector<float>& W_hat,
                                 const std::vector<float>& X, std::size_t rows, std::size_t cols,
                                 std::size_t tokens) {
  if (W.size() != rows * cols || W_hat.size() != rows * cols || X.size() != cols * tokens)
    throw std::invalid_argument("lowp::layer_output_error: sizes do not match " +
                                std::to_string(rows) + " x " + std::to_string(cols) + " and " +
                                std::to_string(tokens) + " x " + std::to_string(cols));
  return layer_output_error(W.data(), W_hat.data(), X.data(), rows, cols, tokens);
}

}  // namespace lowp
