// libFuzzer target: safetensors_file on arbitrary bytes.  Every input must either parse or
// throw lowp::model::file_error; a file that parses must have tensors whose bytes lie
// inside it and match their shapes.
#include <cstddef>
#include <cstdint>
#include <lowp/model/safetensors.hpp>
#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace lm = lowp::model;
  try {
    const auto file = std::make_shared<const lm::mapped_file>("fuzz.safetensors", data, size);
    const lm::safetensors_file f(file);
    for (const auto& [name, t] : f.tensors()) {
      const std::byte* begin = file->data();
      if (t.data < begin || t.data + t.bytes > begin + file->size()) __builtin_trap();
      if (t.bytes != t.size() * lm::safetensors_item_size(t.dtype)) __builtin_trap();
    }
  } catch (const lm::file_error&) {
  }
  return 0;
}
