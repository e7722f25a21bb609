// output_stores.cpp — asks the kernel (mincore) whether an output's pages are mapped.
#include "cpu/output_stores.hpp"

#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace tessera::cpu {

Stores output_stores(const TensorView& out) {
#if defined(__linux__)
  if (out.dtype != DType::float32 || out.device != Device::cpu || out.numel() == 0) return Stores::cached;
  const ByteSpan span = byte_span(out);
  if (static_cast<std::int64_t>(span.last - span.first + 1) < kStreamingMinBytes) return Stores::cached;
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const std::uintptr_t first_page = span.first / page * page;
  const std::size_t pages = (span.last - first_page) / page + 1;
  std::vector<unsigned char> mapped(pages);
  if (mincore(reinterpret_cast<void*>(first_page), pages * page, mapped.data()) != 0) return Stores::cached;
  for (unsigned char m : mapped) {
    if ((m & 1) == 0) return Stores::cached;
  }
  return Stores::streaming;
#else
  (void)out;
  return Stores::cached;
#endif
}

}  // namespace tessera::cpu
