// execute_plan.cu — runs a resampling plan on a CUDA device: uploads the host-built tap tables and
// chains the axis passes through stream-ordered buffers. Nothing here synchronizes the device.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/axis_pass.cuh"
#include "cuda/backend.hpp"
#include "cuda/fused_pair.cuh"
#include "cuda/fused_volume.cuh"
#include "cuda/launch_buffer.hpp"
#include "plan/buffer_layout.hpp"
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
  LaunchBuffer memory;
  DeviceTaps<T> taps;
};

template <typename T>
UploadedTaps<T> upload(const plan::TapTable<T>& table, cudaStream_t stream) {
  UploadedTaps<T> up;
  const std::size_t first_at = up.memory.append(table.first);
  const std::size_t offset_at = up.memory.append(table.offset);
  const std::size_t weights_at = up.memory.append(table.weights);
  up.memory.upload(stream, "tap tables");
  up.taps.first = up.memory.template at<std::int64_t>(first_at);
  up.taps.offset = up.memory.template at<std::int64_t>(offset_at);
  up.taps.weights = up.memory.template at<T>(weights_at);
  up.taps.in_len = table.in_len;
  up.taps.out_len = table.out_len;
  return up;
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
  const DeviceArray src = plan::array_view(in);
  const DeviceArray dst = plan::array_view(out);
  if (plan::checked_numel(plan.out_shape, "output") == 0) return;
  if (plan.passes.empty()) {
    plan::TapTableBuilder<T> identity(in.shape[0], in.shape[0]);
    const T one(1);
    for (std::int64_t j = 0; j < in.shape[0]; ++j) identity.add_row(j, &one, 1);
    const plan::TapTable<T> table = identity.finish();
    const auto up = upload(table, stream);
    launch_axis_pass<T>(src, dst, 0, table, up.taps, stream);
    return;
  }
  const std::vector<int> order = plan::memory_order(in.strides);
  std::vector<std::int64_t> shape = plan.in_shape;
  std::vector<UploadedTaps<T>> uploads;
  for (const auto& pass : plan.passes) uploads.push_back(upload(pass.table, stream));
  // Three passes in one kernel where they fit it (3-D resampling): no intermediate array.
  if (plan.passes.size() == 3) {
    const VolumePass<T> passes[3] = {{plan.passes[0].dim, &plan.passes[0].table, uploads[0].taps},
                                     {plan.passes[1].dim, &plan.passes[1].table, uploads[1].taps},
                                     {plan.passes[2].dim, &plan.passes[2].table, uploads[2].taps}};
    if (launch_fused_volume<T>(src, dst, passes, stream)) return;
  }
  const DType buffer_dtype = sizeof(T) == 8 ? DType::float64 : DType::float32;
  StreamBuffer current(0, stream, "buffer");
  DeviceArray current_array;
  for (std::size_t p = 0; p < plan.passes.size();) {
    const DeviceArray& from = (p == 0) ? src : current_array;
    // Two passes at once where the layout allows: their intermediate stays in shared memory.
    std::size_t count = 1;
    if (p + 1 < plan.passes.size()) {
      std::vector<std::int64_t> pair_shape = shape;
      pair_shape[plan.passes[p].dim] = plan.passes[p].table.out_len;
      pair_shape[plan.passes[p + 1].dim] = plan.passes[p + 1].table.out_len;
      const DeviceArray pair_to = (p + 2 == plan.passes.size()) ? dst : plan::dense_array_view(pair_shape, order, buffer_dtype);
      if (fused_pair_fits<T>(from, pair_to, plan.passes[p].dim, plan.passes[p].table, plan.passes[p + 1].dim,
                             plan.passes[p + 1].table)) {
        count = 2;
      }
    }
    for (std::size_t q = p; q < p + count; ++q) shape[plan.passes[q].dim] = plan.passes[q].table.out_len;
    StreamBuffer next(0, stream, "buffer");
    DeviceArray to = dst;
    if (p + count < plan.passes.size()) {
      to = plan::dense_array_view(shape, order, buffer_dtype);
      next = StreamBuffer(static_cast<std::size_t>(plan::checked_numel(shape, "input")) * sizeof(T), stream,
                          "an intermediate buffer");
      to.data = next.data();
    }
    if (count == 2) {
      const auto& a = plan.passes[p];
      const auto& b = plan.passes[p + 1];
      launch_fused_pair<T>(from, to, a.dim, a.table, uploads[p].taps, b.dim, b.table, uploads[p + 1].taps, stream);
    } else {
      launch_axis_pass<T>(from, to, plan.passes[p].dim, plan.passes[p].table, uploads[p].taps, stream);
    }
    p += count;
    current = std::move(next);
    current_array = to;
  }
}

template void execute_plan<float>(const plan::ResamplePlan<float>&, const TensorView&, const TensorView&, void*);
template void execute_plan<double>(const plan::ResamplePlan<double>&, const TensorView&, const TensorView&, void*);

}  // namespace tessera::cuda
