// region_plan.hpp — restricting a whole-problem plan to a region of its output: each axis's table keeps
// the rows of the region, with input indices shifted into the coordinates of the part that is supplied.
// The weights and the pass order are the whole problem's, which is what makes a region bitwise a slice.
#pragma once

#include <cstdint>
#include <vector>

#include "plan/resample_plan.hpp"
#include "tessera/region.hpp"

namespace tessera::plan {

// The input box each spatial axis of `plan` needs for `output_region` (identity axes need the region
// itself). `region_name` names the argument in errors.
template <typename T>
Region required_region(const ResamplePlan<T>& plan, const Region& output_region, const char* region_name);

// A plan from the box of plan.in_shape that starts at `part_start` (spatial lengths `part_lengths`)
// to `output_region`. Identity axes are not passes: `crop_start` receives, per spatial dim, where the
// needed input starts inside the part along such axes (0 along resampled axes) and `cropped_lengths` the
// lengths the plan's input has. Throws Error naming `part_name` when the box misses part of the region.
template <typename T>
ResamplePlan<T> restrict_to_region(const ResamplePlan<T>& plan, const Region& output_region,
                                   const std::vector<std::int64_t>& part_start,
                                   const std::vector<std::int64_t>& part_lengths, const char* region_name,
                                   const char* part_name, std::vector<std::int64_t>& crop_start);

}  // namespace tessera::plan
