// resize_example.cpp — the C++ API in a few lines: bilinear x2 forward, then its backward.
//
//   find_package(tessera REQUIRED)
//   target_link_libraries(my_program PRIVATE tessera::tessera)
#include <cstdio>
#include <vector>

#include "tessera/error.hpp"
#include "tessera/interpolate.hpp"

int main() {
  // One image, one channel, 2x3 pixels.
  std::vector<float> image = {0, 1, 2, 3, 4, 5};
  tessera::TensorView input = tessera::make_contiguous_view(image.data(), tessera::DType::float32, {1, 1, 2, 3});

  tessera::InterpolateOptions options;
  options.mode = tessera::Mode::bilinear;
  options.scale_factor = {2.0, 2.0};

  try {
    const std::vector<std::int64_t> out_shape = tessera::interpolate_output_shape(input.shape, options);
    std::vector<float> result(out_shape[2] * out_shape[3]);
    tessera::TensorView output = tessera::make_contiguous_view(result.data(), tessera::DType::float32, out_shape);
    tessera::interpolate(input, output, options);

    std::printf("bilinear x2 of a 2x3 image:\n");
    for (std::int64_t y = 0; y < out_shape[2]; ++y) {
      for (std::int64_t x = 0; x < out_shape[3]; ++x) std::printf(" %5.2f", result[y * out_shape[3] + x]);
      std::printf("\n");
    }

    // Backward: the gradient of sum(output) w.r.t. each input pixel.
    std::vector<float> ones(result.size(), 1.0f), grad(image.size());
    tessera::TensorView grad_output = tessera::make_contiguous_view(ones.data(), tessera::DType::float32, out_shape);
    tessera::TensorView grad_input = tessera::make_contiguous_view(grad.data(), tessera::DType::float32, input.shape);
    tessera::interpolate_backward(grad_output, grad_input, options);
    std::printf("gradient of sum(output):");
    for (float g : grad) std::printf(" %.2f", g);
    std::printf("\n");
  } catch (const tessera::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
