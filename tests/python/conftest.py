"""Shared helpers for the Python tests: random case generation, the PyTorch oracle, tolerances.

Cases are drawn from numpy's default_rng seeded with (kind, block, index), so every failure message
carries `make_case(kind, block, index)`, which rebuilds exactly the failing call:

    >>> from conftest import make_case
    >>> c = make_case("bilinear", 3, 7); c.repro()
"""

from __future__ import annotations

import functools
import math
import os
import sys
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))

import reference  # noqa: E402

# Modes PyTorch has, with the spatial ranks it accepts.
TORCH_MODES = {
    "nearest": (1, 2, 3),
    "nearest-exact": (1, 2, 3),
    "area": (1, 2, 3),
    "linear": (1,),
    "bilinear": (2,),
    "bicubic": (2,),
    "trilinear": (3,),
    "lanczos": (2,),
}

# Extensions without a PyTorch equivalent, checked against reference.py.
# kind -> (mode, spatial ranks, antialias)
EXTENSION_KINDS = {
    "cubic": ("cubic", (1, 2, 3), False),
    "cubic-aa": ("cubic", (1, 2, 3), True),
    "linear-aa": ("linear", (1,), True),
    "trilinear-aa": ("trilinear", (3,), True),
}

ALL_KINDS = list(TORCH_MODES) + list(EXTENSION_KINDS)
INTERPOLATING_MODES = ("linear", "bilinear", "bicubic", "trilinear", "cubic", "lanczos")

RTOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 2e-5}

MAX_OUTPUT_ELEMENTS = 20_000


# ---------------------------------------------------------------------------
# Random cases
# ---------------------------------------------------------------------------


def _factor(rng) -> float:
    """A resize factor in [1/8, 32], with the usual 'nice' values over-represented."""
    u = rng.random()
    if u < 0.2:
        return float(rng.choice([2.0, 3.0, 4.0, 0.5, 0.25, 1 / 3, 2 / 3, 1.5, 2.5, 0.75, 1.0, 1.1, 0.9]))
    if u < 0.28:
        return float(rng.choice([8.0, 16.0, 32.0]))
    if u < 0.34:
        return float(rng.choice([0.125, 0.2, 1 / 7]))
    return float(np.exp(rng.uniform(math.log(1 / 8), math.log(32))))


@dataclass
class Case:
    kind: str
    block: int
    index: int
    mode: str
    shape: tuple
    dtype: np.dtype
    kwargs: dict
    channels_last: bool = False
    as_torch: bool = False
    nan_positions: list = field(default_factory=list)

    @property
    def nd(self) -> int:
        return len(self.shape) - 2

    @property
    def out_shape(self) -> tuple:
        out, _ = reference.output_size_and_scales(
            list(self.shape[2:]), self.kwargs.get("size"), self.kwargs.get("scale_factor"),
            self.mode, self.kwargs.get("recompute_scale_factor"))
        return tuple(self.shape[:2]) + tuple(out)

    def call_kwargs(self) -> dict:
        return dict(mode=self.mode, **self.kwargs)

    def input64(self) -> np.ndarray:
        """The input values in float64 (exactly representable in self.dtype)."""
        rng = np.random.default_rng([ALL_KINDS.index(self.kind), self.block, self.index, 1])
        x = rng.standard_normal(self.shape).astype(self.dtype).astype(np.float64)
        for p in self.nan_positions:
            x[p] = np.nan
        return x

    def grad_output64(self) -> np.ndarray:
        rng = np.random.default_rng([ALL_KINDS.index(self.kind), self.block, self.index, 2])
        return rng.standard_normal(self.out_shape).astype(self.dtype).astype(np.float64)

    def repro(self) -> str:
        layout = ""
        if self.channels_last:
            layout = ", channels_last (torch)" if self.as_torch else ", channels_last (NumPy NHWC view)"
        elif self.as_torch:
            layout = ", torch tensor"
        nan = f", NaN at {self.nan_positions}" if self.nan_positions else ""
        return (f"make_case({self.kind!r}, {self.block}, {self.index}): input {self.shape} "
                f"{self.dtype.name}{layout}{nan}, {self.call_kwargs()}")


def make_case(kind: str, block: int, index: int, *, layouts: bool = True,
              max_out: int = MAX_OUTPUT_ELEMENTS) -> Case:
    """The random case (kind, block, index); kind is a PyTorch mode or an EXTENSION_KINDS key."""
    rng = np.random.default_rng([ALL_KINDS.index(kind), block, index])
    if kind in TORCH_MODES:
        mode, ranks, antialias = kind, TORCH_MODES[kind], None
    else:
        mode, ranks, antialias = EXTENSION_KINDS[kind]
    nd = int(rng.choice(ranks))
    if antialias is None:
        antialias = mode == "lanczos" or (mode in ("bilinear", "bicubic") and rng.random() < 0.4)
    if mode in ("nearest", "nearest-exact", "area"):
        align_corners = None
    elif mode == "lanczos":
        align_corners = [None, False][int(rng.integers(2))]
    else:
        align_corners = [None, True, False][int(rng.integers(3))]
    dtype = np.dtype([np.float32, np.float64][int(rng.integers(2))])
    max_in = {1: 24, 2: 12, 3: 7}[nd]

    for _ in range(1000):
        ins = [1 if rng.random() < 0.12 else int(rng.integers(2, max_in + 1)) for _ in range(nd)]
        batch = [int(rng.integers(1, 3)), int(rng.integers(1, 4))]
        kwargs = {}
        if rng.random() < 0.5:  # size path
            outs = []
            for i in ins:
                u = rng.random()
                outs.append(1 if u < 0.08 else i if u < 0.16 else 2 * i if u < 0.2
                            else max(1, int(round(i * _factor(rng)))))
            if len(set(outs)) == 1 and rng.random() < 0.5:
                kwargs["size"] = outs[0]
            else:
                kwargs["size"] = tuple(outs) if rng.random() < 0.7 else list(outs)
            rc = [None, False][int(rng.integers(2))]
        else:  # scale_factor path
            if rng.random() < 0.4:
                f = _factor(rng)
                kwargs["scale_factor"] = f
                factors = [f] * nd
            else:
                factors = [_factor(rng) for _ in range(nd)]
                kwargs["scale_factor"] = tuple(factors)
            if any(math.floor(i * f) < 1 for i, f in zip(ins, factors)):
                continue
            rc = [None, True, False][int(rng.integers(3))]
        if rc is not None:
            kwargs["recompute_scale_factor"] = rc
        if align_corners is not None:
            kwargs["align_corners"] = align_corners
        if antialias:
            kwargs["antialias"] = True
        case = Case(kind, block, index, mode, tuple(batch + ins), dtype, kwargs)
        if math.prod(case.out_shape) <= max_out and math.prod(case.shape) <= max_out:
            break
    else:  # pragma: no cover - the loop always finds one
        raise RuntimeError("no case found")
    if layouts:
        if nd >= 2 and rng.random() < 0.3:
            case.channels_last = True
            case.as_torch = bool(rng.random() < 0.5)
        else:
            case.as_torch = bool(rng.random() < 0.3)
    return case


def add_nans(case: Case, count: int = 2) -> Case:
    rng = np.random.default_rng([ALL_KINDS.index(case.kind), case.block, case.index, 3])
    case.nan_positions = [tuple(int(rng.integers(s)) for s in case.shape) for _ in range(count)]
    return case


# ---------------------------------------------------------------------------
# Array conversions
# ---------------------------------------------------------------------------

_TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64,
                np.dtype(np.float16): torch.float16}


def channels_last_format(ndim: int):
    return torch.channels_last if ndim == 4 else torch.channels_last_3d


def numpy_channels_last(a: np.ndarray) -> np.ndarray:
    """An (N, C, *spatial) view of a C-contiguous (N, *spatial, C) copy of a."""
    nd = a.ndim
    nhwc = np.ascontiguousarray(np.moveaxis(a, 1, -1))
    return nhwc.transpose(0, nd - 1, *range(1, nd - 1))


def to_input(case: Case, x64: np.ndarray):
    """x64 in the case's dtype, array kind and layout (what is passed to tessera)."""
    x = x64.astype(case.dtype)
    if case.as_torch:
        t = torch.from_numpy(x)
        if case.channels_last:
            t = t.contiguous(memory_format=channels_last_format(t.dim()))
        return t
    if case.channels_last:
        return numpy_channels_last(x)
    return x


def to_numpy(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().numpy()
    return np.asarray(a)


def is_numpy_channels_last(a: np.ndarray) -> bool:
    return np.moveaxis(a, 1, -1).flags["C_CONTIGUOUS"]


def layout_is_unambiguous(shape) -> bool:
    """Whether channels-last and contiguous differ for this shape (C > 1 and some spatial > 1)."""
    return shape[1] > 1 and math.prod(shape[2:]) > 1


# ---------------------------------------------------------------------------
# The PyTorch oracle
# ---------------------------------------------------------------------------


def torch_has(case_or_mode, nd: int | None = None, antialias: bool = False) -> bool:
    if isinstance(case_or_mode, Case):
        mode, nd, antialias = case_or_mode.mode, case_or_mode.nd, case_or_mode.kwargs.get("antialias", False)
    else:
        mode = case_or_mode
    if mode == "cubic":
        return nd == 2
    if mode not in TORCH_MODES or nd not in TORCH_MODES[mode]:
        return False
    return not antialias or mode in ("bilinear", "bicubic", "lanczos")


@functools.lru_cache(maxsize=None)
def torch_lacks(mode: str) -> str:
    """Why the installed PyTorch cannot run `mode` (a PyTorch mode), '' where it can: lanczos is
    recent (PyTorch 2.11 has none, the oracle's PyTorch 2.13 has it). Tried once on a tiny input."""
    nd = TORCH_MODES[mode][0]
    try:
        F.interpolate(torch.ones((1, 1) + (4,) * nd), size=(2,) * nd, mode=mode, antialias=mode == "lanczos")
    except (ValueError, NotImplementedError, RuntimeError) as error:
        message = (str(error) or type(error).__name__).splitlines()[0]
        return f"PyTorch {torch.__version__} has no mode {mode!r}: {message}"
    return ""


def skip_if_torch_lacks(mode: str) -> None:
    why = torch_lacks(mode)
    if why:
        pytest.skip(why)


def torch_kwargs(case: Case) -> dict:
    kw = case.call_kwargs()
    if kw["mode"] == "cubic":
        kw["mode"] = "bicubic"
    return kw


def torch_aa_width1_bug(case: Case) -> bool:
    """PyTorch 2.13's CPU antialias forward is wrong when the output width is 1 and the output
    height is neither 1 nor the input height: the result is not a resampling of the input at all
    (e.g. every output row reads input row 0), and it disagrees with PyTorch's own backward. Those
    cases are compared with reference.py instead."""
    if not case.kwargs.get("antialias") or case.nd != 2:
        return False
    out = case.out_shape
    return out[3] == 1 and out[2] not in (1, case.shape[2])


def torch_forward(case: Case, x64: np.ndarray) -> np.ndarray:
    """PyTorch's forward on the contiguous input in the case's dtype."""
    t = torch.from_numpy(np.ascontiguousarray(x64.astype(case.dtype)))
    return F.interpolate(t, **torch_kwargs(case)).numpy()


def expected_forward(case: Case, x64: np.ndarray) -> tuple[np.ndarray, str]:
    """(expected output, where it comes from)."""
    if torch_has(case) and not torch_aa_width1_bug(case):
        return torch_forward(case, x64), "torch"
    return reference.interpolate(x64, **case.kwargs, mode=case.mode), "reference"


def torch_forward_axis_matrices(case: Case) -> list[np.ndarray]:
    """The per-axis (out x in) matrices of PyTorch's *forward* for this case, probed by feeding
    one-hot inputs along an axis (constant along the others: every mode keeps constants)."""
    shape = case.shape
    out = case.out_shape
    mats = []
    for d in range(case.nd):
        n = shape[2 + d]
        probe_shape = [n, 1] + list(shape[2:])
        x = np.zeros(probe_shape, dtype=case.dtype)
        for b in range(n):
            idx = [b, 0] + [slice(None)] * case.nd
            idx[2 + d] = b
            x[tuple(idx)] = 1
        y = F.interpolate(torch.from_numpy(x), **torch_kwargs(case)).numpy().astype(np.float64)
        take = [slice(None), 0] + [0] * case.nd
        take[2 + d] = slice(None)
        mats.append(y[tuple(take)].T.copy())  # (out_d, in_d)
        assert mats[-1].shape == (out[2 + d], n)
    return mats


def torch_backward(case: Case, g64: np.ndarray) -> np.ndarray:
    x = torch.zeros(case.shape, dtype=_TORCH_DTYPE[case.dtype], requires_grad=True)
    y = F.interpolate(x, **torch_kwargs(case))
    (gx,) = torch.autograd.grad(y, x, torch.from_numpy(g64.astype(case.dtype)))
    return gx.numpy()


def expected_backward(case: Case, g64: np.ndarray) -> tuple[np.ndarray, str]:
    """(expected grad_input, where it comes from).

    PyTorch's autograd is the oracle where it is the adjoint of PyTorch's forward. In a few
    families of cases PyTorch's backward kernel does not transpose its own forward (the nearest
    kernels' backward uses another index rule than their forward for some sizes; the antialias
    forward skips an axis whose size does not change while the backward still applies the user
    scale there). tessera's backward is the exact adjoint of its forward (test_adjoint.py), so there
    the expectation is the adjoint of PyTorch's forward."""
    if not torch_has(case):
        return reference.interpolate_backward(g64, case.shape, **case.kwargs, mode=case.mode), "reference"
    autograd = torch_backward(case, g64)
    if torch_aa_width1_bug(case):
        return autograd, "torch autograd"
    adjoint = reference.apply_transposed(g64, torch_forward_axis_matrices(case))
    if close(autograd, adjoint, case.dtype)[0]:
        return autograd, "torch autograd"
    return adjoint.astype(case.dtype), "adjoint of torch forward (torch backward disagrees with it)"


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------


def close(actual, expected, dtype) -> tuple[bool, str]:
    """Elementwise |a - b| <= rtol * max(1, |b|), NaNs in the same places."""
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape:
        return False, f"shape {a.shape} != expected {b.shape}"
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    if not np.array_equal(nan_a, nan_b):
        return False, (f"NaN masks differ: {int(nan_a.sum())} NaNs vs expected {int(nan_b.sum())}, "
                       f"first difference at {np.argwhere(nan_a != nan_b)[0].tolist()}")
    ok = ~nan_b
    err = np.zeros_like(a)
    err[ok] = np.abs(a[ok] - b[ok]) / np.maximum(1.0, np.abs(b[ok]))
    rtol = RTOL[np.dtype(dtype)]
    if err.size and err.max() > rtol:
        i = np.unravel_index(int(np.argmax(err)), err.shape)
        return False, (f"max scaled error {err.max():.3g} > {rtol:g} at {list(map(int, i))}: "
                       f"got {a[i]!r}, expected {b[i]!r} ({int((err > rtol).sum())} of {err.size} elements off)")
    return True, ""


def check_block(failures: list[str], total: int):
    if failures:
        pytest.fail(f"{len(failures)} of {total} cases failed:\n" + "\n".join(failures[:10]), pytrace=False)


@pytest.fixture(autouse=True)
def _restore_threads():
    import tessera

    n = tessera.get_num_threads()
    yield
    tessera.set_num_threads(n)
