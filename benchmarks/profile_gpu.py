#!/usr/bin/env python3
"""Runs tessera's calls of GPU benchmark cases a few times each, for a profiler to watch.

The cases, shapes and inputs are those of benchmarks/gpu.py. Each listed case runs its forward and
backward (or one of them) `--calls` times; Nsight Compute then profiles the kernels it names:

    ncu -k regex:'rows_then|cols_then|slide|depth|walk|axis_pass' --launch-skip 1 --launch-count 1 \\
        python3 benchmarks/profile_gpu.py bicubic-x2 --bf16 --pass forward
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu  # noqa: E402  (the benchmark's cases and inputs)


def main() -> int:
    keys = [c.key for c in gpu.CASES]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", help="comma-separated case keys: " + ", ".join(keys))
    parser.add_argument("--pass", dest="which", choices=("forward", "backward", "both"), default="both")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--calls", type=int, default=2, help="calls of each pass (default 2)")
    args = parser.parse_args()
    unknown = [k for k in args.cases.split(",") if k not in keys]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(keys)}")
    if args.calls < 1:
        parser.error("--calls must be at least 1")

    import torch

    import tessera  # takes CUDA tensors by DLPack

    dtype = gpu.torch_dtype("bfloat16" if args.bf16 else "float32")
    for case in (c for c in gpu.CASES if c.key in args.cases.split(",")):
        kw = dict(case.kwargs, mode=case.mode)
        out_shape = tuple(tessera.output_shape(case.shape, **kw))
        x = gpu.random_tensor(case.shape, dtype, args.channels_last, 1)
        g = gpu.random_tensor(out_shape, dtype, args.channels_last, 2)
        for _ in range(args.calls):
            if args.which in ("forward", "both"):
                tessera.interpolate(x, **kw)
            if args.which in ("backward", "both"):
                tessera.interpolate_backward(g, case.shape, **kw)
        torch.cuda.synchronize()
        print(f"{case.key}: {args.calls} call(s) of {args.which}, {dtype}, "
              f"{'channels-last' if args.channels_last else 'contiguous'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
