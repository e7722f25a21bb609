"""Adjointness in float64: <A x, g> == <x, A^T g> with A = tessera.interpolate and
A^T = tessera.interpolate_backward, for random cases of every mode (PyTorch's and the extensions).

The error is measured relative to sum |A x| * |g| (the size of the terms of the dot product), so
cancellation in the dot product cannot make the check vacuous or spuriously strict.
"""

import numpy as np
import pytest

import tessera
from conftest import ALL_KINDS, check_block, make_case, to_input, to_numpy

CASES_PER_KIND = 40
RTOL = 1e-12


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_adjoint(kind):
    failures = []
    for i in range(CASES_PER_KIND):
        case = make_case(kind, 2000, i)
        case.dtype = np.dtype(np.float64)
        x64, g64 = case.input64(), case.grad_output64()
        ax = to_numpy(tessera.interpolate(to_input(case, x64), **case.call_kwargs()))
        atg = to_numpy(tessera.interpolate_backward(to_input(case, g64), case.shape, **case.call_kwargs()))
        lhs = float(np.sum(ax * g64))
        rhs = float(np.sum(x64 * atg))
        scale = max(float(np.sum(np.abs(ax * g64))), float(np.sum(np.abs(x64 * atg))), 1e-300)
        if abs(lhs - rhs) > RTOL * scale:
            failures.append(f"{case.repro()}: <Ax,g> = {lhs!r}, <x,A^T g> = {rhs!r}, "
                            f"relative difference {abs(lhs - rhs) / scale:.3g}")
    check_block(failures, CASES_PER_KIND)


@pytest.mark.parametrize("mode,shape,kw", [
    ("bilinear", (1, 1, 3, 3), dict(scale_factor=32)),
    ("bicubic", (1, 2, 40, 40), dict(scale_factor=0.125, antialias=True)),
    ("lanczos", (1, 2, 40, 40), dict(size=(7, 5), antialias=True)),
    ("trilinear", (1, 1, 2, 3, 4), dict(scale_factor=(8, 1, 0.5), align_corners=True)),
    ("area", (1, 1, 37), dict(size=5)),
    ("nearest-exact", (1, 1, 2, 2, 2), dict(scale_factor=16)),
    ("cubic", (1, 2, 5, 6, 7), dict(size=(11, 3, 7), antialias=True)),
])
def test_adjoint_dense(mode, shape, kw):
    """Columns of A^T are rows of A: the backward of a one-hot grad_output is the forward's row."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal(shape)
    y = tessera.interpolate(x, mode=mode, **kw)
    for _ in range(5):
        g = np.zeros_like(y)
        pos = tuple(int(rng.integers(s)) for s in y.shape)
        g[pos] = 1.0
        row = tessera.interpolate_backward(g, shape, mode=mode, **kw)
        # y[pos] = sum(row * x)
        assert abs(float(np.sum(row * x)) - y[pos]) <= 1e-12 * max(1.0, float(np.sum(np.abs(row * x))))
