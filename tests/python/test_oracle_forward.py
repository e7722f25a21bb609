"""Forward oracle: tessera.interpolate against torch.nn.functional.interpolate (PyTorch 2.13, CPU),
and against reference.py for the extension modes PyTorch does not have.

Tolerance, elementwise: |tessera - expected| <= rtol * max(1, |expected|), rtol = 1e-10 (float64),
2e-5 (float32). Channels-last inputs are compared with PyTorch run on the contiguous copy (tessera
follows PyTorch's channels-first kernels whatever the layout).
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import reference
import tessera
from conftest import (
    EXTENSION_KINDS,
    TORCH_MODES,
    add_nans,
    check_block,
    close,
    expected_forward,
    is_numpy_channels_last,
    layout_is_unambiguous,
    make_case,
    skip_if_torch_lacks,
    to_input,
    to_numpy,
    torch_aa_width1_bug,
    torch_forward,
)

FORWARD_BLOCKS = 8
FORWARD_CASES_PER_BLOCK = 20
EXTENSION_BLOCKS = 4


def check_output_kind(case, x, y) -> str:
    """'' if y has the right array kind, dtype, shape and memory format for input x, else why not."""
    if case.as_torch:
        if not isinstance(y, torch.Tensor):
            return f"a torch tensor in gave {type(y).__name__} out"
        if y.dtype != x.dtype:
            return f"dtype {y.dtype} != input dtype {x.dtype}"
    else:
        if not isinstance(y, np.ndarray):
            return f"a NumPy array in gave {type(y).__name__} out"
        if y.dtype != x.dtype:
            return f"dtype {y.dtype} != input dtype {x.dtype}"
    if tuple(y.shape) != case.out_shape:
        return f"shape {tuple(y.shape)} != expected {case.out_shape}"
    if case.channels_last and layout_is_unambiguous(case.shape) and layout_is_unambiguous(case.out_shape):
        if case.as_torch:
            fmt = torch.channels_last if y.dim() == 4 else torch.channels_last_3d
            if not y.is_contiguous(memory_format=fmt):
                return f"channels-last input gave an output with strides {y.stride()}"
        elif not is_numpy_channels_last(y):
            return f"NumPy channels-last input gave an output with strides {y.strides}"
    elif not case.channels_last:
        contiguous = y.is_contiguous() if case.as_torch else y.flags["C_CONTIGUOUS"]
        if not contiguous:
            return "contiguous input gave a non-contiguous output"
    return ""


def run_forward_block(kind, block, n_cases):
    failures = []
    for i in range(n_cases):
        case = make_case(kind, block, i)
        x64 = case.input64()
        expected, source = expected_forward(case, x64)
        x = to_input(case, x64)
        try:
            y = tessera.interpolate(x, **case.call_kwargs())
        except Exception as e:  # noqa: BLE001 - report every failing case of the block
            failures.append(f"{case.repro()}: raised {type(e).__name__}: {e}")
            continue
        why = check_output_kind(case, x, y)
        if not why:
            ok, why = close(to_numpy(y), expected, case.dtype)
            if ok:
                continue
        failures.append(f"{case.repro()} [vs {source}]: {why}")
    check_block(failures, n_cases)


@pytest.mark.parametrize("block", range(FORWARD_BLOCKS))
@pytest.mark.parametrize("mode", list(TORCH_MODES))
def test_forward_matches_torch(mode, block):
    skip_if_torch_lacks(mode)
    run_forward_block(mode, block, FORWARD_CASES_PER_BLOCK)


@pytest.mark.parametrize("block", range(EXTENSION_BLOCKS))
@pytest.mark.parametrize("kind", list(EXTENSION_KINDS))
def test_forward_extensions_match_reference(kind, block):
    run_forward_block(kind, block, FORWARD_CASES_PER_BLOCK)


# ---------------------------------------------------------------------------
# The reference itself, against PyTorch, wherever PyTorch has the mode
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("block", range(3))
@pytest.mark.parametrize("mode", ["linear", "bilinear", "bicubic", "trilinear", "area", "lanczos"])
def test_reference_matches_torch(mode, block):
    skip_if_torch_lacks(mode)
    failures = []
    n = 0
    for i in range(40):
        case = make_case(mode, 100 + block, i, layouts=False)
        if torch_aa_width1_bug(case):
            continue
        n += 1
        x64 = case.input64()
        want = F.interpolate(torch.from_numpy(x64), **case.call_kwargs()).numpy()
        got = reference.interpolate(x64, mode=case.mode, **case.kwargs)
        ok, why = close(got, want, np.float64)
        if not ok:
            failures.append(f"{case.repro()}: {why}")
    check_block(failures, n)


def test_reference_cubic_is_bicubic_and_extends_it():
    x = np.random.default_rng(5).standard_normal((2, 3, 6, 7))
    for kw in [dict(size=(13, 4)), dict(scale_factor=2.5, align_corners=True),
               dict(size=(3, 9), antialias=True), dict(scale_factor=(0.3, 1.7), antialias=True)]:
        want = F.interpolate(torch.from_numpy(x), mode="bicubic", **kw).numpy()
        assert close(reference.interpolate(x, mode="cubic", **kw), want, np.float64)[0], kw
    # a 2-D cubic on an (H, 1) image is the 1-D cubic along H
    y2 = reference.interpolate(x[..., :1], size=(13, 1), mode="cubic")
    y1 = reference.interpolate(x[..., 0], size=13, mode="cubic")
    np.testing.assert_allclose(y2[..., 0], y1, rtol=0, atol=1e-14)


def test_torch_antialias_width1_bug_is_real():
    """Documents why torch_aa_width1_bug cases use the reference: PyTorch's own backward agrees
    with the reference there, its forward does not."""
    x = torch.arange(5, dtype=torch.float64).reshape(1, 1, 5, 1)
    y = F.interpolate(x, size=(7, 1), mode="bilinear", antialias=True)
    assert torch.all(y == 0)  # every output row reads input row 0
    ref = reference.interpolate(x.numpy(), size=(7, 1), mode="bilinear", antialias=True)
    assert ref[0, 0, -1, 0] == 4.0


# ---------------------------------------------------------------------------
# NaN propagation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(TORCH_MODES))
def test_nan_propagates_like_torch(mode):
    skip_if_torch_lacks(mode)
    failures = []
    n = 0
    for i in range(12):
        case = add_nans(make_case(mode, 200, i), count=1 + i % 3)
        if torch_aa_width1_bug(case):
            continue
        n += 1
        x64 = case.input64()
        want = torch_forward(case, x64)
        y = to_numpy(tessera.interpolate(to_input(case, x64), **case.call_kwargs()))
        if not np.array_equal(np.isnan(y), np.isnan(want)):
            failures.append(f"{case.repro()}: {int(np.isnan(y).sum())} NaN outputs, "
                            f"torch has {int(np.isnan(want).sum())}")
            continue
        ok, why = close(y, want, case.dtype)
        if not ok:
            failures.append(f"{case.repro()}: {why}")
    check_block(failures, n)


# ---------------------------------------------------------------------------
# Hand-picked edge cases
# ---------------------------------------------------------------------------

EDGE_CASES = [
    # (shape, kwargs)
    ((1, 2, 1), dict(size=7, mode="linear")),
    ((1, 2, 1), dict(size=7, mode="linear", align_corners=True)),
    ((1, 1, 5), dict(size=1, mode="linear", align_corners=True)),
    ((1, 1, 5, 4), dict(size=(1, 1), mode="bicubic", align_corners=True)),
    ((1, 1, 5, 4), dict(size=(1, 3), mode="bilinear", align_corners=True)),
    ((2, 1, 1, 1), dict(scale_factor=32, mode="bicubic")),
    ((1, 1, 1, 1, 1), dict(scale_factor=(3, 1, 32), mode="trilinear")),
    ((1, 1, 3, 3), dict(scale_factor=32, mode="nearest")),
    ((1, 1, 3, 3), dict(scale_factor=32, mode="nearest-exact")),
    ((1, 1, 24, 16), dict(scale_factor=0.125, mode="area")),
    ((1, 1, 24, 16), dict(scale_factor=0.125, mode="bilinear", antialias=True)),
    ((1, 1, 24, 16), dict(scale_factor=0.125, mode="bicubic", antialias=True)),
    ((1, 1, 24, 16), dict(scale_factor=0.125, mode="lanczos", antialias=True)),
    ((1, 1, 5, 5), dict(scale_factor=1.3, mode="bilinear", recompute_scale_factor=False)),  # out == in
    ((1, 1, 5, 5), dict(scale_factor=1.1, mode="bicubic", recompute_scale_factor=False)),
    ((1, 1, 6), dict(scale_factor=2.1, mode="nearest", recompute_scale_factor=False)),  # out == 2 * in
    ((1, 1, 6), dict(scale_factor=2.1, mode="nearest", recompute_scale_factor=True)),
    ((1, 1, 16), dict(size=82, mode="nearest")),
    ((1, 1, 14), dict(size=83, mode="nearest-exact")),
    # index ties: exact products that land on an integer, where the rounding rule decides
    ((1, 2, 2, 12), dict(size=(82, 10), mode="nearest")),
    ((1, 2, 26, 28), dict(size=(22, 3), mode="nearest")),
    ((1, 2, 20, 12), dict(size=(46, 39), mode="nearest-exact")),
    ((1, 2, 4), dict(size=82, mode="nearest-exact")),
    ((1, 2, 28, 24, 2), dict(size=(25, 68, 55), mode="nearest-exact")),
    # the 2-D nearest kernel copies when out == in and halves the index when out == 2 * in
    ((1, 3, 6, 6), dict(scale_factor=2.1, mode="nearest", recompute_scale_factor=False)),
    ((2, 3, 10, 7), dict(scale_factor=(1.0, 1.0722437078871527), mode="nearest")),
    ((1, 3, 5, 8), dict(scale_factor=(1.9, 1.05), mode="nearest")),
    ((1, 1, 7, 7), dict(scale_factor=1 / 3, mode="nearest-exact")),
    ((1, 1, 7), dict(scale_factor=0.999, mode="linear", recompute_scale_factor=False)),
    ((1, 1, 9, 9), dict(size=(4, 4), mode="bilinear", antialias=True, align_corners=True)),
    ((1, 1, 9, 9), dict(size=(20, 20), mode="bicubic", antialias=True, align_corners=True)),
    ((1, 3, 4, 5, 6), dict(size=(1, 1, 1), mode="area")),
    ((1, 3, 4, 5, 6), dict(size=(8, 1, 12), mode="trilinear", align_corners=True)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kwargs", EDGE_CASES, ids=[f"{s}-{k}" for s, k in EDGE_CASES])
def test_edge_cases(shape, kwargs, dtype):
    skip_if_torch_lacks(kwargs["mode"])
    x = np.random.default_rng(11).standard_normal(shape).astype(dtype)
    want = F.interpolate(torch.from_numpy(x), **kwargs).numpy()
    got = tessera.interpolate(x, **kwargs)
    assert isinstance(got, np.ndarray) and got.dtype == x.dtype and got.shape == want.shape
    ok, why = close(got, want, dtype)
    assert ok, why


# ---------------------------------------------------------------------------
# Nearest-neighbour indices, exhaustively over small sizes
# ---------------------------------------------------------------------------


def _nearest_sweep_calls(nd):
    """(input extent, kwargs for the resized axis) pairs: every size up to a bound, and explicit scales."""
    max_n, max_o = (24, 96) if nd < 3 else (16, 64)
    for n in range(1, max_n + 1):
        for o in range(1, max_o + 1):
            yield n, dict(size=o)
        for k in range(1, 41):
            for sf in (k / 10, k / 10 + 0.05, 1 / k, 2 / k + 1):
                if math.floor(n * sf) >= 1:
                    yield n, dict(scale_factor=sf, recompute_scale_factor=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_indices_exhaustive(mode, nd, dtype):
    """Every source index, bitwise, for all small (in, out) pairs and many explicit scales, along
    the first or the last spatial axis (the other axes keep their size 3). Catches the rounding of
    index ties, which depends on PyTorch's exact arithmetic per rank and dtype: the 2-D kernels use
    a float32 scale and float32 products for both dtypes, and copy (out == in) or halve the index
    (out == 2 * in) whatever the scale; the 1-D/3-D kernels compute in the tensor's dtype, and for
    float32 'nearest-exact' PyTorch's AVX2/AVX512 build contracts scale * (i + 0.5) - 0.5 into one
    fused multiply-add (with ATEN_CPU_CAPABILITY=default it does not, and its indices differ)."""
    failures = []
    total = 0
    for j, (n, kw) in enumerate(_nearest_sweep_calls(nd)):
        axis = 2 + (j % nd)
        shape = [1, 2] + [3] * nd
        shape[axis] = n
        x = np.moveaxis(np.broadcast_to(np.arange(n, dtype=dtype), shape[:axis] + shape[axis + 1:] + [n]),
                        -1, axis)
        x = np.ascontiguousarray(x)
        full = {}
        for key, value in kw.items():
            if key == "size":
                sizes = [3] * nd
                sizes[axis - 2] = value
                full[key] = tuple(sizes)
            elif key == "scale_factor":
                scales = [1.0] * nd
                scales[axis - 2] = value
                full[key] = tuple(scales)
            else:
                full[key] = value
        total += 1
        want = F.interpolate(torch.from_numpy(x), mode=mode, **full).numpy()
        got = tessera.interpolate(x, mode=mode, **full)
        if got.shape != want.shape or not np.array_equal(got, want):
            if got.shape == want.shape:
                diff = np.argwhere(got != want)[0].tolist()
                detail = f"first difference at {diff}: index {got[tuple(diff)]:g}, torch {want[tuple(diff)]:g}"
            else:
                detail = f"shape {got.shape} != {want.shape}"
            failures.append(f"input {tuple(shape)} {np.dtype(dtype).name}, {full}: {detail}")
    check_block(failures, total)


# ---------------------------------------------------------------------------
# output_shape, keyword spellings, float16
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(TORCH_MODES))
def test_output_shape_matches_torch(mode):
    skip_if_torch_lacks(mode)
    for i in range(30):
        case = make_case(mode, 300, i, layouts=False)
        want = tuple(F.interpolate(torch.zeros(case.shape, dtype=torch.float64), **case.call_kwargs()).shape)
        got = tessera.output_shape(case.shape, **case.call_kwargs())
        assert isinstance(got, tuple), type(got)
        assert got == want, case.repro()
        assert got == tessera.output_shape(list(case.shape), **case.call_kwargs())


def test_output_shape_large_no_allocation():
    assert tessera.output_shape((1, 1, 3, 3), size=(2**20, 2**20), mode="nearest") == (1, 1, 2**20, 2**20)
    assert tessera.output_shape((2, 3, 10), scale_factor=2.5, mode="linear") == (2, 3, 25)


def test_keyword_spellings_agree():
    """int vs tuple vs list sizes, float vs tuple scales, numpy scalars: all the same call."""
    x = np.random.default_rng(2).standard_normal((1, 2, 5, 6))
    a = tessera.interpolate(x, size=9, mode="bilinear")
    for size in [(9, 9), [9, 9], (np.int64(9), np.int32(9))]:
        np.testing.assert_array_equal(tessera.interpolate(x, size=size, mode="bilinear"), a)
    b = tessera.interpolate(x, scale_factor=1.5, mode="bicubic")
    for sf in [(1.5, 1.5), [1.5, 1.5], np.float64(1.5), (np.float32(1.5), 1.5)]:
        np.testing.assert_array_equal(tessera.interpolate(x, scale_factor=sf, mode="bicubic"), b)
    # integer scale factors are accepted like PyTorch's
    np.testing.assert_array_equal(tessera.interpolate(x, scale_factor=2, mode="nearest"),
                                  tessera.interpolate(x, scale_factor=2.0, mode="nearest"))
    # default mode is nearest, align_corners=None means False for interpolating modes
    np.testing.assert_array_equal(tessera.interpolate(x, size=(3, 11)),
                                  tessera.interpolate(x, size=(3, 11), mode="nearest"))
    np.testing.assert_array_equal(tessera.interpolate(x, size=(3, 11), mode="bilinear"),
                                  tessera.interpolate(x, size=(3, 11), mode="bilinear", align_corners=False))


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "bilinear", "bicubic", "area"])
def test_float16(mode):
    x = np.random.default_rng(3).standard_normal((2, 3, 7, 9)).astype(np.float16)
    for kw in [dict(size=(12, 5)), dict(scale_factor=2.0), dict(scale_factor=0.5)]:
        y = tessera.interpolate(x, mode=mode, **kw)
        assert isinstance(y, np.ndarray) and y.dtype == np.float16
        want = F.interpolate(torch.from_numpy(x.astype(np.float32)), mode=mode, **kw).numpy()
        assert y.shape == want.shape
        err = np.abs(y.astype(np.float64) - want) / np.maximum(1, np.abs(want))
        assert err.max() <= 2e-3, (kw, err.max())
        t = tessera.interpolate(torch.from_numpy(x), mode=mode, **kw)
        assert isinstance(t, torch.Tensor) and t.dtype == torch.float16
        np.testing.assert_array_equal(t.numpy(), y)
