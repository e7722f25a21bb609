// output_stores.hpp — whether a pass writes the caller's output with ordinary or streaming stores.
#pragma once

#include <cstdint>

#include "cpu/axis_pass.hpp"
#include "tessera/tensor_view.hpp"

namespace tessera::cpu {

// Outputs smaller than this may still be in cache when written, or be read from it right after.
constexpr std::int64_t kStreamingMinBytes = std::int64_t{32} << 20;

// Stores::streaming for a float32 output of at least kStreamingMinBytes whose memory pages are all
// mapped already (an array made earlier, or a slice of one): streaming stores then write it about twice
// as fast as ordinary ones. A new array's pages are not mapped yet; the kernel zeroes each on first
// touch, which leaves it in cache, and there ordinary stores are faster. Stores::cached otherwise, and
// where the mapping cannot be queried.
Stores output_stores(const TensorView& out);

}  // namespace tessera::cpu
