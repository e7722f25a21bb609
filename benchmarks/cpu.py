#!/usr/bin/env python3
"""CPU benchmark of tessera.interpolate against PyTorch and OpenCV, side by side in one run.

For each case and memory format (NCHW, channels-last) the forward times of tessera, PyTorch
(F.interpolate) and OpenCV (cv2.resize on the same data as one HWC image) and the backward times of
tessera (interpolate_backward) and PyTorch (autograd), each against the memory floor (input bytes +
output bytes at the memcpy bandwidth measured in the same run), tessera's speed-ups, whether the
targets are met, and whether tessera's result equals PyTorch's within 2e-5 x max(1, |PyTorch|) (or lies
nearer to PyTorch run in float64 than PyTorch float32 does).

    python3 benchmarks/cpu.py                          # every case, 2 threads, median of 7
    python3 benchmarks/cpu.py --quick                  # a subset, median of 3
    python3 benchmarks/cpu.py --threads 8 --out results/cpu.md     # also writes results/cpu.json
    python3 benchmarks/cpu.py --cases bilinear-x2,area-4 --repeats 11

    python3 benchmarks/cpu.py --preallocated           # every library writes into an existing array

Calls are interleaved: in each repeat tessera, PyTorch and OpenCV run one after another, so a change in
the machine's load affects all three alike. By default every call allocates its result; PyTorch runs
with THP_MEM_ALLOC_ENABLE=1 so that its large results get transparent huge pages as NumPy's do
(--torch-default-alloc leaves it as installed). With --preallocated every call writes into an array
made once before the timing (tessera's out=, PyTorch's own kernels through their out= overloads,
OpenCV's dst=), which leaves out the kernel's zeroing of a new result's pages. The Markdown table is
printed last.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import math
import os
import platform
import statistics
import sys
import time
import traceback
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from report_files import write_outputs

IMPLS = ("tessera", "torch", "opencv")
IMPL_NAMES = {"tessera": "tessera", "torch": "PyTorch", "opencv": "OpenCV"}
LAYOUTS = ("nchw", "channels_last")
LAYOUT_NAMES = {"nchw": "NCHW", "channels_last": "channels-last"}

# targets: tessera's speed-up over PyTorch (forward and backward, same memory format), over OpenCV
# (forward, channels-last against HWC), and its share of the memory floor
TARGET_VS_TORCH = 3.0
TARGET_VS_OPENCV = 1.2
TARGET_FLOOR = 0.50
TOLERANCE = 2e-5  # sanity check: |tessera - PyTorch| <= TOLERANCE * max(1, |PyTorch|)


# ---------------------------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    shape: tuple  # N, C, H, W
    kwargs: dict  # tessera / F.interpolate keywords
    cv_interp: str  # cv2 constant name
    cv_note: str = ""


CASES = [
    Case("bilinear-x2", "bilinear x2, 16x512x512", (1, 16, 512, 512),
         dict(mode="bilinear", scale_factor=2, align_corners=False), "INTER_LINEAR"),
    Case("bicubic-x2", "bicubic x2, 16x512x512", (1, 16, 512, 512),
         dict(mode="bicubic", scale_factor=2, align_corners=False), "INTER_CUBIC"),
    Case("nearest-x2", "nearest x2, 16x512x512", (1, 16, 512, 512),
         dict(mode="nearest", scale_factor=2), "INTER_NEAREST"),
    Case("area-4", "area /4, 16x2048x2048", (1, 16, 2048, 2048),
         dict(mode="area", scale_factor=0.25), "INTER_AREA"),
    Case("bilinear-aa-3", "bilinear antialias /3, 16x1536x1536", (1, 16, 1536, 1536),
         dict(mode="bilinear", scale_factor=1 / 3, antialias=True, align_corners=False), "INTER_AREA",
         "OpenCV has no antialiased bilinear: INTER_AREA (a 3x3 box, 9 taps per output against PyTorch's "
         "6x6 triangle filter) is its closest peer, other weights and less work"),
    Case("rgb-bilinear-x2", "bilinear x2, RGB 3x2048x2048", (1, 3, 2048, 2048),
         dict(mode="bilinear", scale_factor=2, align_corners=False), "INTER_LINEAR"),
    Case("bilinear-x32", "bilinear x32 from 15x15, 512 channels", (1, 512, 15, 15),
         dict(mode="bilinear", scale_factor=32, align_corners=False), "INTER_LINEAR"),
]
QUICK_CASES = ("bilinear-x2", "area-4", "bilinear-aa-3", "bilinear-x32")


def select_cases(spec: str | None, quick: bool) -> list[Case]:
    if not spec:
        return [c for c in CASES if c.key in QUICK_CASES] if quick else list(CASES)
    if spec.strip() == "all":
        return list(CASES)
    keys = [k.strip() for k in spec.split(",") if k.strip()]
    unknown = [k for k in keys if k not in {c.key for c in CASES}]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; known: {[c.key for c in CASES]}")
    return [c for c in CASES if c.key in keys]


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------


@dataclass
class Measure:
    ms: float | None = None
    samples: list = field(default_factory=list)
    error: str | None = None
    note: str | None = None  # why there is no time, when it is not an error


@dataclass
class Row:
    case: str
    title: str
    layout: str  # 'nchw' or 'channels_last'
    direction: str  # 'fwd' or 'bwd'
    input_shape: tuple
    output_shape: tuple
    input_bytes: int
    output_bytes: int
    floor_ms: float
    times: dict = field(default_factory=lambda: {k: Measure(note="–") for k in IMPLS})
    diff_vs_torch: float | None = None  # max |tessera - torch| / max(1, |torch|)
    # outside the tolerance only: tessera's max abs. error against PyTorch in float64 is no larger than
    # PyTorch float32's (long sums round differently; the more accurate one is not the wrong one)
    nearer_exact: bool | None = None
    check_error: str | None = None  # the comparison could not run, or the layout is wrong

    # speed-ups: other time / tessera time
    def speedup(self, other: str) -> float | None:
        t, o = self.times["tessera"].ms, self.times[other].ms
        return o / t if (t and o) else None

    def floor_share(self, impl: str) -> float | None:
        ms = self.times[impl].ms
        return self.floor_ms / ms if ms else None

    def matches_torch(self) -> bool | None:
        if self.check_error:
            return False
        if self.diff_vs_torch is None:
            return None
        return self.diff_vs_torch <= TOLERANCE or self.nearer_exact is True  # NaN compares False

    def targets(self) -> dict:
        """'PASS' / 'MISS' / None (the target does not apply or a time is missing) per target."""
        def verdict(value, goal):
            return None if value is None else ("PASS" if value >= goal else "MISS")
        opencv = None
        if self.direction == "fwd" and self.layout == "channels_last":
            opencv = verdict(self.speedup("opencv"), TARGET_VS_OPENCV)
        return {
            "vs_torch": verdict(self.speedup("torch"), TARGET_VS_TORCH),
            "vs_opencv": opencv,
            "floor": verdict(self.floor_share("tessera"), TARGET_FLOOR),
        }


# ---------------------------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------------------------


def describe_exception(error: BaseException) -> str:
    lines = [t.strip() for t in str(error).strip().splitlines() if t.strip()]
    # OpenCV puts the useful part after the source location
    first = next((t for t in lines if "error:" in t), lines[0] if lines else "")
    return f"{type(error).__name__}: {first}".strip()


def short(text: str | None, limit: int = 60) -> str:
    if not text:
        return ""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def fmt_ms(ms: float) -> str:
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.1f}"


def time_cell(m: Measure, floor_ms: float) -> str:
    if m.ms is None:
        return "error: " + short(m.error, 50) if m.error else (m.note or "–")
    return f"{fmt_ms(m.ms)} ({100.0 * floor_ms / m.ms:.0f}%)"


def speedup_cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}x"


def match_cell(row: Row) -> str:
    if row.check_error:
        return "NO: " + short(row.check_error, 50)
    if row.diff_vs_torch is None:
        return "–"
    nearer = "; nearer float64" if row.nearer_exact and row.diff_vs_torch > TOLERANCE else ""
    return ("yes" if row.matches_torch() else "NO") + f" ({row.diff_vs_torch:.1e}{nearer})"


def row_label(row: Row) -> str:
    return f"{row.title} [{LAYOUT_NAMES[row.layout]}] {row.direction}"


TABLE_COLUMNS = [
    "case", "layout", "pass", "floor ms", "tessera ms (% floor)", "PyTorch ms (% floor)", "OpenCV ms (% floor)",
    "speed-up vs PyTorch", "speed-up vs OpenCV", f">= {TARGET_VS_TORCH:g}x PyTorch",
    f">= {TARGET_VS_OPENCV:g}x OpenCV", f">= {100 * TARGET_FLOOR:.0f}% floor", "= PyTorch (max rel. diff)",
]


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "|".join("---" for _ in TABLE_COLUMNS) + "|"]
    for row in rows:
        tg = row.targets()
        cells = [
            row.title, LAYOUT_NAMES[row.layout],
            "forward" if row.direction == "fwd" else "backward", fmt_ms(row.floor_ms),
            *(time_cell(row.times[k], row.floor_ms) for k in IMPLS),
            speedup_cell(row.speedup("torch")), speedup_cell(row.speedup("opencv")),
            tg["vs_torch"] or "–", tg["vs_opencv"] or "–", tg["floor"] or "–", match_cell(row),
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def row_line(row: Row) -> str:
    """One printed line per (case, layout, direction)."""
    def t(k):
        m = row.times[k]
        if m.ms is None:
            return f"{IMPL_NAMES[k]} " + ("ERROR" if m.error else "-")
        return f"{IMPL_NAMES[k]} {fmt_ms(m.ms)} ms ({100 * row.floor_ms / m.ms:.0f}%)"
    tg = row.targets()
    verdicts = ", ".join(f"{name} {tg[k]}" for k, name in
                         (("vs_torch", f">={TARGET_VS_TORCH:g}x PyTorch"), ("vs_opencv", f">={TARGET_VS_OPENCV:g}x OpenCV"),
                          ("floor", f">={100 * TARGET_FLOOR:.0f}% floor")) if tg[k])
    return (f"  {LAYOUT_NAMES[row.layout]:13s} {row.direction}  floor {fmt_ms(row.floor_ms)} ms | "
            + " | ".join(t(k) for k in IMPLS)
            + " | " + ", ".join(f"{speedup_cell(row.speedup(k))} vs {IMPL_NAMES[k]}" for k in ("torch", "opencv")
                                if row.speedup(k) is not None)
            + f" | = PyTorch: {match_cell(row)} | {verdicts}")


def short_label(row: Row) -> str:
    return f"{row.case} {'CL' if row.layout == 'channels_last' else 'NCHW'} {row.direction}"


def summary_lines(rows: list[Row]) -> list[str]:
    """Per target: how many rows pass, naming the fewer of the passing and the missing rows."""
    out = []
    for key, name in (("vs_torch", f"tessera >= {TARGET_VS_TORCH:g}x PyTorch (forward and backward, same layout)"),
                      ("vs_opencv", f"tessera >= {TARGET_VS_OPENCV:g}x OpenCV (forward, channels-last vs HWC)"),
                      ("floor", f"tessera >= {100 * TARGET_FLOOR:.0f}% of the memory floor")):
        verdicts = [(r, r.targets()[key]) for r in rows if r.targets()[key]]
        passed = [r for r, v in verdicts if v == "PASS"]
        missed = [r for r, v in verdicts if v == "MISS"]
        line = f"- {name}: {len(passed)} of {len(verdicts)} rows pass"
        if passed and missed:
            which, listed = ("passed", passed) if len(passed) <= len(missed) else ("missed", missed)
            line += f"; {which}: " + ", ".join(short_label(r) for r in listed)
        out.append(line)
    checked = [r for r in rows if r.matches_torch() is not None]
    bad = [r for r in checked if not r.matches_torch()]
    line = (f"- tessera = PyTorch within {TOLERANCE:g} x max(1, |PyTorch|) or nearer float64: "
            f"{len(checked) - len(bad)} of {len(checked)} rows")
    if bad:
        line += "; not: " + ", ".join(f"{short_label(r)} ({match_cell(r)})" for r in bad)
    out.append(line)
    return out


RESULTS_NOTE = {
    False: "each call allocates its result, as F.interpolate and cv2.resize do by default",
    True: "each call writes into an array made before the timing, in the layout the library gives its results "
          "(tessera: out=; PyTorch: the out= overloads of the kernels F.interpolate and autograd call, "
          "e.g. aten.upsample_bilinear2d.out and aten.upsample_bilinear2d_backward.grad_input; OpenCV: dst=), "
          "checked against a new result (tessera: bitwise; PyTorch: within the tolerance below)",
}


def header_lines(meta: dict) -> list[str]:
    bw = meta["memcpy"]
    alloc = meta.get("alloc_copy_gbs", {})
    alloc_text = ", ".join(f"{k} {v:.1f} GB/s" for k, v in alloc.items())
    return [
        "# tessera CPU benchmark: interpolate forward and backward",
        "",
        f"- Date: {meta['date']}",
        f"- CPU: {meta['cpu']}; tessera's kernels: {meta.get('cpu_target', '?')}",
        f"- Cores: {meta['cores']}; threads used by every library: {meta['threads']}",
        f"- Load average before / after the run: {meta.get('loadavg_start', '?')} / {meta.get('loadavg_end', '?')}",
        f"- Versions: {meta['versions']}",
        f"- memcpy bandwidth (floor): {bw['gbs']:.1f} GB/s — {bw['note']}",
        f"- Results: {RESULTS_NOTE[bool(meta.get('preallocated'))]}",
        f"- Copy into a newly allocated array (page faults included; "
        f"transparent huge pages: {meta.get('thp', '?')}): {alloc_text}",
        f"- Timing: wall clock around each call, median of {meta['repeats']} after {meta['warmup']} warm-up "
        f"call(s); the calls are interleaved (each repeat runs tessera, PyTorch, then OpenCV), "
        f"{meta.get('gap_ms', 0):g} ms pause before each"
        + (f"; each timed call the last of {meta['burst']} back to back" if meta.get("burst", 1) > 1 else ""),
        "- Cells `t (p%)`: median time t in ms; p = floor / t, where floor = (input bytes + output bytes) / memcpy "
        "bandwidth (forward and backward have the same floor); p can pass 100% where the work is mostly reading "
        "(area /4), as reading costs less than copying.",
        "- Inputs: float32, random normal. tessera gets NumPy arrays (channels-last: an NHWC array viewed as NCHW "
        "with .transpose(0, 3, 1, 2)), PyTorch tensors sharing the same memory "
        "(channels-last: torch.channels_last), OpenCV the same values as one HWC image in both layouts' rows.",
        "- Backward: tessera.interpolate_backward; PyTorch torch.autograd.grad(y, x, g) on a graph built outside "
        "the timed region; OpenCV has none.",
        f"- Speed-up = other time / tessera time. Targets: >= {TARGET_VS_TORCH:g}x PyTorch (forward and backward, "
        f"same layout), >= {TARGET_VS_OPENCV:g}x OpenCV (forward, channels-last row only), "
        f">= {100 * TARGET_FLOOR:.0f}% of the floor (tessera).",
        f"- = PyTorch: max |tessera - PyTorch| / max(1, |PyTorch|) over the result, 'yes' when <= {TOLERANCE:g}, "
        "or when tessera's max abs. error against PyTorch run in float64 is no larger than PyTorch float32's "
        "('nearer float64'; a sanity check; the test suite is the real one).",
    ]


def render_report(meta: dict, rows: list[Row]) -> str:
    parts = header_lines(meta)
    parts += ["", "Summary:"] + summary_lines(rows)
    if meta.get("notes"):
        parts += ["", "Notes:"] + [f"- {n}" for n in meta["notes"]]
    parts += ["", markdown_table(rows), ""]
    return "\n".join(parts)


def rows_to_json(meta: dict, rows: list[Row]) -> dict:
    out = []
    for r in rows:
        d = {
            "case": r.case, "title": r.title, "layout": r.layout, "direction": r.direction,
            "input_shape": list(r.input_shape), "output_shape": list(r.output_shape),
            "input_bytes": r.input_bytes, "output_bytes": r.output_bytes, "floor_ms": r.floor_ms,
            "max_rel_diff_vs_torch": r.diff_vs_torch, "matches_torch": r.matches_torch(),
            "check_error": r.check_error, "targets": r.targets(),
            "speedup_vs_torch": r.speedup("torch"), "speedup_vs_opencv": r.speedup("opencv"),
        }
        for k in IMPLS:
            m = r.times[k]
            d[k] = {"ms": m.ms, "samples_ms": m.samples, "error": m.error, "note": m.note,
                    "floor_share": r.floor_share(k)}
        out.append(d)
    return {"meta": meta, "rows": out}


# ---------------------------------------------------------------------------------------------
# machine
# ---------------------------------------------------------------------------------------------


def cpu_model() -> str:
    model, flags = None, ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model is None:
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = value
    except OSError:
        pass
    model = model or platform.processor() or platform.machine()
    isa = [name for name, flag in (("AVX-512", " avx512f"), ("AVX2", " avx2")) if flag + " " in flags + " "]
    return model + (f" ({isa[0]})" if isa else "")


def core_count() -> str:
    total = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = total
    return f"{total} logical CPUs" + (f", {usable} usable by this process" if usable != total else "")


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def thp_mode() -> str:
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            text = f.read()
        mode = text[text.index("[") + 1:text.index("]")]
    except (OSError, ValueError):
        return "unknown"
    torch_thp = os.environ.get("THP_MEM_ALLOC_ENABLE") == "1"
    return f"{mode}; NumPy asks for them, PyTorch " + ("does too (THP_MEM_ALLOC_ENABLE=1)" if torch_thp else
                                                        "does not (THP_MEM_ALLOC_ENABLE is not 1)")


def tessera_build() -> str:
    """When the compiled core was built (an editable install keeps the last build's module)."""
    try:
        from tessera import _core

        stamp = datetime.datetime.fromtimestamp(os.path.getmtime(_core.__file__)).astimezone()
        return f" (core module built {stamp.isoformat(timespec='minutes')})"
    except Exception:  # noqa: BLE001
        return ""


def median_seconds(fn, repeats: int) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def memcpy_bandwidth(threads: int, repeats: int) -> dict:
    """Bytes read + written per second by np.copyto of 256 MB float32, on 1 and on `threads` threads
    (NumPy releases the GIL during the copy); the floor uses the higher of the two."""
    import numpy as np

    n = 1 << 26  # 256 MiB of float32
    src = np.random.default_rng(0).standard_normal(n, dtype=np.float32)
    dst = np.empty_like(src)
    dst.fill(0)  # touch every page
    reps = max(repeats, 10)
    one = 8 * n / median_seconds(lambda: np.copyto(dst, src), reps) / 1e9
    result = {"one_thread_gbs": one}
    if threads > 1:
        bounds = [n * i // threads for i in range(threads + 1)]
        chunks = [(dst[a:b], src[a:b]) for a, b in zip(bounds, bounds[1:])]
        with ThreadPoolExecutor(threads) as pool:
            def parallel():
                list(pool.map(lambda c: np.copyto(*c), chunks))
            many = 8 * n / median_seconds(parallel, reps) / 1e9
        result["threads_gbs"] = many
    best = max(result.values())
    parts = [f"np.copyto of 256 MiB float32, bytes read + written / time, median of {reps}: "
             f"{one:.1f} GB/s on 1 thread"]
    if threads > 1:
        parts.append(f"{result['threads_gbs']:.1f} GB/s on {threads} threads (one chunk each)")
    result["gbs"] = best
    result["note"] = ", ".join(parts) + "; the floor uses the higher"
    del src, dst
    return result


def alloc_copy_rates(repeats: int) -> dict:
    """Copy of 256 MiB into a new array (allocation and page faults included): NumPy's .copy() and
    PyTorch's clone(), the cost of a fresh large result. tessera's results are NumPy arrays here, and
    so are OpenCV's (its Python binding returns NumPy arrays)."""
    import numpy as np
    import torch

    n = 1 << 26
    src = np.random.default_rng(1).standard_normal(n, dtype=np.float32)
    rates = {}
    reps = max(3, min(repeats, 7))
    rates["NumPy"] = 8 * n / median_seconds(lambda: src.copy(), reps) / 1e9
    t = torch.from_numpy(src)
    rates["PyTorch"] = 8 * n / median_seconds(lambda: t.clone(), reps) / 1e9
    return rates


# ---------------------------------------------------------------------------------------------
# OpenCV
# ---------------------------------------------------------------------------------------------


class OpenCV:
    def __init__(self, threads: int, disabled: bool):
        self.cv2 = None
        self.max_channels = None
        if disabled:
            self.status = "not run (--no-opencv)"
            return
        try:
            import cv2
        except Exception as error:  # noqa: BLE001
            self.status = f"not available ({describe_exception(error)}): pip install opencv-python-headless"
            return
        self.cv2 = cv2
        cv2.setNumThreads(threads)
        self.status = f"OpenCV {cv2.__version__}"
        self.max_channels = self._probe_channels()

    def _probe_channels(self) -> int:
        """The most channels cv2.resize takes in one HWC float32 array (CV_CN_MAX; 512 in OpenCV 4.x,
        128 with OpenCV 5.0)."""
        import numpy as np

        best = 1
        for c in (4, 16, 64, 128, 256, 512):
            try:
                self.cv2.resize(np.ones((4, 4, c), np.float32), (8, 8), interpolation=self.cv2.INTER_LINEAR)
                best = c
            except Exception:  # noqa: BLE001
                break
        return best

    def prepare(self, case: Case, hwc, out_hw, preallocated: bool):
        """(callable, note) resizing `hwc` (H, W, C) to out_hw with the case's interpolation; a C beyond
        what cv2.resize takes is split into contiguous channel groups (made here, outside the timing).
        preallocated: every call writes into the same destination arrays (dst=), made here."""
        import numpy as np

        cv2 = self.cv2
        interp = getattr(cv2, case.cv_interp)
        dsize = (int(out_hw[1]), int(out_hw[0]))  # (width, height)
        c = hwc.shape[2]
        group = min(c, self.max_channels)
        parts = [hwc] if c <= group else [np.ascontiguousarray(hwc[:, :, i:i + group]) for i in range(0, c, group)]
        dsts = [cv2.resize(p, dsize, interpolation=interp) if preallocated else None for p in parts]
        calls = [lambda p=p, d=d: cv2.resize(p, dsize, dst=d, interpolation=interp) for p, d in zip(parts, dsts)]
        if len(calls) == 1:
            return calls[0], ""
        note = (f"cv2.resize takes at most {group} channels here: {len(parts)} calls on contiguous "
                f"{group}-channel HWC arrays, their times summed (one timed region)")
        return (lambda: [call() for call in calls]), note


# ---------------------------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------------------------


def interleaved(fns: dict, repeats: int, warmup: int, gap_s: float, burst: int = 1) -> dict:
    """{name: Measure}: in each repeat every callable runs once, in the given order; a callable that
    raises is dropped (its error recorded). Results are dropped as soon as each call returns. A pause
    of gap_s before each call lets the previous library's worker threads stop spinning first. With
    burst > 1 each timed call is the last of `burst` calls back to back (the others untimed): the
    steady state of repeated calls, where a first call after an idle moment can start with its worker
    threads not yet running (on this 2-core virtual machine, after 20 ms idle, a 2-thread call took
    the time of a 1-thread one)."""
    out = {k: Measure() for k in fns}
    live = dict(fns)

    def call(k):
        if gap_s > 0:
            time.sleep(gap_s)
        try:
            for _ in range(burst - 1):
                live[k]()
            t0 = time.perf_counter()
            r = live[k]()
            dt = time.perf_counter() - t0
            del r
            return dt
        except Exception as error:  # noqa: BLE001 - reported in the table
            out[k].error = describe_exception(error)
            del live[k]
            return None

    for _ in range(warmup):
        for k in list(live):
            call(k)
    for _ in range(repeats):
        for k in list(live):
            dt = call(k)
            if dt is not None:
                out[k].samples.append(1e3 * dt)
    for k, m in out.items():
        if m.samples and m.error is None:
            m.ms = statistics.median(m.samples)
    return out


def torch_into(kw: dict, x_t, g_t, size: list):
    """(forward, backward): PyTorch's kernels for the case's mode through their out= overloads (the ones
    F.interpolate and autograd reach), each writing into a result of its functional overload made here
    (so in the layout PyTorch itself gives). `size`: the output's spatial size. Scales are passed as
    F.interpolate passes a scale_factor."""
    import torch

    aten = torch.ops.aten
    in_size, mode = list(x_t.shape), kw["mode"]
    scales = [float(kw["scale_factor"])] * 2
    if mode == "area":
        y, grad = aten.adaptive_avg_pool2d(x_t, size), aten._adaptive_avg_pool2d_backward(g_t, x_t)
        return (lambda: aten.adaptive_avg_pool2d.out(x_t, size, out=y),
                lambda: aten._adaptive_avg_pool2d_backward.out(g_t, x_t, out=grad))
    if mode == "nearest":
        y = aten.upsample_nearest2d(x_t, size, *scales)
        grad = aten.upsample_nearest2d_backward(g_t, size, in_size, *scales)
        return (lambda: aten.upsample_nearest2d.out(x_t, size, *scales, out=y),
                lambda: aten.upsample_nearest2d_backward.grad_input(g_t, size, in_size, *scales, grad_input=grad))
    ops = {("bilinear", False): (aten.upsample_bilinear2d, aten.upsample_bilinear2d_backward),
           ("bilinear", True): (aten._upsample_bilinear2d_aa, aten._upsample_bilinear2d_aa_backward),
           ("bicubic", False): (aten.upsample_bicubic2d, aten.upsample_bicubic2d_backward)}
    forward, backward = ops[(mode, bool(kw.get("antialias", False)))]
    corners = bool(kw.get("align_corners", False))
    y = forward.default(x_t, size, corners, *scales)
    grad = backward.default(g_t, size, in_size, corners, *scales)
    return (lambda: forward.out(x_t, size, corners, *scales, out=y),
            lambda: backward.grad_input(g_t, size, in_size, corners, *scales, grad_input=grad))


def max_rel_diff(a, ref) -> float:
    import torch

    a, ref = torch.as_tensor(a), torch.as_tensor(ref)
    if tuple(a.shape) != tuple(ref.shape):
        raise ValueError(f"shape {tuple(a.shape)} against PyTorch's {tuple(ref.shape)}")
    return float(((a - ref).abs() / ref.abs().clamp_min(1.0)).max())


def describe_difference(a, ref) -> str:
    """For a result outside the tolerance: where the worst element is and how large the difference is
    against the result's scale (rounding differences of long sums stay near 1e-7 of max |PyTorch|)."""
    import torch

    a, ref = torch.as_tensor(a), torch.as_tensor(ref)
    diff = (a - ref).abs()
    rel = diff / ref.abs().clamp_min(1.0)
    i = int(rel.argmax())
    scale = float(ref.abs().max())
    return (f"max rel. diff {float(rel.reshape(-1)[i]):.1e} "
            f"(PyTorch {float(ref.reshape(-1)[i]):.6g}, tessera {float(a.reshape(-1)[i]):.6g}); "
            f"max |diff| / max |PyTorch| = {float(diff.max()) / max(scale, 1e-30):.1e}")


def is_channels_last_array(a) -> bool:
    """A NumPy (N, C, H, W) array whose memory is NHWC."""
    return a.transpose(0, 2, 3, 1).flags.c_contiguous


# ---------------------------------------------------------------------------------------------
# one case
# ---------------------------------------------------------------------------------------------


def run_case(case: Case, args, bandwidth_gbs: float, cv: OpenCV, notes: list) -> list[Row]:
    import numpy as np
    import torch
    import torch.nn.functional as F

    import tessera

    kw = case.kwargs
    n, c, h, w = case.shape
    out_shape = tuple(tessera.output_shape(case.shape, **kw))
    _, _, oh, ow = out_shape
    in_bytes, out_bytes = 4 * math.prod(case.shape), 4 * math.prod(out_shape)
    floor_ms = (in_bytes + out_bytes) / (bandwidth_gbs * 1e9) * 1e3

    rng = np.random.default_rng(zlib.crc32(case.key.encode()))
    x_nhwc = rng.standard_normal((n, h, w, c), dtype=np.float32)
    g_nhwc = rng.standard_normal((n, oh, ow, c), dtype=np.float32)

    cv_fn = None
    if cv.cv2 is not None:
        try:
            cv_fn, cv_note = cv.prepare(case, x_nhwc[0], (oh, ow), args.preallocated)
            if cv_note:
                notes.append(f"{case.title}, OpenCV: {cv_note}")
        except Exception as error:  # noqa: BLE001
            notes.append(f"{case.title}, OpenCV could not be set up: {describe_exception(error)}")
    if case.cv_note and cv.cv2 is not None:
        notes.append(f"{case.title}, OpenCV: {case.cv_note}")

    rows = []
    cv_compared = False
    for layout in args.layouts:
        if layout == "channels_last":
            x_np, g_np = x_nhwc.transpose(0, 3, 1, 2), g_nhwc.transpose(0, 3, 1, 2)
            x_t = torch.from_numpy(x_nhwc).permute(0, 3, 1, 2)
            g_t = torch.from_numpy(g_nhwc).permute(0, 3, 1, 2)
        else:
            x_np = np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2))
            g_np = np.ascontiguousarray(g_nhwc.transpose(0, 3, 1, 2))
            x_t, g_t = torch.from_numpy(x_np), torch.from_numpy(g_np)

        def new_row(direction):
            return Row(case.key, case.title, layout, direction, case.shape, out_shape, in_bytes, out_bytes, floor_ms)

        # forward
        fwd = new_row("fwd")
        fns = {"tessera": lambda: tessera.interpolate(x_np, **kw), "torch": lambda: F.interpolate(x_t, **kw)}
        if args.preallocated:  # destinations made here, in the layout each library gives its results
            y_mine, grad_mine = tessera.interpolate(x_np, **kw), tessera.interpolate_backward(g_np, case.shape, **kw)
            torch_fwd_into, torch_bwd_into = torch_into(kw, x_t, g_t, [oh, ow])
            fns = {"tessera": lambda: tessera.interpolate(x_np, **kw, out=y_mine), "torch": torch_fwd_into}
        if cv_fn is not None:
            fns["opencv"] = cv_fn
        fwd.times.update(interleaved(fns, args.repeats, args.warmup, args.gap_ms / 1e3, args.burst))
        if cv.cv2 is None:
            fwd.times["opencv"] = Measure(note="n/a")

        # backward (PyTorch: autograd on a graph built here, outside the timed region)
        bwd = new_row("bwd")
        bwd.times["opencv"] = Measure(note="n/a")
        xr = x_t.detach().requires_grad_(True)
        y_ref = None
        try:
            y_ref = F.interpolate(xr, **kw)
            torch_bwd = lambda: torch.autograd.grad(y_ref, xr, g_t, retain_graph=True)[0]  # noqa: E731
        except Exception as error:  # noqa: BLE001
            err = describe_exception(error)
            torch_bwd = None
        fns = {"tessera": lambda: tessera.interpolate_backward(g_np, case.shape, **kw)}
        if torch_bwd is not None:
            fns["torch"] = torch_bwd
        if args.preallocated:
            fns = {"tessera": lambda: tessera.interpolate_backward(g_np, case.shape, **kw, out=grad_mine),
                   "torch": torch_bwd_into}
        bwd.times.update(interleaved(fns, args.repeats, args.warmup, args.gap_ms / 1e3, args.burst))
        if torch_bwd is None:
            bwd.times["torch"] = Measure(error=err)

        # sanity: tessera against PyTorch on the same input, and the result's layout
        for row, direction in ((fwd, "fwd"), (bwd, "bwd")):
            if direction == "bwd" and torch_bwd is None:
                continue  # PyTorch's failure is in the table already
            try:
                if direction == "fwd":
                    mine = tessera.interpolate(x_np, **kw)
                    ref = y_ref.detach() if y_ref is not None else F.interpolate(x_t, **kw)
                else:
                    mine = tessera.interpolate_backward(g_np, case.shape, **kw)
                    ref = torch_bwd()
                if args.preallocated:
                    into_mine, into_torch = (y_mine, torch_fwd_into) if direction == "fwd" else (grad_mine, torch_bwd_into)
                    if not np.array_equal(into_mine, mine):
                        row.check_error = "tessera's result written with out= differs from a new result"
                    elif not max_rel_diff(into_torch(), ref) <= TOLERANCE:  # the same kernel, maybe another order
                        row.check_error = "PyTorch's result written with out= differs from F.interpolate's"
                row.diff_vs_torch = max_rel_diff(mine, ref)
                if not row.diff_vs_torch <= TOLERANCE:
                    text = describe_difference(mine, ref)
                    try:  # who is closer to the exact result: PyTorch in float64 as the judge
                        if direction == "fwd":
                            exact = F.interpolate(x_t.double(), **kw)
                        else:
                            xd = x_t.detach().double().requires_grad_(True)
                            exact = torch.autograd.grad(F.interpolate(xd, **kw), xd, g_t.double())[0]
                        err_t = float((torch.as_tensor(mine).double() - exact).abs().max())
                        err_p = float((ref.double() - exact).abs().max())
                        row.nearer_exact = err_t <= err_p
                        text += (f"; against PyTorch in float64 (max |.| {float(exact.abs().max()):.3g}): "
                                 f"tessera max abs. error {err_t:.1e}, PyTorch float32 {err_p:.1e}")
                        del exact
                    except Exception as error:  # noqa: BLE001
                        text += f"; float64 comparison failed: {describe_exception(error)}"
                    notes.append(f"{row_label(row)}: tessera against PyTorch {text}")
                if is_channels_last_array(mine) != (layout == "channels_last") and c > 1:
                    row.check_error = (f"the result is {'channels-last' if is_channels_last_array(mine) else 'NCHW'}"
                                       f" for a {LAYOUT_NAMES[layout]} input")
                if direction == "fwd" and cv_fn is not None and not cv_compared:
                    cv_compared = True
                    out_cv = cv_fn()
                    out_cv = np.concatenate(out_cv, axis=2) if isinstance(out_cv, list) else out_cv
                    d = max_rel_diff(out_cv, ref[0].permute(1, 2, 0))
                    notes.append(f"{case.title}: OpenCV {case.cv_interp} against PyTorch, max rel. diff {d:.1e}"
                                 + (" (a different filter)" if case.cv_note else ""))
                    del out_cv
                del mine, ref
            except Exception as error:  # noqa: BLE001
                row.check_error = f"comparison failed: {describe_exception(error)}"
        for row in (fwd, bwd):
            for k, m in row.times.items():
                if m.error:
                    notes.append(f"{row_label(row)}, {IMPL_NAMES[k]}: {m.error}")
        rows += [fwd, bwd]
        del xr, y_ref, torch_bwd, fns, x_t, g_t, x_np, g_np
        if args.preallocated:
            del y_mine, grad_mine, torch_fwd_into, torch_bwd_into
        gc.collect()
    return rows


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help="threads for tessera, PyTorch and OpenCV (default 2)")
    p.add_argument("--repeats", type=int, help="timed calls per program and row, median reported (default 7, --quick 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed calls before (default 1)")
    p.add_argument("--gap-ms", type=float, default=5.0,
                   help="pause before each timed call, so that the previous library's idle worker threads "
                        "(which spin for a while) do not compete with the next call (default 5)")
    p.add_argument("--burst", type=int, default=1,
                   help="calls back to back per timed call, the last one timed (default 1: each timed call "
                        "comes after the pause and the other libraries' calls)")
    p.add_argument("--quick", action="store_true",
                   help=f"3 repeats and the cases {', '.join(QUICK_CASES)} (unless --cases)")
    p.add_argument("--cases", help="comma-separated case keys, or 'all': " + ", ".join(c.key for c in CASES))
    p.add_argument("--layouts", default="nchw,channels_last",
                   help="comma-separated: nchw, channels_last (default both)")
    p.add_argument("--preallocated", action="store_true",
                   help="every call writes into an array made before the timing (tessera out=, PyTorch's "
                        "out= overloads of its kernels, OpenCV dst=), instead of allocating its result")
    p.add_argument("--no-opencv", action="store_true", help="do not time OpenCV")
    p.add_argument("--torch-default-alloc", action="store_true",
                   help="leave PyTorch's allocator as installed; by default THP_MEM_ALLOC_ENABLE=1 is set so "
                        "that PyTorch's large results get transparent huge pages as NumPy's (tessera's and "
                        "OpenCV's results here) do")
    p.add_argument("--out", help="write the Markdown report here, and the numbers to the same name with .json")
    p.add_argument("--list-cases", action="store_true", help="print the case keys and exit")
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 7
    if args.repeats < 1 or args.warmup < 0 or args.threads < 1 or args.gap_ms < 0 or args.burst < 1:
        p.error("--repeats, --threads and --burst must be >= 1, --warmup and --gap-ms >= 0")
    args.layouts = [s.strip().replace("-", "_") for s in args.layouts.split(",") if s.strip()]
    bad = [s for s in args.layouts if s not in LAYOUTS]
    if bad or not args.layouts:
        p.error(f"--layouts: expected nchw and/or channels_last, got {bad or args.layouts}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list_cases:
        for c in CASES:
            print(f"{c.key:18s} {c.title}")
        return 0
    cases = select_cases(args.cases, args.quick)
    if not args.torch_default_alloc:
        # PyTorch's CPU allocator then asks for transparent huge pages for large blocks, as NumPy does:
        # without it, page faults on a fresh result cost PyTorch several times what they cost NumPy
        os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    import numpy as np
    import torch

    import tessera

    started = time.perf_counter()
    load_start = loadavg()
    tessera.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    cv = OpenCV(args.threads, args.no_opencv)
    versions = (f"tessera {tessera.__version__}{tessera_build()}, PyTorch {torch.__version__}, {cv.status}, NumPy {np.__version__}, "
                f"Python {platform.python_version()}")
    print(f"{cpu_model()}; {core_count()}; {args.threads} threads", flush=True)
    print(versions, flush=True)
    memcpy = memcpy_bandwidth(args.threads, args.repeats)
    print(f"memcpy bandwidth {memcpy['gbs']:.1f} GB/s ({memcpy['note']})", flush=True)
    alloc = alloc_copy_rates(args.repeats)
    print("copy into a new array: " + ", ".join(f"{k} {v:.1f} GB/s" for k, v in alloc.items()), flush=True)
    meta = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(), "cpu_target": tessera._core.cpu_target(), "cores": core_count(), "threads": args.threads,
        "versions": versions,
        "memcpy": memcpy, "alloc_copy_gbs": alloc, "thp": thp_mode(), "loadavg_start": load_start,
        "preallocated": args.preallocated, "repeats": args.repeats, "warmup": args.warmup, "gap_ms": args.gap_ms, "burst": args.burst, "argv": sys.argv[1:], "notes": [],
    }

    rows: list[Row] = []
    for case in cases:
        print(f"== {case.title}  [{case.key}: {case.shape} -> "
              f"{tuple(tessera.output_shape(case.shape, **case.kwargs))}]", flush=True)
        t0 = time.perf_counter()
        case_notes: list[str] = []
        try:
            new_rows = run_case(case, args, memcpy["gbs"], cv, case_notes)
        except Exception as error:  # noqa: BLE001 - one broken case must not lose the others
            traceback.print_exc()
            case_notes.append(f"{case.title}: the case failed: {describe_exception(error)}")
            new_rows = []
        for row in new_rows:
            print(row_line(row), flush=True)
        for note in case_notes:
            print("  note: " + note, flush=True)
        print(f"  [{time.perf_counter() - t0:.1f} s]", flush=True)
        rows += new_rows
        meta["notes"] += case_notes
        gc.collect()

    meta["loadavg_end"] = loadavg()
    meta["elapsed_s"] = round(time.perf_counter() - started, 1)
    meta["notes"].append(f"benchmark wall time {meta['elapsed_s']} s")
    report = render_report(meta, rows)
    write_outputs(args.out, report, rows_to_json(meta, rows))
    print()
    print(report, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
