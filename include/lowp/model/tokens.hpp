// lowp/model/tokens.hpp — token files: evaluation and calibration data as sequences of
// token ids.
//
// Layer: model.  Includes model/npy.hpp, model/llama.hpp and model/file.hpp.
//
// Two formats: .npy (int32 or uint16; [count, length] as is, or 1-d cut into sequences)
// and llama2.c's pretokenized .bin (a flat little-endian uint16 stream, as its
// tinystories.py writes, cut into sequences of the requested length; a remainder shorter
// than that is dropped).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "file.hpp"
#include "llama.hpp"
#include "npy.hpp"

namespace lowp::model {

/// `count` sequences of `length` token ids, row-major.
struct token_batch {
  std::vector<std::int32_t> ids;
  std::size_t count = 0, length = 0;
};

/// Reads a token file: .npy (int32 or uint16; a 2-d array is taken as it is and `length`
/// must be 0 or its second dimension; a 1-d one is cut into sequences of `length`), or
/// anything else as llama2.c's flat uint16 .bin, cut into sequences of `length`.  Throws
/// file_error for what read_npy() rejects, a float .npy, an odd-sized .bin, or too few
/// tokens for one sequence; std::invalid_argument for length 0 where it is needed.
inline token_batch read_tokens(const std::string& path, std::size_t length) {
  constexpr const char* who = "lowp::model::read_tokens";
  const auto fail = [&](const std::string& why) {
    throw file_error(std::string(who) + ": " + path + ": " + why);
  };
  token_batch out;
  std::vector<std::int32_t> flat;
  const bool npy = path.size() >= 4 && path.compare(path.size() - 4, 4, ".npy") == 0;
  if (npy) {
    const npy_array a = read_npy(path);
    if (a.dtype != npy_dtype::i4 && a.dtype != npy_dtype::u2)
      fail(std::string("dtype ") + npy_descr(a.dtype) + ", not int32 or uint16");
    if (a.shape.size() == 2) {
      if (length != 0 && length != a.shape[1]) {
        fail("sequences of " + std::to_string(a.shape[1]) + " tokens, " + std::to_string(length) +
             " asked for");
      }
      out.ids = a.to_int32();
      out.count = a.shape[0];
      out.length = a.shape[1];
      if (out.count == 0 || out.length == 0) fail("no tokens");
      return out;
    }
    if (a.shape.size() != 1) fail("a token array must be 1-d or 2-d");
    flat = a.to_int32();
  } else {
    const mapped_file f(path, who);
    if (f.size() % 2 != 0)
      fail("a llama2.c token file holds uint16 ids: its size " + std::to_string(f.size()) +
           " is odd");
    flat.resize(f.size() / 2);
    for (std::size_t i = 0; i < flat.size(); ++i) {
      std::uint16_t v;
      std::memcpy(&v, f.data() + 2 * i, 2);
      flat[i] = v;
    }
  }
  if (length == 0)
    throw std::invalid_argument(std::string(who) + ": a flat token file needs a sequence length");
  out.length = length;
  out.count = flat.size() / length;
  if (out.count == 0)
    fail(std::to_string(flat.size()) + " tokens, fewer than one sequence of " +
         std::to_string(length));
  flat.resize(out.count * length);
  out.ids = std::move(flat);
  return out;
}

/// Checks that token file `path`, read into `t`, fits model `c`: every id in [0,
/// vocab_size) and sequences no longer than seq_len.  Throws file_error naming the file,
/// the first offending sequence and position, and the value.
inline void check_tokens(const token_batch& t, const llama_config& c, const std::string& path) {
  constexpr const char* who = "lowp::model::check_tokens";
  if (t.length > c.seq_len) {
    throw file_error(std::string(who) + ": " + path + ": sequences of " + std::to_string(t.length) +
                     " tokens, longer than the model's seq_len " + std::to_string(c.seq_len));
  }
  for (std::size_t i = 0; i < t.ids.size(); ++i) {
    const std::int32_t id = t.ids[i];
    if (id < 0 || static_cast<std::size_t>(id) >= c.vocab_size) {
      throw file_error(std::string(who) + ": " + path + ": token id " + std::to_string(id) +
                       " at sequence " + std::to_string(i / t.length) + ", position " +
                       std::to_string(i % t.length) + " is outside the vocabulary [0, " +
                       std::to_string(c.vocab_size) + ")");
    }
  }
}

/// Writes `count` x `length` token ids as an int32 .npy file (through a temporary file).
inline void write_tokens(const std::string& path, const token_batch& t) {
  write_npy(path, npy_dtype::i4, {t.count, t.length}, t.ids.data());
}

}  // namespace lowp::model
