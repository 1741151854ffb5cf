// lowp/detail/simd_convert.hpp — the bulk conversion kernels, written once over the
// back-ends of detail/simd.hpp.
//
// Layer: bulk (internal).  Includes detail/simd.hpp, types.hpp, packed.hpp.
//
// Encoding float -> small float (E4M3, E5M2, the fnuz formats, FP6, FP4) works on the
// float's bits with integer operations only, lane by lane:
//
//   a = |x| bits, e = a >> 23 (biased exponent)
//   normal results (|x| >= 2^emin): the result's ulp is 2^(23-M) float ulps, so
//       code = ((a + inc) >> (23 - M)) - ((127 - bias) << M)
//     where inc implements the rounding mode (RNE: half - 1 + the kept LSB; away: half;
//     toward zero: 0; up/down: ulp - 1 on the side that rounds away).  A carry out of the
//     mantissa lands in the exponent field by itself, exactly as in the generic converter.
//   subnormal results (|x| < 2^emin): code = round(sig >> s), s = 150 + emin - M - e
//     (a variable shift; sig includes the implicit bit), clamped to [1, 31] so no shift
//     is out of range (s >= 25 rounds every 24-bit sig to 0 or, directed, to 1 anyway).
//   then: rounded code > max -> the overflow code; Inf and NaN inputs -> their codes.
//
// The specials' codes (overflow, Inf, NaN) are taken from the generic converter's own
// functions (overflow_code, encode of Inf, nan_code) once per call, so the two cannot
// disagree on policy.  Integers (int4/uint4/int8/uint8) use the subnormal formula with
// ulp 1 and then clamp.  Decoding is the inverse: the normal formula shifted left, a
// 8-entry table for the subnormals, and the specials.
//
// Nearest-even + saturate, the case engines run, has shorter paths (encode_lanes_fast):
// FP8 finishes normal lanes with the normal formula and one unsigned min and branches to
// the full path only for vectors holding a subnormal-range or NaN lane; FP6 runs both
// formulas branch-free; E2M1 and the integers use the float -> int conversion
// (encode_lanes_cvt).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../packed.hpp"
#include "../types.hpp"
#include "simd.hpp"

namespace lowp::detail::simd {

// ------------------------------------------------------------------------------------
// Which formats the kernels handle.
// ------------------------------------------------------------------------------------

/// Small signed floats with subnormals: E4M3FN, E5M2, both fnuz, FP6 x2, FP4.
template <class T>
inline constexpr bool kernel_float_v = [] {
  if constexpr (is_lowp_float_v<T>) {
    using Tr = typename T::traits_type;
    return Tr::has_sign && Tr::has_subnormals && sizeof(typename Tr::storage) == 1 &&
           Tr::mantissa_bits <= 3;
  } else {
    return false;
  }
}();
template <class T>
inline constexpr bool kernel_int_v = is_lowp_int_v<T>;
template <class T>
inline constexpr bool kernel_v = kernel_float_v<T> || kernel_int_v<T>;

// ------------------------------------------------------------------------------------
// Per-call constants of an encoder (the specials' codes depend on mode and policy).
// ------------------------------------------------------------------------------------
struct encode_consts {
  std::uint32_t ov_pos, ov_neg;    // finite overflow, by sign
  std::uint32_t inf_pos, inf_neg;  // +-Inf input
  std::uint32_t nan_pos, nan_neg;  // NaN input without payload
};

template <class T>
constexpr encode_consts make_encode_consts(round_mode mode, overflow policy) noexcept {
  encode_consts c{};
  if constexpr (kernel_float_v<T>) {
    using Tr = typename T::traits_type;
    unpacked inf_p{unpacked::inf, false, 0, 0}, inf_n{unpacked::inf, true, 0, 0};
    c.ov_pos = static_cast<std::uint32_t>(overflow_code<Tr>(false, mode, policy));
    c.ov_neg = static_cast<std::uint32_t>(overflow_code<Tr>(true, mode, policy));
    c.inf_pos = static_cast<std::uint32_t>(encode<Tr>(inf_p, mode, policy));
    c.inf_neg = static_cast<std::uint32_t>(encode<Tr>(inf_n, mode, policy));
    c.nan_pos = static_cast<std::uint32_t>(nan_code<Tr>(false, 0));
    c.nan_neg = static_cast<std::uint32_t>(nan_code<Tr>(true, 0));
  } else {
    (void)mode;
    (void)policy;
  }
  return c;
}

// The rounding increment for a right shift by s (s a vector in [1, 31]) of sig.
template <class B, round_mode Mode>
inline typename B::vec round_inc_var(typename B::vec sig, typename B::vec s,
                                     typename B::mask neg) noexcept {
  using V = typename B::vec;
  const V one = B::set1(1);
  if constexpr (Mode == round_mode::nearest_even) {
    const V half = B::sllv(one, B::sub(s, one));
    return B::add(B::sub(half, one), B::and_(B::srlv(sig, s), one));
  } else if constexpr (Mode == round_mode::nearest_away) {
    (void)sig;
    (void)neg;
    return B::sllv(one, B::sub(s, one));
  } else if constexpr (Mode == round_mode::toward_zero) {
    (void)sig;
    (void)s;
    (void)neg;
    return B::set1(0);
  } else {
    (void)sig;
    const V ulp_m1 = B::sub(B::sllv(one, s), one);
    return Mode == round_mode::up ? B::select(neg, B::set1(0), ulp_m1)
                                  : B::select(neg, ulp_m1, B::set1(0));
  }
}

// The same for a constant shift Sh.
template <class B, round_mode Mode, int Sh>
inline typename B::vec round_inc_const(typename B::vec a, typename B::mask neg) noexcept {
  using V = typename B::vec;
  constexpr std::uint32_t half = 1u << (Sh - 1), ulp_m1 = (1u << Sh) - 1u;
  if constexpr (Mode == round_mode::nearest_even) {
    (void)neg;
    return B::add(B::set1(half - 1u), B::and_(B::template srli<Sh>(a), B::set1(1)));
  } else if constexpr (Mode == round_mode::nearest_away) {
    (void)a;
    (void)neg;
    return B::set1(half);
  } else if constexpr (Mode == round_mode::toward_zero) {
    (void)a;
    (void)neg;
    return B::set1(0);
  } else {
    (void)a;
    const V u = B::set1(ulp_m1), z = B::set1(0);
    return Mode == round_mode::up ? B::select(neg, z, u) : B::select(neg, u, z);
  }
}

/// float bits x -> code of T (in the low bits of each lane).
template <class B, class T, round_mode Mode>
inline typename B::vec encode_lanes(typename B::vec x, const encode_consts& k) noexcept {
  using V = typename B::vec;
  using Msk = typename B::mask;
  const V a = B::and_(x, B::set1(0x7FFFFFFFu));
  const Msk neg = B::gt_u(x, B::set1(0x7FFFFFFFu));
  const V e = B::template srli<23>(a);
  const V one = B::set1(1);
  // sig with the implicit bit (min(e, 1) is 1 exactly for normal floats)
  const V sig = B::or_(B::and_(a, B::set1(0x7FFFFFu)), B::template slli<23>(B::min_u(e, one)));
  const V e1 = B::max_u(e, one);
  if constexpr (kernel_float_v<T>) {
    using Tr = typename T::traits_type;
    using L = float_layout<Tr>;
    constexpr int M = L::M;
    constexpr int Sh = 23 - M;
    constexpr std::uint32_t K = static_cast<std::uint32_t>(150 + L::emin - M);
    constexpr std::uint32_t thr = static_cast<std::uint32_t>(L::emin + 127) << 23;
    constexpr std::uint32_t rebias = static_cast<std::uint32_t>(127 - Tr::bias) << M;
    // normal path
    const V code_n = B::sub(B::template srli<Sh>(B::add(a, round_inc_const<B, Mode, Sh>(a, neg))),
                            B::set1(rebias));
    // subnormal path
    const V s = B::min_u(B::max_u(B::sub(B::set1(K), e1), one), B::set1(31));
    const V code_s = B::srlv(B::add(sig, round_inc_var<B, Mode>(sig, s, neg)), s);
    const V mag = B::select(B::gt_u(a, B::set1(thr - 1u)), code_n, code_s);
    // finite result with the sign (the fnuz formats have no -0)
    V code = B::or_(mag, B::and_(B::template srli<31 - (L::E + M)>(x),
                                 B::set1(static_cast<std::uint32_t>(L::sign_mask))));
    if constexpr (!L::has_negative_zero) code = B::select(B::eq(mag, B::set1(0)), B::set1(0), code);
    // overflow, Inf, NaN
    const Msk ov = B::gt_u(mag, B::set1(static_cast<std::uint32_t>(L::max_magnitude)));
    code = B::select(ov, B::select(neg, B::set1(k.ov_neg), B::set1(k.ov_pos)), code);
    code = B::select(B::eq(a, B::set1(0x7F800000u)),
                     B::select(neg, B::set1(k.inf_neg), B::set1(k.inf_pos)), code);
    V nanc = B::select(neg, B::set1(k.nan_neg), B::set1(k.nan_pos));
    if constexpr (Tr::nan == nan_encoding::ieee && M >= 2) {
      // payload: the top M-1 float mantissa bits below the quiet bit (bit 22)
      nanc = B::or_(nanc, B::and_(B::template srli<23 - M>(a), B::set1((1u << (M - 1)) - 1u)));
    }
    return B::select(B::gt_u(a, B::set1(0x7F800000u)), nanc, code);
  } else {
    static_assert(kernel_int_v<T>);
    using Tr = typename T::traits_type;
    constexpr std::uint32_t maxv = static_cast<std::uint32_t>(Tr::max);
    constexpr std::uint32_t minmag = static_cast<std::uint32_t>(-Tr::min);
    constexpr std::uint32_t code_mask = (1u << Tr::bits) - 1u;
    constexpr std::uint32_t big = static_cast<std::uint32_t>(127 + Tr::bits + 1)
                                  << 23;  // 2^(bits+1)
    const V s = B::min_u(B::max_u(B::sub(B::set1(150), e1), one), B::set1(31));
    V r = B::srlv(B::add(sig, round_inc_var<B, Mode>(sig, s, neg)), s);
    const V limit = B::select(neg, B::set1(minmag), B::set1(maxv));
    r = B::select(B::gt_u(a, B::set1(big - 1u)), limit, B::min_u(r, limit));
    r = B::select(neg, B::and_(B::sub(B::set1(0), r), B::set1(code_mask)), r);
    return B::select(B::gt_u(a, B::set1(0x7F800000u)), B::set1(0), r);
  }
}

// --- nearest-even through the vector unit's float -> int conversion -----------------
//
// Integers: code = clamp(rne(|x|)), the conversion rounding by its immediate (AVX-512
// embedded rounding; AVX2 roundps + exact truncation), so MXCSR plays no part; values
// beyond int32 convert to 0x80000000, which the unsigned clamp saturates.
// E2M1: the value grid is 0.5 on [0, 2), 1 on [2, 4), 2 on [4, 8), so with
// k = clamp(exponent - 127, 0, 2):  code = min(rne(|x| * 2^(1 - k)) + 2k, 7), where the
// power-of-two multiply is an exponent-field add (exact) and ties to even on the integer
// are ties to the even code.
template <class B, class T>
inline typename B::vec encode_lanes_cvt(typename B::vec x, const encode_consts& k) noexcept {
  using V = typename B::vec;
  const V a = B::and_(x, B::set1(0x7FFFFFFFu));
  const typename B::mask nan = B::gt_u(a, B::set1(0x7F800000u));
  if constexpr (is_lowp_int_v<T>) {
    (void)k;
    using Tr = typename T::traits_type;
    constexpr std::uint32_t code_mask = (1u << Tr::bits) - 1u;
    const typename B::mask neg = B::gt_u(x, B::set1(0x7FFFFFFFu));
    V r = B::cvt_rne_i32(a);
    if constexpr (Tr::is_signed) {
      const V limit = B::select(neg, B::set1(static_cast<std::uint32_t>(-Tr::min)),
                                B::set1(static_cast<std::uint32_t>(Tr::max)));
      r = B::min_u(r, limit);
      r = B::select(neg, B::and_(B::sub(B::set1(0), r), B::set1(code_mask)), r);
    } else {
      r = B::select(neg, B::set1(0), B::min_u(r, B::set1(static_cast<std::uint32_t>(Tr::max))));
    }
    return B::select(nan, B::set1(0), r);
  } else {
    static_assert(std::is_same_v<T, float4_e2m1fn>);
    const V kk =
        B::min_u(B::sub(B::max_u(B::template srli<23>(a), B::set1(127)), B::set1(127)), B::set1(2));
    const V scaled = B::sub(B::add(a, B::set1(1u << 23)), B::template slli<23>(kk));
    const V r = B::min_u(B::add(B::cvt_rne_i32(scaled), B::add(kk, kk)), B::set1(7));
    const V sign = B::and_(B::template srli<28>(x), B::set1(8u));
    return B::select(nan, B::set1(k.nan_pos), B::or_(r, sign));
  }
}

template <class T>
inline constexpr bool cvt_kernel_v = std::is_same_v<T, float4_e2m1fn> || is_lowp_int_v<T>;

template <class B, class T, round_mode Mode, bool Saturate>
inline typename B::vec encode_lanes_fast(typename B::vec x, const encode_consts& k) noexcept {
  if constexpr (cvt_kernel_v<T> && Mode == round_mode::nearest_even &&
                (Saturate || is_lowp_int_v<T>)) {
    return encode_lanes_cvt<B, T>(x, k);
  } else if constexpr (kernel_float_v<T> && Mode == round_mode::nearest_even && Saturate) {
    using V = typename B::vec;
    using Tr = typename T::traits_type;
    using L = float_layout<Tr>;
    constexpr int M = L::M;
    constexpr int Sh = 23 - M;
    constexpr std::uint32_t thr = static_cast<std::uint32_t>(L::emin + 127) << 23;
    constexpr std::uint32_t rebias = static_cast<std::uint32_t>(127 - Tr::bias) << M;
    const V a = B::and_(x, B::set1(0x7FFFFFFFu));
    const V inc =
        B::add(B::set1((1u << (Sh - 1)) - 1u), B::and_(B::template srli<Sh>(a), B::set1(1)));
    V mag = B::min_u(B::sub(B::template srli<Sh>(B::add(a, inc)), B::set1(rebias)),
                     B::set1(static_cast<std::uint32_t>(L::max_magnitude)));
    const V sign = B::and_(B::template srli<31 - (L::E + M)>(x),
                           B::set1(static_cast<std::uint32_t>(L::sign_mask)));
    if constexpr (L::emin >= -2) {
      // FP4/FP6: results below 2^emin are common (|x| < 1 for E2M1), so the subnormal
      // formula runs on every vector, branch-free; only NaN needs a fix-up (these
      // formats have -0, and NaN gives the unsigned nan_pos code).
      static_assert(L::has_negative_zero && Tr::nan == nan_encoding::none);
      constexpr std::uint32_t K = static_cast<std::uint32_t>(150 + L::emin - M);
      const V one = B::set1(1);
      const V e = B::template srli<23>(a);
      const V sig = B::or_(B::and_(a, B::set1(0x7FFFFFu)), B::template slli<23>(B::min_u(e, one)));
      const V s = B::min_u(B::max_u(B::sub(B::set1(K), B::max_u(e, one)), one), B::set1(31));
      const V code_s =
          B::srlv(B::add(sig, round_inc_var<B, Mode>(sig, s, B::gt_u(x, B::set1(0x7FFFFFFFu)))), s);
      mag = B::select(B::gt_u(a, B::set1(thr - 1u)), mag, code_s);
      return B::select(B::gt_u(a, B::set1(0x7F800000u)), B::set1(k.nan_pos), B::or_(mag, sign));
    } else {
      const V out = B::or_(mag, sign);
      const typename B::mask rare =
          B::mor(B::gt_u(B::set1(thr), a), B::gt_u(a, B::set1(0x7F800000u)));
      if (B::any(rare)) return B::select(rare, encode_lanes<B, T, Mode>(x, k), out);
      return out;
    }
  } else {
    return encode_lanes<B, T, Mode>(x, k);
  }
}

/// Float bits of the subnormal codes 0..2^M-1 of Tr (8 entries, padded).
template <class Tr>
struct subnormal_table {
  static constexpr auto make() noexcept {
    struct arr {
      std::uint32_t v[8];
    } t{};
    using L = float_layout<Tr>;
    for (std::uint32_t m = 0; m < 8; ++m)
      t.v[m] = m < (1u << L::M) ? static_cast<std::uint32_t>(encode<traits::binary32>(
                                      decode<Tr>(m), round_mode::nearest_even, overflow::saturate))
                                : 0u;
    return t;
  }
  static constexpr auto value = make();
};

/// Float bits of the 16 codes of a 4-bit format (exact), for one-instruction decoding.
template <class T>
struct nibble_table {
  static constexpr auto make() noexcept {
    struct arr {
      std::uint32_t v[16];
    } t{};
    using Tr = typename T::traits_type;
    for (std::uint32_t c = 0; c < 16; ++c) {
      if constexpr (is_lowp_int_v<T>) {
        t.v[c] = static_cast<std::uint32_t>(encode<traits::binary32>(
            decode_int<Tr>(c), round_mode::nearest_even, overflow::saturate));
      } else {
        t.v[c] = static_cast<std::uint32_t>(
            encode<traits::binary32>(decode<Tr>(c), round_mode::nearest_even, overflow::saturate));
      }
    }
    return t;
  }
  static constexpr auto value = make();
};

/// code of T (low bits of each lane) -> float bits (exact; Inf stays Inf).
template <class B, class T>
inline typename B::vec decode_lanes(typename B::vec c) noexcept {
  using V = typename B::vec;
  if constexpr (packed_bits_v<T> == 4 && B::has_permute16) {
    // A 4-bit format has 16 codes: look them up (the lookup reads only the low 4 bits
    // of each lane, as the formulas below mask them).
    return B::permute16(nibble_table<T>::value.v, c);
  } else if constexpr (kernel_float_v<T>) {
    using Tr = typename T::traits_type;
    using L = float_layout<Tr>;
    constexpr int M = L::M;
    const V mag = B::and_(c, B::set1(static_cast<std::uint32_t>(L::magnitude_mask)));
    const V sgn = B::template slli<31 - (L::E + M)>(
        B::and_(c, B::set1(static_cast<std::uint32_t>(L::sign_mask))));
    V bits = B::add(B::template slli<23 - M>(mag),
                    B::set1(static_cast<std::uint32_t>(127 - Tr::bias) << 23));
    bits = B::select(B::gt_u(B::set1(1u << M), mag), B::permute8(subnormal_table<Tr>::value.v, mag),
                     bits);
    if constexpr (Tr::nan == nan_encoding::ieee) {
      // Exponent field all ones: the normal formula gave float exponent
      // field_all_ones + 127 - bias; move it up to 255 (Inf/NaN, mantissa bits kept),
      // then set the quiet bit of NaNs, as the scalar converter (and F16C) does.
      constexpr std::uint32_t lift =
          static_cast<std::uint32_t>(128 + Tr::bias - static_cast<int>(L::field_all_ones)) << 23;
      constexpr std::uint32_t inf_mag = static_cast<std::uint32_t>(L::field_all_ones << M);
      bits = B::select(B::gt_u(mag, B::set1(inf_mag - 1u)), B::add(bits, B::set1(lift)), bits);
      bits = B::select(B::gt_u(mag, B::set1(inf_mag)), B::or_(bits, B::set1(0x400000u)), bits);
    } else if constexpr (Tr::nan == nan_encoding::all_ones) {
      bits = B::select(B::eq(mag, B::set1(static_cast<std::uint32_t>(L::magnitude_mask))),
                       B::set1(0x7FC00000u), bits);
    }
    V out = B::or_(bits, sgn);
    if constexpr (Tr::nan == nan_encoding::negative_zero)
      out = B::select(B::eq(c, B::set1(static_cast<std::uint32_t>(L::sign_mask))),
                      B::set1(0x7FC00000u), out);
    return out;
  } else {
    static_assert(kernel_int_v<T>);
    using Tr = typename T::traits_type;
    if constexpr (Tr::is_signed) {
      constexpr std::uint32_t sb = 1u << (Tr::bits - 1);
      // (v & (sb - 1)) - (v & sb) sign-extends a two's complement code of Tr::bits bits.
      const V v = B::and_(c, B::set1((1u << Tr::bits) - 1u));
      const V ext = B::sub(B::and_(v, B::set1(sb - 1u)), B::and_(v, B::set1(sb)));
      return B::cvt_i32_f32(ext);
    } else {
      return B::cvt_i32_f32(B::and_(c, B::set1((1u << Tr::bits) - 1u)));
    }
  }
}

// ------------------------------------------------------------------------------------
// Drivers.  `Scale`: none (plain conversion), or one float per group of g elements
// (multiplied in before encoding / after decoding, as IEEE binary32 products).
// Each driver runs the vector back-end over whole vectors and the scalar back-end over
// the rest, so n, alignment and tails are free.
// ------------------------------------------------------------------------------------

// The encoders request the source prefetch_ahead floats ahead of the reader when the
// run is long (see stream_prefetcher); prefetch_end(n) is where the requests stop: a
// request at i < prefetch_end(n) touches at most src[i + prefetch_ahead + 63], inside the
// array (0: the run is too short to bother).
inline constexpr std::size_t prefetch_ahead = stream_prefetcher::distance / sizeof(float);
constexpr std::size_t prefetch_end(std::size_t n) noexcept {
  return n * sizeof(float) >= stream_prefetcher::min_bytes ? n - prefetch_ahead - 64 : 0;
}
// The same for elements [first, first + n) of an array of `total` (a chunk of a threaded
// bulk call), relative to the chunk: the requests are those the whole array's run would
// make there, so they continue into the next chunk (the same thread's, with OpenMP's
// static schedule) and stay inside the array.
constexpr std::size_t prefetch_end(std::size_t total, std::size_t first, std::size_t n) noexcept {
  const std::size_t end = prefetch_end(total);
  return end <= first ? 0 : (end - first < n ? end - first : n);
}

// pf_end: the prefetch limit, prefetch_end(n) for a whole array (the overload below).
template <class B, class T, round_mode Mode, bool Scaled, bool Saturate = false>
inline void encode_run(const float* src, std::uint8_t* dst, std::size_t n, float inv_scale,
                       const encode_consts k, const std::size_t pf_end) noexcept {
  std::size_t i = 0;
  if constexpr (B::has_store_u8x4) {  // four vectors per step, their codes in one store
    constexpr std::size_t step = 4 * B::width, line_floats = 64 / sizeof(float);
    static_assert(step <= 64, "prefetch_end(n) leaves room for steps of 64 floats");
    for (const std::size_t nv = (n / step) * step; i < nv; i += step) {
      if (i < pf_end) {
        for (std::size_t line = 0; line < step; line += line_floats)
          prefetch_l2(src + i + prefetch_ahead + line);
      }
      typename B::vec x0 = B::load_f32(src + i), x1 = B::load_f32(src + i + B::width);
      typename B::vec x2 = B::load_f32(src + i + 2 * B::width);
      typename B::vec x3 = B::load_f32(src + i + 3 * B::width);
      if constexpr (Scaled) {
        x0 = B::mul_f32(x0, inv_scale);
        x1 = B::mul_f32(x1, inv_scale);
        x2 = B::mul_f32(x2, inv_scale);
        x3 = B::mul_f32(x3, inv_scale);
      }
      B::store_u8x4(dst + i, encode_lanes_fast<B, T, Mode, Saturate>(x0, k),
                    encode_lanes_fast<B, T, Mode, Saturate>(x1, k),
                    encode_lanes_fast<B, T, Mode, Saturate>(x2, k),
                    encode_lanes_fast<B, T, Mode, Saturate>(x3, k));
    }
  }
  if constexpr (B::width > 1) {
    for (const std::size_t nv = i + (n - i) / B::width * B::width; i < nv; i += B::width) {
      typename B::vec x = B::load_f32(src + i);
      if constexpr (Scaled) x = B::mul_f32(x, inv_scale);
      B::store_u8(dst + i, encode_lanes_fast<B, T, Mode, Saturate>(x, k));
    }
  }
  for (; i < n; ++i) {
    std::uint32_t x = scalar_backend::load_f32(src + i);
    if constexpr (Scaled) x = scalar_backend::mul_f32(x, inv_scale);
    dst[i] = static_cast<std::uint8_t>(encode_lanes_fast<scalar_backend, T, Mode, Saturate>(x, k));
  }
}

template <class B, class T, round_mode Mode, bool Scaled, bool Saturate = false>
inline void encode_run(const float* src, std::uint8_t* dst, std::size_t n, float inv_scale,
                       const encode_consts k) noexcept {
  encode_run<B, T, Mode, Scaled, Saturate>(src, dst, n, inv_scale, k, prefetch_end(n));
}

// Packed 4-bit destination; `first` is the element index of src[0] in the packed stream;
// pf_end as for encode_run.
template <class B, class T, packed_layout L, round_mode Mode, bool Scaled, bool Saturate = false>
inline void encode_run_nib(const float* src, std::uint8_t* bytes, std::size_t first, std::size_t n,
                           float inv_scale, const encode_consts k,
                           const std::size_t pf_end) noexcept {
  std::size_t i = 0;
  if constexpr (B::width > 1) {
    // The vector path needs whole bytes: start at an even element.
    if ((first & 1u) != 0 && n != 0) {
      std::uint32_t x = scalar_backend::load_f32(src);
      if constexpr (Scaled) x = scalar_backend::mul_f32(x, inv_scale);
      ::lowp::detail::packed_store_code<T, L>(bytes, first,
                                              encode_lanes<scalar_backend, T, Mode>(x, k));
      i = 1;
    }
    for (const std::size_t nv = i + (n - i) / B::width * B::width; i < nv; i += B::width) {
      if (i < pf_end) prefetch_l2(src + i + prefetch_ahead);  // one line per AVX-512 vector
      typename B::vec x = B::load_f32(src + i);
      if constexpr (Scaled) x = B::mul_f32(x, inv_scale);
      B::template store_nib<L == packed_layout::high_nibble_first>(
          bytes + (first + i) / 2, encode_lanes_fast<B, T, Mode, Saturate>(x, k));
    }
  }
  for (; i < n; ++i) {
    std::uint32_t x = scalar_backend::load_f32(src + i);
    if constexpr (Scaled) x = scalar_backend::mul_f32(x, inv_scale);
    ::lowp::detail::packed_store_code<T, L>(
        bytes, first + i, encode_lanes_fast<scalar_backend, T, Mode, Saturate>(x, k));
  }
}

template <class B, class T, packed_layout L, round_mode Mode, bool Scaled, bool Saturate = false>
inline void encode_run_nib(const float* src, std::uint8_t* bytes, std::size_t first, std::size_t n,
                           float inv_scale, const encode_consts k) noexcept {
  encode_run_nib<B, T, L, Mode, Scaled, Saturate>(src, bytes, first, n, inv_scale, k,
                                                  prefetch_end(n));
}

// Packed FP6 destination (packed.hpp: four codes per three bytes); `first` is the element
// index of src[0] in the packed stream; pf_end as for encode_run.  Vector back-ends encode
// 32 floats into registers and pack them there (B::pack_fp6_x32: 24 whole bytes, so these
// steps start at a group of four: the elements before the first multiple of 4 go one by
// one).  The last fewer than 32 are encoded into a buffer by encode_run (vector steps
// still) and stored one by one, so the bytes the run shares with its neighbours, at either
// end, keep every bit outside the run.  The scalar back-end stores one element at a time.
template <class B, class T, round_mode Mode, bool Scaled, bool Saturate = false>
inline void encode_run_fp6(const float* src, std::uint8_t* bytes, std::size_t first, std::size_t n,
                           float inv_scale, const encode_consts k,
                           const std::size_t pf_end) noexcept {
  static_assert(packed_bits_v<T> == 6);
  const auto store_one = [&](std::size_t i) {
    std::uint32_t x = scalar_backend::load_f32(src + i);
    if constexpr (Scaled) x = scalar_backend::mul_f32(x, inv_scale);
    ::lowp::detail::packed_store_code<T>(
        bytes, first + i, encode_lanes_fast<scalar_backend, T, Mode, Saturate>(x, k));
  };
  std::size_t i = 0;
  if constexpr (B::width > 1) {
    constexpr std::size_t step = 32, nvec = step / B::width;
    for (; i < n && (first + i) % 4 != 0; ++i) store_one(i);
    for (const std::size_t nv = i + (n - i) / step * step; i < nv; i += step) {
      if (i < pf_end) {  // the step's two cache lines
        prefetch_l2(src + i + prefetch_ahead);
        prefetch_l2(src + i + prefetch_ahead + 16);
      }
      typename B::vec codes[nvec];
      for (std::size_t j = 0; j < nvec; ++j) {
        typename B::vec x = B::load_f32(src + i + j * B::width);
        if constexpr (Scaled) x = B::mul_f32(x, inv_scale);
        codes[j] = encode_lanes_fast<B, T, Mode, Saturate>(x, k);
      }
      B::pack_fp6_x32(bytes + (first + i) / 4 * 3, codes);
    }
    if (i < n) {
      // The tail is under 32 codes, so encode_run never takes its four-vector step; the
      // buffer still holds one such step (64 codes with AVX-512) so that no path through
      // encode_run can write past it, which GCC's -Warray-bounds cannot otherwise see.
      constexpr std::size_t tail_capacity =
          B::has_store_u8x4 && 4 * B::width > step ? 4 * B::width : step;
      std::uint8_t codes[tail_capacity];
      encode_run<B, T, Mode, Scaled, Saturate>(src + i, codes, n - i, inv_scale, k, 0);
      for (std::size_t j = 0; j < n - i; ++j)
        ::lowp::detail::packed_store_code<T>(bytes, first + i + j, codes[j]);
    }
  } else {
    for (; i < n; ++i) store_one(i);
  }
}

template <class B, class T, bool Scaled>
inline void decode_run(const std::uint8_t* src, float* dst, std::size_t n, float scale) noexcept {
  std::size_t i = 0;
  if constexpr (B::has_load_f16hi && std::is_same_v<T, float8_e5m2>) {
    // An E5M2 code is the high byte of the IEEE binary16 with the same value (OCP OFP8
    // v1.0: E5M2 has binary16's sign, exponent field, bias and specials), and
    // load_f16hi converts binary16 to float exactly, with the same NaN rule as the
    // generic converter.  Should MXCSR.DAZ be set (it may flush binary16 subnormal
    // inputs), the integer kernel below runs instead; MXCSR is read once per call.
    if (B::load_f16hi_exact()) {
      for (const std::size_t nv = n / B::width * B::width; i < nv; i += B::width) {
        typename B::vec f = B::load_f16hi(src + i);
        if constexpr (Scaled) f = B::mul_f32(f, scale);
        B::store_f32(dst + i, f);
      }
    }
  }
  if constexpr (B::width > 1) {
    for (const std::size_t nv = i + (n - i) / B::width * B::width; i < nv; i += B::width) {
      typename B::vec f = decode_lanes<B, T>(B::load_u8(src + i));
      if constexpr (Scaled) f = B::mul_f32(f, scale);
      B::store_f32(dst + i, f);
    }
  }
  for (; i < n; ++i) {
    std::uint32_t f = decode_lanes<scalar_backend, T>(src[i]);
    if constexpr (Scaled) f = scalar_backend::mul_f32(f, scale);
    scalar_backend::store_f32(dst + i, f);
  }
}

template <class B, class T, packed_layout L, bool Scaled>
inline void decode_run_nib(const std::uint8_t* bytes, std::size_t first, float* dst, std::size_t n,
                           float scale) noexcept {
  std::size_t i = 0;
  if constexpr (B::width > 1) {
    if ((first & 1u) != 0 && n != 0) {
      std::uint32_t f =
          decode_lanes<scalar_backend, T>(::lowp::detail::packed_load_code<T, L>(bytes, first));
      if constexpr (Scaled) f = scalar_backend::mul_f32(f, scale);
      scalar_backend::store_f32(dst, f);
      i = 1;
    }
    for (const std::size_t nv = i + (n - i) / B::width * B::width; i < nv; i += B::width) {
      typename B::vec f = decode_lanes<B, T>(
          B::template load_nib<L == packed_layout::high_nibble_first>(bytes + (first + i) / 2));
      if constexpr (Scaled) f = B::mul_f32(f, scale);
      B::store_f32(dst + i, f);
    }
  }
  for (; i < n; ++i) {
    std::uint32_t f =
        decode_lanes<scalar_backend, T>(::lowp::detail::packed_load_code<T, L>(bytes, first + i));
    if constexpr (Scaled) f = scalar_backend::mul_f32(f, scale);
    scalar_backend::store_f32(dst + i, f);
  }
}

// Packed FP6 source, the inverse of encode_run_fp6: vector back-ends unpack 24 bytes into
// 32 codes in registers (B::unpack_fp6_x32) from the first group boundary on; the elements
// before it, and the last fewer than 32 (through a buffer and decode_run), are read one by
// one, so no byte outside the run's own is read.
template <class B, class T, bool Scaled>
inline void decode_run_fp6(const std::uint8_t* bytes, std::size_t first, float* dst, std::size_t n,
                           float scale) noexcept {
  static_assert(packed_bits_v<T> == 6);
  const auto load_one = [&](std::size_t i) {
    std::uint32_t f =
        decode_lanes<scalar_backend, T>(::lowp::detail::packed_load_code<T>(bytes, first + i));
    if constexpr (Scaled) f = scalar_backend::mul_f32(f, scale);
    scalar_backend::store_f32(dst + i, f);
  };
  std::size_t i = 0;
  if constexpr (B::width > 1) {
    constexpr std::size_t step = 32, nvec = step / B::width;
    for (; i < n && (first + i) % 4 != 0; ++i) load_one(i);
    for (const std::size_t nv = i + (n - i) / step * step; i < nv; i += step) {
      typename B::vec codes[nvec];
      B::unpack_fp6_x32(bytes + (first + i) / 4 * 3, codes);
      for (std::size_t j = 0; j < nvec; ++j) {
        typename B::vec f = decode_lanes<B, T>(codes[j]);
        if constexpr (Scaled) f = B::mul_f32(f, scale);
        B::store_f32(dst + i + j * B::width, f);
      }
    }
    if (i < n) {
      std::uint8_t codes[step];
      for (std::size_t j = 0; j < n - i; ++j)
        codes[j] = ::lowp::detail::packed_load_code<T>(bytes, first + i + j);
      decode_run<B, T, Scaled>(codes, dst + i, n - i, scale);
    }
  } else {
    for (; i < n; ++i) load_one(i);
  }
}

/// Calls f.template operator()<Mode>() with the rounding as a compile-time constant.
template <class F>
inline void dispatch_mode(round_mode m, F&& f) {
  switch (m) {
    case round_mode::nearest_even:
      f(std::integral_constant<round_mode, round_mode::nearest_even>{});
      break;
    case round_mode::nearest_away:
      f(std::integral_constant<round_mode, round_mode::nearest_away>{});
      break;
    case round_mode::toward_zero:
      f(std::integral_constant<round_mode, round_mode::toward_zero>{});
      break;
    case round_mode::up:
      f(std::integral_constant<round_mode, round_mode::up>{});
      break;
    case round_mode::down:
      f(std::integral_constant<round_mode, round_mode::down>{});
      break;
    case round_mode::stochastic:
      break;  // not a bulk mode
  }
}

}  // namespace lowp::detail::simd
