// ZeroQuant-FP on whole models (model/quantize_model.hpp, model/packed_file.hpp): the
// scheme's checks, one weight packed and unpacked for every policy, the packed layout
// against hand decoding, the packed file's round trip and its bad inputs, the sequential
// pipeline against a direct implementation written here, the paper's FP4 -> FP8
// deployment path for M1/M2 layers, and `lowp-ptq layer` against the library call.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <lowp/model/evaluate.hpp>
#include <lowp/model/generate.hpp>
#include <lowp/model/llama2c.hpp>
#include <lowp/model/npy.hpp>
#include <lowp/model/packed_file.hpp>
#include <lowp/model/quantize_model.hpp>
#include <lowp/shift_cast.hpp>
#include <random>
#include <string>
#include <vector>

#include "lowp_test.hpp"
#include "test_model_config.hpp"

namespace lm = lowp::model;
using lowp::row_major_matrixf;

namespace {

std::string temp_path(const std::string& name) {
  return std::string(LOWP_TEST_WORK_DIR) + "/test_quantize_model_" + name;
}

// A random model of config c: weights ~ N(0, 0.5/sqrt(in)) with a heavy column (3),
// norms near 1; the model owns its buffers.
lm::llama_model outlier_model(const lm::llama_config& c, std::uint32_t seed) {
  lm::llama_model m;
  m.config = c;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const auto make = [&](std::size_t rows, std::size_t cols, bool norm) -> lm::tensor_ref {
    float* p = m.own(rows * cols);
    const float sd = 0.5f / std::sqrt(static_cast<float>(cols));
    for (std::size_t i = 0; i < rows * cols; ++i) {
      p[i] = norm ? 1.0f + 0.1f * nd(rng) : sd * nd(rng) * (i % cols == 3 ? 4.0f : 1.0f);
    }
    return {p, rows, cols};
  };
  m.embedding = make(c.vocab_size, c.dim, false);
  m.blocks.resize(c.n_layers);
  for (lm::llama_block& b : m.blocks) {
    b.attention_norm = make(1, c.dim, true);
    b.ffn_norm = make(1, c.dim, true);
    b.wq = make(c.dim, c.dim, false);
    b.wk = make(c.kv_dim(), c.dim, false);
    b.wv = make(c.kv_dim(), c.dim, false);
    b.wo = make(c.dim, c.dim, false);
    b.w_gate = make(c.hidden_dim, c.dim, false);
    b.w_up = make(c.hidden_dim, c.dim, false);
    b.w_down = make(c.dim, c.hidden_dim, false);
  }
  m.final_norm = make(1, c.dim, true);
  m.classifier = c.shared_classifier ? m.embedding : make(c.vocab_size, c.dim, false);
  return m;
}

lm::llama_config small_config() {
  return lowp_test::small_llama_config(50, 32);
}

std::vector<std::int32_t> random_tokens(std::size_t n, std::size_t vocab, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::int32_t> t(n);
  for (auto& x : t) x = static_cast<std::int32_t>(rng() % vocab);
  return t;
}

// Every (format, policy) pair the pipeline supports.
std::vector<lm::weight_scheme> every_scheme() {
  using F = lm::weight_format;
  using P = lm::scale_policy;
  const std::pair<F, P> pairs[] = {
      {F::int4, P::absmax},     {F::int8, P::absmax}, {F::fp4_e2m1, P::absmax},
      {F::fp8_e4m3, P::absmax}, {F::int4, P::minmax}, {F::int8, P::minmax},
      {F::fp4_e2m1, P::m1},     {F::fp8_e4m3, P::m1}, {F::fp4_e2m1, P::m2},
      {F::fp8_e4m3, P::m2},     {F::fp4_e2m1, P::mx}, {F::fp8_e4m3, P::mx},
      {F::fp4_e2m1, P::nvfp4}};
  std::vector<lm::weight_scheme> out;
  for (const auto& [f, p] : pairs) {
    lm::weight_scheme s;
    s.format = f;
    s.policy = p;
    s.group_size = p == P::mx ? 32 : p == P::nvfp4 ? 16 : 32;
    out.push_back(s);
  }
  return out;
}

std::string scheme_name(const lm::weight_scheme& s) {
  return std::string(lm::weight_format_name(s.format)) + "/" + lm::scale_policy_name(s.policy);
}

bool same_bits(const float* a, const float* b, std::size_t n) {
  return std::memcmp(a, b, n * sizeof(float)) == 0;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

}  // namespace

TEST_CASE("weight_scheme: every combination that cannot work is refused before any work",
          "[model][quick]") {
  using F = lm::weight_format;
  using P = lm::scale_policy;
  const auto refused = [](F f, P p, std::size_t group, const std::string& needle,
                          bool act_order = false, std::size_t rank = 0) {
    lm::weight_scheme s;
    s.format = f;
    s.policy = p;
    s.group_size = group;
    s.act_order = act_order;
    s.lorc_rank = rank;
    const std::string e = error_of([&] { s.validate(64); });
    INFO(e);
    CHECK(e.find(needle) != std::string::npos);
  };
  refused(F::fp4_e2m1, P::minmax, 128, "min-max (a zero point) is for INT elements");
  refused(F::int4, P::m1, 128, "M1, M2 and MX scales are for FP elements");
  refused(F::int8, P::m2, 128, "M1, M2 and MX scales are for FP elements");
  refused(F::int4, P::mx, 32, "M1, M2 and MX scales are for FP elements");
  refused(F::fp8_e4m3, P::nvfp4, 16, "NVFP4 is FP4");
  refused(F::fp4_e2m1, P::mx, 128, "MX scales blocks of 32 elements, group size 128");
  refused(F::fp4_e2m1, P::nvfp4, 32, "NVFP4 scales blocks of 16 elements, group size 32");
  refused(F::int4, P::absmax, 128,
          "LoRC rank 65 is larger than the smallest layer's min(rows, cols) = 64", false, 65);
  lm::weight_scheme ok;
  ok.act_order = true;
  ok.static_groups = true;
  CHECK_NOTHROW(ok.validate(64));
  ok.static_groups = false;  // act-order groups (g_idx)
  CHECK_NOTHROW(ok.validate(64));
  ok.group_size = 0;
  CHECK_NOTHROW(ok.validate(64));
  ok.percdamp = -1;
  CHECK_THROWS_AS(ok.validate(64), std::invalid_argument);
}

TEST_CASE(
    "quantize_weight: the packed form unpacks to the same weights, bit for bit, for every policy",
    "[model][quick]") {
  const std::size_t rows = 48, cols = 96, tokens = 256;
  std::mt19937 rng(3);
  std::student_t_distribution<float> heavy(4.0f);
  std::vector<float> W(rows * cols), X(tokens * cols);
  for (float& w : W) w = 0.05f * heavy(rng);
  for (float& x : X) x = heavy(rng);
  lowp::hessian_accumulator acc(cols);
  acc.add_batch(X.data(), tokens, cols);
  const Eigen::MatrixXf H = acc.hessian();
  for (lm::weight_scheme s : every_scheme()) {
    for (const lm::weight_method method : {lm::weight_method::rtn, lm::weight_method::gptq}) {
      for (const lowp::lorc_factor_format lf :
           {lowp::lorc_factor_format::int8, lowp::lorc_factor_format::fp8_e4m3,
            lowp::lorc_factor_format::fp32}) {
        s.method = method;
        s.lorc_rank = lf == lowp::lorc_factor_format::fp32 ? 0 : 4;  // fp32 here: no LoRC
        s.lorc_factors = lf;
        if (lf == lowp::lorc_factor_format::fp32 && method == lm::weight_method::gptq) {
          s.lorc_rank = 3;  // fp32 factors with LoRC once
        }
        // Once per policy, GPTQ's act_order with groups along its order (a g_idx).
        s.act_order = method == lm::weight_method::gptq && lf == lowp::lorc_factor_format::int8;
        INFO(scheme_name(s) << (method == lm::weight_method::gptq ? " gptq" : " rtn") << " lorc "
                            << s.lorc_rank << " " << lm::lorc_factor_format_name(lf)
                            << (s.act_order ? " act_order" : ""));
        const lm::weight_outcome q = lm::quantize_weight(W.data(), rows, cols, H, s);
        CHECK(q.packed.g_idx.size() == (s.act_order ? cols : 0));
        const row_major_matrixf back = lm::unpack_weight(q.packed, s);
        REQUIRE(back.size() == q.fake.size());
        CHECK(same_bits(back.data(), q.fake.data(), rows * cols));
        CHECK(q.rel_output_error > 0);
        CHECK(q.rel_output_error < 0.2);
        // The reported error is ‖(W - Ŵ) Xᵀ‖² / ‖W Xᵀ‖², computed here from X directly.
        const Eigen::Map<const row_major_matrixf> Wm(W.data(), rows, cols),
            Xm(X.data(), tokens, cols);
        const Eigen::MatrixXd Y = (Xm * Wm.transpose()).cast<double>();
        const Eigen::MatrixXd E = (Xm * (Wm - q.fake).transpose()).cast<double>();
        CHECK(std::abs(q.rel_output_error - E.squaredNorm() / Y.squaredNorm()) <=
              1e-3 * q.rel_output_error);
      }
    }
  }
}

TEST_CASE("packed layout: FP4 absmax codes and scales decode by the spec's table",
          "[model][quick]") {
  // E2M1 (OCP MX spec, Table 5): magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6 for codes 0-7, bit
  // 3 the sign; a nibble pair per byte, element 2j in the low nibble.
  const float e2m1[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  const std::size_t rows = 6, cols = 64;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 0.1f);
  std::vector<float> W(rows * cols);
  for (float& w : W) w = nd(rng);
  lm::weight_scheme s;
  s.format = lm::weight_format::fp4_e2m1;
  s.group_size = 16;
  s.method = lm::weight_method::rtn;
  const lm::weight_outcome q =
      lm::quantize_weight(W.data(), rows, cols, Eigen::MatrixXf::Identity(cols, cols), s);
  REQUIRE(q.packed.codes.size() == rows * cols / 2);
  REQUIRE(q.packed.scales.group_scale.size() == rows * 4);
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < rows * cols; ++i) {
    const unsigned nibble = (q.packed.codes[i / 2] >> (i % 2 == 0 ? 0 : 4)) & 0xfu;
    const float scale = q.packed.scales.group_scale[(i / cols) * 4 + (i % cols) / 16];
    const double e = ((nibble & 8u) != 0 ? -1.0 : 1.0) * e2m1[nibble & 7u];
    mismatches += static_cast<float>(e * static_cast<double>(scale)) != q.fake.data()[i];
  }
  CHECK(mismatches == 0);
}

TEST_CASE("packed file: a quantized model round-trips bit for bit; bad files are named",
          "[model][quick]") {
  lm::llama_config c = small_config();
  c.shared_classifier = false;
  lm::llama_model m = outlier_model(c, 5);
  const std::vector<std::int32_t> calib = random_tokens(4 * 24, c.vocab_size, 9);
  lm::model_quant_options o;
  o.weights.format = lm::weight_format::fp4_e2m1;
  o.weights.policy = lm::scale_policy::m2;
  o.weights.group_size = 32;
  o.weights.lorc_rank = 4;
  o.weights.lorc_factors = lowp::lorc_factor_format::fp8_e4m3;
  o.weights.act_order = true;  // groups along the order: a g_idx per layer
  o.activations = lm::activation_format::fp8_e4m3;
  o.skip = {"layers.1.v_proj"};
  const lm::quantized_model q = lm::quantize_model(m, calib.data(), 4, 24, o);
  // The stage times: the GEMMs are part of the calibration forward, and other_share() is
  // what the named stages leave of the total.
  const lm::pipeline_times& times = q.times;
  CHECK(times.forward_gemms > 0);
  CHECK(times.forward_gemms <= times.calibration_forward);
  CHECK(times.other_share() ==
        (times.total - times.forward_gemms - times.hessians - times.quantize - times.lorc) /
            times.total);
  CHECK(times.other_share() >= 0);
  CHECK(times.other_share() < 1);
  CHECK(lm::pipeline_times{}.other_share() == 0);
  const std::string path = temp_path("model.safetensors");
  lm::save_packed(path, m, q, o);
  const lm::packed_model p = lm::load_packed(path);
  CHECK(p.activations == lm::activation_format::fp8_e4m3);
  CHECK(p.weights.policy == lm::scale_policy::m2);
  CHECK(p.metadata.at("skip") == "layers.1.v_proj");
  CHECK(p.model.config.shared_classifier == false);
  for (std::size_t b = 0; b < c.n_layers; ++b) {
    for (const lm::linear l : lm::all_linears) {
      INFO(lm::layer_name(b, l));
      const lm::tensor_ref a = m.blocks[b].weight(l), r = p.model.blocks[b].weight(l);
      CHECK(same_bits(a.data, r.data, a.size()));
    }
  }
  CHECK(same_bits(m.classifier.data, p.model.classifier.data, m.classifier.size()));
  const std::vector<std::int32_t> toks = random_tokens(2 * 16, c.vocab_size, 10);
  lm::forward_options fo;
  fo.activations = p.activations;
  CHECK(lm::forward(m, toks.data(), 2, 16, fo) == lm::forward(p.model, toks.data(), 2, 16, fo));

  // Bad files: each a file_error naming the file and the problem.
  const lm::safetensors_file f(path);
  const auto rewrite = [&](const std::string& name, const std::map<std::string, std::string>& meta,
                           const std::string& drop, bool retype) {
    std::vector<lm::safetensors_entry> e;
    for (const auto& [n, t] : f.tensors()) {
      if (n == drop) continue;
      lm::safetensors_entry x{n, t.dtype, t.shape, t.data};
      if (retype && n == "model.layers.0.mlp.up_proj.scales") x.dtype = lm::safetensors_dtype::I32;
      e.push_back(x);
    }
    const std::string out = temp_path(name);
    lm::write_safetensors(out, e, meta);
    return out;
  };
  std::map<std::string, std::string> meta = f.metadata();
  const auto load_error = [&](const std::string& p2) {
    return error_of([&] { (void)lm::load_packed(p2); });
  };
  const std::string no_shift =
      rewrite("no_shift.safetensors", meta, "model.layers.1.mlp.down_proj.group_shifts", false);
  CHECK(load_error(no_shift).find(
            "no_shift.safetensors: missing tensor model.layers.1.mlp.down_proj.group_shifts") !=
        std::string::npos);
  meta["format"] = "something.else";
  CHECK(load_error(rewrite("fmt.safetensors", meta, "", false)).find("not lowp.packed") !=
        std::string::npos);
  meta = f.metadata();
  meta["scale_policy"] = "m3";
  CHECK(load_error(rewrite("policy.safetensors", meta, "", false))
            .find("unknown scale_policy 'm3'") != std::string::npos);
  meta = f.metadata();
  meta["group_size"] = "12x";
  CHECK(load_error(rewrite("group.safetensors", meta, "", false))
            .find("group_size = '12x' is not a number") != std::string::npos);
  meta = f.metadata();
  meta.erase("config");
  CHECK(load_error(rewrite("config.safetensors", meta, "", false))
            .find("no __metadata__ field config") != std::string::npos);
  // The group index: written for every quantized layer, and checked when read.
  const std::string g_idx_name = "model.layers.0.self_attn.q_proj.g_idx";
  REQUIRE(f.tensors().count(g_idx_name) == 1);
  {
    const lm::safetensors_tensor& t = f.tensors().at(g_idx_name);
    std::vector<std::int32_t> bad_idx(t.size());
    std::memcpy(bad_idx.data(), t.data, t.bytes);
    bad_idx[5] = 1000;
    std::vector<lm::safetensors_entry> e;
    for (const auto& [n, x] : f.tensors())
      e.push_back({n, x.dtype, x.shape,
                   n == g_idx_name ? static_cast<const void*>(bad_idx.data())
                                   : static_cast<const void*>(x.data)});
    const std::string out = temp_path("g_idx.safetensors");
    lm::write_safetensors(out, e, f.metadata());
    CHECK(load_error(out).find("g_idx: column 5 names group 1000") != std::string::npos);
  }
}

TEST_CASE(
    "quantize_model: the sequential pipeline equals a direct implementation of the same steps",
    "[model][quick]") {
  // The direct implementation, written here without the pipeline's shortcuts: for every
  // block and stage, the whole model is run from the embedding (the earlier layers
  // already quantized) on all calibration sequences at once, the stage's input is
  // collected, its Hessian accumulated, and its layers quantized with quantize_weight.
  // Both must give the same weights bit for bit.
  const lm::llama_config c = small_config();
  const std::size_t count = 5, T = 20;
  const std::vector<std::int32_t> calib = random_tokens(count * T, c.vocab_size, 21);
  for (const bool lorc_on : {false, true}) {
    lm::model_quant_options o;
    o.weights.format = lm::weight_format::int4;
    o.weights.group_size = 32;
    o.weights.lorc_rank = lorc_on ? 4 : 0;
    o.activations = lm::activation_format::fp8_e4m3;
    o.skip = {"o_proj", "layers.1.gate_proj"};
    lm::llama_model piped = outlier_model(c, 17);
    std::vector<std::string> order;
    const lm::quantized_model q =
        lm::quantize_model(piped, calib.data(), count, T, o, [&](const lm::layer_report& r) {
          order.push_back(lm::layer_name(r.block, r.which) + (r.skipped ? " skipped" : ""));
        });
    CHECK(order == std::vector<std::string>{"layers.0.q_proj", "layers.0.k_proj", "layers.0.v_proj",
                                            "layers.0.o_proj skipped", "layers.0.gate_proj",
                                            "layers.0.up_proj", "layers.0.down_proj",
                                            "layers.1.q_proj", "layers.1.k_proj", "layers.1.v_proj",
                                            "layers.1.o_proj skipped", "layers.1.gate_proj skipped",
                                            "layers.1.up_proj", "layers.1.down_proj"});

    lm::llama_model direct = outlier_model(c, 17);
    const lm::llama_model original = outlier_model(c, 17);
    struct stage {
      lm::linear_input input;
      std::vector<lm::linear> layers;
    };
    const std::vector<stage> stages = {
        {lm::linear_input::qkv, {lm::linear::q, lm::linear::k, lm::linear::v}},
        {lm::linear_input::o, {lm::linear::o}},
        {lm::linear_input::gate_up, {lm::linear::gate, lm::linear::up}},
        {lm::linear_input::down, {lm::linear::down}}};
    for (std::size_t b = 0; b < c.n_layers; ++b) {
      for (const stage& st : stages) {
        row_major_matrixf X;
        lm::forward_options fo;
        fo.activations = o.activations;
        fo.on_input = [&](std::size_t block, lm::linear_input which, const row_major_matrixf& in) {
          if (block == b && which == st.input) X = in;
        };
        (void)lm::forward(direct, calib.data(), count, T, fo);
        lowp::hessian_accumulator acc(static_cast<std::size_t>(X.cols()));
        acc.add_batch(X.data(), static_cast<std::size_t>(X.rows()),
                      static_cast<std::size_t>(X.cols()));
        for (const lm::linear l : st.layers) {
          const bool skip = l == lm::linear::o || (b == 1 && l == lm::linear::gate);
          if (skip) continue;
          const lm::tensor_ref w = direct.blocks[b].weight(l);
          const lm::weight_outcome r =
              lm::quantize_weight(w.data, w.rows, w.cols, acc.hessian(), o.weights);
          direct.replace(b, l, r.fake.data());
        }
      }
    }
    for (std::size_t b = 0; b < c.n_layers; ++b) {
      for (const lm::linear l : lm::all_linears) {
        INFO(lm::layer_name(b, l) << " lorc " << lorc_on);
        const lm::tensor_ref a = piped.blocks[b].weight(l), d = direct.blocks[b].weight(l);
        CHECK(same_bits(a.data, d.data, a.size()));
        const bool skipped = l == lm::linear::o || (b == 1 && l == lm::linear::gate);
        CHECK(same_bits(a.data, original.blocks[b].weight(l).data, a.size()) == skipped);
        CHECK(q.packed[b * 7 + static_cast<std::size_t>(l)].rows == (skipped ? 0 : a.rows));
      }
    }
  }
}

TEST_CASE("quantize_model: bad calibration data and skip names are refused before any work",
          "[model][quick]") {
  const lm::llama_config c = small_config();
  lm::llama_model m = outlier_model(c, 1);
  const lm::llama_model untouched = outlier_model(c, 1);
  std::vector<std::int32_t> calib = random_tokens(8 * 16, c.vocab_size, 2);
  lm::model_quant_options o;
  o.weights.group_size = 32;
  calib[20] = 50;
  CHECK(
      error_of([&] {
        (void)lm::quantize_model(m, calib.data(), 8, 16, o);
      }).find("calibration token 50 at sequence 1, position 4 is outside the vocabulary [0, 50)") !=
      std::string::npos);
  calib[20] = 0;
  CHECK(error_of([&] {
          (void)lm::quantize_model(m, calib.data(), 1, 33, o);
        }).find("of 2 to seq_len 32") != std::string::npos);
  CHECK(error_of([&] {
          (void)lm::quantize_model(m, calib.data(), 1, 16, o);
        }).find("16 calibration tokens, fewer than the 96 features of the widest layer input") !=
        std::string::npos);
  o.skip = {"layers.2.q_proj"};
  CHECK(error_of([&] {
          (void)lm::quantize_model(m, calib.data(), 8, 16, o);
        }).find("no layer named 'layers.2.q_proj'") != std::string::npos);
  o.skip = {};
  o.weights.lorc_rank = 33;  // kv_dim is 32
  CHECK(error_of([&] {
          (void)lm::quantize_model(m, calib.data(), 8, 16, o);
        }).find("LoRC rank 33") != std::string::npos);
  for (std::size_t b = 0; b < c.n_layers; ++b) {
    for (const lm::linear l : lm::all_linears) {
      CHECK(same_bits(m.blocks[b].weight(l).data, untouched.blocks[b].weight(l).data,
                      m.blocks[b].weight(l).size()));
    }
  }
}

TEST_CASE(
    "M1 and M2 FP4 layers: the paper's FP4 -> FP8 shift cast path gives the weights bit for bit",
    "[model][quick]") {
  // ZeroQuant-FP §4: with power-of-two scale ratios, an E2M1 weight becomes E4M3 by adding
  // its group's shift to the exponent (lowp::shift_cast), and the row's one real scale
  // multiplies it afterwards.  For M2 the row scale is stored and the shifts are the
  // groups'; for M1 (power-of-two scales) the row scale is the row's largest group scale
  // and each shift the log2 of the ratio.
  const lm::llama_config c = small_config();
  const std::vector<std::int32_t> calib = random_tokens(6 * 20, c.vocab_size, 4);
  for (const lm::scale_policy policy : {lm::scale_policy::m1, lm::scale_policy::m2}) {
    lm::llama_model m = outlier_model(c, 8);
    lm::model_quant_options o;
    o.weights.format = lm::weight_format::fp4_e2m1;
    o.weights.policy = policy;
    o.weights.group_size = 16;
    const lm::quantized_model q = lm::quantize_model(m, calib.data(), 6, 20, o);
    std::size_t checked = 0, mismatches = 0, outside_exact_range = 0;
    for (std::size_t b = 0; b < c.n_layers; ++b) {
      for (const lm::linear l : lm::all_linears) {
        const lm::packed_weight& p = q.packed[b * 7 + static_cast<std::size_t>(l)];
        const lm::tensor_ref w = m.blocks[b].weight(l);
        const std::size_t g = p.groups_per_row;
        for (std::size_t r = 0; r < p.rows; ++r) {
          float row_scale = 0;
          std::vector<int> shift(g);
          if (policy == lm::scale_policy::m2) {
            row_scale = p.scales.row_scale[r];
            for (std::size_t j = 0; j < g; ++j)
              shift[j] = -static_cast<int>(p.scales.group_shift[r * g + j]);
          } else {
            for (std::size_t j = 0; j < g; ++j)
              row_scale = std::max(row_scale, p.scales.group_scale[r * g + j]);
            for (std::size_t j = 0; j < g; ++j) {
              int e = 0;
              const float ratio = std::frexp(p.scales.group_scale[r * g + j] / row_scale, &e);
              REQUIRE(ratio == 0.5f);  // a power of two
              shift[j] = e - 1;
            }
          }
          for (std::size_t col = 0; col < p.cols; ++col) {
            const std::size_t i = r * p.cols + col;
            const auto code = lowp::float4_e2m1fn::from_bits(
                static_cast<std::uint8_t>((p.codes[i / 2] >> (4 * (i % 2))) & 0xf));
            const int k = shift[col / 16];
            outside_exact_range += k < lowp::shift_cast_min_k<lowp::float8_e4m3fn>;
            const lowp::float8_e4m3fn e4m3 = lowp::shift_cast<lowp::float8_e4m3fn>(code, k);
            const float value = static_cast<float>(e4m3) * row_scale;
            mismatches += value != w.data[i];
            ++checked;
          }
        }
      }
    }
    INFO(lm::scale_policy_name(policy) << ": " << checked << " weights, " << outside_exact_range
                                       << " with a shift below E4M3's exact range");
    CHECK(checked ==
          c.n_layers * (2 * c.dim * c.dim + 2 * c.kv_dim() * c.dim + 3 * c.hidden_dim * c.dim));
    CHECK(mismatches == 0);
  }
}

TEST_CASE("lowp-ptq layer writes the codes and scales the library call gives",
          "[model][quick][ptq]") {
#ifndef LOWP_TEST_PTQ
  LOWP_SKIP("lowp-ptq is not built (LOWP_BUILD_EXAMPLES off, or no CLI11)");
#else
  const std::size_t rows = 40, cols = 64, tokens = 200;
  std::mt19937 rng(6);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> W(rows * cols), X(tokens * cols);
  for (float& w : W) w = 0.1f * nd(rng);
  for (float& x : X) x = nd(rng);
  const std::string w_path = temp_path("W.npy"), x_path = temp_path("X.npy"),
                    out = temp_path("layer.safetensors");
  lm::write_npy(w_path, lm::npy_dtype::f4, {rows, cols}, W.data());
  lm::write_npy(x_path, lm::npy_dtype::f4, {tokens, cols}, X.data());
  std::filesystem::remove(out);
  const std::string cmd =
      std::string(LOWP_TEST_PTQ) + " layer " + w_path + " " + x_path + " --out " + out +
      " --wformat fp4_e2m1 --scale m2 --group 16 --lorc-rank 4 --lorc-factors int8 > " +
      temp_path("layer.log") + " 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const auto [p, s] = lm::load_packed_layer(out);
  lowp::hessian_accumulator acc(cols);
  acc.add_batch(X.data(), tokens, cols);
  lm::weight_scheme ws;
  ws.format = lm::weight_format::fp4_e2m1;
  ws.policy = lm::scale_policy::m2;
  ws.group_size = 16;
  ws.lorc_rank = 4;
  ws.lorc_factors = lowp::lorc_factor_format::int8;
  const lm::weight_outcome q = lm::quantize_weight(W.data(), rows, cols, acc.hessian(), ws);
  CHECK(s.policy == lm::scale_policy::m2);
  CHECK(p.codes == q.packed.codes);
  CHECK(p.scales.row_scale == q.packed.scales.row_scale);
  CHECK(p.scales.group_shift == q.packed.scales.group_shift);
  CHECK(p.U_codes == q.packed.U_codes);
  CHECK(p.V_scales == q.packed.V_scales);
  const row_major_matrixf back = lm::unpack_weight(p, s);
  CHECK(same_bits(back.data(), q.fake.data(), rows * cols));
  // An existing output is refused without --force.
  CHECK(std::system(cmd.c_str()) != 0);
#endif
}

namespace {

struct quality {
  double ppl = 0, kl = 0;
};

// stories260K quantized with the scheme on 16 calibration sequences of 128 tokens (seeds
// 1000 + i), evaluated against the float model on 16 sequences of 256 (seeds 1000000 + i).
quality stories_quality(const lm::weight_scheme& w, lm::activation_format act) {
  const std::string path = std::string(LOWP_TEST_MODEL_DIR) + "/stories260K.bin";
  const lm::llama_model ref = lm::load_llama2c(path);
  lm::llama_model m = lm::load_llama2c(path);
  const std::vector<std::int32_t> calib = lm::sample_sequences(ref, 16, 128, {1.0f, 1.0f, 1000});
  const std::vector<std::int32_t> ev = lm::sample_sequences(ref, 16, 256, {1.0f, 1.0f, 1000000});
  lm::model_quant_options o;
  o.weights = w;
  o.activations = act;
  (void)lm::quantize_model(m, calib.data(), 16, 128, o);
  lm::evaluate_options eo;
  eo.model.activations = act;
  const lm::token_scores s = lm::evaluate(m, ev.data(), 16, 256, eo, &ref);
  return {s.perplexity().ppl, s.kl().mean};
}

bool have_stories() {
  return std::ifstream(std::string(LOWP_TEST_MODEL_DIR) + "/stories260K.bin").good();
}

}  // namespace

TEST_CASE(
    "stories260K W4A8: GPTQ beats RTN in mean KL for INT4 and FP4 weights, and LoRC lowers it "
    "further",
    "[model][quick]") {
  if (!have_stories()) LOWP_SKIP("no stories260K.bin: set LOWP_MODEL_DIR");
  for (const auto& [format, act] :
       {std::pair{lm::weight_format::int4, lm::activation_format::int8},
        std::pair{lm::weight_format::fp4_e2m1, lm::activation_format::fp8_e4m3}}) {
    lm::weight_scheme w;
    w.format = format;
    w.group_size = 32;
    w.method = lm::weight_method::rtn;
    const quality rtn = stories_quality(w, act);
    w.method = lm::weight_method::gptq;
    const quality gptq = stories_quality(w, act);
    w.lorc_rank = 8;
    const quality lorc = stories_quality(w, act);
    INFO(lm::weight_format_name(format)
         << ": mean KL RTN " << rtn.kl << ", GPTQ " << gptq.kl << ", GPTQ + LoRC " << lorc.kl);
    CHECK(gptq.kl < rtn.kl);
    CHECK(lorc.kl < gptq.kl);
  }
}

// ZeroQuant-FP reports W8A8 FP-FP within a fraction of a percent of the float model's
// perplexity on LLaMA and OPT (1.3B-30B).  On stories260K it does not hold (docs/results.md:
// FP8 E4M3's 3 mantissa bits cost this 260K-parameter model tens of percent), so this test
// is expected to fail: Catch2 reports it as passed while its check fails, and as failed
// the day the check passes, which would deserve a look.
TEST_CASE("stories260K W8A8 FP-FP stays within 1% of the float model's PPL (the paper's claim)",
          "[model][quick][!shouldfail]") {
  if (!have_stories()) {  // skipped: a failed check keeps [!shouldfail] from reporting a pass as
                          // failure
    ::lowp_test::note_skip("no stories260K.bin: set LOWP_MODEL_DIR");
    FAIL_CHECK("skipped: no stories260K.bin");
    return;
  }
  lm::weight_scheme w;
  w.format = lm::weight_format::fp8_e4m3;
  w.group_size = 32;
  const quality fp8 = stories_quality(w, lm::activation_format::fp8_e4m3);
  const std::string path = std::string(LOWP_TEST_MODEL_DIR) + "/stories260K.bin";
  const lm::llama_model ref = lm::load_llama2c(path);
  const std::vector<std::int32_t> ev = lm::sample_sequences(ref, 16, 256, {1.0f, 1.0f, 1000000});
  const double float_ppl = lm::evaluate(ref, ev.data(), 16, 256).perplexity().ppl;
  INFO("float PPL " << float_ppl << ", W8A8 FP-FP PPL " << fp8.ppl);
  CHECK(fp8.ppl <= 1.01 * float_ppl);
}

TEST_CASE("W4A8 kernel in the forward pass: every quantized layer within the kernel's bound",
          "[model][quick]") {
  // A packed model per scheme the kernel takes; forward() with its layers on the kernel.
  // Each layer's output, seen by on_output, is checked against the exact product of the
  // fake-quantized input (seen by on_input) and the packed weights, in double: within
  // γ_{K+r+3} · Σ|a|(|w| + |U||V|) (the kernel's bound, the fake weights' rounding, LoRC's
  // float products), twice over.
  lm::llama_config c = small_config();
  c.shared_classifier = false;
  lm::llama_model m = outlier_model(c, 17);
  const std::vector<std::int32_t> calib = random_tokens(4 * 24, c.vocab_size, 3);
  const std::vector<std::int32_t> ev = random_tokens(3 * 20, c.vocab_size, 4);
  struct scheme_case {
    lm::weight_format format;
    lm::scale_policy policy;
    lm::activation_format act;
    std::size_t lorc;
    bool act_order;
  };
  const scheme_case cases[] = {
      {lm::weight_format::fp4_e2m1, lm::scale_policy::m2, lm::activation_format::fp8_e4m3, 0, true},
      {lm::weight_format::fp4_e2m1, lm::scale_policy::m2, lm::activation_format::fp8_e4m3, 4,
       false},
      {lm::weight_format::fp4_e2m1, lm::scale_policy::m1, lm::activation_format::fp8_e4m3, 0,
       false},
      {lm::weight_format::fp4_e2m1, lm::scale_policy::absmax, lm::activation_format::fp8_e4m3, 0,
       false},
      {lm::weight_format::int4, lm::scale_policy::absmax, lm::activation_format::int8, 0, true}};
  for (const scheme_case& sc : cases) {
    lm::model_quant_options o;
    o.weights.format = sc.format;
    o.weights.policy = sc.policy;
    o.weights.group_size = 32;
    o.weights.lorc_rank = sc.lorc;
    o.weights.act_order = sc.act_order;
    o.activations = sc.act;
    o.skip = {"layers.0.k_proj"};
    const lm::quantized_model q = lm::quantize_model(m, calib.data(), 4, 24, o);
    const std::string path = temp_path("w4a8.safetensors");
    lm::save_packed(path, m, q, o);
    const lm::packed_model p = lm::load_packed(path);
    const lm::w4a8_kernels k = lm::make_w4a8_kernels(p);
    INFO(lm::weight_format_name(sc.format)
         << "/" << lm::scale_policy_name(sc.policy) << ", LoRC rank " << sc.lorc);
    CHECK(k.layer(0, lm::linear::k) == nullptr);  // skipped: stays in float
    CHECK(k.layer(1, lm::linear::down) != nullptr);
    std::vector<row_major_matrixf> inputs(4);
    std::size_t checked = 0, bad = 0;
    lm::forward_options fo;
    fo.activations = sc.act;
    fo.kernels = &k;
    fo.on_input = [&](std::size_t, lm::linear_input which, const row_major_matrixf& X) {
      inputs[static_cast<std::size_t>(which)] = X;
    };
    fo.on_output = [&](std::size_t b, lm::linear l, const row_major_matrixf& Y) {
      const std::optional<lm::packed_weight>& pw = p.layers[b][static_cast<std::size_t>(l)];
      if (!pw) return;
      const lm::linear_input which = l == lm::linear::o ? lm::linear_input::o
                                     : l == lm::linear::gate || l == lm::linear::up
                                         ? lm::linear_input::gate_up
                                     : l == lm::linear::down ? lm::linear_input::down
                                                             : lm::linear_input::qkv;
      const row_major_matrixf& X = inputs[static_cast<std::size_t>(which)];
      row_major_matrixf Wq(static_cast<Eigen::Index>(pw->rows),
                           static_cast<Eigen::Index>(pw->cols));
      lm::detail::visit_packed_tensor(*pw, p.weights, "test",
                                      [&](const auto& t) { t.dequantize(Wq.data()); });
      row_major_matrixf U, V;
      if (pw->lorc_rank != 0) std::tie(U, V) = lm::detail::lorc_factors(*pw, "test");
      const double K = static_cast<double>(pw->cols + pw->lorc_rank + 3), u = std::ldexp(1.0, -24);
      const double gamma = 2 * K * u / (1 - K * u);
      for (Eigen::Index t = 0; t < X.rows(); ++t) {
        for (Eigen::Index r = 0; r < Y.cols(); ++r) {
          double exact = 0, mag = 0;
          for (Eigen::Index col = 0; col < X.cols(); ++col) {
            double w = Wq(r, col), wabs = std::abs(w);
            for (Eigen::Index j = 0; j < U.cols(); ++j) {
              w += static_cast<double>(U(r, j)) * V(j, col);
              wabs += std::abs(static_cast<double>(U(r, j)) * V(j, col));
            }
            exact += static_cast<double>(X(t, col)) * w;
            mag += std::abs(static_cast<double>(X(t, col))) * wabs;
          }
          ++checked;
          if (!(std::abs(Y(t, r) - exact) <= gamma * mag)) ++bad;
        }
      }
    };
    const row_major_matrixf logits = lm::forward(p.model, ev.data(), 3, 20, fo);
    CHECK(checked > 0);
    CHECK(bad == 0);
    // The whole model: the kernel's logits next to the fake-quantized model's.
    lm::forward_options fake;
    fake.activations = sc.act;
    const row_major_matrixf ref = lm::forward(p.model, ev.data(), 3, 20, fake);
    const float diff = (logits - ref).cwiseAbs().maxCoeff(), scale = ref.cwiseAbs().maxCoeff();
    INFO("max logit difference " << diff << " of " << scale);
    CHECK(diff <= 1e-3f * scale);
    // The activation format must be the kernel's.
    lm::forward_options wrong = fo;
    wrong.on_input = nullptr;
    wrong.on_output = nullptr;
    wrong.activations = sc.act == lm::activation_format::int8 ? lm::activation_format::fp8_e4m3
                                                              : lm::activation_format::int8;
    CHECK_THROWS_WITH(
        lm::forward(p.model, ev.data(), 3, 20, wrong),
        Catch::Contains("need") && Catch::Contains(lm::activation_format_name(sc.act)));
  }
  // Schemes the kernel does not take are named.
  lm::model_quant_options o;
  o.weights.format = lm::weight_format::fp4_e2m1;
  o.weights.policy = lm::scale_policy::mx;
  o.weights.group_size = 32;
  o.weights.method = lm::weight_method::rtn;
  o.activations = lm::activation_format::fp8_e4m3;
  const lm::quantized_model q = lm::quantize_model(m, calib.data(), 4, 24, o);
  const std::string path = temp_path("w4a8_mx.safetensors");
  lm::save_packed(path, m, q, o);
  CHECK_THROWS_WITH(lm::make_w4a8_kernels(lm::load_packed(path)),
                    Catch::Contains("mx") && Catch::Contains("supported"));
}
