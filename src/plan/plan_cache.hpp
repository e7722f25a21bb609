// plan_cache.hpp — recently built plans, reused by calls that resize the same shapes the same way (training
// loops, tiles and Dask chunks of one image). Plans are immutable, so sharing them changes no result.
#pragma once

#include <memory>

#include "plan/resample_plan.hpp"
#include "plan/resize_spec.hpp"

namespace tessera::plan {

// The forward (or backward) plan of `spec` in arithmetic type T, built on first use and kept for a while.
template <typename T>
std::shared_ptr<const ResamplePlan<T>> cached_plan(const ResizeSpec& spec, bool backward);

}  // namespace tessera::plan
