// plan_cache.cpp — a small least-recently-used cache of plans, bounded in entries and in bytes.
#include "plan/plan_cache.hpp"

#include <cstring>
#include <list>
#include <mutex>
#include <string>
#include <utility>

namespace tessera::plan {
namespace {

constexpr std::size_t kMaxEntries = 16;
constexpr std::size_t kMaxBytes = 64u << 20;      // all cached tables together
constexpr std::size_t kMaxPlanBytes = 16u << 20;  // larger plans are rebuilt every time

template <typename T>
std::size_t plan_bytes(const ResamplePlan<T>& plan) {
  std::size_t bytes = 0;
  for (const auto& pass : plan.passes) {
    bytes += pass.table.weights.size() * sizeof(T) + (pass.table.first.size() + pass.table.offset.size()) * 8;
  }
  return bytes;
}

// Everything a plan depends on, as bytes.
std::string plan_key(const ResizeSpec& spec, bool backward, std::size_t type_size) {
  std::string key;
  auto put = [&](const auto& value) { key.append(reinterpret_cast<const char*>(&value), sizeof value); };
  put(type_size);
  put(backward);
  put(spec.mode);
  put(spec.align_corners);
  put(spec.antialias);
  put(spec.channels_last);
  put(spec.batch);
  put(spec.channels);
  for (const auto& axis : spec.axes) {
    put(axis.in_len);
    put(axis.out_len);
    put(axis.scale.has_value());
    put(axis.scale.value_or(0.0));
  }
  return key;
}

template <typename T>
struct Cache {
  std::mutex mutex;
  std::list<std::pair<std::string, std::shared_ptr<const ResamplePlan<T>>>> entries;  // most recent first
  std::size_t bytes = 0;
};

template <typename T>
Cache<T>& cache() {
  static Cache<T>* instance = new Cache<T>();  // never destroyed: usable until the process exits
  return *instance;
}

}  // namespace

template <typename T>
std::shared_ptr<const ResamplePlan<T>> cached_plan(const ResizeSpec& spec, bool backward) {
  const std::string key = plan_key(spec, backward, sizeof(T));
  Cache<T>& c = cache<T>();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    for (auto it = c.entries.begin(); it != c.entries.end(); ++it) {
      if (it->first == key) {
        c.entries.splice(c.entries.begin(), c.entries, it);
        return it->second;
      }
    }
  }
  auto plan = std::make_shared<const ResamplePlan<T>>(backward ? make_backward_plan<T>(spec) : make_forward_plan<T>(spec));
  const std::size_t bytes = plan_bytes(*plan);
  if (bytes <= kMaxPlanBytes) {
    std::lock_guard<std::mutex> lock(c.mutex);
    c.entries.emplace_front(key, plan);
    c.bytes += bytes;
    while (c.entries.size() > kMaxEntries || c.bytes > kMaxBytes) {
      c.bytes -= plan_bytes(*c.entries.back().second);
      c.entries.pop_back();
    }
  }
  return plan;
}

template std::shared_ptr<const ResamplePlan<float>> cached_plan<float>(const ResizeSpec&, bool);
template std::shared_ptr<const ResamplePlan<double>> cached_plan<double>(const ResizeSpec&, bool);

}  // namespace tessera::plan
