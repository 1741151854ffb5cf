// lowp/detail/w4a8_avx512.hpp — the AVX-512 kernels of w4a8.hpp: the decode (GEMV) rows,
// FP4 E2M1 weights times FP8 E4M3 activations on AVX512-BF16's vdpbf16ps and INT4 weights
// times INT8 activations on AVX512-VNNI's vpdpbusd; and the prefill (GEMM) on both, a
// weight decoder and a register tile each.
//
// Layer: quantize (internal).  Includes config.hpp.
//
// The kernels carry target attributes (avx512f,avx512bw plus avx512bf16 or avx512vnni):
// they are compiled whatever -m flags the program uses, and w4a8.hpp calls them only after
// CPUID said yes (bf16_available(), vnni_available()).  Everything here works on raw
// pointers; w4a8.hpp owns the layouts.
//
// Why vdpbf16ps is exact here.  It adds two bfloat16 products to each float32 lane,
// rounding to nearest even whatever MXCSR says, with denormal inputs read as zero and
// denormal results flushed to zero (Intel SDM, VDPBF16PS).  An E4M3 value and an E2M1
// value times 2^-k are both exact bfloat16 values (4 and 2 significant bits), so every
// product is exact in float32; the lane sums then round as any float summation does,
// which the contract's bound γ_{K+1} covers whatever the order.  DAZ and FTZ never act
// while k ≤ max_shift = 116: every operand and product is a multiple of 2^-9 · 2^-1 ·
// 2^-k ≥ 2^-126, so is every exact partial sum, and rounding to nearest cannot take a
// nonzero multiple of 2^-126 below 2^-126.  Rows with a larger shift take the AVX2 path.
//
// lowp's own tests define LOWP_W4A8_AVX512_EMULATE to run these kernels through SIMDe's
// portable implementations of the same intrinsics (simde/x86/avx512.h), so that they are
// tested on CPUs without AVX-512 too.  Nothing else should define it.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../config.hpp"

#if defined(LOWP_W4A8_AVX512_EMULATE)
#include <simde/x86/avx512.h>
#define LOWP_W4A8_AVX512 1
#define LOWP_X512(intrinsic) simde##intrinsic
#define LOWP_W4A8_BW_TARGET
#define LOWP_W4A8_BF16_TARGET
#define LOWP_W4A8_VNNI_TARGET
#elif !defined(LOWP_NO_SIMD) && (defined(__x86_64__) || defined(_M_X64)) && \
    ((defined(__clang__) && __clang_major__ >= 9) ||                        \
     (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 10))
#include <immintrin.h>
#define LOWP_W4A8_AVX512 1
#define LOWP_X512(intrinsic) intrinsic
#define LOWP_W4A8_BW_TARGET __attribute__((target("avx512f,avx512bw")))
#define LOWP_W4A8_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))
#define LOWP_W4A8_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))
#endif

namespace lowp::detail::w4a8_avx512 {

/// The 16 weight values of a table (bfloat16 bits, one per 4-bit code) padded to the 32
/// words that vpermw indexes.
using bf16_table32 = std::array<std::uint16_t, 32>;

/// Largest M1/M2 shift the BF16 kernel takes (the file comment: no denormals below it).
inline constexpr unsigned max_shift = 116;

/// Inside a block of 64 columns, where the FP kernels want storage element s of the
/// activations: they decode the even elements into one vector and the odd ones into the
/// next.  (The INT kernels take the block in storage order; w4a8_avx2::int_row takes
/// this order too.)
constexpr std::size_t fp_position(std::size_t s) noexcept {
  return (s % 2) * 32 + s / 2;
}

#if defined(LOWP_W4A8_AVX512)

#if defined(LOWP_W4A8_AVX512_EMULATE)
using m512 = simde__m512;
using m512i = simde__m512i;
using m512bh = simde__m512bh;
using m256i = simde__m256i;
inline bool bf16_available() noexcept {
  return true;
}
inline bool vnni_available() noexcept {
  return true;
}
#else
using m512 = __m512;
using m512i = __m512i;
using m512bh = __m512bh;
using m256i = __m256i;
/// True when this CPU has AVX-512 F/BW and AVX512-BF16 (the FP kernel).
inline bool bf16_available() noexcept {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512bf16");
  return ok;
}
/// True when this CPU has AVX-512 F/BW and AVX512-VNNI (the INT kernel).
inline bool vnni_available() noexcept {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vnni");
  return ok;
}
#endif

// 32 bfloat16 lanes from 32 16-bit lanes (the same bits).
LOWP_W4A8_BW_TARGET inline m512bh as_bf16(m512i v) noexcept {
  m512bh r;
  std::memcpy(&r, &v, sizeof r);
  return r;
}

// A block of 64 packed codes (32 bytes) to 32 words, one byte each.
//
//   byte b of the block:  hi nibble = element 2b+1 | lo nibble = element 2b
//   word b:               00000000 hhhhllll
LOWP_W4A8_BW_TARGET inline m512i bytes_to_words(const std::uint8_t* p) noexcept {
  const m256i bytes = LOWP_X512(_mm256_loadu_si256)(reinterpret_cast<const m256i*>(p));
  return LOWP_X512(_mm512_and_si512)(LOWP_X512(_mm512_cvtepi8_epi16)(bytes),
                                     LOWP_X512(_mm512_set1_epi16)(0x00FF));
}

// The sum of 16 float lanes: 256-bit halves, then 128-bit quarters, then the four floats
// of a quarter.  (The masked shuffles take an explicit source: GCC's unmasked ones pass
// an undefined vector that -Wmaybe-uninitialized reports.)
LOWP_W4A8_BW_TARGET inline float sum_lanes(m512 v) noexcept {
  v = LOWP_X512(_mm512_add_ps)(v, LOWP_X512(_mm512_mask_shuffle_f32x4)(v, 0xFFFF, v, v, 0x4E));
  v = LOWP_X512(_mm512_add_ps)(v, LOWP_X512(_mm512_mask_shuffle_f32x4)(v, 0xFFFF, v, v, 0xB1));
  float lanes[16];
  LOWP_X512(_mm512_storeu_ps)(lanes, v);
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

/// One output of the FP decode path before its scales, as w4a8_avx2::fp_row: w a row of
/// codes (storage order), xb the token's activation values as bfloat16 bits, each block
/// of 64 in fp_position order, seg the G + 1 group starts, shifts the row's k per group
/// (M1/M2, each ≤ max_shift; null: k = 0), gscale the row's group scales (absmax: each
/// group's sum S_g is added as y = fma(S_g, s_g, y); null: one sum over the row).
/// Shift false: tables[k] holds E2M1 · 2^-k.  Shift true: tables[0], then k subtracted
/// from every nonzero value's exponent field (exact: the smallest, 0.5, has field 126).
///
///   vpermw:  word index = code (0..15) → the table's bfloat16
///   bfloat16: s eeeeeeee mmmmmmm     k << 7 lines up with the exponent field
template <bool Shift>
LOWP_W4A8_BF16_TARGET inline float fp_row(const std::uint8_t* w, const std::uint16_t* xb,
                                          const std::size_t* seg, std::size_t G,
                                          const std::uint8_t* shifts, const float* gscale,
                                          const bf16_table32* tables) noexcept {
  const m512i low4 = LOWP_X512(_mm512_set1_epi16)(0x000F);
  const m512i magnitude = LOWP_X512(_mm512_set1_epi16)(0x7FFF);
  m512 acc[4] = {LOWP_X512(_mm512_setzero_ps)(), LOWP_X512(_mm512_setzero_ps)(),
                 LOWP_X512(_mm512_setzero_ps)(), LOWP_X512(_mm512_setzero_ps)()};
  float y = 0.0f;
  for (std::size_t j = 0; j < G; ++j) {
    const unsigned k = shifts != nullptr ? shifts[j] : 0u;
    const m512i table = LOWP_X512(_mm512_loadu_si512)(tables[Shift ? 0 : k].data());
    const m512i k_field = LOWP_X512(_mm512_set1_epi16)(static_cast<short>(k << 7));
    for (std::size_t q = seg[j]; q < seg[j + 1]; q += 64) {
      const m512i words = bytes_to_words(w + q / 2);
      m512i v[2] = {
          LOWP_X512(_mm512_permutexvar_epi16)(LOWP_X512(_mm512_and_si512)(words, low4), table),
          LOWP_X512(_mm512_permutexvar_epi16)(LOWP_X512(_mm512_srli_epi16)(words, 4), table)};
      const std::size_t a = ((q - seg[j]) / 64 % 2) * 2;
      for (int n = 0; n < 2; ++n) {
        if (Shift && k != 0) {
          // k where the value is not ±0, 0 there: no lane wraps (-0 is 0x8000).
          const auto nonzero = LOWP_X512(_mm512_test_epi16_mask)(v[n], magnitude);
          v[n] = LOWP_X512(_mm512_sub_epi16)(v[n],
                                             LOWP_X512(_mm512_maskz_mov_epi16)(nonzero, k_field));
        }
        const m512i x = LOWP_X512(_mm512_loadu_si512)(xb + q + 32 * static_cast<std::size_t>(n));
        acc[a + static_cast<std::size_t>(n)] = LOWP_X512(_mm512_dpbf16_ps)(
            acc[a + static_cast<std::size_t>(n)], as_bf16(v[n]), as_bf16(x));
      }
    }
    if (gscale != nullptr) {
      const float s = sum_lanes(LOWP_X512(_mm512_add_ps)(LOWP_X512(_mm512_add_ps)(acc[0], acc[1]),
                                                         LOWP_X512(_mm512_add_ps)(acc[2], acc[3])));
      y = std::fma(s, gscale[j], y);
      acc[0] = acc[1] = acc[2] = acc[3] = LOWP_X512(_mm512_setzero_ps)();
    }
  }
  if (gscale == nullptr)
    y = sum_lanes(LOWP_X512(_mm512_add_ps)(LOWP_X512(_mm512_add_ps)(acc[0], acc[1]),
                                           LOWP_X512(_mm512_add_ps)(acc[2], acc[3])));
  return y;
}

// The sum of 16 int32 lanes, as sum_lanes (exact).
LOWP_W4A8_BW_TARGET inline std::int32_t sum_lanes_int(m512i v) noexcept {
  v = LOWP_X512(_mm512_add_epi32)(v, LOWP_X512(_mm512_mask_shuffle_i32x4)(v, 0xFFFF, v, v, 0x4E));
  v = LOWP_X512(_mm512_add_epi32)(v, LOWP_X512(_mm512_mask_shuffle_i32x4)(v, 0xFFFF, v, v, 0xB1));
  std::int32_t lanes[16];
  LOWP_X512(_mm512_storeu_si512)(lanes, v);
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

// A block of 64 INT4 codes (32 bytes) as the 64 unsigned bytes u = c ^ 8 (value + 8, in
// [0, 15]) that vpdpbusd takes, in storage order.
//
//   word b (bytes_to_words):   00000000 hhhhllll
//   (w & 0x0F) | ((w << 4) & 0x0F00):   0000hhhh 0000llll → bytes in storage order
LOWP_W4A8_BW_TARGET inline m512i biased_int4_bytes(const std::uint8_t* p) noexcept {
  const m512i words = bytes_to_words(p);
  return LOWP_X512(_mm512_xor_si512)(
      LOWP_X512(_mm512_or_si512)(
          LOWP_X512(_mm512_and_si512)(words, LOWP_X512(_mm512_set1_epi16)(0x000F)),
          LOWP_X512(_mm512_and_si512)(LOWP_X512(_mm512_slli_epi16)(words, 4),
                                      LOWP_X512(_mm512_set1_epi16)(0x0F00))),
      LOWP_X512(_mm512_set1_epi8)(8));
}

/// One output of the INT decode path before the token's scale, as w4a8_avx2::int_row: w a
/// row of INT4 codes (storage order), xi the token's INT8 codes in storage order, asum[j]
/// the sum of group j's activation codes, gscale the row's group scales.  Each group's
/// sum is exact in int32, then y = fma(float(acc_g), s_g, y).
///
/// vpdpbusd multiplies unsigned by signed bytes, four to a lane: the INT4 code c (value
/// (c ^ 8) - 8) enters as u = c ^ 8 in [0, 15], and 8 · Σ a is subtracted per group.
/// A lane gains at most 4 · 15 · 128 per block, so a group of 16384 columns stays below
/// 2^31 before the subtraction.
LOWP_W4A8_VNNI_TARGET inline float int_row(const std::uint8_t* w, const std::int8_t* xi,
                                           const std::int32_t* asum, const std::size_t* seg,
                                           std::size_t G, const float* gscale) noexcept {
  float y = 0.0f;
  for (std::size_t j = 0; j < G; ++j) {
    m512i acc[2] = {LOWP_X512(_mm512_setzero_si512)(), LOWP_X512(_mm512_setzero_si512)()};
    for (std::size_t q = seg[j]; q < seg[j + 1]; q += 64) {
      const m512i u = biased_int4_bytes(w + q / 2);
      const std::size_t a = (q - seg[j]) / 64 % 2;
      acc[a] = LOWP_X512(_mm512_dpbusd_epi32)(acc[a], u, LOWP_X512(_mm512_loadu_si512)(xi + q));
    }
    const std::int32_t s = sum_lanes_int(LOWP_X512(_mm512_add_epi32)(acc[0], acc[1])) - 8 * asum[j];
    y = std::fma(static_cast<float>(s), gscale[j], y);
  }
  return y;
}

/// Rows of codes to bfloat16 for the prefill: n rows (stride `stride` bytes) of the
/// positions [q0, q1) (multiples of 64) into out (row i at out + i·ld words), each block
/// of 64 in fp_position order, row i through tables[k_row[i]] (k_row null: tables[0]).
LOWP_W4A8_BW_TARGET inline void decode_rows(const std::uint8_t* codes, std::size_t stride,
                                            std::size_t n, std::size_t q0, std::size_t q1,
                                            const bf16_table32* tables, const std::uint8_t* k_row,
                                            std::uint16_t* out, std::size_t ld) noexcept {
  const m512i low4 = LOWP_X512(_mm512_set1_epi16)(0x000F);
  for (std::size_t i = 0; i < n; ++i) {
    const m512i table =
        LOWP_X512(_mm512_loadu_si512)(tables[k_row != nullptr ? k_row[i] : 0].data());
    const std::uint8_t* row = codes + i * stride;
    std::uint16_t* o = out + i * ld;
    for (std::size_t q = q0; q < q1; q += 64) {
      const m512i words = bytes_to_words(row + q / 2);
      LOWP_X512(_mm512_storeu_si512)
      (o + (q - q0),
       LOWP_X512(_mm512_permutexvar_epi16)(LOWP_X512(_mm512_and_si512)(words, low4), table));
      LOWP_X512(_mm512_storeu_si512)
      (o + (q - q0) + 32,
       LOWP_X512(_mm512_permutexvar_epi16)(LOWP_X512(_mm512_srli_epi16)(words, 4), table));
    }
  }
}

/// Tokens per prefill tile: two vectors of 16 float lanes.
inline constexpr std::size_t prefill_tokens = 32;

/// The prefill micro-kernel on vdpbf16ps: an MR x 32 tile (MR weight rows, 32 tokens) over
/// kc positions, kc / 2 pairs.  Wp: MR rows of bfloat16 weights (stride ldw words); Ap:
/// kc / 2 steps of 32 tokens x 2 bfloat16 (a pair of positions per token).  The tile
/// starts from Cin (null: zero); without scales it is stored to Cout, with them (one per
/// row) Cout = fma(tile, s, Cout).
///
///   step d:  a0 = tokens 0..15, a1 = tokens 16..31, each lane (w[2d] w[2d+1]) of a token;
///            vdpbf16ps(c, broadcast(weight pair d of row r), a): c += w·a + w'·a'
template <int MR>
LOWP_W4A8_BF16_TARGET inline void micro_kernel(const std::uint16_t* Wp, std::size_t ldw,
                                               const std::uint16_t* Ap, std::size_t kc,
                                               const float* Cin, std::size_t ldc, float* Cout,
                                               const float* scales) noexcept {
  m512 c[MR][2];
  for (int r = 0; r < MR; ++r) {
    const std::size_t at = static_cast<std::size_t>(r) * ldc;
    c[r][0] =
        Cin != nullptr ? LOWP_X512(_mm512_loadu_ps)(Cin + at) : LOWP_X512(_mm512_setzero_ps)();
    c[r][1] =
        Cin != nullptr ? LOWP_X512(_mm512_loadu_ps)(Cin + at + 16) : LOWP_X512(_mm512_setzero_ps)();
  }
  for (std::size_t d = 0; d < kc / 2; ++d) {
    const m512bh a0 = as_bf16(LOWP_X512(_mm512_loadu_si512)(Ap + 64 * d));
    const m512bh a1 = as_bf16(LOWP_X512(_mm512_loadu_si512)(Ap + 64 * d + 32));
    for (int r = 0; r < MR; ++r) {
      std::int32_t pair;
      std::memcpy(&pair, Wp + static_cast<std::size_t>(r) * ldw + 2 * d, sizeof pair);
      const m512bh w = as_bf16(LOWP_X512(_mm512_set1_epi32)(pair));
      c[r][0] = LOWP_X512(_mm512_dpbf16_ps)(c[r][0], w, a0);
      c[r][1] = LOWP_X512(_mm512_dpbf16_ps)(c[r][1], w, a1);
    }
  }
  for (int r = 0; r < MR; ++r) {
    float* o = Cout + static_cast<std::size_t>(r) * ldc;
    if (scales != nullptr) {
      const m512 s = LOWP_X512(_mm512_set1_ps)(scales[r]);
      LOWP_X512(_mm512_storeu_ps)
      (o, LOWP_X512(_mm512_fmadd_ps)(c[r][0], s, LOWP_X512(_mm512_loadu_ps)(o)));
      LOWP_X512(_mm512_storeu_ps)
      (o + 16, LOWP_X512(_mm512_fmadd_ps)(c[r][1], s, LOWP_X512(_mm512_loadu_ps)(o + 16)));
    } else {
      LOWP_X512(_mm512_storeu_ps)(o, c[r][0]);
      LOWP_X512(_mm512_storeu_ps)(o + 16, c[r][1]);
    }
  }
}

/// Rows per prefill micro-kernel: 8 x 2 accumulators, two activation vectors and the
/// broadcast weight pair stay in the 32 registers.
inline constexpr std::size_t prefill_rows = 8;

/// micro_kernel for a run-time MR in [1, 8] (a table of the 8 instantiations).
LOWP_W4A8_BF16_TARGET inline void micro_kernel_n(int mr, const std::uint16_t* Wp, std::size_t ldw,
                                                 const std::uint16_t* Ap, std::size_t kc,
                                                 const float* Cin, std::size_t ldc, float* Cout,
                                                 const float* scales) noexcept {
  using kernel = void (*)(const std::uint16_t*, std::size_t, const std::uint16_t*, std::size_t,
                          const float*, std::size_t, float*, const float*) noexcept;
  static constexpr kernel by_rows[] = {micro_kernel<1>, micro_kernel<2>, micro_kernel<3>,
                                       micro_kernel<4>, micro_kernel<5>, micro_kernel<6>,
                                       micro_kernel<7>, micro_kernel<8>};
  by_rows[mr - 1](Wp, ldw, Ap, kc, Cin, ldc, Cout, scales);
}

/// Rows of INT4 codes to the bytes of the INT prefill: n rows (stride `stride` bytes) of
/// the positions [q0, q1) (multiples of 64) into out (row i at out + i·ld bytes), each
/// code as u = c ^ 8 (biased_int4_bytes), in storage order.
LOWP_W4A8_BW_TARGET inline void decode_rows_int(const std::uint8_t* codes, std::size_t stride,
                                                std::size_t n, std::size_t q0, std::size_t q1,
                                                std::uint8_t* out, std::size_t ld) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t q = q0; q < q1; q += 64) {
      const m512i u = biased_int4_bytes(codes + i * stride + q / 2);
      LOWP_X512(_mm512_storeu_si512)(out + i * ld + (q - q0), u);
    }
  }
}

/// The INT prefill micro-kernel on vpdpbusd: an MR x 32 tile (MR weight rows, 32 tokens)
/// of exact int32 sums over kc positions, kc / 4 quads.  Wp: MR rows of biased weight
/// bytes (stride ldw); Ap: kc / 4 steps of 32 tokens x 4 INT8 codes.  The tile starts
/// from Cin (null: zero) and is stored to Cout (stride ldc).
///
///   step d:  a0 = tokens 0..15, a1 = tokens 16..31, each lane the 4 codes of a token;
///            vpdpbusd(c, broadcast(the 4 weight bytes d of row r), a): c += Σ u·a
template <int MR>
LOWP_W4A8_VNNI_TARGET inline void micro_kernel_int(const std::uint8_t* Wp, std::size_t ldw,
                                                   const std::int8_t* Ap, std::size_t kc,
                                                   const std::int32_t* Cin, std::size_t ldc,
                                                   std::int32_t* Cout) noexcept {
  m512i c[MR][2];
  for (int r = 0; r < MR; ++r) {
    const std::size_t at = static_cast<std::size_t>(r) * ldc;
    c[r][0] = Cin != nullptr ? LOWP_X512(_mm512_loadu_si512)(Cin + at)
                             : LOWP_X512(_mm512_setzero_si512)();
    c[r][1] = Cin != nullptr ? LOWP_X512(_mm512_loadu_si512)(Cin + at + 16)
                             : LOWP_X512(_mm512_setzero_si512)();
  }
  for (std::size_t d = 0; d < kc / 4; ++d) {
    const m512i a0 = LOWP_X512(_mm512_loadu_si512)(Ap + 128 * d);
    const m512i a1 = LOWP_X512(_mm512_loadu_si512)(Ap + 128 * d + 64);
    for (int r = 0; r < MR; ++r) {
      std::int32_t quad;
      std::memcpy(&quad, Wp + static_cast<std::size_t>(r) * ldw + 4 * d, sizeof quad);
      const m512i w = LOWP_X512(_mm512_set1_epi32)(quad);
      c[r][0] = LOWP_X512(_mm512_dpbusd_epi32)(c[r][0], w, a0);
      c[r][1] = LOWP_X512(_mm512_dpbusd_epi32)(c[r][1], w, a1);
    }
  }
  for (int r = 0; r < MR; ++r) {
    std::int32_t* o = Cout + static_cast<std::size_t>(r) * ldc;
    LOWP_X512(_mm512_storeu_si512)(o, c[r][0]);
    LOWP_X512(_mm512_storeu_si512)(o + 16, c[r][1]);
  }
}

/// micro_kernel_int for a run-time MR in [1, 8] (a table of the 8 instantiations).
LOWP_W4A8_VNNI_TARGET inline void micro_kernel_int_n(int mr, const std::uint8_t* Wp,
                                                     std::size_t ldw, const std::int8_t* Ap,
                                                     std::size_t kc, const std::int32_t* Cin,
                                                     std::size_t ldc, std::int32_t* Cout) noexcept {
  using kernel = void (*)(const std::uint8_t*, std::size_t, const std::int8_t*, std::size_t,
                          const std::int32_t*, std::size_t, std::int32_t*) noexcept;
  static constexpr kernel by_rows[] = {
      micro_kernel_int<1>, micro_kernel_int<2>, micro_kernel_int<3>, micro_kernel_int<4>,
      micro_kernel_int<5>, micro_kernel_int<6>, micro_kernel_int<7>, micro_kernel_int<8>};
  by_rows[mr - 1](Wp, ldw, Ap, kc, Cin, ldc, Cout);
}

#else  // no AVX-512 kernels in this build

inline bool bf16_available() noexcept {
  return false;
}
inline bool vnni_available() noexcept {
  return false;
}

#endif

/// Why a forced AVX-512 path cannot run here for INT4 (int4_weights) or FP4 weights (for
/// w4a8.hpp's error messages).
inline const char* unavailable_reason(bool int4_weights) noexcept {
#if defined(LOWP_W4A8_AVX512)
  return int4_weights ? "this CPU lacks AVX-512 F/BW with AVX512-VNNI, which INT4 weights need"
                      : "this CPU lacks AVX-512 F/BW with AVX512-BF16, which FP4 weights need";
#else
  (void)int4_weights;
#if defined(LOWP_NO_SIMD)
  return "this program is compiled with LOWP_NO_SIMD";
#else
  return "the AVX-512 kernels need x86-64 and GCC 10+ or Clang 9+";
#endif
#endif
}

}  // namespace lowp::detail::w4a8_avx512
