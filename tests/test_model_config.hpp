// tests/test_model_config.hpp — the small LLaMA shape the model tests build random models
// of: 2 blocks, dim 64 (4 heads of 16, grouped-query with 2 KV heads), hidden 96.
#pragma once

#include <cstddef>
#include <lowp/model/llama.hpp>

namespace lowp_test {

inline lowp::model::llama_config small_llama_config(std::size_t vocab_size, std::size_t seq_len) {
  lowp::model::llama_config c;
  c.dim = 64;
  c.hidden_dim = 96;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.vocab_size = vocab_size;
  c.seq_len = seq_len;
  return c;
}

}  // namespace lowp_test
