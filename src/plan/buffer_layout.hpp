// buffer_layout.hpp — how intermediate buffers are laid out: dense, in the input's memory order (so a
// channels-last input keeps channels innermost through every pass). Shared by the CPU and CUDA backends.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <vector>

namespace tessera::plan {

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

}  // namespace tessera::plan
