// band_executor.hpp — runs a plan of several passes band by band, so intermediates stay in cache.
//
// The output is cut along its outermost resampled dim (in memory order) into bands of a few rows, and
// along the dims outside that one into single slices. A band needs a window of rows of the buffer that
// the pass along the band dim reads; the passes before that pass produce those rows, and each thread
// keeps the rows it computed in a ring buffer, because consecutive bands' windows overlap. Every element
// is computed by exactly the operations of the pass-by-pass execution (the same table rows, the same
// intermediate rounding), so the result is bitwise the same; only where it is kept in between changes.
#pragma once

#include <cstdint>
#include <vector>

#include "cpu/axis_pass.hpp"
#include "plan/resample_plan.hpp"

namespace tessera::cpu {

// Runs `plan` from src to dst in bands, on the thread pool (each thread a contiguous run of bands).
// `order` is the memory order of the intermediates (outermost first). The plan has two or more passes.
// `stores`: how the last pass writes dst (the intermediates always take ordinary stores).
// `band_bytes` bounds the bytes of each of a band's buffers (the result does not depend on it).
constexpr std::int64_t kDefaultBandBytes = 128 * 1024;
template <typename T>
void execute_in_bands(const plan::ResamplePlan<T>& plan, const StridedArray& src, const StridedArray& dst,
                      const std::vector<int>& order, Stores stores = Stores::cached,
                      std::int64_t band_bytes = kDefaultBandBytes);

}  // namespace tessera::cpu
