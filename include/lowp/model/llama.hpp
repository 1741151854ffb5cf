// lowp/model/llama.hpp — a LLaMA-architecture model in memory: its configuration and
// its weights, wherever they lie (a mapped checkpoint, or buffers the model owns).
//
// Layer: model.  Includes model/file.hpp and eigen.hpp (row_major_matrixf).
//
// The architecture is llama2.c's and Hugging Face's LlamaForCausalLM: token embedding,
// n_layers blocks of (RMSNorm, grouped-query attention with RoPE, RMSNorm, SwiGLU FFN),
// a final RMSNorm and a classifier, tied to the embedding or not.  Every weight matrix is
// stored [out, in], row-major, and used as y = W x (PyTorch's nn.Linear layout).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../eigen.hpp"
#include "file.hpp"

namespace lowp::model {

/// How RoPE pairs the features of a head.  llama2.c rotates interleaved pairs (2i, 2i+1);
/// Hugging Face checkpoints store q and k permuted so that the pairs are (i, i + hs/2)
/// ("rotate_half").  Each gives the same model on the weights of its own convention.
enum class rope_style {
  interleaved,  ///< llama2.c run.c: pairs (2i, 2i+1) of each head
  half,         ///< Hugging Face LlamaRotaryEmbedding: pairs (i, i + head_size/2)
};

/// The shape and the constants of a model.
struct llama_config {
  std::size_t dim = 0;         ///< the residual stream's width (hidden_size)
  std::size_t hidden_dim = 0;  ///< the FFN's width (intermediate_size)
  std::size_t n_layers = 0;
  std::size_t n_heads = 0;
  std::size_t n_kv_heads = 0;  ///< grouped-query attention: n_heads / n_kv_heads heads share one
  std::size_t vocab_size = 0;
  std::size_t seq_len = 0;  ///< the longest sequence the model takes (max_position_embeddings)
  float rope_theta = 10000.0f;
  float norm_eps = 1e-5f;         ///< RMSNorm's epsilon (llama2.c: 1e-5)
  bool shared_classifier = true;  ///< the classifier is the token embedding (tied)
  rope_style rope = rope_style::interleaved;

  std::size_t head_size() const noexcept { return n_heads == 0 ? 0 : dim / n_heads; }
  std::size_t kv_dim() const noexcept { return head_size() * n_kv_heads; }

  /// Throws file_error, starting with `who` and naming `source`, unless every size is
  /// positive, n_heads divides dim, n_kv_heads divides n_heads, the head size is even
  /// (RoPE rotates pairs), rope_theta > 1 and norm_eps >= 0 are finite, and no tensor's
  /// element count overflows.
  void validate(const char* who, const std::string& source) const {
    const auto fail = [&](const std::string& why) {
      throw file_error(std::string(who) + ": " + source + ": " + why);
    };
    const std::pair<const char*, std::size_t> sizes[] = {
        {"dim", dim},         {"hidden_dim", hidden_dim}, {"n_layers", n_layers},
        {"n_heads", n_heads}, {"n_kv_heads", n_kv_heads}, {"vocab_size", vocab_size},
        {"seq_len", seq_len}};
    for (const auto& [name, v] : sizes) {
      if (v == 0) fail(std::string(name) + " is 0");
      if (v > (std::size_t{1} << 24))
        fail(std::string(name) + " = " + std::to_string(v) + " is too large");
    }
    if (dim % n_heads != 0) {
      fail("n_heads = " + std::to_string(n_heads) +
           " does not divide dim = " + std::to_string(dim));
    }
    if (n_heads % n_kv_heads != 0) {
      fail("n_kv_heads = " + std::to_string(n_kv_heads) +
           " does not divide n_heads = " + std::to_string(n_heads));
    }
    if (head_size() % 2 != 0) fail("the head size " + std::to_string(head_size()) + " is odd");
    if (!(rope_theta > 1.0f && rope_theta < 1e30f)) fail("rope_theta must be finite and > 1");
    if (!(norm_eps >= 0.0f && norm_eps < 1.0f)) fail("norm_eps must be in [0, 1)");
  }
};

/// A read-only row-major float matrix that lives elsewhere (a mapped file, or a buffer of
/// the model): rows x cols floats at data.  A vector is one row.
struct tensor_ref {
  const float* data = nullptr;
  std::size_t rows = 0, cols = 0;

  std::size_t size() const noexcept { return rows * cols; }
  Eigen::Map<const row_major_matrixf> matrix() const {
    return {data, static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols)};
  }
  Eigen::Map<const Eigen::VectorXf> vector() const {
    return {data, static_cast<Eigen::Index>(size())};
  }
};

/// The seven linear layers of a block, by their Hugging Face names (llama2.c: w1 = gate,
/// w2 = down, w3 = up).
enum class linear { q, k, v, o, gate, up, down };
inline constexpr linear all_linears[] = {linear::q,    linear::k,  linear::v,   linear::o,
                                         linear::gate, linear::up, linear::down};
/// "q_proj", ..., "down_proj".
inline const char* linear_name(linear l) noexcept {
  switch (l) {
    case linear::q:
      return "q_proj";
    case linear::k:
      return "k_proj";
    case linear::v:
      return "v_proj";
    case linear::o:
      return "o_proj";
    case linear::gate:
      return "gate_proj";
    case linear::up:
      return "up_proj";
    case linear::down:
      return "down_proj";
  }
  return "?";
}

/// One block's weights.
struct llama_block {
  tensor_ref attention_norm;  ///< [dim]
  tensor_ref wq, wk, wv, wo;  ///< [dim, dim], [kv_dim, dim], [kv_dim, dim], [dim, dim]
  tensor_ref ffn_norm;        ///< [dim]
  tensor_ref w_gate, w_up;    ///< [hidden_dim, dim] each (llama2.c w1, w3)
  tensor_ref w_down;          ///< [dim, hidden_dim] (llama2.c w2)

  const tensor_ref& weight(linear l) const noexcept {
    switch (l) {
      case linear::q:
        return wq;
      case linear::k:
        return wk;
      case linear::v:
        return wv;
      case linear::o:
        return wo;
      case linear::gate:
        return w_gate;
      case linear::up:
        return w_up;
      case linear::down:
        break;
    }
    return w_down;
  }
  tensor_ref& weight(linear l) noexcept {
    return const_cast<tensor_ref&>(static_cast<const llama_block&>(*this).weight(l));
  }
};

/// A model: its config and its weights.  Move-only: the tensor_refs point into storage the
/// model holds (a mapped file, its own buffers), which a copy would not own.
class llama_model {
 public:
  llama_config config;
  tensor_ref embedding;  ///< [vocab_size, dim]
  std::vector<llama_block> blocks;
  tensor_ref final_norm;  ///< [dim]
  tensor_ref classifier;  ///< [vocab_size, dim]; the embedding when shared

  llama_model() = default;
  llama_model(llama_model&&) noexcept = default;
  llama_model& operator=(llama_model&&) noexcept = default;
  llama_model(const llama_model&) = delete;
  llama_model& operator=(const llama_model&) = delete;

  /// Keeps `storage` alive as long as the model (the mapped file its refs point into).
  void keep(std::shared_ptr<const void> storage) { storage_.push_back(std::move(storage)); }

  /// A buffer of n floats that the model owns (zero-initialized), for weights it holds
  /// itself: converted from another dtype, or replaced.
  float* own(std::size_t n) {
    owned_.push_back(std::make_unique<float[]>(n));
    return owned_.back().get();
  }

  /// Replaces the weight of linear layer `l` of block `b` with a copy of W (the same
  /// shape, row-major): how quantized weights are put in.  Throws std::out_of_range for a
  /// block past the end.
  void replace(std::size_t b, linear l, const float* W) {
    if (b >= blocks.size()) {
      throw std::out_of_range("lowp::model::llama_model::replace: block " + std::to_string(b) +
                              " of " + std::to_string(blocks.size()));
    }
    tensor_ref& t = blocks[b].weight(l);
    const float* old = t.data;
    float* p = own(t.size());
    std::copy(W, W + t.size(), p);
    t.data = p;
    // A buffer of ours that held the old weight is freed (linear weights are never
    // shared), so replacing a layer again and again does not grow the model.
    for (auto it = owned_.begin(); it != owned_.end(); ++it) {
      if (it->get() == old) {
        owned_.erase(it);
        break;
      }
    }
  }

  /// The number of parameters (the classifier counted once when shared).
  std::size_t parameter_count() const noexcept {
    std::size_t n = embedding.size() + final_norm.size();
    if (!config.shared_classifier) n += classifier.size();
    for (const llama_block& b : blocks) {
      n += b.attention_norm.size() + b.ffn_norm.size();
      for (linear l : all_linears) n += b.weight(l).size();
    }
    return n;
  }

 private:
  std::vector<std::shared_ptr<const void>> storage_;
  std::vector<std::unique_ptr<float[]>> owned_;
};

namespace detail {

/// Throws file_error (who: path: tensor ... holds NaN at element i) unless every weight
/// of m is finite.  Names are llama2.c's for the norms and the embedding.
inline void require_finite_weights(const llama_model& m, const std::string& path, const char* who) {
  const auto check = [&](const tensor_ref& t, const std::string& name) {
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (!std::isfinite(t.data[i])) {
        throw file_error(std::string(who) + ": " + path + ": tensor " + name + " holds " +
                         (std::isnan(t.data[i]) ? "NaN" : "Inf") + " at element " +
                         std::to_string(i));
      }
    }
  };
  check(m.embedding, "token_embedding");
  check(m.final_norm, "rms_final");
  if (!m.config.shared_classifier) check(m.classifier, "wcls");
  for (std::size_t b = 0; b < m.blocks.size(); ++b) {
    const std::string layer = "layers." + std::to_string(b) + ".";
    check(m.blocks[b].attention_norm, layer + "rms_att");
    check(m.blocks[b].ffn_norm, layer + "rms_ffn");
    for (linear l : all_linears) check(m.blocks[b].weight(l), layer + linear_name(l));
  }
}

}  // namespace detail

}  // namespace lowp::model
