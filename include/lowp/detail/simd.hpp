// lowp/detail/simd.hpp — the internal SIMD layer: three back-ends with one interface.
//
// Layer: bulk (internal).  Includes config.hpp and, where the compiler targets them, the
// x86 intrinsics headers (<xmmintrin.h>, for MXCSR, on every x86-64 target).  Nothing
// here is public API.
//
// Every bulk kernel (detail/simd_convert.hpp, detail/simd_lut.hpp) is written once, as a
// template over a back-end B that supplies 32-bit lanes and these operations (each one is
// checked for every back-end at the end of this file):
//
//   B::width                      lanes per vector (1, 8 or 16)
//   B::name                       "scalar", "avx2", ...
//   B::vec / B::mask              a vector of uint32 lanes / a per-lane boolean
//   set1, add, sub, and_, or_, srli<n>, slli<n>, srlv, sllv, min_u, max_u,
//   gt_u (unsigned >), eq, select(m, a, b) (= m ? a : b), mand/mor/mnot/any (masks),
//   cvt_rne_i32 (float -> int32, nearest-even whatever MXCSR says),
//   mul_f32 (lanes as floats),
//   cvt_i32_f32 (signed int lanes -> float bits), permute8 (table[idx & 7]),
//   load_f32 / store_f32, load_u8 / store_u8 (one byte per lane, zero-extended /
//   truncated).
//
// Vector back-ends (width > 1) also: load_nib<HighFirst> / store_nib<HighFirst> (two
// 4-bit codes per byte, width/2 bytes), and pack_fp6_x32(p, codes) / unpack_fp6_x32(p,
// codes) (32 FP6 codes, the lanes of the 32 / width vectors codes[0..], as the 24 bytes of
// packed.hpp's FP6 stream at p, which start a group of four; packing takes lanes < 64).
//
// Capabilities: every back-end declares these constexpr bools; where one is true, the
// back-end has its operations and the kernels use them:
//
//   has_store_u8x4   store_u8x4(p, a, b, c, d): four vectors' low bytes in one store
//   has_permute16    permute16(table16, idx) = table16[idx & 15]
//   has_load_f16hi   load_f16hi(p): width bytes, each the high byte of a binary16, as the
//                    binary16 values in float bits (exact); load_f16hi_exact(): whether
//                    the current MXCSR keeps that exact (DAZ clear)
//   has_lut16        16-entry byte-table lookups on 16 bytes: bytes16 (the type),
//                    load_b16 / store_b16, lo_nibbles / hi_nibbles (each byte's low / high
//                    4 bits), zip_lo_u8 / zip_hi_u8 (interleave the low / high 8 bytes of
//                    two vectors), lut16_u8(table, idx) (table[idx] per byte, idx < 16)
//
// The back-ends: `scalar_backend` (always present: one lane in a uint32_t; it is also
// the fast scalar path and the tail loop of the vector back-ends), `avx2_backend`
// (__AVX2__), `avx512_backend` (__AVX512F__ + __AVX512BW__ + __AVX512VL__) and, for the
// table lookups only, `ssse3_backend` (__SSSE3__: the scalar back-end plus the SSSE3
// byte-table lookups).  The choice is made at compile time from the compiler's target
// macros (-mavx2, -march=native, ...); defining LOWP_NO_SIMD before including any lowp
// header forces the scalar back-end.  Because the kernels are one template, the vector
// paths compute the same integer function lane by lane as the scalar path; the tests
// still check every path against the generic converter (lowp::cast), which shares no
// code with them.
//
// All back-end operations are integer operations except mul_f32 (an IEEE binary32
// multiply, the same operation a scalar `float * float` is on x86-64), cvt_i32_f32
// (exact for the small integers it is used on), load_f16hi (exact unless DAZ is set,
// which load_f16hi_exact reports) and cvt_rne_i32 (nearest-even fixed by
// the instruction's immediate, not by MXCSR; the scalar version is integer-only), so
// results do not depend on MXCSR's rounding mode or DAZ/FTZ except where a multiply by
// a scale is asked for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>  // _mm_getcsr / _mm_setcsr (fp_control), on every x86-64 CPU
#else
#include <cfenv>
#endif

#include "../config.hpp"

#if !defined(LOWP_NO_SIMD) && (defined(__x86_64__) || defined(_M_X64) || defined(__i386__))
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define LOWP_SIMD_AVX512 1
#endif
#if defined(__AVX2__)
#define LOWP_SIMD_AVX2 1
#endif
#if defined(__SSSE3__) || defined(LOWP_SIMD_AVX2)
#define LOWP_SIMD_SSSE3 1
#endif
#if defined(LOWP_SIMD_SSSE3)
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
  /// For a reader that starts at byte `first` of the array (a chunk of a threaded bulk
  /// call): on or off as for the whole array, requests from `first` on, up to the array's
  /// end, so that consecutive chunks on one thread are requested as one stream.
  stream_prefetcher(const void* base, std::size_t bytes, std::size_t first) noexcept
      : p_(static_cast<const char*>(base)), end_(bytes >= min_bytes ? bytes : 0), done_(first) {}

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
// The floating-point control state of a thread: what decides how a float multiply rounds
// (convert_scaled's x * inv_scale, convert_unscaled's code * scale).  A worker of OpenMP's
// pool keeps the state it was created with, so a rounding mode or FTZ/DAZ that a caller
// set later would apply to the caller's own chunks only, and one threaded call would round
// differently in different chunks; the threaded bulk paths run each chunk under the
// caller's state.  On x86-64 (where SSE does all float arithmetic) it is MXCSR's control
// bits, 6..15: DAZ, the exception masks, rounding control, FTZ (Intel SDM vol. 1, 10.2.3);
// bits 0..5, the sticky exception flags, stay each thread's own.  Elsewhere it is the C
// rounding mode (<cfenv>).
// ---------------------------------------------------------------------------------
class fp_control {
 public:
  /// The calling thread's state.
  static fp_control current() noexcept {
#if defined(__x86_64__) || defined(_M_X64)
    return fp_control(_mm_getcsr() & control_bits);
#else
    return fp_control(static_cast<unsigned>(std::fegetround()));
#endif
  }
  /// Makes this the calling thread's state; returns the state it replaced (install() that
  /// to restore).  Writes only when the state differs: ldmxcsr serializes the pipeline.
  fp_control install() const noexcept {
    const fp_control old = current();
    if (old.bits_ != bits_) {
#if defined(__x86_64__) || defined(_M_X64)
      _mm_setcsr((_mm_getcsr() & ~control_bits) | bits_);
#else
      std::fesetround(static_cast<int>(bits_));
#endif
    }
    return old;
  }

 private:
  static constexpr unsigned control_bits = 0xFFC0u;
  explicit fp_control(unsigned bits) noexcept : bits_(bits) {}
  unsigned bits_;
};

/// Runs a scope under a given floating-point control state (a chunk of a threaded bulk
/// call under its caller's), restoring the thread's own state when the scope ends, also
/// by an exception.
class fp_control_scope {
 public:
  explicit fp_control_scope(const fp_control& state) noexcept : own_(state.install()) {}
  ~fp_control_scope() { own_.install(); }
  fp_control_scope(const fp_control_scope&) = delete;
  fp_control_scope& operator=(const fp_control_scope&) = delete;

 private:
  fp_control own_;
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
  static constexpr bool has_store_u8x4 = false, has_permute16 = false;
  static constexpr bool has_load_f16hi = false, has_lut16 = false;

  static vec set1(std::uint32_t x) noexcept { return x; }
  static vec add(vec a, vec b) noexcept { return a + b; }
  static vec sub(vec a, vec b) noexcept { return a - b; }
  static vec and_(vec a, vec b) noexcept { return a & b; }
  static vec or_(vec a, vec b) noexcept { return a | b; }
  template <int N>
  static vec srli(vec a) noexcept {
    return a >> N;
  }
  template <int N>
  static vec slli(vec a) noexcept {
    return a << N;
  }
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

#if defined(LOWP_SIMD_SSSE3)
// ---------------------------------------------------------------------------------
// The 16-entry byte-table lookups (has_lut16) of the x86 back-ends: SSSE3 pshufb is
// exactly a lookup of 16 bytes in a 16-byte table.
// ---------------------------------------------------------------------------------
struct ssse3_lut16_ops {
  using bytes16 = __m128i;
  static bytes16 load_b16(const void* p) noexcept {
    return _mm_loadu_si128(static_cast<const __m128i*>(p));
  }
  static void store_b16(void* p, bytes16 v) noexcept {
    _mm_storeu_si128(static_cast<__m128i*>(p), v);
  }
  static bytes16 lo_nibbles(bytes16 b) noexcept { return _mm_and_si128(b, _mm_set1_epi8(0x0F)); }
  static bytes16 hi_nibbles(bytes16 b) noexcept {
    return _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0F));
  }
  static bytes16 zip_lo_u8(bytes16 a, bytes16 b) noexcept { return _mm_unpacklo_epi8(a, b); }
  static bytes16 zip_hi_u8(bytes16 a, bytes16 b) noexcept { return _mm_unpackhi_epi8(a, b); }
  static bytes16 lut16_u8(bytes16 table, bytes16 idx) noexcept {
    return _mm_shuffle_epi8(table, idx);  // idx < 16: no byte has its top bit set
  }
};

// ---------------------------------------------------------------------------------
// SSSE3 without wider vectors (e.g. -march=x86-64-v2): the scalar back-end's one lane
// plus the byte-table lookups, for detail/simd_lut.hpp.
// ---------------------------------------------------------------------------------
struct ssse3_backend : scalar_backend, ssse3_lut16_ops {
  static constexpr const char* name = "ssse3";
  static constexpr bool has_lut16 = true;
};
#endif

#if defined(LOWP_SIMD_AVX2)
// ---------------------------------------------------------------------------------
// Packed FP6 with AVX2, 32 codes to 24 bytes and back (the AVX2 back-end's
// pack_fp6_x32 / unpack_fp6_x32; the AVX-512 back-end packs through pack_fp6_u8x32 too).
// The stream (packed.hpp): code i at bits 6i..6i+5 of a little-endian bit stream, so each
// group of four codes c0..c3 is one 24-bit little-endian word in three bytes,
//   c0 | c1 << 6 | c2 << 12 | c3 << 18.
// ---------------------------------------------------------------------------------

// 32 codes, one per byte in element order (each < 64), -> the 24 bytes at p.  A template
// on the calling back-end B, so that translation units built for different back-ends (the
// ODR note in bulk.hpp) get differently named functions, each compiled with its own
// instruction sets.
template <class B>
inline void pack_fp6_u8x32(std::uint8_t* p, __m256i codes) noexcept {
  // A dword holds one group, a code per byte (bit 31 on the left):
  //   [00 c3 | 00 c2 | 00 c1 | 00 c0]          four 8-bit bytes, codes of 6 bits
  // vpmaddubsw, byte multipliers (1, 64) per word: c0 + 64 c1 = c0 | c1 << 6 (disjoint
  // bits, so the add is an OR; at most 4095, no saturation):
  //   [0000 c3 c2 | 0000 c1 c0]                two 16-bit words
  // vpmaddwd, word multipliers (1, 4096): the low word plus the high word << 12:
  //   [00000000 c3 c2 c1 c0]                   the group's 24 stream bits
  const __m256i pairs = _mm256_maddubs_epi16(codes, _mm256_set1_epi16(0x4001));
  const __m256i groups = _mm256_madd_epi16(pairs, _mm256_set1_epi32(0x10000001));
  // Bytes 0..2 of each dword to the bottom of its 128-bit half (vpshufb stays within
  // halves: 12 bytes each), then dwords 0-2 and 4-6 side by side (vpermd): bytes 0..23.
  const __m256i squeeze = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
                                           0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
  const __m256i packed = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(groups, squeeze),
                                                     _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7));
  // 16 + 8 bytes: exactly the 24 of the 32 codes, nothing after them.
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(packed));
  const long long tail = _mm_cvtsi128_si64(_mm256_extracti128_si256(packed, 1));
  std::memcpy(p + 16, &tail, 8);
}

// A dword of a vpshufb control that gathers the group at byte offset O of its 128-bit
// lane into a dword: bytes O, O+1, O+2 and a zero (index 0x80) give
//   [0 | b(O+2) | b(O+1) | b(O)]   = [00000000 c3 c2 c1 c0], the group's 24-bit word.
template <int O>
inline constexpr int fp6_group_gather = static_cast<int>(static_cast<unsigned>(O) |
                                                         static_cast<unsigned>(O + 1) << 8 |
                                                         static_cast<unsigned>(O + 2) << 16 |
                                                         0x80u << 24);

// ---------------------------------------------------------------------------------
// AVX2: 8 lanes in a __m256i; masks are all-ones/all-zeros lanes.
// ---------------------------------------------------------------------------------
struct avx2_backend : ssse3_lut16_ops {
  static constexpr int width = 8;
  static constexpr const char* name = "avx2";
  using vec = __m256i;
  using mask = __m256i;
  static constexpr bool has_store_u8x4 = false, has_permute16 = false;
  static constexpr bool has_load_f16hi = false, has_lut16 = true;

  static vec set1(std::uint32_t x) noexcept { return _mm256_set1_epi32(static_cast<int>(x)); }
  static vec add(vec a, vec b) noexcept { return _mm256_add_epi32(a, b); }
  static vec sub(vec a, vec b) noexcept { return _mm256_sub_epi32(a, b); }
  static vec and_(vec a, vec b) noexcept { return _mm256_and_si256(a, b); }
  static vec or_(vec a, vec b) noexcept { return _mm256_or_si256(a, b); }
  template <int N>
  static vec srli(vec a) noexcept {
    return _mm256_srli_epi32(a, N);
  }
  template <int N>
  static vec slli(vec a) noexcept {
    return _mm256_slli_epi32(a, N);
  }
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
    const __m256 r =
        _mm256_round_ps(_mm256_castsi256_ps(a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
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

  static vec load_f32(const float* p) noexcept { return _mm256_castps_si256(_mm256_loadu_ps(p)); }
  static void store_f32(float* p, vec v) noexcept { _mm256_storeu_ps(p, _mm256_castsi256_ps(v)); }
  static vec load_u8(const std::uint8_t* p) noexcept {
    long long q;
    std::memcpy(&q, p, 8);
    return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(q));
  }
  // Byte 0 of each 32-bit lane (the lanes hold values < 256), 8 bytes.
  static __m128i narrow_u8(vec v) noexcept {
    const __m256i pick =
        _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12,
                         -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
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
    const __m256i pick =
        _mm256_setr_epi8(0, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 8, -1, -1,
                         -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
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
  // Packed FP6: the 32 codes of codes[0..3] (lane k of codes[m] is code 8m + k) -> the 24
  // bytes at p.  vpackusdw / vpackuswb narrow the lanes to bytes (exactly: codes < 64)
  // but work within 128-bit halves, so the dwords (groups of four codes) come out as
  //   [codes 0-3 | 8-11 | 16-19 | 24-27 || 4-7 | 12-15 | 20-23 | 28-31]
  // and one vpermd puts them back in element order.
  static void pack_fp6_x32(std::uint8_t* p, const vec* codes) noexcept {
    const __m256i b = _mm256_packus_epi16(_mm256_packus_epi32(codes[0], codes[1]),
                                          _mm256_packus_epi32(codes[2], codes[3]));
    pack_fp6_u8x32<avx2_backend>(
        p, _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  }
  // The 24 bytes at p -> codes[0..3], code 8m + k in lane k of codes[m].  Group g (codes
  // 4g..4g+3) is bytes 3g..3g+2; codes[m] takes groups 2m (low half) and 2m + 1 (high).
  // Two 16-byte loads, each copied to both halves, cover the 24 bytes and read none after
  // them: bytes 0..15 (groups 0-3 at offsets 0, 3, 6, 9) and 8..23 (groups 4-7 at 4, 7,
  // 10, 13).  vpshufb gives each lane its group's 24-bit word,
  //   [00000000 c3 c2 c1 c0]
  // and vpsrlvd by 0, 6, 12, 18 with a mask of 0x3F leaves code k of the group in lane k
  // of the half: [0 ... 0 ck].
  static void unpack_fp6_x32(const std::uint8_t* p, vec* codes) noexcept {
    const __m256i a =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m256i b =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8)));
    codes[0] = unpack_fp6_x8<0, 3>(a);
    codes[1] = unpack_fp6_x8<6, 9>(a);
    codes[2] = unpack_fp6_x8<4, 7>(b);
    codes[3] = unpack_fp6_x8<10, 13>(b);
  }
  // The groups at byte offsets Lo (low half) and Hi (high half) of src -> their 8 codes.
  template <int Lo, int Hi>
  static vec unpack_fp6_x8(__m256i src) noexcept {
    constexpr int g0 = fp6_group_gather<Lo>, g1 = fp6_group_gather<Hi>;
    const __m256i words =
        _mm256_shuffle_epi8(src, _mm256_setr_epi32(g0, g0, g0, g0, g1, g1, g1, g1));
    return _mm256_and_si256(_mm256_srlv_epi32(words, _mm256_setr_epi32(0, 6, 12, 18, 0, 6, 12, 18)),
                            _mm256_set1_epi32(0x3F));
  }
};
#endif

#if defined(LOWP_SIMD_AVX512)
// ---------------------------------------------------------------------------------
// AVX-512 (F, BW, VL): 16 lanes in a __m512i; masks are __mmask16 (k registers).
// ---------------------------------------------------------------------------------
struct avx512_backend : ssse3_lut16_ops {
  static constexpr int width = 16;
  static constexpr const char* name = "avx512";
  using vec = __m512i;
  using mask = __mmask16;
  static constexpr bool has_store_u8x4 = true, has_permute16 = true;
  static constexpr bool has_load_f16hi = true, has_lut16 = true;

  static vec set1(std::uint32_t x) noexcept { return _mm512_set1_epi32(static_cast<int>(x)); }
  static vec add(vec a, vec b) noexcept { return _mm512_add_epi32(a, b); }
  static vec sub(vec a, vec b) noexcept { return _mm512_sub_epi32(a, b); }
  static vec and_(vec a, vec b) noexcept { return _mm512_and_si512(a, b); }
  static vec or_(vec a, vec b) noexcept { return _mm512_or_si512(a, b); }
  template <int N>
  static vec srli(vec a) noexcept {
    return _mm512_srli_epi32(a, N);
  }
  template <int N>
  static vec slli(vec a) noexcept {
    return _mm512_slli_epi32(a, N);
  }
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
    return _mm512_cvt_roundps_epi32(_mm512_castsi512_ps(a),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static vec select(mask m, vec a, vec b) noexcept { return _mm512_mask_blend_epi32(m, b, a); }
  static vec mul_f32(vec a, float s) noexcept {
    return _mm512_castps_si512(_mm512_mul_ps(_mm512_castsi512_ps(a), _mm512_set1_ps(s)));
  }
  static vec cvt_i32_f32(vec a) noexcept { return _mm512_castps_si512(_mm512_cvtepi32_ps(a)); }
  static vec permute8(const std::uint32_t* table8, vec idx) noexcept {
    const __m512i t =
        _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(table8)));
    return _mm512_permutexvar_epi32(_mm512_and_si512(idx, _mm512_set1_epi32(7)), t);
  }
  // table16[idx & 15] in one vpermd (a bit move: exact, no MXCSR involvement).
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
  // Packed FP6: the 32 codes of codes[0..1] (lane k of codes[m] is code 16m + k) -> the 24
  // bytes at p.  vpmovdb narrows each vector to its 16 bytes in lane order (exactly:
  // codes < 64), then the AVX2 packing (pack_fp6_u8x32) does the rest on 256 bits; 32
  // codes a step, not 64, so that a group of 32 (MX blocks) takes this path too.
  static void pack_fp6_x32(std::uint8_t* p, const vec* codes) noexcept {
    pack_fp6_u8x32<avx512_backend>(
        p, _mm256_inserti128_si256(_mm256_castsi128_si256(_mm512_cvtepi32_epi8(codes[0])),
                                   _mm512_cvtepi32_epi8(codes[1]), 1));
  }
  // The 24 bytes at p -> codes[0..1], code 16m + k in lane k of codes[m], as the AVX2
  // unpack_fp6_x32 with four 128-bit quarters a vector: codes[m] takes groups 4m..4m+3,
  // one per quarter.  A 16-byte load copied to every quarter: bytes 0..15 for codes[0]
  // (groups 0-3 at offsets 0, 3, 6, 9), bytes 8..23 for codes[1] (groups 4-7 at 4, 7, 10,
  // 13); vpshufb gives each lane its group's 24-bit word, [00000000 c3 c2 c1 c0], and
  // vpsrlvd by 0, 6, 12, 18 with a mask of 0x3F leaves code k of the group in lane k of
  // the quarter.
  static void unpack_fp6_x32(const std::uint8_t* p, vec* codes) noexcept {
    codes[0] = unpack_fp6_x16<0>(p);
    codes[1] = unpack_fp6_x16<4>(p + 8);
  }
  // The four groups at byte offsets O, O+3, O+6, O+9 of the 16 bytes at src (one per
  // quarter) -> their 16 codes.
  template <int O>
  static vec unpack_fp6_x16(const std::uint8_t* src) noexcept {
    constexpr int g0 = fp6_group_gather<O>, g1 = fp6_group_gather<O + 3>;
    constexpr int g2 = fp6_group_gather<O + 6>, g3 = fp6_group_gather<O + 9>;
    const __m512i gather =
        _mm512_setr_epi32(g0, g0, g0, g0, g1, g1, g1, g1, g2, g2, g2, g2, g3, g3, g3, g3);
    const __m512i words = _mm512_shuffle_epi8(
        _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src))), gather);
    const __m512i shifts =
        _mm512_setr_epi32(0, 6, 12, 18, 0, 6, 12, 18, 0, 6, 12, 18, 0, 6, 12, 18);
    return _mm512_and_si512(_mm512_srlv_epi32(words, shifts), _mm512_set1_epi32(0x3F));
  }
  // A binary16 whose low byte is zero, from its high byte:
  //   [s eeeee mm] -> [s eeeee mm 00000000]
  // (an E5M2 code is exactly that high byte), then vcvtph2ps: binary16 -> float, exact,
  // NaNs with sign and payload kept and the quiet bit set (IEEE 754 section 6.2.3), as
  // the generic converter does.  Should a processor apply MXCSR.DAZ to binary16 inputs
  // (Sapphire Rapids does not: tests/test_bulk.cpp decodes under DAZ), the subnormals
  // would flush: load_f16hi_exact() says whether DAZ is clear.  The instruction may set
  // MXCSR's status flags (invalid for signaling NaNs); with the default masks it never
  // traps.
  static vec load_f16hi(const std::uint8_t* p) noexcept {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm512_castps_si512(_mm512_cvtph_ps(_mm256_slli_epi16(_mm256_cvtepu8_epi16(b), 8)));
  }
  static bool load_f16hi_exact() noexcept { return (_mm_getcsr() & 0x0040u) == 0; }  // bit 6: DAZ
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

/// The widest back-end with the byte-table lookups (has_lut16), else the scalar one.
#if defined(LOWP_SIMD_SSSE3) && !defined(LOWP_SIMD_AVX2)
using lut_backend = ssse3_backend;
#else
using lut_backend = best_backend;
#endif

// ---------------------------------------------------------------------------------
// The check that every back-end provides the operations listed at the top of this
// file, with the right types: one detection alias per operation, asserted per
// back-end (a missing or mistyped operation names itself in the compiler's message).
// The vector types are template arguments here, where GCC drops their attributes
// (may_alias, ...) with a warning: harmless for comparing types, so it is silenced.
// ---------------------------------------------------------------------------------
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif
namespace backend_ops {

// Values of a back-end's types for the unevaluated expressions below (never defined).
template <class B>
typename B::vec v() noexcept;
template <class B>
typename B::mask m() noexcept;
template <class B>
typename B::bytes16 b16() noexcept;
template <class T>
T* ptr() noexcept;

template <class B>
using width = decltype(B::width);
template <class B>
using name = decltype(B::name);
template <class B>
using set1 = decltype(B::set1(std::uint32_t{}));
template <class B>
using add = decltype(B::add(v<B>(), v<B>()));
template <class B>
using sub = decltype(B::sub(v<B>(), v<B>()));
template <class B>
using and_ = decltype(B::and_(v<B>(), v<B>()));
template <class B>
using or_ = decltype(B::or_(v<B>(), v<B>()));
template <class B>
using srli = decltype(B::template srli<1>(v<B>()));
template <class B>
using slli = decltype(B::template slli<1>(v<B>()));
template <class B>
using srlv = decltype(B::srlv(v<B>(), v<B>()));
template <class B>
using sllv = decltype(B::sllv(v<B>(), v<B>()));
template <class B>
using min_u = decltype(B::min_u(v<B>(), v<B>()));
template <class B>
using max_u = decltype(B::max_u(v<B>(), v<B>()));
template <class B>
using gt_u = decltype(B::gt_u(v<B>(), v<B>()));
template <class B>
using eq = decltype(B::eq(v<B>(), v<B>()));
template <class B>
using select = decltype(B::select(m<B>(), v<B>(), v<B>()));
template <class B>
using mand = decltype(B::mand(m<B>(), m<B>()));
template <class B>
using mor = decltype(B::mor(m<B>(), m<B>()));
template <class B>
using mnot = decltype(B::mnot(m<B>()));
template <class B>
using any = decltype(B::any(m<B>()));
template <class B>
using cvt_rne_i32 = decltype(B::cvt_rne_i32(v<B>()));
template <class B>
using mul_f32 = decltype(B::mul_f32(v<B>(), 1.0f));
template <class B>
using cvt_i32_f32 = decltype(B::cvt_i32_f32(v<B>()));
template <class B>
using permute8 = decltype(B::permute8(ptr<const std::uint32_t>(), v<B>()));
template <class B>
using load_f32 = decltype(B::load_f32(ptr<const float>()));
template <class B>
using store_f32 = decltype(B::store_f32(ptr<float>(), v<B>()));
template <class B>
using load_u8 = decltype(B::load_u8(ptr<const std::uint8_t>()));
template <class B>
using store_u8 = decltype(B::store_u8(ptr<std::uint8_t>(), v<B>()));
// width > 1
template <class B>
using load_nib = decltype(B::template load_nib<false>(ptr<const std::uint8_t>()));
template <class B>
using store_nib = decltype(B::template store_nib<false>(ptr<std::uint8_t>(), v<B>()));
template <class B>
using pack_fp6_x32 = decltype(B::pack_fp6_x32(ptr<std::uint8_t>(), ptr<const typename B::vec>()));
template <class B>
using unpack_fp6_x32 =
    decltype(B::unpack_fp6_x32(ptr<const std::uint8_t>(), ptr<typename B::vec>()));
// capabilities
template <class B>
using has_store_u8x4 = decltype(B::has_store_u8x4);
template <class B>
using has_permute16 = decltype(B::has_permute16);
template <class B>
using has_load_f16hi = decltype(B::has_load_f16hi);
template <class B>
using has_lut16 = decltype(B::has_lut16);
template <class B>
using store_u8x4 = decltype(B::store_u8x4(ptr<std::uint8_t>(), v<B>(), v<B>(), v<B>(), v<B>()));
template <class B>
using permute16 = decltype(B::permute16(ptr<const std::uint32_t>(), v<B>()));
template <class B>
using load_f16hi = decltype(B::load_f16hi(ptr<const std::uint8_t>()));
template <class B>
using load_f16hi_exact = decltype(B::load_f16hi_exact());
template <class B>
using load_b16 = decltype(B::load_b16(ptr<const void>()));
template <class B>
using store_b16 = decltype(B::store_b16(ptr<void>(), b16<B>()));
template <class B>
using lo_nibbles = decltype(B::lo_nibbles(b16<B>()));
template <class B>
using hi_nibbles = decltype(B::hi_nibbles(b16<B>()));
template <class B>
using zip_lo_u8 = decltype(B::zip_lo_u8(b16<B>(), b16<B>()));
template <class B>
using zip_hi_u8 = decltype(B::zip_hi_u8(b16<B>(), b16<B>()));
template <class B>
using lut16_u8 = decltype(B::lut16_u8(b16<B>(), b16<B>()));

/// Whether Op<B> is a valid expression of type R.
template <class B, template <class> class Op, class R, class = void>
struct provides : std::false_type {};
template <class B, template <class> class Op, class R>
struct provides<B, Op, R, std::void_t<Op<B>>> : std::is_same<Op<B>, R> {};

}  // namespace backend_ops

template <class B>
constexpr bool check_backend() noexcept {
  namespace o = backend_ops;
  using o::provides;
  using V = typename B::vec;
  using M = typename B::mask;
  static_assert(provides<B, o::width, const int>::value, "back-end lacks width");
  static_assert(provides<B, o::name, const char* const>::value, "back-end lacks name");
  static_assert(provides<B, o::set1, V>::value, "back-end lacks set1");
  static_assert(provides<B, o::add, V>::value, "back-end lacks add");
  static_assert(provides<B, o::sub, V>::value, "back-end lacks sub");
  static_assert(provides<B, o::and_, V>::value, "back-end lacks and_");
  static_assert(provides<B, o::or_, V>::value, "back-end lacks or_");
  static_assert(provides<B, o::srli, V>::value, "back-end lacks srli");
  static_assert(provides<B, o::slli, V>::value, "back-end lacks slli");
  static_assert(provides<B, o::srlv, V>::value, "back-end lacks srlv");
  static_assert(provides<B, o::sllv, V>::value, "back-end lacks sllv");
  static_assert(provides<B, o::min_u, V>::value, "back-end lacks min_u");
  static_assert(provides<B, o::max_u, V>::value, "back-end lacks max_u");
  static_assert(provides<B, o::gt_u, M>::value, "back-end lacks gt_u");
  static_assert(provides<B, o::eq, M>::value, "back-end lacks eq");
  static_assert(provides<B, o::select, V>::value, "back-end lacks select");
  static_assert(provides<B, o::mand, M>::value, "back-end lacks mand");
  static_assert(provides<B, o::mor, M>::value, "back-end lacks mor");
  static_assert(provides<B, o::mnot, M>::value, "back-end lacks mnot");
  static_assert(provides<B, o::any, bool>::value, "back-end lacks any");
  static_assert(provides<B, o::cvt_rne_i32, V>::value, "back-end lacks cvt_rne_i32");
  static_assert(provides<B, o::mul_f32, V>::value, "back-end lacks mul_f32");
  static_assert(provides<B, o::cvt_i32_f32, V>::value, "back-end lacks cvt_i32_f32");
  static_assert(provides<B, o::permute8, V>::value, "back-end lacks permute8");
  static_assert(provides<B, o::load_f32, V>::value, "back-end lacks load_f32");
  static_assert(provides<B, o::store_f32, void>::value, "back-end lacks store_f32");
  static_assert(provides<B, o::load_u8, V>::value, "back-end lacks load_u8");
  static_assert(provides<B, o::store_u8, void>::value, "back-end lacks store_u8");
  constexpr bool vector = B::width > 1;
  static_assert(!vector || provides<B, o::load_nib, V>::value, "back-end lacks load_nib");
  static_assert(!vector || provides<B, o::store_nib, void>::value, "back-end lacks store_nib");
  static_assert(!vector || 32 % B::width == 0, "pack_fp6_x32 takes 32 codes in whole vectors");
  static_assert(!vector || provides<B, o::pack_fp6_x32, void>::value, "lacks pack_fp6_x32");
  static_assert(!vector || provides<B, o::unpack_fp6_x32, void>::value, "lacks unpack_fp6_x32");
  static_assert(provides<B, o::has_store_u8x4, const bool>::value, "no has_store_u8x4");
  static_assert(provides<B, o::has_permute16, const bool>::value, "no has_permute16");
  static_assert(provides<B, o::has_load_f16hi, const bool>::value, "no has_load_f16hi");
  static_assert(provides<B, o::has_lut16, const bool>::value, "no has_lut16");
  if constexpr (B::has_store_u8x4)
    static_assert(provides<B, o::store_u8x4, void>::value, "back-end lacks store_u8x4");
  if constexpr (B::has_permute16)
    static_assert(provides<B, o::permute16, V>::value, "back-end lacks permute16");
  if constexpr (B::has_load_f16hi) {
    static_assert(provides<B, o::load_f16hi, V>::value, "back-end lacks load_f16hi");
    static_assert(provides<B, o::load_f16hi_exact, bool>::value, "lacks load_f16hi_exact");
  }
  if constexpr (B::has_lut16) {
    using B16 = typename B::bytes16;
    static_assert(provides<B, o::load_b16, B16>::value, "back-end lacks load_b16");
    static_assert(provides<B, o::store_b16, void>::value, "back-end lacks store_b16");
    static_assert(provides<B, o::lo_nibbles, B16>::value, "back-end lacks lo_nibbles");
    static_assert(provides<B, o::hi_nibbles, B16>::value, "back-end lacks hi_nibbles");
    static_assert(provides<B, o::zip_lo_u8, B16>::value, "back-end lacks zip_lo_u8");
    static_assert(provides<B, o::zip_hi_u8, B16>::value, "back-end lacks zip_hi_u8");
    static_assert(provides<B, o::lut16_u8, B16>::value, "back-end lacks lut16_u8");
  }
  return true;
}

static_assert(check_backend<scalar_backend>());
#if defined(LOWP_SIMD_SSSE3)
static_assert(check_backend<ssse3_backend>());
#endif
#if defined(LOWP_SIMD_AVX2)
static_assert(check_backend<avx2_backend>());
#endif
#if defined(LOWP_SIMD_AVX512)
static_assert(check_backend<avx512_backend>());
#endif
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

}  // namespace lowp::detail::simd
