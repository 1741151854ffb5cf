// lowp/model/outliers.hpp — outlier channels put into a model without changing what it
// computes, and the channel statistics of a model's own linear-layer inputs.
//
// Layer: model.  Includes forward.hpp, llama.hpp, scale.hpp (splitmix64) and the standard
// library.
//
// Why FP8 activations beat INT8 in large LLMs (ZeroQuant-FP, RQ1): their linear layers'
// inputs carry a few channels far larger than the rest (LLM.int8(), Dettmers et al. 2022:
// systematic large-magnitude features from about 6.7B parameters on; SmoothQuant, Xiao et
// al. 2022: a few activation channels about 100x larger than most values).  Per-token
// INT8 spends its 255 uniform levels on the largest value, so every other channel loses
// resolution; FP8's exponent keeps each value's relative precision.  A small model has no
// such channels.  inject_outliers() gives it some, the way SmoothQuant moves scale between
// activations and weights, but in the other direction:
//
//   h = RMSNorm(x) ⊙ g,   y = W h      →      g_c ← α g_c,   W[:, c] ← W[:, c] / α
//
// for the norms that feed linear layers (attention norm → q, k, v; FFN norm → gate, up).
// y is unchanged, h_c is α times larger.  With α a power of two the float model computes
// the same bits: α g_c and W[:, c] / α are exact, RMSNorm's x_c · (α g_c) · r is α times
// x_c · g_c · r exactly, and each product (α h_c)(W_rc / α) equals h_c W_rc.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "../scale.hpp"
#include "forward.hpp"
#include "llama.hpp"

namespace lowp::model {

/// `count` distinct channels of [0, dim), drawn by seed (a partial Fisher–Yates shuffle
/// driven by splitmix64, the same on every platform), in increasing order.  Throws
/// std::invalid_argument when count > dim.
inline std::vector<std::size_t> pick_channels(std::size_t dim, std::size_t count,
                                              std::uint64_t seed) {
  if (count > dim) {
    throw std::invalid_argument("lowp::model::pick_channels: " + std::to_string(count) +
                                " channels of " + std::to_string(dim));
  }
  std::vector<std::size_t> all(dim);
  for (std::size_t i = 0; i < dim; ++i) all[i] = i;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t r = lowp::detail::splitmix64(seed + i);
    std::swap(all[i], all[i + static_cast<std::size_t>(r % (dim - i))]);
  }
  all.resize(count);
  std::sort(all.begin(), all.end());
  return all;
}

/// Puts outlier channels into m's linear-layer inputs without changing its function (see
/// the file comment): for each channel c, the attention and FFN norm weights' entry c of
/// every block times alpha, column c of q, k, v, gate and up divided by alpha.  alpha must
/// be a power of two (2^-30 to 2^30), so that no value is rounded and the float model's
/// logits stay bit for bit the same, as long as no weight divided by alpha falls below
/// float's normal range.  Throws std::invalid_argument, before changing anything, for
/// another alpha, a channel >= dim, or a channel given twice.
inline void inject_outliers(llama_model& m, const std::vector<std::size_t>& channels, float alpha) {
  constexpr const char* who = "lowp::model::inject_outliers";
  int e = 0;
  const bool pow2 = std::isfinite(alpha) && alpha > 0.0f && std::frexp(alpha, &e) == 0.5f;
  if (!pow2 || e - 1 < -30 || e - 1 > 30) {
    throw std::invalid_argument(std::string(who) + ": alpha " + std::to_string(alpha) +
                                " is not a power of two from 2^-30 to 2^30");
  }
  const std::size_t dim = m.config.dim;
  std::vector<bool> seen(dim, false);
  for (const std::size_t c : channels) {
    if (c >= dim)
      throw std::invalid_argument(std::string(who) + ": channel " + std::to_string(c) +
                                  " of a model of dim " + std::to_string(dim));
    if (seen[c])
      throw std::invalid_argument(std::string(who) + ": channel " + std::to_string(c) +
                                  " given twice");
    seen[c] = true;
  }
  const auto scaled_norm = [&](tensor_ref& norm) {
    float* p = m.own(dim);
    std::copy(norm.data, norm.data + dim, p);
    for (const std::size_t c : channels) p[c] *= alpha;
    norm.data = p;
  };
  for (std::size_t b = 0; b < m.blocks.size(); ++b) {
    scaled_norm(m.blocks[b].attention_norm);
    scaled_norm(m.blocks[b].ffn_norm);
    for (const linear l : {linear::q, linear::k, linear::v, linear::gate, linear::up}) {
      const tensor_ref& w = m.blocks[b].weight(l);  // [out, dim]
      std::vector<float> W(w.data, w.data + w.size());
      for (std::size_t r = 0; r < w.rows; ++r)
        for (const std::size_t c : channels) W[r * w.cols + c] /= alpha;
      m.replace(b, l, W.data());
    }
  }
}

/// The channels of one linear-layer input: each channel's magnitude is the largest |x_c|
/// over the tokens.
struct channel_stats {
  std::size_t block = 0;
  linear_input which = linear_input::qkv;
  float largest = 0;           ///< the largest channel's magnitude
  std::size_t largest_at = 0;  ///< its channel
  float median = 0;            ///< the median channel magnitude
  /// largest / median (0 when the median is 0).
  double ratio() const noexcept { return median > 0 ? static_cast<double>(largest) / median : 0.0; }
};

/// channel_stats of every linear-layer input of m (block by block: qkv, o, gate_up, down)
/// over `count` sequences of T tokens (row-major), `batch` sequences per forward pass, in
/// float, without activation quantization.  Throws std::invalid_argument for a batch of
/// 0, and what forward() throws for bad tokens or lengths.
inline std::vector<channel_stats> activation_channel_stats(const llama_model& m,
                                                           const std::int32_t* tokens,
                                                           std::size_t count, std::size_t T,
                                                           std::size_t batch = 8) {
  if (batch == 0) throw std::invalid_argument("lowp::model::activation_channel_stats: batch is 0");
  const std::size_t inputs = 4;
  std::vector<std::vector<float>> peak(m.blocks.size() * inputs);
  forward_options fo;
  fo.on_input = [&](std::size_t b, linear_input which, const row_major_matrixf& X) {
    std::vector<float>& p = peak[b * inputs + static_cast<std::size_t>(which)];
    if (p.empty()) p.assign(static_cast<std::size_t>(X.cols()), 0.0f);
    const Eigen::RowVectorXf col_max = X.cwiseAbs().colwise().maxCoeff();
    for (Eigen::Index c = 0; c < X.cols(); ++c)
      p[static_cast<std::size_t>(c)] = std::max(p[static_cast<std::size_t>(c)], col_max(c));
  };
  for (std::size_t s = 0; s < count; s += batch) {
    (void)forward(m, tokens + s * T, std::min(batch, count - s), T, fo);
  }
  std::vector<channel_stats> out;
  for (std::size_t i = 0; i < peak.size(); ++i) {
    const std::vector<float>& p = peak[i];
    if (p.empty()) continue;
    channel_stats s;
    s.block = i / inputs;
    s.which = static_cast<linear_input>(i % inputs);
    const auto top = std::max_element(p.begin(), p.end());
    s.largest = *top;
    s.largest_at = static_cast<std::size_t>(top - p.begin());
    std::vector<float> sorted = p;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t n = sorted.size();
    s.median = n % 2 == 1 ? sorted[n / 2] : 0.5f * (sorted[n / 2 - 1] + sorted[n / 2]);
    out.push_back(s);
  }
  return out;
}

}  // namespace lowp::model
