#!/usr/bin/env bash
# Runs every test of tessera: the C++ unit tests (GoogleTest, through CTest) and the Python suite
# (pytest, with PyTorch 2.13 CPU as the reference oracle). Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! [ -f /usr/include/gtest/gtest.h ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -q && apt-get install -y -q libgtest-dev
  else
    echo "GoogleTest is missing: install libgtest-dev (Debian/Ubuntu) and run again" >&2
    exit 1
  fi
fi

python3 -m pip install -q "torch==2.13.0" numpy pillow tifffile pytest hypothesis \
  "dask[array]" distributed zarr tqdm scikit-build-core nanobind cmake ninja
python3 -m pip install -q --no-build-isolation -e .

# The CUDA sources are compiled by the package build above; the C++ unit tests run on the CPU.
cmake -S . -B build/cpp -G Ninja -DCMAKE_BUILD_TYPE=Release -DTESSERA_CUDA=OFF
cmake --build build/cpp
ctest --test-dir build/cpp --output-on-failure
# Again with the narrower copies of the CPU kernels (the widest the CPU runs is the default above).
for target in avx2 baseline; do
  TESSERA_CPU_TARGET=$target ctest --test-dir build/cpp --output-on-failure
done

python3 -m pytest -q tests/python "$@"
