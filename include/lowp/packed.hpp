// lowp/packed.hpp — packed sub-byte storage: 4-bit formats two per byte, FP6 four per
// three bytes; an owning lowp::packed_vector and non-owning lowp::packed_span views.
//
// Layer: storage.  Includes types.hpp and the standard library.
//
// Layouts (the byte streams kernels read; they are part of the API and never change):
//
// * 4-bit formats (float4_e2m1fn, int4, uint4), two codes per byte.
//   packed_layout::low_nibble_first (the default): element 2j is bits 0..3 of byte j,
//   element 2j+1 bits 4..7.  This is CUDA's __nv_fp4x2_storage_t (cuda_fp4.h: "the first
//   element in the low 4 bits"), PyTorch's torch.float4_e2m1fn_x2 (c10/util/
//   Float4_e2m1fn_x2.h) and ONNX's INT4/UINT4/FLOAT4E2M1 ("the first element is stored in
//   the 4 LSB").  packed_layout::high_nibble_first swaps the two (element 2j in bits 4..7),
//   the order some GGML/AWQ-style kernels use.
// * 6-bit formats (float6_e2m3fn, float6_e3m2fn), four codes per three bytes, as one
//   little-endian bit stream: element 4j+k occupies bits 6k..6k+5 of the 24-bit
//   little-endian word made of bytes 3j, 3j+1, 3j+2.  The OCP Microscaling (MX) v1.0
//   spec defines the FP6 element encodings (section 5.3.2) but leaves the memory layout
//   to implementations; this LSB-first stream is the layout of AMD's MX hardware and
//   rocRoller (getFp6/setFp6: element 0 in bits 0..5 of byte 0), and it is the natural
//   extension of the FP4 low-nibble-first rule (each element starts at bit 6i of the
//   stream).  Only this layout exists for FP6 (packed_layout::low_nibble_first).
//
// Size: ceil(n * bits / 8) bytes for n elements.  packed_vector keeps every padding bit
// (after the last element) zero; a packed_span never touches bits outside its elements,
// so a 4-bit span may share its last byte with other data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "types.hpp"

namespace lowp {

/// Nibble order of packed 4-bit storage (see the file comment).
enum class packed_layout : std::uint8_t {
  low_nibble_first,   ///< element 0 in bits 0..3 (CUDA __nv_fp4x2, PyTorch, ONNX)
  high_nibble_first,  ///< element 0 in bits 4..7
};

/// Bits per element of a packable type: 4 (float4_e2m1fn, int4, uint4), 6 (float6_*),
/// 0 for every other type.
template <class T>
inline constexpr int packed_bits_v = 0;
template <>
inline constexpr int packed_bits_v<float4_e2m1fn> = 4;
template <>
inline constexpr int packed_bits_v<int4> = 4;
template <>
inline constexpr int packed_bits_v<uint4> = 4;
template <>
inline constexpr int packed_bits_v<float6_e2m3fn> = 6;
template <>
inline constexpr int packed_bits_v<float6_e3m2fn> = 6;

/// True for the types packed storage supports (the cv-unqualified type is looked at).
template <class T>
inline constexpr bool is_packable_v = packed_bits_v<std::remove_cv_t<T>> != 0;

/// Bytes that n packed elements of T occupy: ceil(n * bits / 8).  Never overflows
/// (computed per whole group).
template <class T>
constexpr std::size_t packed_size_in_bytes(std::size_t n) noexcept {
  static_assert(is_packable_v<T>, "packed storage holds 4-bit and 6-bit formats only");
  if constexpr (packed_bits_v<std::remove_cv_t<T>> == 4) {
    return n / 2 + (n % 2);
  } else {
    return n / 4 * 3 + (n % 4 * 6 + 7) / 8;
  }
}

namespace detail {

template <class T, packed_layout L>
constexpr void check_packed_params() noexcept {
  static_assert(is_packable_v<T>,
                "packed storage holds float4_e2m1fn, int4, uint4, float6_e2m3fn, float6_e3m2fn");
  static_assert(packed_bits_v<std::remove_cv_t<T>> == 4 || L == packed_layout::low_nibble_first,
                "FP6 has one packed layout: the little-endian bit stream (low_nibble_first)");
}

/// The code of element i in a packed byte stream (no bounds check).
template <class T, packed_layout L = packed_layout::low_nibble_first>
constexpr std::uint8_t packed_load_code(const std::uint8_t* bytes, std::size_t i) noexcept {
  check_packed_params<T, L>();
  if constexpr (packed_bits_v<T> == 4) {
    const unsigned b = bytes[i / 2];
    const bool high = ((i & 1u) != 0) == (L == packed_layout::low_nibble_first);
    return static_cast<std::uint8_t>((high ? b >> 4 : b) & 0xFu);
  } else {
    const std::size_t bit = (i % 4) * 6;  // 0, 6, 12, 18 within the group's 24 bits
    const std::uint8_t* g = bytes + i / 4 * 3 + bit / 8;
    const unsigned sh = static_cast<unsigned>(bit % 8);  // 0, 6, 4, 2
    unsigned w = g[0];
    if (sh > 2) w |= static_cast<unsigned>(g[1]) << 8;  // the element straddles two bytes
    return static_cast<std::uint8_t>((w >> sh) & 0x3Fu);
  }
}

/// Writes the code (its low 4 or 6 bits) of element i; other elements' bits are kept.
template <class T, packed_layout L = packed_layout::low_nibble_first>
constexpr void packed_store_code(std::uint8_t* bytes, std::size_t i, unsigned code) noexcept {
  check_packed_params<T, L>();
  if constexpr (packed_bits_v<T> == 4) {
    std::uint8_t& b = bytes[i / 2];
    const bool high = ((i & 1u) != 0) == (L == packed_layout::low_nibble_first);
    code &= 0xFu;
    b = high ? static_cast<std::uint8_t>((b & 0x0Fu) | (code << 4))
             : static_cast<std::uint8_t>((b & 0xF0u) | code);
  } else {
    const std::size_t bit = (i % 4) * 6;
    std::uint8_t* g = bytes + i / 4 * 3 + bit / 8;
    const unsigned sh = static_cast<unsigned>(bit % 8);
    code &= 0x3Fu;
    g[0] = static_cast<std::uint8_t>((g[0] & ~(0x3Fu << sh)) | (code << sh));
    if (sh > 2) {
      const unsigned hi_bits = sh - 2;  // bits of the element that land in g[1]
      const unsigned m = (1u << hi_bits) - 1u;
      g[1] = static_cast<std::uint8_t>((g[1] & ~m) | (code >> (8 - sh)));
    }
  }
}

template <class T>
constexpr T packed_from_code(std::uint8_t code) noexcept {
  return T::from_bits(static_cast<typename T::storage_type>(code));
}

}  // namespace detail

/// Element i of a packed byte stream of T (no bounds check: i < the stream's elements).
template <class T, packed_layout L = packed_layout::low_nibble_first>
constexpr T packed_get(const std::uint8_t* bytes, std::size_t i) noexcept {
  return detail::packed_from_code<T>(detail::packed_load_code<T, L>(bytes, i));
}

/// Stores v as element i of a packed byte stream of T, leaving every other bit alone
/// (no bounds check).
template <class T, packed_layout L = packed_layout::low_nibble_first>
constexpr void packed_set(std::uint8_t* bytes, std::size_t i, T v) noexcept {
  detail::packed_store_code<T, L>(bytes, i, v.bits());
}

/// A proxy for one element of mutable packed storage: reads as T, assigns from T.
template <class T, packed_layout L = packed_layout::low_nibble_first>
class packed_reference {
 public:
  constexpr packed_reference(std::uint8_t* bytes, std::size_t i) noexcept : bytes_(bytes), i_(i) {}
  constexpr operator T() const noexcept { return packed_get<T, L>(bytes_, i_); }
  constexpr T get() const noexcept { return packed_get<T, L>(bytes_, i_); }
  constexpr packed_reference& operator=(T v) noexcept {
    packed_set<T, L>(bytes_, i_, v);
    return *this;
  }
  constexpr packed_reference& operator=(const packed_reference& other) noexcept {
    return *this = other.get();
  }
  constexpr packed_reference(const packed_reference&) noexcept = default;
  /// The element's code (the low 4 or 6 bits).
  constexpr std::uint8_t bits() const noexcept {
    return detail::packed_load_code<T, L>(bytes_, i_);
  }

 private:
  std::uint8_t* bytes_;
  std::size_t i_;
};

/// A non-owning view of n packed elements of T over caller-owned bytes, for handing
/// packed tensors to kernels.  `packed_span<T>` reads and writes, `packed_span<const T>`
/// only reads; a packed_span<T> converts to packed_span<const T>.
///
/// The bytes must hold at least packed_size_in_bytes<T>(n) bytes and outlive the view;
/// there is no alignment requirement.  Element access with [] is unchecked; at() throws
/// std::out_of_range.  Writes touch only the written element's bits.
template <class T, packed_layout L = packed_layout::low_nibble_first>
class packed_span {
 public:
  using value_type = std::remove_cv_t<T>;
  using byte_type = std::conditional_t<std::is_const_v<T>, const std::uint8_t, std::uint8_t>;
  static constexpr int bits_per_element = packed_bits_v<value_type>;
  static constexpr packed_layout layout = L;

  constexpr packed_span() noexcept = default;
  /// A view of n elements starting at bytes[0] (element 0 at the layout's first position).
  constexpr packed_span(byte_type* bytes, std::size_t n) noexcept : bytes_(bytes), n_(n) {
    detail::check_packed_params<value_type, L>();
  }
  /// packed_span<T> -> packed_span<const T>.
  template <class U, std::enable_if_t<std::is_const_v<T> && std::is_same_v<const U, T>, int> = 0>
  constexpr packed_span(const packed_span<U, L>& other) noexcept  // NOLINT: implicit on purpose
      : bytes_(other.data()), n_(other.size()) {}

  constexpr std::size_t size() const noexcept { return n_; }
  constexpr bool empty() const noexcept { return n_ == 0; }
  constexpr std::size_t size_in_bytes() const noexcept {
    return packed_size_in_bytes<value_type>(n_);
  }
  /// The raw bytes (the layout described in the file comment).
  constexpr byte_type* data() const noexcept { return bytes_; }
  constexpr byte_type* bytes() const noexcept { return bytes_; }

  /// Element i (i < size(), unchecked).
  constexpr value_type get(std::size_t i) const noexcept {
    return packed_get<value_type, L>(bytes_, i);
  }
  /// Stores v at element i (i < size(), unchecked).  Only for a mutable span.
  template <class U = T, std::enable_if_t<!std::is_const_v<U>, int> = 0>
  constexpr void set(std::size_t i, value_type v) const noexcept {
    packed_set<value_type, L>(bytes_, i, v);
  }
  /// Element i: a value for packed_span<const T>, an assignable proxy for packed_span<T>.
  constexpr auto operator[](std::size_t i) const noexcept {
    if constexpr (std::is_const_v<T>) {
      return get(i);
    } else {
      return packed_reference<value_type, L>(bytes_, i);
    }
  }
  /// Element i; throws std::out_of_range when i >= size().
  constexpr value_type at(std::size_t i) const {
    if (i >= n_)
      throw std::out_of_range("lowp::packed_span::at: index " + std::to_string(i) + " >= size " +
                              std::to_string(n_));
    return get(i);
  }

  /// Elements [offset, offset + count) as a view.  The first element must start a byte:
  /// offset even for 4-bit formats, a multiple of 4 for FP6; otherwise, or when the range
  /// leaves the span, throws std::invalid_argument / std::out_of_range.
  constexpr packed_span subspan(std::size_t offset, std::size_t count) const {
    if (offset > n_ || count > n_ - offset)
      throw std::out_of_range("lowp::packed_span::subspan: range leaves the span");
    constexpr std::size_t group = bits_per_element == 4 ? 2 : 4;
    if (offset % group != 0)
      throw std::invalid_argument("lowp::packed_span::subspan: offset " + std::to_string(offset) +
                                  " does not start a byte (need a multiple of " +
                                  std::to_string(group) + ")");
    return packed_span(bytes_ + packed_size_in_bytes<value_type>(offset), count);
  }

 private:
  byte_type* bytes_ = nullptr;
  std::size_t n_ = 0;
};

/// An owning, resizable array of n packed elements of T (4-bit two per byte, FP6 four per
/// three bytes; see the file comment for the byte layout).  New elements are zero (code 0,
/// +0 for the float formats), padding bits after the last element are kept zero, so
/// bytes() can be written to a file or handed to a kernel as is.
template <class T, packed_layout L = packed_layout::low_nibble_first>
class packed_vector {
  static_assert(!std::is_const_v<T>,
                "packed_vector<const T> is not a thing; use packed_span<const T>");

 public:
  using value_type = T;
  using span_type = packed_span<T, L>;
  using const_span_type = packed_span<const T, L>;
  static constexpr int bits_per_element = packed_bits_v<T>;
  static constexpr packed_layout layout = L;

  packed_vector() noexcept { detail::check_packed_params<T, L>(); }
  /// n zero elements.
  explicit packed_vector(std::size_t n) : bytes_(packed_size_in_bytes<T>(n), 0), n_(n) {
    detail::check_packed_params<T, L>();
  }
  /// n copies of v.
  packed_vector(std::size_t n, T v) : packed_vector(n) {
    for (std::size_t i = 0; i < n; ++i) set(i, v);
  }
  /// Copies n elements from packed bytes laid out as L (reads packed_size_in_bytes<T>(n)
  /// bytes; the padding bits of the last byte are cleared).
  static packed_vector from_bytes(const std::uint8_t* bytes, std::size_t n) {
    packed_vector v(n);
    if (n != 0) {
      for (std::size_t b = 0; b < v.bytes_.size(); ++b) v.bytes_[b] = bytes[b];
      v.clear_padding();
    }
    return v;
  }

  std::size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  std::size_t size_in_bytes() const noexcept { return bytes_.size(); }
  std::uint8_t* data() noexcept { return bytes_.data(); }
  const std::uint8_t* data() const noexcept { return bytes_.data(); }
  std::uint8_t* bytes() noexcept { return bytes_.data(); }
  const std::uint8_t* bytes() const noexcept { return bytes_.data(); }

  T get(std::size_t i) const noexcept { return packed_get<T, L>(bytes_.data(), i); }
  void set(std::size_t i, T v) noexcept { packed_set<T, L>(bytes_.data(), i, v); }
  /// Element i (unchecked): an assignable proxy, or a value on a const vector.
  packed_reference<T, L> operator[](std::size_t i) noexcept { return {bytes_.data(), i}; }
  T operator[](std::size_t i) const noexcept { return get(i); }
  /// Element i; throws std::out_of_range when i >= size().
  T at(std::size_t i) const {
    if (i >= n_)
      throw std::out_of_range("lowp::packed_vector::at: index " + std::to_string(i) + " >= size " +
                              std::to_string(n_));
    return get(i);
  }

  /// Grows with zero elements or shrinks (clearing the freed bits).
  void resize(std::size_t n) {
    bytes_.resize(packed_size_in_bytes<T>(n), 0);
    n_ = n;
    clear_padding();
  }
  void push_back(T v) {
    resize(n_ + 1);
    set(n_ - 1, v);
  }
  void clear() noexcept {
    bytes_.clear();
    n_ = 0;
  }
  void reserve(std::size_t n) { bytes_.reserve(packed_size_in_bytes<T>(n)); }

  span_type span() noexcept { return span_type(bytes_.data(), n_); }
  const_span_type span() const noexcept { return const_span_type(bytes_.data(), n_); }
  operator span_type() noexcept { return span(); }              // NOLINT: implicit on purpose
  operator const_span_type() const noexcept { return span(); }  // NOLINT: implicit on purpose

  friend bool operator==(const packed_vector& a, const packed_vector& b) noexcept {
    return a.n_ == b.n_ && a.bytes_ == b.bytes_;  // padding is always zero
  }
  friend bool operator!=(const packed_vector& a, const packed_vector& b) noexcept {
    return !(a == b);
  }

 private:
  // Zeroes the bits of the last byte that belong to no element.
  void clear_padding() noexcept {
    const std::size_t used_bits = (n_ % (bits_per_element == 4 ? 2 : 4)) * bits_per_element;
    if (bytes_.empty() || used_bits == 0) return;
    const unsigned in_last = static_cast<unsigned>(used_bits % 8);
    if (in_last == 0) return;
    unsigned keep = (1u << in_last) - 1u;  // the low bits hold elements ...
    if (bits_per_element == 4 && L == packed_layout::high_nibble_first)
      keep = 0xF0u;  // ... except here
    bytes_.back() = static_cast<std::uint8_t>(bytes_.back() & keep);
  }

  std::vector<std::uint8_t> bytes_;
  std::size_t n_ = 0;
};

}  // namespace lowp
