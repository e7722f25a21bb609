// band_executor.cpp — see band_executor.hpp.
#include "cpu/band_executor.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <type_traits>

#include "cpu/permute_groups.hpp"
#include "cpu/thread_pool.hpp"
#include "plan/buffer_layout.hpp"
#include "tessera/error.hpp"

namespace tessera::cpu {
namespace {

// The geometry shared by every band of one execution.
struct Layout {
  int band_dim = -1;
  std::size_t band_pass = 0;      // the pass along band_dim
  std::vector<int> outer_dims;    // dims outside band_dim in memory order, outermost first
  std::int64_t outer_count = 1;   // slices along the outer dims
  std::vector<std::vector<std::int64_t>> stage_shape;  // [0] = input, [s + 1] = after pass s
  std::vector<std::int64_t> inner_elements;            // per stage: elements of one row along band_dim
  std::int64_t band_rows = 1, bands = 1;
  std::vector<std::int64_t> window;  // per band: [begin, end) of the rows the band pass reads
  std::int64_t ring_rows = 0;        // the widest window
};

// The dims longer than 1, innermost in memory order first.
template <typename T>
std::vector<int> longer_dims(const plan::ResamplePlan<T>& plan, const std::vector<int>& order) {
  std::vector<int> longer;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (plan.in_shape[*it] > 1 || plan.out_shape[*it] > 1) longer.push_back(*it);
  }
  return longer;
}

// The elements per pixel of `pass` when it runs along dense channels-last pixels (the innermost dim
// longer than 1 holds channels that no pass resamples, and `pass` resamples the next one out); else 1.
// The along pass by permutes cuts its table for them (permute_groups.hpp).
template <typename T>
std::int64_t pixel_channels(const plan::ResamplePlan<T>& plan, const std::vector<int>& order,
                            const plan::AxisPass<T>& pass) {
  const std::vector<int> longer = longer_dims(plan, order);
  if (longer.size() < 2 || pass.dim != longer[1]) return 1;
  const int channels = longer[0];
  const bool resampled = std::any_of(plan.passes.begin(), plan.passes.end(),
                                     [&](const plan::AxisPass<T>& p) { return p.dim == channels; });
  return resampled ? 1 : plan.in_shape[channels];
}

// Whether `pass`, given enough lines, runs in the loop order along the contiguous axis (axis_pass.hpp):
// it resamples the innermost dim longer than 1, or runs along pixels whose channel count
// pixels_run_along() accepts.
template <typename T>
bool runs_along(const plan::ResamplePlan<T>& plan, const std::vector<int>& order, const plan::AxisPass<T>& pass) {
  const std::vector<int> longer = longer_dims(plan, order);
  if (longer.empty()) return false;
  return pass.dim == longer[0] || pixels_run_along(pixel_channels(plan, order, pass), pass.table.max_taps());
}

// Output rows per band: every buffer of a band within band_bytes (by default small enough to stay in a
// core's L2 cache with the ring, large enough that the per-band overhead is negligible).
template <typename T>
std::int64_t band_height(const plan::ResamplePlan<T>& plan, const std::vector<int>& order, const Layout& L,
                         std::int64_t band_bytes) {
  const plan::TapTable<T>& table = plan.passes[L.band_pass].table;
  const std::int64_t out_rows = table.out_len;
  // The stages before the band pass hold rows of its input: in_len / out_len of them per output row
  // when it shrinks.
  const std::int64_t rows_per_output = std::max<std::int64_t>(1, (table.in_len + out_rows - 1) / out_rows);
  std::int64_t row_bytes = 1;
  for (std::size_t s = 1; s <= plan.passes.size(); ++s) {
    const std::int64_t factor = (s <= L.band_pass) ? rows_per_output : 1;
    row_bytes = std::max(row_bytes, L.inner_elements[s] * factor * static_cast<std::int64_t>(sizeof(T)));
  }
  std::int64_t rows = std::clamp<std::int64_t>(band_bytes / row_bytes, 1, out_rows);
  // A pass along the contiguous axis resamples along_lines() lines at once, and fewer waste its lanes:
  // when it runs before the band pass, each band should bring at least that many new rows, and when it
  // runs after it along the innermost dim, each band should have that many rows. (Channels-last pixel
  // passes after the band pass are left to small bands, where they take the across order: measured,
  // the larger bands cost them more than the along order saves.)
  const std::vector<int> longer = longer_dims(plan, order);
  bool along_before = false, along_after = false;
  for (std::size_t p = 0; p < plan.passes.size(); ++p) {
    along_before |= p < L.band_pass && runs_along(plan, order, plan.passes[p]);
    along_after |= p > L.band_pass && !longer.empty() && plan.passes[p].dim == longer[0];
  }
  if (along_before && table.in_len > 0) {
    const std::int64_t enough = (along_lines() * out_rows + table.in_len - 1) / table.in_len;
    rows = std::clamp<std::int64_t>(std::max(rows, enough), 1, out_rows);
  }
  if (along_after) rows = std::clamp<std::int64_t>(std::max(rows, along_lines()), 1, out_rows);
  const std::int64_t threads = get_num_threads();
  // A band pass that comes first reads the source itself, and when it shrinks, consecutive bands'
  // windows overlap by (taps - step) rows, read again for each band. Where those rows are too wide to
  // stay in the cache in between (channels-last rows of W x C values), each thread takes one band of
  // each slice, as tall as it can be.
  if (L.band_pass == 0 && table.in_len > out_rows) {
    constexpr std::int64_t kCachedOverlapBytes = 1024 * 1024;
    const std::int64_t step = table.in_len / out_rows;
    const std::int64_t overlap = table.max_taps() - step;
    if (overlap > 0 && overlap * L.inner_elements[0] * static_cast<std::int64_t>(sizeof(T)) > kCachedOverlapBytes) {
      const std::int64_t bands = std::max<std::int64_t>(1, (threads + L.outer_count - 1) / L.outer_count);
      return std::max<std::int64_t>(1, (out_rows + bands - 1) / bands);
    }
  }
  // Enough bands for every thread to get several.
  while (rows > 1 && L.outer_count * ((out_rows + rows - 1) / rows) < 4 * threads) rows = (rows + 1) / 2;
  return rows;
}

template <typename T>
Layout make_layout(const plan::ResamplePlan<T>& plan, const std::vector<int>& order, std::int64_t band_bytes) {
  Layout L;
  // The band dim is the outermost resampled dim in memory order; the dims outside it are sliced.
  for (int d : order) {
    for (std::size_t p = 0; p < plan.passes.size() && L.band_dim < 0; ++p) {
      if (plan.passes[p].dim == d) {
        L.band_dim = d;
        L.band_pass = p;
      }
    }
    if (L.band_dim >= 0) break;
    L.outer_dims.push_back(d);
    L.outer_count *= plan.in_shape[d];
  }
  L.stage_shape.push_back(plan.in_shape);
  for (const auto& pass : plan.passes) {
    L.stage_shape.push_back(L.stage_shape.back());
    L.stage_shape.back()[pass.dim] = pass.table.out_len;
  }
  const auto band_at = std::find(order.begin(), order.end(), L.band_dim);
  for (const auto& shape : L.stage_shape) {
    std::int64_t n = 1;
    for (auto it = band_at + 1; it != order.end(); ++it) n *= shape[*it];
    L.inner_elements.push_back(n);
  }
  const plan::TapTable<T>& table = plan.passes[L.band_pass].table;
  L.band_rows = band_height(plan, order, L, band_bytes);
  L.bands = (table.out_len + L.band_rows - 1) / L.band_rows;
  for (std::int64_t t = 0; t < L.bands; ++t) {
    const auto [begin, end] = table.input_span(t * L.band_rows, std::min(table.out_len, (t + 1) * L.band_rows));
    L.window.push_back(begin);
    L.window.push_back(end);
    L.ring_rows = std::max(L.ring_rows, end - begin);
  }
  return L;
}

// `a` restricted to one slice along the outer dims and to rows [start, start + count) of the band dim.
StridedArray slice(const StridedArray& a, const Layout& L, std::int64_t outer_index, std::int64_t start,
                   std::int64_t count) {
  StridedArray s = a;
  const std::int64_t element = static_cast<std::int64_t>(dtype_size(a.dtype));
  char* data = static_cast<char*>(a.data);
  for (auto it = L.outer_dims.rbegin(); it != L.outer_dims.rend(); ++it) {
    const std::int64_t index = outer_index % a.shape[*it];
    outer_index /= a.shape[*it];
    data += index * a.strides[*it] * element;
    s.shape[*it] = 1;
  }
  data += start * a.strides[L.band_dim] * element;
  s.shape[L.band_dim] = count;
  s.data = data;
  return s;
}

// Band buffers of up to kMaxAlignedBytes start on a cache line, so that 16-float vectors do not
// straddle two (large blocks from operator new start 16 bytes into a page): backward of bilinear and
// bicubic x2 NCHW 0.92-0.95x the time, area /4 NCHW forward 0.95x. Larger ones stay as operator new
// gives them: the 28 MB buffers of a channels-last antialias /3.5 forward measured 1.06x slower aligned.
constexpr std::align_val_t kLineAlignment{64};
constexpr std::size_t kMaxAlignedBytes = std::size_t{4} << 20;

// A dense buffer of rows of one stage, for one outer slice (rows along the band dim are contiguous).
template <typename T>
class StageBuffer {
 public:
  StageBuffer(const Layout& L, std::size_t stage, std::int64_t rows, const std::vector<int>& order)
      : band_dim_(L.band_dim), row_elements_(L.inner_elements[stage]) {
    std::vector<std::int64_t> shape = L.stage_shape[stage];
    for (int d : L.outer_dims) shape[d] = 1;
    shape[L.band_dim] = rows;
    std::int64_t n = 0;
    if (__builtin_mul_overflow(std::max<std::int64_t>(rows, 1), std::max<std::int64_t>(row_elements_, 1), &n) ||
        n > std::int64_t{1} << 60) {
      throw Error(ErrorKind::memory, "input", "an intermediate band buffer would not fit in memory");
    }
    try {
      const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(T);
      const bool aligned = bytes <= kMaxAlignedBytes;
      void* block = aligned ? ::operator new(bytes, kLineAlignment) : ::operator new(bytes);
      memory_ = std::unique_ptr<T, Free>(static_cast<T*>(block), Free{aligned});
    } catch (const std::bad_alloc&) {
      throw Error(ErrorKind::memory, "input", "not enough memory for a band buffer of " + std::to_string(n) + " elements");
    }
    array_ = plan::dense_array_view(shape, order, sizeof(T) == 8 ? DType::float64 : DType::float32);
    array_.data = memory_.get();
  }

  // Rows [start, start + count).
  StridedArray rows(std::int64_t start, std::int64_t count) const {
    StridedArray s = array_;
    s.data = memory_.get() + start * row_elements_;
    s.shape[band_dim_] = count;
    return s;
  }
  // Moves rows [from, from + count) to the front.
  void move_to_front(std::int64_t from, std::int64_t count) {
    if (from > 0 && count > 0) {
      std::memmove(memory_.get(), memory_.get() + from * row_elements_,
                   static_cast<std::size_t>(count * row_elements_) * sizeof(T));
    }
  }

 private:
  int band_dim_;
  std::int64_t row_elements_;
  struct Free {
    bool aligned;
    void operator()(T* p) const {
      if (aligned) {
        ::operator delete(p, kLineAlignment);
      } else {
        ::operator delete(p);
      }
    }
  };
  std::unique_ptr<T, Free> memory_;
  StridedArray array_;
};

// One thread's run of consecutive bands: its buffers, and the rows of the band pass's input it holds.
template <typename T>
class BandRunner {
 public:
  BandRunner(const plan::ResamplePlan<T>& plan, const Layout& L, const StridedArray& src, const StridedArray& dst,
             const std::vector<int>& order, Stores stores)
      : plan_(plan), L_(L), src_(src), dst_(dst), stores_(stores) {
    for (const auto& pass : plan.passes) whole_.push_back(tap_rows(pass.table));
    if constexpr (std::is_same_v<T, float>) {  // cut once here, not for every band
      permute_.resize(whole_.size());
      for (std::size_t p = 0; p < whole_.size(); ++p) {
        permute_[p].build(whole_[p], permute_width(), pixel_channels(plan, order, plan.passes[p]));
        whole_[p].permute = &permute_[p];
      }
    }
    const std::size_t q = L.band_pass, passes = plan.passes.size();
    // Stages 1..q-1 hold freshly computed rows on their way into the ring (stage q). The ring has room
    // for two windows, so that its rows move back to the front only once every several bands.
    const std::int64_t window = std::max<std::int64_t>(L.ring_rows, 1);
    for (std::size_t s = 1; s <= q; ++s) prefix_.emplace_back(L, s, s == q ? 2 * window : window, order);
    ring_capacity_ = 2 * window;
    // Stages q+1..passes-1 hold one band between the passes after the band pass.
    for (std::size_t s = q + 1; s < passes; ++s) suffix_.emplace_back(L, s, L.band_rows, order);
  }

  void run(std::int64_t item) {
    const std::int64_t outer = item / L_.bands, band = item % L_.bands;
    const std::int64_t r0 = band * L_.band_rows;
    const std::int64_t rows = std::min(L_.band_rows, plan_.passes[L_.band_pass].table.out_len - r0);
    const std::int64_t a0 = L_.window[2 * band], a1 = L_.window[2 * band + 1];
    const std::size_t q = L_.band_pass, passes = plan_.passes.size();
    StridedArray from;
    if (q == 0) {
      from = slice(src_, L_, outer, a0, a1 - a0);
    } else {
      if (a1 > a0) fill_ring(outer, a0, a1);
      from = prefix_.back().rows(a1 > a0 ? ring_start_ : 0, a1 > a0 ? a1 - a0 : 0);
    }
    for (std::size_t p = q; p < passes; ++p) {
      const auto& pass = plan_.passes[p];
      const bool last = p + 1 == passes;
      const StridedArray to = last ? slice(dst_, L_, outer, r0, rows) : suffix_[p - q].rows(0, rows);
      const Stores stores = last ? stores_ : Stores::cached;
      if (p == q) {
        run_axis_pass<T>(from, to, pass.dim, whole_[p].slice(r0, r0 + rows, a0, a1 - a0), Threads::caller, stores);
      } else {
        run_axis_pass<T>(from, to, pass.dim, whole_[p], Threads::caller, stores);
      }
      from = to;
    }
  }

 private:
  // Makes the ring (the last prefix buffer) hold rows [a0, a1) of the band pass's input, from slot
  // ring_start_ on, computing only the rows it does not hold yet.
  void fill_ring(std::int64_t outer, std::int64_t a0, std::int64_t a1) {
    StageBuffer<T>& ring = prefix_.back();
    if (outer != ring_outer_ || a0 < held_begin_ || a0 > held_end_) {
      ring_outer_ = outer;
      held_begin_ = held_end_ = a0;
      ring_start_ = 0;
    }
    ring_start_ += a0 - held_begin_;
    held_begin_ = a0;
    if (a1 <= held_end_) return;
    if (ring_start_ + (a1 - held_begin_) > ring_capacity_) {
      ring.move_to_front(ring_start_, held_end_ - held_begin_);
      ring_start_ = 0;
    }
    const std::int64_t c0 = held_end_, count = a1 - held_end_;
    StridedArray from = slice(src_, L_, outer, c0, count);
    for (std::size_t p = 0; p < L_.band_pass; ++p) {
      const bool last = p + 1 == L_.band_pass;
      const StridedArray to = last ? ring.rows(ring_start_ + (c0 - held_begin_), count) : prefix_[p].rows(0, count);
      run_axis_pass<T>(from, to, plan_.passes[p].dim, whole_[p], Threads::caller);
      from = to;
    }
    held_end_ = a1;
  }

  const plan::ResamplePlan<T>& plan_;
  const Layout& L_;
  StridedArray src_, dst_;
  Stores stores_;
  std::vector<TapRows<T>> whole_;  // every pass's whole table
  std::vector<PermuteGroups> permute_;  // float32: every pass's table cut for the along pass by permutes
  std::vector<StageBuffer<T>> prefix_, suffix_;
  // The ring holds rows [held_begin_, held_end_) of outer slice ring_outer_, from slot ring_start_ on.
  std::int64_t ring_outer_ = -1, held_begin_ = 0, held_end_ = 0, ring_start_ = 0, ring_capacity_ = 0;
};

}  // namespace

template <typename T>
void execute_in_bands(const plan::ResamplePlan<T>& plan, const StridedArray& src, const StridedArray& dst,
                      const std::vector<int>& order, Stores stores, std::int64_t band_bytes) {
  const Layout L = make_layout(plan, order, band_bytes);
  std::int64_t taps = 0;
  for (const auto& pass : plan.passes) taps += pass.table.max_taps();
  const std::int64_t cost = L.band_rows * L.inner_elements.back() * std::max<std::int64_t>(taps, 1);
  parallel_for(L.outer_count * L.bands, cost, [&](std::int64_t begin, std::int64_t end) {
    BandRunner<T> runner(plan, L, src, dst, order, stores);
    for (std::int64_t item = begin; item < end; ++item) runner.run(item);
  });
}

template void execute_in_bands<float>(const plan::ResamplePlan<float>&, const StridedArray&, const StridedArray&,
                                      const std::vector<int>&, Stores, std::int64_t);
template void execute_in_bands<double>(const plan::ResamplePlan<double>&, const StridedArray&, const StridedArray&,
                                       const std::vector<int>&, Stores, std::int64_t);

}  // namespace tessera::cpu
