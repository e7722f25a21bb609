"""Backward oracle: tessera.interpolate_backward against PyTorch 2.13's autograd of
F.interpolate (grad_outputs=g), and against reference.py for the extension modes.

Where PyTorch's backward kernel is not the adjoint of its own forward (see
conftest.expected_backward), the expectation is the adjoint of PyTorch's forward: tessera's
backward transposes tessera's forward exactly (test_adjoint.py), so that is the only gradient it
can give while matching PyTorch's forward.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import reference
import tessera
from conftest import (
    EXTENSION_KINDS,
    Case,
    TORCH_MODES,
    check_block,
    close,
    expected_backward,
    make_case,
    skip_if_torch_lacks,
    to_input,
    to_numpy,
    torch_backward,
    torch_forward_axis_matrices,
    torch_lacks,
)

BACKWARD_BLOCKS = 5
BACKWARD_CASES_PER_BLOCK = 16
EXTENSION_BLOCKS = 3


def run_backward_block(kind, block, n_cases):
    failures = []
    for i in range(n_cases):
        case = make_case(kind, 1000 + block, i)
        g64 = case.grad_output64()
        expected, source = expected_backward(case, g64)
        g = to_input(case, g64)  # same array kind and layout rules as the forward input
        try:
            gx = tessera.interpolate_backward(g, case.shape, **case.call_kwargs())
        except Exception as e:  # noqa: BLE001 - report every failing case of the block
            failures.append(f"{case.repro()}: raised {type(e).__name__}: {e}")
            continue
        if case.as_torch and not isinstance(gx, torch.Tensor):
            failures.append(f"{case.repro()}: a torch grad_output gave {type(gx).__name__}")
            continue
        if not case.as_torch and not isinstance(gx, np.ndarray):
            failures.append(f"{case.repro()}: a NumPy grad_output gave {type(gx).__name__}")
            continue
        gx = to_numpy(gx)
        if gx.dtype != case.dtype:
            failures.append(f"{case.repro()}: dtype {gx.dtype} != {case.dtype}")
            continue
        ok, why = close(gx, expected, case.dtype)
        if not ok:
            failures.append(f"{case.repro()} [vs {source}]: {why}")
    check_block(failures, n_cases)


@pytest.mark.parametrize("block", range(BACKWARD_BLOCKS))
@pytest.mark.parametrize("mode", list(TORCH_MODES))
def test_backward_matches_torch(mode, block):
    skip_if_torch_lacks(mode)
    run_backward_block(mode, block, BACKWARD_CASES_PER_BLOCK)


@pytest.mark.parametrize("block", range(EXTENSION_BLOCKS))
@pytest.mark.parametrize("kind", list(EXTENSION_KINDS))
def test_backward_extensions_match_reference(kind, block):
    run_backward_block(kind, block, BACKWARD_CASES_PER_BLOCK)


def test_reference_backward_matches_torch():
    """reference.interpolate_backward is PyTorch's autograd where PyTorch is self-consistent."""
    failures = []
    n = 0
    for mode in ["linear", "bilinear", "bicubic", "trilinear", "area", "lanczos"]:
        if torch_lacks(mode):  # the other modes are still compared
            continue
        for i in range(25):
            case = make_case(mode, 1100, i, layouts=False)
            g64 = case.grad_output64()
            want, source = expected_backward(case, g64)
            if source != "torch autograd":
                continue
            n += 1
            case.dtype = np.dtype(np.float64)
            want = torch_backward(case, g64)
            got = reference.interpolate_backward(g64, case.shape, mode=case.mode, **case.kwargs)
            ok, why = close(got, want, np.float64)
            if not ok:
                failures.append(f"{case.repro()}: {why}")
    check_block(failures, n)


# Cases where PyTorch's backward kernel does not transpose its forward kernel.
TORCH_INCONSISTENT = [
    ((1, 1, 16), np.float64, dict(size=82, mode="nearest")),
    ((1, 1, 32), np.float64, dict(size=41, mode="nearest-exact")),
    ((1, 1, 6), np.float32, dict(scale_factor=2.1, mode="nearest", recompute_scale_factor=False)),
    ((1, 1, 9, 4), np.float64, dict(scale_factor=(0.9, 1.15), mode="bilinear", antialias=True,
                                     recompute_scale_factor=False)),
    ((1, 1, 6, 8), np.float64, dict(scale_factor=(1.08, 0.47), mode="lanczos", antialias=True)),
]


@pytest.mark.parametrize("shape,dtype,kwargs", TORCH_INCONSISTENT,
                         ids=[f"{s}-{np.dtype(d).name}-{k}" for s, d, k in TORCH_INCONSISTENT])
def test_backward_is_adjoint_of_torch_forward_where_torch_is_inconsistent(shape, dtype, kwargs):
    kw = dict(kwargs)
    mode = kw.pop("mode")
    skip_if_torch_lacks(mode)
    case = Case("nearest", 0, 0, mode, shape, np.dtype(dtype), kw)
    g64 = np.random.default_rng(4).standard_normal(case.out_shape).astype(dtype).astype(np.float64)
    adjoint = reference.apply_transposed(g64, torch_forward_axis_matrices(case))
    autograd = torch_backward(case, g64)
    assert not close(autograd, adjoint, dtype)[0], "PyTorch became self-consistent here: drop this case"
    got = tessera.interpolate_backward(g64.astype(dtype), shape, **kwargs)
    ok, why = close(got, adjoint, dtype)
    assert ok, why


@pytest.mark.parametrize("mode,shape,kw", [
    ("bilinear", (2, 3, 5, 7), dict(size=(9, 4))),
    ("trilinear", (1, 2, 3, 4, 5), dict(scale_factor=2.0)),
    ("nearest", (2, 3, 11), dict(scale_factor=0.5)),
    ("area", (1, 2, 9, 9), dict(size=(4, 2))),
])
def test_backward_torch_tensor_in_torch_tensor_out(mode, shape, kw):
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    y = F.interpolate(x, mode=mode, **kw)
    g = torch.randn_like(y)
    (want,) = torch.autograd.grad(y, x, g)
    got = tessera.interpolate_backward(g, tuple(shape), mode=mode, **kw)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64 and tuple(got.shape) == shape
    ok, why = close(got.numpy(), want.numpy(), np.float64)
    assert ok, why
    # input_size may be a list or a torch.Size
    np.testing.assert_array_equal(
        tessera.interpolate_backward(g.numpy(), list(shape), mode=mode, **kw), got.numpy())
    np.testing.assert_array_equal(
        tessera.interpolate_backward(g.numpy(), torch.Size(shape), mode=mode, **kw), got.numpy())
