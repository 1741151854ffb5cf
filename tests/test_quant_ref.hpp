// tests/test_quant_ref.hpp — an independent reference for the quantization tests.
//
// Shares no code with include/lowp: the element grids are enumerated from the format
// definitions (OCP OFP8 v1.0 Table 1, OCP MX v1.0 sec. 5.3), with the maxima written out
// from the specs, rounding decisions are taken by exact long double comparisons of x
// against s * grid values (24-bit times <= 8-bit products are exact in the 64-bit
// mantissa), and the scale formulas are transcribed from the papers / reference code.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace qref {

/// The non-negative values of a format, ascending (index i <-> magnitude code i).
struct grid {
  std::vector<long double> mags;
  bool is_int = false;
  long double max() const { return mags.back(); }
};

/// FP grid: exponent field e in [0, 2^E), mantissa m; subnormals at e = 0; keep values <= max.
inline grid fp_grid(int E, int M, int bias, long double maxval) {
  grid g;
  for (int e = 0; e < (1 << E); ++e)
    for (int m = 0; m < (1 << M); ++m) {
      const long double frac = static_cast<long double>(m) / static_cast<long double>(1 << M);
      const long double v = e == 0 ? std::ldexp(frac, 1 - bias) : std::ldexp(1.0L + frac, e - bias);
      if (v <= maxval) g.mags.push_back(v);
    }
  return g;
}
inline grid e2m1() {
  return fp_grid(2, 1, 1, 6.0L);
}
inline grid e2m3() {
  return fp_grid(2, 3, 1, 7.5L);
}
inline grid e3m2() {
  return fp_grid(3, 2, 3, 28.0L);
}
inline grid e4m3() {
  return fp_grid(4, 3, 7, 448.0L);
}
inline grid e5m2() {
  return fp_grid(5, 2, 15, 57344.0L);
}
/// Integers 0..maxv (the symmetric INT grid's magnitudes).
inline grid int_grid(int maxv) {
  grid g;
  g.is_int = true;
  for (int i = 0; i <= maxv; ++i) g.mags.push_back(static_cast<long double>(i));
  return g;
}

enum class mode { nearest_even, nearest_away, toward_zero, up, down };

/// The element value (signed, in grid units) nearest to x / s under `md`, saturating at
/// +-max; decided exactly by comparing |x| with s * grid values.  `neg_max` is the
/// largest magnitude allowed on the negative side (int4's -8), default = max.
inline long double round_on_grid(float x, long double s, const grid& g,
                                 mode md = mode::nearest_even, long double neg_max = -1) {
  const bool neg = std::signbit(x);
  const long double a = std::fabs(static_cast<long double>(x));
  std::vector<long double> mags = g.mags;
  if (neg && neg_max > g.max()) mags.push_back(neg_max);
  // k: the largest index with mags[k] * s <= a.
  std::size_t k = 0;
  while (k + 1 < mags.size() && mags[k + 1] * s <= a) ++k;
  long double r;
  if (mags[k] * s == a || k + 1 == mags.size()) {
    r = mags[k];  // exact, or beyond max: saturate
    if (k + 1 == mags.size() && mags[k] * s != a) {
      // beyond max: every mode saturates to max (overflow::saturate)
    }
  } else {
    const long double lo = mags[k], hi = mags[k + 1];
    const long double dlo = a - lo * s, dhi = hi * s - a;
    bool away = false;  // away from zero = hi
    switch (md) {
      case mode::nearest_even:
        away = dhi < dlo || (dhi == dlo && (k + 1) % 2 == 0);
        break;
      case mode::nearest_away:
        away = dhi <= dlo;
        break;
      case mode::toward_zero:
        away = false;
        break;
      case mode::up:
        away = !neg;
        break;
      case mode::down:
        away = neg;
        break;
    }
    r = away ? hi : lo;
  }
  return neg ? -r : r;
}

/// The two grid neighbours (toward zero, away from zero) of x / s; equal if exact.
inline std::pair<long double, long double> neighbours(float x, long double s, const grid& g) {
  return {round_on_grid(x, s, g, std::signbit(x) ? mode::up : mode::down),
          round_on_grid(x, s, g, std::signbit(x) ? mode::down : mode::up)};
}

// --- data ------------------------------------------------------------------------------

enum class dist { uniform, gaussian, laplace, student_t };
inline const char* name(dist d) {
  switch (d) {
    case dist::uniform:
      return "uniform";
    case dist::gaussian:
      return "Gaussian";
    case dist::laplace:
      return "Laplace";
    case dist::student_t:
      return "Student-t(3)";
  }
  return "?";
}

/// rows x cols, row-major, i.i.d. with unit-ish scale, from a fixed seed.
inline std::vector<float> matrix(dist d, std::size_t rows, std::size_t cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::normal_distribution<double> n(0.0, 1.0);
  std::exponential_distribution<double> e(1.0);
  std::student_t_distribution<double> t(3.0);
  std::vector<float> w(rows * cols);
  for (float& v : w) {
    double x = 0;
    switch (d) {
      case dist::uniform:
        x = u(rng);
        break;
      case dist::gaussian:
        x = n(rng);
        break;
      case dist::laplace:
        x = (rng() & 1u) ? e(rng) : -e(rng);
        break;
      case dist::student_t:
        x = t(rng);
        break;
    }
    v = static_cast<float>(x);
  }
  return w;
}

/// Activations with outlier channels (LLM.int8(), SmoothQuant): Gaussian tokens x hidden,
/// with `n_out` fixed columns multiplied by factors in [20, 100].
inline std::vector<float> outlier_activations(std::size_t tokens, std::size_t hidden,
                                              std::size_t n_out, std::uint64_t seed) {
  std::vector<float> x = matrix(dist::gaussian, tokens, hidden, seed);
  std::mt19937_64 rng(seed ^ 0xABCDEFull);
  std::uniform_int_distribution<std::size_t> col(0, hidden - 1);
  std::uniform_real_distribution<double> f(20.0, 100.0);
  for (std::size_t k = 0; k < n_out; ++k) {
    const std::size_t c = col(rng);
    const double m = f(rng);
    for (std::size_t t = 0; t < tokens; ++t)
      x[t * hidden + c] = static_cast<float>(static_cast<double>(x[t * hidden + c]) * m);
  }
  return x;
}

inline long double amax(const float* x, std::size_t n) {
  long double a = 0;
  for (std::size_t i = 0; i < n; ++i) a = std::max(a, std::fabs(static_cast<long double>(x[i])));
  return a;
}

inline bool is_pow2(long double v) {
  int e = 0;
  return v > 0 && std::frexp(v, &e) == 0.5L;
}

}  // namespace qref
