// lowp-ptq: real models in and out, from the command line.
//
//   lowp-ptq info MODEL                      the config, parameter count, tensors
//   lowp-ptq sample MODEL --out F.npy        token sequences sampled from the model
//   lowp-ptq eval MODEL --tokens F           perplexity; KL and top-1 against --reference
//   lowp-ptq convert IN OUT --to FORMAT      llama2c-v0, llama2c-v1 or hf
//
// MODEL is a llama2.c checkpoint (a file) or a Hugging Face LLaMA folder.  Every command
// takes --threads N and --json (a machine-readable summary on stdout); long work shows
// progress on stderr.  A failure is one message on stderr and exit code 1 (2 for a bad
// command line), and leaves no partial output file.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <Eigen/Core>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <lowp/model/evaluate.hpp>
#include <lowp/model/generate.hpp>
#include <lowp/model/hf_llama.hpp>
#include <lowp/model/llama2c.hpp>
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

lm::llama_model load_model(const std::string& path) {
  return is_hf(path) ? lm::load_hf_llama(path) : lm::load_llama2c(path);
}

json config_json(const lm::llama_model& m) {
  const lm::llama_config& c = m.config;
  return {{"dim", c.dim},
          {"hidden_dim", c.hidden_dim},
          {"n_layers", c.n_layers},
          {"n_heads", c.n_heads},
          {"n_kv_heads", c.n_kv_heads},
          {"vocab_size", c.vocab_size},
          {"seq_len", c.seq_len},
          {"rope_theta", c.rope_theta},
          {"norm_eps", c.norm_eps},
          {"shared_classifier", c.shared_classifier},
          {"rope", c.rope == lm::rope_style::interleaved ? "interleaved" : "half"},
          {"parameters", m.parameter_count()}};
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
         bool as_json) {
  const lm::llama_model m = load_model(path);
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
  fo.activations = parse_act(act);
  lm::token_scores scores;
  for (std::size_t s = 0; s < t.count; s += batch) {
    const std::size_t n = std::min(batch, t.count - s);
    const std::int32_t* chunk = t.ids.data() + s * t.length;
    const lowp::row_major_matrixf logits = lm::forward(m, chunk, n, t.length, fo);
    if (!reference_path.empty()) {
      const lowp::row_major_matrixf ref = lm::forward(reference, chunk, n, t.length);
      scores.add(logits, chunk, n, t.length, &ref);
    } else {
      scores.add(logits, chunk, n, t.length);
    }
    progress("evaluated sequences", s + n, t.count);
  }
  const lm::perplexity_result p = scores.perplexity();
  json out = {{"model", path},         {"tokens", tokens_path},
              {"activations", act},    {"predicted_tokens", p.tokens},
              {"ppl", p.ppl},          {"ppl_stderr", p.ppl_stderr},
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
    std::printf("PPL %.4f +- %.4f over %zu predicted tokens (activations %s)\n", p.ppl,
                p.ppl_stderr, p.tokens, act.c_str());
    if (scores.has_reference()) {
      const lm::kl_result k = scores.kl();
      std::printf(
          "KL mean %.6f +- %.6f, median %.6f, 99%% %.6f, max %.6f; top-1 agreement %.2f%%\n",
          k.mean, k.mean_stderr, k.median, k.p99, k.max, 100.0 * k.top1);
    }
  }
  return 0;
}

int convert(const std::string& in, const std::string& out, const std::string& to, bool as_json) {
  lm::llama_model m = load_model(in);
  if (to == "hf") {
    // A folder this command made is removed again if the save fails; each file in it is
    // written through a temporary file and a rename.
    const bool made = std::filesystem::create_directories(out);
    try {
      lm::save_hf_llama(m, out);
    } catch (...) {
      std::error_code ignored;
      if (made) std::filesystem::remove_all(out, ignored);
      throw;
    }
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

  std::string model, tokens, reference, act = "none", out, to;
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

  CLI::App* convert_cmd =
      app.add_subcommand("convert", "between llama2.c (v0, v1) and Hugging Face folders");
  convert_cmd->add_option("in", model)->required();
  convert_cmd->add_option("out", out)->required();
  convert_cmd->add_option("--to", to, "llama2c-v0, llama2c-v1 or hf")
      ->required()
      ->check(CLI::IsMember({"llama2c-v0", "llama2c-v1", "hf"}));

  for (CLI::App* sub : {info_cmd, sample_cmd, eval_cmd, convert_cmd})
    sub->fallthrough();  // --json, --threads anywhere
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints the help, or the error and a hint
    return code == 0 ? 0 : 2;
  }
  if (threads > 0) Eigen::setNbThreads(threads);
  try {
    if (*info_cmd) return info(model, as_json);
    if (*sample_cmd) return sample(model, out, count, length, so, as_json);
    if (*eval_cmd) return eval(model, tokens, eval_length, reference, act, batch, as_json);
    if (*convert_cmd) return convert(model, out, to, as_json);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lowp-ptq: %s\n", e.what());
    return 1;
  }
  return 2;
}
