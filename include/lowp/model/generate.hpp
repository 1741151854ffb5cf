// lowp/model/generate.hpp — incremental decoding with a KV cache, and sampling: how
// evaluation data are drawn from a model whose tokenizer is not at hand.
//
// Layer: model.  Includes model/forward.hpp and model/llama.hpp.
//
// decoder feeds tokens one at a time (or a prompt at once) through the blocks with a
// kv_cache, so each new token costs one position of work: llama2.c run.c's generate loop.
// Its logits equal the batched forward pass's up to float summation order (tested).
// The sampler is run.c's: temperature, then top-p (nucleus) sampling, with random numbers
// from SplitMix64 so that a seed gives the same tokens on every platform.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "../scale.hpp"  // detail::splitmix64
#include "forward.hpp"
#include "llama.hpp"

namespace lowp::model {

/// Runs a model over one sequence, a few tokens at a time, keeping the keys and values of
/// the positions seen (at most seq_len).  Holds a reference to the model.
class decoder {
 public:
  /// A decoder at position 0.  The options' activation format applies; hooks are called.
  explicit decoder(const llama_model& m, forward_options opt = {})
      : m_(m), opt_(std::move(opt)), cache_(m.config) {}

  /// Feeds `n` tokens (the next positions) and returns their logits, n x vocab.  Throws
  /// std::invalid_argument for n == 0, a token outside the vocabulary, or passing seq_len;
  /// the decoder is unchanged then.
  row_major_matrixf feed(const std::int32_t* tokens, std::size_t n) {
    if (n == 0 || cache_.length + n > m_.config.seq_len) {
      throw std::invalid_argument("lowp::model::decoder::feed: " + std::to_string(n) +
                                  " tokens after " + std::to_string(cache_.length) +
                                  " do not fit in seq_len " + std::to_string(m_.config.seq_len));
    }
    row_major_matrixf X = embed(m_, tokens, 1, n);
    for (std::size_t b = 0; b < m_.blocks.size(); ++b) run_block(m_, b, X, n, opt_, &cache_);
    cache_.length += n;
    return classify(m_, X);
  }
  /// feed() of one token; its logits.
  Eigen::VectorXf feed(std::int32_t token) { return feed(&token, 1).row(0).transpose(); }

  std::size_t position() const noexcept { return cache_.length; }
  /// Back to position 0 (the cache is kept allocated).
  void reset() noexcept { cache_.length = 0; }

 private:
  const llama_model& m_;
  forward_options opt_;
  kv_cache cache_;
};

/// How the next token is drawn from the logits.
struct sampler_options {
  float temperature = 1.0f;  ///< 0: greedy (argmax); otherwise logits / temperature
  float top_p = 1.0f;  ///< nucleus sampling: the smallest set of tokens with mass >= top_p; 1: all
  std::uint64_t seed = 1;
};

/// Draws tokens from logits as run.c does (argmax at temperature 0; else softmax of
/// logits / temperature, restricted to the top-p nucleus), with a SplitMix64 stream.
class sampler {
 public:
  /// Throws std::invalid_argument for a negative or non-finite temperature or top_p
  /// outside (0, 1].
  explicit sampler(const sampler_options& o) : o_(o), state_(o.seed) {
    if (!(o.temperature >= 0.0f && std::isfinite(o.temperature))) {
      throw std::invalid_argument("lowp::model::sampler: temperature must be finite and >= 0");
    }
    if (!(o.top_p > 0.0f && o.top_p <= 1.0f)) {
      throw std::invalid_argument("lowp::model::sampler: top_p must be in (0, 1]");
    }
  }

  /// The next token for these logits (vocab entries).
  std::int32_t operator()(const Eigen::VectorXf& logits) {
    Eigen::Index best = 0;
    if (o_.temperature == 0.0f) {
      logits.maxCoeff(&best);  // the first maximum, as run.c's argmax
      return static_cast<std::int32_t>(best);
    }
    const double u = uniform();
    Eigen::ArrayXd p = (logits.cast<double>().array() / static_cast<double>(o_.temperature));
    p = (p - p.maxCoeff()).exp();
    p /= p.sum();
    std::vector<Eigen::Index> order(static_cast<std::size_t>(p.size()));
    std::iota(order.begin(), order.end(), Eigen::Index{0});
    double mass = 1.0;
    std::size_t keep = order.size();
    if (o_.top_p < 1.0f) {  // the nucleus: most probable first, until the mass reaches top_p
      std::stable_sort(order.begin(), order.end(),
                       [&](Eigen::Index a, Eigen::Index b) { return p(a) > p(b); });
      mass = 0.0;
      keep = 0;
      // run.c: the first token whose cumulative probability exceeds top_p is the last kept.
      while (keep < order.size() && !(mass > static_cast<double>(o_.top_p)))
        mass += p(order[keep++]);
    }
    double cdf = 0.0;
    for (std::size_t i = 0; i < keep; ++i) {
      cdf += p(order[i]);
      if (u * mass < cdf) return static_cast<std::int32_t>(order[i]);
    }
    return static_cast<std::int32_t>(order[keep - 1]);  // rounding: the last one kept
  }

 private:
  double uniform() {  // SplitMix64 (Steele, Lea, Flood 2014): 53 random bits in [0, 1)
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
  }

  sampler_options o_;
  std::uint64_t state_;
};

/// A model of config c with random weights, for benchmarks and timings (its outputs mean
/// nothing): every matrix uniform in ±1/sqrt(in), every norm weight in [0.9, 1.1], the
/// classifier tied or not as c says.  Element i of the k-th tensor (in llama2.c's order)
/// is drawn from lowp::detail::splitmix64 of seed, k and i, so a seed gives the same model
/// on every platform.  Throws what llama_config::validate() throws (as
/// std::invalid_argument).
inline llama_model random_model(const llama_config& c, std::uint64_t seed) {
  try {
    c.validate("lowp::model::random_model", "the config");
  } catch (const file_error& e) {
    throw std::invalid_argument(e.what());
  }
  llama_model m;
  m.config = c;
  std::uint64_t tensor = 0;
  const auto fill = [&](std::size_t rows, std::size_t cols, float lo, float hi) {
    float* p = m.own(rows * cols);
    const std::uint64_t base = lowp::detail::splitmix64(seed ^ (0x9e3779b97f4a7c15ULL * ++tensor));
    for (std::size_t i = 0; i < rows * cols; ++i) {
      const double u = static_cast<double>(lowp::detail::splitmix64(base + i) >> 11) * 0x1.0p-53;
      p[i] = static_cast<float>(lo + (hi - lo) * u);
    }
    return tensor_ref{p, rows, cols};
  };
  const auto matrix = [&](std::size_t rows, std::size_t cols) {
    const float a = 1.0f / std::sqrt(static_cast<float>(cols));
    return fill(rows, cols, -a, a);
  };
  m.embedding = matrix(c.vocab_size, c.dim);
  m.blocks.resize(c.n_layers);
  for (llama_block& b : m.blocks) {
    b.attention_norm = fill(1, c.dim, 0.9f, 1.1f);
    b.wq = matrix(c.dim, c.dim);
    b.wk = matrix(c.kv_dim(), c.dim);
    b.wv = matrix(c.kv_dim(), c.dim);
    b.wo = matrix(c.dim, c.dim);
    b.ffn_norm = fill(1, c.dim, 0.9f, 1.1f);
    b.w_gate = matrix(c.hidden_dim, c.dim);
    b.w_up = matrix(c.hidden_dim, c.dim);
    b.w_down = matrix(c.dim, c.hidden_dim);
  }
  m.final_norm = fill(1, c.dim, 0.9f, 1.1f);
  m.classifier = c.shared_classifier ? m.embedding : matrix(c.vocab_size, c.dim);
  return m;
}

/// llama2.c's beginning-of-sequence token (its sentencepiece tokenizer's BOS id).
inline constexpr std::int32_t llama2c_bos = 1;

/// `count` sequences of `length` tokens sampled from the model: each starts with `bos`
/// and continues with tokens drawn by a sampler seeded with seed + sequence index, through
/// the decoder.  Returns count x length token ids, row-major.  Throws
/// std::invalid_argument for count or length 0, length > seq_len, or bos outside the
/// vocabulary.
inline std::vector<std::int32_t> sample_sequences(const llama_model& m, std::size_t count,
                                                  std::size_t length, sampler_options o,
                                                  std::int32_t bos = llama2c_bos) {
  if (bos < 0 || static_cast<std::size_t>(bos) >= m.config.vocab_size) {
    throw std::invalid_argument("lowp::model::sample_sequences: bos token " + std::to_string(bos) +
                                " is outside the vocabulary");
  }
  if (count == 0 || length == 0 || length > m.config.seq_len) {
    throw std::invalid_argument(
        "lowp::model::sample_sequences: " + std::to_string(count) + " x " + std::to_string(length) +
        " tokens (length must be in [1, seq_len = " + std::to_string(m.config.seq_len) + "])");
  }
  std::vector<std::int32_t> out(count * length);
  decoder dec(m);
  const std::uint64_t seed = o.seed;
  for (std::size_t s = 0; s < count; ++s) {
    o.seed = seed + s;
    sampler next(o);
    dec.reset();
    std::int32_t tok = bos;
    for (std::size_t t = 0; t < length; ++t) {
      out[s * length + t] = tok;
      if (t + 1 < length) tok = next(dec.feed(tok));
    }
  }
  return out;
}

}  // namespace lowp::model
