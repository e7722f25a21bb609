// tessera/tensor_view.hpp — a non-owning view of a strided N-d array (data pointer, dtype, shape, strides).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace tessera {

enum class DType { float16, bfloat16, float32, float64 };

// Bytes per element of a dtype.
constexpr std::size_t dtype_size(DType dtype) {
  return (dtype == DType::float64) ? 8 : (dtype == DType::float32) ? 4 : 2;
}

const char* dtype_name(DType dtype);

// Where the data lives. Views on a CUDA device are accepted only by builds with the CUDA backend.
enum class Device { cpu, cuda };

// Strides are in elements (not bytes), as in NumPy's `strides / itemsize` and PyTorch's `stride()`.
struct TensorView {
  void* data = nullptr;
  DType dtype = DType::float32;
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> strides;
  Device device = Device::cpu;
  int device_index = 0;

  int ndim() const { return static_cast<int>(shape.size()); }
  std::int64_t numel() const;
};

// The lowest and the highest byte address that a view with elements touches (strides of any sign).
struct ByteSpan {
  std::uintptr_t first = 0;
  std::uintptr_t last = 0;
};
ByteSpan byte_span(const TensorView& view);

// Row-major (C-contiguous) strides for a shape.
std::vector<std::int64_t> contiguous_strides(const std::vector<std::int64_t>& shape);

// PyTorch's "strides like channels_last" rule for 4-D (N, C, H, W) and 5-D (channels_last_3d) shapes;
// ambiguous size-1 cases resolve to contiguous, as in PyTorch.
bool is_channels_last(const std::vector<std::int64_t>& shape, const std::vector<std::int64_t>& strides);

// A view over `data` with row-major strides.
TensorView make_contiguous_view(void* data, DType dtype, std::vector<std::int64_t> shape);

}  // namespace tessera
