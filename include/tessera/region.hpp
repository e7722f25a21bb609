// tessera/region.hpp — any piece of an interpolate result, computed alone, equals the same piece of the
// whole result bit for bit. A piece reads only the input box its output region needs (from the per-axis
// tap tables of the whole problem), so images larger than memory can be resized tile by tile, and a tiled
// run is bitwise the untiled one.
//
//   tessera::Region out_region = {{0, 256}, {512, 1024}};   // rows [0, 256), cols [512, 1024)
//   tessera::Region box = tessera::required_input_region(full_shape, out_region, options);
//   ... load that box of the input into `part` (it may be larger), then ...
//   tessera::interpolate_region(part, full_shape, part_start, out_region, out, options);
#pragma once

#include <cstdint>
#include <vector>

#include "tessera/interpolate.hpp"
#include "tessera/tensor_view.hpp"

namespace tessera {

// [start, stop) along one spatial dim.
struct Range {
  std::int64_t start = 0;
  std::int64_t stop = 0;
};
// One range per spatial dim, outermost first.
using Region = std::vector<Range>;

// The smallest input box (per spatial dim) whose values determine `output_region` of
// interpolate(x) for x of shape `input_shape` (N, C, *spatial), for any dtype and memory format (float32
// and float64 tables can differ by a tap where a coordinate lands on an integer; the box covers both).
Region required_input_region(const std::vector<std::int64_t>& input_shape, const Region& output_region,
                             const InterpolateOptions& options);

// out = interpolate(x)[..., output_region], bitwise, where `part` holds the box of x that starts at
// `part_start` (per spatial dim; N and C are whole). The box must contain the required input region;
// `out` has shape (N, C, *region lengths).
void interpolate_region(const TensorView& part, const std::vector<std::int64_t>& input_shape,
                        const std::vector<std::int64_t>& part_start, const Region& output_region,
                        const TensorView& out, const InterpolateOptions& options, void* cuda_stream = nullptr);

// The same two for the backward: the box of grad_output that determines `input_region` of the input
// gradient, and that region of interpolate_backward(grad_output) from a box of grad_output.
Region required_grad_output_region(const std::vector<std::int64_t>& input_shape, const Region& input_region,
                                   const InterpolateOptions& options);
void interpolate_backward_region(const TensorView& grad_output_part, const std::vector<std::int64_t>& input_shape,
                                 const std::vector<std::int64_t>& part_start, const Region& input_region,
                                 const TensorView& grad_input, const InterpolateOptions& options,
                                 void* cuda_stream = nullptr);

}  // namespace tessera
