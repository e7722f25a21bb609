// tap_rows.hpp — a view of consecutive rows of a tap table, with input indices shifted into the
// coordinates of a part of the input. The CPU kernels read tables only through it, so a band of the
// output can be computed from the band of the input it needs, with the whole table's weights.
#pragma once

#include <cstdint>

#include "plan/tap_table.hpp"

namespace tessera::cpu {

struct PermuteGroups;

template <typename T>
struct TapRows {
  const std::int64_t* first_index = nullptr;  // out_len entries (unshifted)
  const std::int64_t* offset = nullptr;       // out_len + 1 entries
  const T* weights = nullptr;
  std::int64_t in_len = 0;       // length of the input part the rows read from
  std::int64_t out_len = 0;      // number of rows
  std::int64_t input_start = 0;  // where the input part starts in the table's input
  std::int64_t widest = 0;       // at least the largest tap count of the rows (a cost estimate)
  bool shrinks = false;          // the whole table has fewer outputs than inputs (a slice may not)
  static constexpr std::int64_t step = 1;  // input elements between a row's consecutive taps
  // The rows cut into groups for the along pass by permutes, where built for them (float32 only).
  const PermuteGroups* permute = nullptr;

  std::int64_t first(std::int64_t j) const { return first_index[j] - input_start; }
  std::int64_t taps(std::int64_t j) const { return offset[j + 1] - offset[j]; }
  const T* row(std::int64_t j) const { return weights + offset[j]; }
  std::int64_t max_taps() const { return widest; }

  // Rows [begin, end), reading from the input part that starts at `part_start` (in the table's input)
  // and has `part_len` entries; the caller makes sure it holds every tap of those rows.
  TapRows slice(std::int64_t begin, std::int64_t end, std::int64_t part_start, std::int64_t part_len) const {
    TapRows rows = *this;
    rows.first_index = first_index + begin;
    rows.offset = offset + begin;
    rows.out_len = end - begin;
    rows.input_start = part_start;
    rows.in_len = part_len;
    rows.permute = nullptr;  // built for the whole rows
    return rows;
  }
};

// Every row of `table`, over its whole input.
template <typename T>
TapRows<T> tap_rows(const plan::TapTable<T>& table) {
  TapRows<T> rows;
  rows.first_index = table.first.data();
  rows.offset = table.offset.data();
  rows.weights = table.weights.data();
  rows.in_len = table.in_len;
  rows.out_len = table.out_len;
  rows.widest = table.max_taps();
  rows.shrinks = table.out_len < table.in_len;
  return rows;
}

}  // namespace tessera::cpu
