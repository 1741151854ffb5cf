// lowp/model/npy.hpp — NumPy .npy files: one array, read and written.
//
// Layer: model.  Includes model/file.hpp and types.hpp (float16 for '<f2').
//
// The format (numpy.lib.format, "NEP 1"): the magic "\x93NUMPY", a major and a minor
// version byte, the header length (uint16 little-endian in version 1, uint32 in versions
// 2 and 3), then the header: a Python dict literal such as
//
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
//
// padded with spaces and a final '\n' so that the data starts at a multiple of 64 bytes
// (version 3 only allows UTF-8 in it).  The data follow, C order.  Read: versions 1-3, the
// dtypes '<f4', '<f2', '<i4', '<u2' (what layers, activations and token files need), C
// order.  Anything else (Fortran order, big-endian, other dtypes, object arrays) gets a
// clear error.  Written: version 1, or 2 when the header needs more than 65535 bytes.
#pragma once

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "../types.hpp"
#include "file.hpp"

namespace lowp::model {

/// The element types lowp reads and writes in .npy files.
enum class npy_dtype {
  f4,  ///< '<f4': float32
  f2,  ///< '<f2': IEEE binary16
  i4,  ///< '<i4': int32 (token files)
  u2,  ///< '<u2': uint16 (llama2.c's token ids)
};

/// "<f4", "<f2", "<i4", "<u2".
inline const char* npy_descr(npy_dtype t) noexcept {
  switch (t) {
    case npy_dtype::f4:
      return "<f4";
    case npy_dtype::f2:
      return "<f2";
    case npy_dtype::i4:
      return "<i4";
    case npy_dtype::u2:
      return "<u2";
  }
  return "?";
}

/// Bytes per element.
inline std::size_t npy_item_size(npy_dtype t) noexcept {
  return t == npy_dtype::f4 || t == npy_dtype::i4 ? 4 : 2;
}

/// An array read from a .npy file: dtype, shape (C order), the raw little-endian bytes.
struct npy_array {
  npy_dtype dtype = npy_dtype::f4;
  std::vector<std::size_t> shape;
  std::vector<std::byte> bytes;

  /// The number of elements (1 for a 0-d array).
  std::size_t size() const noexcept {
    std::size_t n = 1;
    for (std::size_t d : shape) n *= d;
    return n;
  }
  /// The elements as float (f4 as is, f2 exactly, i4 and u2 converted).
  std::vector<float> to_float() const {
    std::vector<float> out(size());
    for (std::size_t i = 0; i < out.size(); ++i) {
      const std::byte* p = bytes.data() + i * npy_item_size(dtype);
      switch (dtype) {
        case npy_dtype::f4:
          std::memcpy(&out[i], p, 4);
          break;
        case npy_dtype::f2: {
          std::uint16_t h;
          std::memcpy(&h, p, 2);
          out[i] = static_cast<float>(float16::from_bits(h));
          break;
        }
        case npy_dtype::i4: {
          std::int32_t v;
          std::memcpy(&v, p, 4);
          out[i] = static_cast<float>(v);
          break;
        }
        case npy_dtype::u2: {
          std::uint16_t v;
          std::memcpy(&v, p, 2);
          out[i] = static_cast<float>(v);
          break;
        }
      }
    }
    return out;
  }
  /// The elements as int32 (i4 as is, u2 widened).  Throws std::invalid_argument for a
  /// float array.
  std::vector<std::int32_t> to_int32() const {
    if (dtype == npy_dtype::f4 || dtype == npy_dtype::f2) {
      throw std::invalid_argument(std::string("lowp::model::npy_array::to_int32: the array is ") +
                                  npy_descr(dtype) + ", not an integer array");
    }
    std::vector<std::int32_t> out(size());
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (dtype == npy_dtype::i4) {
        std::memcpy(&out[i], bytes.data() + 4 * i, 4);
      } else {
        std::uint16_t v;
        std::memcpy(&v, bytes.data() + 2 * i, 2);
        out[i] = v;
      }
    }
    return out;
  }
};

namespace detail {

/// The three keys of a .npy header dict, parsed strictly (a Python literal of the form
/// numpy writes; keys in any order).
class npy_header_parser {
 public:
  npy_header_parser(const std::string& text, const std::string& where) : s_(text), where_(where) {}

  void parse(std::string& descr, bool& fortran, std::vector<std::size_t>& shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      if (key == "descr") {
        descr = quoted();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran = boolean();
        have_fortran = true;
      } else if (key == "shape") {
        shape = tuple();
        have_shape = true;
      } else {
        fail("unknown header key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail("expected ',' or '}' in the header");
    }
    if (!have_descr || !have_fortran || !have_shape) {
      fail("the header lacks 'descr', 'fortran_order' or 'shape'");
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw file_error("lowp::model::read_npy: " + where_ + ": " + why);
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("malformed header: expected '") + c + "'");
    ++i_;
  }
  std::string quoted() {
    skip_space();
    const char q = peek();
    if (q != '\'' && q != '"') fail("malformed header: expected a quoted string");
    const std::size_t end = s_.find(q, i_ + 1);
    if (end == std::string::npos) fail("malformed header: unterminated string");
    std::string out = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    if (s_.compare(i_, 4, "True") == 0) {
      i_ += 4;
      return true;
    }
    if (s_.compare(i_, 5, "False") == 0) {
      i_ += 5;
      return false;
    }
    fail("malformed header: fortran_order is neither True nor False");
  }
  std::vector<std::size_t> tuple() {
    expect('(');
    std::vector<std::size_t> dims;
    while (true) {
      skip_space();
      if (peek() == ')') {
        ++i_;
        return dims;
      }
      if (!std::isdigit(static_cast<unsigned char>(peek())))
        fail("malformed header: a shape entry is not a non-negative integer");
      std::size_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        const auto digit = static_cast<std::size_t>(peek() - '0');
        if (v > (std::numeric_limits<std::size_t>::max() - digit) / 10)
          fail("a shape entry overflows");
        v = v * 10 + digit;
        ++i_;
      }
      dims.push_back(v);
      skip_space();
      if (peek() == ',') {
        ++i_;
      } else if (peek() != ')') {
        fail("malformed header: expected ',' or ')' in the shape");
      }
    }
  }

  const std::string& s_;
  const std::string& where_;
  std::size_t i_ = 0;
};

}  // namespace detail

/// Reads a .npy file (versions 1-3; '<f4', '<f2', '<i4', '<u2'; C order) already in
/// memory (mapped, or mapped_file's byte constructor).  Throws file_error naming the file
/// for: a wrong magic, an unknown version, a truncated or malformed header, an
/// unsupported dtype (with its descr), Fortran order, a shape whose size overflows, or
/// data shorter or longer than the shape.
inline npy_array read_npy(const mapped_file& f) {
  constexpr const char* who = "lowp::model::read_npy";
  if (!detail::host_is_little_endian())
    throw file_error(std::string(who) + ": needs a little-endian host");
  const std::string& path = f.path();
  const auto fail = [&](const std::string& why) {
    throw file_error(std::string(who) + ": " + path + ": " + why);
  };
  const std::byte* p = f.data();
  if (f.size() < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0)
    fail("not a .npy file (no \\x93NUMPY magic)");
  const auto major = static_cast<unsigned>(p[6]);
  std::size_t header_len = 0, header_at = 0;
  if (major == 1) {
    header_len = static_cast<std::size_t>(p[8]) | (static_cast<std::size_t>(p[9]) << 8);
    header_at = 10;
  } else if (major == 2 || major == 3) {
    if (f.size() < 12) fail("truncated header");
    for (int i = 0; i < 4; ++i) header_len |= static_cast<std::size_t>(p[8 + i]) << (8 * i);
    header_at = 12;
  } else {
    fail("format version " + std::to_string(major) + " (1, 2 and 3 are read)");
  }
  if (header_len > f.size() - header_at) fail("truncated header");
  const std::string header(reinterpret_cast<const char*>(p + header_at), header_len);
  std::string descr;
  bool fortran = false;
  npy_array a;
  detail::npy_header_parser(header, path).parse(descr, fortran, a.shape);
  if (descr == "<f4") {
    a.dtype = npy_dtype::f4;
  } else if (descr == "<f2") {
    a.dtype = npy_dtype::f2;
  } else if (descr == "<i4") {
    a.dtype = npy_dtype::i4;
  } else if (descr == "<u2") {
    a.dtype = npy_dtype::u2;
  } else {
    fail("dtype '" + descr + "' is not read (little-endian <f4, <f2, <i4 and <u2 are)");
  }
  if (fortran) fail("Fortran order is not read (save a C-ordered array: np.ascontiguousarray)");
  std::size_t n = 1;
  for (std::size_t d : a.shape) {
    if (d != 0 && n > std::numeric_limits<std::size_t>::max() / d / 4)
      fail("the shape's size overflows");
    n *= d;
  }
  const std::size_t data_at = header_at + header_len, bytes = n * npy_item_size(a.dtype);
  if (f.size() - data_at != bytes) {
    fail("the shape needs " + std::to_string(bytes) + " bytes of data, the file has " +
         std::to_string(f.size() - data_at));
  }
  a.bytes.assign(p + data_at, p + data_at + bytes);
  return a;
}

/// Reads the .npy file at `path` (see above; also file_error when it cannot be read).
inline npy_array read_npy(const std::string& path) {
  return read_npy(mapped_file(path, "lowp::model::read_npy"));
}

/// Writes `data` (C order, little-endian host layout, size = product of shape) as a .npy
/// file of the given dtype, through a temporary file renamed at the end.  Throws
/// file_error for I/O failures, std::invalid_argument for a null pointer with elements.
inline void write_npy(const std::string& path, npy_dtype dtype,
                      const std::vector<std::size_t>& shape, const void* data) {
  constexpr const char* who = "lowp::model::write_npy";
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  if (n > 0 && data == nullptr) throw std::invalid_argument(std::string(who) + ": null data");
  if (!detail::host_is_little_endian())
    throw file_error(std::string(who) + ": needs a little-endian host");
  std::string dims;
  for (std::size_t d : shape) dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.erase(dims.size() - 2);  // (3,) for 1-d, (3, 4) otherwise
  if (shape.size() == 1) dims.pop_back();
  std::string header = std::string("{'descr': '") + npy_descr(dtype) +
                       "', 'fortran_order': False, 'shape': (" + dims + "), }";
  const bool v2 = header.size() + 1 + 10 > 65535;
  const std::size_t prefix = v2 ? 12 : 10;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  write_file_atomically(path, who, [&](std::ostream& out) {
    out.write("\x93NUMPY", 6);
    out.put(v2 ? '\2' : '\1');
    out.put('\0');
    const std::size_t len = header.size();
    for (std::size_t i = 0; i < (v2 ? 4u : 2u); ++i)
      out.put(static_cast<char>((len >> (8 * i)) & 0xff));
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(static_cast<const char*>(data),
              static_cast<std::streamsize>(n * npy_item_size(dtype)));
  });
}

}  // namespace lowp::model
