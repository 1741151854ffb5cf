// tests/cuda/kernel_compile.cu — lowp's scalar types in CUDA device code.
//
// This file is only compiled (nvcc -c), never run: it proves that the headers are usable
// under nvcc, i.e. that every conversion and operator a kernel needs is marked
// LOWP_HOST_DEVICE (__host__ __device__) and compiles for the device.  The ctest that
// compiles it is declared in tests/CMakeLists.txt.
#include <cstdint>
#include <lowp/cast.hpp>
#include <lowp/types.hpp>

namespace {

// float -> E4M3 (the default: nearest-even, saturating) -> float, and the raw code.
__global__ void roundtrip_e4m3(const float* in, float* out, std::uint8_t* codes, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= n) return;
  const lowp::float8_e4m3fn q(in[i]);
  codes[i] = q.bits();
  out[i] = static_cast<float>(q);
}

// Every rounding/overflow mode of lowp::cast, FP4 and E8M0 scales, stochastic rounding.
__global__ void modes(const float* in, const std::uint32_t* random_bits, float* out, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= n) return;
  const float x = in[i];
  const auto a =
      lowp::cast<lowp::float8_e5m2>(x, lowp::rounding::toward_zero, lowp::overflow::non_saturating);
  const auto b = lowp::cast<lowp::float4_e2m1fn>(x, lowp::rounding::up);
  const auto s = lowp::cast<lowp::float8_e8m0fnu>(x, lowp::rounding::up);
  const auto c = lowp::cast_stochastic<lowp::float6_e3m2fn>(x, random_bits[i]);
  const auto d = lowp::cast<lowp::float8_e4m3fnuz>(static_cast<double>(x));
  const auto e = lowp::cast<lowp::float8_e4m3fn>(d);  // format to format
  out[i] = static_cast<float>(a) + static_cast<float>(b) * static_cast<float>(s) +
           static_cast<float>(c) + static_cast<float>(e);
}

// bfloat16 / float16 arithmetic (through float), comparisons, unary minus, integers.
__global__ void arithmetic(const float* x, const float* y, float* out, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= n) return;
  lowp::bfloat16 a(x[i]), b(y[i]);
  lowp::bfloat16 acc = a * b + a;
  acc -= -b;
  acc /= lowp::bfloat16(2.0f);
  const lowp::float16 h = lowp::cast<lowp::float16>(acc);
  const lowp::int4 q4(x[i]);
  const lowp::uint8 q8 = lowp::cast<lowp::uint8>(y[i], lowp::rounding::nearest_away);
  const bool lt = a < b && !(h != h) && h.is_nan() == false;
  out[i] =
      (lt ? static_cast<float>(h) : 0.0f) + static_cast<float>(q4.value()) + static_cast<float>(q8);
}

}  // namespace

// Host code in the same translation unit: constexpr use and a launch.
static_assert(sizeof(lowp::float8_e4m3fn) == 1, "one byte");

void launch_all(const float* in, const float* in2, const std::uint32_t* rnd, float* out,
                std::uint8_t* codes, int n) {
  const int threads = 256, blocks = (n + threads - 1) / threads;
  roundtrip_e4m3<<<blocks, threads>>>(in, out, codes, n);
  modes<<<blocks, threads>>>(in, rnd, out, n);
  arithmetic<<<blocks, threads>>>(in, in2, out, n);
}

float host_side(float x) {
  return static_cast<float>(lowp::float4_e2m1fn(x)) + static_cast<float>(lowp::bfloat16(x));
}
