// buffer_layout.hpp — the fixed-rank strided arrays the kernels take, and how intermediate buffers are laid
// out: dense, in the input's memory order (so a channels-last input keeps channels innermost through every
// pass). Shared by the CPU and CUDA backends.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "tessera/tensor_view.hpp"

namespace tessera::plan {

constexpr int kMaxDims = 5;

// A strided array of at most kMaxDims dims (strides in elements), copied by value into kernels' setup.
struct ArrayView {
  void* data = nullptr;
  DType dtype = DType::float32;
  int ndim = 0;
  std::array<std::int64_t, kMaxDims> shape{};
  std::array<std::int64_t, kMaxDims> strides{};
};

inline ArrayView array_view(const TensorView& view) {
  ArrayView a;
  a.data = view.data;
  a.dtype = view.dtype;
  a.ndim = view.ndim();
  for (int d = 0; d < a.ndim; ++d) {
    a.shape[d] = view.shape[d];
    a.strides[d] = view.strides[d];
  }
  return a;
}

// Dims from outermost to innermost in memory (stable for equal strides).
inline std::vector<int> memory_order(const std::vector<std::int64_t>& strides) {
  std::vector<int> order(strides.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return std::llabs(strides[a]) > std::llabs(strides[b]); });
  return order;
}

// Strides of a dense array of `shape` whose dims are laid out in `order` (outermost first).
inline std::vector<std::int64_t> dense_strides(const std::vector<std::int64_t>& shape, const std::vector<int>& order) {
  std::vector<std::int64_t> strides(shape.size());
  std::int64_t stride = 1;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    strides[*it] = stride;
    stride *= shape[*it];
  }
  return strides;
}

// A dense array of `shape` laid out in `order` (outermost first); the caller sets `data`.
inline ArrayView dense_array_view(const std::vector<std::int64_t>& shape, const std::vector<int>& order, DType dtype) {
  ArrayView a;
  a.dtype = dtype;
  a.ndim = static_cast<int>(shape.size());
  const std::vector<std::int64_t> strides = dense_strides(shape, order);
  for (std::size_t d = 0; d < shape.size(); ++d) {
    a.shape[d] = shape[d];
    a.strides[d] = strides[d];
  }
  return a;
}

}  // namespace tessera::plan
