// lowp/model/hf_llama.hpp — Hugging Face LLaMA checkpoints (TinyLlama, Llama 2/3,
// Mistral): a folder with config.json and model.safetensors, or shards listed by
// model.safetensors.index.json.  Read and written.
//
// Layer: model.  Includes model/safetensors.hpp, model/llama.hpp, model/file.hpp, bulk.hpp
// and nlohmann/json.hpp.
//
// config.json (transformers LlamaConfig) supplies hidden_size, intermediate_size,
// num_hidden_layers, num_attention_heads, num_key_value_heads (default: the heads),
// rope_theta (default 10000), rms_norm_eps (default 1e-6), tie_word_embeddings (default
// false), vocab_size and max_position_embeddings.  The tensors are
//
//   model.embed_tokens.weight                        [vocab, hidden]
//   model.layers.N.input_layernorm.weight            [hidden]
//   model.layers.N.self_attn.{q,k,v,o}_proj.weight   [out, in]
//   model.layers.N.post_attention_layernorm.weight   [hidden]
//   model.layers.N.mlp.{gate,up,down}_proj.weight    [out, in]
//   model.norm.weight                                [hidden]
//   lm_head.weight                                   [vocab, hidden], unless tied
//
// Hugging Face stores q and k so that RoPE rotates the pairs (i, i + head_size/2)
// (rope_style::half; transformers' convert_llama_weights_to_hf.py permutes Meta's
// interleaved rows).  F32 tensors are used where they lie in the mapped files when
// aligned; F16 and BF16 ones (and unaligned F32) are converted into buffers the model owns.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "../bulk.hpp"
#include "file.hpp"
#include "llama.hpp"
#include "safetensors.hpp"

namespace lowp::model {

namespace detail {

inline nlohmann::json read_json_file(const std::string& path, const char* who) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(std::string(who) + ": " + path + ": cannot open");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw file_error(std::string(who) + ": " + path + ": malformed JSON");
  if (!j.is_object()) throw file_error(std::string(who) + ": " + path + ": not a JSON object");
  return j;
}

/// The Hugging Face name of a block's tensor.
inline std::string hf_name(std::size_t b, const char* what) {
  return "model.layers." + std::to_string(b) + "." + what + ".weight";
}
inline const char* hf_linear(linear l) noexcept {
  switch (l) {
    case linear::q:
      return "self_attn.q_proj";
    case linear::k:
      return "self_attn.k_proj";
    case linear::v:
      return "self_attn.v_proj";
    case linear::o:
      return "self_attn.o_proj";
    case linear::gate:
      return "mlp.gate_proj";
    case linear::up:
      return "mlp.up_proj";
    case linear::down:
      break;
  }
  return "mlp.down_proj";
}

/// Moves q/k rows between llama2.c's interleaved RoPE pairs and Hugging Face's
/// rotate-half ones, per head of `hs` rows: to_half puts row 2j at j and row 2j+1 at
/// hs/2 + j (convert_llama_weights_to_hf.py's permute); the reverse otherwise.
inline void permute_rope_rows(const float* src, float* dst, std::size_t rows, std::size_t cols,
                              std::size_t hs, bool to_half) {
  const std::size_t half = hs / 2;
  for (std::size_t r = 0; r < rows; ++r) {
    const std::size_t head = r / hs, i = r % hs;
    const std::size_t interleaved = i < half ? 2 * i : 2 * (i - half) + 1;  // of half-row i
    const std::size_t from = to_half ? head * hs + interleaved : r;
    const std::size_t to = to_half ? r : head * hs + interleaved;
    std::memcpy(dst + to * cols, src + from * cols, cols * sizeof(float));
  }
}

}  // namespace detail

/// Loads a Hugging Face LLaMA checkpoint from folder `dir` (config.json, and
/// model.safetensors or model.safetensors.index.json with its shards).  Throws file_error
/// naming the file for: a missing or malformed config.json or index, a config field of
/// the wrong type or that llama_config::validate() rejects, a missing tensor, a tensor
/// whose shape disagrees with config.json, a dtype other than F32/F16/BF16, NaN or Inf in a
/// weight, and whatever safetensors_file rejects.
inline llama_model load_hf_llama(const std::string& dir) {
  constexpr const char* who = "lowp::model::load_hf_llama";
  const std::string config_path = dir + "/config.json";
  const nlohmann::json cfg = detail::read_json_file(config_path, who);
  const auto fail_cfg = [&](const std::string& why) {
    throw file_error(std::string(who) + ": " + config_path + ": " + why);
  };
  const auto get_size = [&](const char* key, const char* fallback_key) -> std::size_t {
    const char* k = cfg.contains(key) || fallback_key == nullptr ? key : fallback_key;
    if (!cfg.contains(k) || !cfg[k].is_number_unsigned()) {
      fail_cfg(std::string(k) + " is missing or not a non-negative integer");
    }
    const nlohmann::json& v = cfg[k];
    const auto x = v.get<std::uint64_t>();
    if (x > (1u << 24)) fail_cfg(std::string(k) + " = " + std::to_string(x) + " is too large");
    return static_cast<std::size_t>(x);
  };
  const auto get_float = [&](const char* key, double fallback) -> float {
    if (!cfg.contains(key)) return static_cast<float>(fallback);
    if (!cfg[key].is_number()) fail_cfg(std::string(key) + " is not a number");
    return static_cast<float>(cfg[key].get<double>());
  };
  llama_model m;
  llama_config& c = m.config;
  c.dim = get_size("hidden_size", nullptr);
  c.hidden_dim = get_size("intermediate_size", nullptr);
  c.n_layers = get_size("num_hidden_layers", nullptr);
  c.n_heads = get_size("num_attention_heads", nullptr);
  c.n_kv_heads = get_size("num_key_value_heads", "num_attention_heads");
  c.vocab_size = get_size("vocab_size", nullptr);
  c.seq_len = get_size("max_position_embeddings", nullptr);
  c.rope_theta = get_float("rope_theta", 10000.0);
  c.norm_eps = get_float("rms_norm_eps", 1e-6);
  if (cfg.contains("tie_word_embeddings") && !cfg["tie_word_embeddings"].is_boolean()) {
    fail_cfg("tie_word_embeddings is not a boolean");
  }
  c.shared_classifier = cfg.value("tie_word_embeddings", false);
  c.rope = rope_style::half;
  c.validate(who, config_path);

  // The files: one, or the shards the index names (each mapped once).
  std::map<std::string, std::shared_ptr<const safetensors_file>> files;  // by file name
  std::map<std::string, std::string> where;                              // tensor -> file name
  std::ifstream single(dir + "/model.safetensors");
  if (single.good()) {
    files["model.safetensors"] =
        std::make_shared<const safetensors_file>(dir + "/model.safetensors");
  } else {
    const std::string index_path = dir + "/model.safetensors.index.json";
    const nlohmann::json index = detail::read_json_file(index_path, who);
    if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
      throw file_error(std::string(who) + ": " + index_path + ": no weight_map object");
    }
    for (const auto& [tensor, file] : index["weight_map"].items()) {
      if (!file.is_string())
        throw file_error(std::string(who) + ": " + index_path + ": weight_map['" + tensor +
                         "'] is not a string");
      const std::string name = file.get<std::string>();
      if (name.find('/') != std::string::npos || name.find('\\') != std::string::npos) {
        throw file_error(std::string(who) + ": " + index_path + ": shard name '" + name +
                         "' is not a file in the folder");
      }
      where[tensor] = name;
      if (!files.count(name))
        files[name] = std::make_shared<const safetensors_file>(dir + "/" + name);
    }
  }
  for (const auto& [name, f] : files) m.keep(f->file());

  // Each tensor: found, its shape checked, used in place or converted to float.
  const auto fetch = [&](const std::string& name, std::size_t rows,
                         std::size_t cols) -> tensor_ref {
    const safetensors_file* f = nullptr;
    if (files.size() == 1 && where.empty()) {
      f = files.begin()->second.get();
    } else {
      const auto it = where.find(name);
      if (it == where.end())
        throw file_error(std::string(who) + ": " + dir + ": missing tensor " + name);
      f = files[it->second].get();
    }
    const auto t = f->tensors().find(name);
    if (t == f->tensors().end()) {
      throw file_error(std::string(who) + ": " + f->file()->path() + ": missing tensor " + name);
    }
    const safetensors_tensor& s = t->second;
    const bool vector = rows == 1;
    const bool shape_ok = vector
                              ? (s.shape.size() == 1 && s.shape[0] == cols)
                              : (s.shape.size() == 2 && s.shape[0] == rows && s.shape[1] == cols);
    if (!shape_ok) {
      std::string got;
      for (std::size_t d : s.shape) got += (got.empty() ? "" : ", ") + std::to_string(d);
      throw file_error(std::string(who) + ": " + f->file()->path() + ": tensor " + name +
                       " has shape [" + got + "], config.json gives [" +
                       (vector ? "" : std::to_string(rows) + ", ") + std::to_string(cols) + "]");
    }
    if (s.dtype != safetensors_dtype::F32 && s.dtype != safetensors_dtype::F16 &&
        s.dtype != safetensors_dtype::BF16) {
      throw file_error(std::string(who) + ": " + f->file()->path() + ": tensor " + name +
                       " has dtype " + safetensors_dtype_name(s.dtype) +
                       "; a checkpoint's weights are F32, F16 or BF16");
    }
    const std::size_t n = rows * cols;
    if (s.dtype == safetensors_dtype::F32 &&
        reinterpret_cast<std::uintptr_t>(s.data) % alignof(float) == 0) {
      return {reinterpret_cast<const float*>(s.data), rows, cols};  // in place, in the mapping
    }
    float* out = m.own(n);
    if (s.dtype == safetensors_dtype::F32) {
      std::memcpy(out, s.data, n * sizeof(float));
    } else {
      std::vector<std::uint16_t> bits(n);
      std::memcpy(bits.data(), s.data, n * 2);  // the data need not be 2-byte aligned
      if (s.dtype == safetensors_dtype::F16) {
        lowp::decode<float16>(bits.data(), out, n);
      } else {
        lowp::decode<bfloat16>(bits.data(), out, n);
      }
    }
    return {out, rows, cols};
  };
  const std::size_t dim = c.dim, hid = c.hidden_dim, kv = c.kv_dim(), vocab = c.vocab_size;
  m.embedding = fetch("model.embed_tokens.weight", vocab, dim);
  m.blocks.resize(c.n_layers);
  for (std::size_t b = 0; b < c.n_layers; ++b) {
    llama_block& k = m.blocks[b];
    k.attention_norm = fetch(detail::hf_name(b, "input_layernorm"), 1, dim);
    k.ffn_norm = fetch(detail::hf_name(b, "post_attention_layernorm"), 1, dim);
    k.wq = fetch(detail::hf_name(b, "self_attn.q_proj"), dim, dim);
    k.wk = fetch(detail::hf_name(b, "self_attn.k_proj"), kv, dim);
    k.wv = fetch(detail::hf_name(b, "self_attn.v_proj"), kv, dim);
    k.wo = fetch(detail::hf_name(b, "self_attn.o_proj"), dim, dim);
    k.w_gate = fetch(detail::hf_name(b, "mlp.gate_proj"), hid, dim);
    k.w_up = fetch(detail::hf_name(b, "mlp.up_proj"), hid, dim);
    k.w_down = fetch(detail::hf_name(b, "mlp.down_proj"), dim, hid);
  }
  m.final_norm = fetch("model.norm.weight", 1, dim);
  m.classifier = c.shared_classifier ? m.embedding : fetch("lm_head.weight", vocab, dim);
  detail::require_finite_weights(m, dir, who);
  return m;
}

/// Writes `m` into folder `dir` (which must exist) as a Hugging Face LLaMA checkpoint:
/// config.json and one model.safetensors in F32.  A model with llama2.c's interleaved
/// RoPE has its q and k rows permuted to Hugging Face's order on the way, so the written
/// model computes the same function.  Each file goes through a temporary file renamed at
/// the end.  Throws file_error for I/O failures, std::invalid_argument for tensors whose
/// shapes disagree with the config.
inline void save_hf_llama(const llama_model& m, const std::string& dir) {
  constexpr const char* who = "lowp::model::save_hf_llama";
  const llama_config& c = m.config;
  try {
    c.validate(who, dir);
  } catch (const file_error& e) {
    throw std::invalid_argument(e.what());
  }
  std::vector<safetensors_entry> entries;
  std::vector<std::vector<float>> permuted;  // q/k rows in Hugging Face's order
  permuted.reserve(2 * m.blocks.size());
  const auto add = [&](const std::string& name, const tensor_ref& t, std::size_t rows,
                       std::size_t cols) {
    if (t.data == nullptr || t.size() != rows * cols) {
      throw std::invalid_argument(std::string(who) + ": tensor " + name +
                                  " does not have the config's shape");
    }
    entries.push_back(
        {name, safetensors_dtype::F32,
         rows == 1 ? std::vector<std::size_t>{cols} : std::vector<std::size_t>{rows, cols},
         t.data});
  };
  const std::size_t dim = c.dim, hid = c.hidden_dim, kv = c.kv_dim();
  add("model.embed_tokens.weight", m.embedding, c.vocab_size, dim);
  for (std::size_t b = 0; b < m.blocks.size(); ++b) {
    const llama_block& k = m.blocks[b];
    add(detail::hf_name(b, "input_layernorm"), k.attention_norm, 1, dim);
    for (const linear l : all_linears) {
      const tensor_ref& w = k.weight(l);
      const std::size_t rows = l == linear::k || l == linear::v       ? kv
                               : l == linear::gate || l == linear::up ? hid
                                                                      : dim;
      const std::size_t cols = l == linear::down ? hid : dim;
      tensor_ref t = w;
      if (c.rope == rope_style::interleaved && (l == linear::q || l == linear::k) &&
          w.size() == rows * cols) {
        permuted.emplace_back(w.size());
        detail::permute_rope_rows(w.data, permuted.back().data(), rows, cols, c.head_size(), true);
        t.data = permuted.back().data();
      }
      add(detail::hf_name(b, detail::hf_linear(l)), t, rows, cols);
    }
    add(detail::hf_name(b, "post_attention_layernorm"), k.ffn_norm, 1, dim);
  }
  add("model.norm.weight", m.final_norm, 1, dim);
  if (!c.shared_classifier) add("lm_head.weight", m.classifier, c.vocab_size, dim);

  nlohmann::ordered_json cfg = {{"architectures", {"LlamaForCausalLM"}},
                                {"model_type", "llama"},
                                {"hidden_size", dim},
                                {"intermediate_size", hid},
                                {"num_hidden_layers", c.n_layers},
                                {"num_attention_heads", c.n_heads},
                                {"num_key_value_heads", c.n_kv_heads},
                                {"vocab_size", c.vocab_size},
                                {"max_position_embeddings", c.seq_len},
                                {"rope_theta", c.rope_theta},
                                {"rms_norm_eps", c.norm_eps},
                                {"tie_word_embeddings", c.shared_classifier},
                                {"hidden_act", "silu"},
                                {"torch_dtype", "float32"}};
  write_safetensors(dir + "/model.safetensors", entries, {{"format", "pt"}});
  const std::string text = cfg.dump(2) + "\n";
  write_file_atomically(dir + "/config.json", who, [&](std::ostream& out) {
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  });
}

}  // namespace lowp::model
