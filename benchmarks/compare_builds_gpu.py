#!/usr/bin/env python3
"""Times builds of tessera's CUDA backend against each other in one process, calls alternated.

The GPU counterpart of compare_builds.py: between GPU machines (and runs) the same kernel moves by up
to ~5%, which hides changes of that size; builds loaded side by side and called in turn see the same
card and clocks. Each folder holds a build's `tessera` package (e.g. `pip install --target FOLDER .`);
the first is the reference.

    python3 benchmarks/compare_builds_gpu.py /tmp/base /tmp/new --dtypes bfloat16,float16
    python3 benchmarks/compare_builds_gpu.py /tmp/base /tmp/new --cases bilinear-x2,area-4 --layouts channels_last

The cases are gpu.py's. Each row checks that every build gives the same bits, then prints each build's
median (CUDA events around each call) and its time over the reference's.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import gpu

DTYPES = ("float32", "bfloat16", "float16")
LAYOUTS = ("nchw", "channels_last")


def load_build(folder: Path, index: int):
    """The build's package, imported as `tessera_build<index>` from a temporary copy."""
    source = folder / "tessera"
    if not (source / "__init__.py").is_file():
        raise SystemExit(f"{folder}: no tessera package there (expected {source}/__init__.py)")
    root = Path(tempfile.mkdtemp(prefix="tessera-build-"))
    shutil.copytree(source, root / f"tessera_build{index}")
    sys.path.insert(0, str(root))
    module = importlib.import_module(f"tessera_build{index}")
    if not module.cuda.is_available():
        raise SystemExit(f"{folder}: this build has no usable CUDA backend")
    return module


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("builds", type=Path, nargs="+", help="folders holding a build's `tessera` package; the first is the reference")
    p.add_argument("--cases", default="bilinear-x2,bicubic-x2,area-4", help="comma-separated keys of gpu.py's cases")
    p.add_argument("--dtypes", default="bfloat16", help="comma-separated: " + ", ".join(DTYPES))
    p.add_argument("--layouts", default="nchw", help="nchw and/or channels_last")
    p.add_argument("--repeats", type=int, default=15, help="timed calls of each build per row (default 15)")
    args = p.parse_args(argv)
    cases = {c.key: c for c in gpu.CASES}
    chosen = [s.strip() for s in args.cases.split(",") if s.strip()]
    dtypes = [s.strip() for s in args.dtypes.split(",") if s.strip()]
    layouts = [s.strip() for s in args.layouts.split(",") if s.strip()]
    unknown = [c for c in chosen if c not in cases] + [d for d in dtypes if d not in DTYPES] + [s for s in layouts if s not in LAYOUTS]
    if unknown:
        p.error(f"unknown case, dtype or layout: {unknown}")
    if len(args.builds) < 2 or args.repeats < 3:
        p.error("give at least two builds and --repeats >= 3")

    import torch

    builds = [load_build(folder, i) for i, folder in enumerate(args.builds)]
    names = [folder.name for folder in args.builds]
    print(f"{torch.cuda.get_device_name(0)}; builds: {', '.join(names)} (reference {names[0]}); "
          f"{args.repeats} calls each, alternated", flush=True)
    for key in chosen:
        case = cases[key]
        kw = dict(case.kwargs, mode=case.mode)
        out_shape = tuple(builds[0].output_shape(case.shape, **kw))
        for dtype in dtypes:
            for layout in layouts:
                x = gpu.random_tensor(case.shape, getattr(torch, dtype), layout == "channels_last", 1)
                g = gpu.random_tensor(out_shape, getattr(torch, dtype), layout == "channels_last", 2)
                for direction in ("forward", "backward"):
                    def call(build):
                        if direction == "forward":
                            return build.interpolate(x, **kw)
                        return build.interpolate_backward(g, case.shape, **kw)

                    label = f"{key} {dtype} {layout} {direction}"
                    results = [call(build) for build in builds]
                    if any(gpu.bit_differences(results[0], r) != 0 for r in results[1:]):
                        print(f"{label}: the builds give different results", flush=True)
                        continue
                    del results
                    samples = [[] for _ in builds]
                    for repeat in range(args.repeats + 1):  # the first round warms up
                        order = range(len(builds)) if repeat % 2 == 0 else reversed(range(len(builds)))
                        for i in order:
                            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                            start.record()
                            call(builds[i])
                            end.record()
                            end.synchronize()
                            if repeat > 0:
                                samples[i].append(start.elapsed_time(end))
                    medians = [statistics.median(s) for s in samples]
                    cells = "  ".join(
                        f"{n} {m:7.3f} ms" + ("" if i == 0 else f" ({m / medians[0]:.3f})")
                        for i, (n, m) in enumerate(zip(names, medians)))
                    print(f"{label:44s} {cells}", flush=True)
                del x, g
                gpu.free_memory()
    return 0


if __name__ == "__main__":
    sys.exit(main())
