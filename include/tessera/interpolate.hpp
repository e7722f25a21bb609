// tessera/interpolate.hpp — torch.nn.functional.interpolate semantics, forward and deterministic backward.
//
//   tessera::InterpolateOptions opt;
//   opt.mode = tessera::Mode::bilinear;
//   opt.scale_factor = {2.0, 2.0};
//   auto out_shape = tessera::interpolate_output_shape(in.shape, opt);
//   ... allocate `out` with that shape (any strides) ...
//   tessera::interpolate(in, out, opt);
//
// Every result is bitwise reproducible: the same for any thread count and on every run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/tensor_view.hpp"

namespace tessera {

enum class Mode {
  nearest,        // PyTorch 'nearest': src = floor(dst * scale)
  nearest_exact,  // PyTorch 'nearest-exact': src = floor((dst + 0.5) * scale)
  linear,         // 3-D input (one spatial dim)
  bilinear,       // 4-D input
  trilinear,      // 5-D input
  bicubic,        // 4-D input, A = -0.75, clamped border taps (antialias: Pillow's A = -0.5)
  cubic,          // extension: bicubic's formula on 1, 2 or 3 spatial dims
  area,           // adaptive average pooling windows
  lanczos,        // Lanczos-3, antialias only (PyTorch 'lanczos', 4-D input)
};

// Parses PyTorch's mode names ("nearest-exact", "bilinear", ...). Throws Error naming "mode".
Mode parse_mode(std::string_view name);
const char* mode_name(Mode mode);

struct InterpolateOptions {
  std::vector<std::int64_t> size;     // output spatial size; empty when scale_factor is given
  std::vector<double> scale_factor;   // per spatial dim; empty when size is given
  Mode mode = Mode::nearest;
  std::optional<bool> align_corners;
  std::optional<bool> recompute_scale_factor;
  bool antialias = false;
};

// Output shape (N, C, *spatial) for an input shape; validates every option exactly as the
// operation would. Throws Error naming the offending argument.
std::vector<std::int64_t> interpolate_output_shape(const std::vector<std::int64_t>& input_shape,
                                                   const InterpolateOptions& options);

// out = interpolate(in). `out` must have interpolate_output_shape(in.shape) and in's dtype, distinct
// addresses for its elements, and no memory shared with `in` (each checked: Error naming "output"). Views on a CUDA device run there (builds with the CUDA backend), enqueued on
// `cuda_stream` (a cudaStream_t; nullptr = the default stream) without synchronizing; CPU and CUDA
// produce the same bits.
void interpolate(const TensorView& input, const TensorView& output, const InterpolateOptions& options,
                 void* cuda_stream = nullptr);

// grad_input = d<interpolate(x), grad_output>/dx, computed as a gather (no scatter, no atomics).
// grad_input.shape is the forward input shape.
void interpolate_backward(const TensorView& grad_output, const TensorView& grad_input,
                          const InterpolateOptions& options, void* cuda_stream = nullptr);

// True when this build has the CUDA backend; cuda_device_count() is 0 without a driver or device.
bool built_with_cuda();
int cuda_device_count();

// The CPU kernels in use: "avx512", "avx2" or "baseline", the widest the CPU runs (TESSERA_CPU_TARGET=avx2
// or =baseline in the environment caps the choice). Every target computes the same bits.
const char* cpu_target();

// Threads used by CPU kernels (default: hardware concurrency). Results never depend on it.
void set_num_threads(int num_threads);
int get_num_threads();

}  // namespace tessera
