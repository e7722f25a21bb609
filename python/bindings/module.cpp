// module.cpp — the nanobind extension `tessera._core`: arrays cross as DLPack views, never copied.
// Argument normalisation and type checks live in Python (tessera/_interpolate.py); this layer turns
// arrays into tensor views, releases the GIL and maps tessera::Error to Python exceptions.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "tessera/error.hpp"
#include "tessera/interpolate.hpp"
#include "tessera/region.hpp"
#include "execute.hpp"
#include "plan/resize_spec.hpp"

namespace nb = nanobind;
using tessera::DType;
using tessera::TensorView;

namespace {

template <typename Array>
TensorView to_view(const Array& a, const char* name) {
  TensorView v;
  const nb::dlpack::dtype dt = a.dtype();
  if (dt == nb::dtype<float>()) {
    v.dtype = DType::float32;
  } else if (dt == nb::dtype<double>()) {
    v.dtype = DType::float64;
  } else if (dt.code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::Float) && dt.bits == 16 && dt.lanes == 1) {
    v.dtype = DType::float16;
  } else if (dt.code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::Bfloat) && dt.bits == 16 && dt.lanes == 1) {
    v.dtype = DType::bfloat16;
  } else {
    throw tessera::Error(tessera::ErrorKind::type, name,
                         "expected a float16, bfloat16, float32 or float64 array");
  }
  if (a.device_type() == nb::device::cpu::value) {
    v.device = tessera::Device::cpu;
  } else if (a.device_type() == nb::device::cuda::value) {
    v.device = tessera::Device::cuda;
    v.device_index = a.device_id();
  } else {
    throw tessera::Error(tessera::ErrorKind::type, name, "arrays must live on the CPU or a CUDA device");
  }
  v.data = const_cast<void*>(static_cast<const void*>(a.data()));
  for (std::size_t d = 0; d < a.ndim(); ++d) {
    v.shape.push_back(static_cast<std::int64_t>(a.shape(d)));
    v.strides.push_back(static_cast<std::int64_t>(a.stride(d)));
  }
  return v;
}

tessera::InterpolateOptions make_options(std::optional<std::vector<std::int64_t>> size,
                                         std::optional<std::vector<double>> scale_factor, const std::string& mode,
                                         std::optional<bool> align_corners, std::optional<bool> recompute,
                                         bool antialias) {
  tessera::InterpolateOptions o;
  if (size) o.size = *size;
  if (scale_factor) o.scale_factor = *scale_factor;
  o.mode = tessera::parse_mode(mode);
  o.align_corners = align_corners;
  o.recompute_scale_factor = recompute;
  o.antialias = antialias;
  return o;
}

using RangePairs = std::vector<std::pair<std::int64_t, std::int64_t>>;

tessera::Region to_region(const RangePairs& pairs) {
  tessera::Region region;
  for (const auto& [start, stop] : pairs) region.push_back(tessera::Range{start, stop});
  return region;
}

RangePairs to_pairs(const tessera::Region& region) {
  RangePairs pairs;
  for (const auto& r : region) pairs.emplace_back(r.start, r.stop);
  return pairs;
}

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "tessera's compiled core; use the functions of the `tessera` package instead.";

  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const tessera::Error& e) {
      PyObject* type = e.kind() == tessera::ErrorKind::type     ? PyExc_TypeError
                       : e.kind() == tessera::ErrorKind::memory ? PyExc_MemoryError
                                                                : PyExc_ValueError;
      PyErr_SetString(type, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "tessera: out of memory");
    }
  });

  m.def(
      "output_shape",
      [](const std::vector<std::int64_t>& input_shape, std::optional<std::vector<std::int64_t>> size,
         std::optional<std::vector<double>> scale_factor, const std::string& mode, std::optional<bool> align_corners,
         std::optional<bool> recompute, bool antialias, const std::string& input_name) {
        const auto options = make_options(size, scale_factor, mode, align_corners, recompute, antialias);
        return tessera::plan::resolve_resize(input_shape, options, input_name.c_str()).output_shape();
      },
      nb::arg("input_shape"), nb::arg("size").none(), nb::arg("scale_factor").none(), nb::arg("mode"),
      nb::arg("align_corners").none(), nb::arg("recompute_scale_factor").none(), nb::arg("antialias"),
      nb::arg("input_name") = "input");

  m.def(
      "interpolate",
      [](nb::ndarray<nb::ro> input, nb::ndarray<> output, std::optional<std::vector<std::int64_t>> size,
         std::optional<std::vector<double>> scale_factor, const std::string& mode, std::optional<bool> align_corners,
         std::optional<bool> recompute, bool antialias, std::uintptr_t stream) {
        const auto options = make_options(size, scale_factor, mode, align_corners, recompute, antialias);
        const TensorView in = to_view(input, "input");
        const TensorView out = to_view(output, "output");
        nb::gil_scoped_release release;
        tessera::interpolate(in, out, options, reinterpret_cast<void*>(stream));
      },
      nb::arg("input"), nb::arg("output"), nb::arg("size").none(), nb::arg("scale_factor").none(), nb::arg("mode"),
      nb::arg("align_corners").none(), nb::arg("recompute_scale_factor").none(), nb::arg("antialias"),
      nb::arg("stream") = 0);

  m.def(
      "interpolate_backward",
      [](nb::ndarray<nb::ro> grad_output, nb::ndarray<> grad_input, std::optional<std::vector<std::int64_t>> size,
         std::optional<std::vector<double>> scale_factor, const std::string& mode, std::optional<bool> align_corners,
         std::optional<bool> recompute, bool antialias, std::uintptr_t stream) {
        const auto options = make_options(size, scale_factor, mode, align_corners, recompute, antialias);
        const TensorView g = to_view(grad_output, "grad_output");
        const TensorView gi = to_view(grad_input, "grad_input");
        nb::gil_scoped_release release;
        tessera::interpolate_backward(g, gi, options, reinterpret_cast<void*>(stream));
      },
      nb::arg("grad_output"), nb::arg("grad_input"), nb::arg("size").none(), nb::arg("scale_factor").none(),
      nb::arg("mode"), nb::arg("align_corners").none(), nb::arg("recompute_scale_factor").none(),
      nb::arg("antialias"), nb::arg("stream") = 0);

  m.def(
      "required_region",
      [](const std::vector<std::int64_t>& input_shape, const RangePairs& region,
         std::optional<std::vector<std::int64_t>> size, std::optional<std::vector<double>> scale_factor,
         const std::string& mode, std::optional<bool> align_corners, std::optional<bool> recompute, bool antialias,
         bool backward) {
        const auto options = make_options(size, scale_factor, mode, align_corners, recompute, antialias);
        return to_pairs(backward ? tessera::required_grad_output_region(input_shape, to_region(region), options)
                                 : tessera::required_input_region(input_shape, to_region(region), options));
      },
      nb::arg("input_shape"), nb::arg("region"), nb::arg("size").none(), nb::arg("scale_factor").none(),
      nb::arg("mode"), nb::arg("align_corners").none(), nb::arg("recompute_scale_factor").none(),
      nb::arg("antialias"), nb::arg("backward"));

  m.def(
      "interpolate_region",
      [](nb::ndarray<nb::ro> part, nb::ndarray<> output, const std::vector<std::int64_t>& input_shape,
         const std::vector<std::int64_t>& part_start, const RangePairs& region,
         std::optional<std::vector<std::int64_t>> size, std::optional<std::vector<double>> scale_factor,
         const std::string& mode, std::optional<bool> align_corners, std::optional<bool> recompute, bool antialias,
         bool backward, std::uintptr_t stream) {
        const auto options = make_options(size, scale_factor, mode, align_corners, recompute, antialias);
        const TensorView in = to_view(part, backward ? "grad_output_part" : "x_part");
        const TensorView out = to_view(output, "output");
        const tessera::Region r = to_region(region);
        nb::gil_scoped_release release;
        if (backward) {
          tessera::interpolate_backward_region(in, input_shape, part_start, r, out, options, reinterpret_cast<void*>(stream));
        } else {
          tessera::interpolate_region(in, input_shape, part_start, r, out, options, reinterpret_cast<void*>(stream));
        }
      },
      nb::arg("part"), nb::arg("output"), nb::arg("input_shape"), nb::arg("part_start"), nb::arg("region"),
      nb::arg("size").none(), nb::arg("scale_factor").none(), nb::arg("mode"), nb::arg("align_corners").none(),
      nb::arg("recompute_scale_factor").none(), nb::arg("antialias"), nb::arg("backward"), nb::arg("stream") = 0);

  m.def(
      "check_output",
      [](nb::ndarray<> output, const std::string& output_name, nb::ndarray<nb::ro> input, const std::string& input_name) {
        tessera::check_output(to_view(output, output_name.c_str()), output_name.c_str(),
                              to_view(input, input_name.c_str()), input_name.c_str());
      },
      nb::arg("output"), nb::arg("output_name"), nb::arg("input"), nb::arg("input_name"));

  m.def("cpu_target", &tessera::cpu_target);
  m.def("is_channels_last", &tessera::is_channels_last, nb::arg("shape"), nb::arg("strides"));
  m.def("set_num_threads", &tessera::set_num_threads, nb::arg("num_threads"));
  m.def("get_num_threads", &tessera::get_num_threads);
  m.attr("built_with_cuda") = tessera::built_with_cuda();
  m.def("cuda_device_count", &tessera::cuda_device_count);
}
