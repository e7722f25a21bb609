// tap_table.cpp — building, inspecting and transposing per-axis tap tables.
#include "plan/tap_table.hpp"

#include <algorithm>
#include <stdexcept>

namespace tessera::plan {

template <typename W>
std::int64_t TapTable<W>::max_taps() const {
  std::int64_t m = 0;
  for (std::int64_t j = 0; j < out_len; ++j) m = std::max(m, taps(j));
  return m;
}

template <typename W>
std::pair<std::int64_t, std::int64_t> TapTable<W>::input_span(std::int64_t begin, std::int64_t end) const {
  std::int64_t lo = in_len, hi = 0;
  for (std::int64_t j = begin; j < end; ++j) {
    if (taps(j) == 0) continue;  // reads nothing, and its `first` is 0
    lo = std::min(lo, first[j]);
    hi = std::max(hi, first[j] + taps(j));
  }
  if (lo >= hi) return {0, 0};
  return {lo, hi};
}

template <typename W>
bool TapTable<W>::is_identity() const {
  if (in_len != out_len) return false;
  for (std::int64_t j = 0; j < out_len; ++j) {
    if (taps(j) != 1 || first[j] != j || row(j)[0] != W(1)) return false;
  }
  return true;
}

template <typename W>
TapTableBuilder<W>::TapTableBuilder(std::int64_t in_len, std::int64_t out_len) {
  table_.in_len = in_len;
  table_.out_len = out_len;
  table_.first.reserve(out_len);
  table_.offset.reserve(out_len + 1);
  table_.offset.push_back(0);
}

template <typename W>
void TapTableBuilder<W>::add_row(std::int64_t first, const W* weights, std::int64_t count) {
  table_.first.push_back(count > 0 ? first : 0);
  table_.weights.insert(table_.weights.end(), weights, weights + count);
  table_.offset.push_back(static_cast<std::int64_t>(table_.weights.size()));
}

template <typename W>
void TapTableBuilder<W>::add_clamped_row(std::int64_t first_unclamped, const W* weights, std::int64_t count) {
  const std::int64_t last_index = table_.in_len - 1;
  auto clamp = [&](std::int64_t i) { return std::min(std::max(i, std::int64_t{0}), last_index); };
  std::int64_t first = clamp(first_unclamped);
  std::int64_t previous = first;
  constexpr std::int64_t kMaxClampedTaps = 16;
  if (count > kMaxClampedTaps) throw std::logic_error("tap table: too many clamped taps in one row");
  W merged[kMaxClampedTaps];
  std::int64_t n = 0;
  for (std::int64_t k = 0; k < count; ++k) {
    const std::int64_t index = clamp(first_unclamped + k);
    if (n > 0 && index == previous) {
      merged[n - 1] = merged[n - 1] + weights[k];
    } else {
      merged[n++] = weights[k];
    }
    previous = index;
  }
  add_row(first, merged, n);
}

template <typename W>
TapTable<W> TapTableBuilder<W>::finish() {
  if (static_cast<std::int64_t>(table_.first.size()) != table_.out_len) {
    throw std::logic_error("tap table: row count differs from the output length");
  }
  return std::move(table_);
}

template <typename W>
TapTable<W> transpose(const TapTable<W>& table) {
  const std::int64_t in_len = table.in_len;
  const std::int64_t out_len = table.out_len;
  // Pass 1: for each input index, the range [lo, hi) of outputs that read it.
  std::vector<std::int64_t> lo(in_len, out_len), hi(in_len, 0);
  std::int64_t previous_first = 0, previous_end = 0;
  for (std::int64_t j = 0; j < out_len; ++j) {
    const std::int64_t n = table.taps(j);
    if (n == 0) continue;
    const std::int64_t first = table.first[j];
    if (first < previous_first || first + n < previous_end) {
      throw std::logic_error("tap table is not monotone; it cannot be transposed as a gather");
    }
    previous_first = first;
    previous_end = first + n;
    for (std::int64_t k = 0; k < n; ++k) {
      lo[first + k] = std::min(lo[first + k], j);
      hi[first + k] = std::max(hi[first + k], j + 1);
    }
  }
  TapTableBuilder<W> builder(out_len, in_len);
  std::vector<W> column;
  for (std::int64_t i = 0; i < in_len; ++i) {
    column.clear();
    for (std::int64_t j = lo[i]; j < hi[i]; ++j) {
      // Monotone rows make the readers of i a contiguous run of outputs.
      const std::int64_t k = i - table.first[j];
      if (k < 0 || k >= table.taps(j)) throw std::logic_error("tap table: readers of an input are not contiguous");
      column.push_back(table.row(j)[k]);
    }
    builder.add_row(column.empty() ? 0 : lo[i], column.data(), static_cast<std::int64_t>(column.size()));
  }
  return builder.finish();
}

template struct TapTable<float>;
template struct TapTable<double>;
template class TapTableBuilder<float>;
template class TapTableBuilder<double>;
template TapTable<float> transpose(const TapTable<float>&);
template TapTable<double> transpose(const TapTable<double>&);

}  // namespace tessera::plan
