// Every one of the 2^32 floats through each encoder path, against lowp::cast.
//
// Built twice (tests/CMakeLists.txt): with AVX-512 flags, so that one executable holds all
// three back-ends (scalar, AVX2, AVX-512), and with AVX2 flags (scalar and AVX2), which
// runs only where the AVX-512 build cannot.  Each back-end is compared with the same
// reference, computed once per chunk by the generic scalar converter, and run twice at
// nearest-even/saturate: through the specialised fast path and the general path (which
// also serves every other mode).  A build is skipped where the CPU lacks one of the
// instruction sets it is compiled for (tests/lowp_isa_gate.cpp).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <lowp/bulk.hpp>
#include <type_traits>
#include <vector>

#include "lowp_test.hpp"

namespace {

using namespace lowp;
namespace s = lowp::detail::simd;
using lowp::detail::round_mode;

template <class T>
const char* fmt_name() {
  return T::traits_type::name;
}

template <class B, class T, bool Fast>
void run(const float* x, std::uint8_t* out, std::size_t n, const s::encode_consts& k) {
  s::encode_run<B, T, round_mode::nearest_even, false, Fast>(x, out, n, 1.0f, k);
}

// The back-ends this build compiles (and the sweep runs).
constexpr const char* backends =
    "scalar"
#if defined(LOWP_SIMD_AVX2)
    ", avx2"
#endif
#if defined(LOWP_SIMD_AVX512)
    ", avx512"
#endif
    ;

template <class T>
void sweep(overflow o) {
#if defined(LOWP_TEST_AVX512_ISA)
  // The AVX2 build: the AVX-512 build (test_bulk_exhaustive) runs these back-ends too, so
  // this one runs only on a CPU where that one skips.
  if (lowp_test::missing_isa(LOWP_TEST_AVX512_ISA).empty())
    LOWP_SKIP("test_bulk_exhaustive (the AVX-512 build) covers every back-end on this CPU");
#endif
  const s::encode_consts k = s::make_encode_consts<T>(round_mode::nearest_even, o);
  const bool sat = o == overflow::saturate;
  constexpr std::size_t chunk = std::size_t{1} << 16;
  std::vector<float> x(chunk);
  std::vector<std::uint8_t> ref(chunk), got(chunk);
  std::uint64_t mismatches[6] = {};  // {scalar, AVX2, AVX-512} x {fast path, general path}
  std::uint64_t first_bad = ~std::uint64_t{0};
  for (std::uint64_t base = 0; base < (std::uint64_t{1} << 32); base += chunk) {
    for (std::size_t i = 0; i < chunk; ++i) {
      const std::uint32_t b = static_cast<std::uint32_t>(base + i);
      std::memcpy(&x[i], &b, 4);
      ref[i] = static_cast<std::uint8_t>(cast<T>(x[i], rounding::nearest_even, o).bits());
    }
    auto cmp = [&](int which) {
      if (std::memcmp(ref.data(), got.data(), chunk) == 0) return;
      for (std::size_t i = 0; i < chunk; ++i)
        if (ref[i] != got[i]) {
          ++mismatches[which];
          if (first_bad == ~std::uint64_t{0}) first_bad = base + i;
        }
    };
    auto both_paths = [&](auto backend, int which) {
      using B = decltype(backend);
      if (sat) {
        run<B, T, true>(x.data(), got.data(), chunk, k);
        cmp(which);
      }
      run<B, T, false>(x.data(), got.data(), chunk, k);
      cmp(which + 1);
    };
    both_paths(s::scalar_backend{}, 0);
#if defined(LOWP_SIMD_AVX2)
    both_paths(s::avx2_backend{}, 2);
#endif
#if defined(LOWP_SIMD_AVX512)
    both_paths(s::avx512_backend{}, 4);
#endif
  }
  INFO(fmt_name<T>() << " overflow " << static_cast<int>(o) << " first mismatching float bits "
                     << std::hex << first_bad << "; back-ends of this build: " << backends);
  CHECK(mismatches[0] == 0);  // scalar fast path
  CHECK(mismatches[1] == 0);  // scalar general path
  CHECK(mismatches[2] == 0);  // AVX2 fast path
  CHECK(mismatches[3] == 0);  // AVX2 general path
  CHECK(mismatches[4] == 0);  // AVX-512 fast path
  CHECK(mismatches[5] == 0);  // AVX-512 general path
}

TEST_CASE("all 2^32 floats -> float8_e4m3fn, every back-end", "[exhaustive][e4m3]") {
  sweep<float8_e4m3fn>(overflow::saturate);
  sweep<float8_e4m3fn>(overflow::non_saturating);
}
TEST_CASE("all 2^32 floats -> float8_e5m2, every back-end", "[exhaustive][e5m2]") {
  sweep<float8_e5m2>(overflow::saturate);
  sweep<float8_e5m2>(overflow::non_saturating);
}
TEST_CASE("all 2^32 floats -> float4_e2m1fn, every back-end", "[exhaustive][e2m1]") {
  sweep<float4_e2m1fn>(overflow::saturate);
}
TEST_CASE("all 2^32 floats -> int4, every back-end", "[exhaustive][int4]") {
  sweep<lowp::int4>(overflow::saturate);
}
TEST_CASE("all 2^32 floats -> int8 and uint4, every back-end", "[exhaustive][int8]") {
  sweep<lowp::int8>(overflow::saturate);
  sweep<lowp::uint4>(overflow::saturate);
}

// float -> float16 / bfloat16 at nearest even: lowp::convert and lowp::encode (this build's
// back-end: for float16, F16C's vcvtps2ph where the CPU has it) and the portable integer encoder
// (half_encoder on the scalar back-end), each against lowp::cast, under both overflow
// policies (saturate differs only where the result is Inf).
template <class T>
void sweep_half() {
#if defined(LOWP_TEST_AVX512_ISA)
  if (lowp_test::missing_isa(LOWP_TEST_AVX512_ISA).empty())
    LOWP_SKIP("test_bulk_exhaustive (the AVX-512 build) covers every back-end on this CPU");
#endif
  constexpr std::size_t chunk = std::size_t{1} << 16;
  std::vector<float> x(chunk);
  std::vector<T> ref(chunk), got(chunk);
  std::vector<std::uint16_t> bits(chunk);
  constexpr std::uint16_t snan = std::is_same_v<T, float16> ? 0x7C01u : 0x7F81u;
  for (const overflow o : {overflow::saturate, overflow::non_saturating}) {
    std::uint64_t mismatches[3] = {};  // {convert, encode, the portable encoder}
    std::uint64_t first_bad[3] = {~std::uint64_t{0}, ~std::uint64_t{0}, ~std::uint64_t{0}};
    for (std::uint64_t base = 0; base < (std::uint64_t{1} << 32); base += chunk) {
      for (std::size_t i = 0; i < chunk; ++i) {
        const std::uint32_t b = static_cast<std::uint32_t>(base + i);
        std::memcpy(&x[i], &b, 4);
        ref[i] = cast<T>(x[i], rounding::nearest_even, o);
      }
      auto cmp = [&](int which) {
        if (std::memcmp(ref.data(), got.data(), chunk * sizeof(T)) == 0) return;
        for (std::size_t i = 0; i < chunk; ++i)
          if (ref[i].bits() != got[i].bits()) {
            ++mismatches[which];
            if (first_bad[which] == ~std::uint64_t{0}) first_bad[which] = base + i;
          }
      };
      // Each path writes over a poisoned buffer, so that a path that skipped elements cannot
      // pass on the previous one's results: a signalling NaN code (quiet bit clear), which
      // no float maps to (a NaN comes out quiet).
      const auto poison = [&] { std::fill(got.begin(), got.end(), T::from_bits(snan)); };
      poison();
      convert(x.data(), got.data(), chunk, rounding::nearest_even, o);
      cmp(0);
      std::fill(bits.begin(), bits.end(), snan);
      encode<T>(x.data(), bits.data(), chunk, rounding::nearest_even, o);
      for (std::size_t i = 0; i < chunk; ++i) got[i] = T::from_bits(bits[i]);
      cmp(1);
      poison();
      lowp::detail::bulk::half_encoder<s::scalar_backend, T, T>::run(x.data(), got.data(), chunk,
                                                                     o);
      cmp(2);
    }
    bool f16c = false;
#if defined(LOWP_BULK_F16C)
    f16c = std::is_same_v<T, float16> && lowp::detail::bulk::f16c_available();
#endif
    INFO(fmt_name<T>() << " overflow " << static_cast<int>(o)
                       << "; first mismatching float bits (convert, encode, portable) " << std::hex
                       << first_bad[0] << ", " << first_bad[1] << ", " << first_bad[2]
                       << "; back-end " << bulk_backend_name() << (f16c ? " with F16C" : ""));
    CHECK(mismatches[0] == 0);  // lowp::convert
    CHECK(mismatches[1] == 0);  // lowp::encode
    CHECK(mismatches[2] == 0);  // the portable encoder
  }
}

TEST_CASE("all 2^32 floats -> float16 and bfloat16 by convert, nearest even",
          "[exhaustive][half]") {
  sweep_half<float16>();
  sweep_half<bfloat16>();
}

}  // namespace
