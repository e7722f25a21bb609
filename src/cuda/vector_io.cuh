// vector_io.cuh — runs of consecutive elements moved with memory instructions of up to 16 bytes when
// their address is aligned, element by element otherwise. Only how values travel changes: each element
// still gets its own sequential sum.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/arithmetic.cuh"
#include "cuda/half_convert.cuh"

namespace tessera::cuda {

// Elements of compute type T that fill 16 bytes: the run length of the vectorised kernels.
template <typename T>
inline constexpr int kRun = 16 / static_cast<int>(sizeof(T));

// Elements of data S computed in T that fill 16 bytes of the narrower of the two: 16-bit data moves in
// runs of 8 elements, one 16-byte access of the data and two of their float values.
inline constexpr int run_length(std::size_t data_size, std::size_t compute_size) {
  return 16 / static_cast<int>(data_size < compute_size ? data_size : compute_size);
}
template <typename S, typename T>
inline constexpr int kRunOf = run_length(sizeof(S), sizeof(T));

// A pack as 32-bit words and back. Memory is accessed through the built-in vector types uint4/uint2
// built from these words: that is what makes the compiler emit one wide instruction (a plain struct or
// memcpy copy may be split into element accesses).
template <typename S>
__device__ inline std::uint64_t bits_of(S v) {
  if constexpr (sizeof(S) == 8) {
    return static_cast<std::uint64_t>(__double_as_longlong(v));
  } else if constexpr (sizeof(S) == 4) {
    return __float_as_uint(v);
  } else {
    return v.bits;
  }
}

template <typename S>
__device__ inline S from_bits(std::uint64_t b) {
  if constexpr (sizeof(S) == 8) {
    return __longlong_as_double(static_cast<long long>(b));
  } else if constexpr (sizeof(S) == 4) {
    return __uint_as_float(static_cast<unsigned>(b));
  } else {
    return S{static_cast<std::uint16_t>(b)};
  }
}

template <typename S, int V>
inline constexpr int kWords = static_cast<int>(sizeof(S)) * V / 4;

template <typename S, int V>
__device__ inline void pack_words(const S (&v)[V], unsigned (&w)[kWords<S, V>]) {
  if constexpr (sizeof(S) == 8) {
#pragma unroll
    for (int i = 0; i < V; ++i) {
      w[2 * i] = static_cast<unsigned>(bits_of(v[i]));
      w[2 * i + 1] = static_cast<unsigned>(bits_of(v[i]) >> 32);
    }
  } else if constexpr (sizeof(S) == 4) {
#pragma unroll
    for (int i = 0; i < V; ++i) w[i] = static_cast<unsigned>(bits_of(v[i]));
  } else {
#pragma unroll
    for (int i = 0; i < V / 2; ++i) {
      w[i] = static_cast<unsigned>(bits_of(v[2 * i]) | (bits_of(v[2 * i + 1]) << 16));
    }
  }
}

template <typename S, int V>
__device__ inline void unpack_words(const unsigned (&w)[kWords<S, V>], S (&v)[V]) {
  if constexpr (sizeof(S) == 8) {
#pragma unroll
    for (int i = 0; i < V; ++i) v[i] = from_bits<S>(w[2 * i] | (static_cast<std::uint64_t>(w[2 * i + 1]) << 32));
  } else if constexpr (sizeof(S) == 4) {
#pragma unroll
    for (int i = 0; i < V; ++i) v[i] = from_bits<S>(w[i]);
  } else {
#pragma unroll
    for (int i = 0; i < V / 2; ++i) {
      v[2 * i] = from_bits<S>(w[i] & 0xffffu);
      v[2 * i + 1] = from_bits<S>(w[i] >> 16);
    }
  }
}

template <int Words>
__device__ inline void load_words(const void* p, unsigned (&w)[Words]) {
  static_assert(Words == 8 || Words == 4 || Words == 2 || Words == 1, "runs are 4, 8, 16 or 32 bytes");
  if constexpr (Words == 8) {
    const uint4 x = static_cast<const uint4*>(p)[0], y = static_cast<const uint4*>(p)[1];
    w[0] = x.x, w[1] = x.y, w[2] = x.z, w[3] = x.w, w[4] = y.x, w[5] = y.y, w[6] = y.z, w[7] = y.w;
  } else if constexpr (Words == 4) {
    const uint4 x = *static_cast<const uint4*>(p);
    w[0] = x.x, w[1] = x.y, w[2] = x.z, w[3] = x.w;
  } else if constexpr (Words == 2) {
    const uint2 x = *static_cast<const uint2*>(p);
    w[0] = x.x, w[1] = x.y;
  } else {
    w[0] = *static_cast<const unsigned*>(p);
  }
}

// Global memory: through the cache-hinted store intrinsic, which (unlike a plain store of the same
// type) the compiler never splits; shared memory: one st.shared of the whole run. (A plain store of a
// uint4 to shared memory was split into four 32-bit stores, 16 bytes apart across the lanes: four-way
// bank conflicts each, 4x the shared-store wavefronts of the rows-first kernels.)
template <bool Global, int Words>
__device__ inline void store_words(void* p, const unsigned (&w)[Words]) {
  static_assert(Words == 4 || Words == 2 || Words == 1, "runs are 4, 8 or 16 bytes");
  if constexpr (Words == 4) {
    if constexpr (Global) {
      __stwb(static_cast<uint4*>(p), make_uint4(w[0], w[1], w[2], w[3]));
    } else {
      const auto at = static_cast<unsigned>(__cvta_generic_to_shared(p));
      asm volatile("st.shared.v4.b32 [%0], {%1, %2, %3, %4};" ::"r"(at), "r"(w[0]), "r"(w[1]), "r"(w[2]), "r"(w[3])
                   : "memory");
    }
  } else if constexpr (Words == 2) {
    if constexpr (Global) {
      __stwb(static_cast<uint2*>(p), make_uint2(w[0], w[1]));
    } else {
      const auto at = static_cast<unsigned>(__cvta_generic_to_shared(p));
      asm volatile("st.shared.v2.b32 [%0], {%1, %2};" ::"r"(at), "r"(w[0]), "r"(w[1]) : "memory");
    }
  } else {
    *static_cast<unsigned*>(p) = w[0];
  }
}

// v[i] = p[i] for i < V as T. Aligned: one load (p aligned to the pack, all V in bounds); otherwise the
// first `count` elements one by one and zeros after them.
template <bool Aligned, typename T, int V, typename S>
__device__ inline void load_run(const S* p, int count, T (&v)[V]) {
  if constexpr (Aligned) {
    unsigned w[kWords<S, V>];
    load_words(p, w);
    S s[V];
    unpack_words(w, s);
#pragma unroll
    for (int i = 0; i < V; ++i) v[i] = load<T>(s[i]);
  } else {
#pragma unroll
    for (int i = 0; i < V; ++i) v[i] = i < count ? load<T>(p[i]) : T(0);
  }
}

// p[i] = v[i] for i < V in global memory, rounded to S: one store when `aligned`, else the first
// `count` one by one.
template <typename S, typename T, int V>
__device__ inline void store_run(S* p, bool aligned, int count, const T (&v)[V]) {
  if (aligned) {
    unsigned w[kWords<S, V>];
    if constexpr (sizeof(S) == 2) {  // rounded two at a time
      float f[V];
#pragma unroll
      for (int i = 0; i < V; ++i) f[i] = static_cast<float>(v[i]);
      floats_to_16bit_pairs<S>(f, w);
    } else {
      S s[V];
#pragma unroll
      for (int i = 0; i < V; ++i) s[i] = store<S>(v[i]);
      pack_words(s, w);
    }
    store_words<true>(p, w);
  } else {
#pragma unroll
    for (int i = 0; i < V; ++i) {
      if (i < count) p[i] = store<S>(v[i]);
    }
  }
}

// p[i] = v[i] for i < V in shared memory, p aligned to the run.
template <typename T, int V>
__device__ inline void store_shared_run(T* p, const T (&v)[V]) {
  unsigned w[kWords<T, V>];
  pack_words(v, w);
  store_words<false>(p, w);
}

// Asks L2 for the 128-byte line holding p: a hint that changes no value.
__device__ inline void prefetch_l2(const void* p) { asm volatile("prefetch.global.L2 [%0];" ::"l"(p)); }

// prefetch_l2 for the lines of rows [0, rows) x elements [begin, end) of S from `base` (rows `stride`
// elements apart), the block's threads sharing the lines.
template <typename S>
__device__ inline void prefetch_box(const S* base, int rows, std::int64_t stride, std::int64_t begin,
                                    std::int64_t end) {
  if (end <= begin) return;
  const int lines = static_cast<int>((end - begin) * static_cast<std::int64_t>(sizeof(S)) / 128) + 2;
  for (int i = threadIdx.x; i < rows * lines; i += blockDim.x) {
    const int row = i / lines, line = i - row * lines;
    const std::uintptr_t first = reinterpret_cast<std::uintptr_t>(base + row * stride + begin) / 128 * 128;
    const char* p = reinterpret_cast<const char*>(first) + line * 128;
    if (p < reinterpret_cast<const char*>(base + row * stride + end)) prefetch_l2(p);
  }
}

// Whether p and every multiple of `stride` elements from it are aligned for runs of V elements of S.
template <typename S>
inline bool run_aligned(const void* p, int V, std::int64_t stride) {
  const std::uintptr_t bytes = sizeof(S) * static_cast<std::uintptr_t>(V);
  return reinterpret_cast<std::uintptr_t>(p) % bytes == 0 && stride % V == 0;
}

}  // namespace tessera::cuda
