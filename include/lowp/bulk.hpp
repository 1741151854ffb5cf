// lowp/bulk.hpp — bulk conversions over arrays: lowp::convert, and the fused
// scale-and-cast operations lowp::convert_scaled (x * inv_scale -> codes) and
// lowp::convert_unscaled (codes -> value * scale), plain or packed; and lowp::encode,
// lowp::decode and lowp::transcode, the same conversions on raw code buffers
// (std::uint8_t, std::byte, std::uint16_t) as an engine holds them.  (The quantizer that
// computes scales, lowp::quantize, is in quantize.hpp.)
//
// Layer: bulk.  Includes cast.hpp, packed.hpp and the internal SIMD layer.
//
// Every function here computes, element by element, exactly what the scalar API
// computes (lowp::cast, static_cast<float>); the SIMD fast paths (AVX-512, AVX2; chosen
// at compile time, LOWP_NO_SIMD forces the portable path) are bit-identical to it, which
// the tests check over all 2^32 floats.  See docs/bulk.md for a guide.
//
// Fast paths (everything else is a correct per-element loop over lowp::cast):
//   float            -> E4M3FN, E5M2, E4M3FNUZ, E5M2FNUZ, FP6 x2, FP4, int4/uint4/int8/uint8
//                       (every rounding mode and overflow policy), plain or packed
//   those formats    -> float (plain or packed)
//   float16/bfloat16 -> the formats above (decoded exactly to float, then encoded)
//   8-bit formats    -> float16/bfloat16 (a 256-entry table of the exact results)
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

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#if defined(__cpp_lib_span) || (__cplusplus >= 202002L && __has_include(<span>))
#include <span>
#endif

#include "cast.hpp"
#include "detail/simd.hpp"
#include "detail/simd_convert.hpp"
#include "packed.hpp"

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

// Encodes n floats (times inv_scales[i / g], or one_scale when inv_scales is null, or
// nothing when !Scaled) into one code per byte.  The specials' constants and the mode
// dispatch are set up once per call, not per group.
template <class B, class T, bool Scaled>
inline void encode_dispatch(const float* src, std::uint8_t* dst, std::size_t n,
                            const float* inv_scales, float one_scale, std::size_t g, rounding r,
                            overflow o) noexcept {
  const round_mode m = to_mode(r);
  const simd::encode_consts k = simd::make_encode_consts<T>(m, o);
  dispatch_encode(m, o, [&](auto mode, auto sat) {
    constexpr round_mode Mode = decltype(mode)::value;
    constexpr bool Sat = decltype(sat)::value;
    if (!Scaled || inv_scales == nullptr) {
      simd::encode_run<B, T, Mode, Scaled, Sat>(src, dst, n, one_scale, k);  // prefetches itself
      return;
    }
    simd::stream_prefetcher ahead(src, n * sizeof(float));
    for (std::size_t start = 0; start < n; start += g) {
      ahead.reader_at(start * sizeof(float));
      const std::size_t len = n - start < g ? n - start : g;
      simd::encode_run<B, T, Mode, true, Sat>(src + start, dst + start, len, inv_scales[start / g],
                                              k);
    }
  });
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

template <class B, class T, packed_layout L, bool Scaled>
inline void encode_packed_dispatch(const float* src, std::uint8_t* bytes, std::size_t n,
                                   const float* inv_scales, float one_scale, std::size_t g,
                                   rounding r, overflow o) noexcept {
  const round_mode m = to_mode(r);
  const simd::encode_consts k = simd::make_encode_consts<T>(m, o);
  if (!Scaled || inv_scales == nullptr) g = n == 0 ? 1 : n;  // one run, which prefetches itself
  dispatch_encode(m, o, [&](auto mode, auto sat) {
    constexpr round_mode Mode = decltype(mode)::value;
    constexpr bool Sat = decltype(sat)::value;
    simd::stream_prefetcher ahead(src, n * sizeof(float));
    for (std::size_t start = 0; start < n; start += g) {
      ahead.reader_at(start * sizeof(float));
      const std::size_t len = n - start < g ? n - start : g;
      const float sc = inv_scales != nullptr ? inv_scales[start / g] : one_scale;
      if constexpr (packed_bits_v<T> == 4) {
        simd::encode_run_nib<B, T, L, Mode, Scaled, Sat>(src + start, bytes, start, len, sc, k);
      } else {  // FP6: encode a chunk of codes, then pack them
        constexpr std::size_t chunk = 512;
        std::uint8_t codes[chunk];
        for (std::size_t i = 0; i < len; i += chunk) {
          const std::size_t c = len - i < chunk ? len - i : chunk;
          simd::encode_run<B, T, Mode, Scaled, Sat>(src + start + i, codes, c, sc, k);
          for (std::size_t j = 0; j < c; ++j)
            packed_store_code<T, L>(bytes, start + i + j, codes[j]);
        }
      }
    }
  });
}

template <class B, class T, packed_layout L, bool Scaled>
inline void decode_packed_run(const std::uint8_t* bytes, std::size_t first, float* dst,
                              std::size_t n, float scale) noexcept {
  if constexpr (packed_bits_v<T> == 4) {
    simd::decode_run_nib<B, T, L, Scaled>(bytes, first, dst, n, scale);
  } else {
    constexpr std::size_t chunk = 512;
    std::uint8_t codes[chunk];
    for (std::size_t i = 0; i < n; i += chunk) {
      const std::size_t len = n - i < chunk ? n - i : chunk;
      for (std::size_t j = 0; j < len; ++j) codes[j] = packed_load_code<T, L>(bytes, first + i + j);
      simd::decode_run<B, T, Scaled>(codes, dst + i, len, scale);
    }
  }
}

}  // namespace detail::bulk

/// Converts n elements: dst[i] = lowp::cast<To>(src[i], r, o) for every i < n.
///
/// From, To: float, double, or any lowp type (From may also be an integer type, as for
/// lowp::cast).  Same results as lowp::cast element by element, bit for bit, including
/// NaN, Inf, -0 and saturation (decoding a lowp type into float is exact and ignores
/// the overflow policy: an E5M2/FP16 Inf stays Inf, as with lowp::cast<float>).
/// n == 0 does nothing.
/// Throws std::invalid_argument when n > 0 and src or dst is null.  Overlap: see the file
/// comment (dst == src is allowed for float -> 1-byte types only).
template <class From, class To, class B = detail::simd::best_backend>
void convert(const From* src, To* dst, std::size_t n, rounding r = rounding::nearest_even,
             overflow o = overflow::saturate) {
  detail::bulk::check_ptrs(src, dst, n, "convert");
  namespace s = detail::simd;
  if constexpr (std::is_same_v<From, float> && s::kernel_v<To>) {
    static_assert(sizeof(To) == 1);
    detail::bulk::encode_dispatch<B, To, false>(src, reinterpret_cast<std::uint8_t*>(dst), n,
                                                nullptr, 1.0f, 1, r, o);
  } else if constexpr (detail::bulk::is_half_v<From> && s::kernel_v<To>) {
    detail::bulk::encode_halves<B, From, To>(src, reinterpret_cast<std::uint8_t*>(dst), n, r, o);
  } else if constexpr (s::kernel_v<From> && std::is_same_v<To, float>) {
    static_assert(sizeof(From) == 1);
    const auto* codes = reinterpret_cast<const std::uint8_t*>(src);
    // Decoding into float is exact: the overflow policy does not apply (as lowp::cast).
    (void)o;
    s::decode_run<B, From, false>(codes, dst, n, 1.0f);
  } else if constexpr (is_lowp_float_v<From> && sizeof(From) == 1 && detail::bulk::is_half_v<To>) {
    const std::uint16_t* t = detail::bulk::half_table<From, To>(o);
    for (std::size_t i = 0; i < n; ++i) dst[i] = To::from_bits(t[src[i].bits()]);
  } else {
    for (std::size_t i = 0; i < n; ++i) dst[i] = cast<To>(src[i], r, o);
  }
}

/// Encodes src[0 .. dst.size()) into packed storage: element i = cast<To>(src[i], r, o).
/// src must hold dst.size() floats (throws std::invalid_argument when it is null and
/// dst is not empty).  Only dst's elements' bits are written.
template <class To, packed_layout L, class B = detail::simd::best_backend>
void convert(const float* src, packed_span<To, L> dst, rounding r = rounding::nearest_even,
             overflow o = overflow::saturate) {
  static_assert(!std::is_const_v<To>, "convert: the destination span must be mutable");
  detail::bulk::check_ptrs(src, dst.data(), dst.size(), "convert");
  detail::bulk::encode_packed_dispatch<B, To, L, false>(src, dst.data(), dst.size(), nullptr, 1.0f,
                                                        1, r, o);
}

/// Decodes packed storage: dst[i] = cast<To>(src[i], r, o) for i < src.size() (To float:
/// exact).  dst must hold src.size() elements.
template <class From, packed_layout L, class To, class B = detail::simd::best_backend>
void convert(packed_span<From, L> src, To* dst, rounding r = rounding::nearest_even,
             overflow o = overflow::saturate) {
  using F = std::remove_const_t<From>;
  detail::bulk::check_ptrs(src.data(), dst, src.size(), "convert");
  if constexpr (std::is_same_v<To, float>) {
    (void)r;
    (void)o;  // 4- and 6-bit values are exact in float and never Inf
    detail::bulk::decode_packed_run<B, F, L, false>(src.data(), 0, dst, src.size(), 1.0f);
  } else {
    for (std::size_t i = 0; i < src.size(); ++i) dst[i] = cast<To>(src.get(i), r, o);
  }
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

template <class B, class To>
void convert_scaled_impl(const float* x, To* q, std::size_t n, const float* inv_scales,
                         float one_scale, std::size_t g, rounding r, overflow o) {
  if constexpr (simd::kernel_v<To>) {
    encode_dispatch<B, To, true>(x, reinterpret_cast<std::uint8_t*>(q), n, inv_scales, one_scale, g,
                                 r, o);
  } else {
    for (std::size_t i = 0; i < n; ++i)
      q[i] = cast<To>(x[i] * (inv_scales ? inv_scales[i / g] : one_scale), r, o);
  }
}

template <class B, class From>
void convert_unscaled_impl(const From* q, float* y, std::size_t n, const float* scales,
                           float one_scale, std::size_t g) {
  for (std::size_t start = 0; start < n; start += g) {
    const std::size_t len = n - start < g ? n - start : g;
    const float s = scales ? scales[start / g] : one_scale;
    if constexpr (simd::kernel_v<From>) {
      simd::decode_run<B, From, true>(reinterpret_cast<const std::uint8_t*>(q + start), y + start,
                                      len, s);
    } else {
      for (std::size_t i = start; i < start + len; ++i) y[i] = static_cast<float>(q[i]) * s;
    }
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
  detail::bulk::check_ptrs(x, q.data(), q.size(), "convert_scaled");
  detail::bulk::encode_packed_dispatch<B, To, L, true>(x, q.data(), q.size(), nullptr, inv_scale, 1,
                                                       r, o);
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
  detail::bulk::encode_packed_dispatch<B, To, L, true>(x, q.data(), n, inv_scales, 0.0f, group_size,
                                                       r, o);
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
  detail::bulk::check_ptrs(q.data(), y, q.size(), "convert_unscaled");
  detail::bulk::decode_packed_run<B, F, L, true>(q.data(), 0, y, q.size(), scale);
}

/// Packed source with one scale per group of group_size elements.
template <class From, packed_layout L, class B = detail::simd::best_backend>
void convert_unscaled(packed_span<From, L> q, float* y, const float* scales,
                      std::size_t group_size) {
  using F = std::remove_const_t<From>;
  const std::size_t n = q.size();
  detail::bulk::check_ptrs(q.data(), y, n, "convert_unscaled");
  detail::bulk::check_group(group_size, scales, n, "convert_unscaled");
  for (std::size_t start = 0; start < n; start += group_size) {
    const std::size_t len = n - start < group_size ? n - start : group_size;
    detail::bulk::decode_packed_run<B, F, L, true>(q.data(), start, y + start, len,
                                                   scales[start / group_size]);
  }
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
  if constexpr (detail::simd::kernel_v<F>) {
    detail::bulk::encode_dispatch<B, F, false>(src, dst, n, nullptr, 1.0f, 1, r, o);
  } else {
    for (std::size_t i = 0; i < n; ++i) dst[i] = cast<F>(src[i], r, o).bits();
  }
}

/// dst[i] = static_cast<float>(F::from_bits(src[i])) for i < n: exact.  Throws
/// std::invalid_argument when n > 0 and src or dst is null.
template <class F, class B = detail::simd::best_backend>
void decode(const code_t<F>* src, float* dst, std::size_t n) {
  static_assert(is_lowp_type_v<F>, "decode<F>: F must be a lowp type");
  detail::bulk::check_ptrs(src, dst, n, "decode");
  if constexpr (detail::simd::kernel_v<F>) {
    detail::simd::decode_run<B, F, false>(src, dst, n, 1.0f);
  } else if constexpr (detail::bulk::is_half_v<F>) {
    detail::bulk::half_chunk_to_float<F>(src, dst, n);
  } else {
    for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(F::from_bits(src[i]));
  }
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
