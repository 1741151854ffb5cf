// libFuzzer target: read_npy on arbitrary bytes.  Every input must either parse or throw
// lowp::model::file_error; an array that parses must convert to float (and to int32
// when it is an integer array) without reading out of bounds.
#include <cstddef>
#include <cstdint>
#include <lowp/model/npy.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace lm = lowp::model;
  try {
    const lm::npy_array a = lm::read_npy(lm::mapped_file("fuzz.npy", data, size));
    if (a.bytes.size() != a.size() * lm::npy_item_size(a.dtype)) __builtin_trap();
    (void)a.to_float();
    if (a.dtype == lm::npy_dtype::i4 || a.dtype == lm::npy_dtype::u2) (void)a.to_int32();
  } catch (const lm::file_error&) {
  }
  return 0;
}
