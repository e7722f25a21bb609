// axis_pass.cuh — the CUDA single-axis gather: the same arithmetic as src/cpu/axis_pass.cpp, element for
// element (acc = x0*w0; acc = acc + xk*wk, rounded multiply and add, never fused), so results match the
// CPU bit for bit.
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <cstdint>

#include "plan/buffer_layout.hpp"
#include "plan/tap_table.hpp"
#include "tessera/tensor_view.hpp"

namespace tessera::cuda {

using plan::kMaxDims;
using DeviceArray = plan::ArrayView;  // data points to device memory

// A tap table in device memory.
template <typename T>
struct DeviceTaps {
  const std::int64_t* first = nullptr;
  const std::int64_t* offset = nullptr;
  const T* weights = nullptr;
  std::int64_t in_len = 0;
  std::int64_t out_len = 0;
};

// Multiprocessors of the current device (a fallback count when it cannot be read).
int multiprocessor_count();

// dst = taps applied along `axis` of src (shapes agree elsewhere), enqueued on `stream`: `taps` is
// `table` in device memory (the host copy chooses the kernel).
template <typename T>
void launch_axis_pass(const DeviceArray& src, const DeviceArray& dst, int axis, const plan::TapTable<T>& table,
                      const DeviceTaps<T>& taps, cudaStream_t stream);

}  // namespace tessera::cuda
