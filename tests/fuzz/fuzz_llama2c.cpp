// libFuzzer target: load_llama2c on arbitrary bytes.  Every input must either load or
// throw lowp::model::file_error; anything else (a crash, a sanitizer report, another
// exception, a huge allocation) is a bug.
#include <cstddef>
#include <cstdint>
#include <lowp/model/llama2c.hpp>
#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace lm = lowp::model;
  try {
    const lm::llama_model m =
        lm::load_llama2c(std::make_shared<const lm::mapped_file>("fuzz.bin", data, size));
    if (m.parameter_count() == 0) __builtin_trap();  // a loaded model has weights
  } catch (const lm::file_error&) {
  }
  return 0;
}
