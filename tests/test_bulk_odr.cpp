// Two translation units of one program include lowp/bulk.hpp with different SIMD flags
// (AVX-512 and LOWP_NO_SIMD).  Each must keep its own back-end: the public bulk functions
// carry the back-end as a defaulted template parameter, so the two instantiations have
// different names instead of being merged by the linker (an ODR violation that would
// run AVX-512 code where the caller was built for a plain x86-64).  The program skips
// on a CPU that lacks an instruction set the SIMD translation unit is compiled for
// (tests/CMakeLists.txt passes the list to this file as LOWP_TEST_ISA).
#include <cstring>
#include <lowp/bulk.hpp>
#include <string>
#include <vector>

#include "lowp_test.hpp"

const char* lowp_test_odr_backend_simd();
const char* lowp_test_odr_backend_scalar();
void lowp_test_odr_convert_simd(const float* x, lowp::float8_e4m3fn* q, std::size_t n);
void lowp_test_odr_convert_scalar(const float* x, lowp::float8_e4m3fn* q, std::size_t n);

TEST_CASE("bulk: translation units built with different SIMD flags keep their back-ends",
          "[bulk][odr]") {
  CHECK(std::string(lowp_test_odr_backend_scalar()) == "scalar");
  CHECK(std::string(lowp_test_odr_backend_simd()) == "avx512");
  std::vector<float> x(1000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) * 0.37f - 150.0f;
  std::vector<lowp::float8_e4m3fn> a(x.size()), b(x.size());
  lowp_test_odr_convert_simd(x.data(), a.data(), x.size());
  lowp_test_odr_convert_scalar(x.data(), b.data(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    CHECK(a[i].bits() == b[i].bits());
    CHECK(a[i].bits() == lowp::cast<lowp::float8_e4m3fn>(x[i]).bits());
  }
}
