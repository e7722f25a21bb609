// axis_pass_dispatch.cpp — chooses, once, which compiled copy of the CPU kernels runs.
#include <cstdlib>
#include <cstring>

#include "cpu/axis_pass.hpp"

namespace tessera::cpu {
namespace {

bool use_avx2() {
#if defined(TESSERA_CPU_HAS_AVX2) && (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  static const bool chosen = [] {
    const char* forced = std::getenv("TESSERA_CPU_TARGET");
    if (forced != nullptr && std::strcmp(forced, "baseline") == 0) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return chosen;
#else
  return false;
#endif
}

}  // namespace

const char* cpu_target() { return use_avx2() ? "avx2" : "baseline"; }

template <typename T>
void run_axis_pass(const StridedArray& src, const StridedArray& dst, int axis, const TapRows<T>& rows, Threads threads) {
#ifdef TESSERA_CPU_HAS_AVX2
  if (use_avx2()) return avx2::run_axis_pass<T>(src, dst, axis, rows, threads);
#endif
  baseline::run_axis_pass<T>(src, dst, axis, rows, threads);
}

template void run_axis_pass<float>(const StridedArray&, const StridedArray&, int, const TapRows<float>&, Threads);
template void run_axis_pass<double>(const StridedArray&, const StridedArray&, int, const TapRows<double>&, Threads);

}  // namespace tessera::cpu
