// tensor_view.cpp — small helpers of the public tensor view.
#include "tessera/tensor_view.hpp"

namespace tessera {

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::float16: return "float16";
    case DType::bfloat16: return "bfloat16";
    case DType::float32: return "float32";
    case DType::float64: return "float64";
  }
  return "unknown";
}

std::int64_t TensorView::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

ByteSpan byte_span(const TensorView& view) {
  const auto size = static_cast<std::int64_t>(dtype_size(view.dtype));
  std::int64_t low = 0, high = 0;
  for (int d = 0; d < view.ndim(); ++d) {
    const std::int64_t reach = view.strides[d] * (view.shape[d] - 1) * size;
    (reach < 0 ? low : high) += reach;
  }
  const auto base = reinterpret_cast<std::uintptr_t>(view.data);
  return {base + static_cast<std::uintptr_t>(low), base + static_cast<std::uintptr_t>(high + size - 1)};
}

std::vector<std::int64_t> contiguous_strides(const std::vector<std::int64_t>& shape) {
  std::vector<std::int64_t> strides(shape.size());
  std::int64_t s = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

bool is_channels_last(const std::vector<std::int64_t>& shape, const std::vector<std::int64_t>& strides) {
  static constexpr int kOrder4[] = {1, 3, 2, 0};
  static constexpr int kOrder5[] = {1, 4, 3, 2, 0};
  if (shape.size() != strides.size() || (shape.size() != 4 && shape.size() != 5)) return false;
  if (strides[1] == 0) return false;
  const int* order = shape.size() == 4 ? kOrder4 : kOrder5;
  std::int64_t minimum = 0;
  for (std::size_t k = 0; k < shape.size(); ++k) {
    const int d = order[k];
    if (shape[d] == 0 || strides[d] < minimum) return false;
    if (d == 0 && minimum == strides[1]) return false;
    minimum = strides[d] * (shape[d] > 1 ? shape[d] : 1);
  }
  return true;
}

TensorView make_contiguous_view(void* data, DType dtype, std::vector<std::int64_t> shape) {
  TensorView v;
  v.data = data;
  v.dtype = dtype;
  v.strides = contiguous_strides(shape);
  v.shape = std::move(shape);
  return v;
}

}  // namespace tessera
