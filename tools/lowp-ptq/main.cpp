// lowp-ptq: real models in and out, from the command line.
//
//   lowp-ptq info MODEL                      the config, parameter count, tensors
//   lowp-ptq sample MODEL --out F.npy        token sequences sampled from the model
//   lowp-ptq eval MODEL --tokens F           perplexity; KL and top-1 against --reference
//                                            (--kernel w4a8: the packed layers on
//                                            lowp::w4a8_linear)
//   lowp-ptq convert IN OUT --to FORMAT      llama2c-v0, llama2c-v1 or hf
//   lowp-ptq quantize MODEL OUT [--packed P]  every linear layer quantized (GPTQ/RTN, LoRC)
//   lowp-ptq layer W.npy X.npy --out P       one weight quantized on its activations
//   lowp-ptq paper MODEL                      ZeroQuant-FP's Table 1 and Table B.1
//   lowp-ptq outliers MODEL                   INT8 vs FP8 activations under injected outliers
//   lowp-ptq synthetic 15M|110M OUT           a random model of that shape, for timings
//
// MODEL is a llama2.c checkpoint (a file) or a Hugging Face LLaMA folder.  Every command
// takes --threads N and --json (a machine-readable summary on stdout); long work shows
// progress on stderr.  A failure is one message on stderr and exit code 1 (2 for a bad
// command line), and leaves no partial output file.
#include <unistd.h>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <CLI/CLI.hpp>
#include <Eigen/Core>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <lowp/model/evaluate.hpp>
#include <lowp/model/generate.hpp>
#include <lowp/model/hf_llama.hpp>
#include <lowp/model/llama2c.hpp>
#include <lowp/model/npy.hpp>
#include <lowp/model/outliers.hpp>
#include <lowp/model/packed_file.hpp>
#include <lowp/model/quantize_model.hpp>
#include <lowp/model/tokens.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lm = lowp::model;
using json = nlohmann::ordered_json;

namespace {

bool is_hf(const std::string& path) {
  return std::filesystem::is_directory(path);
}

// Progress goes to stderr, on one line rewritten in place, and only to a terminal: a log
// file or a test's captured output gets the result alone.
void progress(const char* what, std::size_t done, std::size_t total) {
  static const bool tty = isatty(fileno(stderr)) != 0;
  if (!tty) return;
  std::fprintf(stderr, "\r%s %zu/%zu", what, done, total);
  if (done == total) std::fprintf(stderr, "\n");
}

bool is_packed(const std::string& path) {
  const std::string ext = ".safetensors";
  return path.size() > ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0;
}

// A llama2.c checkpoint (a file), a Hugging Face folder, or lowp's packed file (a
// .safetensors file: its quantized layers decoded).
lm::llama_model load_model(const std::string& path) {
  if (is_hf(path)) return lm::load_hf_llama(path);
  if (is_packed(path)) return lm::load_packed(path).model;
  return lm::load_llama2c(path);
}

json config_json(const lm::llama_model& m) {
  json j = lm::config_json(m.config);
  j["parameters"] = m.parameter_count();
  return j;
}

// The format whose lm::activation_format_name() is s (the names --act accepts).
lm::activation_format parse_act(const std::string& s) {
  for (const lm::activation_format f :
       {lm::activation_format::none, lm::activation_format::int8, lm::activation_format::fp8_e4m3,
        lm::activation_format::fp8_e5m2}) {
    if (s == lm::activation_format_name(f)) return f;
  }
  throw std::invalid_argument("unknown activation format " + s);
}

int info(const std::string& path, bool as_json) {
  const lm::llama_model m = load_model(path);
  json out = {
      {"model", path}, {"format", is_hf(path) ? "hf" : "llama2c"}, {"config", config_json(m)}};
  json tensors = json::array();
  const auto add = [&](const std::string& name, const lm::tensor_ref& t) {
    tensors.push_back({{"name", name}, {"shape", {t.rows, t.cols}}});
  };
  add("embedding", m.embedding);
  for (std::size_t b = 0; b < m.blocks.size(); ++b) {
    for (const lm::linear l : lm::all_linears) {
      add("layers." + std::to_string(b) + "." + lm::linear_name(l), m.blocks[b].weight(l));
    }
  }
  if (!m.config.shared_classifier) add("classifier", m.classifier);
  out["tensors"] = tensors;
  if (as_json) {
    std::cout << out.dump(2) << "\n";
  } else {
    const lm::llama_config& c = m.config;
    std::printf("%s: %s, %zu parameters, float32\n", path.c_str(),
                is_hf(path) ? "Hugging Face LLaMA" : "llama2.c", m.parameter_count());
    std::printf(
        "dim %zu, hidden %zu, %zu layers, %zu heads (%zu KV), vocab %zu, seq_len %zu, rope %s "
        "theta %g, eps %g, "
        "classifier %s\n",
        c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.seq_len,
        c.rope == lm::rope_style::interleaved ? "interleaved" : "half",
        static_cast<double>(c.rope_theta), static_cast<double>(c.norm_eps),
        c.shared_classifier ? "tied" : "separate");
    for (const auto& t : tensors)
      std::printf("  %-24s [%s]\n", t["name"].get<std::string>().c_str(),
                  t["shape"].dump().c_str());
  }
  return 0;
}

int sample(const std::string& path, const std::string& out_path, std::size_t count,
           std::size_t length, const lm::sampler_options& o, bool as_json) {
  const lm::llama_model m = load_model(path);
  lm::token_batch t;
  t.count = count;
  t.length = length;
  t.ids.reserve(count * length);
  // One sequence at a time, for the progress line: sequence s is seeded with seed + s,
  // as sample_sequences(m, count, ...) seeds it, so the tokens are the same.
  for (std::size_t s = 0; s < count; ++s) {
    lm::sampler_options so = o;
    so.seed = o.seed + s;
    const std::vector<std::int32_t> one = lm::sample_sequences(m, 1, length, so);
    t.ids.insert(t.ids.end(), one.begin(), one.end());
    progress("sampled sequences", s + 1, count);
  }
  lm::write_tokens(out_path, t);
  if (as_json) {
    std::cout << json{{"model", path},    {"out", out_path}, {"count", count},
                      {"length", length}, {"seed", o.seed},  {"temperature", o.temperature},
                      {"top_p", o.top_p}}
                     .dump(2)
              << "\n";
  }
  return 0;
}

int eval(const std::string& path, const std::string& tokens_path, std::size_t length,
         const std::string& reference_path, const std::string& act, std::size_t batch,
         const std::string& kernel, const std::string& kernel_path, bool as_json) {
  // --kernel w4a8: the packed file's quantized layers run through lowp::w4a8_linear on
  // per-token quantized activations (real W4A8 arithmetic) instead of a float GEMM on
  // fake-quantized operands.
  const bool w4a8 = kernel == "w4a8";
  if (w4a8 && !is_packed(path))
    throw std::invalid_argument(
        "--kernel w4a8 needs lowp's packed .safetensors file (from "
        "`lowp-ptq quantize --packed`), not " +
        path);
  lm::packed_model packed;
  lm::llama_model loaded;
  if (is_packed(path)) {
    packed = lm::load_packed(path);
  } else {
    loaded = load_model(path);
  }
  const lm::llama_model& m = is_packed(path) ? packed.model : loaded;
  const lm::token_batch t = lm::read_tokens(tokens_path, length);
  lm::check_tokens(t, m.config, tokens_path);
  lm::llama_model reference;
  if (!reference_path.empty()) {
    reference = load_model(reference_path);
    if (reference.config.vocab_size != m.config.vocab_size) {
      throw std::invalid_argument("the reference " + reference_path + " has a vocabulary of " +
                                  std::to_string(reference.config.vocab_size) +
                                  " tokens, the model " + std::to_string(m.config.vocab_size));
    }
  }
  lm::forward_options fo;
  // A packed file says which activation format its model was quantized for; --act
  // overrides it.
  fo.activations = act.empty()
                       ? (is_packed(path) ? packed.activations : lm::activation_format::none)
                       : parse_act(act);
  lm::w4a8_kernels kernels;
  if (w4a8) {
    lowp::w4a8_options ko;
    ko.path = kernel_path == "portable" ? lowp::w4a8_path::portable
              : kernel_path == "avx2"   ? lowp::w4a8_path::avx2
              : kernel_path == "avx512" ? lowp::w4a8_path::avx512
                                        : lowp::w4a8_path::automatic;
    kernels = lm::make_w4a8_kernels(packed, ko);
    fo.kernels = &kernels;
  }
  // The path that runs: the forced one, or automatic's choice for the model's scheme.
  lowp::w4a8_path path_run = kernels.options.path;
  for (const auto& block : kernels.layers) {
    for (const auto& layer : block) {
      if (layer && path_run == lowp::w4a8_path::automatic)
        path_run = lowp::w4a8_best_path(layer->weights.scheme());
    }
  }
  lm::token_scores scores;
  double forward_seconds = 0;
  for (std::size_t s = 0; s < t.count; s += batch) {
    const std::size_t n = std::min(batch, t.count - s);
    const std::int32_t* chunk = t.ids.data() + s * t.length;
    const auto f0 = std::chrono::steady_clock::now();
    const lowp::row_major_matrixf logits = lm::forward(m, chunk, n, t.length, fo);
    forward_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - f0).count();
    if (!reference_path.empty()) {
      const lowp::row_major_matrixf ref = lm::forward(reference, chunk, n, t.length);
      scores.add(logits, chunk, n, t.length, &ref);
    } else {
      scores.add(logits, chunk, n, t.length);
    }
    progress("evaluated sequences", s + n, t.count);
  }
  const lm::perplexity_result p = scores.perplexity();
  json out = {
      {"model", path},
      {"tokens", tokens_path},
      {"activations", lm::activation_format_name(fo.activations)},
      {"kernel", w4a8 ? "w4a8" : "fake"},
      {"kernel_path", w4a8 ? lowp::w4a8_path_name(path_run) : ""},
      {"forward_seconds", forward_seconds},
      {"tokens_per_second",
       forward_seconds > 0 ? static_cast<double>(t.count * t.length) / forward_seconds : 0.0},
      {"predicted_tokens", p.tokens},
      {"ppl", p.ppl},
      {"ppl_stderr", p.ppl_stderr},
      {"mean_nll", p.mean_nll}};
  if (scores.has_reference()) {
    const lm::kl_result k = scores.kl();
    out["reference"] = reference_path;
    out["kl"] = {{"mean", k.mean},
                 {"mean_stderr", k.mean_stderr},
                 {"median", k.median},
                 {"p99", k.p99},
                 {"max", k.max}};
    out["top1"] = k.top1;
  }
  if (as_json) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf(
        "PPL %.4f +- %.4f over %zu predicted tokens (activations %s, %s)\n", p.ppl, p.ppl_stderr,
        p.tokens, lm::activation_format_name(fo.activations),
        w4a8 ? (std::string("W4A8 kernel, ") + lowp::w4a8_path_name(path_run) + " path").c_str()
             : "fake-quantized");
    std::printf(
        "forward: %.3f s, %.0f tokens/s\n", forward_seconds,
        forward_seconds > 0 ? static_cast<double>(t.count * t.length) / forward_seconds : 0.0);
    if (scores.has_reference()) {
      const lm::kl_result k = scores.kl();
      std::printf(
          "KL mean %.6f +- %.6f, median %.6f, 99%% %.6f, max %.6f; top-1 agreement %.2f%%\n",
          k.mean, k.mean_stderr, k.median, k.p99, k.max, 100.0 * k.top1);
    }
  }
  return 0;
}

// Saves m as a Hugging Face folder at out.  A folder this made is removed again if the
// save fails; each file in it is written through a temporary file and a rename.
void save_hf_folder(const lm::llama_model& m, const std::string& out) {
  const bool made = std::filesystem::create_directories(out);
  try {
    lm::save_hf_llama(m, out);
  } catch (...) {
    std::error_code ignored;
    if (made) std::filesystem::remove_all(out, ignored);
    throw;
  }
}

int convert(const std::string& in, const std::string& out, const std::string& to, bool as_json) {
  lm::llama_model m = load_model(in);
  if (to == "hf") {
    save_hf_folder(m, out);
  } else if (to == "llama2c-v0" || to == "llama2c-v1") {
    if (m.config.rope == lm::rope_style::half) {  // back to llama2.c's interleaved q/k rows
      const std::size_t hs = m.config.head_size();
      for (std::size_t b = 0; b < m.blocks.size(); ++b) {
        for (const lm::linear l : {lm::linear::q, lm::linear::k}) {
          const lm::tensor_ref w = m.blocks[b].weight(l);
          std::vector<float> rows(w.size());
          lm::detail::permute_rope_rows(w.data, rows.data(), w.rows, w.cols, hs, false);
          m.replace(b, l, rows.data());
        }
      }
      m.config.rope = lm::rope_style::interleaved;
    }
    lm::save_llama2c(m, out,
                     to == "llama2c-v0" ? lm::llama2c_version::v0 : lm::llama2c_version::v1);
  } else {
    throw std::invalid_argument("unknown output format " + to + " (llama2c-v0, llama2c-v1, hf)");
  }
  if (as_json) std::cout << json{{"in", in}, {"out", out}, {"to", to}}.dump(2) << "\n";
  return 0;
}

// --- quantize and layer ------------------------------------------------------------

lm::weight_format parse_wformat(const std::string& s) {
  for (const lm::weight_format f : {lm::weight_format::int4, lm::weight_format::int8,
                                    lm::weight_format::fp4_e2m1, lm::weight_format::fp8_e4m3}) {
    if (s == lm::weight_format_name(f)) return f;
  }
  throw std::invalid_argument("unknown weight format " + s);
}

lm::scale_policy parse_scale(const std::string& s) {
  for (const lm::scale_policy p :
       {lm::scale_policy::absmax, lm::scale_policy::minmax, lm::scale_policy::m1,
        lm::scale_policy::m2, lm::scale_policy::mx, lm::scale_policy::nvfp4}) {
    if (s == lm::scale_policy_name(p)) return p;
  }
  throw std::invalid_argument("unknown scale policy " + s);
}

lowp::lorc_factor_format parse_lorc_factors(const std::string& s) {
  for (const lowp::lorc_factor_format f :
       {lowp::lorc_factor_format::fp32, lowp::lorc_factor_format::int8,
        lowp::lorc_factor_format::fp8_e4m3}) {
    if (s == lm::lorc_factor_format_name(f)) return f;
  }
  throw std::invalid_argument("unknown LoRC factor format " + s);
}

// The weight scheme's options, shared by quantize and layer.
struct scheme_args {
  std::string format = "fp4_e2m1", scale = "absmax", method = "gptq", lorc_factors = "int8";
  std::size_t group = 128, lorc_rank = 0;
  bool act_order = false, static_groups = false;
  double percdamp = 0.01;

  void add_to(CLI::App* cmd) {
    cmd->add_option("--wformat", format, "weight format: int4, int8, fp4_e2m1, fp8_e4m3")
        ->check(CLI::IsMember({"int4", "int8", "fp4_e2m1", "fp8_e4m3"}));
    cmd->add_option("--scale", scale, "scale policy: absmax, minmax (INT), m1, m2, mx, nvfp4 (FP)")
        ->check(CLI::IsMember({"absmax", "minmax", "m1", "m2", "mx", "nvfp4"}));
    cmd->add_option("--group", group, "columns per scale group (0: per channel; mx 32, nvfp4 16)");
    cmd->add_option("--method", method, "gptq or rtn")->check(CLI::IsMember({"gptq", "rtn"}));
    cmd->add_flag("--act-order", act_order, "GPTQ: columns by descending Hessian diagonal");
    cmd->add_flag(
        "--static-groups", static_groups,
        "GPTQ: group scales fitted up front on consecutive columns (with --act-order: no g_idx)");
    cmd->add_option("--percdamp", percdamp,
                    "GPTQ damping, a fraction of the mean Hessian diagonal");
    cmd->add_option("--lorc-rank", lorc_rank, "LoRC rank (0: off)");
    cmd->add_option("--lorc-factors", lorc_factors, "LoRC factor format: int8, fp8_e4m3, fp32")
        ->check(CLI::IsMember({"int8", "fp8_e4m3", "fp32"}));
  }
  lm::weight_scheme scheme() const {
    lm::weight_scheme w;
    w.format = parse_wformat(format);
    w.policy = parse_scale(scale);
    w.group_size = group;
    w.method = method == "rtn" ? lm::weight_method::rtn : lm::weight_method::gptq;
    w.act_order = act_order;
    w.static_groups = static_groups;
    w.percdamp = percdamp;
    w.lorc_rank = lorc_rank;
    w.lorc_factors = parse_lorc_factors(lorc_factors);
    return w;
  }
};

json scheme_json(const lm::weight_scheme& w) {
  return {{"weight_format", lm::weight_format_name(w.format)},
          {"scale_policy", lm::scale_policy_name(w.policy)},
          {"group_size", w.group_size},
          {"method", w.method == lm::weight_method::gptq ? "gptq" : "rtn"},
          {"act_order", w.act_order},
          {"percdamp", w.percdamp},
          {"lorc_rank", w.lorc_rank},
          {"lorc_factors", lm::lorc_factor_format_name(w.lorc_factors)}};
}

json times_json(const lm::pipeline_times& t) {
  return {{"total", t.total},
          {"calibration_forward", t.calibration_forward},
          {"forward_gemms", t.forward_gemms},
          {"hessians", t.hessians},
          {"quantize", t.quantize},
          {"lorc", t.lorc},
          {"other_share", t.other_share()}};
}

std::string times_line(const lm::pipeline_times& t) {
  char line[256];
  std::snprintf(line, sizeof line,
                "total %.2f s: calibration forward %.2f (GEMMs %.2f), Hessians %.2f, GPTQ/RTN "
                "%.2f, LoRC %.2f; outside GPTQ, LoRC and the forward GEMMs %.1f%%",
                t.total, t.calibration_forward, t.forward_gemms, t.hessians, t.quantize, t.lorc,
                100.0 * t.other_share());
  return line;
}

// Refuses an output path that exists, unless --force.
void require_new(const std::string& path, bool force) {
  if (!path.empty() && std::filesystem::exists(path) && !force) {
    throw std::invalid_argument(path + " exists (--force overwrites it)");
  }
}

// Writes m in the format of `like` (a llama2.c file keeps its version; a folder is
// written as a Hugging Face folder) to out; a folder this made is removed on failure.
void save_like(const lm::llama_model& m, const std::string& like, const std::string& out) {
  if (is_hf(like)) {
    save_hf_folder(m, out);
  } else {
    lm::save_llama2c(m, out, lm::llama2c_file_version(like));
  }
}

struct quantize_args {
  std::string in, out, packed, calib, skip;
  std::size_t calib_count = 32, calib_length = 128, chunk = 8;
  std::uint64_t calib_seed = 1;
  bool force = false, calib_float_acts = false;
};

int quantize(const quantize_args& a, const lm::model_quant_options& base, bool as_json) {
  // 0. What can be checked before any work: the outputs, the options, the data.
  require_new(a.out, a.force);
  require_new(a.packed, a.force);
  if (is_packed(a.in)) throw std::invalid_argument(a.in + " is already a packed (quantized) model");
  lm::model_quant_options opt = base;
  opt.chunk = a.chunk;
  opt.calibrate_with_quantized_activations = !a.calib_float_acts;
  for (std::size_t start = 0; start < a.skip.size();) {
    const std::size_t comma = std::min(a.skip.find(',', start), a.skip.size());
    if (comma > start) opt.skip.push_back(a.skip.substr(start, comma - start));
    start = comma + 1;
  }
  lm::llama_model m = load_model(a.in);
  lm::token_batch calib;
  if (!a.calib.empty()) {
    calib = lm::read_tokens(a.calib, 0);
    lm::check_tokens(calib, m.config, a.calib);
  } else {
    calib.count = a.calib_count;
    calib.length = a.calib_length;
    calib.ids = lm::sample_sequences(m, a.calib_count, a.calib_length, {1.0f, 1.0f, a.calib_seed});
  }

  // 1. The pipeline, a line per layer.
  json layers = json::array();
  const auto report = [&](const lm::layer_report& r) {
    const std::string name = lm::layer_name(r.block, r.which);
    if (r.skipped) {
      std::fprintf(stderr, "%-22s skipped (float)\n", name.c_str());
    } else {
      std::fprintf(stderr, "%-22s %8.3f s  loss %.4e  rel. output error %.4e%s\n", name.c_str(),
                   r.seconds, r.loss, r.rel_output_error,
                   r.damping_retries > 0
                       ? ("  (damping raised " + std::to_string(r.damping_retries) + "x)").c_str()
                       : "");
      for (const std::string& w : r.warnings)
        std::fprintf(stderr, "%-22s warning: %s\n", "", w.c_str());
    }
    layers.push_back({{"layer", name},
                      {"skipped", r.skipped},
                      {"seconds", r.seconds},
                      {"loss", r.loss},
                      {"rel_output_error", r.rel_output_error},
                      {"damping_retries", r.damping_retries},
                      {"warnings", r.warnings}});
  };
  const lm::quantized_model q =
      lm::quantize_model(m, calib.ids.data(), calib.count, calib.length, opt, report);

  // 2. The outputs: the fake-quantized model in the input's format, and the packed file.
  //    If the second fails, the first is removed: no partial output.
  save_like(m, a.in, a.out);
  if (!a.packed.empty()) {
    try {
      lm::save_packed(a.packed, m, q, opt);
    } catch (...) {
      std::error_code ignored;
      std::filesystem::remove_all(a.out, ignored);
      throw;
    }
  }
  const lm::pipeline_times& t = q.times;
  std::fprintf(stderr, "%s\n", times_line(t).c_str());
  if (as_json) {
    std::cout << json{{"model", a.in},
                      {"out", a.out},
                      {"packed", a.packed},
                      {"scheme", scheme_json(opt.weights)},
                      {"activations", lm::activation_format_name(opt.activations)},
                      {"calibration", {{"sequences", calib.count}, {"length", calib.length}}},
                      {"times", times_json(t)},
                      {"layers", layers}}
                     .dump(2)
              << "\n";
  }
  return 0;
}

int layer(const std::string& w_path, const std::string& x_path, const std::string& out, bool force,
          const lm::weight_scheme& scheme, bool as_json) {
  require_new(out, force);
  const lm::npy_array W = lm::read_npy(w_path), X = lm::read_npy(x_path);
  if (W.shape.size() != 2 || W.dtype != lm::npy_dtype::f4) {
    throw std::invalid_argument(w_path + ": a weight is a 2-d float32 array [out, in]");
  }
  if (X.shape.size() != 2 || X.dtype != lm::npy_dtype::f4 || X.shape[1] != W.shape[1]) {
    throw std::invalid_argument(x_path +
                                ": calibration activations are a 2-d float32 array [tokens, " +
                                std::to_string(W.shape[1]) + "]");
  }
  const std::size_t rows = W.shape[0], cols = W.shape[1];
  const std::vector<float> w = W.to_float(), x = X.to_float();
  lowp::hessian_accumulator acc(cols);
  acc.add_batch(x.data(), X.shape[0], cols);
  const lm::weight_outcome q = lm::quantize_weight(w.data(), rows, cols, acc.hessian(), scheme);
  const json rep = {{"weight", w_path},
                    {"activations", x_path},
                    {"shape", {rows, cols}},
                    {"tokens", X.shape[0]},
                    {"scheme", scheme_json(scheme)},
                    {"loss", q.loss},
                    {"rel_output_error", q.rel_output_error},
                    {"damping_retries", q.damping_retries},
                    {"warnings", q.warnings},
                    {"seconds", q.seconds_quantize + q.seconds_lorc},
                    {"out", out}};
  lm::save_packed_layer(out, q.packed, scheme, {{"report", rep.dump()}});
  if (as_json) {
    std::cout << rep.dump(2) << "\n";
  } else {
    std::printf("%s [%zu x %zu] on %zu tokens: loss %.4e, rel. output error %.4e -> %s\n",
                w_path.c_str(), rows, cols, X.shape[0], q.loss, q.rel_output_error, out.c_str());
  }
  return 0;
}

// --- paper: ZeroQuant-FP's Table 1 and Table B.1 -----------------------------------

struct paper_row {
  const char* table;  // "1" or "B.1"
  std::string name;   // "W4A8 FP-FP", ...
  bool quantize;      // false: the float model (W16A16)
  lm::weight_format format;
  lm::scale_policy policy;
  lm::weight_method method;
  bool lorc;
  lm::activation_format act;
};

// The rows of the paper's Table 1 (RTN beside GPTQ for W4A8, and +LoRC) and Table B.1
// (W4A8 FP-FP with the M1/M2 scale constraints, and +LoRC).  INT-FP: INT weights, FP8
// activations; FP weights are E2M1 (4-bit) or E4M3 (8-bit); FP activations are E4M3.
std::vector<paper_row> paper_rows() {
  using F = lm::weight_format;
  using P = lm::scale_policy;
  using M = lm::weight_method;
  using A = lm::activation_format;
  std::vector<paper_row> rows = {
      {"1", "W16A16", false, F::int8, P::absmax, M::gptq, false, A::none},
      {"1", "W8A8 INT-INT", true, F::int8, P::absmax, M::gptq, false, A::int8},
      {"1", "W8A8 INT-FP", true, F::int8, P::absmax, M::gptq, false, A::fp8_e4m3},
      {"1", "W8A8 FP-FP", true, F::fp8_e4m3, P::absmax, M::gptq, false, A::fp8_e4m3}};
  const std::pair<const char*, std::pair<F, A>> w4[] = {{"W4A8 INT-INT", {F::int4, A::int8}},
                                                        {"W4A8 INT-FP", {F::int4, A::fp8_e4m3}},
                                                        {"W4A8 FP-FP", {F::fp4_e2m1, A::fp8_e4m3}}};
  for (const auto& [name, fa] : w4) {
    rows.push_back(
        {"1", std::string(name) + " RTN", true, fa.first, P::absmax, M::rtn, false, fa.second});
    rows.push_back({"1", name, true, fa.first, P::absmax, M::gptq, false, fa.second});
    rows.push_back(
        {"1", std::string(name) + " +LoRC", true, fa.first, P::absmax, M::gptq, true, fa.second});
  }
  for (const P p : {P::m1, P::m2}) {
    const std::string n = std::string("W4A8 FP-FP ") + (p == P::m1 ? "M1" : "M2");
    rows.push_back({"B.1", n, true, F::fp4_e2m1, p, M::gptq, false, A::fp8_e4m3});
    rows.push_back({"B.1", n + " +LoRC", true, F::fp4_e2m1, p, M::gptq, true, A::fp8_e4m3});
  }
  return rows;
}

struct paper_args {
  std::string model, eval_tokens;
  std::size_t seeds = 3, calib_count = 32, calib_length = 128, eval_count = 32, eval_length = 256;
  std::size_t group = 256, lorc_rank = 8;
  std::uint64_t eval_seed = 1000000;
  std::string csv;
};

// mean and sample standard deviation
std::pair<double, double> mean_sd(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return {m, v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0.0};
}

int paper(const paper_args& a, bool as_json) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const lm::llama_model reference = load_model(a.model);
  const lm::llama_config& c = reference.config;
  // Evaluation data: a token file, or sequences sampled from the float model with seeds
  // eval_seed + i; calibration seed k (1..seeds) samples with seeds 1000 k + i, disjoint
  // from the evaluation's as long as eval_seed is at least 1000 (seeds + 1).
  lm::token_batch ev;
  if (!a.eval_tokens.empty()) {
    ev = lm::read_tokens(a.eval_tokens, 0);
    lm::check_tokens(ev, c, a.eval_tokens);
  } else {
    if (a.eval_seed < 1000 * (a.seeds + 1))
      throw std::invalid_argument("--eval-seed must be >= 1000 (seeds + 1)");
    ev.count = a.eval_count;
    ev.length = a.eval_length;
    ev.ids =
        lm::sample_sequences(reference, a.eval_count, a.eval_length, {1.0f, 1.0f, a.eval_seed});
  }
  if (a.calib_count > 1000) throw std::invalid_argument("--calib-count must be at most 1000");
  std::vector<std::vector<std::int32_t>> calib(a.seeds);
  for (std::size_t k = 0; k < a.seeds; ++k) {
    calib[k] = lm::sample_sequences(reference, a.calib_count, a.calib_length,
                                    {1.0f, 1.0f, 1000 * (k + 1)});
  }
  // The float model's logits of the evaluation data, computed once for every row when
  // they fit in 512 MiB (else recomputed per row by evaluate()).
  const std::size_t eval_batch = 8;
  std::vector<lowp::row_major_matrixf> ref_logits;
  if (ev.count * ev.length * c.vocab_size * sizeof(float) <= (std::size_t{512} << 20)) {
    for (std::size_t s0 = 0; s0 < ev.count; s0 += eval_batch) {
      const std::size_t n = std::min(eval_batch, ev.count - s0);
      ref_logits.push_back(lm::forward(reference, ev.ids.data() + s0 * ev.length, n, ev.length));
    }
  }
  struct measured {
    std::vector<double> ppl, kl, top1;
    lm::pipeline_times times;
  };
  const std::vector<paper_row> rows = paper_rows();
  std::vector<measured> results(rows.size());
  lm::pipeline_times all_times;
  double eval_seconds = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const paper_row& row = rows[r];
    for (std::size_t k = 0; k < (row.quantize ? a.seeds : 1); ++k) {
      lm::llama_model m = load_model(a.model);
      lm::model_quant_options o;
      o.weights.format = row.format;
      o.weights.policy = row.policy;
      o.weights.method = row.method;
      o.weights.group_size = a.group;
      o.weights.lorc_rank = row.lorc ? a.lorc_rank : 0;
      o.activations = row.act;
      if (row.quantize) {
        const lm::quantized_model q =
            lm::quantize_model(m, calib[k].data(), a.calib_count, a.calib_length, o);
        all_times.calibration_forward += q.times.calibration_forward;
        all_times.forward_gemms += q.times.forward_gemms;
        all_times.hessians += q.times.hessians;
        all_times.quantize += q.times.quantize;
        all_times.lorc += q.times.lorc;
        all_times.total += q.times.total;
      }
      const auto e0 = clock::now();
      lm::token_scores s;
      if (!ref_logits.empty()) {
        lm::forward_options fo;
        fo.activations = row.act;
        for (std::size_t s0 = 0, i = 0; s0 < ev.count; s0 += eval_batch, ++i) {
          const std::size_t n = std::min(eval_batch, ev.count - s0);
          const std::int32_t* toks = ev.ids.data() + s0 * ev.length;
          s.add(lm::forward(m, toks, n, ev.length, fo), toks, n, ev.length, &ref_logits[i]);
        }
      } else {
        lm::evaluate_options eo;
        eo.model.activations = row.act;
        eo.batch = eval_batch;
        s = lm::evaluate(m, ev.ids.data(), ev.count, ev.length, eo, &reference);
      }
      eval_seconds += std::chrono::duration<double>(clock::now() - e0).count();
      results[r].ppl.push_back(s.perplexity().ppl);
      results[r].kl.push_back(s.kl().mean);
      results[r].top1.push_back(s.kl().top1);
      progress("paper grid: rows", r + (k + 1 == (row.quantize ? a.seeds : 1) ? 1 : 0),
               rows.size());
    }
  }
  const double total = std::chrono::duration<double>(clock::now() - start).count();

  // Markdown, one table per paper table.
  const auto pm = [](const std::vector<double>& v, int digits) {
    const auto [m, sd] = mean_sd(v);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f ± %.*f", digits, m, digits, sd);
    return std::string(buf);
  };
  json out = {
      {"model", a.model},
      {"parameters", reference.parameter_count()},
      {"seeds", a.seeds},
      {"calibration", {{"sequences", a.calib_count}, {"length", a.calib_length}}},
      {"evaluation", {{"sequences", ev.count}, {"length", ev.length}, {"tokens", a.eval_tokens}}},
      {"group_size", a.group},
      {"lorc_rank", a.lorc_rank},
      {"rows", json::array()}};
  for (const char* table : {"1", "B.1"}) {
    if (as_json) break;
    std::printf(
        "\n**Table %s** (%s: %zu calibration seeds x %zu sequences of %zu tokens; evaluation on "
        "%zu x %zu "
        "tokens; groups of %zu, LoRC rank %zu)\n\n",
        table, std::filesystem::path(a.model).filename().string().c_str(), a.seeds, a.calib_count,
        a.calib_length, ev.count, ev.length, a.group, a.lorc_rank);
    std::printf("| setting | PPL | mean KL vs float | top-1 agreement |\n|---|---:|---:|---:|\n");
    for (std::size_t r = 0; r < rows.size(); ++r) {
      if (std::string(rows[r].table) != table) continue;
      std::printf("| %s | %s | %s | %s |\n", rows[r].name.c_str(), pm(results[r].ppl, 3).c_str(),
                  pm(results[r].kl, 4).c_str(), pm(results[r].top1, 4).c_str());
    }
  }
  if (!as_json)
    std::printf("\nTime: %.1f s in all; quantization pipeline: %s; evaluation %.1f s.\n", total,
                times_line(all_times).c_str(), eval_seconds);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    out["rows"].push_back({{"table", rows[r].table},
                           {"setting", rows[r].name},
                           {"ppl", results[r].ppl},
                           {"kl", results[r].kl},
                           {"top1", results[r].top1}});
  }
  out["times"] = {
      {"total", total}, {"pipeline", times_json(all_times)}, {"evaluation", eval_seconds}};
  if (!a.csv.empty()) {  // for the chart: setting, mean KL, its standard deviation
    lm::write_file_atomically(a.csv, "lowp-ptq paper", [&](std::ostream& os) {
      os << "# setting\tmean_kl\tsd_kl\n";
      for (std::size_t r = 0; r < rows.size(); ++r) {
        const auto [m, sd] = mean_sd(results[r].kl);
        os << '"' << rows[r].name << "\"\t" << m << '\t' << sd << '\n';
      }
    });
  }
  if (as_json) std::cout << out.dump(2) << "\n";
  return 0;
}

// --- outliers: why FP8 activations win (outlier channels injected, function kept) -----

struct outliers_args {
  std::string model;
  std::vector<float> alphas = {1, 2, 4, 8, 16, 32, 64, 128, 256};
  std::vector<std::size_t> channels = {1, 4};
  std::vector<float> w4a8_alphas = {1, 16, 256};
  std::size_t seeds = 3, calib_count = 32, calib_length = 128, eval_count = 32, eval_length = 256;
  std::size_t group = 32;
  std::uint64_t eval_seed = 1000000;
  std::string csv;
};

int outliers(const outliers_args& a, bool as_json) {
  using A = lm::activation_format;
  const auto start = std::chrono::steady_clock::now();
  const lm::llama_model reference = load_model(a.model);
  const lm::llama_config& c = reference.config;
  if (a.eval_seed < 1000 * (a.seeds + 1))
    throw std::invalid_argument("--eval-seed must be >= 1000 (seeds + 1)");
  if (a.calib_count > 1000) throw std::invalid_argument("--calib-count must be at most 1000");
  for (const std::size_t n : a.channels) {
    if (n == 0 || n > c.dim)
      throw std::invalid_argument("--channels: " + std::to_string(n) + " of dim " +
                                  std::to_string(c.dim));
  }
  // The same evaluation and calibration data as `paper`: sampled from the float model, whose
  // function inject_outliers() keeps, so one set serves every alpha.
  const std::vector<std::int32_t> ev =
      lm::sample_sequences(reference, a.eval_count, a.eval_length, {1.0f, 1.0f, a.eval_seed});
  std::vector<std::vector<std::int32_t>> calib(a.seeds);
  for (std::size_t k = 0; k < a.seeds; ++k) {
    calib[k] = lm::sample_sequences(reference, a.calib_count, a.calib_length,
                                    {1.0f, 1.0f, 1000 * (k + 1)});
  }
  const std::size_t batch = 8;
  if (a.eval_count * a.eval_length * c.vocab_size * sizeof(float) > (std::size_t{512} << 20))
    throw std::invalid_argument(
        "the float model's logits of the evaluation data exceed 512 MiB "
        "(use a smaller --eval-count or --eval-length)");
  std::vector<lowp::row_major_matrixf> ref_logits;
  for (std::size_t s0 = 0; s0 < a.eval_count; s0 += batch) {
    const std::size_t n = std::min(batch, a.eval_count - s0);
    ref_logits.push_back(lm::forward(reference, ev.data() + s0 * a.eval_length, n, a.eval_length));
  }
  // m's scores on the evaluation data against the float model; `same` is cleared when m's
  // float logits are not bit for bit the float model's.
  bool same = true;
  const auto score = [&](const lm::llama_model& m, A act, bool check_float) {
    lm::token_scores s;
    lm::forward_options fo;
    fo.activations = act;
    for (std::size_t s0 = 0, i = 0; s0 < a.eval_count; s0 += batch, ++i) {
      const std::size_t n = std::min(batch, a.eval_count - s0);
      const std::int32_t* toks = ev.data() + s0 * a.eval_length;
      if (check_float) same = same && lm::forward(m, toks, n, a.eval_length) == ref_logits[i];
      s.add(lm::forward(m, toks, n, a.eval_length, fo), toks, n, a.eval_length, &ref_logits[i]);
    }
    return s;
  };
  struct cell {
    std::vector<double> ppl, kl, top1;
  };
  const auto add = [](cell& x, const lm::token_scores& s) {
    x.ppl.push_back(s.perplexity().ppl);
    x.kl.push_back(s.kl().mean);
    x.top1.push_back(s.kl().top1);
  };
  const auto pm = [](const std::vector<double>& v, int digits) {
    const auto [m, sd] = mean_sd(v);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f ± %.*f", digits, m, digits, sd);
    return std::string(buf);
  };
  json out = {{"model", a.model},
              {"seeds", a.seeds},
              {"evaluation", {{"sequences", a.eval_count}, {"length", a.eval_length}}},
              {"calibration", {{"sequences", a.calib_count}, {"length", a.calib_length}}},
              {"group_size", a.group}};

  // 1. The model's own linear-layer inputs: largest channel over the median channel.
  const std::vector<lm::channel_stats> own =
      lm::activation_channel_stats(reference, ev.data(), a.eval_count, a.eval_length, batch);
  double worst = 0;
  for (const lm::channel_stats& s : own) worst = std::max(worst, s.ratio());
  out["own_channels"] = json::array();
  for (const lm::channel_stats& s : own) {
    out["own_channels"].push_back({{"block", s.block},
                                   {"input", lm::linear_input_name(s.which)},
                                   {"largest", s.largest},
                                   {"channel", s.largest_at},
                                   {"median", s.median},
                                   {"ratio", s.ratio()}});
  }
  if (!as_json) {
    std::printf(
        "\n**The model's own activations** (%s, %zu x %zu evaluation tokens): per "
        "linear-layer input, the largest channel magnitude (max |x| over the tokens) "
        "over the median channel's\n\n| block | input | largest (channel) | median | ratio |\n"
        "|---:|---|---:|---:|---:|\n",
        std::filesystem::path(a.model).filename().string().c_str(), a.eval_count, a.eval_length);
    for (const lm::channel_stats& s : own) {
      std::printf("| %zu | %s | %.3f (%zu) | %.3f | %.1f |\n", s.block,
                  lm::linear_input_name(s.which), static_cast<double>(s.largest), s.largest_at,
                  static_cast<double>(s.median), s.ratio());
    }
    std::printf("\nLargest ratio: %.1f.\n", worst);
  }

  // 2. W16A8: per-token INT8, FP8 E4M3 and E5M2 activations on float weights, per alpha
  // and number of outlier channels; seed k picks the channels.
  const A formats[] = {A::int8, A::fp8_e4m3, A::fp8_e5m2};
  std::vector<std::vector<std::array<cell, 3>>> w16(
      a.channels.size(), std::vector<std::array<cell, 3>>(a.alphas.size()));
  const std::size_t steps = a.channels.size() * a.alphas.size() * a.seeds;
  std::size_t done = 0;
  for (std::size_t ci = 0; ci < a.channels.size(); ++ci) {
    for (std::size_t ai = 0; ai < a.alphas.size(); ++ai) {
      for (std::size_t k = 0; k < a.seeds; ++k) {
        lm::llama_model m = load_model(a.model);
        lm::inject_outliers(m, lm::pick_channels(c.dim, a.channels[ci], k + 1), a.alphas[ai]);
        for (std::size_t f = 0; f < 3; ++f) add(w16[ci][ai][f], score(m, formats[f], f == 0));
        progress("outliers: W16A8", ++done, steps);
      }
    }
  }
  // The crossover: the smallest alpha of the sweep at which E4M3's mean KL is below INT8's.
  std::vector<json> crossover;
  for (std::size_t ci = 0; ci < a.channels.size(); ++ci) {
    json x = nullptr;
    for (std::size_t ai = 0; ai < a.alphas.size(); ++ai) {
      if (mean_sd(w16[ci][ai][1].kl).first < mean_sd(w16[ci][ai][0].kl).first) {
        x = a.alphas[ai];
        break;
      }
    }
    crossover.push_back(x);
  }
  out["function_preserved"] = same;
  out["w16a8"] = json::array();
  for (std::size_t ci = 0; ci < a.channels.size(); ++ci)
    for (std::size_t ai = 0; ai < a.alphas.size(); ++ai)
      for (std::size_t f = 0; f < 3; ++f)
        out["w16a8"].push_back({{"channels", a.channels[ci]},
                                {"alpha", a.alphas[ai]},
                                {"activations", lm::activation_format_name(formats[f])},
                                {"ppl", w16[ci][ai][f].ppl},
                                {"kl", w16[ci][ai][f].kl},
                                {"top1", w16[ci][ai][f].top1}});
  out["crossover"] = json::array();
  for (std::size_t ci = 0; ci < a.channels.size(); ++ci)
    out["crossover"].push_back({{"channels", a.channels[ci]}, {"alpha", crossover[ci]}});
  if (!as_json) {
    std::printf(
        "\n**W16A8 under injected outliers** (float weights; per-token activations; %zu "
        "seeds choose the channels; the float model's logits %s)\n\n"
        "| channels | alpha | INT8 KL | FP8 E4M3 KL | FP8 E5M2 KL | INT8 PPL | E4M3 PPL | "
        "INT8 top-1 | E4M3 top-1 |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        a.seeds, same ? "unchanged bit for bit at every point" : "CHANGED (a bug: see --json)");
    for (std::size_t ci = 0; ci < a.channels.size(); ++ci)
      for (std::size_t ai = 0; ai < a.alphas.size(); ++ai) {
        const auto& r = w16[ci][ai];
        std::printf("| %zu | %g | %s | %s | %s | %s | %s | %s | %s |\n", a.channels[ci],
                    static_cast<double>(a.alphas[ai]), pm(r[0].kl, 4).c_str(),
                    pm(r[1].kl, 4).c_str(), pm(r[2].kl, 4).c_str(), pm(r[0].ppl, 2).c_str(),
                    pm(r[1].ppl, 2).c_str(), pm(r[0].top1, 3).c_str(), pm(r[1].top1, 3).c_str());
      }
    std::printf(
        "\nCrossover (the smallest alpha of the sweep where FP8 E4M3's mean KL is below "
        "INT8's):");
    for (std::size_t ci = 0; ci < a.channels.size(); ++ci) {
      if (crossover[ci].is_null())
        std::printf(" %zu channel(s): none up to %g;", a.channels[ci],
                    static_cast<double>(a.alphas.back()));
      else
        std::printf(" %zu channel(s): alpha %g;", a.channels[ci], crossover[ci].get<double>());
    }
    std::printf("\n");
  }

  // 3. W4A8 with GPTQ on the injected model: FP-FP (E2M1 weights, M2 scales, E4M3
  // activations) and INT-INT (INT4 absmax weights, INT8 activations; M2 is for FP).
  struct w4_setting {
    const char* name;
    lm::weight_format format;
    lm::scale_policy policy;
    A act;
  };
  const w4_setting w4[] = {
      {"W4A8 FP-FP (M2)", lm::weight_format::fp4_e2m1, lm::scale_policy::m2, A::fp8_e4m3},
      {"W4A8 INT-INT", lm::weight_format::int4, lm::scale_policy::absmax, A::int8}};
  std::vector<std::vector<std::array<cell, 2>>> w4r(
      a.channels.size(), std::vector<std::array<cell, 2>>(a.w4a8_alphas.size()));
  const std::size_t steps4 = a.channels.size() * a.w4a8_alphas.size() * a.seeds;
  done = 0;
  for (std::size_t ci = 0; ci < a.channels.size(); ++ci) {
    for (std::size_t ai = 0; ai < a.w4a8_alphas.size(); ++ai) {
      for (std::size_t k = 0; k < a.seeds; ++k) {
        const std::vector<std::size_t> ch = lm::pick_channels(c.dim, a.channels[ci], k + 1);
        for (std::size_t s = 0; s < 2; ++s) {
          lm::llama_model m = load_model(a.model);
          lm::inject_outliers(m, ch, a.w4a8_alphas[ai]);
          lm::model_quant_options o;
          o.weights.format = w4[s].format;
          o.weights.policy = w4[s].policy;
          o.weights.group_size = a.group;
          o.activations = w4[s].act;
          (void)lm::quantize_model(m, calib[k].data(), a.calib_count, a.calib_length, o);
          add(w4r[ci][ai][s], score(m, w4[s].act, false));
        }
        progress("outliers: W4A8", ++done, steps4);
      }
    }
  }
  out["w4a8"] = json::array();
  for (std::size_t ci = 0; ci < a.channels.size(); ++ci)
    for (std::size_t ai = 0; ai < a.w4a8_alphas.size(); ++ai)
      for (std::size_t s = 0; s < 2; ++s)
        out["w4a8"].push_back({{"channels", a.channels[ci]},
                               {"alpha", a.w4a8_alphas[ai]},
                               {"setting", w4[s].name},
                               {"ppl", w4r[ci][ai][s].ppl},
                               {"kl", w4r[ci][ai][s].kl},
                               {"top1", w4r[ci][ai][s].top1}});
  if (!as_json) {
    std::printf(
        "\n**W4A8 with GPTQ under injected outliers** (groups of %zu; %zu calibration "
        "seeds, each also choosing the channels)\n\n| channels | alpha | FP-FP (M2) KL | "
        "INT-INT KL | FP-FP PPL | INT-INT PPL |\n|---:|---:|---:|---:|---:|---:|\n",
        a.group, a.seeds);
    for (std::size_t ci = 0; ci < a.channels.size(); ++ci)
      for (std::size_t ai = 0; ai < a.w4a8_alphas.size(); ++ai) {
        const auto& r = w4r[ci][ai];
        std::printf("| %zu | %g | %s | %s | %s | %s |\n", a.channels[ci],
                    static_cast<double>(a.w4a8_alphas[ai]), pm(r[0].kl, 4).c_str(),
                    pm(r[1].kl, 4).c_str(), pm(r[0].ppl, 2).c_str(), pm(r[1].ppl, 2).c_str());
      }
    std::printf("\nTime: %.1f s.\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  if (!a.csv.empty()) {  // for the chart: one line per (channels, alpha)
    lm::write_file_atomically(a.csv, "lowp-ptq outliers", [&](std::ostream& os) {
      os << "# channels\talpha\tint8_kl\tint8_sd\te4m3_kl\te4m3_sd\te5m2_kl\te5m2_sd\n";
      for (std::size_t ci = 0; ci < a.channels.size(); ++ci) {
        if (ci > 0) os << "\n\n";  // gnuplot: one data block per channel count
        const std::string n = std::to_string(a.channels[ci]) +
                              (a.channels[ci] == 1 ? " outlier channel" : " outlier channels");
        os << "channels\talpha\t\"INT8, " << n << "\"\tsd\t\"FP8 E4M3, " << n
           << "\"\tsd\t\"FP8 E5M2, " << n << "\"\tsd\n";  // the chart's titles
        for (std::size_t ai = 0; ai < a.alphas.size(); ++ai) {
          os << a.channels[ci] << '\t' << a.alphas[ai];
          for (std::size_t f = 0; f < 3; ++f) {
            const auto [m, sd] = mean_sd(w16[ci][ai][f].kl);
            os << '\t' << m << '\t' << sd;
          }
          os << '\n';
        }
      }
    });
  }
  if (as_json) std::cout << out.dump(2) << "\n";
  if (!same) {
    std::fprintf(stderr, "lowp-ptq: inject_outliers changed the float model's logits\n");
    return 1;
  }
  return 0;
}

// --- synthetic: random models of a given shape, for timings -----------------------

int synthetic(const std::string& shape, const std::string& out, std::uint64_t seed, bool force,
              bool as_json) {
  require_new(out, force);
  lm::llama_config c;
  if (shape == "15M") {  // stories15M's shape
    c.dim = 288;
    c.hidden_dim = 768;
    c.n_layers = c.n_heads = c.n_kv_heads = 6;
    c.seq_len = 256;
  } else if (shape == "110M") {  // stories110M's shape
    c.dim = 768;
    c.hidden_dim = 2048;
    c.n_layers = c.n_heads = c.n_kv_heads = 12;
    c.seq_len = 1024;
  } else {
    throw std::invalid_argument("unknown shape " + shape + " (15M, 110M)");
  }
  c.vocab_size = 32000;
  const lm::llama_model m = lm::random_model(c, seed);
  lm::save_llama2c(m, out, lm::llama2c_version::v0);
  if (as_json)
    std::cout
        << json{{"out", out}, {"shape", shape}, {"seed", seed}, {"config", config_json(m)}}.dump(2)
        << "\n";
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "lowp-ptq: real LLaMA-family models in and out (llama2.c checkpoints, Hugging Face folders)"};
  app.require_subcommand(1);
  int threads = 0;
  bool as_json = false;
  app.add_option("--threads", threads, "threads for the GEMMs and loops (0: all)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--json", as_json, "print a machine-readable summary on stdout");

  std::string model, tokens, reference, act, out, to;
  std::size_t count = 16, length = 128, eval_length = 0, batch = 8;
  lm::sampler_options so;

  CLI::App* info_cmd =
      app.add_subcommand("info", "the config, parameter count and tensors of a model");
  info_cmd->add_option("model", model, "llama2.c checkpoint or Hugging Face folder")->required();

  CLI::App* sample_cmd =
      app.add_subcommand("sample", "write token sequences sampled from the model (.npy int32)");
  sample_cmd->add_option("model", model)->required();
  sample_cmd->add_option("--out", out, "output .npy file")->required();
  sample_cmd->add_option("--count", count, "sequences")->check(CLI::PositiveNumber);
  sample_cmd->add_option("--length", length, "tokens per sequence, BOS first")
      ->check(CLI::PositiveNumber);
  sample_cmd->add_option("--seed", so.seed, "sequence s uses seed + s");
  sample_cmd->add_option("--temperature", so.temperature, "0: greedy");
  sample_cmd->add_option("--top-p", so.top_p, "nucleus sampling mass");

  CLI::App* eval_cmd =
      app.add_subcommand("eval", "perplexity, and KL / top-1 against a reference model");
  eval_cmd->add_option("model", model)->required();
  eval_cmd
      ->add_option("--tokens", tokens,
                   "token file: .npy [count, length], or llama2.c's uint16 .bin")
      ->required();
  eval_cmd->add_option("--length", eval_length,
                       "tokens per sequence (needed for a flat .bin or 1-d .npy)");
  eval_cmd->add_option("--reference", reference, "the reference (float) model for KL and top-1");
  eval_cmd->add_option("--act", act, "per-token activation format: none, int8, fp8_e4m3, fp8_e5m2")
      ->check(CLI::IsMember({"none", "int8", "fp8_e4m3", "fp8_e5m2"}));
  eval_cmd->add_option("--batch", batch, "sequences per forward pass")->check(CLI::PositiveNumber);
  std::string kernel = "fake", kernel_path = "automatic";
  eval_cmd
      ->add_option("--kernel", kernel,
                   "how quantized layers run: fake (float GEMM on fake-quantized operands) or "
                   "w4a8 (lowp::w4a8_linear on the packed codes; a packed .safetensors model)")
      ->check(CLI::IsMember({"fake", "w4a8"}));
  eval_cmd
      ->add_option("--kernel-path", kernel_path,
                   "the W4A8 kernel's code path: automatic, portable, avx2 or avx512 (the "
                   "AVX512-BF16/VNNI decode)")
      ->check(CLI::IsMember({"automatic", "portable", "avx2", "avx512"}));

  CLI::App* convert_cmd =
      app.add_subcommand("convert", "between llama2.c (v0, v1) and Hugging Face folders");
  convert_cmd->add_option("in", model)->required();
  convert_cmd->add_option("out", out)->required();
  convert_cmd->add_option("--to", to, "llama2c-v0, llama2c-v1 or hf")
      ->required()
      ->check(CLI::IsMember({"llama2c-v0", "llama2c-v1", "hf"}));

  quantize_args qa;
  scheme_args sa;
  std::string qact = "none";
  CLI::App* quantize_cmd = app.add_subcommand("quantize",
                                              "quantize every linear layer (GPTQ or RTN, optional "
                                              "LoRC), block by block on calibration data");
  quantize_cmd->add_option("model", qa.in, "llama2.c checkpoint or Hugging Face folder")
      ->required();
  quantize_cmd->add_option("out", qa.out, "the fake-quantized model, in the input's format")
      ->required();
  quantize_cmd
      ->add_option("--packed", qa.packed, "also write the packed model (.safetensors) for engines")
      ->check([](const std::string& p) {
        return is_packed(p) ? std::string() : "the packed file must end in .safetensors";
      });
  quantize_cmd->add_option("--calib", qa.calib,
                           "calibration token file (.npy [count, length]); default: sampled");
  quantize_cmd->add_option("--calib-count", qa.calib_count, "sampled calibration sequences")
      ->check(CLI::PositiveNumber);
  quantize_cmd->add_option("--calib-length", qa.calib_length, "tokens per sampled sequence")
      ->check(CLI::PositiveNumber);
  quantize_cmd->add_option("--calib-seed", qa.calib_seed, "seed of the sampled calibration data");
  quantize_cmd
      ->add_option("--act", qact, "per-token activation format: none, int8, fp8_e4m3, fp8_e5m2")
      ->check(CLI::IsMember({"none", "int8", "fp8_e4m3", "fp8_e5m2"}));
  quantize_cmd->add_flag("--calib-float-acts", qa.calib_float_acts,
                         "calibrate on float activations (default: quantized as --act says)");
  quantize_cmd->add_option(
      "--skip", qa.skip, "layers left in float: down_proj, layers.3.q_proj, ... (comma-separated)");
  quantize_cmd->add_option("--chunk", qa.chunk, "calibration sequences per block run")
      ->check(CLI::PositiveNumber);
  quantize_cmd->add_flag("--force", qa.force, "overwrite existing outputs");
  sa.add_to(quantize_cmd);

  std::string layer_w, layer_x, layer_out;
  bool layer_force = false;
  scheme_args la;
  CLI::App* layer_cmd = app.add_subcommand("layer",
                                           "quantize one weight with its calibration activations "
                                           "(one layer per process, for a job runner)");
  layer_cmd->add_option("weight", layer_w, "the weight, .npy float32 [out, in]")->required();
  layer_cmd->add_option("activations", layer_x, "its calibration inputs, .npy float32 [tokens, in]")
      ->required();
  layer_cmd->add_option("--out", layer_out, "the packed layer (.safetensors)")->required();
  layer_cmd->add_flag("--force", layer_force, "overwrite an existing output");
  la.add_to(layer_cmd);

  paper_args pa;
  CLI::App* paper_cmd = app.add_subcommand("paper",
                                           "ZeroQuant-FP's Table 1 and Table B.1 on a model, as "
                                           "Markdown (mean ± sd over calibration seeds)");
  paper_cmd->add_option("model", pa.model, "llama2.c checkpoint or Hugging Face folder")
      ->required();
  paper_cmd->add_option("--seeds", pa.seeds, "calibration seeds per setting")
      ->check(CLI::PositiveNumber);
  paper_cmd->add_option("--calib-count", pa.calib_count, "calibration sequences per seed")
      ->check(CLI::PositiveNumber);
  paper_cmd->add_option("--calib-length", pa.calib_length, "tokens per calibration sequence")
      ->check(CLI::PositiveNumber);
  paper_cmd->add_option("--eval", pa.eval_tokens,
                        "evaluation token file (default: sampled from the model)");
  paper_cmd->add_option("--eval-count", pa.eval_count, "sampled evaluation sequences")
      ->check(CLI::PositiveNumber);
  paper_cmd->add_option("--eval-length", pa.eval_length, "tokens per sampled evaluation sequence")
      ->check(CLI::PositiveNumber);
  paper_cmd->add_option("--eval-seed", pa.eval_seed, "seed of the sampled evaluation data");
  paper_cmd->add_option("--group", pa.group,
                        "columns per scale group (the paper: 256; longer than a row: per channel)");
  paper_cmd->add_option("--lorc-rank", pa.lorc_rank, "LoRC rank of the +LoRC rows")
      ->check(CLI::PositiveNumber);
  paper_cmd->add_option("--csv", pa.csv,
                        "also write each setting's mean KL and its sd (for the chart)");

  outliers_args oa;
  CLI::App* outliers_cmd = app.add_subcommand(
      "outliers",
      "why FP8 activations win: outlier channels injected without changing the float model, "
      "INT8 vs FP8 activations swept over their size");
  outliers_cmd->add_option("model", oa.model, "llama2.c checkpoint or Hugging Face folder")
      ->required();
  outliers_cmd->add_option("--alphas", oa.alphas, "outlier factors, powers of two (W16A8 sweep)")
      ->delimiter(',');
  outliers_cmd->add_option("--channels", oa.channels, "numbers of outlier channels")
      ->delimiter(',');
  outliers_cmd->add_option("--w4a8-alphas", oa.w4a8_alphas, "outlier factors of the W4A8 runs")
      ->delimiter(',');
  outliers_cmd->add_option("--seeds", oa.seeds, "seeds (each picks the channels and calibrates)")
      ->check(CLI::PositiveNumber);
  outliers_cmd->add_option("--calib-count", oa.calib_count, "calibration sequences per seed")
      ->check(CLI::PositiveNumber);
  outliers_cmd->add_option("--calib-length", oa.calib_length, "tokens per calibration sequence")
      ->check(CLI::PositiveNumber);
  outliers_cmd->add_option("--eval-count", oa.eval_count, "sampled evaluation sequences")
      ->check(CLI::PositiveNumber);
  outliers_cmd->add_option("--eval-length", oa.eval_length, "tokens per evaluation sequence")
      ->check(CLI::PositiveNumber);
  outliers_cmd->add_option("--eval-seed", oa.eval_seed, "seed of the sampled evaluation data");
  outliers_cmd->add_option("--group", oa.group, "columns per scale group of the W4A8 weights");
  outliers_cmd->add_option("--csv", oa.csv,
                           "also write the W16A8 sweep's mean KLs (for the chart)");

  std::string synth_shape, synth_out;
  std::uint64_t synth_seed = 1;
  bool synth_force = false;
  CLI::App* synth_cmd = app.add_subcommand(
      "synthetic",
      "a random model (llama2.c v0) with stories15M's or stories110M's shape, for timings only");
  synth_cmd->add_option("shape", synth_shape, "15M or 110M")
      ->required()
      ->check(CLI::IsMember({"15M", "110M"}));
  synth_cmd->add_option("out", synth_out, "the checkpoint to write")->required();
  synth_cmd->add_option("--seed", synth_seed, "seed of the weights");
  synth_cmd->add_flag("--force", synth_force, "overwrite an existing output");

  for (CLI::App* sub : {info_cmd, sample_cmd, eval_cmd, convert_cmd, quantize_cmd, layer_cmd,
                        paper_cmd, outliers_cmd, synth_cmd})
    sub->fallthrough();  // --json, --threads anywhere
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints the help, or the error and a hint
    return code == 0 ? 0 : 2;
  }
  if (threads > 0) {
    Eigen::setNbThreads(threads);
#if defined(_OPENMP)
    omp_set_num_threads(threads);  // lowp's own threaded loops (bulk, quantize, w4a8)
#endif
  }
  try {
    if (*info_cmd) return info(model, as_json);
    if (*sample_cmd) return sample(model, out, count, length, so, as_json);
    if (*eval_cmd)
      return eval(model, tokens, eval_length, reference, act, batch, kernel, kernel_path, as_json);
    if (*convert_cmd) return convert(model, out, to, as_json);
    if (*quantize_cmd) {
      lm::model_quant_options o;
      o.weights = sa.scheme();
      o.activations = parse_act(qact);
      return quantize(qa, o, as_json);
    }
    if (*paper_cmd) return paper(pa, as_json);
    if (*outliers_cmd) return outliers(oa, as_json);
    if (*synth_cmd) return synthetic(synth_shape, synth_out, synth_seed, synth_force, as_json);
    if (*layer_cmd) return layer(layer_w, layer_x, layer_out, layer_force, la.scheme(), as_json);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lowp-ptq: %s\n", e.what());
    return 1;
  }
  return 2;
}
