// lowp/model/packed_file.hpp — a quantized model as an engine loads it: one safetensors
// file with each linear layer's codes, scales and LoRC factors, the float tensors around
// them, and the scheme in __metadata__ (the layout: docs/models.md, "The packed file").
//
// Layer: model.  Includes model/quantize_model.hpp, model/safetensors.hpp, model/llama.hpp.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "../config.hpp"
#include "llama.hpp"
#include "quantize_model.hpp"
#include "safetensors.hpp"

namespace lowp::model {

/// A packed file read back: the model with every quantized layer decoded (bit for bit
/// the fake-quantized weights quantize_model() put in), the scheme, the activation format.
struct packed_model {
  llama_model model;
  weight_scheme weights;
  activation_format activations = activation_format::none;
  std::map<std::string, std::string> metadata;
  /// The quantized layers as stored (codes, scales, g_idx, LoRC): layers[b][l] empty for a
  /// layer stored in float.  What make_w4a8_kernels() prepares for the kernel.
  std::vector<std::array<std::optional<packed_weight>, 7>> layers;
};

namespace detail {

/// The prefix of a block's linear layer in the packed file: Hugging Face's names
/// ("model.layers.3.mlp.down_proj.").
inline std::string packed_prefix(std::size_t b, linear l) {
  static constexpr const char* names[] = {
      "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
      "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
  return "model.layers." + std::to_string(b) + "." + names[static_cast<std::size_t>(l)] + ".";
}

template <class E>
E parse_enum(const std::string& s, std::initializer_list<E> all, const char* (*name)(E),
             const std::string& what, const std::string& path) {
  for (E e : all) {
    if (s == name(e)) return e;
  }
  throw file_error("lowp::model::load_packed: " + path + ": unknown " + what + " '" + s + "'");
}

/// The tensors of one packed weight, named prefix + "qweight", "scales", ... (the layout
/// in docs/models.md), pointing into p (which must outlive the write).
inline void append_packed_entries(const std::string& pre, const packed_weight& p,
                                  std::vector<safetensors_entry>& e) {
  const auto vec = [](std::size_t n) { return std::vector<std::size_t>{n}; };
  const auto mat = [](std::size_t r, std::size_t k) { return std::vector<std::size_t>{r, k}; };
  const bool whole = p.codes.size() == p.rows * p.cols;
  const bool even = !whole && p.cols % 2 == 0;
  e.push_back({pre + "qweight", safetensors_dtype::U8,
               whole  ? mat(p.rows, p.cols)
               : even ? mat(p.rows, p.cols / 2)
                      : vec(p.codes.size()),
               p.codes.data()});
  const kernel_scales& s = p.scales;
  const std::size_t g = p.groups_per_row;
  if (!s.group_scale.empty())
    e.push_back({pre + "scales", safetensors_dtype::F32, mat(p.rows, g), s.group_scale.data()});
  if (!s.zero_point.empty())
    e.push_back({pre + "zeros", safetensors_dtype::I32, mat(p.rows, g), s.zero_point.data()});
  if (!s.group_code.empty())
    e.push_back({pre + "scale_codes", safetensors_dtype::U8, mat(p.rows, g), s.group_code.data()});
  if (s.has_tensor_scale)
    e.push_back({pre + "tensor_scale", safetensors_dtype::F32, vec(1), &s.tensor_scale});
  if (!s.row_scale.empty())
    e.push_back({pre + "row_scales", safetensors_dtype::F32, vec(p.rows), s.row_scale.data()});
  if (!s.group_shift.empty())
    e.push_back(
        {pre + "group_shifts", safetensors_dtype::U8, mat(p.rows, g), s.group_shift.data()});
  if (!p.g_idx.empty())
    e.push_back({pre + "g_idx", safetensors_dtype::I32, vec(p.cols), p.g_idx.data()});
  if (p.lorc_rank == 0) return;
  const std::size_t r = p.lorc_rank;
  if (p.lorc_factors == lorc_factor_format::fp32) {
    e.push_back({pre + "lorc_u", safetensors_dtype::F32, mat(p.rows, r), p.U_hat.data()});
    e.push_back({pre + "lorc_v", safetensors_dtype::F32, mat(r, p.cols), p.V_hat.data()});
  } else {
    const safetensors_dtype dt = p.lorc_factors == lorc_factor_format::int8
                                     ? safetensors_dtype::I8
                                     : safetensors_dtype::F8_E4M3;
    e.push_back({pre + "lorc_u", dt, mat(p.rows, r), p.U_codes.data()});
    e.push_back({pre + "lorc_v", dt, mat(r, p.cols), p.V_codes.data()});
    e.push_back({pre + "lorc_u_scales", safetensors_dtype::F32, vec(p.rows), p.U_scales.data()});
    e.push_back({pre + "lorc_v_scales", safetensors_dtype::F32, vec(p.cols), p.V_scales.data()});
  }
}

/// The scheme as __metadata__ fields (format, lowp_version, weight_format, ...).
inline std::map<std::string, std::string> scheme_metadata(const weight_scheme& s,
                                                          activation_format activations) {
  return {{"format", "lowp.packed"},
          {"lowp_version", std::to_string(LOWP_VERSION_MAJOR) + "." +
                               std::to_string(LOWP_VERSION_MINOR) + "." +
                               std::to_string(LOWP_VERSION_PATCH)},
          {"weight_format", weight_format_name(s.format)},
          {"scale_policy", scale_policy_name(s.policy)},
          {"group_size", std::to_string(s.group_size)},
          {"method", s.method == weight_method::gptq ? "gptq" : "rtn"},
          {"act_order", s.act_order ? "true" : "false"},
          {"percdamp", std::to_string(s.percdamp)},
          {"lorc_rank", std::to_string(s.lorc_rank)},
          {"lorc_factors", lorc_factor_format_name(s.lorc_factors)},
          {"activations", activation_format_name(activations)}};
}

/// The scheme and activation format back from __metadata__; fail(why) throws.
template <class Fail>
void read_scheme_metadata(const std::map<std::string, std::string>& md, weight_scheme& s,
                          activation_format& act, const std::string& path, Fail&& fail) {
  const auto meta = [&](const char* key) -> const std::string& {
    const auto it = md.find(key);
    if (it == md.end()) fail(std::string("no __metadata__ field ") + key);
    return it->second;
  };
  if (meta("format") != "lowp.packed")
    fail("__metadata__ format is '" + meta("format") + "', not lowp.packed");
  s.format = parse_enum(
      meta("weight_format"),
      {weight_format::int4, weight_format::int8, weight_format::fp4_e2m1, weight_format::fp8_e4m3},
      weight_format_name, "weight_format", path);
  s.policy = parse_enum(meta("scale_policy"),
                        {scale_policy::absmax, scale_policy::minmax, scale_policy::m1,
                         scale_policy::m2, scale_policy::mx, scale_policy::nvfp4},
                        scale_policy_name, "scale_policy", path);
  s.lorc_factors =
      parse_enum(meta("lorc_factors"),
                 {lorc_factor_format::fp32, lorc_factor_format::int8, lorc_factor_format::fp8_e4m3},
                 lorc_factor_format_name, "lorc_factors", path);
  act = parse_enum(meta("activations"),
                   {activation_format::none, activation_format::int8, activation_format::fp8_e4m3,
                    activation_format::fp8_e5m2},
                   activation_format_name, "activations", path);
  const auto number = [&](const char* key) -> std::size_t {
    const std::string& v = meta(key);
    if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) {
      fail(std::string("__metadata__ ") + key + " = '" + v + "' is not a number");
    }
    return static_cast<std::size_t>(std::stoul(v));
  };
  s.group_size = number("group_size");
  s.lorc_rank = number("lorc_rank");
  s.method = meta("method") == "rtn" ? weight_method::rtn : weight_method::gptq;
}

/// One packed weight of shape rows x cols back from file f (tensors prefix + ...), by
/// scheme s; fail(why) throws.
template <class Fail>
packed_weight read_packed_weight(const safetensors_file& f, const std::string& pre,
                                 std::size_t rows, std::size_t cols, const weight_scheme& s,
                                 Fail&& fail) {
  const auto copy = [&](const std::string& name, safetensors_dtype dt, std::size_t count,
                        auto& into) {
    const auto it = f.tensors().find(name);
    if (it == f.tensors().end()) fail("missing tensor " + name);
    const safetensors_tensor& t = it->second;
    if (t.dtype != dt || t.size() != count) {
      fail("tensor " + name + " is " + safetensors_dtype_name(t.dtype) + " with " +
           std::to_string(t.size()) + " elements, " + safetensors_dtype_name(dt) + " with " +
           std::to_string(count) + " expected");
    }
    into.resize(count);
    if (count > 0) std::memcpy(into.data(), t.data, t.bytes);
  };
  packed_weight p;
  p.rows = rows;
  p.cols = cols;
  const std::size_t gc = s.group_columns(cols);
  p.groups_per_row = (cols + gc - 1) / gc;
  const std::size_t groups = rows * p.groups_per_row;
  const bool four_bit = s.format == weight_format::int4 || s.format == weight_format::fp4_e2m1;
  copy(pre + "qweight", safetensors_dtype::U8, four_bit ? (rows * cols + 1) / 2 : rows * cols,
       p.codes);
  switch (s.policy) {
    case scale_policy::absmax:
    case scale_policy::m1:
      copy(pre + "scales", safetensors_dtype::F32, groups, p.scales.group_scale);
      break;
    case scale_policy::minmax:
      copy(pre + "scales", safetensors_dtype::F32, groups, p.scales.group_scale);
      copy(pre + "zeros", safetensors_dtype::I32, groups, p.scales.zero_point);
      break;
    case scale_policy::mx:
      copy(pre + "scale_codes", safetensors_dtype::U8, groups, p.scales.group_code);
      break;
    case scale_policy::nvfp4: {
      copy(pre + "scale_codes", safetensors_dtype::U8, groups, p.scales.group_code);
      std::vector<float> g;
      copy(pre + "tensor_scale", safetensors_dtype::F32, 1, g);
      p.scales.tensor_scale = g[0];
      p.scales.has_tensor_scale = true;
      break;
    }
    case scale_policy::m2:
      copy(pre + "row_scales", safetensors_dtype::F32, rows, p.scales.row_scale);
      copy(pre + "group_shifts", safetensors_dtype::U8, groups, p.scales.group_shift);
      break;
  }
  // Optional: present when GPTQ's act_order formed the groups along its order.
  if (f.tensors().count(pre + "g_idx") != 0) {
    copy(pre + "g_idx", safetensors_dtype::I32, cols, p.g_idx);
    for (std::size_t c = 0; c < cols; ++c) {
      if (p.g_idx[c] < 0 || static_cast<std::size_t>(p.g_idx[c]) >= p.groups_per_row)
        fail("tensor " + pre + "g_idx: column " + std::to_string(c) + " names group " +
             std::to_string(p.g_idx[c]) + ", a row has " + std::to_string(p.groups_per_row));
    }
  }
  if (s.lorc_rank > 0) {
    const std::size_t r = s.lorc_rank;
    p.lorc_rank = r;
    p.lorc_factors = s.lorc_factors;
    if (s.lorc_factors == lorc_factor_format::fp32) {
      std::vector<float> u, v;
      copy(pre + "lorc_u", safetensors_dtype::F32, rows * r, u);
      copy(pre + "lorc_v", safetensors_dtype::F32, r * cols, v);
      p.U_hat = Eigen::Map<const row_major_matrixf>(u.data(), static_cast<Eigen::Index>(rows),
                                                    static_cast<Eigen::Index>(r));
      p.V_hat = Eigen::Map<const row_major_matrixf>(v.data(), static_cast<Eigen::Index>(r),
                                                    static_cast<Eigen::Index>(cols));
    } else {
      const safetensors_dtype dt = s.lorc_factors == lorc_factor_format::int8
                                       ? safetensors_dtype::I8
                                       : safetensors_dtype::F8_E4M3;
      copy(pre + "lorc_u", dt, rows * r, p.U_codes);
      copy(pre + "lorc_v", dt, r * cols, p.V_codes);
      copy(pre + "lorc_u_scales", safetensors_dtype::F32, rows, p.U_scales);
      copy(pre + "lorc_v_scales", safetensors_dtype::F32, cols, p.V_scales);
    }
  }
  return p;
}

}  // namespace detail

/// The model's config as the packed file's __metadata__ "config" stores it (load_packed
/// reads these keys back; lowp-ptq prints the same object).
inline nlohmann::ordered_json config_json(const llama_config& c) {
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
          {"rope", c.rope == rope_style::interleaved ? "interleaved" : "half"}};
}

/// Writes the packed file of model m (its float tensors: embedding, norms, classifier,
/// and the layers q left in float) and q (quantize_model()'s packed weights, one per
/// linear layer in block order) to `path`, through a temporary file renamed at the end.
/// Throws std::invalid_argument if q does not have one packed weight per linear layer of
/// m, file_error for I/O failures.
inline void save_packed(const std::string& path, const llama_model& m, const quantized_model& q,
                        const model_quant_options& opt) {
  constexpr const char* who = "lowp::model::save_packed";
  const llama_config& c = m.config;
  if (q.packed.size() != c.n_layers * 7) {
    throw std::invalid_argument(std::string(who) + ": " + std::to_string(q.packed.size()) +
                                " packed weights for a model of " + std::to_string(c.n_layers * 7) +
                                " linear layers");
  }
  std::vector<safetensors_entry> e;
  const auto vec = [](std::size_t n) { return std::vector<std::size_t>{n}; };
  const auto mat = [](std::size_t r, std::size_t k) { return std::vector<std::size_t>{r, k}; };
  e.push_back({"model.embed_tokens.weight", safetensors_dtype::F32, mat(c.vocab_size, c.dim),
               m.embedding.data});
  for (std::size_t b = 0; b < c.n_layers; ++b) {
    const llama_block& k = m.blocks[b];
    const std::string layer = "model.layers." + std::to_string(b) + ".";
    e.push_back({layer + "input_layernorm.weight", safetensors_dtype::F32, vec(c.dim),
                 k.attention_norm.data});
    e.push_back({layer + "post_attention_layernorm.weight", safetensors_dtype::F32, vec(c.dim),
                 k.ffn_norm.data});
    for (const linear l : all_linears) {
      const packed_weight& p = q.packed[b * 7 + static_cast<std::size_t>(l)];
      const std::string pre = detail::packed_prefix(b, l);
      const tensor_ref w = k.weight(l);
      if (p.rows == 0) {  // left in float
        e.push_back({pre + "weight", safetensors_dtype::F32, mat(w.rows, w.cols), w.data});
        continue;
      }
      if (p.rows != w.rows || p.cols != w.cols) {
        throw std::invalid_argument(std::string(who) + ": the packed " + layer_name(b, l) + " is " +
                                    std::to_string(p.rows) + "x" + std::to_string(p.cols) +
                                    ", the model's " + std::to_string(w.rows) + "x" +
                                    std::to_string(w.cols));
      }
      detail::append_packed_entries(pre, p, e);
    }
  }
  e.push_back({"model.norm.weight", safetensors_dtype::F32, vec(c.dim), m.final_norm.data});
  if (!c.shared_classifier)
    e.push_back(
        {"lm_head.weight", safetensors_dtype::F32, mat(c.vocab_size, c.dim), m.classifier.data});

  std::string skipped;
  for (const std::string& k : opt.skip) skipped += (skipped.empty() ? "" : ",") + k;
  std::map<std::string, std::string> meta = detail::scheme_metadata(opt.weights, opt.activations);
  meta["config"] = config_json(c).dump();
  meta["skip"] = skipped;
  write_safetensors(path, e, meta);
}

/// Reads a packed file written by save_packed() from `file` (a mapped file, or bytes in
/// memory): the model with its quantized layers decoded (unpack_weight()).  Throws file_error
/// naming the file for what safetensors_file rejects, a file that is not lowp's packed format, a
/// metadata field missing or unknown, a missing tensor or one whose shape or dtype disagrees, and
/// NaN/Inf in the float tensors.
inline packed_model load_packed(std::shared_ptr<const mapped_file> file) {
  constexpr const char* who = "lowp::model::load_packed";
  const std::string path = file->path();
  const auto f = std::make_shared<const safetensors_file>(std::move(file));
  const auto fail = [&](const std::string& why) {
    throw file_error(std::string(who) + ": " + path + ": " + why);
  };
  packed_model out;
  out.metadata = f->metadata();
  weight_scheme& s = out.weights;
  detail::read_scheme_metadata(out.metadata, s, out.activations, path, fail);
  const auto config_it = out.metadata.find("config");
  if (config_it == out.metadata.end()) fail("no __metadata__ field config");
  llama_model& m = out.model;
  llama_config& c = m.config;
  try {
    const nlohmann::json j = nlohmann::json::parse(config_it->second);
    const auto size = [&](const char* k) { return j.at(k).get<std::size_t>(); };
    c.dim = size("dim");
    c.hidden_dim = size("hidden_dim");
    c.n_layers = size("n_layers");
    c.n_heads = size("n_heads");
    c.n_kv_heads = size("n_kv_heads");
    c.vocab_size = size("vocab_size");
    c.seq_len = size("seq_len");
    c.rope_theta = j.at("rope_theta").get<float>();
    c.norm_eps = j.at("norm_eps").get<float>();
    c.shared_classifier = j.at("shared_classifier").get<bool>();
    const std::string rope = j.at("rope").get<std::string>();
    if (rope != "interleaved" && rope != "half") fail("config rope '" + rope + "'");
    c.rope = rope == "interleaved" ? rope_style::interleaved : rope_style::half;
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("__metadata__ config: ") + e.what());
  }
  c.validate(who, path);
  try {
    s.validate(std::min({c.kv_dim(), c.dim, c.hidden_dim}));
  } catch (const std::invalid_argument& e) {
    fail(e.what());
  }
  m.keep(f->file());

  const auto tensor = [&](const std::string& name, safetensors_dtype dt,
                          std::size_t count) -> const safetensors_tensor& {
    const safetensors_tensor& t = f->at(name);
    if (t.dtype != dt || t.size() != count) {
      fail("tensor " + name + " is " + safetensors_dtype_name(t.dtype) + " with " +
           std::to_string(t.size()) + " elements, " + safetensors_dtype_name(dt) + " with " +
           std::to_string(count) + " expected");
    }
    return t;
  };
  const auto floats = [&](const std::string& name, std::size_t rows,
                          std::size_t cols) -> tensor_ref {
    const safetensors_tensor& t = tensor(name, safetensors_dtype::F32, rows * cols);
    float* p = m.own(rows * cols);  // copied: the mapping gives no alignment guarantee here
    std::memcpy(p, t.data, rows * cols * sizeof(float));
    return {p, rows, cols};
  };
  // The last block's first tensor must be there before n_layers blocks are allocated (a
  // header cannot name more tensors than its file has bytes).
  const std::string last =
      "model.layers." + std::to_string(c.n_layers - 1) + ".input_layernorm.weight";
  if (f->tensors().count(last) == 0)
    fail("missing tensor " + last + " (config n_layers = " + std::to_string(c.n_layers) + ")");
  m.embedding = floats("model.embed_tokens.weight", c.vocab_size, c.dim);
  m.blocks.resize(c.n_layers);
  out.layers.resize(c.n_layers);
  for (std::size_t b = 0; b < c.n_layers; ++b) {
    llama_block& k = m.blocks[b];
    const std::string layer = "model.layers." + std::to_string(b) + ".";
    k.attention_norm = floats(layer + "input_layernorm.weight", 1, c.dim);
    k.ffn_norm = floats(layer + "post_attention_layernorm.weight", 1, c.dim);
    for (const linear l : all_linears) {
      const std::size_t rows = l == linear::k || l == linear::v       ? c.kv_dim()
                               : l == linear::gate || l == linear::up ? c.hidden_dim
                                                                      : c.dim;
      const std::size_t cols = l == linear::down ? c.hidden_dim : c.dim;
      const std::string pre = detail::packed_prefix(b, l);
      if (f->tensors().count(pre + "weight") != 0) {
        k.weight(l) = floats(pre + "weight", rows, cols);
        continue;
      }
      const packed_weight& p = out.layers[b][static_cast<std::size_t>(l)].emplace(
          detail::read_packed_weight(*f, pre, rows, cols, s, fail));
      row_major_matrixf W;
      try {
        W = unpack_weight(p, s);
      } catch (const std::invalid_argument& e) {
        fail(layer_name(b, l) + ": " + e.what());
      }
      float* dst = m.own(rows * cols);
      std::memcpy(dst, W.data(), rows * cols * sizeof(float));
      k.weight(l) = {dst, rows, cols};
    }
  }
  m.final_norm = floats("model.norm.weight", 1, c.dim);
  m.classifier = c.shared_classifier ? m.embedding : floats("lm_head.weight", c.vocab_size, c.dim);
  detail::require_finite_weights(m, path, who);
  return out;
}

/// load_packed() of the file at `path`, mapped (see mapped_file).
inline packed_model load_packed(const std::string& path) {
  return load_packed(std::make_shared<const mapped_file>(path, "lowp::model::load_packed"));
}

/// The W4A8 kernel's layers for forward_options::kernels: every quantized layer of a
/// packed model prepared for w4a8_linear (its LoRC factors, if any, kept for the float
/// correction).  Throws std::invalid_argument, naming the supported pairs, when the
/// packed model's scheme is not one the kernel takes (FP4 E2M1 under M1, M2 or absmax
/// with fp8_e4m3 activations; INT4 under absmax with int8 activations), or a layer's
/// arrays disagree with its shape.
inline w4a8_kernels make_w4a8_kernels(const packed_model& p, const w4a8_options& options = {}) {
  constexpr const char* who = "lowp::model::make_w4a8_kernels";
  const weight_scheme& s = p.weights;
  const bool fp4_weights = s.format == weight_format::fp4_e2m1 &&
                           (s.policy == scale_policy::m1 || s.policy == scale_policy::m2 ||
                            s.policy == scale_policy::absmax);
  const bool int4_weights = s.format == weight_format::int4 && s.policy == scale_policy::absmax;
  const activation_format want =
      int4_weights ? activation_format::int8 : activation_format::fp8_e4m3;
  if ((!fp4_weights && !int4_weights) || p.activations != want) {
    throw std::invalid_argument(std::string(who) + ": weights " + weight_format_name(s.format) +
                                " under " + scale_policy_name(s.policy) + " with " +
                                activation_format_name(p.activations) +
                                " activations; supported: " + w4a8_supported_pairs);
  }
  w4a8_kernels k;
  k.options = options;
  k.layers.resize(p.layers.size());
  for (std::size_t b = 0; b < p.layers.size(); ++b) {
    for (const linear l : all_linears) {
      const std::optional<packed_weight>& pw = p.layers[b][static_cast<std::size_t>(l)];
      if (!pw) continue;
      auto layer = std::make_shared<w4a8_layer>();
      detail::visit_packed_tensor(*pw, s, who, [&](const auto& q) {
        using Policy = typename std::decay_t<decltype(q)>::policy_type;
        if constexpr (std::is_same_v<Policy, m1<float4_e2m1fn>> ||
                      std::is_same_v<Policy, m2<float4_e2m1fn>> ||
                      std::is_same_v<Policy, absmax<float4_e2m1fn>> ||
                      std::is_same_v<Policy, absmax<int4>>) {
          layer->weights = w4a8_weights(q);
        }
      });
      if (pw->lorc_rank != 0) std::tie(layer->U, layer->V) = detail::lorc_factors(*pw, who);
      k.layers[b][static_cast<std::size_t>(l)] = std::move(layer);
    }
  }
  return k;
}

/// One packed weight on its own (what `lowp-ptq layer` writes): its tensors under the
/// prefix "layer.", the scheme in __metadata__ with "rows", "cols" and whatever `extra`
/// holds (the report).  Through a temporary file renamed at the end; file_error for I/O.
inline void save_packed_layer(const std::string& path, const packed_weight& p,
                              const weight_scheme& s,
                              const std::map<std::string, std::string>& extra = {}) {
  std::vector<safetensors_entry> e;
  detail::append_packed_entries("layer.", p, e);
  std::map<std::string, std::string> meta = detail::scheme_metadata(s, activation_format::none);
  meta["rows"] = std::to_string(p.rows);
  meta["cols"] = std::to_string(p.cols);
  for (const auto& [k, v] : extra) meta[k] = v;
  write_safetensors(path, e, meta);
}

/// A file save_packed_layer() wrote: the packed weight and its scheme.  Throws file_error
/// naming the file for what load_packed() would reject.
inline std::pair<packed_weight, weight_scheme> load_packed_layer(const std::string& path) {
  constexpr const char* who = "lowp::model::load_packed_layer";
  const safetensors_file f(path);
  const auto fail = [&](const std::string& why) {
    throw file_error(std::string(who) + ": " + path + ": " + why);
  };
  weight_scheme s;
  activation_format act = activation_format::none;
  detail::read_scheme_metadata(f.metadata(), s, act, path, fail);
  const auto dim = [&](const char* key) -> std::size_t {
    const auto it = f.metadata().find(key);
    if (it == f.metadata().end() || it->second.empty() || it->second.size() > 9 ||
        it->second.find_first_not_of("0123456789") != std::string::npos) {
      fail(std::string("__metadata__ ") + key + " is missing or not a number");
    }
    return static_cast<std::size_t>(std::stoul(it->second));
  };
  const std::size_t rows = dim("rows"), cols = dim("cols");
  if (rows == 0 || cols == 0) fail("an empty weight");
  try {
    s.validate(std::min(rows, cols));
  } catch (const std::invalid_argument& e) {
    fail(e.what());
  }
  return {detail::read_packed_weight(f, "layer.", rows, cols, s, fail), s};
}

}  // namespace lowp::model
