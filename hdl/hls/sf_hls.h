// sf_hls.h: the hand-written primitives of spikefab's HLS C++ back end (the C++ counterpart
// of hdl/*.v). The generated glue (<top>.cpp) only calls what is defined here.
//
// Two builds, one arithmetic:
//   - plain C++17 (g++, clang, Vitis C simulation): fixed-width integers are sf::int_t<W>, a
//     class over int64_t that holds exactly the values of a W-bit two's complement word;
//     streams are a std::deque.
//   - Vitis HLS synthesis (__SYNTHESIS__) or SF_VITIS: sf::int_t<W> is ap_int<W>, streams are
//     hls::stream of ap_axiu words. This branch is not compiled where spikefab is tested.
// Every computation happens on int64_t in both builds; a value enters a W-bit state only
// through sf::wrap<W> (two's complement truncation, what ap_int<W> assignment does) or
// sf::sat<W> (clamp to [-2^(W-1), 2^(W-1)-1]), exactly as the hardware plan prescribes.
// Invariant: W <= 62, so every sum of a few states fits int64_t.
#ifndef SF_HLS_H
#define SF_HLS_H

#include <cstdint>

#if defined(__SYNTHESIS__) || defined(SF_VITIS)
#define SF_VENDOR 1
#include <ap_axi_sdata.h>
#include <ap_int.h>
#include <hls_stream.h>
#else
#define SF_VENDOR 0
#include <cstdio>
#include <cstdlib>
#include <deque>
#endif
#ifndef __SYNTHESIS__
#include <string>
#endif

// HLS pragmas inside loops: SF_HLS(PIPELINE II=1) is `#pragma HLS PIPELINE II=1` under
// synthesis (the _Pragma form Vitis documents for pragmas in macros) and nothing otherwise,
// so plain compilers never see an unknown pragma.
#ifdef __SYNTHESIS__
#define SF_HLS_STR(x) _Pragma(#x)
#define SF_HLS(x) SF_HLS_STR(HLS x)
#else
#define SF_HLS(x)
#endif

namespace sf {

// Shifts of negative values must be arithmetic (implementation-defined before C++20; GCC,
// Clang and Vitis all shift arithmetically).
static_assert((int64_t(-5) >> 1) == -3, "arithmetic right shift required");

// The W-bit two's complement value of x's low W bits.
constexpr int64_t wrap_raw(int64_t x, int w) {
    const uint64_t u = static_cast<uint64_t>(x) & ((uint64_t(1) << w) - 1);
    return (u >> (w - 1)) != 0 ? static_cast<int64_t>(u) - (int64_t(1) << w) : static_cast<int64_t>(u);
}

// Bounds of a W-bit signed word.
template <int W>
struct lim {
    static_assert(W >= 1 && W <= 62, "state widths are 1..62 bits");
    static constexpr int64_t hi = (int64_t(1) << (W - 1)) - 1;
    static constexpr int64_t lo = -(int64_t(1) << (W - 1));
};

#if SF_VENDOR
template <int W>
using int_t = ap_int<W>;
template <int W>
using uint_t = ap_uint<W>;
template <int W>
using bits = ap_uint<W>;
#else
// A signed W-bit word. Construction truncates like ap_int<W>; reading gives int64_t.
template <int W>
class int_t {
    static_assert(W >= 1 && W <= 62, "state widths are 1..62 bits");
    int64_t v_;

  public:
    constexpr int_t() : v_(0) {}
    constexpr int_t(int64_t x) : v_(wrap_raw(x, W)) {}
    constexpr operator int64_t() const { return v_; }
};

// An unsigned word of W <= 64 bits (packed binary weights: bit l is lane l's sign).
template <int W>
using uint_t = uint64_t;

// A bit vector of any width (stream data words).
template <int W>
struct bits {
    static_assert(W >= 1, "empty word");
    uint64_t w[(W + 63) / 64] = {};
};
#endif

// ---------------------------------------------------------------- state policy

// Two's complement truncation to W bits (non-saturating layers: range analysis guarantees
// the value fits, so this is exact; it is what the RTL's write-back does).
template <int W>
inline int_t<W> wrap(int64_t x) {
    return int_t<W>(wrap_raw(x, W));
}

// Clamp to the W-bit range (saturating layers).
template <int W>
inline int64_t clamp(int64_t x) {
    return x > lim<W>::hi ? lim<W>::hi : (x < lim<W>::lo ? lim<W>::lo : x);
}

template <int W>
inline int_t<W> sat(int64_t x) {
    return int_t<W>(clamp<W>(x));
}

// Writes x into a W-bit state: saturating when SAT, else wrapping.
template <int W, bool SAT>
inline int_t<W> store(int64_t x) {
    if (SAT) {
        return sat<W>(x);
    }
    return wrap<W>(x);
}

// One accumulate: d = d + add under the state's policy.
template <int W, bool SAT>
inline void acc(int_t<W>& d, int64_t add) {
    d = store<W, SAT>(static_cast<int64_t>(d) + add);
}

// x << s without the undefined behaviour of shifting a negative value.
inline int64_t shl(int64_t x, int s) {
    return x * (int64_t(1) << s);
}

// ---------------------------------------------------------------- decays

// x - (x >> k): beta = 1 - 2^-k.
inline int64_t leak_shift(int64_t x, int k) {
    return x - (x >> k);
}

// (x * b + 2^(P-1)) >> P with an arithmetic shift (round half up), for |x| < 2^(W+1)
// (a W-bit state minus a W-bit threshold) and 0 <= b <= 2^P. When the product could pass
// 63 bits, x splits as xh * 2^P + xl (0 <= xl < 2^P), and
// floor((x*b + r) / 2^P) = xh*b + floor((xl*b + r) / 2^P) exactly.
template <int P, int W>
inline int64_t leak_mul(int64_t x, int64_t b) {
    static_assert(P >= 1 && P <= 30, "leak multipliers have 1..30 fraction bits");
    const int64_t r = int64_t(1) << (P - 1);
    if (W + P + 3 <= 63) {
        return (x * b + r) >> P;
    }
    const int64_t xh = x >> P;
    const int64_t xl = x - xh * (int64_t(1) << P);
    return xh * b + ((xl * b + r) >> P);
}

// ---------------------------------------------------------------- pooling windows

// Pooled coordinate of candidate window `w` (0 = the window whose top row is the largest
// below v) along one axis: true with `o` when that window exists and contains v.
inline bool pool_axis(int v, int pad, int stride, int kernel, int out, int w, int& o) {
    const int vp = v + pad;
    const int top = vp / stride;
    if (w > top) {
        return false;
    }
    o = top - w;
    return o < out && vp - o * stride < kernel;
}

// ---------------------------------------------------------------- events

// An input event: a non-zero quantised input value at (c, y, x).
struct in_event {
    int c;
    int y;
    int x;
    int32_t v;
};

// An event entry of a layer: the row's position, its lane-0 channel and one bit per lane
// that spiked. A consumer expands the mask lowest lane first: lane l is channel c + l.
struct ev_entry {
    int c;
    int y;
    int x;
    uint64_t mask;
};

// An event entry of a multi-spike layer of L lanes: as ev_entry, and each lane's spike count
// (the value a consumer multiplies its weights by).
template <int L>
struct ev_count_entry {
    int c;
    int y;
    int x;
    uint64_t mask;
    uint32_t n[L];
};

// Bit l of a packed word.
template <int W>
inline bool bit(const uint_t<W>& word, int l) {
#if SF_VENDOR
    return word[l] != 0;
#else
    return ((word >> l) & 1u) != 0;
#endif
}

// ---------------------------------------------------------------- early exit

// The output class can no longer change: the leader (lowest index among the largest counts)
// beats every other class even if that class spikes at each of the `remaining` steps (a tie
// then still goes to the lower index).
template <int N>
inline bool decided(const int64_t (&counts)[N], int64_t remaining) {
    int lead = 0;
    for (int c = 1; c < N; c++) {
        SF_HLS(UNROLL)
        if (counts[c] > counts[lead]) {
            lead = c;
        }
    }
    bool all = true;
    for (int c = 0; c < N; c++) {
        SF_HLS(UNROLL)
        const int64_t v = counts[c] + remaining;
        if (c != lead && !(counts[lead] > v || (counts[lead] == v && lead < c))) {
            all = false;
        }
    }
    return all;
}

// ---------------------------------------------------------------- stream words

// Field [lo, lo + width) of a word, width <= 64.
template <int W>
inline uint64_t field(const bits<W>& b, int lo, int width) {
#if SF_VENDOR
    return b.range(lo + width - 1, lo).to_uint64();
#else
    uint64_t v = 0;
    for (int i = 0; i < width; i++) {
        const int k = lo + i;
        v |= ((b.w[k / 64] >> (k % 64)) & 1u) << i;
    }
    return v;
#endif
}

// Sets field [lo, lo + width) to the low `width` bits of v.
template <int W>
inline void set_field(bits<W>& b, int lo, int width, int64_t v) {
#if SF_VENDOR
    b.range(lo + width - 1, lo) = ap_uint<64>(static_cast<uint64_t>(v)).range(width - 1, 0);
#else
    for (int i = 0; i < width; i++) {
        const int k = lo + i;
        const uint64_t one = uint64_t(1) << (k % 64);
        if ((static_cast<uint64_t>(v) >> i) & 1u) {
            b.w[k / 64] |= one;
        } else {
            b.w[k / 64] &= ~one;
        }
    }
#endif
}

// An all-zero word.
template <int W>
inline bits<W> zero_bits() {
#if SF_VENDOR
    return bits<W>(0);
#else
    return bits<W>{};
#endif
}

// A word holding v in its low bits (W <= 64 or v fits).
template <int W>
inline bits<W> from_u64(uint64_t v) {
    bits<W> b = zero_bits<W>();
    set_field(b, 0, W < 64 ? W : 64, static_cast<int64_t>(v));
    return b;
}

// A field read back as a signed (two's complement) or unsigned value.
template <int W>
inline int64_t field_value(const bits<W>& b, int lo, int width, bool is_signed) {
    const uint64_t u = field(b, lo, width);
    return is_signed ? wrap_raw(static_cast<int64_t>(u), width) : static_cast<int64_t>(u);
}

#if SF_VENDOR
template <int W>
using axis = ap_axiu<W, 0, 0, 0>;
template <class T>
using stream = hls::stream<T>;

template <int W>
inline axis<W> make_axis(const bits<W>& data, bool last) {
    axis<W> a;
    a.data = data;
    a.keep = -1;
    a.strb = -1;
    a.last = last;
    return a;
}
#else
// An AXI-Stream beat: data and TLAST (TKEEP/TSTRB are all ones, so not modelled).
template <int W>
struct axis {
    bits<W> data;
    bool last = false;
};

template <int W>
inline axis<W> make_axis(const bits<W>& data, bool last) {
    axis<W> a;
    a.data = data;
    a.last = last;
    return a;
}

// A FIFO with hls::stream's interface. Reading an empty stream is a testbench bug (the
// hardware would stall forever): it stops the simulation with a message.
template <class T>
class stream {
    std::deque<T> q_;

  public:
    void write(const T& v) { q_.push_back(v); }
    T read() {
        if (q_.empty()) {
            std::fprintf(stderr, "sf::stream: read from an empty stream (the design waits for input)\n");
            std::exit(3);
        }
        T v = q_.front();
        q_.pop_front();
        return v;
    }
    bool empty() const { return q_.empty(); }
    std::size_t size() const { return q_.size(); }
};
#endif

#ifndef __SYNTHESIS__
// The low `width` bits of a word as lower-case hex, most significant digit first (the
// co-simulation's output format).
template <int W>
inline std::string hex(const bits<W>& b, int width) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (int d = (width + 3) / 4 - 1; d >= 0; d--) {
        const int lo = d * 4;
        const int n = width - lo < 4 ? width - lo : 4;
        s.push_back(digits[field(b, lo, n)]);
    }
    return s;
}
#endif

}  // namespace sf

#endif  // SF_HLS_H
