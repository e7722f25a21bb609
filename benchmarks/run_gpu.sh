#!/usr/bin/env bash
# Builds tessera with its CUDA backend, runs the CUDA tests and the GPU benchmark: one call on a GPU
# machine with no network (Python 3.12, PyTorch with CUDA, JAX, nanobind, scikit-build-core, CMake,
# ninja and nvcc already installed). Logs and results go to $OUT (default ./gpu-out).
#
#   bash benchmarks/run_gpu.sh                 # build, tests, CPU smoke test, benchmark
#   bash benchmarks/run_gpu.sh --tests-only    # build and tests
#   bash benchmarks/run_gpu.sh --bench-only    # build and benchmark
#   bash benchmarks/run_gpu.sh --no-build      # use the tessera already installed
#   bash benchmarks/run_gpu.sh -- --quick --all   # arguments after -- go to benchmarks/gpu.py
#
# Exits non-zero when the build or the CUDA tests fail (after the benchmark has run anyway).
set -euo pipefail
cd "$(dirname "$0")/.."

run_tests=1
run_bench=1
build=1
bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tests-only) run_bench=0 ;;
    --bench-only) run_tests=0 ;;
    --no-build) build=0 ;;
    --quick) bench_args+=(--quick) ;;
    --) shift; bench_args+=("$@"); break ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "run_gpu.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

OUT="${OUT:-$PWD/gpu-out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
# The CUDA tests must not skip quietly on a GPU machine: a build without the CUDA backend fails them.
export TESSERA_REQUIRE_CUDA=1

stage() { echo; echo "=== $* ($(date +%H:%M:%S))"; }
started=$SECONDS

stage "device"
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version,clocks.max.sm --format=csv,noheader 2>&1 || true
python3 -c "import sys, torch; print('Python', sys.version.split()[0], '| PyTorch', torch.__version__, '| CUDA', torch.version.cuda, '| device', torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)"
command -v nvcc >/dev/null && nvcc --version | tail -1 || echo "nvcc not found: the CUDA backend will not be built"

if [ "$build" = 1 ]; then
  stage "build and install"
  # --no-deps: no network here; tessera's runtime dependencies are already installed or not needed.
  python3 -m pip install --no-build-isolation --no-deps -v . 2>&1 | tee "$OUT/build.log" | tail -30
  echo "build: $((SECONDS - started)) s"
fi
python3 -c "import tessera; print('tessera', tessera.__version__, 'from', tessera.__file__, '| cuda.is_available():', tessera.cuda.is_available())"

tests_rc=0
if [ "$run_tests" = 1 ]; then
  stage "CUDA tests"
  t0=$SECONDS
  set +e
  python3 -m pytest -q -x -rs tests/python/test_cuda.py 2>&1 | tee "$OUT/test_cuda.log"
  tests_rc=${PIPESTATUS[0]}
  set -e
  echo "CUDA tests: exit code $tests_rc, $((SECONDS - t0)) s"

  stage "CPU smoke test"
  t0=$SECONDS
  TESSERA_REQUIRE_CUDA=0 timeout "${SMOKE_TIMEOUT:-120}" python3 -m pytest -q tests/python -k "not cuda" \
    --ignore=tests/python/test_cuda.py --maxfail=3 -rf -p no:cacheprovider 2>&1 | tee "$OUT/cpu_smoke.log" | tail -8 || true
  echo "CPU smoke test: $((SECONDS - t0)) s"
fi

if [ "$run_bench" = 1 ]; then
  stage "benchmark"
  t0=$SECONDS
  set +e
  python3 benchmarks/gpu.py --out "$OUT/gpu_results.md" ${bench_args[@]+"${bench_args[@]}"} 2>&1 | tee "$OUT/bench.log"
  bench_rc=${PIPESTATUS[0]}
  set -e
  echo "benchmark: exit code $bench_rc, $((SECONDS - t0)) s"
fi

stage "done in $((SECONDS - started)) s; CUDA tests exit code $tests_rc"
exit "$tests_rc"
