// lowp/quantize.hpp — granularity, quantized tensors, weight/activation quantizers and
// fake quantization on plain arrays.
//
// Layer: quantization.  Includes scale.hpp, packed.hpp, bulk.hpp and the standard library.
//
// Quick use:
//
//   // 4096 x 4096 weights, FP4 codes, groups of 128 with ZeroQuant-FP M2 scales:
//   auto q = lowp::quantize(lowp::pow2_relative<lowp::float4_e2m1fn>{}, W.data(), 4096, 4096,
//                           lowp::granularity::per_group(128));
//   std::vector<float> W_hat = q.dequantize();
//   // Simulation only (quantize-dequantize in float):
//   lowp::fake_quantize(lowp::absmax<lowp::int4>{}, W.data(), out.data(), rows, cols,
//                       lowp::granularity::per_group(128));
//
// Building a quantized_tensor from your own codes (GPTQ, a file, a kernel's output):
//
//   Policy pol;                                   // the policy the codes were made with,
//   pol.prepare(W, rows, cols, g);                // prepared as when the codes were made
//   auto gran = lowp::granularity::per_group(g);  // g = cols: per channel
//   std::vector<typename Policy::params> ps(rows * lowp::groups_per_row(cols, g));
//   std::vector<typename Policy::format::storage_type> codes(rows * cols);  // row-major
//   ... ps[r * groups_per_row + j] = pol.fit(...);  codes[r * cols + c] = pol.encode(x, p);
//   auto q = lowp::quantized_tensor<Policy>::from_codes(pol, rows, cols, gran, codes.data(),
//                                                       std::move(ps));
//
// or construct `quantized_tensor<Policy> q(pol, rows, cols, gran)` (zero codes, default
// params) and fill it with q.set_code(r, c, code) and q.group_params(r, j) = p.
//
// Group layout (the same for every function here and for GPTQ): W is rows x cols,
// row-major; row r's group j holds columns [j*g, min((j+1)*g, cols)); params are stored
// row-major, rows x groups_per_row(cols, g).  Per-tensor granularity is one group holding
// the whole tensor, treated as one row of rows*cols values (so prepare() sees 1 x rows*cols).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bulk.hpp"
#include "packed.hpp"
#include "scale.hpp"

namespace lowp {

/// Number of groups of g columns in a row of `cols` (the last one may be shorter).
constexpr std::size_t groups_per_row(std::size_t cols, std::size_t g) noexcept {
  return g == 0 ? 0 : (cols + g - 1) / g;
}

/// Which values share one set of scale parameters.
class granularity {
 public:
  enum class kind : std::uint8_t {
    per_tensor,   ///< one scale for the whole tensor
    per_channel,  ///< one per row of W (output channel)
    per_group,    ///< one per g consecutive columns of a row
    per_token,    ///< one per row of an activation matrix X (tokens x hidden), dynamic
    per_block,    ///< one per block of the policy's block_size() columns (MX: 32, NVFP4: 16)
  };

  static constexpr granularity per_tensor() noexcept { return granularity(kind::per_tensor, 0); }
  static constexpr granularity per_channel() noexcept { return granularity(kind::per_channel, 0); }
  static constexpr granularity per_token() noexcept { return granularity(kind::per_token, 0); }
  static constexpr granularity per_block() noexcept { return granularity(kind::per_block, 0); }
  /// Groups of g columns (g >= 1; checked when used: 0 or > cols throws).
  static constexpr granularity per_group(std::size_t g) noexcept {
    return granularity(kind::per_group, g);
  }

  constexpr kind type() const noexcept { return kind_; }
  /// g for per_group; 0 otherwise (resolved against a shape and a policy by resolve()).
  constexpr std::size_t requested_group_size() const noexcept { return g_; }
  friend constexpr bool operator==(granularity a, granularity b) noexcept {
    return a.kind_ == b.kind_ && a.g_ == b.g_;
  }
  friend constexpr bool operator!=(granularity a, granularity b) noexcept { return !(a == b); }

 private:
  constexpr granularity(kind k, std::size_t g) noexcept : kind_(k), g_(g) {}
  kind kind_;
  std::size_t g_;
};

namespace detail {

template <class P, class = void>
struct has_block_size : std::false_type {};
template <class P>
struct has_block_size<P, std::void_t<decltype(std::declval<const P&>().block_size())>>
    : std::true_type {};

/// The grid the groups live on: qrows x qcols with groups of qgroup columns.
struct group_grid {
  std::size_t qrows = 0, qcols = 0, group = 1;
  std::size_t per_row() const noexcept { return groups_per_row(qcols, group); }
  std::size_t count() const noexcept { return qrows * per_row(); }
};

/// Resolves a granularity for a rows x cols tensor and a policy.  Throws
/// std::invalid_argument for group size 0 (always), a group larger than the row (unless
/// the tensor is empty), and per_block with a policy that has no block size.
template <class Policy>
group_grid resolve_grid(const char* who, granularity gran, const Policy& policy,
                        std::size_t rows, std::size_t cols) {
  group_grid grid;
  switch (gran.type()) {
    case granularity::kind::per_tensor:
      grid.qrows = 1;
      grid.qcols = rows * cols;
      grid.group = std::max<std::size_t>(rows * cols, 1);
      return grid;
    case granularity::kind::per_channel:
    case granularity::kind::per_token:
      grid.group = std::max<std::size_t>(cols, 1);
      break;
    case granularity::kind::per_group:
      grid.group = gran.requested_group_size();
      break;
    case granularity::kind::per_block:
      if constexpr (has_block_size<Policy>::value) {
        grid.group = policy.block_size();
      } else {
        throw std::invalid_argument(std::string(who) +
                                    ": per_block granularity needs a block policy (mx, nvfp4)");
      }
      break;
  }
  (void)policy;
  check_group_size(who, cols, grid.group);
  grid.qrows = rows;
  grid.qcols = cols;
  return grid;
}

[[noreturn]] inline void throw_nonfinite_at(const char* who, float v, std::size_t flat,
                                            std::size_t cols) {
  throw std::invalid_argument(std::string(who) + ": non-finite value (" +
                              (std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf")) +
                              ") at index " + std::to_string(flat) + " (row " +
                              std::to_string(cols == 0 ? 0 : flat / cols) + ", column " +
                              std::to_string(cols == 0 ? 0 : flat % cols) + ")");
}

/// Throws (naming the first bad element of x[0..n)) if any value is NaN or Inf.
inline void check_finite(const char* who, const float* x, std::size_t n, std::size_t first_flat,
                         std::size_t cols) {
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) throw_nonfinite_at(who, x[i], first_flat + i, cols);
}

template <class P, class = void>
struct has_prepare_rows : std::false_type {};
template <class P>
struct has_prepare_rows<P, std::void_t<decltype(std::declval<P&>().prepare_rows(
                               nullptr, std::size_t{}, std::size_t{}, std::size_t{}, std::size_t{},
                               std::size_t{})),
                           decltype(std::declval<const P&>().prepare_block_rows())>> : std::true_type {};

template <class P, class = void>
struct has_fast_scale : std::false_type {};
template <class P>
struct has_fast_scale<P, std::void_t<decltype(std::declval<const P&>().fast_scale(
                             std::declval<const typename P::params&>()))>> : std::true_type {};

/// The most significant bits any value or rounding boundary (midpoint between two
/// neighbours) of F can have: M + 2 for an FP format, b + 1 for a b-bit integer.
template <class F>
constexpr int boundary_bits() noexcept {
  if constexpr (is_lowp_int_v<F>) {
    return F::traits_type::bits + 1;
  } else {
    return float_layout<typename F::traits_type>::M + 2;
  }
}

/// q[i] = a float that every deterministic rounding to F rounds exactly as it rounds
/// the real quotient x[i] / s (s > 0 finite), so that a bulk float -> F conversion of q
/// is the correctly rounded x / s.
///
/// Why it works: q = fl(x / s) is correctly rounded, and every rounding boundary of F
/// (a value or a midpoint, <= boundary_bits<F>() significant bits, well above the float
/// subnormal range) is a float, so fl() never carries x / s across one; it can only land
/// *on* one when x / s is merely close to it.  Only then (q has few significant bits and
/// the residual x - q s, computed exactly in double and only its sign used, is non-zero)
/// q moves one float ulp toward x / s: a float with 24 significant bits, which is no
/// boundary, on the same side as x / s.  Plain float division would instead create
/// false ties (and x * (1/s) is not even correctly rounded).
template <class F>
inline void exact_quotients(const float* x, std::size_t n, float s, float* q) noexcept {
  constexpr std::uint32_t low = (std::uint32_t{1} << (24 - boundary_bits<F>())) - 1u;
  const double sd = static_cast<double>(s);
  for (std::size_t i = 0; i < n; ++i) {
    const float qi = x[i] / s;
    std::uint32_t b = bit_cast<std::uint32_t>(qi);
    // x - q s, exactly signed: the product is exact in double, and the rounded
    // difference has the sign of the exact one (never 0 unless it is: both are
    // multiples of 2^-298, far above double's underflow).
    const double r = static_cast<double>(x[i]) - static_cast<double>(qi) * sd;
    // Branch-free, so that it vectorizes: delta = candidate ? (grow ? +1 : -1) : 0.
    const std::uint32_t candidate = static_cast<std::uint32_t>((b & low) == 0) &
                                    static_cast<std::uint32_t>(r != 0.0);
    const std::uint32_t grow = static_cast<std::uint32_t>(r > 0.0) ^ (b >> 31);  // |q| moves toward |x / s|
    b += candidate * (2u * grow - 1u);
    q[i] = bit_cast<float>(b);
  }
}

/// E2M1 codes of x / s, rounded to nearest even and saturated, for s > 0 finite: the
/// count of the seven rounding boundaries m * s (m = 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5,
/// the midpoints between the magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6) that |x| passes, plus
/// the sign bit.  Exact: m * s is exact in double, and for a float a,
///   a / s > m  <=>  a > RD(m s)      a / s >= m  <=>  a >= RU(m s)
/// (RD/RU: m s rounded down/up to float).  A tie goes to the even magnitude code: below
/// for the midpoints after an even code (strict >), above after an odd one (>=).  Seven
/// compares per element, which vectorize; no division, no conversion.
struct fp4_nearest_encoder {
  float t[7];
  explicit fp4_nearest_encoder(float s) noexcept {
    constexpr double mid[7] = {0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0};
    for (int i = 0; i < 7; ++i) {
      const double T = mid[i] * static_cast<double>(s);  // exact: 24-bit s times a <= 3-bit m
      const float f = static_cast<float>(T);
      std::uint32_t b = bit_cast<std::uint32_t>(f);  // f >= 0: +-1 on the bits is the next float
      if (i % 2 == 0 && static_cast<double>(f) > T) --b;  // RD
      if (i % 2 == 1 && static_cast<double>(f) < T) ++b;  // RU
      t[i] = bit_cast<float>(b);
    }
  }
  std::uint32_t code(float x) const noexcept {
    const std::uint32_t bx = bit_cast<std::uint32_t>(x);
    const float a = bit_cast<float>(bx & 0x7FFFFFFFu);
    const std::uint32_t c = static_cast<std::uint32_t>(a > t[0]) + static_cast<std::uint32_t>(a >= t[1]) +
                            static_cast<std::uint32_t>(a > t[2]) + static_cast<std::uint32_t>(a >= t[3]) +
                            static_cast<std::uint32_t>(a > t[4]) + static_cast<std::uint32_t>(a >= t[5]) +
                            static_cast<std::uint32_t>(a > t[6]);
    return c | ((bx >> 28) & 8u);
  }
  /// Packed codes of x[0..2m) into bytes[0..m): element 2j in the low nibble.  In
  /// chunks: codes in 32-bit lanes first (compares vectorize without narrowing), then
  /// the nibbles are paired.
  void encode_pairs(const float* x, std::size_t m, std::uint8_t* bytes) const noexcept {
    constexpr std::size_t chunk = 64;  // pairs
    std::uint32_t c[2 * chunk];
    for (std::size_t j0 = 0; j0 < m; j0 += chunk) {
      const std::size_t len = m - j0 < chunk ? m - j0 : chunk;
      const float* xs = x + 2 * j0;
      for (std::size_t i = 0; i < 2 * len; ++i) c[i] = code(xs[i]);
      for (std::size_t j = 0; j < len; ++j)
        bytes[j0 + j] = static_cast<std::uint8_t>(c[2 * j] | (c[2 * j + 1] << 4));
    }
  }
};

}  // namespace detail

/// A quantized matrix: shape, granularity, the policy (with its second-level state:
/// s_max per row for pow2_relative, the tensor scale for nvfp4), one `params` per group
/// (the scales in the policy's own types: float, E8M0, E4M3, s_max + shift), and the
/// codes: packed (two per byte for 4-bit formats, four per three bytes for FP6; see
/// packed.hpp for the layout) or one storage_type per element.
template <class Policy>
class quantized_tensor {
 public:
  using policy_type = Policy;
  using format = typename Policy::format;
  using storage_type = typename format::storage_type;
  using params_type = typename Policy::params;
  /// True when codes are bit-packed (packed_vector<format>).
  static constexpr bool is_packed = is_packable_v<format>;
  using code_container = std::conditional_t<is_packed, packed_vector<format>, std::vector<format>>;

  quantized_tensor() = default;

  /// rows x cols zero codes and default params (one per group), to be filled with
  /// set_code() and group_params().  Throws std::invalid_argument for a bad granularity
  /// (group size 0 or larger than the row).
  quantized_tensor(Policy policy, std::size_t rows, std::size_t cols, granularity gran)
      : policy_(std::move(policy)), rows_(rows), cols_(cols), gran_(gran) {
    grid_ = detail::resolve_grid("lowp::quantized_tensor", gran, policy_, rows, cols);
    codes_ = code_container(rows * cols);
    params_.assign(rows * cols == 0 ? 0 : grid_.count(), params_type{});
  }

  /// Assembles a tensor from row-major codes (rows*cols of them, one storage_type per
  /// element, only the format's low bits used) and row-major per-group params
  /// (rows x groups_per_row, or 1 for per_tensor).  Throws std::invalid_argument when
  /// params.size() does not match the grid, or for a bad granularity.
  static quantized_tensor from_codes(Policy policy, std::size_t rows, std::size_t cols,
                                     granularity gran, const storage_type* codes,
                                     std::vector<params_type> params) {
    quantized_tensor t(std::move(policy), rows, cols, gran);
    if (params.size() != t.params_.size())
      throw std::invalid_argument("lowp::quantized_tensor::from_codes: " + std::to_string(params.size()) +
                                  " params given, the grid has " + std::to_string(t.params_.size()) +
                                  " groups");
    t.params_ = std::move(params);
    for (std::size_t i = 0; i < rows * cols; ++i) t.set_code_flat(i, codes[i]);
    return t;
  }

  std::size_t rows() const noexcept { return rows_; }
  std::size_t cols() const noexcept { return cols_; }
  std::size_t size() const noexcept { return rows_ * cols_; }
  bool empty() const noexcept { return size() == 0; }
  granularity gran() const noexcept { return gran_; }
  /// Columns per group on the group grid (rows*cols for per_tensor).
  std::size_t group_size() const noexcept { return grid_.group; }
  /// Groups per row of the grid (1 for per_tensor).
  std::size_t groups_per_row() const noexcept { return grid_.per_row(); }
  const Policy& policy() const noexcept { return policy_; }
  Policy& policy() noexcept { return policy_; }

  /// Every group's params, row-major (raw access for kernels).
  const std::vector<params_type>& params() const noexcept { return params_; }
  std::vector<params_type>& params() noexcept { return params_; }
  /// The params of group j of row r (per_tensor: r = j = 0).  Unchecked.
  const params_type& group_params(std::size_t r, std::size_t j) const noexcept {
    return params_[r * grid_.per_row() + j];
  }
  params_type& group_params(std::size_t r, std::size_t j) noexcept { return params_[r * grid_.per_row() + j]; }
  /// The params that element (r, c) uses.  Unchecked.
  const params_type& params_of(std::size_t r, std::size_t c) const noexcept {
    if (gran_.type() == granularity::kind::per_tensor) return params_[0];
    return params_[r * grid_.per_row() + c / grid_.group];
  }

  /// The codes container (packed_vector<format> or std::vector<format>).
  const code_container& codes() const noexcept { return codes_; }
  code_container& codes() noexcept { return codes_; }
  /// The raw code bytes (packed layout for packable formats).
  const std::uint8_t* code_bytes() const noexcept {
    if constexpr (is_packed) {
      return codes_.bytes();
    } else {
      return reinterpret_cast<const std::uint8_t*>(codes_.data());  // object bytes: allowed
    }
  }
  std::size_t code_size_in_bytes() const noexcept {
    if constexpr (is_packed) {
      return codes_.size_in_bytes();
    } else {
      return codes_.size() * sizeof(format);
    }
  }
  /// Bytes of codes + params (the model size this tensor costs).
  std::size_t storage_bytes() const noexcept {
    return code_size_in_bytes() + params_.size() * sizeof(params_type);
  }

  /// Code of element (r, c).  Unchecked.
  storage_type code(std::size_t r, std::size_t c) const noexcept { return code_flat(r * cols_ + c); }
  storage_type code_flat(std::size_t i) const noexcept {
    return codes_[i].bits();
  }
  void set_code(std::size_t r, std::size_t c, storage_type code) noexcept { set_code_flat(r * cols_ + c, code); }
  void set_code_flat(std::size_t i, storage_type code) noexcept {
    codes_[i] = format::from_bits(code);
  }

  /// The dequantized value of element (r, c).  Unchecked.
  float value(std::size_t r, std::size_t c) const noexcept {
    return policy_.decode(code(r, c), params_of(r, c));
  }
  /// All rows*cols dequantized values, row-major, into out.
  void dequantize(float* out) const noexcept {
    for (std::size_t r = 0; r < rows_; ++r)
      for (std::size_t c = 0; c < cols_; ++c) out[r * cols_ + c] = value(r, c);
  }
  std::vector<float> dequantize() const {
    std::vector<float> out(size());
    dequantize(out.data());
    return out;
  }

 private:
  Policy policy_{};
  std::size_t rows_ = 0, cols_ = 0;
  granularity gran_ = granularity::per_channel();
  detail::group_grid grid_{};
  code_container codes_{};
  std::vector<params_type> params_{};
};

namespace detail {

template <class Policy>
using storage_type_of = typename Policy::format::storage_type;

/// Runs `body` (prepare() or fit() of a policy over x[0..n), flat index first_flat);
/// when it throws std::invalid_argument because of a NaN/Inf, rethrows naming the first
/// bad element by flat index, row and column of the caller's matrix.
template <class Body>
auto with_flat_nonfinite_report(const char* who, const float* x, std::size_t n, std::size_t first_flat,
                                std::size_t cols, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::invalid_argument&) {
    check_finite(who, x, n, first_flat, cols);  // throws the better message if it applies
    throw;
  }
}

/// Encodes quotients buf[0..len) (see exact_quotients) into t's codes from flat index
/// `flat`, with rounding `r`: a bulk conversion where the packed layout allows it.
template <class Policy>
void store_quotients(quantized_tensor<Policy>& t, const float* buf, std::size_t len, std::size_t flat,
                     rounding r) {
  using F = typename Policy::format;
  if constexpr (is_packable_v<F>) {
    constexpr std::size_t per = packed_bits_v<F> == 4 ? 2 : 4;  // elements that start a byte
    if (flat % per == 0) {
      convert(buf, t.codes().span().subspan(flat, len), r);
      return;
    }
    for (std::size_t i = 0; i < len; ++i) t.set_code_flat(flat + i, cast<F>(buf[i], r).bits());
  } else {
    convert(buf, t.codes().data() + flat, len, r);
  }
}

}  // namespace detail

/// Quantizes the rows x cols row-major matrix W with `policy` at granularity `gran`.
///
/// The policy is copied, prepare()d on W (on 1 x rows*cols for per_tensor) and fit() on
/// every group in row-major order; elements are encoded in row-major order (so a
/// stochastic policy is reproducible).  Policies with fast_scale() (all but minmax and
/// MXINT) are encoded through lowp::convert (bulk.hpp, SIMD) on exact quotients, with
/// the same codes as policy.encode() element by element.  Contract:
/// - rows*cols == 0: an empty tensor of that shape (no error, unless the group size is 0);
/// - group size 0, a group larger than the row, per_block without a block policy:
///   std::invalid_argument;
/// - a NaN or Inf in W: std::invalid_argument naming the first bad element's flat index,
///   row and column (nothing is returned).
template <class Policy>
quantized_tensor<Policy> quantize(Policy policy, const float* W, std::size_t rows, std::size_t cols,
                                  granularity gran) {
  constexpr const char* who = "lowp::quantize";
  const detail::group_grid grid = detail::resolve_grid(who, gran, policy, rows, cols);
  quantized_tensor<Policy> t(std::move(policy), rows, cols, gran);
  if (rows * cols == 0) return t;
  auto& pol = t.policy();
  // prepare(): in blocks of rows just before they are fitted when the policy allows it
  // (each row is then read from memory once), else over the whole matrix first.
  std::size_t block = 0;
  if constexpr (detail::has_prepare_rows<Policy>::value) block = pol.prepare_block_rows();
  if (block == 0) {
    detail::with_flat_nonfinite_report(who, W, rows * cols, 0, cols, [&] {
      pol.prepare(W, grid.qrows, grid.qcols, grid.group);
    });
  }
  const std::size_t gpr = grid.per_row();
  constexpr std::size_t chunk = 4096;  // quotients buffered per bulk conversion
  std::vector<float> buf;
  if constexpr (detail::has_fast_scale<Policy>::value) buf.resize(std::min(chunk, grid.qcols));
  for (std::size_t r = 0; r < grid.qrows; ++r) {
    if constexpr (detail::has_prepare_rows<Policy>::value) {
      if (block != 0 && r % block == 0) {
        const std::size_t last = std::min(r + block, grid.qrows);
        detail::with_flat_nonfinite_report(who, W + r * grid.qcols, (last - r) * grid.qcols, r * grid.qcols,
                                           cols, [&] {
                                             pol.prepare_rows(W, grid.qrows, grid.qcols, grid.group, r, last);
                                           });
      }
    }
    std::size_t pending = 0, pending_flat = 0;  // buffered quotients not yet encoded
    for (std::size_t j = 0; j < gpr; ++j) {
      const std::size_t c0 = j * grid.group, n = std::min(grid.group, grid.qcols - c0);
      const std::size_t flat0 = r * grid.qcols + c0;
      const float* x = W + flat0;
      const auto p = detail::with_flat_nonfinite_report(who, x, n, flat0, cols,
                                                        [&] { return pol.fit(x, n, 1, r); });
      t.params()[r * gpr + j] = p;
      if constexpr (detail::has_fast_scale<Policy>::value) {
        const float s = pol.fast_scale(p);
        if constexpr (std::is_same_v<typename Policy::format, float4_e2m1fn>) {
          if (s > 0.0f && pol.rounding_config().mode == rounding::nearest_even) {
            // The FP4 kernel: codes straight from compares (see fp4_nearest_encoder).
            const detail::fp4_nearest_encoder enc(s);
            std::size_t i = 0;
            if (flat0 % 2 != 0) {
              t.set_code_flat(flat0, static_cast<detail::storage_type_of<Policy>>(enc.code(x[0])));
              i = 1;
            }
            const std::size_t pairs = (n - i) / 2;
            enc.encode_pairs(x + i, pairs, t.codes().bytes() + (flat0 + i) / 2);
            i += 2 * pairs;
            if (i < n) t.set_code_flat(flat0 + i, static_cast<detail::storage_type_of<Policy>>(enc.code(x[i])));
            continue;
          }
        }
        if (s > 0.0f) {
          for (std::size_t i0 = 0; i0 < n; i0 += chunk) {  // huge groups (per tensor): in pieces
            const std::size_t len = std::min(chunk, n - i0);
            if (pending + len > buf.size()) {
              detail::store_quotients(t, buf.data(), pending, pending_flat, pol.rounding_config().mode);
              pending = 0;
            }
            if (pending == 0) pending_flat = flat0 + i0;
            detail::exact_quotients<typename Policy::format>(x + i0, len, s, buf.data() + pending);
            pending += len;
          }
          continue;
        }
        if (pending != 0) {
          detail::store_quotients(t, buf.data(), pending, pending_flat, pol.rounding_config().mode);
          pending = 0;
        }
      }
      for (std::size_t i = 0; i < n; ++i) t.set_code_flat(flat0 + i, pol.encode(x[i], p));
    }
    if constexpr (detail::has_fast_scale<Policy>::value) {
      if (pending != 0) detail::store_quotients(t, buf.data(), pending, pending_flat, pol.rounding_config().mode);
    }
  }
  return t;
}

/// quantize() then dequantize(), without storing codes: out[i] = policy.fake(W[i], p).
/// out may alias W (in-place).  Same contract as quantize(); on an exception, out is
/// unspecified (partially written).
template <class Policy>
void fake_quantize(Policy policy, const float* W, float* out, std::size_t rows, std::size_t cols,
                   granularity gran) {
  constexpr const char* who = "lowp::fake_quantize";
  const detail::group_grid grid = detail::resolve_grid(who, gran, policy, rows, cols);
  if (rows * cols == 0) return;
  detail::with_flat_nonfinite_report(who, W, rows * cols, 0, cols, [&] {
    policy.prepare(W, grid.qrows, grid.qcols, grid.group);
  });
  const std::size_t gpr = grid.per_row();
  for (std::size_t r = 0; r < grid.qrows; ++r) {
    for (std::size_t j = 0; j < gpr; ++j) {
      const std::size_t c0 = j * grid.group, n = std::min(grid.group, grid.qcols - c0);
      const std::size_t flat0 = r * grid.qcols + c0;
      const float* x = W + flat0;
      float* y = out + flat0;
      const auto p = detail::with_flat_nonfinite_report(who, x, n, flat0, cols,
                                                        [&] { return policy.fit(x, n, 1, r); });
      for (std::size_t i = 0; i < n; ++i) y[i] = policy.fake(x[i], p);
    }
  }
}

/// fake_quantize() into a new vector.  Throws std::invalid_argument also when
/// W.size() != rows * cols.
template <class Policy>
std::vector<float> fake_quantize(Policy policy, const std::vector<float>& W, std::size_t rows,
                                 std::size_t cols, granularity gran) {
  if (W.size() != rows * cols)
    throw std::invalid_argument("lowp::fake_quantize: " + std::to_string(W.size()) +
                                " values for a " + std::to_string(rows) + " x " +
                                std::to_string(cols) + " matrix");
  std::vector<float> out(W.size());
  fake_quantize(std::move(policy), W.data(), out.data(), rows, cols, gran);
  return out;
}

/// Static weight quantization: a policy and a granularity fixed once, applied to weight
/// matrices (rows = output channels).  Default granularity: per channel.
template <class Policy>
class weight_quantizer {
 public:
  explicit weight_quantizer(Policy policy = Policy{}, granularity gran = granularity::per_channel())
      : policy_(std::move(policy)), gran_(gran) {}
  const Policy& policy() const noexcept { return policy_; }
  granularity gran() const noexcept { return gran_; }
  /// See lowp::quantize.
  quantized_tensor<Policy> quantize(const float* W, std::size_t rows, std::size_t cols) const {
    return lowp::quantize(policy_, W, rows, cols, gran_);
  }
  /// See lowp::fake_quantize.
  void fake_quantize(const float* W, float* out, std::size_t rows, std::size_t cols) const {
    lowp::fake_quantize(policy_, W, out, rows, cols, gran_);
  }

 private:
  Policy policy_;
  granularity gran_;
};

/// Dynamic activation quantization: for X (tokens x hidden, row-major) the scales are
/// computed from each call's X, one per token (row), or per group of `group_size`
/// columns within a token (0: the whole token).
template <class Policy>
class activation_quantizer {
 public:
  explicit activation_quantizer(Policy policy = Policy{}, std::size_t group_size = 0)
      : policy_(std::move(policy)), group_(group_size) {}
  const Policy& policy() const noexcept { return policy_; }
  /// See lowp::quantize (per_token or per_group granularity).
  quantized_tensor<Policy> quantize(const float* X, std::size_t tokens, std::size_t hidden) const {
    return lowp::quantize(policy_, X, tokens, hidden, gran());
  }
  /// See lowp::fake_quantize.
  void fake_quantize(const float* X, float* out, std::size_t tokens, std::size_t hidden) const {
    lowp::fake_quantize(policy_, X, out, tokens, hidden, gran());
  }

 private:
  granularity gran() const noexcept {
    return group_ == 0 ? granularity::per_token() : granularity::per_group(group_);
  }
  Policy policy_;
  std::size_t group_;
};

}  // namespace lowp
