// lowp/model/evaluate.hpp — perplexity, and the KL divergence and top-1 agreement against
// a reference model: the numbers quantized models are judged by.
//
// Layer: model.  Includes model/forward.hpp.
//
// Definitions (those of llama.cpp's `perplexity` and `perplexity --kl-divergence`):
//   - Position t of a sequence of T tokens predicts token t+1, for t = 0 .. T-2 (llama.cpp
//     scores only the second half of each context window; lowp scores every position
//     past the first, so short sequences count).  NLL = -ln softmax(logits_t)[token t+1].
//   - Perplexity = exp(mean NLL), with the standard error of the mean NLL,
//     sqrt((<nll²> - <nll>²) / (N - 1)), and PPL's propagated from it (PPL · that).
//   - KL(P_ref ‖ P) = Σ_v p_ref(v) (ln p_ref(v) - ln p(v)) per predicted position, where
//     P_ref is the reference (float) model's next-token distribution and P the evaluated
//     one's; reported as mean (with its standard error), median, 99th percentile
//     (interpolated between the nearest values, as llama.cpp does) and max.
//   - Top-1 agreement: the fraction of positions where both models' most likely next token
//     is the same.
// Everything is computed in double from the float logits.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "forward.hpp"
#include "llama.hpp"

namespace lowp::model {

/// Perplexity over N predicted tokens.
struct perplexity_result {
  std::size_t tokens = 0;  ///< N
  double mean_nll = 0;     ///< mean -ln p(next token)
  double mean_nll_stderr = 0;
  double ppl = 0;         ///< exp(mean_nll)
  double ppl_stderr = 0;  ///< ppl · mean_nll_stderr
};

/// The evaluated model against the reference over N predicted positions.
struct kl_result {
  std::size_t tokens = 0;
  double mean = 0, mean_stderr = 0, median = 0, p99 = 0, max = 0;  ///< KL(P_ref ‖ P), nats
  double top1 = 0;  ///< fraction of positions with the same argmax
};

/// Collects per-position scores from logits; perplexity() and kl() summarize them.
class token_scores {
 public:
  /// Scores the logits of `batch` sequences of T tokens (rows s·T + t, vocab columns, as
  /// forward() returns them) against the tokens themselves, and, when `reference` is
  /// given (the same shape), against the reference model's logits.  Throws
  /// std::invalid_argument for mismatched shapes, T < 2, or a token outside the vocabulary.
  void add(const row_major_matrixf& logits, const std::int32_t* tokens, std::size_t batch,
           std::size_t T, const row_major_matrixf* reference = nullptr) {
    constexpr const char* who = "lowp::model::token_scores::add";
    if (T < 2 || static_cast<std::size_t>(logits.rows()) != batch * T || tokens == nullptr) {
      throw std::invalid_argument(
          std::string(who) + ": logits are " + std::to_string(logits.rows()) + " rows for " +
          std::to_string(batch) + " sequences of " + std::to_string(T) + " tokens (T >= 2)");
    }
    if (reference != nullptr &&
        (reference->rows() != logits.rows() || reference->cols() != logits.cols())) {
      throw std::invalid_argument(std::string(who) + ": the reference logits' shape differs");
    }
    const auto vocab = static_cast<std::int64_t>(logits.cols());
    for (std::size_t s = 0; s < batch; ++s) {
      for (std::size_t t = 0; t + 1 < T; ++t) {
        const auto row = static_cast<Eigen::Index>(s * T + t);
        const std::int32_t next = tokens[s * T + t + 1];
        if (next < 0 || next >= vocab) {
          throw std::invalid_argument(std::string(who) + ": token id " + std::to_string(next) +
                                      " at sequence " + std::to_string(s) + ", position " +
                                      std::to_string(t + 1) + " is outside the vocabulary");
        }
        const Eigen::ArrayXd lp = log_softmax(logits.row(row));
        nll_.push_back(-lp(next));
        if (reference != nullptr) {
          const Eigen::ArrayXd lr = log_softmax(reference->row(row));
          // Not clamped at 0: rounding can make it slightly negative, and llama.cpp reports
          // that too (its minimum KLD).
          kl_.push_back((lr.exp() * (lr - lp)).sum());
          Eigen::Index a = 0, b = 0;
          lp.maxCoeff(&a);
          lr.maxCoeff(&b);
          same_top1_ += a == b ? 1 : 0;
        }
      }
    }
  }

  /// Perplexity of everything added.  Throws std::logic_error before any add().
  perplexity_result perplexity() const {
    if (nll_.empty())
      throw std::logic_error("lowp::model::token_scores::perplexity: nothing added");
    perplexity_result r;
    r.tokens = nll_.size();
    mean_and_stderr(nll_, r.mean_nll, r.mean_nll_stderr);
    r.ppl = std::exp(r.mean_nll);
    r.ppl_stderr = r.ppl * r.mean_nll_stderr;
    return r;
  }

  /// KL and top-1 against the reference.  Throws std::logic_error if nothing was added
  /// with reference logits.
  kl_result kl() const {
    if (kl_.empty())
      throw std::logic_error("lowp::model::token_scores::kl: no reference logits added");
    kl_result r;
    r.tokens = kl_.size();
    mean_and_stderr(kl_, r.mean, r.mean_stderr);
    std::vector<double> sorted = kl_;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t n = sorted.size();
    r.median = percentile(sorted, 0.5);
    r.p99 = percentile(sorted, 0.99);
    r.max = sorted.back();
    r.top1 = static_cast<double>(same_top1_) / static_cast<double>(n);
    return r;
  }

  bool has_reference() const noexcept { return !kl_.empty(); }

 private:
  template <class Row>
  static Eigen::ArrayXd log_softmax(const Row& row) {
    const Eigen::ArrayXd x = row.transpose().template cast<double>().array();
    const double mx = x.maxCoeff();
    return x - (mx + std::log((x - mx).exp().sum()));
  }
  // The value at fraction f of the sorted values, interpolated linearly between the two
  // nearest (position f·(n-1)), as llama.cpp's percentile().
  static double percentile(const std::vector<double>& sorted, double f) {
    const double at = f * static_cast<double>(sorted.size() - 1);
    const auto lo = static_cast<std::size_t>(at);
    const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
    const double frac = at - static_cast<double>(lo);
    return (1.0 - frac) * sorted[lo] + frac * sorted[hi];
  }
  static void mean_and_stderr(const std::vector<double>& v, double& mean, double& stderr_) {
    double s = 0, s2 = 0;
    for (double x : v) {
      s += x;
      s2 += x * x;
    }
    const auto n = static_cast<double>(v.size());
    mean = s / n;
    stderr_ = v.size() > 1 ? std::sqrt(std::max(0.0, s2 / n - mean * mean) / (n - 1)) : 0.0;
  }

  std::vector<double> nll_, kl_;
  std::size_t same_top1_ = 0;
};

/// What evaluate() runs.
struct evaluate_options {
  forward_options model;      ///< the evaluated model's forward (activation format, hooks)
  forward_options reference;  ///< the reference model's forward (normally plain float)
  std::size_t batch = 8;      ///< sequences per forward pass (memory: batch·T·vocab floats)
};

/// Perplexity of `m` on `count` sequences of T tokens (row-major), and, with a reference
/// model, KL and top-1 against it.  Throws what forward() and token_scores::add() throw,
/// and std::invalid_argument for a batch of 0 or a reference whose vocabulary differs.
inline token_scores evaluate(const llama_model& m, const std::int32_t* tokens, std::size_t count,
                             std::size_t T, const evaluate_options& opt = {},
                             const llama_model* reference = nullptr) {
  if (opt.batch == 0) throw std::invalid_argument("lowp::model::evaluate: batch is 0");
  if (reference != nullptr && reference->config.vocab_size != m.config.vocab_size) {
    throw std::invalid_argument("lowp::model::evaluate: the reference's vocabulary differs");
  }
  token_scores scores;
  for (std::size_t s = 0; s < count; s += opt.batch) {
    const std::size_t n = std::min(opt.batch, count - s);
    const std::int32_t* chunk = tokens + s * T;
    const row_major_matrixf logits = forward(m, chunk, n, T, opt.model);
    if (reference != nullptr) {
      const row_major_matrixf ref = forward(*reference, chunk, n, T, opt.reference);
      scores.add(logits, chunk, n, T, &ref);
    } else {
      scores.add(logits, chunk, n, T);
    }
  }
  return scores;
}

}  // namespace lowp::model
