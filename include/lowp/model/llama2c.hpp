// lowp/model/llama2c.hpp — llama2.c checkpoints: the legacy format (version 0) and the
// version-1 export, read by mapping the file, and written (run.c reads version 0).
//
// Layer: model.  Includes model/llama.hpp and model/file.hpp.
//
// Both formats are little-endian float32 after a header (karpathy/llama2.c, export.py
// `legacy_export` and `version1_export`; run.c `read_checkpoint` reads version 0):
//
//   version 0   7 x int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
//               seq_len (vocab_size < 0: the classifier is not the embedding)
//               token_embedding [vocab, dim]
//               rms_att [L, dim], wq [L, dim, dim], wk [L, kv_dim, dim], wv [L, kv_dim, dim],
//               wo [L, dim, dim], rms_ffn [L, dim], w1 [L, hidden, dim],
//               w2 [L, dim, hidden], w3 [L, hidden, dim], rms_final [dim]
//               freq_cis_real, freq_cis_imag [seq_len, head_size / 2] each (not used:
//               RoPE is recomputed, as run.c does)
//               wcls [vocab, dim] if not shared
//   version 1   uint32 magic 0x616b3432 ("ak42" read as little-endian bytes "24ka"),
//               int32 version = 1, the 7 int32 above (vocab_size positive), uint8
//               shared_classifier, zeros up to byte 256
//               rms_att [L, dim], rms_ffn [L, dim], rms_final [dim], token_embedding,
//               wq, wk, wv, wo, w1, w2, w3 (each [L, ...] as above), wcls if not shared
//
// llama2.c's RoPE rotates interleaved pairs (rope_style::interleaved) with theta 10000
// and RMSNorm eps 1e-5; neither is stored in the file.  The loaded model's tensors point
// into the mapped file: loading copies nothing.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "file.hpp"
#include "llama.hpp"

namespace lowp::model {

/// Which llama2.c format a file has, or is to be written in.
enum class llama2c_version { v0 = 0, v1 = 1 };

namespace detail {

inline constexpr std::uint32_t llama2c_magic = 0x616b3432u;  // "ak42"
inline constexpr std::size_t llama2c_v1_header_bytes = 256;

inline std::int32_t read_int32(const std::byte* p) noexcept {
  std::int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

/// The tensors of a llama2.c file, each [rows, cols] as the config says; the per-block
/// ones are stored for all blocks in a row (block 0 first).
enum class llama2c_tensor {
  token_embedding,  // [vocab, dim]
  rms_att,          // per block [dim]
  wq,               // per block [dim, dim]
  wk,               // per block [kv_dim, dim]
  wv,               // per block [kv_dim, dim]
  wo,               // per block [dim, dim]
  rms_ffn,          // per block [dim]
  w1,               // per block [hidden, dim]: gate
  w2,               // per block [dim, hidden]: down
  w3,               // per block [hidden, dim]: up
  rms_final,        // [dim]
  freq_cis_real,    // [seq_len, head_size / 2]: legacy RoPE cosines (v0 only, not read)
  freq_cis_imag,    // [seq_len, head_size / 2]: legacy RoPE sines (v0 only, not read)
};
using l2c = llama2c_tensor;  // short, for the tables below
/// The file order of each version (export.py legacy_export, version1_export); the
/// classifier wcls [vocab, dim] follows when it is not shared.
inline constexpr llama2c_tensor llama2c_v0_order[] = {
    l2c::token_embedding, l2c::rms_att, l2c::wq, l2c::wk, l2c::wv,        l2c::wo,
    l2c::rms_ffn,         l2c::w1,      l2c::w2, l2c::w3, l2c::rms_final, l2c::freq_cis_real,
    l2c::freq_cis_imag};
inline constexpr llama2c_tensor llama2c_v1_order[] = {
    l2c::rms_att, l2c::rms_ffn, l2c::rms_final, l2c::token_embedding,
    l2c::wq,      l2c::wk,      l2c::wv,        l2c::wo,
    l2c::w1,      l2c::w2,      l2c::w3};

/// One version's order, for a range-for.
struct llama2c_order {
  const llama2c_tensor* first;
  const llama2c_tensor* last;
  explicit llama2c_order(bool v1) noexcept
      : first(v1 ? std::begin(llama2c_v1_order) : std::begin(llama2c_v0_order)),
        last(v1 ? std::end(llama2c_v1_order) : std::end(llama2c_v0_order)) {}
  const llama2c_tensor* begin() const noexcept { return first; }
  const llama2c_tensor* end() const noexcept { return last; }
};

inline const char* llama2c_tensor_name(llama2c_tensor t) noexcept {
  constexpr const char* names[] = {
      "token_embedding", "rms_att", "wq", "wk", "wv",        "wo",
      "rms_ffn",         "w1",      "w2", "w3", "rms_final", "freq_cis_real",
      "freq_cis_imag"};
  return names[static_cast<int>(t)];
}
inline bool llama2c_per_block(llama2c_tensor t) noexcept {
  return t != l2c::token_embedding && t != l2c::rms_final && t != l2c::freq_cis_real &&
         t != l2c::freq_cis_imag;
}
/// Its shape under config c: {rows, cols}.
inline std::pair<std::size_t, std::size_t> llama2c_shape(llama2c_tensor t, const llama_config& c) {
  switch (t) {
    case l2c::token_embedding:
      return {c.vocab_size, c.dim};
    case l2c::rms_att:
    case l2c::rms_ffn:
    case l2c::rms_final:
      return {1, c.dim};
    case l2c::wq:
    case l2c::wo:
      return {c.dim, c.dim};
    case l2c::wk:
    case l2c::wv:
      return {c.kv_dim(), c.dim};
    case l2c::w1:
    case l2c::w3:
      return {c.hidden_dim, c.dim};
    case l2c::w2:
      return {c.dim, c.hidden_dim};
    case l2c::freq_cis_real:
    case l2c::freq_cis_imag:
      break;
  }
  return {c.seq_len, c.head_size() / 2};
}
/// Where the model keeps tensor t of block b (nullptr for the RoPE tables).
inline const tensor_ref* llama2c_slot(const llama_model& m, llama2c_tensor t, std::size_t b) {
  switch (t) {
    case l2c::token_embedding:
      return &m.embedding;
    case l2c::rms_final:
      return &m.final_norm;
    case l2c::rms_att:
      return &m.blocks[b].attention_norm;
    case l2c::rms_ffn:
      return &m.blocks[b].ffn_norm;
    case l2c::wq:
      return &m.blocks[b].wq;
    case l2c::wk:
      return &m.blocks[b].wk;
    case l2c::wv:
      return &m.blocks[b].wv;
    case l2c::wo:
      return &m.blocks[b].wo;
    case l2c::w1:
      return &m.blocks[b].w_gate;
    case l2c::w2:
      return &m.blocks[b].w_down;
    case l2c::w3:
      return &m.blocks[b].w_up;
    case l2c::freq_cis_real:
    case l2c::freq_cis_imag:
      break;
  }
  return nullptr;
}
inline tensor_ref* llama2c_slot(llama_model& m, llama2c_tensor t, std::size_t b) {
  return const_cast<tensor_ref*>(llama2c_slot(static_cast<const llama_model&>(m), t, b));
}

/// The legacy RoPE tables export.py writes (model.py precompute_freqs_cis: cos, or sin,
/// of pos · θ^(-2i/hs) for pos < seq_len, i < hs/2), computed in double.
inline std::vector<float> llama2c_rope_table(const llama_config& c, bool sines) {
  const std::size_t half = c.head_size() / 2;
  std::vector<float> table(c.seq_len * half);
  for (std::size_t pos = 0; pos < c.seq_len; ++pos) {
    for (std::size_t i = 0; i < half; ++i) {
      const double freq = std::pow(static_cast<double>(c.rope_theta),
                                   -static_cast<double>(2 * i) / static_cast<double>(2 * half));
      const double angle = static_cast<double>(pos) * freq;
      table[pos * half + i] = static_cast<float>(sines ? std::sin(angle) : std::cos(angle));
    }
  }
  return table;
}

/// Walks a checkpoint's float32 tensors in file order, checking that each fits.
class tensor_cursor {
 public:
  tensor_cursor(const mapped_file& f, std::size_t offset, const char* who)
      : f_(f), offset_(offset), who_(who) {}

  /// The next tensor of rows x cols floats; file_error if the file ends first.
  tensor_ref next(const char* name, std::size_t rows, std::size_t cols) {
    const std::size_t n = rows * cols, bytes = n * sizeof(float);
    if (bytes > f_.size() - offset_) {
      throw file_error(std::string(who_) + ": " + f_.path() + ": truncated: tensor " + name +
                       " needs " + std::to_string(bytes) + " bytes at offset " +
                       std::to_string(offset_) + ", the file has " + std::to_string(f_.size()));
    }
    // The mapping holds floats written by the same IEEE little-endian layout; offsets are
    // multiples of 4 from a page-aligned base, so the floats are aligned.
    const auto* p = reinterpret_cast<const float*>(f_.data() + offset_);
    offset_ += bytes;
    return {p, rows, cols};
  }
  std::size_t offset() const noexcept { return offset_; }

 private:
  const mapped_file& f_;
  std::size_t offset_;
  const char* who_;
};

}  // namespace detail

/// Which llama2.c format `path` has (v1 by its magic, else v0).  Throws file_error if the
/// file cannot be read or is shorter than a header.
inline llama2c_version llama2c_file_version(const std::string& path) {
  const mapped_file f(path, "lowp::model::llama2c_file_version");
  if (f.size() < 28) {
    throw file_error("lowp::model::llama2c_file_version: " + path + ": truncated header");
  }
  std::uint32_t magic;
  std::memcpy(&magic, f.data(), sizeof magic);
  return magic == detail::llama2c_magic ? llama2c_version::v1 : llama2c_version::v0;
}

/// Loads a llama2.c checkpoint (version 0 or 1, told apart by the magic) from a file
/// already mapped (or bytes read into memory: mapped_file's byte constructor); the
/// model's tensors point into it and the model keeps `file` alive.  Throws file_error
/// naming the file for: a truncated header, a size that is not exactly the header plus
/// the tensors the header implies, a version other than 0 and 1, zero or negative dims,
/// dims that llama_config::validate() rejects, NaN or Inf in a weight; and on a
/// big-endian host.  Nothing is allocated from the header's numbers before the file's
/// size agrees with them.
inline llama_model load_llama2c(std::shared_ptr<const mapped_file> file) {
  constexpr const char* who = "lowp::model::load_llama2c";
  if (!detail::host_is_little_endian()) {
    throw file_error(std::string(who) +
                     ": llama2.c checkpoints are little-endian; this host is not");
  }
  const mapped_file& f = *file;
  const std::string& path = f.path();
  const auto fail = [&](const std::string& why) {
    throw file_error(std::string(who) + ": " + path + ": " + why);
  };

  // 1. The header: the seven int32 (after magic and version in v1).
  if (f.size() < 7 * 4) fail("truncated header (" + std::to_string(f.size()) + " bytes)");
  std::uint32_t magic;
  std::memcpy(&magic, f.data(), sizeof magic);
  const bool v1 = magic == detail::llama2c_magic;
  std::size_t params_at = 0, data_at = 7 * 4;
  bool shared = true;
  if (v1) {
    if (f.size() < detail::llama2c_v1_header_bytes) fail("truncated version-1 header");
    const std::int32_t version = detail::read_int32(f.data() + 4);
    if (version != 1) {
      fail("version " + std::to_string(version) +
           " (only llama2.c's float32 versions 0 and 1 are read)");
    }
    params_at = 8;
    data_at = detail::llama2c_v1_header_bytes;
    const auto flag = static_cast<unsigned char>(f.data()[8 + 7 * 4]);
    if (flag > 1) fail("shared_classifier flag is " + std::to_string(flag) + ", not 0 or 1");
    shared = flag == 1;
  }
  std::int32_t p[7];
  for (int i = 0; i < 7; ++i) p[i] = detail::read_int32(f.data() + params_at + 4 * i);
  const char* names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                          "n_kv_heads", "vocab_size", "seq_len"};
  for (int i = 0; i < 7; ++i) {
    const bool vocab = i == 5;
    if (p[i] == 0 || (p[i] < 0 && !(vocab && !v1)) ||
        p[i] == std::numeric_limits<std::int32_t>::min()) {
      fail(std::string(names[i]) + " = " + std::to_string(p[i]) + " (must be positive)");
    }
  }
  if (!v1) shared = p[5] > 0;

  // 2. The config, checked before any size is computed from it.
  llama_model m;
  llama_config& c = m.config;
  c.dim = static_cast<std::size_t>(p[0]);
  c.hidden_dim = static_cast<std::size_t>(p[1]);
  c.n_layers = static_cast<std::size_t>(p[2]);
  c.n_heads = static_cast<std::size_t>(p[3]);
  c.n_kv_heads = static_cast<std::size_t>(p[4]);
  c.vocab_size = static_cast<std::size_t>(p[5] < 0 ? -static_cast<std::int64_t>(p[5]) : p[5]);
  c.seq_len = static_cast<std::size_t>(p[6]);
  c.shared_classifier = shared;
  c.rope = rope_style::interleaved;
  c.validate(who, path);

  // 3. The tensors, in the file's order.  Every size fits in 64 bits: each dim is below 2^24.
  // The file's size must be what the header implies before anything is allocated from
  // the header's numbers.  The sum can pass 2^64 (dims up to 2^24 each), so it is added
  // up in long double: exact wherever it could equal a real file's size.
  long double floats = 0;
  for (const detail::llama2c_tensor t : detail::llama2c_order(v1)) {
    const auto [rows, cols] = detail::llama2c_shape(t, c);
    const long double count =
        detail::llama2c_per_block(t) ? static_cast<long double>(c.n_layers) : 1.0L;
    floats += count * static_cast<long double>(rows) * static_cast<long double>(cols);
  }
  if (!shared) floats += static_cast<long double>(c.vocab_size) * static_cast<long double>(c.dim);
  const long double expected = static_cast<long double>(data_at) + 4.0L * floats;
  if (expected != static_cast<long double>(f.size())) {
    const std::string implied =
        expected < 1e18L ? std::to_string(static_cast<std::uint64_t>(expected)) : "more than 10^18";
    fail("the header implies " + implied + " bytes, the file has " + std::to_string(f.size()) +
         (expected > static_cast<long double>(f.size()) ? " (truncated)" : ""));
  }
  m.blocks.resize(c.n_layers);
  detail::tensor_cursor cur(f, data_at, who);
  for (const detail::llama2c_tensor t : detail::llama2c_order(v1)) {
    const auto [rows, cols] = detail::llama2c_shape(t, c);
    const std::size_t count = detail::llama2c_per_block(t) ? c.n_layers : 1;
    for (std::size_t b = 0; b < count; ++b) {
      const tensor_ref r = cur.next(detail::llama2c_tensor_name(t), rows, cols);
      if (tensor_ref* slot = detail::llama2c_slot(m, t, b)) *slot = r;
    }
  }
  m.classifier = shared ? m.embedding : cur.next("wcls", c.vocab_size, c.dim);
  if (cur.offset() != f.size()) {
    fail("the header implies " + std::to_string(cur.offset()) + " bytes, the file has " +
         std::to_string(f.size()));
  }
  detail::require_finite_weights(m, path, who);
  m.keep(std::move(file));
  return m;
}

/// Loads the llama2.c checkpoint at `path`, mapping the file (see above; also file_error
/// when it cannot be opened or mapped).
inline llama_model load_llama2c(const std::string& path) {
  return load_llama2c(std::make_shared<const mapped_file>(path, "lowp::model::load_llama2c"));
}

/// Writes `m` as a llama2.c checkpoint of the given version.  llama2.c's run.c reads
/// version 0 (its RoPE tables are written too; run.c skips them); version 1 is what
/// export.py writes and lowp reads.  Through a temporary file renamed at the end: a failure leaves
/// nothing behind. Throws std::invalid_argument for a model llama2.c cannot represent (Hugging Face
/// RoPE order, theta other than 10000, RMSNorm epsilon other than 1e-5, a config that does not
/// validate, tensors whose shapes disagree with it),
/// file_error for I/O failures.
inline void save_llama2c(const llama_model& m, const std::string& path,
                         llama2c_version version = llama2c_version::v0) {
  constexpr const char* who = "lowp::model::save_llama2c";
  const llama_config& c = m.config;
  if (c.rope != rope_style::interleaved) {
    throw std::invalid_argument(std::string(who) +
                                ": the model uses Hugging Face's RoPE order; llama2.c rotates "
                                "interleaved pairs (convert the q/k rows first)");
  }
  if (c.rope_theta != 10000.0f) {
    throw std::invalid_argument(std::string(who) +
                                ": llama2.c's RoPE theta is 10000, the model's " +
                                std::to_string(c.rope_theta));
  }
  if (c.norm_eps != 1e-5f) {
    throw std::invalid_argument(std::string(who) +
                                ": llama2.c's RMSNorm epsilon is 1e-5, the model's " +
                                std::to_string(c.norm_eps));
  }
  try {
    c.validate(who, path);
  } catch (const file_error& e) {
    throw std::invalid_argument(e.what());
  }
  if (!detail::host_is_little_endian()) {
    throw std::invalid_argument(std::string(who) + ": writing needs a little-endian host");
  }
  // Every tensor must have the shape the config gives it (a model put together by hand
  // might not).
  const auto check_shape = [&](const tensor_ref& t, std::size_t rows, std::size_t cols,
                               const std::string& name) {
    if (t.data == nullptr || t.size() != rows * cols) {
      throw std::invalid_argument(std::string(who) + ": tensor " + name + " has " +
                                  std::to_string(t.size()) + " elements, the config gives it " +
                                  std::to_string(rows * cols));
    }
  };
  const bool v1 = version == llama2c_version::v1;
  if (m.blocks.size() != c.n_layers) {
    throw std::invalid_argument(std::string(who) + ": the model has " +
                                std::to_string(m.blocks.size()) + " blocks, its config " +
                                std::to_string(c.n_layers));
  }
  for (const detail::llama2c_tensor t : detail::llama2c_order(v1)) {
    const auto [rows, cols] = detail::llama2c_shape(t, c);
    const std::size_t count = detail::llama2c_per_block(t) ? c.n_layers : 1;
    for (std::size_t b = 0; b < count; ++b) {
      if (const tensor_ref* r = detail::llama2c_slot(m, t, b)) {
        check_shape(*r, rows, cols, detail::llama2c_tensor_name(t));
      }
    }
  }

  check_shape(m.classifier, c.vocab_size, c.dim, "wcls");

  write_file_atomically(path, who, [&](std::ostream& out) {
    const auto put_i32 = [&](std::int64_t v) {
      const auto x = static_cast<std::int32_t>(v);
      out.write(reinterpret_cast<const char*>(&x), sizeof x);
    };
    const auto put = [&](const float* p, std::size_t n) {
      out.write(reinterpret_cast<const char*>(p), static_cast<std::streamsize>(n * sizeof(float)));
    };
    // 1. The header.
    const auto vocab = static_cast<std::int64_t>(c.vocab_size);
    if (v1) {
      const std::uint32_t magic = detail::llama2c_magic;
      out.write(reinterpret_cast<const char*>(&magic), sizeof magic);
      put_i32(1);
    }
    put_i32(static_cast<std::int64_t>(c.dim));
    put_i32(static_cast<std::int64_t>(c.hidden_dim));
    put_i32(static_cast<std::int64_t>(c.n_layers));
    put_i32(static_cast<std::int64_t>(c.n_heads));
    put_i32(static_cast<std::int64_t>(c.n_kv_heads));
    put_i32(!v1 && !c.shared_classifier ? -vocab : vocab);  // v0: the sign is the flag
    put_i32(static_cast<std::int64_t>(c.seq_len));
    if (v1) {
      out.put(c.shared_classifier ? '\1' : '\0');
      const std::string pad(detail::llama2c_v1_header_bytes - 4 - 4 - 7 * 4 - 1, '\0');
      out.write(pad.data(), static_cast<std::streamsize>(pad.size()));
    }
    // 2. The tensors in the version's order, then the classifier if it is not shared.
    for (const detail::llama2c_tensor t : detail::llama2c_order(v1)) {
      if (t == detail::llama2c_tensor::freq_cis_real ||
          t == detail::llama2c_tensor::freq_cis_imag) {
        const std::vector<float> table =
            detail::llama2c_rope_table(c, t == detail::llama2c_tensor::freq_cis_imag);
        put(table.data(), table.size());
        continue;
      }
      const std::size_t count = detail::llama2c_per_block(t) ? c.n_layers : 1;
      for (std::size_t b = 0; b < count; ++b) {
        const tensor_ref* r = detail::llama2c_slot(m, t, b);
        put(r->data, r->size());
      }
    }
    if (!c.shared_classifier) put(m.classifier.data, m.classifier.size());
  });
}

}  // namespace lowp::model
