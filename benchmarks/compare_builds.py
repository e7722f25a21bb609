#!/usr/bin/env python3
"""Times two builds of tessera against each other in one process, calls alternated.

On a shared or small machine the speed can change by 2x between processes, which hides changes of
10-30%. Loading both builds into one process and alternating their calls exposes both to the same
conditions: identical builds then measure within about 3% of each other.

    # the baseline: any commit, installed into a folder of its own
    git worktree add /tmp/base-src <commit>
    python3 -m pip install --no-build-isolation --no-deps --target /tmp/base /tmp/base-src
    # the build under test is the installed `tessera`
    python3 benchmarks/compare_builds.py /tmp/base
    python3 benchmarks/compare_builds.py /tmp/base --cases rgb-x2,x32 --layouts channels_last --preallocated

Each row prints both medians and new/old (below 1: the build under test is faster). Both builds are
checked to give the same bits on every row first. The baseline's package folder is copied and imported
under another name, so the two builds' compiled modules live side by side.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    "bilinear-x2": ((1, 16, 512, 512), dict(scale_factor=2, mode="bilinear")),
    "bicubic-x2": ((1, 16, 512, 512), dict(scale_factor=2, mode="bicubic")),
    "nearest-x2": ((1, 16, 512, 512), dict(scale_factor=2, mode="nearest")),
    "area-4": ((1, 16, 2048, 2048), dict(scale_factor=0.25, mode="area")),
    "bilinear-aa-3": ((1, 16, 1536, 1536), dict(scale_factor=1 / 3, mode="bilinear", antialias=True)),
    "bicubic-aa-3.5": ((1, 16, 1792, 1792), dict(scale_factor=1 / 3.5, mode="bicubic", antialias=True)),
    "rgb-x2": ((1, 3, 2048, 2048), dict(scale_factor=2, mode="bilinear")),
    "x32": ((1, 512, 15, 15), dict(scale_factor=32, mode="bilinear")),
}
LAYOUTS = ("nchw", "channels_last")


def load_baseline(folder: Path):
    """The baseline build's package, imported as `tessera_baseline` from a temporary copy."""
    source = folder / "tessera"
    if not (source / "__init__.py").is_file():
        raise SystemExit(f"{folder}: no tessera package there (expected {source}/__init__.py)")
    root = Path(tempfile.mkdtemp(prefix="tessera-baseline-"))
    shutil.copytree(source, root / "tessera_baseline")
    sys.path.insert(0, str(root))
    return importlib.import_module("tessera_baseline")


def inputs(np, shape, channels_last: bool):
    n, c, h, w = shape
    x = np.random.default_rng(0).standard_normal((n, h, w, c), dtype=np.float32).transpose(0, 3, 1, 2)
    return x if channels_last else np.ascontiguousarray(x)


def median_ms(samples):
    return statistics.median(samples[1:] if len(samples) > 2 else samples)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("baseline", type=Path, help="folder holding the baseline build's `tessera` package")
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    p.add_argument("--layouts", default=",".join(LAYOUTS), help="nchw and/or channels_last")
    p.add_argument("--repeats", type=int, default=13, help="calls of each build per row (default 13)")
    p.add_argument("--threads", type=int, default=2, help="threads of both builds (default 2)")
    p.add_argument("--preallocated", action="store_true", help="write into existing arrays (out=); both builds need it")
    args = p.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    layouts = [s.strip() for s in args.layouts.split(",") if s.strip()]
    unknown = [c for c in cases if c not in CASES] + [s for s in layouts if s not in LAYOUTS]
    if unknown:
        p.error(f"unknown case or layout: {unknown}")
    if args.repeats < 3 or args.threads < 1:
        p.error("--repeats must be >= 3 and --threads >= 1")

    import numpy as np

    import tessera

    baseline = load_baseline(args.baseline)
    builds = {"old": baseline, "new": tessera}
    for build in builds.values():
        build.set_num_threads(args.threads)
    print(f"old: {baseline.__file__}\nnew: {tessera.__file__}\n{args.threads} threads, {args.repeats} calls each, "
          f"{'preallocated' if args.preallocated else 'new'} results", flush=True)

    for case in cases:
        shape, kw = CASES[case]
        for layout in layouts:
            x = inputs(np, shape, layout == "channels_last")
            y = tessera.interpolate(x, **kw)
            g = np.ascontiguousarray(y.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) if layout == "channels_last" else y.copy()
            grad = tessera.interpolate_backward(g, shape, **kw)
            for direction in ("forward", "backward"):
                def call(build, preallocated=args.preallocated):
                    out = {"out": y if direction == "forward" else grad} if preallocated else {}
                    if direction == "forward":
                        return build.interpolate(x, **kw, **out)
                    return build.interpolate_backward(g, shape, **kw, **out)

                if not np.array_equal(call(baseline, False), call(tessera, False)):
                    print(f"{case} {layout} {direction}: the two builds give different results", flush=True)
                    continue
                samples = {"old": [], "new": []}
                for _ in range(args.repeats):
                    for name, build in builds.items():
                        t0 = time.perf_counter()
                        call(build)
                        samples[name].append(1e3 * (time.perf_counter() - t0))
                old, new = median_ms(samples["old"]), median_ms(samples["new"])
                print(f"{case:14s} {layout:13s} {direction:8s} old {old:8.2f} ms  new {new:8.2f} ms  new/old {new / old:.2f}",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
