// lowp/quantize.hpp — granularity, quantized tensors, weight/activation quantizers and
// fake quantization on plain arrays.
//
// Layer: quantization.  Includes scale.hpp, packed.hpp, detail/exact_quotient.hpp (bulk)
// and the standard library.
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

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>
#if defined(__cpp_lib_span) || (__cplusplus >= 202002L && __has_include(<span>))
#include <span>
#endif

#include "bulk.hpp"
#include "detail/exact_quotient.hpp"
#include "detail/finite.hpp"
#include "detail/threads.hpp"
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
group_grid resolve_grid(const char* who, granularity gran, const Policy& policy, std::size_t rows,
                        std::size_t cols) {
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
  check_group_size(who, rows == 0 ? 0 : cols, grid.group);  // an empty tensor has no row to fit
  grid.qrows = rows;
  grid.qcols = cols;
  return grid;
}

/// True for lowp's policies (detail::policy_base), which quantize() drives through their
/// *_if_finite hooks and bulk-encodes through cast_divisor().  Any other policy of the
/// concept gets the plain path: W checked before the whole matrix is prepared and before
/// each group is fitted, and every element encoded by encode().
template <class Policy>
inline constexpr bool is_lowp_policy_v = std::is_base_of_v<policy_tag, Policy>;

/// Rows per prepare block (whole compute groups), 0 for the whole matrix at once.
template <class Policy>
std::size_t prepare_block_rows(const Policy& pol) noexcept {
  if constexpr (is_lowp_policy_v<Policy>) {
    return pol.prepare_block_rows();
  } else {
    (void)pol;
    return 0;
  }
}

/// Prepares rows [first, last) of the grid; false when they hold a NaN or Inf.
template <class Policy>
bool prepare_rows_if_finite(Policy& pol, const float* W, const group_grid& grid, std::size_t first,
                            std::size_t last) {
  if constexpr (is_lowp_policy_v<Policy>) {
    return pol.prepare_rows_if_finite(W, grid.qrows, grid.qcols, grid.group, first, last);
  } else {  // prepare_block_rows() is 0: the whole matrix
    if (first_nonfinite(W, grid.qrows * grid.qcols) != grid.qrows * grid.qcols) return false;
    pol.prepare(W, grid.qrows, grid.qcols, grid.group);
    return true;
  }
}

/// The params of the group x[0..n) of row `row`; nullopt when it holds a NaN or Inf.
template <class Policy>
std::optional<typename Policy::params> fit_if_finite(const Policy& pol, const float* x,
                                                     std::size_t n, std::size_t row) {
  if constexpr (is_lowp_policy_v<Policy>) {
    return pol.fit_if_finite(x, n, 1, row);
  } else {
    if (first_nonfinite(x, n) != n) return std::nullopt;
    return pol.fit(x, n, 1, row);
  }
}

/// Throws std::domain_error naming the first NaN or Inf of x[0..n), which starts at
/// element `first` of the caller's rows x cols matrix W: "index i (row r, column c)".
[[noreturn]] inline void throw_nonfinite_in(const char* who, const float* x, std::size_t n,
                                            std::size_t first, std::size_t cols) {
  const std::size_t i = first_nonfinite(x, n);
  throw_nonfinite<std::domain_error>(who, "W", x[i < n ? i : 0], at_index(first + i, cols));
}

/// detail::for_each_chunk with every chunk run under the calling thread's floating-point
/// control state (simd::fp_control, as bulk.hpp's threaded paths do): a worker thread
/// keeps the rounding mode and FTZ/DAZ it was created with, and the float multiplies of
/// the bulk paths must round as on the caller, or the result would depend on the thread
/// count.
template <class F>
void for_each_chunk_as_caller(std::size_t n, std::size_t chunk, F&& f,
                              std::size_t elements_per_item = 1, bool threaded = true) {
  const simd::fp_control caller = simd::fp_control::current();
  for_each_chunk(
      n, chunk,
      [&](std::size_t first, std::size_t count) {
        const simd::fp_control_scope as_caller(caller);
        f(first, count);
      },
      elements_per_item, threaded);
}

/// The group loop of quantize() and fake_quantize() over grid rows [r0, r1) (r0 a
/// multiple of the policy's prepare block).  Prepares the policy in blocks of whole
/// compute groups just before their rows are fitted (so each row of W is read from memory
/// once; not when `prepared`: the whole matrix was prepared already), fits every group in
/// row-major order, and calls visit(group index, flat index of its first element, x, n,
/// params) for it.
///
/// W is checked for NaN/Inf here, the one check of quantize() and fake_quantize(): lowp's
/// policies see a NaN/Inf in the scans that prepare and fit the groups anyway (their
/// *_if_finite hooks; no extra pass over W), any other policy is checked with
/// first_nonfinite() before its prepare() and fit() read the values.  The first bad
/// element is reported as "<who>: W contains NaN or Inf (NaN at index 145 (row 2, column
/// 17))", in the rows x cols of the caller's matrix.
template <class Policy, class Visit>
void for_each_group_in(const char* who, Policy& pol, const float* W, std::size_t cols,
                       const group_grid& grid, std::size_t r0, std::size_t r1, bool prepared,
                       Visit&& visit) {
  const std::size_t gpr = grid.per_row(), block = prepare_block_rows(pol);
  const std::size_t rows_per_block = block == 0 ? grid.qrows : block;
  for (std::size_t r = r0; r < r1; ++r) {
    const float* row = W + r * grid.qcols;
    if (!prepared && r % rows_per_block == 0) {
      const std::size_t last = std::min(r + rows_per_block, grid.qrows);
      if (!prepare_rows_if_finite(pol, W, grid, r, last))
        throw_nonfinite_in(who, row, (last - r) * grid.qcols, r * grid.qcols, cols);
    }
    for (std::size_t j = 0; j < gpr; ++j) {
      const std::size_t c0 = j * grid.group, n = std::min(grid.group, grid.qcols - c0);
      const std::optional<typename Policy::params> p = fit_if_finite(pol, row + c0, n, r);
      if (!p) throw_nonfinite_in(who, row + c0, n, r * grid.qcols + c0, cols);
      visit(r * gpr + j, r * grid.qcols + c0, row + c0, n, *p);
    }
  }
}

/// Runs chunk(r0, r1) over blocks of grid rows that together cover the grid, each of
/// which calls for_each_group_in(..., r0, r1, prepared, ...) with its own scratch.  The
/// blocks run on OpenMP's threads (detail::for_each_chunk) for lowp's policies that are
/// not stochastic (their stream is drawn in row-major order); `prepared` tells the chunks
/// whether the whole matrix was prepared up front (a policy whose prepare block is the
/// whole matrix: NVFP4's tensor scale, any policy outside lowp).
///
/// Why the threads may share one policy: fit() and a deterministic encode() only read it,
/// and prepare_rows_if_finite() of disjoint blocks writes disjoint state (M2: the s_max of
/// its own compute groups), once a call with first = last = 0 has sized it for W.
/// Blocks: whole prepare blocks of about 2^15 elements, their element count a multiple of
/// 4, so that no two blocks share a byte of packed codes.  The results do not depend on
/// the thread count: each group is fitted and encoded the same way in any block.
template <class Policy, class Chunk>
void for_each_row_block(const char* who, Policy& pol, const float* W, std::size_t cols,
                        const group_grid& grid, Chunk&& chunk) {
  const std::size_t block = prepare_block_rows(pol);
  bool threaded = false;
  if constexpr (is_lowp_policy_v<Policy>) threaded = !pol.rounding_config().stochastic;
  const bool prepared = block == 0 || grid.qrows <= 1;
  if (prepared) {
    if (!prepare_rows_if_finite(pol, W, grid, 0, grid.qrows))
      throw_nonfinite_in(who, W, grid.qrows * grid.qcols, 0, cols);
  } else {
    prepare_rows_if_finite(pol, W, grid, 0, 0);  // sizes the policy's state for W
  }
  const std::size_t step = block == 0 ? 1 : block;
  std::size_t rows =
      std::max<std::size_t>((std::size_t{1} << 15) / std::max<std::size_t>(grid.qcols, 1), 1);
  rows = (rows + step - 1) / step * step;
  if (grid.qcols % 4 != 0) rows *= 4;
  for_each_chunk_as_caller(
      grid.qrows, rows, [&](std::size_t r0, std::size_t n) { chunk(r0, r0 + n, prepared); },
      grid.qcols, threaded);
}

template <template <class> class Template, class T>
struct is_instance_of : std::false_type {};
template <template <class> class Template, class F>
struct is_instance_of<Template, Template<F>> : std::true_type {};
template <class T>
inline constexpr bool always_false_v = false;

/// The float s with policy.decode(c, p) == s * static_cast<float>(F::from_bits(c)), in
/// binary32, for every code c; nullopt when there is none (minmax's zero point, a policy
/// outside lowp, an exact scale that is not a float: below 2^-149 or above FLT_MAX).
/// Why the product is the same bits: decode() rounds exact_scale(p) * element once to
/// float, computed in double, where it is exact (an element has at most 8 significant
/// bits, s 24); the float multiply rounds the same exact product once.
template <class Policy>
std::optional<float> decode_multiplier(const Policy& pol,
                                       const typename Policy::params& p) noexcept {
  if constexpr (is_lowp_policy_v<Policy> && !is_instance_of<minmax, Policy>::value) {
    const double exact = pol.exact_scale(p);
    const float s = static_cast<float>(exact);
    if (static_cast<double>(s) == exact && std::isfinite(s)) return s;
  } else {
    (void)pol;
    (void)p;
  }
  return std::nullopt;
}

/// out[0..n) = s * the values of codes [first, first + n): the SIMD decoders of bulk.hpp
/// (packed nibbles or FP6 from any element position, or one code per byte/element).
template <class Codes>
void decode_codes_scaled(const Codes& codes, std::size_t first, std::size_t n, float s,
                         float* out) {
  using F = typename Codes::value_type;
  if constexpr (is_packable_v<F>) {
    bulk::decode_packed_run<simd::best_backend, F, packed_layout::low_nibble_first, true>(
        codes.bytes(), first, out, n, s);
  } else {
    convert_unscaled(codes.data() + first, out, n, s);
  }
}

/// Elements [first, first + n) of t's codes, all in one group with params p, dequantized
/// into out[0..n): policy.decode() of each, in bulk where decode_multiplier() allows.
template <class Policy, class Codes>
void dequantize_run(const Policy& pol, const typename Policy::params& p, const Codes& codes,
                    std::size_t first, std::size_t n, float* out) {
  if constexpr (is_instance_of<minmax, Policy>::value) {
    // decode() = fl(scale * (element - zero)): element - zero is a small integer, exact
    // in float, so one float multiply rounds the same exact product.
    decode_codes_scaled(codes, first, n, 1.0f, out);
    const float z = static_cast<float>(p.zero), sc = p.scale;
    LOWP_SIMD_LOOP
    for (std::size_t i = 0; i < n; ++i) out[i] = (out[i] - z) * sc;
    return;
  }
  if (const std::optional<float> s = decode_multiplier(pol, p)) {
    decode_codes_scaled(codes, first, n, *s, out);
    return;
  }
  for (std::size_t i = 0; i < n; ++i) out[i] = pol.decode(codes[first + i].bits(), p);
}

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
      throw std::invalid_argument(
          "lowp::quantized_tensor::from_codes: " + std::to_string(params.size()) +
          " params given, the grid has " + std::to_string(t.params_.size()) + " groups");
    t.params_ = std::move(params);
    for (std::size_t i = 0; i < rows * cols; ++i) t.set_code_flat(i, codes[i]);
    return t;
  }

  /// from_codes() with a per-column group index (see set_group_index()).
  static quantized_tensor from_codes(Policy policy, std::size_t rows, std::size_t cols,
                                     granularity gran, const storage_type* codes,
                                     std::vector<params_type> params,
                                     std::vector<std::uint32_t> group_index) {
    quantized_tensor t = from_codes(std::move(policy), rows, cols, gran, codes, std::move(params));
    t.set_group_index(std::move(group_index));
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
  params_type& group_params(std::size_t r, std::size_t j) noexcept {
    return params_[r * grid_.per_row() + j];
  }
  /// The group of column c: group_index()[c] when the tensor has a group index, else
  /// c / group_size().  Unchecked (c < cols(); not for per_tensor).
  std::size_t group_of_column(std::size_t c) const noexcept {
    return g_idx_.empty() ? c / grid_.group : g_idx_[c];
  }
  /// The params that element (r, c) uses.  Unchecked.
  const params_type& element_params(std::size_t r, std::size_t c) const noexcept {
    if (gran_.type() == granularity::kind::per_tensor) return params_[0];
    return params_[r * grid_.per_row() + group_of_column(c)];
  }

  /// The group index: empty when group j of a row is its columns [j*g, (j+1)*g) (the
  /// default), else one entry per column naming the group (of the same row) whose params
  /// the column uses.  GPTQ with act_order and groups shorter than a row forms its groups
  /// along the quantization order (AutoGPTQ's desc_act without static groups), so a
  /// group's columns are scattered: this is AutoGPTQ's g_idx.
  const std::vector<std::uint32_t>& group_index() const noexcept { return g_idx_; }
  /// Sets the group index (an empty vector restores the default).  Throws
  /// std::invalid_argument, changing nothing, when it has not cols() entries, an entry
  /// is not below groups_per_row(), or the granularity is per_tensor.
  void set_group_index(std::vector<std::uint32_t> group_index) {
    constexpr const char* who = "lowp::quantized_tensor::set_group_index";
    if (!group_index.empty()) {
      if (gran_.type() == granularity::kind::per_tensor)
        throw std::invalid_argument(std::string(who) + ": a per_tensor tensor has one group");
      if (group_index.size() != cols_)
        throw std::invalid_argument(std::string(who) + ": " + std::to_string(group_index.size()) +
                                    " entries for " + std::to_string(cols_) + " columns");
      for (std::size_t c = 0; c < cols_; ++c)
        if (group_index[c] >= grid_.per_row())
          throw std::invalid_argument(std::string(who) + ": column " + std::to_string(c) +
                                      " names group " + std::to_string(group_index[c]) +
                                      ", a row has " + std::to_string(grid_.per_row()));
    }
    g_idx_ = std::move(group_index);
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
  /// What this tensor takes in a kernel's memory: its codes (packed for 4- and 6-bit
  /// formats) plus its scales in their hardware form (scales_for_kernel(), lowp's policies
  /// only), not the padded params structs: an M2 FP4 row of 4096 with groups of 128 is
  /// 2048 + 4 + 32 bytes.
  std::size_t storage_bytes() const {
    return code_size_in_bytes() + scales_for_kernel(*this).size_in_bytes();
  }

  /// Code of element (r, c).  Unchecked.
  storage_type code(std::size_t r, std::size_t c) const noexcept {
    return code_flat(r * cols_ + c);
  }
  storage_type code_flat(std::size_t i) const noexcept { return codes_[i].bits(); }
  void set_code(std::size_t r, std::size_t c, storage_type code) noexcept {
    set_code_flat(r * cols_ + c, code);
  }
  void set_code_flat(std::size_t i, storage_type code) noexcept {
    codes_[i] = format::from_bits(code);
  }

  /// The dequantized value of element (r, c).  Unchecked.
  float value(std::size_t r, std::size_t c) const noexcept {
    return policy_.decode(code(r, c), element_params(r, c));
  }
  /// All rows*cols dequantized values, row-major, into out: value(r, c) of every element,
  /// bit for bit.  For lowp's policies in bulk: each group's codes go through the SIMD
  /// decoders of bulk.hpp times the group's scale (detail::decode_multiplier), in chunks
  /// on OpenMP's threads when compiled with OpenMP; the result does not depend on the
  /// thread count.  out must hold size() floats and not overlap the tensor.  Throws
  /// nothing but std::bad_alloc (a tensor with a group index takes a row's scales).
  void dequantize(float* out) const {
    if (!g_idx_.empty()) {
      detail::for_each_chunk_as_caller(
          rows_, 1, [&](std::size_t r, std::size_t) { dequantize_row_indexed(r, out + r * cols_); },
          cols_);
      return;
    }
    // Threaded for lowp's policies; another policy's decode() is not promised thread-safe.
    detail::for_each_chunk_as_caller(
        size(), chunk_elements,
        [&](std::size_t first, std::size_t n) { dequantize_elements(first, n, out + first); }, 1,
        detail::is_lowp_policy_v<Policy>);
  }
  std::vector<float> dequantize() const {
    std::vector<float> out(size());
    dequantize(out.data());
    return out;
  }

  /// All rows*cols dequantized values as bfloat16 or float16 (an engine's 16-bit weight
  /// buffer): out[i] = lowp::cast<bfloat16 or float16>(value(r, c), rounding::nearest_even,
  /// o), bit for bit; `o` decides values past the format's max (float16: 65504), as in
  /// lowp::cast.  Each chunk is dequantized to float in cache as dequantize(float*) does,
  /// then cast in bulk (detail::bulk::half_encoder: vectorized, float16 by F16C where the
  /// SIMD back-end is AVX2 or AVX-512 and the CPU has it); threaded and
  /// thread-count independent as dequantize(float*).  out must hold size() elements and
  /// not overlap the tensor.  Throws nothing but std::bad_alloc.
  void dequantize(bfloat16* out, overflow o = overflow::saturate) const {
    dequantize_half<bfloat16>(out, o);
  }
  void dequantize(float16* out, overflow o = overflow::saturate) const {
    dequantize_half<float16>(out, o);
  }
  /// The same into an engine's raw 16-bit buffer (the bits of CUDA's __nv_bfloat16 or
  /// __half): out[i] = the bits of dequantize(To*)'s element i.  To: bfloat16 or float16.
  template <class To>
  void dequantize_bits(std::uint16_t* out, overflow o = overflow::saturate) const {
    static_assert(detail::bulk::is_half_v<To>, "dequantize_bits<To>: To is bfloat16 or float16");
    dequantize_half<To>(out, o);
  }

 private:
  /// Elements per chunk of the bulk paths: 64 KiB of floats.
  static constexpr std::size_t chunk_elements = std::size_t{1} << 14;

  /// Elements [first, first + n) (no group index) dequantized into dst[0..n).
  void dequantize_elements(std::size_t first, std::size_t n, float* dst) const {
    if constexpr (detail::is_lowp_policy_v<Policy>) {
      const std::size_t qcols = grid_.qcols, g = grid_.group, gpr = grid_.per_row();
      // Short groups (MX: 32, NVFP4: 16): a call per group would cost more than its work,
      // so each row piece is decoded at scale 1 (the element values, exact) in one call,
      // then multiplied by its groups' scales: one float multiply, the same bits.
      constexpr bool has_multiplier = !detail::is_instance_of<minmax, Policy>::value;
      const bool short_groups = has_multiplier && g < 64;
      for (std::size_t i = first; short_groups && i < first + n;) {
        const std::size_t r = i / qcols, c0 = i % qcols;
        const std::size_t len = std::min(first + n, (r + 1) * qcols) - i;
        detail::decode_codes_scaled(codes_, i, len, 1.0f, dst + (i - first));
        for (std::size_t c = c0; c < c0 + len;) {
          const std::size_t j = c / g, glen = std::min(std::min((j + 1) * g, qcols), c0 + len) - c;
          const params_type& p = params_[r * gpr + j];
          float* y = dst + (r * qcols + c - first);
          if (const std::optional<float> sc = detail::decode_multiplier(policy_, p)) {
            for (std::size_t k = 0; k < glen; ++k) y[k] *= *sc;
          } else {
            for (std::size_t k = 0; k < glen; ++k)
              y[k] = policy_.decode(codes_[r * qcols + c + k].bits(), p);
          }
          c += glen;
        }
        i += len;
      }
      for (std::size_t i = first; !short_groups && i < first + n;) {
        const std::size_t r = i / qcols, c = i % qcols, j = c / g;
        const std::size_t len = std::min(first + n - i, std::min((j + 1) * g, qcols) - c);
        detail::dequantize_run(policy_, params_[r * gpr + j], codes_, i, len, dst + (i - first));
        i += len;
      }
    } else {
      for (std::size_t i = first; i < first + n; ++i) dst[i - first] = value(i / cols_, i % cols_);
    }
  }

  /// Row r of a tensor with a group index dequantized into y[0..cols): each row's codes
  /// decoded in bulk (scale 1: the element values, exact), then each column times its
  /// group's scale (one float multiply, as in detail::dequantize_run); rows whose groups
  /// lack a float multiplier go element by element.
  void dequantize_row_indexed(std::size_t r, float* y) const {
    const std::size_t cols = cols_, gpr = grid_.per_row();
    const params_type* p = params_.data() + r * gpr;
    if constexpr (detail::is_lowp_policy_v<Policy>) {
      std::vector<float> scale(gpr), zero(gpr, 0.0f);
      bool bulk = true;
      for (std::size_t j = 0; j < gpr && bulk; ++j) {
        if constexpr (detail::is_instance_of<minmax, Policy>::value) {
          scale[j] = p[j].scale;
          zero[j] = static_cast<float>(p[j].zero);
        } else {
          const std::optional<float> s = detail::decode_multiplier(policy_, p[j]);
          bulk = s.has_value();
          if (bulk) scale[j] = *s;
        }
      }
      if (bulk) {
        detail::decode_codes_scaled(codes_, r * cols, cols, 1.0f, y);
        for (std::size_t c = 0; c < cols; ++c) y[c] = (y[c] - zero[g_idx_[c]]) * scale[g_idx_[c]];
        return;
      }
    }
    for (std::size_t c = 0; c < cols; ++c) y[c] = policy_.decode(code(r, c), p[g_idx_[c]]);
  }

  /// dequantize(bfloat16* / float16*) and dequantize_bits(): float in chunks of
  /// chunk_elements (or rows, with a group index) into a buffer that stays in cache, then
  /// half_encoder.  Out: To or std::uint16_t.
  template <class To, class Out>
  void dequantize_half(Out* out, overflow o) const {
    if (!g_idx_.empty()) {
      detail::for_each_chunk_as_caller(
          rows_, 1,
          [&](std::size_t r, std::size_t) {
            const std::unique_ptr<float[]> y(new float[cols_]);
            dequantize_row_indexed(r, y.get());
            detail::bulk::half_encoder<detail::simd::best_backend, To, Out>::run(
                y.get(), out + r * cols_, cols_, o);
          },
          cols_);
      return;
    }
    detail::for_each_chunk_as_caller(
        size(), chunk_elements,
        [&](std::size_t first, std::size_t n) {
          const std::unique_ptr<float[]> y(new float[n]);  // not zeroed: written first
          dequantize_elements(first, n, y.get());
          detail::bulk::half_encoder<detail::simd::best_backend, To, Out>::run(y.get(), out + first,
                                                                               n, o);
        },
        1, detail::is_lowp_policy_v<Policy>);
  }

  Policy policy_{};
  std::size_t rows_ = 0, cols_ = 0;
  granularity gran_ = granularity::per_channel();
  detail::group_grid grid_{};
  code_container codes_{};
  std::vector<params_type> params_{};
  std::vector<std::uint32_t> g_idx_{};  ///< empty: groups of consecutive columns
};

/// A quantized tensor's scales as a kernel reads them: separate arrays in the hardware form
/// of its policy, row-major over the group grid (grid rows x groups_per_row(): rows() rows,
/// or one for per_tensor).  quantized_tensor::params() keeps each group's params as one
/// struct (an M2 group is {float s_max, uint8 shift}: 8 bytes with padding, s_max repeated
/// in every group of its row); a kernel wants one float per row and one byte per group.
/// Only the arrays of the tensor's policy are filled:
///   absmax, pow2 (M1)   group_scale: one float per group (value = scale * element);
///   minmax              group_scale and zero_point: one int32 per group
///                       (value = scale * (code - zero));
///   mx                  group_code: the E8M0 byte of each block (value = 2^(byte - 127)
///                       * element; an MXINT element is its code * 2^-(b-2));
///   nvfp4               group_code: the E4M3 byte of each block, and tensor_scale, g
///                       (value = g * E4M3(byte) * element);
///   pow2_relative (M2)  row_scale: s_max of each grid row, and group_shift: k per group
///                       (the group's scale is row_scale[r] * 2^-k).
struct kernel_scales {
  std::vector<float> group_scale;
  std::vector<std::int32_t> zero_point;
  std::vector<std::uint8_t> group_code;
  float tensor_scale = 0.0f;  ///< nvfp4 only
  std::vector<float> row_scale;
  std::vector<std::uint8_t> group_shift;
  bool has_tensor_scale = false;

  /// The bytes a kernel stores for these scales.
  std::size_t size_in_bytes() const noexcept {
    return group_scale.size() * sizeof(float) + zero_point.size() * sizeof(std::int32_t) +
           group_code.size() + row_scale.size() * sizeof(float) + group_shift.size() +
           (has_tensor_scale ? sizeof(float) : 0);
  }
};

/// The scales of t in its policy's hardware form (see kernel_scales).  For lowp's policies
/// only (a static_assert says so for others).
template <class Policy>
kernel_scales scales_for_kernel(const quantized_tensor<Policy>& t) {
  kernel_scales k;
  const auto& params = t.params();
  if constexpr (detail::is_instance_of<absmax, Policy>::value ||
                detail::is_instance_of<pow2, Policy>::value) {
    for (const auto& p : params) k.group_scale.push_back(p.scale);
  } else if constexpr (detail::is_instance_of<minmax, Policy>::value) {
    for (const auto& p : params) {
      k.group_scale.push_back(p.scale);
      k.zero_point.push_back(p.zero);
    }
  } else if constexpr (detail::is_instance_of<mx, Policy>::value) {
    for (const auto& p : params) k.group_code.push_back(p.scale.bits());
  } else if constexpr (std::is_same_v<Policy, nvfp4>) {
    for (const auto& p : params) k.group_code.push_back(p.block_scale.bits());
    k.tensor_scale = params.empty() ? t.policy().tensor_scale() : params.front().tensor_scale;
    k.has_tensor_scale = true;
  } else if constexpr (detail::is_instance_of<pow2_relative, Policy>::value) {
    const std::size_t per_row = t.groups_per_row();
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (i % per_row == 0) k.row_scale.push_back(params[i].scale_max);
      k.group_shift.push_back(params[i].shift);
    }
  } else {
    static_assert(detail::always_false_v<Policy>,
                  "scales_for_kernel: lowp's policies only (absmax, minmax, pow2, "
                  "pow2_relative, mx, nvfp4)");
  }
  return k;
}

/// Quantizes the rows x cols row-major matrix W with `policy` at granularity `gran`.
///
/// The policy is copied, prepared on W (on 1 x rows*cols for per_tensor) and fit() on
/// every group in row-major order; elements are encoded in row-major order (so a
/// stochastic policy is reproducible).  Groups whose encode() is a plain cast of x / s
/// (policy_base::cast_divisor(): every deterministic policy but minmax and MXINT) are
/// encoded in bulk (detail::quotient_encoder: SIMD conversions of exact quotients), with
/// the same codes as policy.encode() element by element.  Blocks of rows of a
/// deterministic lowp policy run on OpenMP's threads when compiled with OpenMP (see
/// detail::for_each_row_block): the same codes and params on any number of threads.
/// Contract:
/// - rows*cols == 0: an empty tensor of that shape (no error, unless the group size is 0);
/// - group size 0, a group larger than the row, per_block without a block policy:
///   std::invalid_argument;
/// - a NaN or Inf in W: std::domain_error naming the first bad element's flat index,
///   row and column (nothing is returned).
template <class Policy>
quantized_tensor<Policy> quantize(Policy policy, const float* W, std::size_t rows, std::size_t cols,
                                  granularity gran) {
  constexpr const char* who = "lowp::quantize";
  const detail::group_grid grid = detail::resolve_grid(who, gran, policy, rows, cols);
  quantized_tensor<Policy> t(std::move(policy), rows, cols, gran);
  if (rows * cols == 0) return t;
  auto& pol = t.policy();
  using format = typename Policy::format;
  using codes_type = typename quantized_tensor<Policy>::code_container;
  detail::for_each_row_block(
      who, pol, W, cols, grid, [&](std::size_t r0, std::size_t r1, bool prepared) {
        std::optional<detail::quotient_encoder<format, codes_type>> bulk;
        if constexpr (detail::is_lowp_policy_v<Policy>) {
          constexpr std::size_t buffer = 4096;  // quotients per bulk conversion, at most
          bulk.emplace(t.codes(), pol.rounding_config().mode, std::min(buffer, grid.qcols));
        }
        auto encode_group = [&](std::size_t group, std::size_t first, const float* x, std::size_t n,
                                const typename Policy::params& p) {
          t.params()[group] = p;
          if constexpr (detail::is_lowp_policy_v<Policy>) {
            const float s = pol.cast_divisor(p);
            if (s > 0.0f) {
              bulk->encode(x, n, s, first);
              return;
            }
          }
          for (std::size_t i = 0; i < n; ++i) t.set_code_flat(first + i, pol.encode(x[i], p));
        };
        detail::for_each_group_in(who, pol, W, cols, grid, r0, r1, prepared, encode_group);
        if (bulk) bulk->finish();
      });
  return t;
}

/// quantize() then dequantize(), without storing codes: out[i] = policy.fake(W[i], p), in
/// the same group loop.  out may alias W (in-place): every block of rows is prepared, and
/// every group fitted, before any of it is written.
///
/// For lowp's policies, a group whose encode() is a plain cast of x / s (cast_divisor()
/// > 0) goes through the exact quotients x / s of quantize()'s bulk path.  Rounded to
/// nearest even on FP8 (E4M3, E5M2), FP6, FP4 (E2M1) and INT formats, they are rounded on
/// the format's grid in float arithmetic (detail::scaled_grid_values); otherwise encoded
/// by the SIMD converter and decoded.  Either way multiplied by s in float: the same bits
/// as policy.fake(), as the element has at most 8 significant bits and s 24, so s *
/// element is exact in double, and decode() and the float product both round that exact
/// product once.  Other groups (minmax, MXINT's clamp, stochastic rounding, a scale that
/// is not a float) call policy.fake() per element.
///
/// Threads: the blocks of rows of lowp's deterministic policies run on OpenMP's threads
/// (see detail::for_each_row_block); the result does not depend on the thread count.
/// Same contract as quantize(); on an exception, out is unspecified (partially written).
template <class Policy>
void fake_quantize(Policy policy, const float* W, float* out, std::size_t rows, std::size_t cols,
                   granularity gran) {
  constexpr const char* who = "lowp::fake_quantize";
  const detail::group_grid grid = detail::resolve_grid(who, gran, policy, rows, cols);
  if (rows * cols == 0) return;
  using format = typename Policy::format;
  using codes_type =
      std::conditional_t<is_packable_v<format>, packed_vector<format>, std::vector<format>>;
  constexpr bool bulk = detail::is_lowp_policy_v<Policy>;
  constexpr bool grid_values = detail::has_grid_values_v<format>;
  detail::for_each_row_block(
      who, policy, W, cols, grid, [&](std::size_t r0, std::size_t r1, bool prepared) {
        // One group's quotients and codes, and its encoder (reused from group to group).
        std::vector<float> quotients(bulk ? grid.group : 0);
        codes_type codes(bulk ? grid.group : 0);
        auto encoder = [&] {
          if constexpr (bulk) {
            return detail::quotient_encoder<format, codes_type>(
                codes, policy.rounding_config().mode, codes.size());
          } else {
            return 0;  // unused
          }
        }();
        auto fake_group = [&](std::size_t, std::size_t first, const float* x, std::size_t n,
                              const typename Policy::params& p) {
          float* y = out + first;
          if constexpr (bulk) {
            const float s = policy.cast_divisor(p);
            if constexpr (grid_values) {
              if (s > 0.0f && policy.rounding_config().mode == rounding::nearest_even) {
                detail::exact_quotients<format>(x, n, s, quotients.data());
                detail::scaled_grid_values<format>(quotients.data(), n, s, y);
                return;
              }
            }
            if (s > 0.0f) {
              encoder.encode(x, n, s, 0);
              encoder.finish();
              detail::decode_codes_scaled(codes, 0, n, s, y);
              return;
            }
          }
          for (std::size_t i = 0; i < n; ++i) y[i] = policy.fake(x[i], p);
        };
        detail::for_each_group_in(who, policy, W, cols, grid, r0, r1, prepared, fake_group);
      });
}

namespace detail {
/// The vector and span forms' size check: W must hold rows * cols values.
inline void check_matrix_size(const char* who, std::size_t size, std::size_t rows,
                              std::size_t cols) {
  if (size != rows * cols)
    throw std::invalid_argument(std::string(who) + ": " + std::to_string(size) + " values for a " +
                                std::to_string(rows) + " x " + std::to_string(cols) + " matrix");
}
}  // namespace detail

/// quantize() of a std::vector.  Throws std::invalid_argument also when
/// W.size() != rows * cols.
template <class Policy>
quantized_tensor<Policy> quantize(Policy policy, const std::vector<float>& W, std::size_t rows,
                                  std::size_t cols, granularity gran) {
  detail::check_matrix_size("lowp::quantize", W.size(), rows, cols);
  return quantize(std::move(policy), W.data(), rows, cols, gran);
}

/// fake_quantize() into a new vector.  Throws std::invalid_argument also when
/// W.size() != rows * cols.
template <class Policy>
std::vector<float> fake_quantize(Policy policy, const std::vector<float>& W, std::size_t rows,
                                 std::size_t cols, granularity gran) {
  detail::check_matrix_size("lowp::fake_quantize", W.size(), rows, cols);
  std::vector<float> out(W.size());
  fake_quantize(std::move(policy), W.data(), out.data(), rows, cols, gran);
  return out;
}

#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L
/// quantize() of a std::span (C++20).  Throws std::invalid_argument also when
/// W.size() != rows * cols.
template <class Policy>
quantized_tensor<Policy> quantize(Policy policy, std::span<const float> W, std::size_t rows,
                                  std::size_t cols, granularity gran) {
  detail::check_matrix_size("lowp::quantize", W.size(), rows, cols);
  return quantize(std::move(policy), W.data(), rows, cols, gran);
}

/// fake_quantize() from one std::span into another of the same size (C++20; they may be
/// the same span).  Throws std::invalid_argument also when a size is not rows * cols.
template <class Policy>
void fake_quantize(Policy policy, std::span<const float> W, std::span<float> out, std::size_t rows,
                   std::size_t cols, granularity gran) {
  detail::check_matrix_size("lowp::fake_quantize", W.size(), rows, cols);
  detail::check_matrix_size("lowp::fake_quantize", out.size(), rows, cols);
  fake_quantize(std::move(policy), W.data(), out.data(), rows, cols, gran);
}
#endif

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
