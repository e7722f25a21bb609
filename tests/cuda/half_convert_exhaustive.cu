// Every input of the device's 16-bit conversions (src/cuda/half_convert.cuh) against the software
// conversions of core/half_float.hpp, which the CPU backend runs, computed here on the host: all 2^32
// floats into float16 and into bfloat16, and all 2^16 float16 values into float, compared bit for bit
// (NaN payloads and signs, subnormals, infinities).
//
// The float -> 16-bit conversions exist twice on the device, one value at a time and a run of pairs
// (the kernels' 16-byte stores); the run's results are compared on the device with the single-value
// ones, the single-value ones with the host. Runs pair each float u with u * 0x9E3779B1 (a bijection),
// so every float passes through both halves of a pair, next to NaNs and non-NaNs alike.
//
//   half_convert_exhaustive f16-to-f32 | f32-to-f16 | f32-to-bf16
//
// Prints one line; exits 0 when every bit agrees, 1 on a difference or a CUDA error, 77 when there is
// no CUDA device.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/half_float.hpp"
#include "cuda/half_convert.cuh"

using namespace tessera;

namespace {

constexpr std::uint32_t kPartner = 0x9E3779B1u;  // odd: u -> u * kPartner permutes the 32-bit values
constexpr int kRun = 8;                           // the kernels' run of 16-bit values (16 bytes)
constexpr std::uint64_t kChunk = std::uint64_t{1} << 28;

bool ok(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return true;
  std::printf("CUDA error in %s: %s\n", what, cudaGetErrorString(status));
  return false;
}

__global__ void float16_to_float_all(std::uint32_t* out) {
  const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < 0x10000u) out[i] = float_bits(cuda::float16_to_float(Float16{static_cast<std::uint16_t>(i)}));
}

// out[i] = the single-value conversion of float bits base + i; each thread also converts its run of
// kRun / 2 inputs and their partners as pairs and counts, in *pair_differences, halves that differ from
// the single-value conversions.
template <typename S>
__global__ void float_to_16bit_chunk(std::uint32_t base, std::uint16_t* out, unsigned long long* pair_differences) {
  const std::uint32_t first = static_cast<std::uint32_t>((blockIdx.x * blockDim.x + threadIdx.x) * (kRun / 2));
  float v[kRun];
  std::uint16_t single[kRun];
#pragma unroll
  for (int j = 0; j < kRun / 2; ++j) {
    const std::uint32_t u = base + first + j;
    v[2 * j] = bits_float(u);
    v[2 * j + 1] = bits_float(u * kPartner);
  }
#pragma unroll
  for (int i = 0; i < kRun; ++i) {
    if constexpr (std::is_same_v<S, Float16>) {
      single[i] = cuda::float_to_float16(v[i]).bits;
    } else {
      single[i] = cuda::float_to_bfloat16(v[i]).bits;
    }
  }
  std::uint32_t pairs[kRun / 2];
  cuda::floats_to_16bit_pairs<S>(v, pairs);
  unsigned differ = 0;
#pragma unroll
  for (int j = 0; j < kRun / 2; ++j) {
    out[first + j] = single[2 * j];
    differ += (pairs[j] & 0xffffu) != single[2 * j];
    differ += (pairs[j] >> 16) != single[2 * j + 1];
  }
  if (differ != 0) atomicAdd(pair_differences, differ);  // a test counter, not a result
}

// Host comparison of out[0, n) with the software conversion of bits base + i, on all cores.
template <typename S>
std::uint64_t count_differences(std::uint32_t base, const std::uint16_t* out, std::uint64_t n, std::uint64_t& reported) {
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::uint64_t> counts(threads, 0);
  std::vector<std::uint64_t> first_bad(threads, n);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      const std::uint64_t begin = n * t / threads, end = n * (t + 1) / threads;
      for (std::uint64_t i = begin; i < end; ++i) {
        const std::uint16_t expected = store_as<S>(bits_float(static_cast<std::uint32_t>(base + i))).bits;
        if (out[i] != expected) {
          if (counts[t]++ == 0) first_bad[t] = i;
        }
      }
    });
  }
  for (auto& thread : pool) thread.join();
  std::uint64_t total = 0;
  for (unsigned t = 0; t < threads; ++t) {
    total += counts[t];
    if (counts[t] != 0 && reported < 8) {
      const std::uint64_t i = first_bad[t];
      const std::uint32_t u = static_cast<std::uint32_t>(base + i);
      std::printf("  float bits %08x: device %04x, software %04x\n", u, out[i],
                  store_as<S>(bits_float(u)).bits);
      ++reported;
    }
  }
  return total;
}

template <typename S>
int check_float_to_16bit(const char* name) {
  std::uint16_t* device_out = nullptr;
  std::uint16_t* host_out = nullptr;
  unsigned long long* pair_differences = nullptr;
  if (!ok(cudaMalloc(&device_out, kChunk * sizeof(std::uint16_t)), "cudaMalloc") ||
      !ok(cudaMallocHost(&host_out, kChunk * sizeof(std::uint16_t)), "cudaMallocHost") ||
      !ok(cudaMalloc(&pair_differences, sizeof *pair_differences), "cudaMalloc") ||
      !ok(cudaMemset(pair_differences, 0, sizeof *pair_differences), "cudaMemset")) {
    return 1;
  }
  constexpr unsigned kThreads = 256;
  const unsigned blocks = static_cast<unsigned>(kChunk / (kRun / 2) / kThreads);
  std::uint64_t differences = 0, reported = 0;
  for (std::uint64_t base = 0; base < (std::uint64_t{1} << 32); base += kChunk) {
    float_to_16bit_chunk<S><<<blocks, kThreads>>>(static_cast<std::uint32_t>(base), device_out, pair_differences);
    if (!ok(cudaGetLastError(), "launch") ||
        !ok(cudaMemcpy(host_out, device_out, kChunk * sizeof(std::uint16_t), cudaMemcpyDeviceToHost), "cudaMemcpy")) {
      return 1;
    }
    differences += count_differences<S>(static_cast<std::uint32_t>(base), host_out, kChunk, reported);
  }
  unsigned long long pairs = 0;
  if (!ok(cudaMemcpy(&pairs, pair_differences, sizeof pairs, cudaMemcpyDeviceToHost), "cudaMemcpy")) return 1;
  std::printf("%s: 4294967296 inputs, %llu differ from the software conversion, %llu pair halves differ from "
              "the single-value conversion\n",
              name, static_cast<unsigned long long>(differences), pairs);
  cudaFree(device_out);
  cudaFreeHost(host_out);
  cudaFree(pair_differences);
  return differences == 0 && pairs == 0 ? 0 : 1;
}

int check_float16_to_float() {
  std::uint32_t* device_out = nullptr;
  std::vector<std::uint32_t> out(0x10000);
  if (!ok(cudaMalloc(&device_out, out.size() * sizeof(std::uint32_t)), "cudaMalloc")) return 1;
  float16_to_float_all<<<0x10000 / 256, 256>>>(device_out);
  if (!ok(cudaGetLastError(), "launch") ||
      !ok(cudaMemcpy(out.data(), device_out, out.size() * sizeof(std::uint32_t), cudaMemcpyDeviceToHost), "cudaMemcpy")) {
    return 1;
  }
  cudaFree(device_out);
  unsigned differences = 0;
  for (std::uint32_t h = 0; h < 0x10000u; ++h) {
    const std::uint32_t expected = float_bits(to_float(Float16{static_cast<std::uint16_t>(h)}));
    if (out[h] != expected && differences++ < 8) {
      std::printf("  float16 bits %04x: device %08x, software %08x\n", h, out[h], expected);
    }
  }
  std::printf("float16 -> float: 65536 inputs, %u differ from the software conversion\n", differences);
  return differences == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string which = argc == 2 ? argv[1] : "";
  if (which != "f16-to-f32" && which != "f32-to-f16" && which != "f32-to-bf16") {
    std::printf("usage: %s f16-to-f32 | f32-to-f16 | f32-to-bf16\n", argv[0]);
    return 2;
  }
  int devices = 0;
  const cudaError_t status = cudaGetDeviceCount(&devices);
  if (status != cudaSuccess || devices == 0) {
    std::printf("no CUDA device: %s\n", status != cudaSuccess ? cudaGetErrorString(status) : "none found");
    return 77;
  }
  if (which == "f16-to-f32") return check_float16_to_float();
  if (which == "f32-to-f16") return check_float_to_16bit<Float16>("float -> float16");
  return check_float_to_16bit<BFloat16>("float -> bfloat16");
}
