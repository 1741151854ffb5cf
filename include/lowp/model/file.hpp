// lowp/model/file.hpp — model files: the error every reader throws, a read-only mapping
// of a file, and writing a file so that a failure leaves nothing behind.
//
// Layer: model.  Includes only the standard library (and POSIX mmap where available).
//
// Checkpoints are large: a loader must not hold them twice.  mapped_file maps the file
// read-only (POSIX mmap), so the weights can be used where they lie in the page cache;
// where mmap is not available it reads the file into one buffer instead.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

// LOWP_MODEL_HAS_MMAP: 1 maps model files (POSIX mmap), 0 reads them into memory.  The
// default is 1 where POSIX is; defining it to 0 first selects the read path anywhere (a
// test builds a program that way, so the path is tested on POSIX too).
#ifndef LOWP_MODEL_HAS_MMAP
#if defined(__unix__) || defined(__APPLE__)
#define LOWP_MODEL_HAS_MMAP 1
#else
#define LOWP_MODEL_HAS_MMAP 0
#endif
#endif
#if LOWP_MODEL_HAS_MMAP
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace lowp::model {

namespace detail {
/// Model files are little-endian; lowp reads their numbers in the host's order.
inline bool host_is_little_endian() noexcept {
  const std::uint32_t one = 1;
  unsigned char first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}
}  // namespace detail

/// A model file that cannot be read or written, or whose content is wrong: missing,
/// truncated, a header that contradicts itself or the file's size, NaN/Inf weights.  The
/// message starts with the public function called and names the file and what is wrong.
class file_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A whole file, mapped read-only (or, without mmap, read into memory).  Neither copied
/// nor moved (hold it by shared_ptr); the bytes stay valid while the object lives.
class mapped_file {
 public:
  /// Maps `path`.  Throws file_error (naming `who` and the path) if it cannot be opened,
  /// is not a regular file, or cannot be mapped or read.
  mapped_file(const std::string& path, const char* who) : path_(path) {
#if LOWP_MODEL_HAS_MMAP
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) fail(who, std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      fail(who, "not a regular file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int e = errno;
        ::close(fd);
        fail(who, std::strerror(e));
      }
      data_ = static_cast<const std::byte*>(p);
      mapped_ = true;
    }
    ::close(fd);  // the mapping stays valid without the descriptor
#else
    std::error_code ec;
    const bool regular = std::filesystem::is_regular_file(path, ec);
    if (!regular && !std::filesystem::exists(path, ec)) fail(who, "No such file or directory");
    if (!regular) fail(who, "not a regular file");
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) fail(who, "cannot open");
    const std::streamoff end = in.tellg();
    if (end < 0) fail(who, "cannot tell its size");
    size_ = static_cast<std::size_t>(end);
    owned_.resize(size_);
    in.seekg(0);
    if (size_ > 0 &&
        !in.read(reinterpret_cast<char*>(owned_.data()), static_cast<std::streamsize>(size_))) {
      fail(who, "read failed");
    }
    data_ = owned_.data();
#endif
  }
  /// A copy of `size` bytes at `data`, named `name` in messages: the same reader code on
  /// bytes from memory (the fuzz targets use it).
  mapped_file(std::string name, const void* data, std::size_t size)
      : path_(std::move(name)), size_(size), owned_(size) {
    if (size > 0) std::memcpy(owned_.data(), data, size);
    data_ = owned_.data();
  }
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
  ~mapped_file() {
#if LOWP_MODEL_HAS_MMAP
    if (mapped_) ::munmap(const_cast<std::byte*>(data_), size_);
#endif
  }

  const std::byte* data() const noexcept {
    return data_;
  }
  std::size_t size() const noexcept {
    return size_;
  }
  const std::string& path() const noexcept {
    return path_;
  }

 private:
  [[noreturn]] void fail(const char* who, const char* why) const {
    throw file_error(std::string(who) + ": " + path_ + ": " + why);
  }

  std::string path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::vector<std::byte> owned_;  // the bytes when not mapped
#if LOWP_MODEL_HAS_MMAP
  bool mapped_ = false;  // data_ is a mapping to undo
#endif
};

/// Writes a file through `write(std::ostream&)`, first to `path` + ".tmp", then renamed
/// over `path`: a failure (an exception from `write`, a full disk) leaves no partial file
/// and any earlier file at `path` untouched.  Throws file_error naming `who` and the path
/// for I/O failures, and rethrows what `write` throws.
template <class Write>
void write_file_atomically(const std::string& path, const char* who, Write&& write) {
  const std::string tmp = path + ".tmp";
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw file_error(std::string(who) + ": " + tmp + ": cannot create");
      write(out);
      out.flush();
      if (!out) throw file_error(std::string(who) + ": " + tmp + ": write failed");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      const int e = errno;  // before any allocation can change it
      throw file_error(std::string(who) + ": cannot rename " + tmp + " to " + path + ": " +
                       std::strerror(e));
    }
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

}  // namespace lowp::model
