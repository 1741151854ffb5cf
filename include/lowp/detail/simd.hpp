// lowp/detail/simd.hpp — the internal SIMD layer: three back-ends with one interface.
//
// Layer: bulk (internal).  Includes config.hpp and, where the compiler targets them, the
// x86 intrinsics headers.  Nothing here is public API.
//
// Every bulk kernel (detail/simd_convert.hpp) is written once, as a template over a
// back-end B that supplies 32-bit lanes and these operations:
//
//   B::width                      lanes per vector (1, 8 or 16)
//   B::vec / B::mask              a vector of uint32 lanes / a per-lane boolean
//   set1, add, sub, and_, or_, srli<n>, slli<n>, srlv, sllv, min_u, max_u,
//   gt_u (unsigned >), eq, select(m, a, b) (= m ? a : b), mand/mor/mnot/any (masks),
//   cvt_rne_i32 (float -> int32, nearest-even
//   whatever MXCSR says),
//   mul_f32 (lanes as floats),
//   cvt_i32_f32 (signed int lanes -> float bits), permute8 (table[idx & 7]),
//   load_f32 / store_f32, load_u8 / store_u8 (one byte per lane, zero-extended /
//   truncated), load_nib / store_nib (two 4-bit codes per byte, width/2 bytes).
//
// The back-ends: `scalar_backend` (always present: one lane in a uint32_t; it is also
// the fast scalar path and the tail loop of the vector back-ends), `avx2_backend`
// (__AVX2__) and `avx512_backend` (__AVX512F__ + __AVX512BW__ + __AVX512VL__).  The
// choice is made at compile time from the compiler's target macros (-mavx2,
// -march=native, ...); defining LOWP_NO_SIMD before including any lowp header forces the
// scalar back-end.  Because the kernels are one template, the vector paths compute the
// same integer function lane by lane as the scalar path; the tests still check every
// path against the generic converter (lowp::cast), which shares no code with them.
//
// All back-end operations are integer operations except mul_f32 (an IEEE binary32
// multiply, the same operation a scalar `float * float` is on x86-64), cvt_i32_f32
// (exact for the small integers it is used on) and cvt_rne_i32 (nearest-even fixed by
// the instruction's immediate, not by MXCSR; the scalar version is integer-only), so
// results do not depend on MXCSR's rounding mode or DAZ/FTZ except where a multiply by
// a scale is asked for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../config.hpp"

#if !defined(LOWP_NO_SIMD) && (defined(__x86_64__) || defined(_M_X64) || defined(__i386__))
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define LOWP_SIMD_AVX512 1
#endif
#if defined(__AVX2__)
#define LOWP_SIMD_AVX2 1
#endif
#if defined(LOWP_SIMD_AVX512) || defined(LOWP_SIMD_AVX2)
// GCC 12's AVX-512 intrinsics seed their results with _mm512_undefined_epi32(), which
// trips a false -Wmaybe-uninitialized once inlined (GCC PR 105593, fixed in GCC 13).
// Diagnostic state is tracked by source location, so ignoring it around the include
// silences exactly those header lines and nothing of the user's code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif
#endif

namespace lowp::detail::simd {

// ---------------------------------------------------------------------------------
// Reading a long array ahead of a kernel.  The encoders do 20-30 cycles of work per 64
// floats; on arrays far larger than L2 the hardware prefetchers alone left that work
// and the memory latency unoverlapped (float -> E4M3 from 256 MiB ran at 62-67% of the
// copy roofline; with this, 83-85%: docs/performance.md).  Requests go to L2 (T1 hint),
// `distance` bytes ahead of the reader, one per 64-byte line; arrays under `min_bytes`
// are left to the hardware.  Only addresses inside the array are formed.
// ---------------------------------------------------------------------------------
inline void prefetch_l2(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0, 2);
#else
  (void)p;
#endif
}

class stream_prefetcher {
 public:
  static constexpr std::size_t distance = 16384;
  static constexpr std::size_t min_bytes = std::size_t{1} << 21;

  stream_prefetcher(const void* base, std::size_t bytes) noexcept
      : p_(static_cast<const char*>(base)), end_(bytes >= min_bytes ? bytes : 0) {}

  /// The reader is at byte `pos` of the array: request every line up to pos + distance.
  void reader_at(std::size_t pos) noexcept {
    if (pos >= end_) return;  // also when off
    const std::size_t target = end_ - pos > distance ? pos + distance : end_;
    for (; done_ < target; done_ += 64) prefetch_l2(p_ + done_);
  }

 private:
  const char* p_;
  std::size_t end_;  // 0: off
  std::size_t done_ = 0;
};

// ---------------------------------------------------------------------------------
// scalar: one lane.  Shifts take counts in [0, 31] only (the kernels clamp them), so
// there is no out-of-range shift.
// ---------------------------------------------------------------------------------
struct scalar_backend {
  static constexpr int width = 1;
  static constexpr const char* name = "scalar";
  using vec = std::uint32_t;
  using mask = bool;

  static vec set1(std::uint32_t x) noexcept { return x; }
  static vec add(vec a, vec b) noexcept { return a + b; }
  static vec sub(vec a, vec b) noexcept { return a - b; }
  static vec and_(vec a, vec b) noexcept { return a & b; }
  static vec or_(vec a, vec b) noexcept { return a | b; }
  template <int N> static vec srli(vec a) noexcept { return a >> N; }
  template <int N> static vec slli(vec a) noexcept { return a << N; }
  static vec srlv(vec a, vec s) noexcept { return a >> (s & 31u); }
  static vec sllv(vec a, vec s) noexcept { return a << (s & 31u); }
  static vec min_u(vec a, vec b) noexcept { return a < b ? a : b; }
  static vec max_u(vec a, vec b) noexcept { return a > b ? a : b; }
  static mask gt_u(vec a, vec b) noexcept { return a > b; }
  static mask eq(vec a, vec b) noexcept { return a == b; }
  static mask mand(mask a, mask b) noexcept { return a && b; }
  static mask mor(mask a, mask b) noexcept { return a || b; }
  static mask mnot(mask a) noexcept { return !a; }
  static bool any(mask a) noexcept { return a; }
  // Non-negative float bits a -> the float rounded to an integer, ties to even, as an
  // int32; 0x80000000 when it does not fit (|x| >= 2^31, Inf, NaN), like cvtps2dq.
  // Integer-only, so independent of MXCSR.
  static vec cvt_rne_i32(vec a) noexcept {
    const std::uint32_t e = a >> 23;
    if (e >= 158u) return 0x80000000u;
    if (e < 126u) return 0u;  // below 1/2 (1/2 itself ties to 0 below)
    const std::uint32_t sig = (a & 0x7FFFFFu) | 0x800000u;
    if (e >= 150u) return sig << (e - 150u);
    const std::uint32_t s = 150u - e;  // 1..24
    return (sig + (1u << (s - 1u)) - 1u + ((sig >> s) & 1u)) >> s;
  }
  static vec select(mask m, vec a, vec b) noexcept { return m ? a : b; }
  static vec mul_f32(vec a, float s) noexcept {
    return bit_cast<std::uint32_t>(bit_cast<float>(a) * s);
  }
  static vec cvt_i32_f32(vec a) noexcept {
    return bit_cast<std::uint32_t>(static_cast<float>(static_cast<std::int32_t>(a)));
  }
  static vec permute8(const std::uint32_t* table8, vec idx) noexcept { return table8[idx & 7u]; }

  static vec load_f32(const float* p) noexcept { return bit_cast<std::uint32_t>(*p); }
  static void store_f32(float* p, vec v) noexcept { *p = bit_cast<float>(v); }
  static vec load_u8(const std::uint8_t* p) noexcept { return *p; }
  static void store_u8(std::uint8_t* p, vec v) noexcept { *p = static_cast<std::uint8_t>(v); }
};

#if defined(LOWP_SIMD_AVX2)
// ---------------------------------------------------------------------------------
// AVX2: 8 lanes in a __m256i; masks are all-ones/all-zeros lanes.
// ---------------------------------------------------------------------------------
struct avx2_backend {
  static constexpr int width = 8;
  static constexpr const char* name = "avx2";
  using vec = __m256i;
  using mask = __m256i;

  static vec set1(std::uint32_t x) noexcept { return _mm256_set1_epi32(static_cast<int>(x)); }
  static vec add(vec a, vec b) noexcept { return _mm256_add_epi32(a, b); }
  static vec sub(vec a, vec b) noexcept { return _mm256_sub_epi32(a, b); }
  static vec and_(vec a, vec b) noexcept { return _mm256_and_si256(a, b); }
  static vec or_(vec a, vec b) noexcept { return _mm256_or_si256(a, b); }
  template <int N> static vec srli(vec a) noexcept { return _mm256_srli_epi32(a, N); }
  template <int N> static vec slli(vec a) noexcept { return _mm256_slli_epi32(a, N); }
  static vec srlv(vec a, vec s) noexcept { return _mm256_srlv_epi32(a, s); }
  static vec sllv(vec a, vec s) noexcept { return _mm256_sllv_epi32(a, s); }
  static vec min_u(vec a, vec b) noexcept { return _mm256_min_epu32(a, b); }
  static vec max_u(vec a, vec b) noexcept { return _mm256_max_epu32(a, b); }
  // AVX2 compares signed only: flipping the top bit maps unsigned order onto signed.
  static mask gt_u(vec a, vec b) noexcept {
    const __m256i bias = _mm256_set1_epi32(static_cast<int>(0x80000000u));
    return _mm256_cmpgt_epi32(_mm256_xor_si256(a, bias), _mm256_xor_si256(b, bias));
  }
  static mask eq(vec a, vec b) noexcept { return _mm256_cmpeq_epi32(a, b); }
  static mask mand(mask a, mask b) noexcept { return _mm256_and_si256(a, b); }
  static mask mor(mask a, mask b) noexcept { return _mm256_or_si256(a, b); }
  static mask mnot(mask a) noexcept { return _mm256_xor_si256(a, _mm256_set1_epi32(-1)); }
  static bool any(mask a) noexcept { return _mm256_testz_si256(a, a) == 0; }
  // Rounding by the immediate (not MXCSR), then an exact truncating conversion.
  static vec cvt_rne_i32(vec a) noexcept {
    const __m256 r = _mm256_round_ps(_mm256_castsi256_ps(a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm256_cvttps_epi32(r);
  }
  static vec select(mask m, vec a, vec b) noexcept { return _mm256_blendv_epi8(b, a, m); }
  static vec mul_f32(vec a, float s) noexcept {
    return _mm256_castps_si256(_mm256_mul_ps(_mm256_castsi256_ps(a), _mm256_set1_ps(s)));
  }
  static vec cvt_i32_f32(vec a) noexcept { return _mm256_castps_si256(_mm256_cvtepi32_ps(a)); }
  static vec permute8(const std::uint32_t* table8, vec idx) noexcept {
    const __m256i t = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(table8));
    return _mm256_permutevar8x32_epi32(t, idx);  // uses the low 3 bits of each index
  }

  static vec load_f32(const float* p) noexcept {
    return _mm256_castps_si256(_mm256_loadu_ps(p));
  }
  static void store_f32(float* p, vec v) noexcept { _mm256_storeu_ps(p, _mm256_castsi256_ps(v)); }
  static vec load_u8(const std::uint8_t* p) noexcept {
    long long q;
    std::memcpy(&q, p, 8);
    return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(q));
  }
  // Byte 0 of each 32-bit lane (the lanes hold values < 256), 8 bytes.
  static __m128i narrow_u8(vec v) noexcept {
    const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                          0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i b = _mm256_shuffle_epi8(v, pick);
    return _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
  }
  static void store_u8(std::uint8_t* p, vec v) noexcept {
    const long long q = _mm_cvtsi128_si64(narrow_u8(v));
    std::memcpy(p, &q, 8);
  }
  // Two 4-bit codes per byte: lanes 2j, 2j+1 -> byte j (4 bytes).  In each 64-bit lane
  // pair [lo, hi], lo | hi << 4 (low nibble first) or lo << 4 | hi (high nibble first).
  template <bool HighFirst>
  static void store_nib(std::uint8_t* p, vec v) noexcept {
    const __m256i t = HighFirst ? _mm256_or_si256(_mm256_slli_epi64(v, 4), _mm256_srli_epi64(v, 32))
                                : _mm256_or_si256(v, _mm256_srli_epi64(v, 28));
    const __m256i pick = _mm256_setr_epi8(0, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                          0, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i b = _mm256_shuffle_epi8(t, pick);
    const __m128i r = _mm_unpacklo_epi16(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
    const int q = _mm_cvtsi128_si32(r);
    std::memcpy(p, &q, 4);
  }
  template <bool HighFirst>
  static vec load_nib(const std::uint8_t* p) noexcept {
    int q;
    std::memcpy(&q, p, 4);
    const __m256i w = _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(q));  // byte j in qword j
    const __m256i t = HighFirst ? _mm256_or_si256(_mm256_srli_epi64(w, 4), _mm256_slli_epi64(w, 32))
                                : _mm256_or_si256(w, _mm256_slli_epi64(w, 28));
    return _mm256_and_si256(t, _mm256_set1_epi64x(0x0000000F0000000Fll));
  }
};
#endif

#if defined(LOWP_SIMD_AVX512)
// ---------------------------------------------------------------------------------
// AVX-512 (F, BW, VL): 16 lanes in a __m512i; masks are __mmask16 (k registers).
// ---------------------------------------------------------------------------------
struct avx512_backend {
  static constexpr int width = 16;
  static constexpr const char* name = "avx512";
  using vec = __m512i;
  using mask = __mmask16;

  static vec set1(std::uint32_t x) noexcept { return _mm512_set1_epi32(static_cast<int>(x)); }
  static vec add(vec a, vec b) noexcept { return _mm512_add_epi32(a, b); }
  static vec sub(vec a, vec b) noexcept { return _mm512_sub_epi32(a, b); }
  static vec and_(vec a, vec b) noexcept { return _mm512_and_si512(a, b); }
  static vec or_(vec a, vec b) noexcept { return _mm512_or_si512(a, b); }
  template <int N> static vec srli(vec a) noexcept { return _mm512_srli_epi32(a, N); }
  template <int N> static vec slli(vec a) noexcept { return _mm512_slli_epi32(a, N); }
  static vec srlv(vec a, vec s) noexcept { return _mm512_srlv_epi32(a, s); }
  static vec sllv(vec a, vec s) noexcept { return _mm512_sllv_epi32(a, s); }
  static vec min_u(vec a, vec b) noexcept { return _mm512_min_epu32(a, b); }
  static vec max_u(vec a, vec b) noexcept { return _mm512_max_epu32(a, b); }
  static mask gt_u(vec a, vec b) noexcept { return _mm512_cmpgt_epu32_mask(a, b); }
  static mask eq(vec a, vec b) noexcept { return _mm512_cmpeq_epi32_mask(a, b); }
  static mask mand(mask a, mask b) noexcept { return static_cast<mask>(a & b); }
  static mask mor(mask a, mask b) noexcept { return static_cast<mask>(a | b); }
  static mask mnot(mask a) noexcept { return static_cast<mask>(~a); }
  static bool any(mask a) noexcept { return a != 0; }
  // Embedded rounding: nearest-even regardless of MXCSR.
  static vec cvt_rne_i32(vec a) noexcept {
    return _mm512_cvt_roundps_epi32(_mm512_castsi512_ps(a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static vec select(mask m, vec a, vec b) noexcept { return _mm512_mask_blend_epi32(m, b, a); }
  static vec mul_f32(vec a, float s) noexcept {
    return _mm512_castps_si512(_mm512_mul_ps(_mm512_castsi512_ps(a), _mm512_set1_ps(s)));
  }
  static vec cvt_i32_f32(vec a) noexcept { return _mm512_castps_si512(_mm512_cvtepi32_ps(a)); }
  static vec permute8(const std::uint32_t* table8, vec idx) noexcept {
    const __m512i t = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(table8)));
    return _mm512_permutexvar_epi32(_mm512_and_si512(idx, _mm512_set1_epi32(7)), t);
  }
  // table16[idx & 15] in one vpermd (a bit move: exact, no MXCSR involvement).
  static constexpr bool has_permute16 = true;
  static vec permute16(const std::uint32_t* table16, vec idx) noexcept {
    return _mm512_permutexvar_epi32(idx, _mm512_loadu_si512(table16));
  }

  static vec load_f32(const float* p) noexcept { return _mm512_castps_si512(_mm512_loadu_ps(p)); }
  static void store_f32(float* p, vec v) noexcept { _mm512_storeu_ps(p, _mm512_castsi512_ps(v)); }
  static vec load_u8(const std::uint8_t* p) noexcept {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static void store_u8(std::uint8_t* p, vec v) noexcept {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(v));
  }
  // Four vectors' low bytes as one 64-byte store (fewer, full-line stores).
  static void store_u8x4(std::uint8_t* p, vec a, vec b, vec c, vec d) noexcept {
    __m512i r = _mm512_castsi128_si512(_mm512_cvtepi32_epi8(a));
    r = _mm512_inserti32x4(r, _mm512_cvtepi32_epi8(b), 1);
    r = _mm512_inserti32x4(r, _mm512_cvtepi32_epi8(c), 2);
    r = _mm512_inserti32x4(r, _mm512_cvtepi32_epi8(d), 3);
    _mm512_storeu_si512(p, r);
  }
  template <bool HighFirst>
  static void store_nib(std::uint8_t* p, vec v) noexcept {
    const __m512i t = HighFirst ? _mm512_or_si512(_mm512_slli_epi64(v, 4), _mm512_srli_epi64(v, 32))
                                : _mm512_or_si512(v, _mm512_srli_epi64(v, 28));
    const __m128i b = _mm512_cvtepi64_epi8(t);  // the low byte of each qword: 8 bytes
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), b);
  }
  template <bool HighFirst>
  static vec load_nib(const std::uint8_t* p) noexcept {
    const __m512i w = _mm512_cvtepu8_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    const __m512i t = HighFirst ? _mm512_or_si512(_mm512_srli_epi64(w, 4), _mm512_slli_epi64(w, 32))
                                : _mm512_or_si512(w, _mm512_slli_epi64(w, 28));
    return _mm512_and_si512(t, _mm512_set1_epi64(0x0000000F0000000Fll));
  }
};
#endif

/// The widest back-end the compiler targets.
#if defined(LOWP_SIMD_AVX512)
using best_backend = avx512_backend;
#elif defined(LOWP_SIMD_AVX2)
using best_backend = avx2_backend;
#else
using best_backend = scalar_backend;
#endif

}  // namespace lowp::detail::simd
