// Packed sub-byte storage (lowp/packed.hpp).
//
// Oracle: the layouts written out independently here — byte j = e[2j] | e[2j+1] << 4 for
// 4-bit (low nibble first), the swap for high nibble first, and for FP6 a little-endian
// bit stream built bit by bit (element i at stream bits 6i..6i+5).
#include <cstdint>
#include <lowp/packed.hpp>
#include <random>
#include <stdexcept>
#include <vector>

#include "lowp_test.hpp"

namespace {

using namespace lowp;

template <class T, packed_layout L>
std::vector<std::uint8_t> reference_bytes(const std::vector<unsigned>& codes) {
  constexpr int bits = packed_bits_v<T>;
  std::vector<std::uint8_t> out((codes.size() * bits + 7) / 8, 0);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    if (bits == 4 && L == packed_layout::high_nibble_first) {
      out[i / 2] = static_cast<std::uint8_t>(out[i / 2] | (codes[i] << ((i % 2) == 0 ? 4 : 0)));
      continue;
    }
    for (int b = 0; b < bits; ++b)
      if ((codes[i] >> b) & 1u) {
        const std::size_t pos = i * bits + static_cast<std::size_t>(b);
        out[pos / 8] = static_cast<std::uint8_t>(out[pos / 8] | (1u << (pos % 8)));
      }
  }
  return out;
}

template <class T, packed_layout L = packed_layout::low_nibble_first>
void check_layout() {
  constexpr unsigned mask = (1u << packed_bits_v<T>)-1u;
  std::mt19937 rng(3);
  for (std::size_t n = 0; n < 70; ++n) {
    std::vector<unsigned> codes(n);
    for (auto& c : codes) c = static_cast<unsigned>(rng()) & mask;
    packed_vector<T, L> v(n);
    REQUIRE(v.size() == n);
    REQUIRE(v.size_in_bytes() == (n * packed_bits_v<T> + 7) / 8);
    REQUIRE(packed_size_in_bytes<T>(n) == v.size_in_bytes());
    for (std::size_t i = 0; i < n; ++i) v.set(i, T::from_bits(static_cast<std::uint8_t>(codes[i])));
    const auto want = reference_bytes<T, L>(codes);
    REQUIRE(std::vector<std::uint8_t>(v.bytes(), v.bytes() + v.size_in_bytes()) == want);
    for (std::size_t i = 0; i < n; ++i) REQUIRE(v[i].bits() == codes[i]);
    // a span over the same bytes reads the same; from_bytes round-trips
    packed_span<const T, L> s(want.data(), n);
    for (std::size_t i = 0; i < n; ++i) REQUIRE(s[i].bits() == codes[i]);
    REQUIRE(packed_vector<T, L>::from_bytes(want.data(), n) == v);
    // overwrite in reverse order through the proxy; neighbours must be unaffected
    for (std::size_t i = n; i-- > 0;)
      v[i] = T::from_bits(static_cast<std::uint8_t>(mask - codes[i]));
    for (std::size_t i = 0; i < n; ++i) REQUIRE(v.get(i).bits() == mask - codes[i]);
  }
}

TEST_CASE("packed layouts: 4-bit low/high nibble first, FP6 little-endian bit stream", "[packed]") {
  check_layout<float4_e2m1fn>();
  check_layout<float4_e2m1fn, packed_layout::high_nibble_first>();
  check_layout<int4>();
  check_layout<uint4, packed_layout::high_nibble_first>();
  check_layout<float6_e2m3fn>();
  check_layout<float6_e3m2fn>();
}

TEST_CASE("packed: the documented example bytes", "[packed]") {
  // CUDA __nv_fp4x2 / PyTorch float4_e2m1fn_x2: {1.0 (0x2), -6.0 (0xF)} -> 0xF2
  packed_vector<float4_e2m1fn> v(2);
  v[0] = float4_e2m1fn(1.0f);
  v[1] = float4_e2m1fn(-6.0f);
  CHECK(v.bytes()[0] == 0xF2);
  packed_vector<float4_e2m1fn, packed_layout::high_nibble_first> h(2);
  h[0] = float4_e2m1fn(1.0f);
  h[1] = float4_e2m1fn(-6.0f);
  CHECK(h.bytes()[0] == 0x2F);
  // FP6 codes 0x01, 0x02, 0x03, 0x3F -> bits 000001 000010 000011 111111 (LSB first)
  packed_vector<float6_e2m3fn> f(4);
  for (unsigned i = 0; i < 4; ++i)
    f.set(i, float6_e2m3fn::from_bits(static_cast<std::uint8_t>(i == 3 ? 0x3F : i + 1)));
  CHECK(f.bytes()[0] == 0x81);  // 0b10'000001
  CHECK(f.bytes()[1] == 0x30);  // 0b0011'0000
  CHECK(f.bytes()[2] == 0xFC);  // 0b111111'00
}

TEST_CASE("packed_vector: resize, push_back, padding stays zero", "[packed]") {
  packed_vector<int4> v(5, int4(-1));
  CHECK(v.size_in_bytes() == 3);
  CHECK(v.bytes()[2] == 0x0F);  // padding nibble zero
  v.resize(3);
  CHECK(v.size_in_bytes() == 2);
  CHECK(v.bytes()[1] == 0x0F);
  v.resize(6);
  CHECK(v.get(3).value() == 0);
  CHECK(v.get(5).value() == 0);
  v.push_back(int4(7));
  CHECK(v.size() == 7);
  CHECK(v.at(6).value() == 7);
  packed_vector<float6_e3m2fn> f(5, float6_e3m2fn::from_bits(0x3F));
  f.resize(1);
  CHECK(f.size_in_bytes() == 1);
  CHECK(f.bytes()[0] == 0x3F);
  f.clear();
  CHECK(f.empty());
}

TEST_CASE("packed: bounds and subspan contract", "[packed]") {
  packed_vector<uint4> v(9);
  REQUIRE_THROWS_AS(v.at(9), std::out_of_range);
  auto s = v.span();
  REQUIRE_THROWS_AS(s.at(9), std::out_of_range);
  REQUIRE_THROWS_AS(s.subspan(1, 2), std::invalid_argument);
  REQUIRE_THROWS_AS(s.subspan(8, 2), std::out_of_range);
  auto t = s.subspan(4, 5);
  t.set(0, uint4(9));
  CHECK(v.get(4).value() == 9);
  CHECK(t.data() == v.data() + 2);
  packed_span<const uint4> c = s;  // mutable -> const view
  CHECK(c[4].value() == 9);
  packed_vector<float6_e2m3fn> f(12);
  REQUIRE_THROWS_AS(f.span().subspan(2, 1), std::invalid_argument);
  CHECK(f.span().subspan(8, 4).data() == f.data() + 6);
}

}  // namespace
