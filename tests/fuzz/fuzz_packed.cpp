// libFuzzer target: load_packed (lowp's packed model file) on arbitrary bytes.  Every
// input must either load or throw lowp::model::file_error; a model that loads has finite
// weights of the shapes its config gives.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <lowp/model/packed_file.hpp>
#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace lm = lowp::model;
  try {
    const auto file = std::make_shared<const lm::mapped_file>("fuzz.safetensors", data, size);
    const lm::packed_model p = lm::load_packed(file);
    const lm::llama_config& c = p.model.config;
    if (p.model.blocks.size() != c.n_layers) __builtin_trap();
    for (const lm::llama_block& b : p.model.blocks) {
      if (b.wq.rows != c.dim || b.w_down.cols != c.hidden_dim) __builtin_trap();
      for (std::size_t i = 0; i < b.wq.size(); ++i) {
        if (!std::isfinite(b.wq.data[i])) __builtin_trap();
      }
    }
  } catch (const lm::file_error&) {
  }
  return 0;
}
