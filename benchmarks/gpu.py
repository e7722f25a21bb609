#!/usr/bin/env python3
"""GPU benchmark of tessera.interpolate against PyTorch and JAX, side by side in one run.

For each case: the forward and backward times of tessera, PyTorch (F.interpolate and its autograd
backward) and JAX (jax.image.resize, jitted, backward through jax.vjp), each against the memory
bandwidth floor (input bytes + output bytes at the measured device-to-device copy bandwidth); the
speed-ups of tessera; whether each backward gives the same bits twice; and the largest difference
between tessera and PyTorch.

    python3 benchmarks/gpu.py                       # the default cases, float32 NCHW
    python3 benchmarks/gpu.py --all                 # + channels-last and bfloat16 rows
    python3 benchmarks/gpu.py --quick --out results.md   # fewer repeats; also results.json
    python3 benchmarks/gpu.py --self-test           # table and files from made-up numbers, no GPU

The Markdown table is printed last. --out writes it (with the header and notes) and a JSON file of
every number next to it.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field

from report_files import write_outputs

# JAX must not grab most of the device at import, and must leave room for PyTorch and tessera.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
os.environ.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.30")

CHILD_TAG = "TORCH_CHILD_RESULT "
IMPLS = ("tessera", "torch", "jax")
IMPL_NAMES = {"tessera": "tessera", "torch": "PyTorch", "jax": "JAX"}


# ---------------------------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    mode: str
    shape: tuple
    kwargs: dict
    jax_method: str | None  # None: JAX has no such mode
    jax_note: str = ""  # why JAX is not run, when it is not
    torch_deterministic: bool = False
    torch_in_subprocess: bool = False  # PyTorch may corrupt the CUDA context here
    target_bwd_ms: float | None = None  # tessera's float32 NCHW backward target on an H100


CASES = [
    Case("bilinear-x2", "bilinear x2, 32x64x256x256", "bilinear", (32, 64, 256, 256),
         dict(scale_factor=2, align_corners=False), "linear"),
    Case("bicubic-x2", "bicubic x2, 32x64x256x256", "bicubic", (32, 64, 256, 256),
         dict(scale_factor=2, align_corners=False), "cubic"),
    Case("trilinear-x2", "trilinear x2, 4x32x32x128x128", "trilinear", (4, 32, 32, 128, 128),
         dict(scale_factor=2, align_corners=False), "linear"),
    Case("bilinear-x32", "bilinear x32 from 15x15, 8x256", "bilinear", (8, 256, 15, 15),
         dict(scale_factor=32, align_corners=False), "linear", target_bwd_ms=0.8),
    Case("bilinear-x32-huge", "bilinear x32 from 15x15, 64x256 (> 2^31 out)", "bilinear", (64, 256, 15, 15),
         dict(scale_factor=32, align_corners=False), "linear",
         jax_note="not run (needs ~30 GB)",
         torch_in_subprocess=True),
    Case("bicubic-aa-3.5", "bicubic antialias /3.5, 32x64x512x512", "bicubic", (32, 64, 512, 512),
         dict(scale_factor=1 / 3.5, antialias=True, align_corners=False), "cubic"),
    Case("area-4", "area /4, 32x64x512x512", "area", (32, 64, 512, 512), dict(scale_factor=0.25), None,
         jax_note="JAX has no area mode"),
    Case("bilinear-x2-det", "bilinear x2, PyTorch deterministic, 32x64x256x256", "bilinear", (32, 64, 256, 256),
         dict(scale_factor=2, align_corners=False), "linear", jax_note="see bilinear x2", torch_deterministic=True),
]


@dataclass(frozen=True)
class Variant:
    channels_last: bool
    dtype: str  # 'float32' or 'bfloat16'

    @property
    def suffix(self) -> str:
        parts = (["channels-last"] if self.channels_last else []) + (["bf16"] if self.dtype == "bfloat16" else [])
        return ", ".join(parts)


def variants_from_args(args) -> list[Variant]:
    if args.all:
        return [Variant(False, "float32"), Variant(True, "float32"), Variant(False, "bfloat16")]
    return [Variant(args.channels_last, "bfloat16" if args.bf16 else "float32")]


@dataclass
class Measure:
    ms: float | None = None
    n: int = 0  # timed repetitions
    reduced: bool = False  # fewer repetitions than asked for (a very slow call)
    error: str | None = None  # why there is no time
    note: str | None = None  # e.g. "not run (...)"


@dataclass
class ImplResult:
    fwd: Measure = field(default_factory=Measure)
    bwd: Measure = field(default_factory=Measure)
    bwd_differing: int | None = None  # elements that differ between two backward runs
    bwd_repro_error: str | None = None


@dataclass
class Row:
    case: str
    title: str
    layout: str
    dtype: str
    input_shape: tuple
    output_shape: tuple
    input_bytes: int
    output_bytes: int
    floor_ms: float
    results: dict = field(default_factory=lambda: {k: ImplResult() for k in IMPLS})
    fwd_err_vs_torch: float | None = None  # max |tessera - torch| / max(1, |torch|)
    bwd_err_vs_torch: float | None = None
    err_note: str = ""


# ---------------------------------------------------------------------------------------------
# formatting (no torch needed)
# ---------------------------------------------------------------------------------------------


def short_error(error: str | None, limit: int = 70) -> str:
    if not error:
        return ""
    line = " ".join(error.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def describe_exception(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    first = next((t for t in text if t.strip()), "")
    return f"{type(error).__name__}: {first}".strip()


def time_cell(m: Measure, floor_ms: float) -> str:
    if m.ms is None:
        if m.error:
            return "error: " + short_error(m.error)
        return m.note or "n/a"
    eff = 100.0 * floor_ms / m.ms if m.ms > 0 else float("nan")
    few = f" n={m.n}" if m.reduced else ""
    return f"{m.ms:.3f} ({eff:.0f}%){few}"


def speedup(base: Measure, other: Measure) -> str:
    if base.ms is None or other.ms is None or base.ms <= 0:
        return "–"
    return f"{other.ms / base.ms:.2f}x"


def repro_cell(r: ImplResult, total: int) -> str:
    if r.bwd_differing is None:
        return "error: " + short_error(r.bwd_repro_error, 40) if r.bwd_repro_error else "–"
    if r.bwd_differing == 0:
        return "yes"
    return f"no ({r.bwd_differing:,} of {total:,} differ)"


def err_cell(row: Row) -> str:
    def f(v):
        return "–" if v is None else f"{v:.1e}"
    if row.fwd_err_vs_torch is None and row.bwd_err_vs_torch is None:
        return "–"
    return f"{f(row.fwd_err_vs_torch)} / {f(row.bwd_err_vs_torch)}" + (f" ({row.err_note})" if row.err_note else "")


def row_label(row: Row) -> str:
    extra = []
    if row.layout == "channels_last":
        extra.append("channels-last")
    if row.dtype != "float32":
        extra.append(row.dtype)
    return row.title + (f" [{', '.join(extra)}]" if extra else "")


TABLE_COLUMNS = [
    "case", "floor ms", "tessera fwd", "PyTorch fwd", "JAX fwd", "tessera bwd", "PyTorch bwd", "JAX bwd",
    "fwd speed-up vs PyTorch / JAX", "bwd speed-up vs PyTorch / JAX", "PyTorch bwd reproducible",
    "tessera bwd reproducible", "max rel. diff vs PyTorch fwd / bwd",
]


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "|".join("---" for _ in TABLE_COLUMNS) + "|"]
    for row in rows:
        t, p, j = (row.results[k] for k in IMPLS)
        n_in = math.prod(row.input_shape)
        cells = [
            row_label(row), f"{row.floor_ms:.3f}",
            time_cell(t.fwd, row.floor_ms), time_cell(p.fwd, row.floor_ms), time_cell(j.fwd, row.floor_ms),
            time_cell(t.bwd, row.floor_ms), time_cell(p.bwd, row.floor_ms), time_cell(j.bwd, row.floor_ms),
            f"{speedup(t.fwd, p.fwd)} / {speedup(t.fwd, j.fwd)}",
            f"{speedup(t.bwd, p.bwd)} / {speedup(t.bwd, j.bwd)}",
            repro_cell(p, n_in), repro_cell(t, n_in), err_cell(row),
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def notes_for(rows: list[Row]) -> list[str]:
    """Full error messages (the table shows them shortened)."""
    notes = []
    for row in rows:
        for k in IMPLS:
            r = row.results[k]
            for direction, m in (("forward", r.fwd), ("backward", r.bwd)):
                if m.error:
                    notes.append(f"- {row_label(row)}, {IMPL_NAMES[k]} {direction}: {m.error}")
            if r.bwd_repro_error and not r.bwd.error:
                notes.append(f"- {row_label(row)}, {IMPL_NAMES[k]} backward reproducibility check: {r.bwd_repro_error}")
    return notes


def header_lines(meta: dict) -> list[str]:
    bw = meta.get("copy_bandwidth_gbs")
    lines = [
        "# tessera GPU benchmark: interpolate forward and backward",
        "",
        f"- GPU: {meta.get('gpu', '?')}",
        f"- Date: {meta.get('date', '?')}",
        f"- Device-to-device copy bandwidth: {bw:,.0f} GB/s ({meta.get('copy_note', '')})" if bw else
        "- Device-to-device copy bandwidth: not measured",
        f"- Versions: {meta.get('versions', '?')}",
        f"- JAX: {meta.get('jax_status', '?')}",
        f"- Timing: {meta.get('timing', '?')}",
        "- Cells `t (p%)`: median time t in ms; p = floor / t, where floor = (input bytes + output bytes) / copy "
        "bandwidth (100% = as fast as copying those bytes once; the floor is the same for forward and backward). "
        "`n=k` marks a cell timed only k times because one call took seconds.",
        "- Backward = gradient with respect to the input for a random grad_output: tessera.interpolate_backward; "
        "PyTorch torch.autograd.grad on a graph built outside the timed region; JAX jax.vjp under jax.jit.",
        "- Speed-up = other time / tessera time. Reproducible = the backward run twice gives the same bits "
        "(otherwise the number of differing elements of grad_input).",
        "- max rel. diff = max |tessera - PyTorch| / max(1, |PyTorch|) on the same input.",
        "- JAX's 'cubic' is Keys' cubic with A = -0.5 where PyTorch's bicubic (without antialias) uses A = -0.75: "
        "the same amount of work, other weights; JAX resizes channels-last rows as NHWC arrays.",
    ]
    return lines


def render_report(meta: dict, rows: list[Row]) -> str:
    parts = header_lines(meta)
    notes = notes_for(rows) + [f"- {n}" for n in meta.get("notes", [])]
    if notes:
        parts += ["", "Notes:"] + notes
    parts += ["", markdown_table(rows), ""]
    return "\n".join(parts)


def rows_to_json(meta: dict, rows: list[Row]) -> dict:
    def measure(m: Measure):
        return {"ms": m.ms, "repeats": m.n, "error": m.error, "note": m.note}

    out_rows = []
    for row in rows:
        d = {
            "case": row.case, "title": row.title, "layout": row.layout, "dtype": row.dtype,
            "input_shape": list(row.input_shape), "output_shape": list(row.output_shape),
            "input_bytes": row.input_bytes, "output_bytes": row.output_bytes, "floor_ms": row.floor_ms,
            "fwd_max_rel_diff_vs_torch": row.fwd_err_vs_torch, "bwd_max_rel_diff_vs_torch": row.bwd_err_vs_torch,
            "diff_note": row.err_note,
        }
        for k in IMPLS:
            r = row.results[k]
            d[k] = {
                "fwd": measure(r.fwd), "bwd": measure(r.bwd),
                "fwd_pct_of_floor": None if r.fwd.ms is None else 100.0 * row.floor_ms / r.fwd.ms,
                "bwd_pct_of_floor": None if r.bwd.ms is None else 100.0 * row.floor_ms / r.bwd.ms,
                "bwd_differing_elements": r.bwd_differing, "bwd_repro_error": r.bwd_repro_error,
            }
        t = row.results["tessera"]
        for k in ("torch", "jax"):
            o = row.results[k]
            d[f"speedup_fwd_vs_{k}"] = (o.fwd.ms / t.fwd.ms) if (o.fwd.ms and t.fwd.ms) else None
            d[f"speedup_bwd_vs_{k}"] = (o.bwd.ms / t.bwd.ms) if (o.bwd.ms and t.bwd.ms) else None
        out_rows.append(d)
    return {"meta": meta, "rows": out_rows}


def row_summary(row: Row) -> str:
    def ms(m: Measure):
        return f"{m.ms:.3f}" if m.ms is not None else ("ERR" if m.error else "-")
    t, p, j = (row.results[k] for k in IMPLS)
    return (f"  fwd ms: tessera {ms(t.fwd)}  PyTorch {ms(p.fwd)}  JAX {ms(j.fwd)} | "
            f"bwd ms: tessera {ms(t.bwd)}  PyTorch {ms(p.bwd)}  JAX {ms(j.bwd)} | floor {row.floor_ms:.3f} | "
            f"repro PyTorch {repro_cell(p, math.prod(row.input_shape))}, tessera {repro_cell(t, math.prod(row.input_shape))}"
            f" | diff {err_cell(row)}")


# ---------------------------------------------------------------------------------------------
# timing (torch)
# ---------------------------------------------------------------------------------------------


def sync():
    import torch

    torch.cuda.synchronize()


def time_cuda(fn, repeats: int, warmup: int) -> tuple[float, int]:
    """Median ms of fn() between CUDA events on the current stream, after warm-up calls."""
    import torch

    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    first = time.perf_counter() - t0
    if first > 2.0:  # a very slow call: keep the run short
        repeats = min(repeats, 5)
        warmup = 0
    elif first > 0.3:
        warmup = min(warmup, 1)
    for _ in range(max(0, warmup - 1)):
        fn()
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(repeats)]
    sync()
    for start, end in events:
        start.record()
        fn()
        end.record()
    sync()
    return statistics.median(s.elapsed_time(e) for s, e in events), repeats


def measure(fn, repeats, warmup) -> Measure:
    import torch

    try:
        ms, n = time_cuda(fn, repeats, warmup)
        return Measure(ms=ms, n=n, reduced=n < repeats)
    except Exception as error:  # noqa: BLE001 - every failure is reported in the table
        if isinstance(error, torch.cuda.OutOfMemoryError):
            free_memory()
        return Measure(error=describe_exception(error))


def bit_differences(a, b) -> int:
    import torch

    as_int = {2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
    total = 0
    # chunks along dim 0 keep the temporary small
    step = max(1, (1 << 27) // max(1, a[0].numel()))
    for i in range(0, a.shape[0], step):
        total += int((a[i:i + step].view(as_int) != b[i:i + step].view(as_int)).sum().item())
    return total


def max_rel_diff(a, b) -> float:
    worst = 0.0
    step = max(1, (1 << 26) // max(1, a[0].numel()))
    for i in range(0, a.shape[0], step):
        aa, bb = a[i:i + step].float(), b[i:i + step].float()
        worst = max(worst, ((aa - bb).abs() / bb.abs().clamp_min(1.0)).max().item())
    return worst


def free_memory():
    import torch

    gc.collect()
    torch.cuda.synchronize()
    torch.cuda.empty_cache()


def torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float64": torch.float64}[name]


def memory_format(ndim: int, channels_last: bool):
    import torch

    if not channels_last:
        return torch.contiguous_format
    return torch.channels_last if ndim == 4 else torch.channels_last_3d


def random_tensor(shape, dtype, channels_last: bool, seed: int):
    """Random normal values on the device (never zeros), in the requested memory format."""
    import torch

    t = torch.empty(shape, dtype=dtype, device="cuda", memory_format=memory_format(len(shape), channels_last))
    t.normal_(generator=torch.Generator("cuda").manual_seed(seed))
    return t


class deterministic_algorithms:
    def __init__(self, on: bool):
        self.on = on

    def __enter__(self):
        import torch

        self.previous = torch.are_deterministic_algorithms_enabled()
        if self.on:
            torch.use_deterministic_algorithms(True)

    def __exit__(self, *exc):
        import torch

        torch.use_deterministic_algorithms(self.previous)
        return False


def measure_torch(case: Case, variant: Variant, repeats: int, warmup: int, x=None, g=None,
                  progress=lambda out: None) -> dict:
    """PyTorch's forward/backward times and reproducibility; also used by the subprocess, which passes
    `progress` to report what it has after each stage (in case a later stage kills the process)."""
    import torch
    import torch.nn.functional as F

    out: dict = {}
    dtype = torch_dtype(variant.dtype)
    kw = dict(case.kwargs, mode=case.mode)
    if x is None:
        x = random_tensor(case.shape, dtype, variant.channels_last, 1)
    with deterministic_algorithms(case.torch_deterministic):
        m = measure(lambda: F.interpolate(x, **kw), repeats, warmup)
        out["fwd"] = m
        progress(out)
        out_shape = None
        if m.ms is not None and case.torch_in_subprocess:
            # a cheap check of the values at the far end of the output
            try:
                y_last = F.interpolate(x[-1:], **kw)
                y = F.interpolate(x, **kw)
                out_shape = tuple(y.shape)
                out["fwd_last_batch_diff"] = max_rel_diff(y[-1:], y_last)
                del y, y_last
            except Exception as error:  # noqa: BLE001
                out["fwd_check_error"] = describe_exception(error)
            free_memory()
            progress(out)
        try:
            xr = x.detach().clone().requires_grad_(True)
            y = F.interpolate(xr, **kw)
            out_shape = tuple(y.shape)
            if g is None:
                g = random_tensor(y.shape, dtype, variant.channels_last, 2)
            bwd = lambda: torch.autograd.grad(y, xr, g, retain_graph=True)[0]  # noqa: E731
            out["bwd"] = measure(bwd, repeats, warmup)
            progress(out)
            if out["bwd"].ms is not None:
                a = bwd()
                b = bwd()
                out["bwd_differing"] = bit_differences(a, b)
                if case.torch_in_subprocess:
                    xl = x[-1:].detach().clone().requires_grad_(True)
                    (gl,) = torch.autograd.grad(F.interpolate(xl, **kw), xl, g[-1:])
                    out["bwd_last_batch_diff"] = max_rel_diff(a[-1:], gl)
                del a, b
        except Exception as error:  # noqa: BLE001
            if "bwd" in out:
                out["bwd_repro_error"] = describe_exception(error)
            else:
                out["bwd"] = Measure(error=describe_exception(error))
                if case.torch_in_subprocess and case.mode == "bilinear" and not case.kwargs.get("antialias"):
                    # the forward failed: time PyTorch's backward kernel on its own
                    fallback = aten_bilinear_backward(case, variant, repeats, warmup, g)
                    if fallback is not None:
                        out["bwd"], out["bwd_note"] = fallback
        out["output_shape"] = out_shape
    progress(out)
    return out


def aten_bilinear_backward(case: Case, variant: Variant, repeats: int, warmup: int, g=None):
    """(Measure, note) for torch.ops.aten.upsample_bilinear2d_backward alone, or None when it cannot run."""
    import torch

    import tessera

    kw = dict(case.kwargs, mode=case.mode)
    out_shape = tuple(tessera.output_shape(case.shape, **kw))
    scale = case.kwargs.get("scale_factor")
    try:
        if g is None:
            g = random_tensor(out_shape, torch_dtype(variant.dtype), variant.channels_last, 2)

        def bwd():
            return torch.ops.aten.upsample_bilinear2d_backward(
                g, list(out_shape[2:]), list(case.shape), bool(case.kwargs.get("align_corners", False)),
                None if scale is None else float(scale), None if scale is None else float(scale))
    except Exception as error:  # noqa: BLE001
        return Measure(error=describe_exception(error)), "aten.upsample_bilinear2d_backward could not be set up"
    m = measure(bwd, repeats, warmup)
    return m, "backward timed as torch.ops.aten.upsample_bilinear2d_backward (the autograd forward failed)"


# ---------------------------------------------------------------------------------------------
# JAX
# ---------------------------------------------------------------------------------------------


class Jax:
    """jax.image.resize forward and backward, jitted, timed by the wall clock."""

    def __init__(self):
        self.status = "not loaded"
        self.jax = None
        try:
            import jax  # noqa: F401
            import jax.numpy  # noqa: F401
        except Exception as error:  # noqa: BLE001
            self.status = f"not available ({describe_exception(error)}); JAX columns empty"
            return
        try:
            backend = jax.default_backend()
            devices = jax.devices()
        except Exception as error:  # noqa: BLE001
            self.status = f"unusable ({describe_exception(error)}); JAX columns empty"
            return
        if backend not in ("gpu", "cuda"):
            self.status = f"JAX {jax.__version__} has no GPU backend (default backend {backend!r}); JAX columns empty"
            return
        self.jax = jax
        self.status = (f"JAX {jax.__version__} on {devices[0].device_kind} "
                       f"(XLA_PYTHON_CLIENT_MEM_FRACTION={os.environ.get('XLA_PYTHON_CLIENT_MEM_FRACTION')})")

    @property
    def ok(self) -> bool:
        return self.jax is not None

    def wall_time(self, fn, repeats: int, warmup: int) -> tuple[float, int]:
        """Median ms per call; each sample times enough back-to-back calls to last >= 2 ms and ends
        with block_until_ready, so dispatch latency is amortised as it is for queued CUDA work."""
        for _ in range(max(1, warmup)):
            fn().block_until_ready()
        t0 = time.perf_counter()
        fn().block_until_ready()
        one = time.perf_counter() - t0
        if one > 2.0:
            repeats = min(repeats, 5)
        inner = max(1, min(50, int(2e-3 / max(one, 1e-6))))
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = None
            for _ in range(inner):
                out = fn()
            out.block_until_ready()
            samples.append((time.perf_counter() - t0) / inner)
            del out
        return 1e3 * statistics.median(samples), repeats

    def run(self, case: Case, variant: Variant, out_shape: tuple, repeats: int, warmup: int) -> ImplResult:
        jax = self.jax
        jnp = jax.numpy
        res = ImplResult()
        nd = len(case.shape)
        if variant.channels_last:  # N, C, *S -> N, *S, C
            perm = (0, *range(2, nd), 1)
            in_shape = tuple(case.shape[i] for i in perm)
            out_j = tuple(out_shape[i] for i in perm)
        else:
            in_shape, out_j = tuple(case.shape), tuple(out_shape)
        dtype = jnp.bfloat16 if variant.dtype == "bfloat16" else jnp.float32
        antialias = bool(case.kwargs.get("antialias", False))
        method = case.jax_method

        def f(a):
            return jax.image.resize(a, out_j, method=method, antialias=antialias)

        x = g = None
        try:
            kx, kg = jax.random.split(jax.random.PRNGKey(0))
            x = jax.random.normal(kx, in_shape, dtype=dtype)
            g = jax.random.normal(kg, out_j, dtype=dtype)
            fwd = jax.jit(f)
            bwd = jax.jit(lambda a, b: jax.vjp(f, a)[1](b)[0])
            try:
                ms, n = self.wall_time(lambda: fwd(x), repeats, warmup)
                res.fwd = Measure(ms=ms, n=n, reduced=n < repeats)
            except Exception as error:  # noqa: BLE001
                res.fwd = Measure(error=describe_exception(error))
            try:
                ms, n = self.wall_time(lambda: bwd(x, g), repeats, warmup)
                res.bwd = Measure(ms=ms, n=n, reduced=n < repeats)
                a, b = bwd(x, g), bwd(x, g)
                int_t = jnp.int16 if variant.dtype == "bfloat16" else jnp.int32
                res.bwd_differing = int(jnp.sum(jax.lax.bitcast_convert_type(a, int_t)
                                                != jax.lax.bitcast_convert_type(b, int_t)))
                del a, b
            except Exception as error:  # noqa: BLE001
                if res.bwd.ms is None:
                    res.bwd = Measure(error=describe_exception(error))
                else:
                    res.bwd_repro_error = describe_exception(error)
        except Exception as error:  # noqa: BLE001
            res.fwd = Measure(error=describe_exception(error))
        finally:
            for arr in (x, g):
                if arr is not None:
                    try:
                        arr.delete()
                    except Exception:  # noqa: BLE001
                        pass
            try:
                jax.clear_caches()
            except Exception:  # noqa: BLE001
                pass
        return res


# ---------------------------------------------------------------------------------------------
# one row
# ---------------------------------------------------------------------------------------------


def copy_bandwidth(repeats: int) -> tuple[float, str]:
    """Bytes read + written per second by a large device-to-device copy_."""
    import torch

    n = 1 << 29  # 2 GiB of float32
    src = torch.empty(n, device="cuda").normal_()
    dst = torch.empty_like(src)
    ms, _ = time_cuda(lambda: dst.copy_(src), max(repeats, 10), 3)
    del src, dst
    free_memory()
    return 2 * 4 * n / (ms * 1e-3) / 1e9, f"torch copy_ of 2 GiB float32, read + written, median {ms:.3f} ms"


def run_torch_in_subprocess(case: Case, variant: Variant, repeats: int, warmup: int, timeout: int) -> dict:
    spec = json.dumps({"case": case.key, "channels_last": variant.channels_last, "dtype": variant.dtype,
                       "repeats": repeats, "warmup": warmup})
    cmd = [sys.executable, os.path.abspath(__file__), "--torch-child", spec]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"the PyTorch subprocess ran past {timeout} s"}
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith(CHILD_TAG):
            result = json.loads(line[len(CHILD_TAG):])
    tail = [t.strip() for t in (proc.stderr or "").strip().splitlines() if t.strip()]
    errors = [t for t in tail if "Error" in t or "error" in t or "Aborted" in t or "fault" in t]
    tail = (errors or tail)[-1:]
    if result is None:
        why = tail[-1] if tail else "no output"
        return {"error": f"PyTorch process died (exit code {proc.returncode}): {why}"}
    if proc.returncode != 0:
        why = f"PyTorch process died (exit code {proc.returncode}): {tail[-1] if tail else 'no message'}"
        result["crash"] = why
        result["error"] = why
    return result


def torch_child_main(spec_json: str) -> int:
    """Runs PyTorch's side of one case and prints the result as one JSON line after each stage."""
    spec = json.loads(spec_json)
    case = next(c for c in CASES if c.key == spec["case"])
    variant = Variant(spec["channels_last"], spec["dtype"])
    import torch  # noqa: F401

    def progress(res: dict):
        payload = {}
        for k, v in res.items():
            if isinstance(v, Measure):
                v = {"ms": v.ms, "n": v.n, "reduced": v.reduced, "error": v.error}
            payload[k] = v
        print(CHILD_TAG + json.dumps(payload), flush=True)

    measure_torch(case, variant, spec["repeats"], spec["warmup"], progress=progress)
    return 0


def fill_torch(row: Row, res: dict):
    r = row.results["torch"]
    for direction in ("fwd", "bwd"):
        v = res.get(direction)
        if isinstance(v, dict):
            v = Measure(ms=v.get("ms"), n=v.get("n") or 0, reduced=bool(v.get("reduced")), error=v.get("error"))
        if isinstance(v, Measure):
            setattr(r, direction, v)
    if "error" in res:  # the process died or hung: whatever it did not report failed with it
        for direction in ("fwd", "bwd"):
            m = getattr(r, direction)
            if m.ms is None and not m.error:
                setattr(r, direction, Measure(error=res["error"]))
    r.bwd_differing = res.get("bwd_differing")
    r.bwd_repro_error = res.get("bwd_repro_error")
    checks = []
    for k, what in (("fwd_last_batch_diff", "forward"), ("bwd_last_batch_diff", "backward")):
        if res.get(k) is not None and res[k] > 1e-4:
            checks.append(f"PyTorch's {what} differs from its own result on the last batch alone "
                          f"(max rel. diff {res[k]:.2e}): wrong values past 2^31 elements")
    if res.get("bwd_note"):
        checks.append(res["bwd_note"])
    if res.get("fwd_check_error"):
        checks.append(f"PyTorch's forward on the whole input then failed: {res['fwd_check_error']}")
    if res.get("crash"):
        checks.append(res["crash"])
    return checks


def run_row(case: Case, variant: Variant, args, bandwidth_gbs: float, jx: Jax | None, tessera_ok: bool) -> tuple[Row, list[str]]:
    import torch
    import torch.nn.functional as F

    import tessera

    dtype = torch_dtype(variant.dtype)
    kw = dict(case.kwargs, mode=case.mode)
    out_shape = tuple(tessera.output_shape(case.shape, **kw))
    esize = torch.empty((), dtype=dtype).element_size()
    in_bytes, out_bytes = math.prod(case.shape) * esize, math.prod(out_shape) * esize
    row = Row(case.key, case.title, "channels_last" if variant.channels_last else "contiguous", variant.dtype,
              tuple(case.shape), out_shape, in_bytes, out_bytes, (in_bytes + out_bytes) / (bandwidth_gbs * 1e9) * 1e3)
    notes: list[str] = []
    reps, warm = args.repeats, args.warmup

    x = random_tensor(case.shape, dtype, variant.channels_last, 1)
    g = random_tensor(out_shape, dtype, variant.channels_last, 2)

    # tessera
    t = row.results["tessera"]
    y_t = gx_t = None
    if tessera_ok:
        t.fwd = measure(lambda: tessera.interpolate(x, **kw), reps, warm)
        t.bwd = measure(lambda: tessera.interpolate_backward(g, case.shape, **kw), reps, warm)
        try:
            a = tessera.interpolate_backward(g, case.shape, **kw)
            b = tessera.interpolate_backward(g, case.shape, **kw)
            t.bwd_differing = bit_differences(a, b)
            gx_t = a
            del b
        except Exception as error:  # noqa: BLE001
            t.bwd_repro_error = describe_exception(error)
    else:
        t.fwd = Measure(note="n/a (no CUDA backend)")
        t.bwd = Measure(note="n/a (no CUDA backend)")

    # PyTorch
    if args.no_torch:
        row.results["torch"].fwd = Measure(note="not run (--no-torch)")
        row.results["torch"].bwd = Measure(note="not run (--no-torch)")
    elif case.torch_in_subprocess:
        # PyTorch is expected to fail here, possibly with a CUDA error that poisons the process: it runs
        # in its own process, after this one has returned its memory.
        kept = gx_t[-1:].clone() if gx_t is not None else None
        x_last, g_last = x[-1:].clone(), g[-1:].clone()
        y_t = gx_t = None
        del g
        g = None
        free_memory()
        res = run_torch_in_subprocess(case, variant, reps, warm, args.child_timeout)
        notes += fill_torch(row, res)
        # tessera's far end against PyTorch on the last batch alone (small enough for PyTorch)
        if tessera_ok:
            try:
                xl = x_last.detach().clone().requires_grad_(True)
                y_ref = F.interpolate(xl, **kw)
                (gx_ref,) = torch.autograd.grad(y_ref, xl, g_last)
                y_full = tessera.interpolate(x, **kw)
                row.fwd_err_vs_torch = max_rel_diff(y_full[-1:], y_ref)
                del y_full
                if kept is not None:
                    row.bwd_err_vs_torch = max_rel_diff(kept, gx_ref)
                row.err_note = "last batch"
            except Exception as error:  # noqa: BLE001
                notes.append(f"tessera vs PyTorch check on the last batch failed: {describe_exception(error)}")
        del kept, x_last, g_last
    else:
        res = measure_torch(case, variant, reps, warm, x=x, g=g)
        notes += fill_torch(row, res)
        if tessera_ok:
            try:
                with deterministic_algorithms(case.torch_deterministic):
                    y_ref = F.interpolate(x, **kw)
                    y_t = tessera.interpolate(x, **kw)
                    row.fwd_err_vs_torch = max_rel_diff(y_t, y_ref)
                    del y_ref, y_t
                    y_t = None
                    if gx_t is not None:
                        xr = x.detach().clone().requires_grad_(True)
                        (gx_ref,) = torch.autograd.grad(F.interpolate(xr, **kw), xr, g)
                        row.bwd_err_vs_torch = max_rel_diff(gx_t, gx_ref)
                        del gx_ref, xr
            except Exception as error:  # noqa: BLE001
                notes.append(f"tessera vs PyTorch comparison failed: {describe_exception(error)}")
    y_t = gx_t = None
    del x, g
    free_memory()
    if case.target_bwd_ms and variant == Variant(False, "float32") and t.bwd.ms is not None:
        verdict = "met" if t.bwd.ms <= case.target_bwd_ms else "MISSED"
        notes.append(f"tessera backward {t.bwd.ms:.3f} ms against the target of {case.target_bwd_ms} ms "
                     f"(floor {row.floor_ms:.3f} ms): {verdict}")

    # JAX
    j = row.results["jax"]
    if case.jax_method is None or case.jax_note:
        j.fwd = Measure(note=case.jax_note or "n/a")
        j.bwd = Measure(note=case.jax_note or "n/a")
    elif jx is None or not jx.ok:
        j.fwd = j.bwd = Measure(note="n/a")
    else:
        row.results["jax"] = jx.run(case, variant, out_shape, reps, warm)
    free_memory()
    return row, [f"{row_label(row)}: {n}" for n in notes]


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def gather_meta(args, bandwidth, copy_note, jx: Jax | None, tessera_status: str) -> dict:
    import torch

    import tessera

    p = torch.cuda.get_device_properties(0)
    gpu = (f"{p.name} (sm_{p.major}{p.minor}, {p.multi_processor_count} SMs, {p.total_memory / 2**30:.1f} GiB), "
           f"CUDA {torch.version.cuda}")
    versions = f"tessera {getattr(tessera, '__version__', '?')} ({tessera_status}), PyTorch {torch.__version__}, " \
               f"Python {platform.python_version()}"
    return {
        "gpu": gpu,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "copy_bandwidth_gbs": bandwidth,
        "copy_note": copy_note,
        "versions": versions,
        "jax_status": jx.status if jx is not None else "not run (--no-jax)",
        "timing": (f"tessera and PyTorch: CUDA events around each call on the current stream, median of "
                   f"{args.repeats} after {args.warmup} warm-up calls; JAX: wall clock around back-to-back calls "
                   f"ending in block_until_ready (at least 2 ms per sample), median of {args.repeats}"),
        "repeats": args.repeats,
        "warmup": args.warmup,
        "argv": sys.argv[1:],
        "notes": [],
    }


def select_cases(spec: str | None) -> list[Case]:
    if not spec:
        return list(CASES)
    keys = [k.strip() for k in spec.split(",") if k.strip()]
    unknown = [k for k in keys if k not in {c.key for c in CASES}]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; known: {[c.key for c in CASES]}")
    return [c for c in CASES if c.key in keys]


def main_gpu(args) -> int:
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: nothing to benchmark (try --self-test)", file=sys.stderr)
        return 2
    import tessera

    try:
        tessera_ok = bool(tessera.cuda.is_available())
        tessera_status = "CUDA backend" if tessera_ok else "built without its CUDA backend: tessera columns empty"
    except Exception as error:  # noqa: BLE001
        tessera_ok, tessera_status = False, f"CUDA check failed: {describe_exception(error)}"
    torch.cuda.init()
    started = time.perf_counter()
    print(f"{torch.cuda.get_device_name(0)}; tessera: {tessera_status}", flush=True)
    bandwidth, copy_note = copy_bandwidth(args.repeats)
    print(f"copy bandwidth {bandwidth:,.0f} GB/s ({copy_note})", flush=True)
    jx = None if args.no_jax else Jax()
    if jx is not None:
        print(f"JAX: {jx.status}", flush=True)
    meta = gather_meta(args, bandwidth, copy_note, jx, tessera_status)

    rows: list[Row] = []
    for case in select_cases(args.cases):
        for variant in variants_from_args(args):
            label = case.title + (f" [{variant.suffix}]" if variant.suffix else "")
            print(f"== {label}", flush=True)
            t0 = time.perf_counter()
            try:
                row, notes = run_row(case, variant, args, bandwidth, jx, tessera_ok)
            except Exception as error:  # noqa: BLE001 - one broken row must not lose the others
                traceback.print_exc()
                meta["notes"].append(f"{label}: the row failed: {describe_exception(error)}")
                free_memory()
                continue
            rows.append(row)
            meta["notes"] += notes
            print(row_summary(row) + f"  [{time.perf_counter() - t0:.1f} s]", flush=True)
            for n in notes:
                print("  note: " + n, flush=True)
    meta["elapsed_s"] = round(time.perf_counter() - started, 1)
    meta["notes"].append(f"benchmark wall time {meta['elapsed_s']} s")
    report = render_report(meta, rows)
    write_outputs(args.out, report, rows_to_json(meta, rows))
    print()
    print(report, flush=True)
    return 0


def self_test(args) -> int:
    """Made-up numbers through the whole reporting path (no GPU, no torch needed)."""
    bw = 2900.0
    meta = {
        "gpu": "FAKE GPU (self-test)", "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "copy_bandwidth_gbs": bw, "copy_note": "made-up", "versions": "self-test", "jax_status": "self-test",
        "timing": "self-test", "repeats": args.repeats, "warmup": args.warmup, "argv": sys.argv[1:],
        "notes": ["numbers are made up"],
    }
    rows = []
    for i, case in enumerate(select_cases(args.cases)):
        for variant in variants_from_args(args):
            esize = 2 if variant.dtype == "bfloat16" else 4
            scale = case.kwargs.get("scale_factor", 1)
            out_shape = tuple(case.shape[:2]) + tuple(int(math.floor(s * scale)) for s in case.shape[2:])
            ib, ob = math.prod(case.shape) * esize, math.prod(out_shape) * esize
            floor = (ib + ob) / (bw * 1e9) * 1e3
            row = Row(case.key, case.title, "channels_last" if variant.channels_last else "contiguous",
                      variant.dtype, case.shape, out_shape, ib, ob, floor)
            r = row.results
            r["tessera"].fwd, r["tessera"].bwd = Measure(floor * 1.1, 20), Measure(floor * 1.25, 20)
            r["tessera"].bwd_differing = 0
            if case.torch_in_subprocess:
                err = ("RuntimeError: CUDA error: an illegal memory access was encountered | CUDA kernel errors "
                       "might be asynchronously reported at some other API call")
                r["torch"].fwd, r["torch"].bwd = Measure(error=err), Measure(error=err)
                row.fwd_err_vs_torch, row.bwd_err_vs_torch, row.err_note = 0.0, 1.2e-7, "last batch"
            else:
                r["torch"].fwd, r["torch"].bwd = Measure(floor * 1.6, 20), Measure(floor * (3 + i), 4)
                r["torch"].bwd_differing = 0 if case.torch_deterministic else 12345 * (i + 1)
                row.fwd_err_vs_torch, row.bwd_err_vs_torch = 4.8e-7, 9.5e-7
            if case.jax_method and not case.jax_note:
                r["jax"].fwd, r["jax"].bwd = Measure(floor * 2.2, 20), Measure(floor * 2.9, 20)
                r["jax"].bwd_differing = 0
            else:
                r["jax"].fwd = r["jax"].bwd = Measure(note=case.jax_note or "n/a")
            rows.append(row)
            print(f"== {row_label(row)}\n" + row_summary(row))
    report = render_report(meta, rows)
    write_outputs(args.out, report, rows_to_json(meta, rows))
    # the JSON must round-trip
    json.loads(json.dumps(rows_to_json(meta, rows)))
    assert report.rstrip().splitlines()[-1].startswith("| "), "the table must come last"
    print()
    print(report)
    return 0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="write the Markdown report here, and the numbers to the same name with .json")
    p.add_argument("--quick", action="store_true", help="5 repeats and 1 warm-up call instead of 20 and 3")
    p.add_argument("--repeats", type=int, help="timed calls per measurement (default 20, --quick 5)")
    p.add_argument("--warmup", type=int, help="warm-up calls per measurement (default 3, --quick 1)")
    p.add_argument("--channels-last", action="store_true", help="channels-last inputs instead of NCHW")
    p.add_argument("--bf16", action="store_true", help="bfloat16 instead of float32")
    p.add_argument("--all", action="store_true", help="every case as float32 NCHW, channels-last and bfloat16 rows")
    p.add_argument("--cases", help="comma-separated case keys: " + ", ".join(c.key for c in CASES))
    p.add_argument("--no-jax", action="store_true", help="do not load JAX")
    p.add_argument("--no-torch", action="store_true", help="do not time PyTorch")
    p.add_argument("--child-timeout", type=int, default=240, help="seconds for PyTorch's > 2^31 case (default 240)")
    p.add_argument("--self-test", action="store_true", help="made-up numbers through the reporting path, no GPU")
    p.add_argument("--torch-child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 5 if args.quick else 20
    if args.warmup is None:
        args.warmup = 1 if args.quick else 3
    if args.repeats < 1 or args.warmup < 0:
        p.error("--repeats must be >= 1 and --warmup >= 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.torch_child:
        return torch_child_main(args.torch_child)
    if args.self_test:
        return self_test(args)
    return main_gpu(args)


if __name__ == "__main__":
    sys.exit(main())
