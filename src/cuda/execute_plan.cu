// execute_plan.cu — runs a resampling plan on a CUDA device: uploads the host-built tap tables and
// chains the axis passes through stream-ordered buffers. Nothing here synchronizes the device.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/axis_pass.cuh"
#include "cuda/backend.hpp"
#include "plan/resize_spec.hpp"
#include "tessera/error.hpp"

namespace tessera::cuda {
namespace {

void check(cudaError_t status, const char* what) {
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw Error(ErrorKind::memory, "input", std::string("not enough CUDA device memory for ") + what);
  }
  if (status != cudaSuccess) throw std::runtime_error(std::string("tessera CUDA: ") + what + ": " + cudaGetErrorString(status));
}

// Makes `device` current for the scope, restoring the caller's device afterwards.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    check(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != device) check(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceScope() { cudaSetDevice(previous_); }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
};

// Keeps freed stream-ordered memory in the device's default pool instead of returning it to the driver
// at every synchronization, so repeated calls reuse their buffers without re-mapping pages.
void keep_pool_memory(int device) {
  static bool configured[64] = {};
  if (device < 0 || device >= 64 || configured[device]) return;
  cudaMemPool_t pool;
  if (cudaDeviceGetDefaultMemPool(&pool, device) == cudaSuccess) {
    std::uint64_t threshold = UINT64_MAX;
    cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold);
  }
  configured[device] = true;
}

// Stream-ordered device memory, freed on the same stream.
class StreamBuffer {
 public:
  StreamBuffer(std::size_t bytes, cudaStream_t stream, const char* what) : stream_(stream) {
    if (bytes > 0) check(cudaMallocAsync(&data_, bytes, stream), what);
  }
  ~StreamBuffer() {
    if (data_ != nullptr) cudaFreeAsync(data_, stream_);
  }
  StreamBuffer(StreamBuffer&& other) noexcept : data_(other.data_), stream_(other.stream_) { other.data_ = nullptr; }
  StreamBuffer& operator=(StreamBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(stream_, other.stream_);
    return *this;
  }
  StreamBuffer(const StreamBuffer&) = delete;
  void* data() const { return data_; }

 private:
  void* data_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

// One upload per pass: first[], offset[] and weights[] packed in one buffer.
template <typename T>
struct UploadedTaps {
  StreamBuffer memory;
  DeviceTaps<T> taps;
};

template <typename T>
UploadedTaps<T> upload(const plan::TapTable<T>& table, cudaStream_t stream) {
  const std::size_t first_bytes = table.first.size() * sizeof(std::int64_t);
  const std::size_t offset_bytes = table.offset.size() * sizeof(std::int64_t);
  const std::size_t weight_bytes = table.weights.size() * sizeof(T);
  std::vector<char> host(first_bytes + offset_bytes + weight_bytes);
  std::copy_n(reinterpret_cast<const char*>(table.first.data()), first_bytes, host.data());
  std::copy_n(reinterpret_cast<const char*>(table.offset.data()), offset_bytes, host.data() + first_bytes);
  std::copy_n(reinterpret_cast<const char*>(table.weights.data()), weight_bytes,
              host.data() + first_bytes + offset_bytes);
  UploadedTaps<T> up{StreamBuffer(std::max<std::size_t>(host.size(), 1), stream, "tap tables"), {}};
  char* base = static_cast<char*>(up.memory.data());
  // Pageable source: the call returns once `host` has been staged, so it may go out of scope after.
  check(cudaMemcpyAsync(base, host.data(), host.size(), cudaMemcpyHostToDevice, stream), "tap table upload");
  up.taps.first = reinterpret_cast<const std::int64_t*>(base);
  up.taps.offset = reinterpret_cast<const std::int64_t*>(base + first_bytes);
  up.taps.weights = reinterpret_cast<const T*>(base + first_bytes + offset_bytes);
  up.taps.in_len = table.in_len;
  up.taps.out_len = table.out_len;
  return up;
}

DeviceArray device_array(const TensorView& view) {
  DeviceArray a;
  a.data = view.data;
  a.dtype = view.dtype;
  a.ndim = view.ndim();
  for (int d = 0; d < a.ndim; ++d) {
    a.shape[d] = view.shape[d];
    a.strides[d] = view.strides[d];
  }
  return a;
}

// Dims from outermost to innermost in the input's memory (as the CPU backend orders its buffers).
std::vector<int> memory_order(const TensorView& view) {
  std::vector<int> order(view.ndim());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return std::llabs(view.strides[a]) > std::llabs(view.strides[b]); });
  return order;
}

}  // namespace

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return count;
}

template <typename T>
void execute_plan(const plan::ResamplePlan<T>& plan, const TensorView& in, const TensorView& out, void* stream_handle) {
  if (in.device_index != out.device_index) fail("output", "must be on the input's CUDA device");
  DeviceScope scope(in.device_index);
  keep_pool_memory(in.device_index);
  cudaStream_t stream = static_cast<cudaStream_t>(stream_handle);
  const DeviceArray src = device_array(in);
  const DeviceArray dst = device_array(out);
  if (plan::checked_numel(plan.out_shape, "output") == 0) return;
  if (plan.passes.empty()) {
    plan::TapTableBuilder<T> identity(in.shape[0], in.shape[0]);
    const T one(1);
    for (std::int64_t j = 0; j < in.shape[0]; ++j) identity.add_row(j, &one, 1);
    const auto up = upload(identity.finish(), stream);
    launch_axis_pass<T>(src, dst, 0, up.taps, stream);
    return;
  }
  const std::vector<int> order = memory_order(in);
  std::vector<std::int64_t> shape = plan.in_shape;
  StreamBuffer current(0, stream, "buffer");
  DeviceArray current_array;
  std::vector<UploadedTaps<T>> uploads;
  for (std::size_t p = 0; p < plan.passes.size(); ++p) {
    const auto& pass = plan.passes[p];
    shape[pass.dim] = pass.table.out_len;
    uploads.push_back(upload(pass.table, stream));
    const DeviceArray& from = (p == 0) ? src : current_array;
    if (p + 1 == plan.passes.size()) {
      launch_axis_pass<T>(from, dst, pass.dim, uploads.back().taps, stream);
    } else {
      const std::int64_t n = plan::checked_numel(shape, "input");
      StreamBuffer next(static_cast<std::size_t>(n) * sizeof(T), stream, "an intermediate buffer");
      DeviceArray next_array;
      next_array.data = next.data();
      next_array.dtype = sizeof(T) == 8 ? DType::float64 : DType::float32;
      next_array.ndim = static_cast<int>(shape.size());
      std::int64_t stride = 1;
      for (auto it = order.rbegin(); it != order.rend(); ++it) {
        next_array.shape[*it] = shape[*it];
        next_array.strides[*it] = stride;
        stride *= shape[*it];
      }
      launch_axis_pass<T>(from, next_array, pass.dim, uploads.back().taps, stream);
      current = std::move(next);
      current_array = next_array;
    }
  }
}

template void execute_plan<float>(const plan::ResamplePlan<float>&, const TensorView&, const TensorView&, void*);
template void execute_plan<double>(const plan::ResamplePlan<double>&, const TensorView&, const TensorView&, void*);

}  // namespace tessera::cuda
