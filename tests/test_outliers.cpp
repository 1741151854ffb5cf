// tests/test_outliers.cpp — outlier channels injected without changing the float model,
// the channel statistics of linear-layer inputs, and (on stories260K) the INT8-vs-FP8
// crossover they cause.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <lowp/model/evaluate.hpp>
#include <lowp/model/forward.hpp>
#include <lowp/model/generate.hpp>
#include <lowp/model/llama2c.hpp>
#include <lowp/model/outliers.hpp>
#include <string>
#include <vector>

#include "lowp_test.hpp"
#include "test_model_config.hpp"

namespace lm = lowp::model;

namespace {

lm::llama_config small_config() {
  return lowp_test::small_llama_config(200, 32);
}

std::vector<std::int32_t> some_tokens(std::size_t n, std::size_t vocab) {
  std::vector<std::int32_t> t(n);
  for (std::size_t i = 0; i < n; ++i) t[i] = static_cast<std::int32_t>((i * 53 + 7) % vocab);
  return t;
}

/// The transformation on the wrong side: rows (output channels) of q, k, v, gate and up
/// divided by alpha instead of columns.  What the function-preservation test must catch.
void inject_on_rows(lm::llama_model& m, const std::vector<std::size_t>& channels, float alpha) {
  const std::size_t dim = m.config.dim;
  for (std::size_t b = 0; b < m.blocks.size(); ++b) {
    for (lowp::model::tensor_ref* norm : {&m.blocks[b].attention_norm, &m.blocks[b].ffn_norm}) {
      float* p = m.own(dim);
      std::copy(norm->data, norm->data + dim, p);
      for (const std::size_t c : channels) p[c] *= alpha;
      norm->data = p;
    }
    for (const lm::linear l :
         {lm::linear::q, lm::linear::k, lm::linear::v, lm::linear::gate, lm::linear::up}) {
      const lm::tensor_ref& w = m.blocks[b].weight(l);
      std::vector<float> W(w.data, w.data + w.size());
      for (const std::size_t c : channels)  // k and v have kv_dim rows, fewer than dim
        if (c < w.rows)
          for (std::size_t j = 0; j < w.cols; ++j) W[c * w.cols + j] /= alpha;
      m.replace(b, l, W.data());
    }
  }
}

}  // namespace

TEST_CASE("pick_channels: distinct, sorted, in range, the same for a seed", "[outliers]") {
  const std::vector<std::size_t> a = lm::pick_channels(64, 5, 3);
  REQUIRE(a.size() == 5);
  CHECK(std::is_sorted(a.begin(), a.end()));
  CHECK(std::adjacent_find(a.begin(), a.end()) == a.end());
  CHECK(a.back() < 64);
  CHECK(lm::pick_channels(64, 5, 3) == a);
  CHECK(lm::pick_channels(64, 5, 4) != a);
  CHECK(lm::pick_channels(8, 8, 1) == std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(lm::pick_channels(8, 0, 1).empty());
  CHECK_THROWS_AS(lm::pick_channels(8, 9, 1), std::invalid_argument);
}

TEST_CASE("inject_outliers keeps the float model's logits bit for bit; the wrong side does not",
          "[outliers]") {
  const lm::llama_config c = small_config();
  const lm::llama_model ref = lm::random_model(c, 11);
  const std::vector<std::int32_t> toks = some_tokens(4 * 32, c.vocab_size);
  const lowp::row_major_matrixf want = lm::forward(ref, toks.data(), 4, 32);
  const std::vector<std::size_t> ch = {3, 17, 40};
  for (const float alpha : {1.0f, 4.0f, 256.0f, 0.125f, 1048576.0f}) {
    lm::llama_model m = lm::random_model(c, 11);
    lm::inject_outliers(m, ch, alpha);
    INFO("alpha " << alpha);
    // Zero tolerance: with alpha a power of two nothing is rounded (the header's argument).
    CHECK(lm::forward(m, toks.data(), 4, 32) == want);
    // The linear layers that read the norms see channels alpha times larger, exactly.
    std::vector<lowp::row_major_matrixf> before, after;
    lm::forward_options fo;
    fo.on_input = [&](std::size_t, lm::linear_input w, const lowp::row_major_matrixf& X) {
      if (w == lm::linear_input::qkv || w == lm::linear_input::gate_up) after.push_back(X);
    };
    (void)lm::forward(m, toks.data(), 4, 32, fo);
    fo.on_input = [&](std::size_t, lm::linear_input w, const lowp::row_major_matrixf& X) {
      if (w == lm::linear_input::qkv || w == lm::linear_input::gate_up) before.push_back(X);
    };
    (void)lm::forward(ref, toks.data(), 4, 32, fo);
    REQUIRE(before.size() == after.size());
    bool scaled = true;
    for (std::size_t i = 0; i < before.size(); ++i)
      for (Eigen::Index col = 0; col < before[i].cols(); ++col) {
        const bool outlier =
            std::find(ch.begin(), ch.end(), static_cast<std::size_t>(col)) != ch.end();
        const float k = outlier ? alpha : 1.0f;
        scaled = scaled && (after[i].col(col) == before[i].col(col) * k);
      }
    CHECK(scaled);
  }
  // The same scaling on the rows of the weights changes the model, so the check above can
  // fail.
  lm::llama_model wrong = lm::random_model(c, 11);
  inject_on_rows(wrong, ch, 16.0f);
  const lowp::row_major_matrixf got = lm::forward(wrong, toks.data(), 4, 32);
  CHECK((got - want).cwiseAbs().maxCoeff() > 1e-3f);
}

TEST_CASE("inject_outliers refuses what would round or is not a channel, changing nothing",
          "[outliers]") {
  lm::llama_model m = lm::random_model(small_config(), 5);
  const float* norm = m.blocks[0].attention_norm.data;
  const float* wq = m.blocks[0].wq.data;
  for (const float alpha : {3.0f, 0.0f, -4.0f, 10.0f, std::nanf(""), INFINITY, 0x1p31f, 0x1p-31f})
    CHECK_THROWS_AS(lm::inject_outliers(m, {1}, alpha), std::invalid_argument);
  CHECK_THROWS_WITH(lm::inject_outliers(m, {64}, 4.0f), Catch::Contains("channel 64"));
  CHECK_THROWS_WITH(lm::inject_outliers(m, {2, 5, 2}, 4.0f), Catch::Contains("given twice"));
  CHECK(m.blocks[0].attention_norm.data == norm);
  CHECK(m.blocks[0].wq.data == wq);
}

TEST_CASE("activation_channel_stats: the largest and median channel of every input", "[outliers]") {
  const lm::llama_config c = small_config();
  lm::llama_model m = lm::random_model(c, 21);
  const std::vector<std::int32_t> toks = some_tokens(3 * 32, c.vocab_size);
  // Brute force from the hook: max |x| per channel, then the largest and the median.
  std::vector<std::vector<float>> peak(c.n_layers * 4);
  lm::forward_options fo;
  fo.on_input = [&](std::size_t b, lm::linear_input w, const lowp::row_major_matrixf& X) {
    std::vector<float>& p = peak[b * 4 + static_cast<std::size_t>(w)];
    p.assign(static_cast<std::size_t>(X.cols()), 0.0f);
    for (Eigen::Index t = 0; t < X.rows(); ++t)
      for (Eigen::Index j = 0; j < X.cols(); ++j)
        p[static_cast<std::size_t>(j)] =
            std::max(p[static_cast<std::size_t>(j)], std::fabs(X(t, j)));
  };
  (void)lm::forward(m, toks.data(), 3, 32, fo);
  // In batches of 2 sequences: the maxima over batches are the maxima over all tokens.
  const std::vector<lm::channel_stats> s = lm::activation_channel_stats(m, toks.data(), 3, 32, 2);
  REQUIRE(s.size() == c.n_layers * 4);
  for (std::size_t i = 0; i < s.size(); ++i) {
    std::vector<float> p = peak[i];
    const auto top = std::max_element(p.begin(), p.end());
    CHECK(s[i].block == i / 4);
    CHECK(static_cast<std::size_t>(s[i].which) == i % 4);
    CHECK(s[i].largest == *top);
    CHECK(s[i].largest_at == static_cast<std::size_t>(top - p.begin()));
    std::sort(p.begin(), p.end());
    const float median =
        p.size() % 2 ? p[p.size() / 2] : (p[p.size() / 2 - 1] + p[p.size() / 2]) / 2;
    CHECK(s[i].median == median);
  }
  CHECK_THROWS_AS(lm::activation_channel_stats(m, toks.data(), 3, 32, 0), std::invalid_argument);
  // One injected channel of alpha 1024 becomes the largest of the qkv and gate_up inputs.
  lm::inject_outliers(m, {9}, 1024.0f);
  for (const lm::channel_stats& t : lm::activation_channel_stats(m, toks.data(), 3, 32)) {
    if (t.which != lm::linear_input::qkv && t.which != lm::linear_input::gate_up) continue;
    CHECK(t.largest_at == 9);
    CHECK(t.ratio() > 100.0);
  }
}

// The mechanism behind ZeroQuant-FP's RQ1 on a real model: stories260K's own activations
// favour INT8 (docs/results.md), and outlier channels injected without changing the float
// model turn that around, because per-token INT8 spends its grid on the outlier while
// FP8 keeps every value's relative precision.
TEST_CASE("stories260K: injected outliers make FP8 E4M3 activations beat INT8",
          "[outliers][stories]") {
  const std::string path = std::string(LOWP_TEST_MODEL_DIR) + "/stories260K.bin";
  if (!std::ifstream(path).good()) LOWP_SKIP("no stories260K.bin: set LOWP_MODEL_DIR");
  const lm::llama_model ref = lm::load_llama2c(path);
  const std::vector<std::int32_t> toks = lm::sample_sequences(ref, 8, 128, {1.0f, 1.0f, 77});
  const auto kl = [&](const lm::llama_model& m, lm::activation_format f) {
    lm::evaluate_options eo;
    eo.model.activations = f;
    return lm::evaluate(m, toks.data(), 8, 128, eo, &ref).kl().mean;
  };
  CHECK(kl(ref, lm::activation_format::int8) < kl(ref, lm::activation_format::fp8_e4m3));
  lm::llama_model m = lm::load_llama2c(path);
  lm::inject_outliers(m, lm::pick_channels(ref.config.dim, 4, 1), 256.0f);
  const double int8 = kl(m, lm::activation_format::int8);
  const double e4m3 = kl(m, lm::activation_format::fp8_e4m3);
  CHECK(e4m3 < int8);
  // FP8's error hardly depends on the outliers: within 2x of the uninjected model's.
  CHECK(e4m3 < 2.0 * kl(ref, lm::activation_format::fp8_e4m3));
}
