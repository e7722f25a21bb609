// axis_pass_dispatch.cpp — chooses, once, which compiled copy of the CPU kernels runs.
#include <cstdlib>
#include <cstring>

#include "cpu/axis_pass.hpp"

namespace tessera::cpu {
namespace {

enum class Target { baseline, avx2, avx512 };

// The widest target this build has and this CPU runs, capped by TESSERA_CPU_TARGET=baseline|avx2.
Target chosen_target() {
#if defined(TESSERA_CPU_HAS_AVX2) && (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  static const Target chosen = [] {
    const char* cap = std::getenv("TESSERA_CPU_TARGET");
    if (cap != nullptr && std::strcmp(cap, "baseline") == 0) return Target::baseline;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") == 0 || __builtin_cpu_supports("f16c") == 0) return Target::baseline;
#ifdef TESSERA_CPU_HAS_AVX512
    const bool avx2_cap = cap != nullptr && std::strcmp(cap, "avx2") == 0;
    if (!avx2_cap && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")) {
      return Target::avx512;
    }
#endif
    return Target::avx2;
  }();
  return chosen;
#else
  return Target::baseline;
#endif
}

}  // namespace

const char* cpu_target() {
  switch (chosen_target()) {
    case Target::avx512: return "avx512";
    case Target::avx2: return "avx2";
    case Target::baseline: break;
  }
  return "baseline";
}

std::int64_t along_lines() {
  switch (chosen_target()) {
#ifdef TESSERA_CPU_HAS_AVX512
    case Target::avx512: return avx512::along_lines();
#endif
#ifdef TESSERA_CPU_HAS_AVX2
    case Target::avx2: return avx2::along_lines();
#endif
    default: return baseline::along_lines();
  }
}

std::int64_t permute_width() {
  switch (chosen_target()) {
#ifdef TESSERA_CPU_HAS_AVX512
    case Target::avx512: return avx512::permute_width();
#endif
#ifdef TESSERA_CPU_HAS_AVX2
    case Target::avx2: return avx2::permute_width();
#endif
    default: return baseline::permute_width();
  }
}

template <typename T>
void run_axis_pass(const StridedArray& src, const StridedArray& dst, int axis, const TapRows<T>& rows, Threads threads,
                   Stores stores) {
  switch (chosen_target()) {
#ifdef TESSERA_CPU_HAS_AVX512
    case Target::avx512: return avx512::run_axis_pass<T>(src, dst, axis, rows, threads, stores);
#endif
#ifdef TESSERA_CPU_HAS_AVX2
    case Target::avx2: return avx2::run_axis_pass<T>(src, dst, axis, rows, threads, stores);
#endif
    default: return baseline::run_axis_pass<T>(src, dst, axis, rows, threads, stores);
  }
}

template void run_axis_pass<float>(const StridedArray&, const StridedArray&, int, const TapRows<float>&, Threads, Stores);
template void run_axis_pass<double>(const StridedArray&, const StridedArray&, int, const TapRows<double>&, Threads,
                                    Stores);

}  // namespace tessera::cpu
