// launch_buffer.hpp — host arrays that travel with kernel launches (tap tables, tile ranges, walks):
// packed into one buffer at 16-byte boundaries, uploaded on the launches' stream, and freed on that
// stream when the buffer goes out of scope (after the launches are enqueued, or when one throws).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tessera/error.hpp"

namespace tessera::cuda {

class LaunchBuffer {
 public:
  LaunchBuffer() = default;
  LaunchBuffer(const LaunchBuffer&) = delete;
  LaunchBuffer& operator=(const LaunchBuffer&) = delete;
  LaunchBuffer(LaunchBuffer&& other) noexcept
      : host_(std::move(other.host_)), device_(std::exchange(other.device_, nullptr)), stream_(other.stream_) {}
  LaunchBuffer& operator=(LaunchBuffer&& other) noexcept {
    std::swap(host_, other.host_);
    std::swap(device_, other.device_);
    std::swap(stream_, other.stream_);
    return *this;
  }
  ~LaunchBuffer() {
    if (device_ != nullptr) cudaFreeAsync(device_, stream_);
  }

  // Appends `items` (a vector) at the next 16-byte boundary; returns its offset in the buffer.
  template <typename Items>
  std::size_t append(const Items& items) {
    const std::size_t at = (host_.size() + 15) / 16 * 16;
    const std::size_t bytes = items.size() * sizeof(items[0]);
    host_.resize(at + bytes);
    if (bytes > 0) std::memcpy(host_.data() + at, items.data(), bytes);
    return at;
  }

  // Uploads what was appended, on `stream` (pageable source: the call returns once it is staged).
  void upload(cudaStream_t stream, const char* what) {
    stream_ = stream;
    if (host_.empty()) return;
    check(cudaMallocAsync(reinterpret_cast<void**>(&device_), host_.size(), stream), what);
    check(cudaMemcpyAsync(device_, host_.data(), host_.size(), cudaMemcpyHostToDevice, stream), what);
  }

  // The device copy of what was appended at `offset`.
  template <typename T>
  const T* at(std::size_t offset) const {
    return reinterpret_cast<const T*>(device_ + offset);
  }

 private:
  static void check(cudaError_t status, const char* what) {
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      throw Error(ErrorKind::memory, "input", std::string("not enough CUDA device memory for ") + what);
    }
    if (status != cudaSuccess) {
      throw std::runtime_error(std::string("tessera CUDA: ") + what + ": " + cudaGetErrorString(status));
    }
  }

  std::vector<unsigned char> host_;
  unsigned char* device_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace tessera::cuda
