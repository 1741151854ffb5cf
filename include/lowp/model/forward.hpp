// lowp/model/forward.hpp — the LLaMA forward pass over a batch of token sequences, with
// per-token activation quantization of every linear layer's input and hooks that see
// those inputs.
//
// Layer: model.  Includes model/llama.hpp, eigen.hpp, quantize.hpp, scale.hpp, w4a8.hpp,
// detail/parallel.hpp and Eigen/Dense.
//
// The same computation as llama2.c's run.c `forward()`, for all positions of all
// sequences at once (each linear layer is one GEMM over batch x T tokens; attention is
// causal, per sequence and head).  One block at a time: memory is the weights plus one
// block's activations for the batch.  The three steps are public, so that a caller can
// run the blocks one by one (GPTQ's sequential quantization does):
//
//   X = embed(model, tokens, batch, T);                  // (batch*T) x dim, the residual stream
//   for b in blocks: run_block(model, b, X, T, options); // X += attention(X); X += ffn(X)
//   logits = classify(model, X);                         // (batch*T) x vocab
//
// Activation quantization (ZeroQuant-FP, sec. 3: activations are quantized token-wise):
// the input of every linear layer of the blocks (q/k/v, o, gate/up, down) is
// fake-quantized per token, with absmax scales, to INT8, FP8 E4M3 or FP8 E5M2.  The
// embedding and the classifier stay in float, as in the paper, and so do the attention
// scores and softmax.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "../detail/parallel.hpp"
#include "../eigen.hpp"
#include "../quantize.hpp"
#include "../scale.hpp"
#include "../w4a8.hpp"
#include "llama.hpp"

namespace lowp::model {

/// The per-token format of the linear layers' inputs.
enum class activation_format { none, int8, fp8_e4m3, fp8_e5m2 };

/// "none", "int8", "fp8_e4m3", "fp8_e5m2".
inline const char* activation_format_name(activation_format f) noexcept {
  switch (f) {
    case activation_format::none:
      return "none";
    case activation_format::int8:
      return "int8";
    case activation_format::fp8_e4m3:
      return "fp8_e4m3";
    case activation_format::fp8_e5m2:
      return "fp8_e5m2";
  }
  return "?";
}

/// The inputs a block's linear layers read: q, k and v share one, gate and up share one.
enum class linear_input { qkv, o, gate_up, down };

/// "qkv", "o", "gate_up", "down".
inline const char* linear_input_name(linear_input i) noexcept {
  switch (i) {
    case linear_input::qkv:
      return "qkv";
    case linear_input::o:
      return "o";
    case linear_input::gate_up:
      return "gate_up";
    case linear_input::down:
      break;
  }
  return "down";
}

/// One linear layer run by the W4A8 kernel (w4a8.hpp): its prepared weights and, with
/// LoRC, the factors Û (out x r) and V̂ (r x in) of its low-rank correction, which runs in
/// float on the dequantized activations: Y = kernel(A, W) + (Â V̂ᵀ) Ûᵀ.
struct w4a8_layer {
  w4a8_weights weights;
  row_major_matrixf U, V;  ///< empty without LoRC
};

/// The linear layers forward() runs through the W4A8 kernel instead of a float GEMM on
/// fake-quantized operands (make_w4a8_kernels() in packed_file.hpp builds them from a
/// packed model).  layers[b][l] null: layer l of block b stays in float.
struct w4a8_kernels {
  std::vector<std::array<std::shared_ptr<const w4a8_layer>, 7>> layers;
  w4a8_options options;

  /// Layer l of block b, or null.
  const w4a8_layer* layer(std::size_t b, linear l) const noexcept {
    return b < layers.size() ? layers[b][static_cast<std::size_t>(l)].get() : nullptr;
  }
};

/// What forward() and run_block() do besides computing.
struct forward_options {
  /// The format the linear layers' inputs are quantized to, per token (absmax).
  activation_format activations = activation_format::none;
  /// Called with every linear layer input of block `block` as the layer reads it (after
  /// activation quantization): tokens x in, row-major.  Empty: not called.
  std::function<void(std::size_t block, linear_input which, const row_major_matrixf& X)> on_input;
  /// Called with every linear layer's output (tokens x out).  Empty: not called.
  std::function<void(std::size_t block, linear which, const row_major_matrixf& Y)> on_output;
  /// Not null: the wall time of the blocks' GEMMs is added to *gemm_seconds: the linear
  /// layers' Y = X Wᵀ (the hooks not included) and attention's q kᵀ and P v (their share
  /// of the attention jobs' time, times the jobs' wall time).  For profiles that split
  /// the forward pass into its GEMMs and the rest (softmax, RoPE, RMSNorm, SwiGLU, the
  /// activations' quantization).
  double* gemm_seconds = nullptr;
  /// Not null: the layers it holds run through the W4A8 kernel on activations quantized
  /// per token to `activations` (which must be the kernel's format: fp8_e4m3 for FP4
  /// weights, int8 for INT4; run_block throws std::invalid_argument otherwise).  The other
  /// layers see the fake-quantized activations, as without it.
  const w4a8_kernels* kernels = nullptr;
};

/// The keys and values of the positions a sequence has seen so far, per block: what
/// incremental decoding (one token at a time) attends to instead of recomputing them.
/// It grows with the positions fed (doubling, up to seq_len), so a long seq_len costs
/// nothing until it is used.
struct kv_cache {
  std::vector<row_major_matrixf> k, v;  ///< per block: rows [0, length) filled, kv_dim columns
  std::size_t length = 0;               ///< positions seen
  std::size_t kv_dim = 0;

  /// An empty cache for a model of config c.
  explicit kv_cache(const llama_config& c) : k(c.n_layers), v(c.n_layers), kv_dim(c.kv_dim()) {}

  /// Makes room for positions up to `end` in block b (keeping what is there).
  void reserve(std::size_t b, std::size_t end, std::size_t seq_len) {
    if (static_cast<std::size_t>(k[b].rows()) >= end) return;
    const std::size_t rows =
        std::min(seq_len, std::max(end, 2 * static_cast<std::size_t>(k[b].rows())));
    const auto r = static_cast<Eigen::Index>(rows), d = static_cast<Eigen::Index>(kv_dim);
    k[b].conservativeResize(r, d);
    v[b].conservativeResize(r, d);
  }
};

namespace detail {

/// f(first row, row count) over the rows of a rows x cols row-major matrix, in chunks
/// split over Eigen's threads (parallel_rows).  The chunks do not depend on the thread
/// count, and each but the last holds a multiple of 64 elements, so an elementwise Eigen
/// expression on a chunk takes the same vector path (and gives the same bits) as on the
/// whole matrix, at any thread count.
template <class F>
void for_row_chunks(Eigen::Index rows, Eigen::Index cols, F&& f) {
  if (rows <= 0) return;
  const auto align = 64 / std::gcd<Eigen::Index>(cols, 64);  // rows of a 64-multiple
  const Eigen::Index per = (std::max<Eigen::Index>(align, rows / 16) + align - 1) / align * align;
  const auto chunks = static_cast<std::size_t>((rows + per - 1) / per);
  lowp::detail::parallel_rows(chunks, static_cast<std::size_t>(per * cols), true,
                              [&](std::size_t c) {
                                const Eigen::Index r0 = static_cast<Eigen::Index>(c) * per;
                                f(r0, std::min(per, rows - r0));
                              });
}

/// x ← x ⊙ w / sqrt(mean(x²) + eps), per row (RMSNorm).
inline void rmsnorm_rows(row_major_matrixf& X, const tensor_ref& w, float eps) {
  const auto weight = w.vector().transpose();
  for_row_chunks(X.rows(), X.cols(), [&](Eigen::Index r0, Eigen::Index n) {
    for (Eigen::Index t = r0; t < r0 + n; ++t) {
      const float ms = X.row(t).squaredNorm() / static_cast<float>(X.cols());
      X.row(t) = X.row(t).cwiseProduct(weight) * (1.0f / std::sqrt(ms + eps));
    }
  });
}

/// Per-token fake quantization of n rows of k values in place (absmax scales, one per row).
inline void quantize_rows(float* x, std::size_t n, std::size_t k, activation_format f) {
  const granularity per_token = granularity::per_token();
  switch (f) {
    case activation_format::none:
      return;
    case activation_format::int8:
      return fake_quantize(absmax<int8>{}, x, x, n, k, per_token);
    case activation_format::fp8_e4m3:
      return fake_quantize(absmax<float8_e4m3fn>{}, x, x, n, k, per_token);
    case activation_format::fp8_e5m2:
      return fake_quantize(absmax<float8_e5m2>{}, x, x, n, k, per_token);
  }
}

/// Per-token fake quantization of X in place, over Eigen's threads (rows are independent:
/// the same bits at any thread count).  A NaN or Inf: fake_quantize's std::domain_error,
/// naming the first bad element's row and column in X.
inline void quantize_activations(row_major_matrixf& X, activation_format f) {
  if (f == activation_format::none) return;
  const auto n = static_cast<std::size_t>(X.rows()), k = static_cast<std::size_t>(X.cols());
  try {
    for_row_chunks(X.rows(), X.cols(), [&](Eigen::Index r0, Eigen::Index rows) {
      quantize_rows(X.data() + r0 * X.cols(), static_cast<std::size_t>(rows), k, f);
    });
  } catch (const std::domain_error&) {
    // A chunk names its rows from its own first one: again over all of X, which throws
    // for the same element (rows quantized already stay finite) with X's coordinates.
    quantize_rows(X.data(), n, k, f);
    throw;
  }
}

/// cos and sin of pos · θ^(-2i/hs) for pos = first .. first+T-1, i < hs/2 (T x hs/2
/// each), in double before rounding.
struct rope_table {
  row_major_matrixf cos, sin;
  rope_table(std::size_t first, std::size_t T, std::size_t hs, float theta)
      : cos(static_cast<Eigen::Index>(T), static_cast<Eigen::Index>(hs / 2)),
        sin(cos.rows(), cos.cols()) {
    for (Eigen::Index pos = 0; pos < cos.rows(); ++pos) {
      for (Eigen::Index i = 0; i < cos.cols(); ++i) {
        const double freq = std::pow(static_cast<double>(theta),
                                     -2.0 * static_cast<double>(i) / static_cast<double>(hs));
        const double angle = static_cast<double>(first + static_cast<std::size_t>(pos)) * freq;
        cos(pos, i) = static_cast<float>(std::cos(angle));
        sin(pos, i) = static_cast<float>(std::sin(angle));
      }
    }
  }
};

/// Rotates every head of every row of Q (rows = batch x T tokens, T positions each) by
/// its position, pairing features as the model's RoPE style says.
inline void apply_rope(row_major_matrixf& Q, std::size_t T, std::size_t hs, rope_style style,
                       const rope_table& rope) {
  const std::size_t half = hs / 2;
  for_row_chunks(Q.rows(), Q.cols(), [&](Eigen::Index r0, Eigen::Index n) {
    for (Eigen::Index t = r0; t < r0 + n; ++t) {
      const auto pos = static_cast<Eigen::Index>(static_cast<std::size_t>(t) % T);
      float* row = Q.data() + t * Q.cols();
      for (std::size_t h = 0; h * hs < static_cast<std::size_t>(Q.cols()); ++h) {
        float* head = row + h * hs;
        for (std::size_t i = 0; i < half; ++i) {
          // interleaved: (2i, 2i+1), llama2.c; half: (i, i + hs/2), Hugging Face rotate_half.
          const std::size_t a = style == rope_style::interleaved ? 2 * i : i;
          const std::size_t b = style == rope_style::interleaved ? 2 * i + 1 : i + half;
          const float c = rope.cos(pos, static_cast<Eigen::Index>(i));
          const float s = rope.sin(pos, static_cast<Eigen::Index>(i));
          const float x0 = head[a], x1 = head[b];
          head[a] = x0 * c - x1 * s;
          head[b] = x0 * s + x1 * c;
        }
      }
    }
  });
}

/// Causal attention of one head: out = softmax(q kᵀ / sqrt(hs)) v, where q holds the
/// queries of positions first .. first+T-1 (T x hs) and k, v the keys and values of
/// positions 0 .. first+T-1; query t sees keys 0 .. first+t.  Not null: the seconds of
/// its two products (q kᵀ, P v) are added to *gemm_seconds.
template <class Q, class K, class V, class Out>
void attend(const Q& q, const K& k, const V& v, std::size_t first, Out&& out,
            double* gemm_seconds = nullptr) {
  using clock = std::chrono::steady_clock;
  const float scale = 1.0f / std::sqrt(static_cast<float>(q.cols()));
  const auto t0 = gemm_seconds ? clock::now() : clock::time_point{};
  row_major_matrixf P = (q * k.transpose()) * scale;
  if (gemm_seconds) *gemm_seconds += std::chrono::duration<double>(clock::now() - t0).count();
  const Eigen::Index n = P.cols();
  for (Eigen::Index t = 0; t < P.rows(); ++t) {  // softmax over the visible positions
    const Eigen::Index visible = static_cast<Eigen::Index>(first) + t + 1;
    auto row = P.row(t).head(visible);
    const float mx = row.maxCoeff();
    row = (row.array() - mx).exp();
    row /= row.sum();
    P.row(t).tail(n - visible).setZero();
  }
  const auto t1 = gemm_seconds ? clock::now() : clock::time_point{};
  out.noalias() = P * v;
  if (gemm_seconds) *gemm_seconds += std::chrono::duration<double>(clock::now() - t1).count();
}

/// Y = X Wᵀ (tokens x out) for a weight stored [out, in].
inline row_major_matrixf linear_layer(const row_major_matrixf& X, const tensor_ref& W) {
  row_major_matrixf Y(X.rows(), static_cast<Eigen::Index>(W.rows));
  Y.noalias() = X * W.matrix().transpose();
  return Y;
}

}  // namespace detail

/// The residual stream's start: the embedding rows of `tokens` (batch x T token ids,
/// row-major, one sequence per row), as a (batch·T) x dim matrix.  Throws
/// std::invalid_argument for batch or T equal to 0, T > seq_len, a null pointer, or a
/// token id outside [0, vocab_size) (naming the sequence and position).
inline row_major_matrixf embed(const llama_model& m, const std::int32_t* tokens, std::size_t batch,
                               std::size_t T) {
  constexpr const char* who = "lowp::model::embed";
  const llama_config& c = m.config;
  if (batch == 0 || T == 0 || tokens == nullptr)
    throw std::invalid_argument(std::string(who) + ": no tokens");
  if (T > c.seq_len) {
    throw std::invalid_argument(std::string(who) + ": sequences of " + std::to_string(T) +
                                " tokens, longer than the model's seq_len " +
                                std::to_string(c.seq_len));
  }
  row_major_matrixf X(static_cast<Eigen::Index>(batch * T), static_cast<Eigen::Index>(c.dim));
  const auto E = m.embedding.matrix();
  for (std::size_t i = 0; i < batch * T; ++i) {
    const std::int32_t tok = tokens[i];
    if (tok < 0 || static_cast<std::size_t>(tok) >= c.vocab_size) {
      throw std::invalid_argument(std::string(who) + ": token id " + std::to_string(tok) +
                                  " at sequence " + std::to_string(i / T) + ", position " +
                                  std::to_string(i % T) + " is outside the vocabulary [0, " +
                                  std::to_string(c.vocab_size) + ")");
    }
    X.row(static_cast<Eigen::Index>(i)) = E.row(tok);
  }
  return X;
}

namespace detail {

// A block's four stages, each from the previous one's result: run_block() runs them in a
// row; quantize_model() (model/quantize_model.hpp) runs each over all its calibration
// data and quantizes the next linear layers in between.  Arguments are checked by the
// caller (run_block).  Each stage ends with the linear layers' input as they read it:
// quantized per token as opt.activations says, then shown to opt.on_input.

/// The quantized, hooked input of linear layers `which` of block b.  With W4A8 kernels the
/// input stays as it is (project() quantizes it per layer, keeping the codes); the hook
/// still sees it fake-quantized.
inline void linear_input_of(std::size_t b, linear_input which, row_major_matrixf& in,
                            const forward_options& opt) {
  if (opt.kernels != nullptr) {
    if (opt.on_input) {
      row_major_matrixf q = in;
      quantize_activations(q, opt.activations);
      opt.on_input(b, which, q);
    }
    return;
  }
  quantize_activations(in, opt.activations);
  if (opt.on_input) opt.on_input(b, which, in);
}

/// Y = in Wᵀ through the W4A8 kernel: `in` quantized per token (the codes whose
/// dequantization is fake_quantize()'s result), then w4a8_linear, plus LoRC in float.
inline row_major_matrixf project_w4a8(const w4a8_layer& k, const row_major_matrixf& in,
                                      activation_format f, const w4a8_options& options) {
  const auto tokens = static_cast<std::size_t>(in.rows()),
             cols = static_cast<std::size_t>(in.cols());
  const w4a8_activations A = w4a8_activations::quantize(
      f == activation_format::int8 ? w4a8_activation::int8 : w4a8_activation::fp8_e4m3, in.data(),
      tokens, cols);
  row_major_matrixf Y(in.rows(), static_cast<Eigen::Index>(k.weights.out()));
  w4a8_linear(A, k.weights, Y.data(), options);
  if (k.U.size() != 0) {
    row_major_matrixf a(in.rows(), in.cols());
    A.dequantize(a.data());
    const row_major_matrixf t = a * k.V.transpose();
    Y.noalias() += t * k.U.transpose();
  }
  return Y;
}

/// Y = in Wᵀ for linear layer l of block b, shown to opt.on_output.
inline row_major_matrixf project(const llama_model& m, std::size_t b, linear l,
                                 const row_major_matrixf& in, const forward_options& opt) {
  using clock = std::chrono::steady_clock;
  const auto t0 = opt.gemm_seconds ? clock::now() : clock::time_point{};
  row_major_matrixf Y;
  if (opt.kernels == nullptr) {
    Y = linear_layer(in, m.blocks[b].weight(l));
  } else if (const w4a8_layer* k = opt.kernels->layer(b, l)) {
    Y = project_w4a8(*k, in, opt.activations, opt.kernels->options);
  } else {  // a layer left in float: the fake-quantized input, as without kernels
    row_major_matrixf q = in;
    quantize_activations(q, opt.activations);
    Y = linear_layer(q, m.blocks[b].weight(l));
  }
  if (opt.gemm_seconds)
    *opt.gemm_seconds += std::chrono::duration<double>(clock::now() - t0).count();
  if (opt.on_output) opt.on_output(b, l, Y);
  return Y;
}

/// Stage 1: h = RMSNorm(X), the input of q, k and v.
inline row_major_matrixf block_qkv_input(const llama_model& m, std::size_t b,
                                         const row_major_matrixf& X, const forward_options& opt) {
  row_major_matrixf h = X;
  rmsnorm_rows(h, m.blocks[b].attention_norm, m.config.norm_eps);
  linear_input_of(b, linear_input::qkv, h, opt);
  return h;
}

/// Stage 2: causal attention of q, k, v (RoPE on q and k) over h, the input of o.  With a
/// cache, as run_block() says.
inline row_major_matrixf block_o_input(const llama_model& m, std::size_t b,
                                       const row_major_matrixf& h, std::size_t T,
                                       const forward_options& opt, kv_cache* cache) {
  const llama_config& c = m.config;
  const std::size_t first = cache != nullptr ? cache->length : 0;
  const std::size_t hs = c.head_size(), n_heads = c.n_heads, group = c.n_heads / c.n_kv_heads;
  const std::size_t batch = static_cast<std::size_t>(h.rows()) / T;
  row_major_matrixf Q = project(m, b, linear::q, h, opt), K = project(m, b, linear::k, h, opt),
                    V = project(m, b, linear::v, h, opt);
  const rope_table rope(first, T, hs, c.rope_theta);
  apply_rope(Q, T, hs, c.rope, rope);
  apply_rope(K, T, hs, c.rope, rope);
  if (cache != nullptr) {  // the new positions' keys and values join the earlier ones
    cache->reserve(b, first + T, c.seq_len);
    const auto at = static_cast<Eigen::Index>(first), n = static_cast<Eigen::Index>(T);
    cache->k[b].middleRows(at, n) = K;
    cache->v[b].middleRows(at, n) = V;
  }
  const row_major_matrixf& Ks = cache != nullptr ? cache->k[b] : K;
  const row_major_matrixf& Vs = cache != nullptr ? cache->v[b] : V;
  // Causal softmax(q kᵀ / sqrt(hs)) v, per sequence and head; query head h reads
  // key/value head h / group (grouped-query attention).
  row_major_matrixf att(h.rows(), static_cast<Eigen::Index>(c.dim));
  // With opt.gemm_seconds, the products' share of the jobs' time, times the wall time of
  // them all, is added to it (the jobs run on several threads).
  using clock = std::chrono::steady_clock;
  const std::size_t jobs = batch * n_heads;
  std::vector<double> job_gemm(opt.gemm_seconds ? jobs : 0), job_all(job_gemm.size());
  const auto start = clock::now();
  lowp::detail::parallel_rows(jobs, (first + T) * T * hs, true, [&](std::size_t job) {
    const auto job_start = opt.gemm_seconds ? clock::now() : clock::time_point{};
    const auto s = static_cast<Eigen::Index>((job / n_heads) * T);
    const std::size_t head = job % n_heads, kv_head = head / group;
    const auto n = static_cast<Eigen::Index>(T), d = static_cast<Eigen::Index>(hs);
    const auto seen = static_cast<Eigen::Index>(first + T);
    const auto hq = static_cast<Eigen::Index>(head * hs),
               hkv = static_cast<Eigen::Index>(kv_head * hs);
    attend(Q.block(s, hq, n, d), Ks.block(s, hkv, seen, d), Vs.block(s, hkv, seen, d), first,
           att.block(s, hq, n, d), opt.gemm_seconds ? &job_gemm[job] : nullptr);
    if (opt.gemm_seconds)
      job_all[job] = std::chrono::duration<double>(clock::now() - job_start).count();
  });
  if (opt.gemm_seconds) {
    const double all = std::accumulate(job_all.begin(), job_all.end(), 0.0);
    const double wall = std::chrono::duration<double>(clock::now() - start).count();
    if (all > 0)
      *opt.gemm_seconds += wall * std::accumulate(job_gemm.begin(), job_gemm.end(), 0.0) / all;
  }
  linear_input_of(b, linear_input::o, att, opt);
  return att;
}

/// Stage 3: X += o(att); returns RMSNorm(X), the input of gate and up.
inline row_major_matrixf block_gate_up_input(const llama_model& m, std::size_t b,
                                             row_major_matrixf& X, const row_major_matrixf& att,
                                             const forward_options& opt) {
  X += project(m, b, linear::o, att, opt);
  row_major_matrixf h = X;
  rmsnorm_rows(h, m.blocks[b].ffn_norm, m.config.norm_eps);
  linear_input_of(b, linear_input::gate_up, h, opt);
  return h;
}

/// Stage 4: silu(gate(h)) ⊙ up(h), the input of down.
inline row_major_matrixf block_down_input(const llama_model& m, std::size_t b,
                                          const row_major_matrixf& h, const forward_options& opt) {
  row_major_matrixf G = project(m, b, linear::gate, h, opt);
  const row_major_matrixf U = project(m, b, linear::up, h, opt);
  for_row_chunks(G.rows(), G.cols(), [&](Eigen::Index r0, Eigen::Index n) {  // silu(gate) ⊙ up
    auto g = G.middleRows(r0, n).array();
    g = (g / (1.0f + (-g).exp())) * U.middleRows(r0, n).array();
  });
  linear_input_of(b, linear_input::down, G, opt);
  return G;
}

/// The end: X += down(G), the block's output.
inline void block_output(const llama_model& m, std::size_t b, row_major_matrixf& X,
                         const row_major_matrixf& G, const forward_options& opt) {
  X += project(m, b, linear::down, G, opt);
}

}  // namespace detail

/// Block `b` on the residual stream X ((batch·T) x dim, sequences of T tokens, in place):
///   X += o_proj(attention(rope(q), rope(k), v))   on RMSNorm(X)
///   X += down_proj(silu(gate_proj(h)) ⊙ up_proj(h)) with h = RMSNorm(X)
/// With a cache (one sequence: X is T x dim), the T tokens are positions cache->length ..
/// cache->length + T - 1: their keys and values are stored in block b's cache rows and
/// attention also sees the earlier ones (the caller advances cache->length after the last
/// block).  Throws std::invalid_argument if X is not (k·T) x dim, b is past the last block,
/// or the cache would pass seq_len; std::domain_error when activation quantization meets
/// NaN/Inf.
inline void run_block(const llama_model& m, std::size_t b, row_major_matrixf& X, std::size_t T,
                      const forward_options& opt = {}, kv_cache* cache = nullptr) {
  constexpr const char* who = "lowp::model::run_block";
  const llama_config& c = m.config;
  if (b >= m.blocks.size())
    throw std::invalid_argument(std::string(who) + ": no block " + std::to_string(b));
  if (T == 0 || T > c.seq_len || X.cols() != static_cast<Eigen::Index>(c.dim) ||
      static_cast<std::size_t>(X.rows()) % T != 0) {
    throw std::invalid_argument(std::string(who) + ": X is " + std::to_string(X.rows()) + "x" +
                                std::to_string(X.cols()) + ", not (batch*" + std::to_string(T) +
                                ") x " + std::to_string(c.dim));
  }
  if (opt.kernels != nullptr) {
    for (const linear l : all_linears) {
      const w4a8_layer* k = opt.kernels->layer(b, l);
      if (k == nullptr) continue;
      const activation_format want = k->weights.activation() == w4a8_activation::int8
                                         ? activation_format::int8
                                         : activation_format::fp8_e4m3;
      if (opt.activations != want)
        throw std::invalid_argument(std::string(who) + ": " + linear_name(l) + " of block " +
                                    std::to_string(b) + " runs the W4A8 kernel on " +
                                    w4a8_scheme_name(k->weights.scheme()) +
                                    " weights, which need " + activation_format_name(want) +
                                    " activations, not " + activation_format_name(opt.activations));
      const llama_block& blk = m.blocks[b];
      if (k->weights.out() != blk.weight(l).rows || k->weights.in() != blk.weight(l).cols)
        throw std::invalid_argument(
            std::string(who) + ": the W4A8 weights of " + linear_name(l) + " of block " +
            std::to_string(b) + " are " + std::to_string(k->weights.out()) + "x" +
            std::to_string(k->weights.in()) + ", the model's " +
            std::to_string(blk.weight(l).rows) + "x" + std::to_string(blk.weight(l).cols));
    }
  }
  const std::size_t first = cache != nullptr ? cache->length : 0;
  if (cache != nullptr && (static_cast<std::size_t>(X.rows()) != T || first + T > c.seq_len ||
                           cache->k.size() != m.blocks.size() || cache->kv_dim != c.kv_dim())) {
    throw std::invalid_argument(std::string(who) + ": with a cache, X must be one sequence whose " +
                                std::to_string(first) + " + " + std::to_string(T) +
                                " positions fit in seq_len " + std::to_string(c.seq_len));
  }
  const row_major_matrixf h = detail::block_qkv_input(m, b, X, opt);  // 1. attention's input
  const row_major_matrixf att = detail::block_o_input(m, b, h, T, opt, cache);  // 2. attention
  const row_major_matrixf h2 =
      detail::block_gate_up_input(m, b, X, att, opt);                   // 3. + o, FFN's input
  const row_major_matrixf G = detail::block_down_input(m, b, h2, opt);  // 4. SwiGLU
  detail::block_output(m, b, X, G, opt);                                // 5. + down
}

/// The logits of every row of the residual stream X: classifier · RMSNorm(X), in float.
/// Throws std::invalid_argument if X does not have dim columns.
inline row_major_matrixf classify(const llama_model& m, const row_major_matrixf& X) {
  if (X.cols() != static_cast<Eigen::Index>(m.config.dim)) {
    throw std::invalid_argument("lowp::model::classify: X has " + std::to_string(X.cols()) +
                                " columns, the model's dim is " + std::to_string(m.config.dim));
  }
  row_major_matrixf h = X;
  detail::rmsnorm_rows(h, m.final_norm, m.config.norm_eps);
  return detail::linear_layer(h, m.classifier);
}

/// The logits of `batch` sequences of T tokens (row-major, one sequence per row): a
/// (batch·T) x vocab matrix whose row s·T + t holds the next-token logits after tokens
/// 0..t of sequence s.  Throws as embed() and run_block() do.
inline row_major_matrixf forward(const llama_model& m, const std::int32_t* tokens,
                                 std::size_t batch, std::size_t T,
                                 const forward_options& opt = {}) {
  row_major_matrixf X = embed(m, tokens, batch, T);
  for (std::size_t b = 0; b < m.blocks.size(); ++b) run_block(m, b, X, T, opt);
  return classify(m, X);
}

}  // namespace lowp::model
