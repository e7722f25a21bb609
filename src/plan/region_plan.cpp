// region_plan.cpp — required input boxes and region-restricted plans.
#include "plan/region_plan.hpp"

#include <algorithm>
#include <string>

#include "plan/resize_spec.hpp"
#include "tessera/error.hpp"

namespace tessera::plan {
namespace {

template <typename T>
const TapTable<T>* table_of_dim(const ResamplePlan<T>& plan, int dim) {
  for (const auto& pass : plan.passes) {
    if (pass.dim == dim) return &pass.table;
  }
  return nullptr;
}

std::string range_string(std::int64_t start, std::int64_t stop) {
  std::string s = "[";
  s += std::to_string(start);
  s += ", ";
  s += std::to_string(stop);
  s += ")";
  return s;
}

void check_region(const Region& region, const std::vector<std::int64_t>& shape, const char* name) {
  const std::size_t spatial = shape.size() - 2;
  if (region.size() != spatial) {
    fail(name, "expected " + std::to_string(spatial) + " (start, stop) ranges, one per spatial dim, got " +
                   std::to_string(region.size()));
  }
  for (std::size_t a = 0; a < spatial; ++a) {
    const Range& r = region[a];
    if (r.start < 0 || r.stop > shape[a + 2] || r.start >= r.stop) {
      fail(name, "range " + range_string(r.start, r.stop) + " of spatial dim " + std::to_string(a) +
                     " is empty or outside [0, " + std::to_string(shape[a + 2]) + ")");
    }
  }
}

}  // namespace

template <typename T>
Region required_region(const ResamplePlan<T>& plan, const Region& output_region, const char* region_name) {
  check_region(output_region, plan.out_shape, region_name);
  Region needed(output_region.size());
  for (std::size_t a = 0; a < output_region.size(); ++a) {
    const TapTable<T>* table = table_of_dim(plan, static_cast<int>(a) + 2);
    if (table == nullptr) {
      needed[a] = output_region[a];
      continue;
    }
    // Outputs that read nothing (possible in a backward) need no input at all.
    const auto [start, stop] = table->input_span(output_region[a].start, output_region[a].stop);
    needed[a] = Range{start, stop};
  }
  return needed;
}

template <typename T>
ResamplePlan<T> restrict_to_region(const ResamplePlan<T>& plan, const Region& output_region,
                                   const std::vector<std::int64_t>& part_start,
                                   const std::vector<std::int64_t>& part_lengths, const char* region_name,
                                   const char* part_name, std::vector<std::int64_t>& crop_start) {
  const Region needed = required_region(plan, output_region, region_name);
  const std::size_t spatial = output_region.size();
  ResamplePlan<T> restricted;
  restricted.in_shape = {plan.in_shape[0], plan.in_shape[1]};
  restricted.out_shape = {plan.out_shape[0], plan.out_shape[1]};
  crop_start.assign(spatial, 0);
  for (std::size_t a = 0; a < spatial; ++a) {
    const std::int64_t box_start = part_start[a], box_stop = part_start[a] + part_lengths[a];
    if (needed[a].start < needed[a].stop && (needed[a].start < box_start || needed[a].stop > box_stop)) {
      fail(part_name, "covers " + range_string(box_start, box_stop) + " along spatial dim " + std::to_string(a) +
                          ", but the region needs input " + range_string(needed[a].start, needed[a].stop));
    }
    const int dim = static_cast<int>(a) + 2;
    const TapTable<T>* table = table_of_dim(plan, dim);
    const std::int64_t region_length = output_region[a].stop - output_region[a].start;
    restricted.out_shape.push_back(region_length);
    if (table == nullptr) {
      crop_start[a] = output_region[a].start - box_start;
      restricted.in_shape.push_back(region_length);
    } else {
      restricted.in_shape.push_back(part_lengths[a]);
    }
  }
  for (const auto& pass : plan.passes) {
    const std::size_t a = static_cast<std::size_t>(pass.dim) - 2;
    const std::int64_t start = output_region[a].start, stop = output_region[a].stop;
    TapTableBuilder<T> builder(part_lengths[a], stop - start);
    for (std::int64_t j = start; j < stop; ++j) {
      builder.add_row(pass.table.first[j] - part_start[a], pass.table.row(j), pass.table.taps(j));
    }
    restricted.passes.push_back(AxisPass<T>{pass.dim, builder.finish()});
  }
  return restricted;
}

template Region required_region<float>(const ResamplePlan<float>&, const Region&, const char*);
template Region required_region<double>(const ResamplePlan<double>&, const Region&, const char*);
template ResamplePlan<float> restrict_to_region<float>(const ResamplePlan<float>&, const Region&,
                                                       const std::vector<std::int64_t>&,
                                                       const std::vector<std::int64_t>&, const char*, const char*,
                                                       std::vector<std::int64_t>&);
template ResamplePlan<double> restrict_to_region<double>(const ResamplePlan<double>&, const Region&,
                                                         const std::vector<std::int64_t>&,
                                                         const std::vector<std::int64_t>&, const char*, const char*,
                                                         std::vector<std::int64_t>&);

}  // namespace tessera::plan
