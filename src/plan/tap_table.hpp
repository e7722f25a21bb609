// tap_table.hpp — the resampling plan of one axis: for each output index, its first input index and
// the weights of the contiguous input run it reads. Backward uses the transposed table, which is a
// tap table too (each input index reads a contiguous run of outputs), so one kernel serves both.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace tessera::plan {

template <typename W>
struct TapTable {
  std::int64_t in_len = 0;
  std::int64_t out_len = 0;
  std::vector<std::int64_t> first;   // out_len entries: first input index read by output j
  std::vector<std::int64_t> offset;  // out_len + 1 entries: output j's weights are weights[offset[j], offset[j+1])
  std::vector<W> weights;

  std::int64_t taps(std::int64_t j) const { return offset[j + 1] - offset[j]; }
  const W* row(std::int64_t j) const { return weights.data() + offset[j]; }
  std::int64_t max_taps() const;
  // [first, last) of the inputs that outputs [begin, end) read; {0, 0} when none of them reads anything.
  std::pair<std::int64_t, std::int64_t> input_span(std::int64_t begin, std::int64_t end) const;
  // True when output j is exactly input j for every j (a copy).
  bool is_identity() const;
};

// Builds a table row by row. Each row is a run of taps at consecutive input indices.
template <typename W>
class TapTableBuilder {
 public:
  TapTableBuilder(std::int64_t in_len, std::int64_t out_len);
  // Appends the next output's taps: `count` weights starting at input index `first`.
  void add_row(std::int64_t first, const W* weights, std::int64_t count);
  // Appends a row whose taps may fall outside [0, in_len): indices are clamped to the border and the
  // weights of taps that land on the same index are summed in tap order (PyTorch reads such border
  // samples repeatedly; summing their weights is the same linear map).
  void add_clamped_row(std::int64_t first_unclamped, const W* weights, std::int64_t count);
  TapTable<W> finish();

 private:
  TapTable<W> table_;
};

// The transposed table: for each input index i, the outputs that read it (in increasing order) and
// the weights with which they read it. Requires first[] and first[]+taps() to be non-decreasing,
// which every mode's table is; throws std::logic_error otherwise.
template <typename W>
TapTable<W> transpose(const TapTable<W>& table);

}  // namespace tessera::plan
