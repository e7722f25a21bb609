// execute.cpp — backend dispatch shared by every operation.
#include "execute.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "cpu/execute_plan.hpp"
#include "tessera/error.hpp"
#include "tessera/interpolate.hpp"

#ifdef TESSERA_WITH_CUDA
#include "cuda/backend.hpp"
#endif

namespace tessera {

void check_view(const TensorView& view, const char* name) {
  if (view.shape.size() != view.strides.size()) fail(name, "shape and strides differ in length");
  if (view.data == nullptr && view.numel() != 0) fail(name, "has no data");
  if (view.device == Device::cuda && !built_with_cuda()) {
    fail(name, "lives on a CUDA device, but this build of tessera has no CUDA backend");
  }
}

namespace {

// Sufficient for distinct addresses: ordered by |stride|, every stride steps past all the elements that
// the smaller strides reach. (A few exotic non-overlapping layouts fail it; none that NumPy or PyTorch
// make without stride tricks.)
bool elements_distinct(const TensorView& view) {
  std::vector<std::pair<std::int64_t, std::int64_t>> dims;  // (|stride|, length) of dims longer than 1
  for (int d = 0; d < view.ndim(); ++d) {
    if (view.shape[d] > 1) dims.emplace_back(std::llabs(view.strides[d]), view.shape[d]);
  }
  std::sort(dims.begin(), dims.end());
  std::int64_t reach = 0;  // largest offset reached by the dims so far
  for (const auto& [stride, length] : dims) {
    if (stride <= reach) return false;
    reach += stride * (length - 1);
  }
  return true;
}

}  // namespace

void check_output(const TensorView& out, const char* out_name, const TensorView& in, const char* in_name) {
  if (out.numel() == 0) return;
  if (!elements_distinct(out)) fail(out_name, "has elements that share memory (e.g. a stride of 0); it must be writable element by element");
  if (in.numel() == 0 || in.device != out.device || in.device_index != out.device_index) return;
  const ByteSpan a = byte_span(out), b = byte_span(in);
  if (a.first <= b.last && b.first <= a.last) fail(out_name, std::string("must not share memory with ") + in_name);
}

template <typename T>
void execute(const plan::ResamplePlan<T>& plan, const TensorView& from, const TensorView& to, void* cuda_stream) {
  if (from.device != to.device) fail("output", "must be on the same device as the input");
#ifdef TESSERA_WITH_CUDA
  if (from.device == Device::cuda) return cuda::execute_plan<T>(plan, from, to, cuda_stream);
#endif
  (void)cuda_stream;
  cpu::execute_plan<T>(plan, from, to);
}

template void execute<float>(const plan::ResamplePlan<float>&, const TensorView&, const TensorView&, void*);
template void execute<double>(const plan::ResamplePlan<double>&, const TensorView&, const TensorView&, void*);

}  // namespace tessera
