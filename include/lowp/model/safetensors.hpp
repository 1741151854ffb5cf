// lowp/model/safetensors.hpp — safetensors files: read (mapped, every header field
// checked) and written.
//
// Layer: model.  Includes model/file.hpp and nlohmann/json.hpp.
//
// The format (huggingface/safetensors, "Format"): an unsigned little-endian 64-bit N, then
// N bytes of a UTF-8 JSON object, then the data.  Each key of the object but
// "__metadata__" (a string-to-string map) names a tensor:
//
//   "model.norm.weight": {"dtype": "F32", "shape": [64], "data_offsets": [0, 256]}
//
// with offsets relative to the start of the data; the spec requires the tensors to cover
// the data exactly, without holes or overlaps.  lowp reads the dtypes F32, F16, BF16, U8,
// I8, I32 and F8_E4M3, and checks all of that.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "file.hpp"

namespace lowp::model {

/// The element types lowp reads from and writes to safetensors files: the float types of
/// checkpoints, and those of lowp's packed files (codes, scales, zero points).
enum class safetensors_dtype { F32, F16, BF16, U8, I8, I32, F8_E4M3 };

namespace detail {
/// The safetensors spec's name and size of each dtype, in the enum's order.
struct safetensors_dtype_info {
  safetensors_dtype dtype;
  const char* name;
  std::size_t bytes;
};
inline constexpr safetensors_dtype_info safetensors_dtypes[] = {
    {safetensors_dtype::F32, "F32", 4},        {safetensors_dtype::F16, "F16", 2},
    {safetensors_dtype::BF16, "BF16", 2},      {safetensors_dtype::U8, "U8", 1},
    {safetensors_dtype::I8, "I8", 1},          {safetensors_dtype::I32, "I32", 4},
    {safetensors_dtype::F8_E4M3, "F8_E4M3", 1}};
}  // namespace detail

/// "F32", "F16", "BF16", "U8", "I8", "I32", "F8_E4M3".
inline const char* safetensors_dtype_name(safetensors_dtype t) noexcept {
  return detail::safetensors_dtypes[static_cast<std::size_t>(t)].name;
}

/// Bytes per element.
inline std::size_t safetensors_item_size(safetensors_dtype t) noexcept {
  return detail::safetensors_dtypes[static_cast<std::size_t>(t)].bytes;
}

/// One tensor of a safetensors file: where its bytes lie in the (mapped) file.
struct safetensors_tensor {
  safetensors_dtype dtype = safetensors_dtype::F32;
  std::vector<std::size_t> shape;
  const std::byte* data = nullptr;  ///< not necessarily aligned
  std::size_t bytes = 0;

  std::size_t size() const noexcept {
    std::size_t n = 1;
    for (std::size_t d : shape) n *= d;
    return n;
  }
};

/// A parsed safetensors file.  Holds the file (a shared_ptr) so that tensor data stay
/// valid as long as this object or a copy of `file()` lives.
class safetensors_file {
 public:
  /// Parses `file`.  Throws file_error naming the file for: a file shorter than 8 bytes, a
  /// header length past the end, malformed JSON, a header that is not an object of
  /// tensor entries (each with a "dtype" string, a "shape" array of non-negative integers
  /// and a "data_offsets" pair), an unknown dtype (named), offsets past the data, a byte
  /// count that does not match the shape, overlapping tensors or holes in the data.
  explicit safetensors_file(std::shared_ptr<const mapped_file> file) : file_(std::move(file)) {
    constexpr const char* who = "lowp::model::safetensors_file";
    const mapped_file& f = *file_;
    const auto fail = [&](const std::string& why) {
      throw file_error(std::string(who) + ": " + f.path() + ": " + why);
    };
    if (!detail::host_is_little_endian()) fail("needs a little-endian host");
    if (f.size() < 8) fail("truncated: no header length");
    std::uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(f.data()[i]) << (8 * i);
    if (n > f.size() - 8) {
      fail("the header length " + std::to_string(n) + " is past the end of the file (" +
           std::to_string(f.size()) + " bytes)");
    }
    const auto* text = reinterpret_cast<const char*>(f.data() + 8);
    const nlohmann::json header = nlohmann::json::parse(text, text + n, nullptr, false);
    if (header.is_discarded()) fail("the header is not valid JSON");
    if (!header.is_object()) fail("the header is not a JSON object");
    const std::byte* data = f.data() + 8 + n;
    const std::size_t data_bytes = f.size() - 8 - static_cast<std::size_t>(n);
    std::vector<std::pair<std::size_t, std::size_t>> ranges;
    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__") {
        if (!entry.is_object()) fail("__metadata__ is not an object");
        for (const auto& [k, v] : entry.items()) {
          if (!v.is_string()) fail("__metadata__ value of '" + k + "' is not a string");
          metadata_[k] = v.get<std::string>();
        }
        continue;
      }
      const std::string where = "tensor '" + name + "': ";
      if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
          !entry.contains("data_offsets")) {
        fail(where + "needs dtype, shape and data_offsets");
      }
      const nlohmann::json& dt = entry["dtype"];
      const nlohmann::json& sh = entry["shape"];
      const nlohmann::json& off = entry["data_offsets"];
      if (!dt.is_string()) fail(where + "dtype is not a string");
      safetensors_tensor t;
      const std::string d = dt.get<std::string>();
      const auto known =
          std::find_if(std::begin(detail::safetensors_dtypes), std::end(detail::safetensors_dtypes),
                       [&](const detail::safetensors_dtype_info& i) { return d == i.name; });
      if (known == std::end(detail::safetensors_dtypes)) {
        fail(where + "dtype " + d + " is not read (F32, F16, BF16, U8, I8, I32 and F8_E4M3 are)");
      }
      t.dtype = known->dtype;
      if (!sh.is_array()) fail(where + "shape is not an array");
      std::size_t count = 1;
      for (const nlohmann::json& v : sh) {
        if (!v.is_number_unsigned()) fail(where + "a shape entry is not a non-negative integer");
        const auto dim = v.get<std::uint64_t>();
        if (dim != 0 && count > std::numeric_limits<std::size_t>::max() / 4 / dim) {
          fail(where + "the shape's size overflows");
        }
        count *= static_cast<std::size_t>(dim);
        t.shape.push_back(static_cast<std::size_t>(dim));
      }
      if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
          !off[1].is_number_unsigned()) {
        fail(where + "data_offsets is not a pair of non-negative integers");
      }
      const auto begin = off[0].get<std::uint64_t>(), end = off[1].get<std::uint64_t>();
      if (begin > end || end > data_bytes) {
        fail(where + "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
             "] outside the data (" + std::to_string(data_bytes) + " bytes)");
      }
      t.bytes = static_cast<std::size_t>(end - begin);
      if (t.bytes != count * safetensors_item_size(t.dtype)) {
        fail(where + std::to_string(t.bytes) + " bytes for a " + d + " shape of " +
             std::to_string(count) + " elements");
      }
      t.data = data + begin;
      ranges.emplace_back(static_cast<std::size_t>(begin), static_cast<std::size_t>(end));
      tensors_.emplace(name, std::move(t));
    }
    // The tensors must tile the data: sorted by start, each begins where the last ended.
    std::sort(ranges.begin(), ranges.end());
    std::size_t at = 0;
    for (const auto& [b, e] : ranges) {
      if (b != at) {
        fail(b < at ? "two tensors overlap at data byte " + std::to_string(b)
                    : "a hole in the data at byte " + std::to_string(at));
      }
      at = e;
    }
    if (at != data_bytes) fail("a hole in the data at byte " + std::to_string(at));
  }

  /// Maps and parses the file at `path`.
  explicit safetensors_file(const std::string& path)
      : safetensors_file(
            std::make_shared<const mapped_file>(path, "lowp::model::safetensors_file")) {}

  const std::map<std::string, safetensors_tensor>& tensors() const noexcept { return tensors_; }
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
  const std::shared_ptr<const mapped_file>& file() const noexcept { return file_; }

  /// The tensor `name`; file_error naming the file if it has none.
  const safetensors_tensor& at(const std::string& name) const {
    const auto it = tensors_.find(name);
    if (it == tensors_.end()) {
      throw file_error("lowp::model::safetensors_file: " + file_->path() + ": no tensor '" + name +
                       "'");
    }
    return it->second;
  }

 private:
  std::shared_ptr<const mapped_file> file_;
  std::map<std::string, safetensors_tensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

/// A tensor to write: its name, dtype, shape, and its bytes (size × item size, in the
/// host's little-endian layout).
struct safetensors_entry {
  std::string name;
  safetensors_dtype dtype = safetensors_dtype::F32;
  std::vector<std::size_t> shape;
  const void* data = nullptr;
};

/// Writes a safetensors file: the header (tensors in the given order, their data in that
/// order, the header padded with spaces to a multiple of 8 bytes as the reference writer
/// does, so F32 data stay aligned), through a temporary file renamed at the end.  Throws
/// std::invalid_argument for a repeated or empty name, the name "__metadata__", or null
/// data with elements; file_error for I/O failures.
inline void write_safetensors(const std::string& path,
                              const std::vector<safetensors_entry>& tensors,
                              const std::map<std::string, std::string>& metadata = {}) {
  constexpr const char* who = "lowp::model::write_safetensors";
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::size_t at = 0;
  std::vector<std::size_t> bytes;
  for (const safetensors_entry& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__" || header.contains(t.name)) {
      throw std::invalid_argument(std::string(who) + ": tensor name '" + t.name +
                                  "' is empty, reserved or repeated");
    }
    std::size_t n = 1;
    for (std::size_t d : t.shape) n *= d;
    const std::size_t b = n * safetensors_item_size(t.dtype);
    if (b > 0 && t.data == nullptr)
      throw std::invalid_argument(std::string(who) + ": null data for " + t.name);
    header[t.name] = {{"dtype", safetensors_dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {at, at + b}}};
    at += b;
    bytes.push_back(b);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  if (!detail::host_is_little_endian())
    throw file_error(std::string(who) + ": needs a little-endian host");
  write_file_atomically(path, who, [&](std::ostream& out) {
    const std::uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      out.write(static_cast<const char*>(tensors[i].data), static_cast<std::streamsize>(bytes[i]));
    }
  });
}

}  // namespace lowp::model
