// lowp/bulk.hpp — bulk conversions over arrays: lowp::convert, and the fused
// scale-and-cast operations lowp::convert_scaled (x * inv_scale -> codes) and
// lowp::convert_unscaled (codes -> value * scale), plain or packed; lowp::convert_stochastic
// (stochastic rounding with counter-based random bits, plain or packed); and lowp::encode,
// lowp::decode, lowp::encode_stochastic and lowp::transcode, the same conversions on raw
// code buffers (std::uint8_t, std::byte, std::uint16_t) as an engine holds them.  (The
// quantizer that computes scales, lowp::quantize, is in quantize.hpp.)
//
// Layer: bulk.  Includes cast.hpp, packed.hpp, the internal SIMD layer, detail/philox.hpp
// (the random bits of convert_stochastic) and detail/threads.hpp (the threaded loop).
//
// Every function here computes, element by element, exactly what the scalar API
// computes (lowp::cast, lowp::cast_stochastic, static_cast<float>); the SIMD fast paths
// (AVX-512, AVX2; chosen at compile time, LOWP_NO_SIMD forces the portable path; within
// them, F16C for float -> float16 only where CPUID reports it) are bit-identical to it,
// which the tests check over all 2^32 floats.  See docs/bulk.md for a guide.
//
// Threads: compiled with OpenMP, convert, convert_scaled, convert_unscaled, encode,
// decode, convert_stochastic and encode_stochastic split n >= detail::parallel_threshold
// elements into fixed chunks of 64 Ki (detail::for_each_chunk; OMP_NUM_THREADS or
// omp_set_num_threads set the thread count).  Each element's result depends only on its
// own input (and, for convert_stochastic, on (seed, i)), and every chunk runs under the
// calling thread's rounding mode and FTZ/DAZ, so the bits are the same for any thread
// count.  In-place calls (see Aliasing) stay on the calling thread, in one sequential
// pass; a call from inside a parallel region gets OpenMP's nested-region behaviour (by
// default a team of one: the chunks run in order on that thread).  Without OpenMP every
// call is one sequential loop, as before.  transcode is not threaded.
//
// Fast paths (everything else is a correct per-element loop over lowp::cast):
//   float            -> E4M3FN, E5M2, E4M3FNUZ, E5M2FNUZ, FP6 x2, FP4, int4/uint4/int8/uint8
//                       (every rounding mode and overflow policy), plain or packed
//   those formats    -> float (plain or packed)
//   float16/bfloat16 -> the formats above (decoded exactly to float, then encoded)
//   8-bit formats    -> float16/bfloat16 (a 256-entry table of the exact results)
//   float            -> float16/bfloat16, nearest even (integer bit arithmetic that the
//                       compiler vectorizes; float16 by F16C where the back-end is AVX2 or
//                       AVX-512 and the CPU has it)
//
// ODR: every public function has a last template parameter B (defaulted to the back-end
// this translation unit's compiler flags select), so translation units built with
// different -m flags instantiate differently named functions instead of conflicting
// definitions of one function.  Never pass B explicitly.
//
// Aliasing: src and dst must not overlap, with one exception: a narrowing conversion
// from float to a 1-byte type (or to packed storage) may write over its own source,
// dst == src (reinterpret_cast<T*>(float_buffer)): every block is read before any of it
// is written, and writes never pass the read position.  Partial overlap is never allowed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#if defined(__cpp_lib_span) || (__cplusplus >= 202002L && __has_include(<span>))
#include <span>
#endif

#include "cast.hpp"
#include "detail/philox.hpp"
#include "detail/simd.hpp"
#include "detail/simd_convert.hpp"
#include "detail/threads.hpp"
#include "packed.hpp"

#if defined(LOWP_SIMD_AVX2) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>  // detail::bulk::f16c_available
#endif

namespace lowp {

namespace detail::bulk {

inline void check_ptrs(const void* a, const void* b, std::size_t n, const char* fn) {
  if (n != 0 && (a == nullptr || b == nullptr))
    throw std::invalid_argument(std::string("lowp::") + fn +
                                ": null pointer with n = " + std::to_string(n));
}

inline void check_group(std::size_t g, const void* scales, std::size_t n, const char* fn) {
  if (g == 0) throw std::invalid_argument(std::string("lowp::") + fn + ": group_size must be > 0");
  if (n != 0 && scales == nullptr)
    throw std::invalid_argument(std::string("lowp::") + fn + ": null scales pointer");
}

template <class T>
inline constexpr bool is_half_v = std::is_same_v<T, float16> || std::is_same_v<T, bfloat16>;

// float16 bits -> float bits, exactly (a NaN's payload bits kept in place; half_chunk_to_float
// sets the quiet bit).
inline std::uint32_t half_to_float_bits(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
  if (e == 0x1F) return sign | 0x7F800000u | (m << 13);
  if (e != 0) return sign | ((e + 112u) << 23) | (m << 13);
  if (m == 0) return sign;
  // subnormal: m * 2^-24, normalize (m < 2^10)
  const int hb = highest_bit(m);  // 0..9
  const std::uint32_t exp = static_cast<std::uint32_t>(hb - 24 + 127);
  return sign | (exp << 23) | ((m << (23 - hb)) & 0x7FFFFFu);
}

// The code of a value: its bits() for a lowp type, the value itself for a code buffer's
// element (std::uint8_t, std::uint16_t).
template <class T>
constexpr auto code_of(const T& v) noexcept {
  if constexpr (std::is_integral_v<T>) {
    return v;
  } else {
    return v.bits();
  }
}

// From: float16 or bfloat16; Src: From itself or its code (std::uint16_t).
template <class From, class Src>
inline void half_chunk_to_float(const Src* src, float* buf, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint16_t b = code_of(src[i]);
    std::uint32_t f = std::is_same_v<From, bfloat16> ? static_cast<std::uint32_t>(b) << 16
                                                     : half_to_float_bits(b);
    // A signalling NaN comes out quiet, as from static_cast<float> and from the hardware
    // conversions (VCVTPH2PS); the encoders ignore the quiet bit.
    if ((f & 0x7F800000u) == 0x7F800000u && (f & 0x007FFFFFu) != 0) f |= 0x00400000u;
    buf[i] = bit_cast<float>(f);
  }
}

// float -> float16/bfloat16 codes, rounded to nearest even, in branch-free integer
// arithmetic that the compiler vectorizes (LOWP_SIMD_LOOP; no floating-point operation, so
// MXCSR's rounding mode and DAZ/FTZ play no part): the same bits as
// lowp::cast<To>(x, rounding::nearest_even, o) for every float x.
//
//   float     s eeeeeeee mmmmmmm mmmmmmmmmmmmmmmm
//   bfloat16  s eeeeeeee mmmmmmm                    the float's top 16 bits
//   float16   s    eeeee mmmmmmmmmm                 exponent bias 15 = float's 127 - 112
//
// With a = |x|'s bits (the sign goes back at the end):
//  1. bfloat16: a + 0x7FFF + (bit 16 of a) rounds the dropped 16 bits to nearest, ties to
//     the even kept bit; the shift by 16 keeps the rest.  A carry out of the mantissa
//     steps the exponent: 0x7F7F8000 and above become 0x7F80, Inf.
//  2. float16, normal (a >= 2^-14 = 0x38800000): the same with 13 bits dropped, after
//     subtracting 112 << 23 from the exponent.  From 65520 = 0x477FF000 up the result
//     passes 0x7C00 (Inf), and is clamped to it.
//  3. float16, subnormal (a < 2^-14): the code is |x| / 2^-24, i.e. the 24-bit significand
//     m (implicit bit set) shifted right by 126 - e, rounded to nearest even.  The shift
//     is capped at 25: below 2^-25 every float rounds to 0 (m < 2^24 = half of 2^25).
//  4. Overflow (the result at or past Inf, an Inf input included): overflow::saturate
//     gives max (0x7F7F, 0x7BFF), non_saturating Inf.
//  5. NaN (a > 0x7F800000): quiet, with the payload's top bits, as F16C's VCVTPS2PH.
//
// Out: std::uint16_t (the codes) or To itself (To::from_bits of them).  B: the back-end of
// the caller, only so that translation units built with different flags instantiate
// differently named functions (the ODR rule at the top of this file).
template <class To, class Out, class B = simd::best_backend>
inline void float_to_half_codes(const float* src, Out* dst, std::size_t n, overflow o) noexcept {
  static_assert(is_half_v<To>, "float16 or bfloat16");
  static_assert(std::is_same_v<Out, std::uint16_t> || std::is_same_v<Out, To>, "codes or To");
  using u32 = std::uint32_t;
  constexpr bool bf16 = std::is_same_v<To, bfloat16>;
  constexpr u32 inf_code = bf16 ? 0x7F80u : 0x7C00u, max_code = inf_code - 1u;
  const u32 overflow_code = o == overflow::saturate ? max_code : inf_code;
  LOWP_SIMD_LOOP
  for (std::size_t i = 0; i < n; ++i) {
    const u32 b = bit_cast<u32>(src[i]), a = b & 0x7FFFFFFFu, sign = (b >> 16) & 0x8000u;
    u32 r, nan;
    if constexpr (bf16) {
      r = (a + 0x7FFFu + ((a >> 16) & 1u)) >> 16;  // step 1
      nan = (a >> 16) | 0x0040u;                   // step 5
    } else {
      const u32 biased = a - (112u << 23);  // step 2 (meaningful for a >= 2^-14)
      const u32 normal = (biased + 0xFFFu + ((biased >> 13) & 1u)) >> 13;
      const u32 e = a >> 23, m = (a & 0x7FFFFFu) | 0x800000u;  // step 3
      // 126 - e, capped at 25, and at 14 where a is normal (the value is then unused;
      // the cap keeps the shift in range).
      const u32 sh = 126u - (e < 101u ? 101u : e > 112u ? 112u : e);
      const u32 sub = (m + (1u << (sh - 1u)) - 1u + ((m >> sh) & 1u)) >> sh;
      r = a < 0x38800000u ? sub : normal;
      r = r > inf_code ? inf_code : r;
      nan = 0x7E00u | ((a & 0x7FFFFFu) >> 13);  // step 5
    }
    r = r >= inf_code ? overflow_code : r;  // step 4
    r = a > 0x7F800000u ? nan : r;
    const auto code = static_cast<std::uint16_t>(r | sign);
    if constexpr (std::is_same_v<Out, std::uint16_t>) {
      dst[i] = code;
    } else {
      dst[i] = To::from_bits(code);
    }
  }
}

#if defined(LOWP_SIMD_AVX2) && (defined(__GNUC__) || defined(__clang__))
#define LOWP_BULK_F16C 1

/// True when this CPU has F16C (every AVX2 CPU does; a virtual machine may still hide it)
/// and the OS saves the YMM registers: CPUID leaf 1, ECX bit 29, and AVX as the compiler's
/// run-time check reads it (which includes the OS's XSAVE state; clang 14's
/// __builtin_cpu_supports knows no "f16c").
inline bool f16c_available() noexcept {
  static const bool ok = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
    return (ecx & bit_F16C) != 0 && __builtin_cpu_supports("avx");
  }();
  return ok;
}

/// The first n - n % 8 floats of src to float16 codes in dst (the bits, two bytes each), by
/// F16C's vcvtps2ph; returns how many.  The same bits as float_to_half_codes<float16>:
/// the instruction rounds to nearest even under its immediate (not MXCSR's mode), ignores
/// FTZ (tiny results stay subnormal), and under DAZ zeroes only float subnormals, which
/// round to a signed zero anyway; a NaN comes out quiet with the payload's top bits (step
/// 5); a result past 65504, or an Inf input, comes out Inf (step 4, non_saturating).  For
/// overflow::saturate the Inf codes then step down by one to max, 0x7C00 - 1 = 0x7BFF,
/// keeping the sign.  Unlike the integer encoder it is a float operation: it sets MXCSR's
/// exception flags (inexact, overflow, invalid for a signalling NaN), and traps where the
/// caller has unmasked them.
/// tests/test_formats_hw.cpp compares lowp::cast<float16> with vcvtps2ph on all 2^32 floats.
/// B: the back-end of the caller (a target attribute adds to the translation unit's flags,
/// so each back-end gets its own instantiation).
template <class B>
__attribute__((target("avx,f16c"))) inline std::size_t float_to_float16_f16c(const float* src,
                                                                             void* dst,
                                                                             std::size_t n,
                                                                             overflow o) noexcept {
  const __m128i inf = _mm_set1_epi16(0x7C00), magnitude = _mm_set1_epi16(0x7FFF);
  const __m128i saturate = o == overflow::saturate ? _mm_set1_epi16(-1) : _mm_setzero_si128();
  auto* out = static_cast<unsigned char*>(dst);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    const __m128i is_inf = _mm_cmpeq_epi16(_mm_and_si128(h, magnitude), inf);
    h = _mm_add_epi16(h, _mm_and_si128(is_inf, saturate));  // + (-1) where Inf, saturating
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i), h);
  }
  return i;
}
#endif

/// float -> To codes (float16 or bfloat16), rounded to nearest even, for the SIMD
/// back-end B: float16 goes through F16C where B is a SIMD back-end and the CPU has it,
/// everything else (and the last n % 8 elements) through float_to_half_codes.  The same
/// bits either way.  A class, so that the F16C versions are specializations that exist
/// exactly where their back-ends do; every function it calls is named by B as well.
template <class B, class To, class Out>
struct half_encoder {
  static void run(const float* src, Out* dst, std::size_t n, overflow o) noexcept {
    float_to_half_codes<To, Out, B>(src, dst, n, o);
  }
};
#if defined(LOWP_BULK_F16C)
template <class B, class Out>
struct half_encoder_f16c {
  static_assert(sizeof(Out) == 2, "two-byte codes");
  static void run(const float* src, Out* dst, std::size_t n, overflow o) noexcept {
    const std::size_t done = f16c_available() ? float_to_float16_f16c<B>(src, dst, n, o) : 0;
    float_to_half_codes<float16, Out, B>(src + done, dst + done, n - done, o);
  }
};
template <class Out>
struct half_encoder<simd::avx2_backend, float16, Out> : half_encoder_f16c<simd::avx2_backend, Out> {
};
#if defined(LOWP_SIMD_AVX512)
template <class Out>
struct half_encoder<simd::avx512_backend, float16, Out>
    : half_encoder_f16c<simd::avx512_backend, Out> {};
#endif
#endif

// 8-bit format -> float16/bfloat16: 256 exact results, one table per overflow policy
// (only E5M2's Inf depends on it: saturate turns +-Inf into +-max, as lowp::cast does).
template <class From, class To>
inline const std::uint16_t* half_table(overflow o) noexcept {
  struct tables {
    std::uint16_t t[2][256];
    tables() noexcept {
      for (unsigned p = 0; p < 2; ++p)
        for (unsigned c = 0; c < 256; ++c)
          t[p][c] = cast<To>(From::from_bits(static_cast<std::uint8_t>(c)), rounding::nearest_even,
                             p == 0 ? overflow::saturate : overflow::non_saturating)
                        .bits();
    }
  };
  static const tables tab;
  return tab.t[o == overflow::saturate ? 0 : 1];
}

// Runs body(mode, saturate) with both as compile-time constants: nearest-even/saturate
// (the common case) gets its own specialised kernel.
template <class F>
inline void dispatch_encode(round_mode m, overflow o, F&& body) {
  if (m == round_mode::nearest_even && o == overflow::saturate) {
    body(std::integral_constant<round_mode, round_mode::nearest_even>{}, std::true_type{});
  } else {
    simd::dispatch_mode(m, [&](auto mode) { body(mode, std::false_type{}); });
  }
}

// Encodes elements [first, first + count) of the n floats at src (times inv_scales[i / g],
// or one_scale when inv_scales is null, or nothing when !Scaled) into one code per byte,
// dst[i].  The specials' constants and the mode dispatch are set up once per call, not per
// group.  A range that is a chunk of a threaded call (first > 0 or count < n) starts and
// ends anywhere, groups too; its source prefetches run as they would over the whole array.
template <class B, class T, bool Scaled>
inline void encode_range(const float* src, std::uint8_t* dst, std::size_t n, std::size_t first,
                         std::size_t count, const float* inv_scales, float one_scale, std::size_t g,
                         rounding r, overflow o) noexcept {
  const round_mode m = to_mode(r);
  const simd::encode_consts k = simd::make_encode_consts<T>(m, o);
  dispatch_encode(m, o, [&](auto mode, auto sat) {
    constexpr round_mode Mode = decltype(mode)::value;
    constexpr bool Sat = decltype(sat)::value;
    if (!Scaled || inv_scales == nullptr) {  // one run, which prefetches itself
      simd::encode_run<B, T, Mode, Scaled, Sat>(src + first, dst + first, count, one_scale, k,
                                                simd::prefetch_end(n, first, count));
      return;
    }
    simd::stream_prefetcher ahead(src, n * sizeof(float), first * sizeof(float));
    const std::size_t last = first + count;
    for (std::size_t start = first; start < last;) {
      ahead.reader_at(start * sizeof(float));
      const std::size_t len = g - start % g < last - start ? g - start % g : last - start;
      simd::encode_run<B, T, Mode, true, Sat>(src + start, dst + start, len, inv_scales[start / g],
                                              k);
      start += len;
    }
  });
}

// encode_range over the whole array.
template <class B, class T, bool Scaled>
inline void encode_dispatch(const float* src, std::uint8_t* dst, std::size_t n,
                            const float* inv_scales, float one_scale, std::size_t g, rounding r,
                            overflow o) noexcept {
  encode_range<B, T, Scaled>(src, dst, n, 0, n, inv_scales, one_scale, g, r, o);
}

// The same into packed storage (element 0 of src goes to element 0 of the stream).
// float16/bfloat16 (values or codes) -> the 1-byte codes of T, through float in chunks
// (decoding a half is exact, so this is cast<T> of each value).
template <class B, class From, class T, class Src>
inline void encode_halves(const Src* src, std::uint8_t* dst, std::size_t n, rounding r,
                          overflow o) {
  constexpr std::size_t chunk = 512;
  float buf[chunk];
  for (std::size_t i = 0; i < n; i += chunk) {
    const std::size_t len = n - i < chunk ? n - i : chunk;
    half_chunk_to_float<From>(src + i, buf, len);
    encode_dispatch<B, T, false>(buf, dst + i, len, nullptr, 1.0f, 1, r, o);
  }
}

// Elements [first, first + count) of the n floats at src into packed storage (element i of
// src to element i of the stream), as encode_range.  A range that is a chunk of a threaded
// call starts at a multiple of 64 elements, so it shares no byte with another chunk.
template <class B, class T, packed_layout L, bool Scaled>
inline void encode_packed_range(const float* src, std::uint8_t* bytes, std::size_t n,
                                std::size_t first, std::size_t count, const float* inv_scales,
                                float one_scale, std::size_t g, rounding r, overflow o) noexcept {
  const round_mode m = to_mode(r);
  const simd::encode_consts k = simd::make_encode_consts<T>(m, o);
  const bool grouped = Scaled && inv_scales != nullptr;  // else one run, which prefetches itself
  dispatch_encode(m, o, [&](auto mode, auto sat) {
    constexpr round_mode Mode = decltype(mode)::value;
    constexpr bool Sat = decltype(sat)::value;
    simd::stream_prefetcher ahead(src, n * sizeof(float), first * sizeof(float));
    const std::size_t last = first + count;
    for (std::size_t start = first; start < last;) {
      ahead.reader_at(start * sizeof(float));
      const std::size_t len =
          grouped && g - start % g < last - start ? g - start % g : last - start;
      const float sc = grouped ? inv_scales[start / g] : one_scale;
      const std::size_t pf_end =
          grouped ? simd::prefetch_end(len) : simd::prefetch_end(n, start, len);
      if constexpr (packed_bits_v<T> == 4) {
        simd::encode_run_nib<B, T, L, Mode, Scaled, Sat>(src + start, bytes, start, len, sc, k,
                                                         pf_end);
      } else {  // FP6: encoded and packed in registers
        simd::encode_run_fp6<B, T, Mode, Scaled, Sat>(src + start, bytes, start, len, sc, k,
                                                      pf_end);
      }
      start += len;
    }
  });
}

// encode_packed_range over the whole array.
template <class B, class T, packed_layout L, bool Scaled>
inline void encode_packed_dispatch(const float* src, std::uint8_t* bytes, std::size_t n,
                                   const float* inv_scales, float one_scale, std::size_t g,
                                   rounding r, overflow o) noexcept {
  encode_packed_range<B, T, L, Scaled>(src, bytes, n, 0, n, inv_scales, one_scale, g, r, o);
}

template <class B, class T, packed_layout L, bool Scaled>
inline void decode_packed_run(const std::uint8_t* bytes, std::size_t first, float* dst,
                              std::size_t n, float scale) noexcept {
  if constexpr (packed_bits_v<T> == 4) {
    simd::decode_run_nib<B, T, L, Scaled>(bytes, first, dst, n, scale);
  } else {  // FP6 (one layout: L is low_nibble_first, packed.hpp)
    simd::decode_run_fp6<B, T, Scaled>(bytes, first, dst, n, scale);
  }
}

// ---- Threads ---------------------------------------------------------------------------
//
// A call over n >= parallel_threshold elements runs in fixed chunks of chunk_elems on
// OpenMP's threads (detail::for_each_chunk); every element is computed by the same
// function of its own input wherever its chunk runs, so the results are the same bits for
// any thread count (and, without OpenMP, the call is the one sequential loop it always
// was).  An in-place call (the output's bytes overlap the input's: the narrowing
// dst == src of the file comment) stays on the calling thread, in one piece: its
// correctness rests on every block being read before it is written, which holds in one
// sequential pass, not when a thread writes the bytes of floats another has yet to read.

// Elements per chunk: a multiple of 64, so that no chunk boundary splits a byte of packed
// storage (two 4-bit codes, or four FP6 codes in three bytes) or a SIMD step (at most 64
// floats); 64 Ki elements (256 KiB of floats) is 10 us or more of work per chunk (at the
// fastest paths' few G elements/s), against a few for starting a parallel region.  Per-group forms
// split groups at chunk boundaries (each element still takes the scale of its own group, i / g).
inline constexpr std::size_t chunk_elems = std::size_t{1} << 16;
static_assert(chunk_elems % 64 == 0, "chunks must not split packed bytes");

// Whether the byte ranges [a, a + a_bytes) and [b, b + b_bytes) share a byte.  Compared as
// addresses (std::uintptr_t): the two pointers need not point into one array.
inline bool overlaps(const void* a, std::size_t a_bytes, const void* b,
                     std::size_t b_bytes) noexcept {
  const auto x = reinterpret_cast<std::uintptr_t>(a), y = reinterpret_cast<std::uintptr_t>(b);
  return a_bytes != 0 && b_bytes != 0 && x < y + b_bytes && y < x + a_bytes;
}

// Runs body(first, count) over [0, n): chunk by chunk on OpenMP's threads when compiled
// with OpenMP, n >= parallel_threshold and !in_place, each chunk under the calling
// thread's floating-point control state (simd::fp_control: the scaled forms' multiplies
// round as on the caller); otherwise body(0, n), once, on the calling thread.
template <class F>
inline void run_chunks(std::size_t n, bool in_place, F&& body) {
#if defined(_OPENMP)
  if (!in_place && n >= parallel_threshold && n > chunk_elems) {
    const simd::fp_control caller = simd::fp_control::current();
    for_each_chunk(n, chunk_elems, [&](std::size_t first, std::size_t count) {
      const simd::fp_control_scope as_caller(caller);
      body(first, count);
    });
    return;
  }
#else
  (void)in_place;
#endif
  body(std::size_t{0}, n);
}

// Elements [first, first + count) of convert_stochastic: store(i, cast_stochastic<To>(
// src[i], stochastic_bits(seed, i), o)).  One Philox call gives the bits of four elements
// (stochastic_bits4), so the bits of a block are generated into a buffer first, then one
// loop rounds; the words are the same as stochastic_bits(seed, i) element by element.
template <class To, class Store>
inline void stochastic_range(const float* src, std::size_t first, std::size_t count,
                             std::uint64_t seed, overflow o, Store&& store) noexcept {
  constexpr std::size_t block = 256;  // elements per buffer, a multiple of 4
  std::uint32_t bits[block];
  const std::size_t last = first + count;
  for (std::size_t i = first; i < last;) {
    const std::size_t base = i - i % 4;  // bits[j - base] is element j's word
    const std::size_t end = last - base < block ? last : base + block;
    for (std::size_t q = base; q < end; q += 4) {
      const std::array<std::uint32_t, 4> w = stochastic_bits4(seed, q / 4);
      for (std::size_t j = 0; j < 4; ++j) bits[q - base + j] = w[j];
    }
    for (; i < end; ++i) store(i, cast_stochastic<To>(src[i], bits[i - base], o));
  }
}

// Elements [first, first + count) of convert(src, dst, n, r, o).
template <class B, class From, class To>
inline void convert_range(const From* src, To* dst, std::size_t n, std::size_t first,
                          std::size_t count, rounding r, overflow o) {
  namespace s = simd;
  if constexpr (std::is_same_v<From, float> && s::kernel_v<To>) {
    static_assert(sizeof(To) == 1);
    encode_range<B, To, false>(src, reinterpret_cast<std::uint8_t*>(dst), n, first, count, nullptr,
                               1.0f, 1, r, o);
  } else if constexpr (is_half_v<From> && s::kernel_v<To>) {
    encode_halves<B, From, To>(src + first, reinterpret_cast<std::uint8_t*>(dst + first), count, r,
                               o);
  } else if constexpr (s::kernel_v<From> && std::is_same_v<To, float>) {
    static_assert(sizeof(From) == 1);
    const auto* codes = reinterpret_cast<const std::uint8_t*>(src);
    // Decoding into float is exact: the overflow policy does not apply (as lowp::cast).
    (void)o;
    s::decode_run<B, From, false>(codes + first, dst + first, count, 1.0f);
  } else if constexpr (is_lowp_float_v<From> && sizeof(From) == 1 && is_half_v<To>) {
    const std::uint16_t* t = half_table<From, To>(o);
    for (std::size_t i = first; i < first + count; ++i) dst[i] = To::from_bits(t[src[i].bits()]);
  } else if constexpr (std::is_same_v<From, float> && is_half_v<To>) {
    if (r == rounding::nearest_even) {
      half_encoder<B, To, To>::run(src + first, dst + first, count, o);
    } else {
      for (std::size_t i = first; i < first + count; ++i) dst[i] = cast<To>(src[i], r, o);
    }
  } else {
    for (std::size_t i = first; i < first + count; ++i) dst[i] = cast<To>(src[i], r, o);
  }
}

}  // namespace detail::bulk

/// Converts n elements: dst[i] = lowp::cast<To>(src[i], r, o) for every i < n.
///
/// From, To: float, double, or any lowp type (From may also be an integer type, as for
/// lowp::cast).  Same results as lowp::cast element by element, bit for bit, including
/// NaN, Inf, -0 and saturation (decoding a lowp type into float is exact and ignores
/// the overflow policy: an E5M2/FP16 Inf stays Inf, as with lowp::cast<float>).
/// n == 0 does nothing.  Threaded over large n (see the file comment), with the same bits.
/// Throws std::invalid_argument when n > 0 and src or dst is null.  Overlap: see the file
/// comment (dst == src is allowed for float -> 1-byte types only).
template <class From, class To, class B = detail::simd::best_backend>
void convert(const From* src, To* dst, std::size_t n, rounding r = rounding::nearest_even,
             overflow o = overflow::saturate) {
  detail::bulk::check_ptrs(src, dst, n, "convert");
  const bool in_place = detail::bulk::overlaps(src, n * sizeof(From), dst, n * sizeof(To));
  detail::bulk::run_chunks(n, in_place, [&](std::size_t first, std::size_t count) {
    detail::bulk::convert_range<B>(src, dst, n, first, count, r, o);
  });
}

/// Encodes src[0 .. dst.size()) into packed storage: element i = cast<To>(src[i], r, o).
/// src must hold dst.size() floats (throws std::invalid_argument when it is null and
/// dst is not empty).  Only dst's elements' bits are written.
template <class To, packed_layout L, class B = detail::simd::best_backend>
void convert(const float* src, packed_span<To, L> dst, rounding r = rounding::nearest_even,
             overflow o = overflow::saturate) {
  static_assert(!std::is_const_v<To>, "convert: the destination span must be mutable");
  const std::size_t n = dst.size();
  detail::bulk::check_ptrs(src, dst.data(), n, "convert");
  const bool in_place =
      detail::bulk::overlaps(src, n * sizeof(float), dst.data(), dst.size_in_bytes());
  detail::bulk::run_chunks(n, in_place, [&](std::size_t first, std::size_t count) {
    detail::bulk::encode_packed_range<B, To, L, false>(src, dst.data(), n, first, count, nullptr,
                                                       1.0f, 1, r, o);
  });
}

/// Decodes packed storage: dst[i] = cast<To>(src[i], r, o) for i < src.size() (To float:
/// exact).  dst must hold src.size() elements (throws std::invalid_argument when src is
/// not empty and either pointer is null).
template <class From, packed_layout L, class To, class B = detail::simd::best_backend>
void convert(packed_span<From, L> src, To* dst, rounding r = rounding::nearest_even,
             overflow o = overflow::saturate) {
  using F = std::remove_const_t<From>;
  const std::size_t n = src.size();
  detail::bulk::check_ptrs(src.data(), dst, n, "convert");
  const bool in_place =
      detail::bulk::overlaps(src.data(), src.size_in_bytes(), dst, n * sizeof(To));
  detail::bulk::run_chunks(n, in_place, [&](std::size_t first, std::size_t count) {
    if constexpr (std::is_same_v<To, float>) {
      (void)r;
      (void)o;  // 4- and 6-bit values are exact in float and never Inf
      detail::bulk::decode_packed_run<B, F, L, false>(src.data(), first, dst + first, count, 1.0f);
    } else {
      for (std::size_t i = first; i < first + count; ++i) dst[i] = cast<To>(src.get(i), r, o);
    }
  });
}

#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L
/// std::span form of convert(src.data(), dst.data(), n): throws std::invalid_argument
/// when src.size() != dst.size().
template <class From, std::size_t E1, class To, std::size_t E2,
          class B = detail::simd::best_backend>
void convert(std::span<From, E1> src, std::span<To, E2> dst, rounding r = rounding::nearest_even,
             overflow o = overflow::saturate) {
  static_assert(!std::is_const_v<To>, "convert: the destination span must be mutable");
  if (src.size() != dst.size())
    throw std::invalid_argument("lowp::convert: source has " + std::to_string(src.size()) +
                                " elements, destination " + std::to_string(dst.size()));
  convert<std::remove_const_t<From>, To, B>(src.data(), dst.data(), src.size(), r, o);
}
#endif

// ------------------------------------------------------------------------------------
// Fused scale-and-cast: the caller's scales, applied with one multiply on the float side.
//
// Exact arithmetic (so results are reproducible and match a scalar reference):
//   convert_scaled:   q[i] = lowp::cast<To>(x[i] * inv_scale_of(i), r, o)
//                     where x[i] * inv_scale is ONE IEEE binary32 multiply (rounded to
//                     nearest even under the default floating-point environment), then
//                     one conversion.
//   convert_unscaled: y[i] = static_cast<float>(q[i]) * scale_of(i)  (one binary32 multiply)
// With groups, scale_of(i) = scales[i / group_size]; scales must hold
// ceil(n / group_size) values.  Pass the reciprocal (inv_scale) to convert_scaled, the
// scale itself to convert_unscaled: the library never divides, so you decide how 1/scale
// is rounded.
// A NaN or Inf scale is not rejected: it simply propagates through the multiply.
// Throws std::invalid_argument for group_size == 0 or null pointers with n > 0.
// ------------------------------------------------------------------------------------

namespace detail::bulk {

// Elements [first, first + count) of convert_scaled.
template <class B, class To>
inline void convert_scaled_range(const float* x, To* q, std::size_t n, std::size_t first,
                                 std::size_t count, const float* inv_scales, float one_scale,
                                 std::size_t g, rounding r, overflow o) {
  if constexpr (simd::kernel_v<To>) {
    encode_range<B, To, true>(x, reinterpret_cast<std::uint8_t*>(q), n, first, count, inv_scales,
                              one_scale, g, r, o);
  } else {
    for (std::size_t i = first; i < first + count; ++i)
      q[i] = cast<To>(x[i] * (inv_scales ? inv_scales[i / g] : one_scale), r, o);
  }
}

template <class B, class To>
void convert_scaled_impl(const float* x, To* q, std::size_t n, const float* inv_scales,
                         float one_scale, std::size_t g, rounding r, overflow o) {
  const bool in_place = overlaps(x, n * sizeof(float), q, n * sizeof(To));
  run_chunks(n, in_place, [&](std::size_t first, std::size_t count) {
    convert_scaled_range<B>(x, q, n, first, count, inv_scales, one_scale, g, r, o);
  });
}

// Elements [first, first + count) of convert_unscaled (scales null: one_scale for all).
template <class B, class From>
inline void convert_unscaled_range(const From* q, float* y, std::size_t first, std::size_t count,
                                   const float* scales, float one_scale, std::size_t g) {
  const std::size_t last = first + count;
  for (std::size_t start = first; start < last;) {
    const std::size_t len =
        scales != nullptr && g - start % g < last - start ? g - start % g : last - start;
    const float s = scales ? scales[start / g] : one_scale;
    if constexpr (simd::kernel_v<From>) {
      simd::decode_run<B, From, true>(reinterpret_cast<const std::uint8_t*>(q + start), y + start,
                                      len, s);
    } else {
      for (std::size_t i = start; i < start + len; ++i) y[i] = static_cast<float>(q[i]) * s;
    }
    start += len;
  }
}

template <class B, class From>
void convert_unscaled_impl(const From* q, float* y, std::size_t n, const float* scales,
                           float one_scale, std::size_t g) {
  const bool in_place = overlaps(q, n * sizeof(From), y, n * sizeof(float));
  run_chunks(n, in_place, [&](std::size_t first, std::size_t count) {
    convert_unscaled_range<B>(q, y, first, count, scales, one_scale, g);
  });
}

// Elements [first, first + count) of the packed convert_unscaled.
template <class B, class F, packed_layout L>
inline void decode_packed_scaled_range(const std::uint8_t* bytes, float* y, std::size_t first,
                                       std::size_t count, const float* scales, float one_scale,
                                       std::size_t g) noexcept {
  const std::size_t last = first + count;
  for (std::size_t start = first; start < last;) {
    const std::size_t len =
        scales != nullptr && g - start % g < last - start ? g - start % g : last - start;
    decode_packed_run<B, F, L, true>(bytes, start, y + start, len,
                                     scales ? scales[start / g] : one_scale);
    start += len;
  }
}

}  // namespace detail::bulk

/// q[i] = cast<To>(x[i] * inv_scale, r, o) for i < n (To: any lowp type).
template <class To, class B = detail::simd::best_backend>
void convert_scaled(const float* x, To* q, std::size_t n, float inv_scale,
                    rounding r = rounding::nearest_even, overflow o = overflow::saturate) {
  static_assert(is_lowp_type_v<To>, "convert_scaled: the destination must be a lowp type");
  detail::bulk::check_ptrs(x, q, n, "convert_scaled");
  detail::bulk::convert_scaled_impl<B>(x, q, n, nullptr, inv_scale, n == 0 ? 1 : n, r, o);
}

/// q[i] = cast<To>(x[i] * inv_scales[i / group_size], r, o) for i < n.
template <class To, class B = detail::simd::best_backend>
void convert_scaled(const float* x, To* q, std::size_t n, const float* inv_scales,
                    std::size_t group_size, rounding r = rounding::nearest_even,
                    overflow o = overflow::saturate) {
  static_assert(is_lowp_type_v<To>, "convert_scaled: the destination must be a lowp type");
  detail::bulk::check_ptrs(x, q, n, "convert_scaled");
  detail::bulk::check_group(group_size, inv_scales, n, "convert_scaled");
  detail::bulk::convert_scaled_impl<B>(x, q, n, inv_scales, 0.0f, group_size, r, o);
}

/// Packed destination: element i of q = cast<To>(x[i] * inv_scale, r, o), i < q.size().
template <class To, packed_layout L, class B = detail::simd::best_backend>
void convert_scaled(const float* x, packed_span<To, L> q, float inv_scale,
                    rounding r = rounding::nearest_even, overflow o = overflow::saturate) {
  static_assert(!std::is_const_v<To>, "convert_scaled: the destination span must be mutable");
  const std::size_t n = q.size();
  detail::bulk::check_ptrs(x, q.data(), n, "convert_scaled");
  const bool in_place = detail::bulk::overlaps(x, n * sizeof(float), q.data(), q.size_in_bytes());
  detail::bulk::run_chunks(n, in_place, [&](std::size_t first, std::size_t count) {
    detail::bulk::encode_packed_range<B, To, L, true>(x, q.data(), n, first, count, nullptr,
                                                      inv_scale, 1, r, o);
  });
}

/// Packed destination with one inverse scale per group of group_size elements.
template <class To, packed_layout L, class B = detail::simd::best_backend>
void convert_scaled(const float* x, packed_span<To, L> q, const float* inv_scales,
                    std::size_t group_size, rounding r = rounding::nearest_even,
                    overflow o = overflow::saturate) {
  static_assert(!std::is_const_v<To>, "convert_scaled: the destination span must be mutable");
  const std::size_t n = q.size();
  detail::bulk::check_ptrs(x, q.data(), n, "convert_scaled");
  detail::bulk::check_group(group_size, inv_scales, n, "convert_scaled");
  const bool in_place = detail::bulk::overlaps(x, n * sizeof(float), q.data(), q.size_in_bytes());
  detail::bulk::run_chunks(n, in_place, [&](std::size_t first, std::size_t count) {
    detail::bulk::encode_packed_range<B, To, L, true>(x, q.data(), n, first, count, inv_scales,
                                                      0.0f, group_size, r, o);
  });
}

/// y[i] = static_cast<float>(q[i]) * scale for i < n (From: any lowp type).
template <class From, class B = detail::simd::best_backend>
void convert_unscaled(const From* q, float* y, std::size_t n, float scale) {
  static_assert(is_lowp_type_v<From>, "convert_unscaled: the source must be a lowp type");
  detail::bulk::check_ptrs(q, y, n, "convert_unscaled");
  detail::bulk::convert_unscaled_impl<B>(q, y, n, nullptr, scale, n == 0 ? 1 : n);
}

/// y[i] = static_cast<float>(q[i]) * scales[i / group_size] for i < n.
template <class From, class B = detail::simd::best_backend>
void convert_unscaled(const From* q, float* y, std::size_t n, const float* scales,
                      std::size_t group_size) {
  static_assert(is_lowp_type_v<From>, "convert_unscaled: the source must be a lowp type");
  detail::bulk::check_ptrs(q, y, n, "convert_unscaled");
  detail::bulk::check_group(group_size, scales, n, "convert_unscaled");
  detail::bulk::convert_unscaled_impl<B>(q, y, n, scales, 0.0f, group_size);
}

/// Packed source: y[i] = static_cast<float>(q[i]) * scale for i < q.size().
template <class From, packed_layout L, class B = detail::simd::best_backend>
void convert_unscaled(packed_span<From, L> q, float* y, float scale) {
  using F = std::remove_const_t<From>;
  const std::size_t n = q.size();
  detail::bulk::check_ptrs(q.data(), y, n, "convert_unscaled");
  const bool in_place = detail::bulk::overlaps(q.data(), q.size_in_bytes(), y, n * sizeof(float));
  detail::bulk::run_chunks(n, in_place, [&](std::size_t first, std::size_t count) {
    detail::bulk::decode_packed_run<B, F, L, true>(q.data(), first, y + first, count, scale);
  });
}

/// Packed source with one scale per group of group_size elements.
template <class From, packed_layout L, class B = detail::simd::best_backend>
void convert_unscaled(packed_span<From, L> q, float* y, const float* scales,
                      std::size_t group_size) {
  using F = std::remove_const_t<From>;
  const std::size_t n = q.size();
  detail::bulk::check_ptrs(q.data(), y, n, "convert_unscaled");
  detail::bulk::check_group(group_size, scales, n, "convert_unscaled");
  const bool in_place = detail::bulk::overlaps(q.data(), q.size_in_bytes(), y, n * sizeof(float));
  detail::bulk::run_chunks(n, in_place, [&](std::size_t first, std::size_t count) {
    detail::bulk::decode_packed_scaled_range<B, F, L>(q.data(), y, first, count, scales, 0.0f,
                                                      group_size);
  });
}

// ------------------------------------------------------------------------------------
// Stochastic rounding in bulk: lowp::cast_stochastic with counter-based random bits.
//
//   convert_stochastic(src, dst, n, seed, o):
//     dst[i] = lowp::cast_stochastic<To>(src[i], detail::stochastic_bits(seed, i), o)
//
// detail::stochastic_bits(seed, i) is word i % 4 of Philox4x32-10 (detail/philox.hpp) of
// the counter (i / 4, 0, 0) under the key `seed`: a function of (seed, i) alone, so the
// result does not depend on the thread count, the chunking or the SIMD width, and a
// scalar loop over cast_stochastic with those bits reproduces it bit for bit.  Element i
// of a call is element i of the array passed: a caller that converts a tensor in several
// calls gets independent draws per call only with a distinct seed per call (or by
// passing the whole tensor once).  The rounding is unbiased: E[result] = src[i] for
// every value between two finite codes (cast_stochastic rounds away from the truncated
// code with probability equal to the discarded fraction of an ulp, to 2^-32).  Overflow,
// NaN and the other specials follow cast_stochastic, i.e. cast<To>.
// ------------------------------------------------------------------------------------

/// dst[i] = cast_stochastic<To>(src[i], detail::stochastic_bits(seed, i), o) for i < n.
/// To: any lowp type (FP8, FP6, FP4, E8M0, float16, bfloat16, the integers; packed
/// storage: the overload below).  Every seed is valid; the same (src, n, seed, o) give
/// the same bits on any thread count.  Threaded over large n (see the file comment).
/// Throws std::invalid_argument when n > 0 and src or dst is null.  Overlap: as convert()
/// (dst == src is allowed for 1-byte To).
template <class To, class B = detail::simd::best_backend>
void convert_stochastic(const float* src, To* dst, std::size_t n, std::uint64_t seed,
                        overflow o = overflow::saturate) {
  static_assert(is_lowp_type_v<To>, "convert_stochastic: the destination must be a lowp type");
  detail::bulk::check_ptrs(src, dst, n, "convert_stochastic");
  const bool in_place = detail::bulk::overlaps(src, n * sizeof(float), dst, n * sizeof(To));
  detail::bulk::run_chunks(n, in_place, [&](std::size_t first, std::size_t count) {
    detail::bulk::stochastic_range<To>(src, first, count, seed, o,
                                       [dst](std::size_t i, To v) noexcept { dst[i] = v; });
  });
}

/// Packed destination: element i of dst = cast_stochastic<To>(src[i],
/// detail::stochastic_bits(seed, i), o) for i < dst.size(); src must hold dst.size()
/// floats.  Only dst's elements' bits are written.  Throws std::invalid_argument when dst
/// is not empty and src or dst.data() is null.  dst may write over src (as convert()).
template <class To, packed_layout L, class B = detail::simd::best_backend>
void convert_stochastic(const float* src, packed_span<To, L> dst, std::uint64_t seed,
                        overflow o = overflow::saturate) {
  static_assert(!std::is_const_v<To>, "convert_stochastic: the destination span must be mutable");
  const std::size_t n = dst.size();
  detail::bulk::check_ptrs(src, dst.data(), n, "convert_stochastic");
  const bool in_place =
      detail::bulk::overlaps(src, n * sizeof(float), dst.data(), dst.size_in_bytes());
  std::uint8_t* const bytes = dst.data();
  detail::bulk::run_chunks(n, in_place, [&](std::size_t first, std::size_t count) {
    detail::bulk::stochastic_range<To>(src, first, count, seed, o,
                                       [bytes](std::size_t i, To v) noexcept {
                                         detail::packed_store_code<To, L>(bytes, i, v.bits());
                                       });
  });
}

// =======================================================================================
// Code buffers: the same conversions on the raw storage an engine holds
// =======================================================================================
//
// An engine keeps FP8 tensors as std::uint8_t or std::byte buffers and FP16/BF16 ones as
// std::uint16_t (the bits of CUDA's __half / __nv_bfloat16).  Reading such a buffer through
// a float8_e4m3fn* is not allowed by C++'s aliasing rules (there is no float8_e4m3fn object
// there); these functions take the buffers as they are, with F named explicitly, and run
// the same SIMD kernels as convert().  One code per storage unit: code_t<F> is std::uint8_t
// for the 8-bit and narrower formats (4- and 6-bit codes in the low bits of their byte;
// two FP4 codes per byte: packed_span, packed.hpp) and std::uint16_t for float16/bfloat16.

/// The storage unit of one code of the lowp type F.
template <class F>
using code_t = typename F::storage_type;

/// dst[i] = lowp::cast<F>(src[i], r, o).bits() for i < n.  Throws std::invalid_argument
/// when n > 0 and src or dst is null.  dst == src is allowed for 1-byte F (as convert()).
template <class F, class B = detail::simd::best_backend>
void encode(const float* src, code_t<F>* dst, std::size_t n, rounding r = rounding::nearest_even,
            overflow o = overflow::saturate) {
  static_assert(is_lowp_type_v<F>, "encode<F>: F must be a lowp type");
  detail::bulk::check_ptrs(src, dst, n, "encode");
  const bool in_place = detail::bulk::overlaps(src, n * sizeof(float), dst, n * sizeof(code_t<F>));
  detail::bulk::run_chunks(n, in_place, [&](std::size_t first, std::size_t count) {
    if constexpr (detail::simd::kernel_v<F>) {
      detail::bulk::encode_range<B, F, false>(src, dst, n, first, count, nullptr, 1.0f, 1, r, o);
    } else if constexpr (detail::bulk::is_half_v<F>) {
      if (r == rounding::nearest_even) {
        detail::bulk::half_encoder<B, F, std::uint16_t>::run(src + first, dst + first, count, o);
      } else {
        for (std::size_t i = first; i < first + count; ++i) dst[i] = cast<F>(src[i], r, o).bits();
      }
    } else {
      for (std::size_t i = first; i < first + count; ++i) dst[i] = cast<F>(src[i], r, o).bits();
    }
  });
}

/// dst[i] = static_cast<float>(F::from_bits(src[i])) for i < n: exact.  Threaded over
/// large n (see the file comment).  Throws std::invalid_argument when n > 0 and src or
/// dst is null.
template <class F, class B = detail::simd::best_backend>
void decode(const code_t<F>* src, float* dst, std::size_t n) {
  static_assert(is_lowp_type_v<F>, "decode<F>: F must be a lowp type");
  detail::bulk::check_ptrs(src, dst, n, "decode");
  const bool in_place = detail::bulk::overlaps(src, n * sizeof(code_t<F>), dst, n * sizeof(float));
  detail::bulk::run_chunks(n, in_place, [&](std::size_t first, std::size_t count) {
    if constexpr (detail::simd::kernel_v<F>) {
      detail::simd::decode_run<B, F, false>(src + first, dst + first, count, 1.0f);
    } else if constexpr (detail::bulk::is_half_v<F>) {
      detail::bulk::half_chunk_to_float<F>(src + first, dst + first, count);
    } else {
      for (std::size_t i = first; i < first + count; ++i)
        dst[i] = static_cast<float>(F::from_bits(src[i]));
    }
  });
}

/// encode() into a std::byte buffer (1-byte formats).
template <class F, class B = detail::simd::best_backend,
          std::enable_if_t<sizeof(code_t<F>) == 1, int> = 0>
void encode(const float* src, std::byte* dst, std::size_t n, rounding r = rounding::nearest_even,
            overflow o = overflow::saturate) {
  // std::uint8_t is unsigned char here, a type through which any object may be accessed.
  encode<F, B>(src, reinterpret_cast<std::uint8_t*>(dst), n, r, o);
}

/// decode() from a std::byte buffer (1-byte formats).
template <class F, class B = detail::simd::best_backend,
          std::enable_if_t<sizeof(code_t<F>) == 1, int> = 0>
void decode(const std::byte* src, float* dst, std::size_t n) {
  decode<F, B>(reinterpret_cast<const std::uint8_t*>(src), dst, n);
}

/// convert_stochastic() into a code buffer: dst[i] = cast_stochastic<F>(src[i],
/// detail::stochastic_bits(seed, i), o).bits() for i < n (the same bits as
/// convert_stochastic<F>).  F: any lowp type (packed 4-bit/FP6 storage: the packed_span
/// overload of convert_stochastic).  Throws std::invalid_argument when n > 0 and src or
/// dst is null.  dst == src is allowed for 1-byte F (as encode()).
template <class F, class B = detail::simd::best_backend>
void encode_stochastic(const float* src, code_t<F>* dst, std::size_t n, std::uint64_t seed,
                       overflow o = overflow::saturate) {
  static_assert(is_lowp_type_v<F>, "encode_stochastic<F>: F must be a lowp type");
  detail::bulk::check_ptrs(src, dst, n, "encode_stochastic");
  const bool in_place = detail::bulk::overlaps(src, n * sizeof(float), dst, n * sizeof(code_t<F>));
  detail::bulk::run_chunks(n, in_place, [&](std::size_t first, std::size_t count) {
    detail::bulk::stochastic_range<F>(src, first, count, seed, o,
                                      [dst](std::size_t i, F v) noexcept { dst[i] = v.bits(); });
  });
}

/// encode_stochastic() into a std::byte buffer (1-byte formats).
template <class F, class B = detail::simd::best_backend,
          std::enable_if_t<sizeof(code_t<F>) == 1, int> = 0>
void encode_stochastic(const float* src, std::byte* dst, std::size_t n, std::uint64_t seed,
                       overflow o = overflow::saturate) {
  encode_stochastic<F, B>(src, reinterpret_cast<std::uint8_t*>(dst), n, seed, o);
}

/// Codes of From to codes of To: dst[i] = cast<To>(From::from_bits(src[i]), r, o).bits()
/// for i < n, e.g. FP16 activations (std::uint16_t) to FP8 codes, or FP8 codes to BF16.
/// Throws std::invalid_argument when n > 0 and src or dst is null.
template <class From, class To, class B = detail::simd::best_backend>
void transcode(const code_t<From>* src, code_t<To>* dst, std::size_t n,
               rounding r = rounding::nearest_even, overflow o = overflow::saturate) {
  static_assert(is_lowp_type_v<From> && is_lowp_type_v<To>,
                "transcode<From, To>: both must be lowp types");
  detail::bulk::check_ptrs(src, dst, n, "transcode");
  if constexpr (detail::bulk::is_half_v<From> && detail::simd::kernel_v<To>) {
    detail::bulk::encode_halves<B, From, To>(src, dst, n, r, o);
  } else if constexpr (is_lowp_float_v<From> && sizeof(code_t<From>) == 1 &&
                       detail::bulk::is_half_v<To>) {
    const std::uint16_t* t = detail::bulk::half_table<From, To>(o);
    for (std::size_t i = 0; i < n; ++i) dst[i] = t[src[i]];
  } else {
    for (std::size_t i = 0; i < n; ++i) dst[i] = cast<To>(From::from_bits(src[i]), r, o).bits();
  }
}

/// The SIMD back-end the bulk functions were compiled with: "avx512", "avx2" or "scalar".
template <class B = detail::simd::best_backend>
constexpr const char* bulk_backend_name() noexcept {
  return B::name;
}

}  // namespace lowp
