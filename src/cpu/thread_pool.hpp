// thread_pool.hpp — a persistent pool that runs the parts of one job; parts are fixed ranges of the
// output, so which thread runs which part never changes a result.
#pragma once

#include <cstdint>
#include <functional>

namespace tessera::cpu {

void set_num_threads(int num_threads);
int get_num_threads();

// Calls body(begin, end) over a partition of [0, count) into contiguous ranges, in parallel when the
// job is large enough: `cost_per_item` is a rough count of element operations per item.
void parallel_for(std::int64_t count, std::int64_t cost_per_item,
                  const std::function<void(std::int64_t, std::int64_t)>& body);

}  // namespace tessera::cpu
