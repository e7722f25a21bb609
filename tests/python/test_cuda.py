"""The CUDA backend: the same bits as the CPU backend, reproducible backward, more than 2**31 elements,
autograd through tessera.torch, PyTorch's current stream, devices and memory formats.

The whole module is skipped, with the reason, unless PyTorch imports, PyTorch sees a CUDA device and
tessera was built with its CUDA backend. Set TESSERA_REQUIRE_CUDA=1 (GPU CI) to turn that skip into
an error, so a build that silently lost its CUDA backend cannot pass.

The promise under test: for every mode, dtype (float32, float64, float16, bfloat16) and memory format,
the CUDA forward and backward are bitwise identical to the CPU backend's on the same input (the same
tap tables, the same summation order, no FMA contraction).
"""

from __future__ import annotations

import gc
import math
import os

import numpy as np
import pytest


def _why_cuda_is_unusable():
    try:
        import torch
    except Exception as error:  # pragma: no cover - depends on the machine
        return f"PyTorch is not importable ({type(error).__name__}: {error})"
    if not torch.cuda.is_available():
        return "PyTorch sees no CUDA device (torch.cuda.is_available() is False)"
    try:
        import tessera
    except Exception as error:  # pragma: no cover - depends on the build
        return f"tessera is not importable ({type(error).__name__}: {error})"
    core = getattr(tessera, "_core", None)
    if core is not None and not getattr(core, "built_with_cuda", False):
        return "tessera was built without its CUDA backend (no CUDA compiler found at build time)"
    if not tessera.cuda.is_available():
        return "tessera.cuda.is_available() is False"
    return None


_REASON = _why_cuda_is_unusable()
if _REASON is not None:
    if os.environ.get("TESSERA_REQUIRE_CUDA", "") not in ("", "0"):
        pytest.fail(f"TESSERA_REQUIRE_CUDA is set but the CUDA tests cannot run: {_REASON}", pytrace=False)
    pytest.skip(f"CUDA tests skipped: {_REASON}", allow_module_level=True)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import tessera  # noqa: E402
import tessera.torch as tt  # noqa: E402

CUDA = torch.device("cuda")
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
DTYPE_IDS = ["f32", "f64", "f16", "bf16"]
_BITS = {torch.float16: torch.int16, torch.bfloat16: torch.int16, torch.float32: torch.int32, torch.float64: torch.int64}
TOL = {torch.float64: 1e-10, torch.float32: 2e-5}


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def channels_last_format(ndim: int):
    return torch.channels_last if ndim == 4 else torch.channels_last_3d


def memory_format_of(t: torch.Tensor):
    if t.dim() in (4, 5) and t.is_contiguous(memory_format=channels_last_format(t.dim())) and not t.is_contiguous():
        return channels_last_format(t.dim())
    return torch.contiguous_format


def randn(shape, dtype, seed: int, memory_format=torch.contiguous_format, device="cpu") -> torch.Tensor:
    """Random normal values (never zeros, never NaN), exactly representable in dtype, from a seed."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(tuple(shape), generator=gen, dtype=torch.float64).to(dtype)
    if len(shape) in (4, 5) and memory_format != torch.contiguous_format:
        x = x.contiguous(memory_format=memory_format)
    return x.to(device)


def bit_mismatch(actual: torch.Tensor, expected: torch.Tensor) -> str | None:
    """None when both tensors hold the same bits element for element, else a description."""
    if tuple(actual.shape) != tuple(expected.shape):
        return f"shape {tuple(actual.shape)} != expected {tuple(expected.shape)}"
    if actual.dtype != expected.dtype:
        return f"dtype {actual.dtype} != expected {expected.dtype}"
    a = actual.detach().cpu().contiguous()
    b = expected.detach().cpu().contiguous()
    ai, bi = a.view(_BITS[a.dtype]), b.view(_BITS[b.dtype])
    if torch.equal(ai, bi):
        return None
    diff = ai != bi
    count = int(diff.sum())
    first = tuple(int(i) for i in diff.nonzero()[0])
    return (f"{count} of {a.numel()} elements differ in their bits, first at {list(first)}: "
            f"got {a[first].item()!r}, expected {b[first].item()!r}")


def assert_same_bits(actual: torch.Tensor, expected: torch.Tensor, what: str = "result"):
    problem = bit_mismatch(actual, expected)
    assert problem is None, f"{what}: {problem}"


def assert_close(out: torch.Tensor, ref: torch.Tensor, what: str = "result"):
    """|out - ref| <= tol * max(1, |ref|): float64 1e-10, float32 2e-5."""
    assert tuple(out.shape) == tuple(ref.shape), f"{what}: shape {tuple(out.shape)} != {tuple(ref.shape)}"
    assert out.dtype == ref.dtype, f"{what}: dtype {out.dtype} != {ref.dtype}"
    tol = TOL[ref.dtype]
    err = (out.double() - ref.double()).abs()
    bound = tol * ref.double().abs().clamp_min(1.0)
    if err.numel() and bool((err > bound).any()):
        i = tuple(int(v) for v in np.unravel_index(int((err - bound).argmax()), tuple(err.shape)))
        raise AssertionError(f"{what}: max abs error {err.max().item():.3e} exceeds {tol:g} x max(1,|ref|); "
                             f"worst at {list(i)}: got {out[i].item()!r}, expected {ref[i].item()!r}")


def check_layout(out: torch.Tensor, like: torch.Tensor, what: str):
    """out lives on like's device, has its dtype and its memory format."""
    assert out.device == like.device, f"{what}: on {out.device}, expected {like.device}"
    assert out.dtype == like.dtype, f"{what}: dtype {out.dtype}, expected {like.dtype}"
    fmt = memory_format_of(like)
    assert out.is_contiguous(memory_format=fmt), (
        f"{what}: strides {out.stride()} for shape {tuple(out.shape)} are not dense in {fmt} (the input's format)")


def free_cuda_memory():
    gc.collect()
    torch.cuda.synchronize()
    torch.cuda.empty_cache()


def cpu_and_cuda(x_cpu: torch.Tensor, g_cpu_fn, kw: dict, what: str) -> list[str]:
    """Forward and backward on the CPU and on CUDA from the same values and strides; the problems found."""
    problems = []
    x_gpu = x_cpu.to(CUDA)
    assert x_gpu.stride() == x_cpu.stride(), "the copy to the device changed the strides"
    y_cpu = tessera.interpolate(x_cpu, **kw)
    try:
        y_gpu = tessera.interpolate(x_gpu, **kw)
    except Exception as error:  # noqa: BLE001 - reported with the case that caused it
        return [f"{what} forward: raised {type(error).__name__}: {error}"]
    if y_gpu.device != x_gpu.device:
        problems.append(f"{what} forward: output on {y_gpu.device}, input on {x_gpu.device}")
    if y_gpu.stride() != y_cpu.stride():
        problems.append(f"{what} forward: strides {y_gpu.stride()} on CUDA, {y_cpu.stride()} on the CPU")
    p = bit_mismatch(y_gpu, y_cpu)
    if p:
        problems.append(f"{what} forward: {p}")
    g_cpu = g_cpu_fn(y_cpu)
    g_gpu = g_cpu.to(CUDA)
    gx_cpu = tessera.interpolate_backward(g_cpu, tuple(x_cpu.shape), **kw)
    try:
        gx_gpu = tessera.interpolate_backward(g_gpu, tuple(x_cpu.shape), **kw)
    except Exception as error:  # noqa: BLE001
        return problems + [f"{what} backward: raised {type(error).__name__}: {error}"]
    if gx_gpu.device != g_gpu.device:
        problems.append(f"{what} backward: grad_input on {gx_gpu.device}, grad_output on {g_gpu.device}")
    if gx_gpu.stride() != gx_cpu.stride():
        problems.append(f"{what} backward: strides {gx_gpu.stride()} on CUDA, {gx_cpu.stride()} on the CPU")
    p = bit_mismatch(gx_gpu, gx_cpu)
    if p:
        problems.append(f"{what} backward: {p}")
    return problems


def report(problems: list[str], total: int):
    if problems:
        pytest.fail(f"{len(problems)} problem(s) in {total} cases:\n" + "\n".join(problems[:12]), pytrace=False)


# ---------------------------------------------------------------------------------------------
# (1) random cases: CUDA == CPU, bit for bit
# ---------------------------------------------------------------------------------------------

# kind -> (mode, spatial ranks, antialias)
KINDS = {
    "nearest": ("nearest", (1, 2, 3), False),
    "nearest-exact": ("nearest-exact", (1, 2, 3), False),
    "area": ("area", (1, 2, 3), False),
    "linear": ("linear", (1,), False),
    "bilinear": ("bilinear", (2,), False),
    "bilinear-aa": ("bilinear", (2,), True),
    "bicubic": ("bicubic", (2,), False),
    "bicubic-aa": ("bicubic", (2,), True),
    "trilinear": ("trilinear", (3,), False),
    "lanczos": ("lanczos", (2,), True),
    "cubic": ("cubic", (1, 2, 3), False),
    "cubic-aa": ("cubic", (1, 2, 3), True),
    "linear-aa": ("linear", (1,), True),
    "trilinear-aa": ("trilinear", (3,), True),
}
INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear", "cubic")
CASES_PER_KIND_AND_DTYPE = 6
MAX_ELEMENTS = 6000
_FACTORS = [0.25, 1 / 3, 0.5, 2 / 3, 0.75, 0.9, 1.0, 1.1, 1.5, 2.0, 2.5, 3.0, 4.0, 7.3, 0.13, 16.0]


def random_case(kind: str, dtype_index: int, index: int):
    """(input shape, interpolate keywords, channels_last) of random case `index`; valid for tessera."""
    mode, ranks, antialias = KINDS[kind]
    rng = np.random.default_rng([list(KINDS).index(kind), dtype_index, index, 7])
    nd = ranks[index % len(ranks)]
    channels_last = nd >= 2 and (index // len(ranks)) % 2 == 1
    max_in = {1: 24, 2: 12, 3: 6}[nd]
    for _ in range(1000):
        spatial = [1 if rng.random() < 0.1 else int(rng.integers(2, max_in + 1)) for _ in range(nd)]
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 5)), *spatial)
        kw = {"mode": mode}
        if rng.random() < 0.5:
            size = [1 if rng.random() < 0.08 else max(1, int(round(s * float(rng.choice(_FACTORS))))) for s in spatial]
            kw["size"] = size[0] if len(set(size)) == 1 and rng.random() < 0.5 else tuple(size)
        else:
            if rng.random() < 0.4:
                kw["scale_factor"] = float(rng.choice(_FACTORS))
            else:
                kw["scale_factor"] = tuple(float(rng.choice(_FACTORS)) for _ in range(nd))
            rc = [None, True, False][int(rng.integers(3))]
            if rc is not None:
                kw["recompute_scale_factor"] = rc
        if mode in INTERPOLATING:
            ac = [None, True, False][int(rng.integers(3))]
            if ac is not None:
                kw["align_corners"] = ac
        elif mode == "lanczos" and rng.random() < 0.5:
            kw["align_corners"] = False
        if antialias:
            kw["antialias"] = True
        try:
            out = tessera.output_shape(shape, **kw)
        except (ValueError, TypeError):
            continue
        if 0 < math.prod(out) <= MAX_ELEMENTS and math.prod(shape) <= MAX_ELEMENTS:
            return shape, kw, channels_last
    raise RuntimeError(f"no valid case for {kind}")  # pragma: no cover


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_random_cases_match_cpu_bitwise(kind, dtype):
    dtype_index = DTYPES.index(dtype)
    problems = []
    for i in range(CASES_PER_KIND_AND_DTYPE):
        shape, kw, cl = random_case(kind, dtype_index, i)
        fmt = channels_last_format(len(shape)) if cl else torch.contiguous_format
        seed = 1000 * list(KINDS).index(kind) + 100 * dtype_index + i
        x = randn(shape, dtype, seed, fmt)
        what = f"case {i}: input {shape} {dtype} {'channels_last' if cl else 'contiguous'}, {kw}"
        problems += cpu_and_cuda(x, lambda y, s=seed: torch.empty_like(y).copy_(randn(y.shape, dtype, s + 7)), kw, what)
    report(problems, CASES_PER_KIND_AND_DTYPE)


# Larger shapes: many thread blocks, odd sizes, identity axes, 1x1 in or out, long rows.
MEDIUM_CASES = [
    ("nearest", (2, 16, 45, 61), dict(size=(100, 17)), False),
    ("nearest", (3, 5, 37), dict(scale_factor=1.0), False),
    ("nearest-exact", (2, 16, 45, 61), dict(scale_factor=(2.2, 0.3)), True),
    ("bilinear", (3, 70, 33, 47), dict(size=(65, 95)), True),
    ("bilinear", (2, 3, 33, 47), dict(size=(33, 47)), False),
    ("bilinear", (1, 3, 1, 1), dict(size=(64, 33), align_corners=True), False),
    ("bilinear", (2, 9, 120, 130), dict(size=(1, 1), antialias=True), True),
    ("bilinear", (4, 24, 15, 15), dict(scale_factor=32), True),
    ("bicubic", (2, 5, 300, 7), dict(size=(41, 7), antialias=True), False),
    ("bicubic", (2, 6, 40, 50), dict(scale_factor=2.7, align_corners=True), True),
    ("linear", (1, 3, 1000), dict(scale_factor=0.37, antialias=True), False),
    ("linear", (4, 7, 333), dict(size=1001), False),
    ("trilinear", (2, 3, 9, 40, 33), dict(size=(17, 20, 70)), True),
    ("trilinear", (1, 2, 30, 31, 29), dict(scale_factor=0.4, antialias=True), False),
    ("area", (2, 4, 17, 19, 23), dict(size=(5, 7, 11)), True),
    ("area", (2, 33, 128, 96), dict(scale_factor=0.25), True),
    ("lanczos", (2, 3, 130, 257), dict(scale_factor=1 / 3, antialias=True), False),
    ("lanczos", (1, 8, 64, 48), dict(size=(200, 20), antialias=True), True),
    ("cubic", (1, 2, 12, 13, 14), dict(scale_factor=1.7), True),
    ("cubic", (2, 3, 90, 20, 7), dict(size=(30, 50, 7), antialias=True), False),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("mode,shape,kw,cl", MEDIUM_CASES,
                         ids=[f"{m}-{'x'.join(map(str, s))}-{i}" for i, (m, s, _, _) in enumerate(MEDIUM_CASES)])
def test_medium_cases_match_cpu_bitwise(mode, shape, kw, cl, dtype):
    fmt = channels_last_format(len(shape)) if cl else torch.contiguous_format
    x = randn(shape, dtype, 77, fmt)
    kw = dict(kw, mode=mode)
    problems = cpu_and_cuda(x, lambda y: torch.empty_like(y).copy_(randn(y.shape, dtype, 78)), kw,
                            f"input {shape} {dtype} {'channels_last' if cl else 'contiguous'}, {kw}")
    report(problems, 1)


# Shapes that select each kernel path: the fused pair with its cols pass first or last, plain and
# channels-last layouts (channels riding along with each col), whole 16-byte runs and the element-by-
# element fallback (odd widths; "offset": a view starting one element into its rows), every tap bound
# (2, 4, 8 and long rows), several tiles per plane, blocks covering
# several planes (thousands of planes, the last block's share short), and the rows pass of 3-D inputs.
# The backward of large upsamples walks its rows pass (long rows, each input row read by at most two of
# them; float32 and float64 data): whole runs, the element fallback, channels-last, several row and col
# tiles, runs per thread beyond one block's width, blocks over several planes, and nearest's rows (one
# reader per input row).
PATH_CASES = [
    ("bilinear", (3, 1667, 4, 6), dict(scale_factor=2), "contiguous"),
    ("bicubic", (3, 1667, 12, 12), dict(scale_factor=1 / 3, antialias=True), "contiguous"),
    ("bilinear", (2, 3, 70, 132), dict(scale_factor=2), "contiguous"),
    ("bilinear", (2, 3, 70, 131), dict(scale_factor=2), "contiguous"),
    ("bilinear", (2, 3, 70, 132), dict(scale_factor=2), "offset"),
    # rows of 132 elements: whole 16-byte runs of float32, not of 16-bit data (8 elements a run)
    ("bilinear", (2, 3, 70, 66), dict(scale_factor=2), "contiguous"),
    # backward: rows-first tables of 4 taps but for a few longer border rows (the 4-tap kernel reads
    # their extra taps from the table), and of mixed tap counts
    ("bilinear", (2, 3, 70, 132), dict(scale_factor=2, align_corners=True), "contiguous"),
    ("bilinear", (2, 3, 64, 130), dict(scale_factor=(1.75, 2.5)), "contiguous"),
    ("bicubic", (2, 3, 40, 264), dict(scale_factor=2), "contiguous"),
    ("bicubic", (2, 2, 200, 264), dict(scale_factor=1 / 3.5, antialias=True), "contiguous"),
    # output rows of 146 and 140 elements: a narrow last col tile, so the tiles get equal widths; long-tap
    # rows-first tables take whole rows where that leaves fewer idle lanes (146 and 171 cols; not 1142)
    ("bicubic", (1, 2, 40, 512), dict(scale_factor=1 / 3.5, antialias=True), "contiguous"),
    ("bicubic", (1, 2, 30, 600), dict(scale_factor=1 / 3.5, antialias=True), "offset"),
    ("bicubic", (1, 1, 30, 4000), dict(scale_factor=1 / 3.5, antialias=True), "contiguous"),
    ("bilinear", (2, 3, 20, 70), dict(scale_factor=2), "contiguous"),
    ("bicubic", (2, 2, 200, 263), dict(scale_factor=1 / 3.5, antialias=True), "offset"),
    ("area", (2, 3, 128, 264), dict(scale_factor=0.25), "contiguous"),
    ("bilinear", (2, 5, 15, 15), dict(scale_factor=32), "contiguous"),
    ("bilinear", (2, 3, 15, 15), dict(scale_factor=32), "offset"),
    ("bilinear", (2, 3, 9, 11), dict(scale_factor=(16, 13)), "contiguous"),
    ("bilinear", (2, 3, 15, 15), dict(scale_factor=32), "channels_last"),
    ("bilinear", (1, 2, 40, 150), dict(scale_factor=(16, 10)), "contiguous"),
    ("bilinear", (3, 1667, 2, 2), dict(scale_factor=16), "contiguous"),
    ("nearest", (2, 3, 15, 15), dict(scale_factor=32), "contiguous"),
    ("bilinear", (2, 3, 40, 44), dict(scale_factor=(2, 3)), "contiguous"),
    ("bilinear", (2, 3, 80, 132), dict(scale_factor=(0.5, 0.25), antialias=True), "contiguous"),
    ("bilinear", (1, 1, 300, 1), dict(size=(97, 40)), "contiguous"),
    ("bilinear", (2, 64, 15, 15), dict(scale_factor=32), "channels_last"),
    # the single-axis pass walks such rows too (the backward of upsampling along H alone, and channels-
    # last pairs too wide for shared memory): tiles of several output rows (thousands of planes), tiles
    # of one row with element runs, and the H pass of 160 channels-last channels before the W pass
    ("bilinear", (1000, 1, 15, 128), dict(scale_factor=(16, 1)), "contiguous"),
    ("bilinear", (2, 3, 15, 130), dict(scale_factor=(32, 1)), "offset"),
    ("bilinear", (1, 160, 15, 15), dict(scale_factor=32), "channels_last"),
    ("bilinear", (2, 3, 40, 50), dict(scale_factor=2), "channels_last"),
    # the sliding cols-first kernel (upsampling tables of at most 4 taps): channels-last runs of one col
    # (16 and 8 channels), runs of several cols (3 channels above, plain layouts), rows off a run
    ("bicubic", (2, 16, 20, 24), dict(scale_factor=2), "channels_last"),
    ("bilinear", (1, 8, 37, 50), dict(scale_factor=(2, 3)), "channels_last"),
    ("bicubic", (2, 3, 30, 41), dict(scale_factor=2), "offset"),
    ("bicubic", (1, 2, 33, 70), dict(scale_factor=1.3, align_corners=True), "contiguous"),
    ("bilinear", (2, 16, 40, 50), dict(size=(33, 97), antialias=True), "channels_last"),
    ("bicubic", (1, 8, 90, 70), dict(scale_factor=1 / 3, antialias=True), "channels_last"),
    ("area", (2, 12, 64, 64), dict(scale_factor=0.25), "channels_last"),
    ("trilinear", (2, 3, 12, 20, 24), dict(scale_factor=2), "contiguous"),
    ("trilinear", (2, 3, 12, 20, 23), dict(scale_factor=2), "contiguous"),
    ("trilinear", (2, 8, 12, 20, 24), dict(scale_factor=2), "channels_last"),
    # the forward of these upsamplings (cols, rows, then depth; their backward takes the depth-first
    # kernel): tables of at most 2 taps take the sliding volume kernel, the others the ring kernel.
    # Several rows and runs of a row, output rows that take whole 16-byte runs in float32 but not in
    # 16-bit data, other factors per axis, align_corners, 1-tap tables, input rows that start off a run,
    # the depth axis cut among blocks (one plane), channels-last runs of one col (8 and 16 channels) and
    # of several (3, 4 and 5 channels), other output sizes per axis; 4-tap tables (the ring kernel: a
    # ring of four planes, its slots wrapping around)
    ("trilinear", (1, 2, 10, 37, 70), dict(scale_factor=2), "contiguous"),
    ("trilinear", (1, 2, 9, 33, 65), dict(size=(23, 80, 140)), "contiguous"),
    ("trilinear", (2, 3, 7, 20, 23), dict(scale_factor=(3, 2.5, 2), align_corners=True), "contiguous"),
    ("nearest", (2, 3, 6, 20, 24), dict(scale_factor=2), "contiguous"),
    ("trilinear", (2, 3, 6, 20, 24), dict(scale_factor=2), "offset"),
    ("trilinear", (1, 1, 40, 20, 24), dict(scale_factor=2), "contiguous"),
    ("trilinear", (1, 4, 40, 9, 11), dict(scale_factor=2), "channels_last"),
    ("trilinear", (2, 5, 6, 7, 70), dict(scale_factor=2), "channels_last"),
    ("trilinear", (1, 3, 5, 9, 16), dict(size=(13, 18, 40)), "channels_last"),
    ("trilinear", (2, 16, 3, 5, 7), dict(size=(7, 9, 20)), "channels_last"),
    ("cubic", (1, 2, 6, 20, 24), dict(scale_factor=2), "contiguous"),
    ("cubic", (1, 3, 7, 9, 70), dict(scale_factor=(2.5, 2.2, 2)), "channels_last"),
    # the depth-first three-pass kernel (depth, rows, then cols: the backward of the cases above and
    # these, and shrinking forwards): several col tiles and row tiles, planes smaller than a tile, depth
    # cut into chunks, rows and cols of 6 taps (the 8-tap kernel), depth rows of 10 taps (beyond those
    # held in registers), 2-tap shrinking tables, channels-last, rows off a 16-byte run
    ("trilinear", (1, 2, 5, 70, 150), dict(scale_factor=2), "contiguous"),
    ("trilinear", (1, 3, 33, 4, 6), dict(scale_factor=2), "contiguous"),
    ("trilinear", (1, 2, 6, 20, 24), dict(scale_factor=3), "contiguous"),
    ("trilinear", (2, 3, 12, 40, 48), dict(scale_factor=(0.3, 0.4, 0.5)), "contiguous"),
    ("area", (1, 2, 40, 16, 16), dict(size=(4, 8, 8)), "contiguous"),
    ("area", (2, 3, 16, 40, 264), dict(scale_factor=0.25), "contiguous"),
    ("area", (1, 16, 8, 16, 24), dict(scale_factor=0.5), "channels_last"),
    ("trilinear", (1, 6, 9, 17, 21), dict(scale_factor=2), "channels_last"),
    ("trilinear", (1, 2, 6, 11, 13), dict(scale_factor=2), "offset"),
]


def _path_inputs(shape, out_shape, dtype, layout):
    """(x_cpu, x_gpu, g_cpu, g_gpu) with the same values and strides on both devices."""
    if layout == "offset":
        def pair(full_shape, seed):
            width = full_shape[-1]
            base = randn((*full_shape[:-1], width + 4), dtype, seed)
            return base[..., 1:1 + width], base.to(CUDA)[..., 1:1 + width]
        return (*pair(shape, 91), *pair(out_shape, 92))
    fmt = channels_last_format(len(shape)) if layout == "channels_last" else torch.contiguous_format
    x = randn(shape, dtype, 91, fmt)
    g = randn(out_shape, dtype, 92, fmt)
    return x, x.to(CUDA), g, g.to(CUDA)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("mode,shape,kw,layout", PATH_CASES,
                         ids=[f"{m}-{'x'.join(map(str, s))}-{lay}-{i}" for i, (m, s, _, lay) in enumerate(PATH_CASES)])
def test_kernel_paths_match_cpu_bitwise(mode, shape, kw, layout, dtype):
    kw = dict(kw, mode=mode)
    out_shape = tuple(tessera.output_shape(shape, **kw))
    x_cpu, x_gpu, g_cpu, g_gpu = _path_inputs(shape, out_shape, dtype, layout)
    assert x_gpu.stride() == x_cpu.stride() and g_gpu.stride() == g_cpu.stride()
    what = f"input {shape} {dtype} {layout}, {kw}"
    problems = []
    p = bit_mismatch(tessera.interpolate(x_gpu, **kw), tessera.interpolate(x_cpu, **kw))
    if p:
        problems.append(f"{what} forward: {p}")
    p = bit_mismatch(tessera.interpolate_backward(g_gpu, shape, **kw), tessera.interpolate_backward(g_cpu, shape, **kw))
    if p:
        problems.append(f"{what} backward: {p}")
    report(problems, 1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
@pytest.mark.parametrize("view", ["sliced", "expanded", "channels-last-sliced", "transposed-spatial"])
def test_strided_views_match_cpu_bitwise(view, dtype):
    """Inputs and grad_outputs that are not dense in either memory format give the CPU's bits too."""
    base = randn((3, 6, 20, 22), dtype, 5)
    if view == "sliced":
        make = lambda t: t[:, 1:5, ::2, 3:]  # noqa: E731
    elif view == "expanded":
        make = lambda t: t[:1].expand(4, -1, -1, -1)  # noqa: E731
    elif view == "channels-last-sliced":
        make = lambda t: t.contiguous(memory_format=torch.channels_last)[:, :, 2:, ::3]  # noqa: E731
    else:
        make = lambda t: t.transpose(2, 3)  # noqa: E731
    problems = []
    for kw in (dict(mode="bilinear", scale_factor=2.5), dict(mode="bicubic", size=(7, 5), antialias=True),
               dict(mode="nearest", size=(9, 31)), dict(mode="area", size=(4, 3))):
        x_cpu, x_gpu = make(base), make(base.to(CUDA))
        y_cpu = tessera.interpolate(x_cpu, **kw)
        y_gpu = tessera.interpolate(x_gpu, **kw)
        p = bit_mismatch(y_gpu, y_cpu)
        if p:
            problems.append(f"{view} {kw} forward: {p}")
        g_full = randn((y_cpu.shape[0], y_cpu.shape[1], y_cpu.shape[2] + 3, 2 * y_cpu.shape[3]), dtype, 6)
        g_cpu = g_full[:, :, 3:, ::2]  # a non-dense grad_output
        g_gpu = g_full.to(CUDA)[:, :, 3:, ::2]
        gx_cpu = tessera.interpolate_backward(g_cpu, tuple(x_cpu.shape), **kw)
        gx_gpu = tessera.interpolate_backward(g_gpu, tuple(x_cpu.shape), **kw)
        p = bit_mismatch(gx_gpu, gx_cpu)
        if p:
            problems.append(f"{view} {kw} backward: {p}")
    report(problems, 4)


@pytest.mark.parametrize("shape", [(0, 3, 8, 9), (2, 0, 8, 9)])
def test_empty_batch_behaves_as_on_cpu(shape):
    x_cpu = torch.empty(shape)
    kw = dict(mode="bilinear", scale_factor=2)
    try:
        y_cpu = tessera.interpolate(x_cpu, **kw)
    except Exception as error:  # the CUDA backend must refuse it the same way
        with pytest.raises(type(error)):
            tessera.interpolate(x_cpu.to(CUDA), **kw)
        return
    y_gpu = tessera.interpolate(x_cpu.to(CUDA), **kw)
    assert y_gpu.shape == y_cpu.shape and y_gpu.device.type == CUDA.type
    gx = tessera.interpolate_backward(torch.empty(y_cpu.shape, device=CUDA), shape, **kw)
    assert gx.shape == x_cpu.shape and gx.device.type == CUDA.type


# ---------------------------------------------------------------------------------------------
# (2) the backward is the same on every run, on cases large enough to fill the device
# ---------------------------------------------------------------------------------------------

REPEAT_CASES = [
    ("bilinear", (8, 32, 128, 128), dict(scale_factor=2), torch.float32, False),
    ("bilinear", (8, 64, 15, 15), dict(scale_factor=32), torch.float32, False),
    ("bilinear", (8, 64, 15, 15), dict(scale_factor=32), torch.float32, True),
    ("bilinear", (8, 64, 15, 15), dict(scale_factor=32), torch.bfloat16, False),
    ("bicubic", (4, 16, 384, 384), dict(scale_factor=1 / 3.5, antialias=True), torch.float32, False),
    ("area", (4, 16, 256, 256), dict(scale_factor=0.25), torch.float32, True),
    ("trilinear", (2, 8, 32, 64, 64), dict(scale_factor=2), torch.float32, False),
    ("nearest", (8, 32, 64, 64), dict(scale_factor=3), torch.float16, False),
]
RUNS = 5


@pytest.mark.parametrize("mode,shape,kw,dtype,cl", REPEAT_CASES,
                         ids=[f"{m}-{'x'.join(map(str, s))}-{str(d)[6:]}{'-cl' if c else ''}"
                              for m, s, _, d, c in REPEAT_CASES])
def test_backward_is_bitwise_reproducible(mode, shape, kw, dtype, cl):
    kw = dict(kw, mode=mode)
    fmt = channels_last_format(len(shape)) if cl else torch.contiguous_format
    try:
        x = randn(shape, dtype, 11, fmt, device=CUDA)
        out_shape = tessera.output_shape(shape, **kw)
        g = torch.empty(out_shape, dtype=dtype, device=CUDA, memory_format=fmt)
        g.copy_(torch.randn(out_shape, device=CUDA, generator=torch.Generator(CUDA).manual_seed(12)))
        first_y = tessera.interpolate(x, **kw)
        first_gx = tessera.interpolate_backward(g, shape, **kw)
        for run in range(1, RUNS):
            # other work in between changes what is resident in caches and how blocks are scheduled
            torch.randn(1 << 22, device=CUDA).sum()
            assert_same_bits(tessera.interpolate_backward(g, shape, **kw), first_gx, f"backward run {run}")
            assert_same_bits(tessera.interpolate(x, **kw), first_y, f"forward run {run}")
        # and the first batch element is the CPU's
        assert_same_bits(first_y[:1], tessera.interpolate(x[:1].cpu(), **kw), "forward, batch 0, against the CPU")
        assert_same_bits(first_gx[:1], tessera.interpolate_backward(g[:1].cpu(), (1, *shape[1:]), **kw),
                         "backward, batch 0, against the CPU")
    finally:
        x = g = first_y = first_gx = None
        free_cuda_memory()


# ---------------------------------------------------------------------------------------------
# (3) more than 2**31 elements
# ---------------------------------------------------------------------------------------------

BIG_SHAPE = (64, 256, 15, 15)
BIG_KW = dict(mode="bilinear", scale_factor=32)
BIG_FREE_BYTES = 40 * 2**30


@pytest.mark.parametrize("cl", [False, True], ids=["contiguous", "channels_last"])
def test_more_than_2_31_elements(cl):
    """bilinear x32 of 64x256x15x15 gives 64x256x480x480 (3.8e9 elements, 15 GB in float32): forward
    and backward run, and batch slices on both sides of element 2**31 match the CPU bit for bit."""
    free, _ = torch.cuda.mem_get_info()
    if free < BIG_FREE_BYTES:
        pytest.skip(f"needs {BIG_FREE_BYTES / 2**30:.0f} GiB of free device memory, {free / 2**30:.1f} GiB free")
    fmt = torch.channels_last if cl else torch.contiguous_format
    out_shape = (64, 256, 480, 480)
    per_batch = math.prod(out_shape[1:])
    # batch 0, the batch holding element 2**31, the last batch
    checked = sorted({0, (2**31) // per_batch, out_shape[0] - 1})
    x = y = g = gx = None
    try:
        x = randn(BIG_SHAPE, torch.float32, 21, fmt, device=CUDA)
        y = tessera.interpolate(x, **BIG_KW)
        assert tuple(y.shape) == out_shape and y.numel() > 2**31
        check_layout(y, x, "forward output")
        torch.cuda.synchronize()
        for b in checked:
            assert_same_bits(y[b:b + 1], tessera.interpolate(x[b:b + 1].cpu(), **BIG_KW), f"forward, batch {b}")
        y = None
        free_cuda_memory()
        g = torch.empty(out_shape, device=CUDA, memory_format=fmt)
        g.normal_(generator=torch.Generator(CUDA).manual_seed(22))
        gx = tessera.interpolate_backward(g, BIG_SHAPE, **BIG_KW)
        assert tuple(gx.shape) == BIG_SHAPE
        check_layout(gx, g, "grad_input")
        torch.cuda.synchronize()
        for b in checked:
            expected = tessera.interpolate_backward(g[b:b + 1].cpu(), (1, *BIG_SHAPE[1:]), **BIG_KW)
            assert_same_bits(gx[b:b + 1], expected, f"backward, batch {b}")
    finally:
        x = y = g = gx = None
        free_cuda_memory()


# ---------------------------------------------------------------------------------------------
# (4) tessera.torch.interpolate on CUDA: gradcheck, and PyTorch's numbers
# ---------------------------------------------------------------------------------------------

# (mode, input shape, keywords). Sizes are chosen where PyTorch's own CUDA backward is the adjoint of
# its forward (integer nearest ratios; antialias only on axes whose size changes).
AUTOGRAD_CASES = [
    ("nearest", (1, 2, 5), dict(scale_factor=2)),
    ("nearest", (1, 2, 4, 6), dict(size=(8, 3))),
    ("nearest", (1, 2, 3, 4, 2), dict(scale_factor=2)),
    ("nearest-exact", (1, 2, 4, 6), dict(size=(8, 3))),
    ("linear", (2, 2, 6), dict(scale_factor=2.5, align_corners=False)),
    ("linear", (2, 2, 6), dict(size=4, align_corners=True)),
    ("bilinear", (1, 2, 5, 4), dict(size=(8, 7))),
    ("bilinear", (1, 2, 8, 9), dict(size=(3, 4), antialias=True)),
    ("bicubic", (1, 2, 5, 4), dict(size=(8, 7), align_corners=True)),
    ("bicubic", (1, 2, 9, 8), dict(size=(4, 3), antialias=True)),
    ("trilinear", (1, 2, 3, 4, 3), dict(size=(5, 6, 4))),
    ("area", (1, 2, 7), dict(size=3)),
    ("area", (1, 2, 7, 6), dict(size=(3, 4))),
    ("area", (1, 1, 5, 4, 6), dict(size=(2, 3, 4))),
    ("lanczos", (1, 2, 10, 9), dict(size=(4, 3), antialias=True)),
    ("cubic", (1, 2, 5, 4), dict(size=(8, 7))),  # PyTorch's bicubic
    ("cubic", (1, 2, 6), dict(size=9)),
    ("cubic", (1, 1, 3, 4, 3), dict(size=(5, 2, 4), antialias=True)),
    ("linear", (1, 2, 9), dict(size=4, antialias=True)),
    ("trilinear", (1, 1, 5, 6, 4), dict(size=(3, 3, 2), antialias=True)),
]
_AUTOGRAD_IDS = [f"{m}-{'x'.join(map(str, s))}-{i}" for i, (m, s, _) in enumerate(AUTOGRAD_CASES)]


def torch_equivalent(mode: str, ndim: int, kw: dict):
    """F.interpolate keywords computing the same thing, or None where PyTorch has no such mode."""
    if mode == "cubic":
        return dict(kw, mode="bicubic") if ndim == 4 else None
    if kw.get("antialias") and mode not in ("bilinear", "bicubic", "lanczos"):
        return None
    return dict(kw, mode=mode)


@pytest.mark.parametrize("mode,shape,kw", AUTOGRAD_CASES, ids=_AUTOGRAD_IDS)
def test_gradcheck_on_cuda(mode, shape, kw):
    x = randn(shape, torch.float64, 31, device=CUDA).requires_grad_(True)
    fn = lambda t: tt.interpolate(t, mode=mode, **kw)  # noqa: E731
    y = fn(x)
    assert y.device == x.device and y.requires_grad
    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-8, rtol=1e-6)
    assert torch.autograd.gradgradcheck(fn, (x,), eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("mode,shape,kw", AUTOGRAD_CASES, ids=_AUTOGRAD_IDS)
def test_matches_torch_on_cuda(mode, shape, kw, dtype):
    ref_kw = torch_equivalent(mode, len(shape), kw)
    if ref_kw is None:
        pytest.skip(f"PyTorch has no {mode!r} with {kw} on {len(shape)}-D input (checked against the CPU instead)")
    x0 = randn(shape, dtype, 41, device=CUDA)
    x_ref = x0.clone().requires_grad_(True)
    try:
        y_ref = F.interpolate(x_ref, **ref_kw)
    except (RuntimeError, ValueError, NotImplementedError, TypeError) as error:
        pytest.skip(f"PyTorch {torch.__version__} refuses {ref_kw} on CUDA: {str(error).splitlines()[0]}")
    x = x0.clone().requires_grad_(True)
    y = tt.interpolate(x, mode=mode, **kw)
    assert y.device == x.device
    assert_close(y.detach(), y_ref.detach(), "forward")
    g = randn(y.shape, dtype, 42, device=CUDA)
    (gx_ref,) = torch.autograd.grad(y_ref, x_ref, g)
    (gx,) = torch.autograd.grad(y, x, g)
    assert_close(gx, gx_ref, "backward")
    # the custom op gives the raw CUDA functions' bits
    assert_same_bits(y, tessera.interpolate(x0, mode=mode, **kw), "tessera.torch forward vs tessera.interpolate")
    assert_same_bits(gx, tessera.interpolate_backward(g, shape, mode=mode, **kw),
                     "tessera.torch backward vs tessera.interpolate_backward")


# ---------------------------------------------------------------------------------------------
# (5) PyTorch's current stream
# ---------------------------------------------------------------------------------------------

_SLEEP = getattr(torch.cuda, "_sleep", None)
STREAM_KW = dict(mode="bicubic", scale_factor=2.5)


def test_results_land_on_the_current_stream():
    """Inside a non-default stream, tessera must enqueue after the stream's earlier work: the input is
    written on that stream behind a long sleep, so a kernel on another stream would read zeros."""
    if _SLEEP is None:
        pytest.skip("torch.cuda._sleep is not available in this PyTorch")
    shape = (4, 16, 64, 48)
    base = randn(shape, torch.float32, 51, device=CUDA)
    out_shape = tessera.output_shape(shape, **STREAM_KW)
    g_base = randn(out_shape, torch.float32, 52, device=CUDA)
    expected_y = tessera.interpolate(base.cpu(), **STREAM_KW)
    expected_gx = tessera.interpolate_backward(g_base.cpu(), shape, **STREAM_KW)
    tessera.interpolate(base, **STREAM_KW)  # load the module and its kernels before timing matters
    x = torch.zeros_like(base)
    g = torch.zeros_like(g_base)
    side = torch.cuda.Stream()
    torch.cuda.synchronize()
    with torch.cuda.stream(side):
        _SLEEP(200_000_000)  # ~0.1 s of device time on this stream
        x.copy_(base)
        g.copy_(g_base)
        y = tessera.interpolate(x, **STREAM_KW)
        gx = tessera.interpolate_backward(g, shape, **STREAM_KW)
        y_op = tt.interpolate(x, **STREAM_KW)
    torch.cuda.synchronize()
    assert_same_bits(y, expected_y, "forward on a side stream")
    assert_same_bits(gx, expected_gx, "backward on a side stream")
    assert_same_bits(y_op, expected_y, "tessera.torch.interpolate on a side stream")


def test_calls_do_not_wait_for_the_stream():
    """'Without synchronizing': a call returns while the stream is still busy with earlier work."""
    if _SLEEP is None:
        pytest.skip("torch.cuda._sleep is not available in this PyTorch")
    shape = (2, 8, 32, 32)
    x = randn(shape, torch.float32, 61, device=CUDA)
    g = randn(tessera.output_shape(shape, **STREAM_KW), torch.float32, 62, device=CUDA)
    tessera.interpolate(x, **STREAM_KW)
    tessera.interpolate_backward(g, shape, **STREAM_KW)
    side = torch.cuda.Stream()
    torch.cuda.synchronize()
    with torch.cuda.stream(side):
        _SLEEP(2_000_000_000)  # ~1 s of device time
        tessera.interpolate(x, **STREAM_KW)
        busy_after_forward = not side.query()
        tessera.interpolate_backward(g, shape, **STREAM_KW)
        busy_after_backward = not side.query()
    torch.cuda.synchronize()
    assert busy_after_forward, "tessera.interpolate waited for the stream's earlier work to finish (a synchronization)"
    assert busy_after_backward, "tessera.interpolate_backward waited for the stream's earlier work to finish"


# ---------------------------------------------------------------------------------------------
# (6) devices and memory formats
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("ndim,cl", [(3, False), (4, False), (4, True), (5, False), (5, True)],
                         ids=["3d", "4d", "4d-channels_last", "5d", "5d-channels_last"])
def test_outputs_keep_device_dtype_and_memory_format(ndim, cl, dtype):
    shape = {3: (2, 3, 9), 4: (2, 3, 9, 7), 5: (2, 3, 5, 6, 4)}[ndim]
    mode = {3: "linear", 4: "bilinear", 5: "trilinear"}[ndim]
    fmt = channels_last_format(ndim) if cl else torch.contiguous_format
    x = randn(shape, dtype, 71, fmt, device=CUDA)
    y = tessera.interpolate(x, scale_factor=2, mode=mode)
    check_layout(y, x, "tessera.interpolate")
    g = torch.empty_like(y).normal_()
    gx = tessera.interpolate_backward(g, shape, scale_factor=2, mode=mode)
    check_layout(gx, g, "tessera.interpolate_backward")
    xr = x.detach().clone().requires_grad_(True)
    yr = tt.interpolate(xr, scale_factor=2, mode=mode)
    check_layout(yr, x, "tessera.torch.interpolate")
    (gxr,) = torch.autograd.grad(yr, xr, g)
    check_layout(gxr, x, "tessera.torch.interpolate backward")


def test_second_device():
    """A tensor on cuda:1 is computed on cuda:1 while cuda:0 is current, with the CPU's bits."""
    if torch.cuda.device_count() < 2:
        pytest.skip(f"needs two CUDA devices, found {torch.cuda.device_count()}")
    kw = dict(mode="bilinear", scale_factor=3)
    x_cpu = randn((2, 4, 10, 12), torch.float32, 81)
    with torch.cuda.device(0):
        x = x_cpu.to("cuda:1")
        y = tessera.interpolate(x, **kw)
        g = randn(y.shape, torch.float32, 82, device="cuda:1")
        gx = tessera.interpolate_backward(g, x.shape, **kw)
    assert y.device == x.device and gx.device == x.device
    assert_same_bits(y, tessera.interpolate(x_cpu, **kw), "forward on cuda:1")
    assert_same_bits(gx, tessera.interpolate_backward(g.cpu(), x.shape, **kw), "backward on cuda:1")
