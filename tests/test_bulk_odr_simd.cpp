// Compiled with AVX-512 flags (tests/CMakeLists.txt): the SIMD half of test_bulk_odr.
#include <cstddef>
#include <lowp/bulk.hpp>

const char* lowp_test_odr_backend_simd() {
  return lowp::bulk_backend_name();
}
void lowp_test_odr_convert_simd(const float* x, lowp::float8_e4m3fn* q, std::size_t n) {
  lowp::convert(x, q, n);
}
