// streaming_rows.hpp — contiguous float32 output rows written with non-temporal (streaming) stores.
//
// Ordinary stores to memory that is not in cache first read each line (read-for-ownership); streaming
// stores write whole lines without reading them, which doubles the rate at which one core fills a large,
// already mapped output. Only the store instruction differs: every value is computed by the operations
// of the cached path (x0*w0, then + xk*wk left to right, each rounded on its own), so the bits are the
// same. Included by axis_pass.cpp only, inside each CPU target's namespace.
#pragma once

#include <cstdint>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace tessera::cpu::TESSERA_CPU_TARGET {

#if defined(__SSE2__)
#define TESSERA_HAS_STREAMING_STORES 1

// The widest float vector of this target.
#if defined(__AVX512F__)
using StreamVector = __m512;
constexpr std::int64_t kStreamLanes = 16;
inline StreamVector stream_load(const float* p) { return _mm512_loadu_ps(p); }
inline StreamVector stream_broadcast(float w) { return _mm512_set1_ps(w); }
inline StreamVector stream_mul(StreamVector a, StreamVector b) { return _mm512_mul_ps(a, b); }
inline StreamVector stream_add(StreamVector a, StreamVector b) { return _mm512_add_ps(a, b); }
inline void stream_store(float* p, StreamVector v) { _mm512_stream_ps(p, v); }
#elif defined(__AVX__)
using StreamVector = __m256;
constexpr std::int64_t kStreamLanes = 8;
inline StreamVector stream_load(const float* p) { return _mm256_loadu_ps(p); }
inline StreamVector stream_broadcast(float w) { return _mm256_set1_ps(w); }
inline StreamVector stream_mul(StreamVector a, StreamVector b) { return _mm256_mul_ps(a, b); }
inline StreamVector stream_add(StreamVector a, StreamVector b) { return _mm256_add_ps(a, b); }
inline void stream_store(float* p, StreamVector v) { _mm256_stream_ps(p, v); }
#else
using StreamVector = __m128;
constexpr std::int64_t kStreamLanes = 4;
inline StreamVector stream_load(const float* p) { return _mm_loadu_ps(p); }
inline StreamVector stream_broadcast(float w) { return _mm_set1_ps(w); }
inline StreamVector stream_mul(StreamVector a, StreamVector b) { return _mm_mul_ps(a, b); }
inline StreamVector stream_add(StreamVector a, StreamVector b) { return _mm_add_ps(a, b); }
inline void stream_store(float* p, StreamVector v) { _mm_stream_ps(p, v); }
#endif

// Rows shorter than this keep ordinary vector stores: streaming needs aligned addresses, and the
// unaligned head and tail of a short row would take most of it element by element.
constexpr std::int64_t kStreamMinRow = 4 * kStreamLanes;

// Elements before y + i is aligned for a streaming store (at most len).
inline std::int64_t unaligned_head(const float* y, std::int64_t len) {
  const auto misalignment = reinterpret_cast<std::uintptr_t>(y) % (kStreamLanes * sizeof(float));
  if (misalignment % sizeof(float) != 0) return len;  // not even float-aligned: no vector is aligned
  const std::int64_t head = misalignment == 0 ? 0 : static_cast<std::int64_t>((kStreamLanes * sizeof(float) - misalignment) / sizeof(float));
  return head < len ? head : len;
}

// y[i] = x0[i]*w[0] + x1[i]*w[1] + ... for i < len, n in 1..4 taps (rows `step` apart from x0).
inline void stream_combine(const float* x0, std::int64_t step, const float* w, std::int64_t n, std::int64_t len,
                           float* y) {
  const float *x1 = x0 + step, *x2 = x0 + 2 * step, *x3 = x0 + 3 * step;
  auto scalar = [&](std::int64_t i) {
    float acc = x0[i] * w[0];
    if (n > 1) acc = acc + x1[i] * w[1];
    if (n > 2) acc = acc + x2[i] * w[2];
    if (n > 3) acc = acc + x3[i] * w[3];
    y[i] = acc;
  };
  const std::int64_t head = unaligned_head(y, len);
  for (std::int64_t i = 0; i < head; ++i) scalar(i);
  const StreamVector w0 = stream_broadcast(w[0]), w1 = stream_broadcast(n > 1 ? w[1] : 0.0f),
                     w2 = stream_broadcast(n > 2 ? w[2] : 0.0f), w3 = stream_broadcast(n > 3 ? w[3] : 0.0f);
  std::int64_t i = head;
  for (; i + kStreamLanes <= len; i += kStreamLanes) {
    StreamVector acc = stream_mul(stream_load(x0 + i), w0);
    if (n > 1) acc = stream_add(acc, stream_mul(stream_load(x1 + i), w1));
    if (n > 2) acc = stream_add(acc, stream_mul(stream_load(x2 + i), w2));
    if (n > 3) acc = stream_add(acc, stream_mul(stream_load(x3 + i), w3));
    stream_store(y + i, acc);
  }
  for (; i < len; ++i) scalar(i);
}

// y[i] = values[i] for i < len.
inline void stream_copy(const float* values, std::int64_t len, float* y) {
  const std::int64_t head = unaligned_head(y, len);
  for (std::int64_t i = 0; i < head; ++i) y[i] = values[i];
  std::int64_t i = head;
  for (; i + kStreamLanes <= len; i += kStreamLanes) stream_store(y + i, stream_load(values + i));
  for (; i < len; ++i) y[i] = values[i];
}

// Streaming stores are weakly ordered: this makes them visible before the caller signals completion.
inline void finish_streaming_stores() { _mm_sfence(); }
#endif

}  // namespace tessera::cpu::TESSERA_CPU_TARGET
