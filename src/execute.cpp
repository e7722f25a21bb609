// execute.cpp — backend dispatch shared by every operation.
#include "execute.hpp"

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
