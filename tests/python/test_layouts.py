"""Memory layouts: channels-last in gives channels-last out with bitwise the values of the
contiguous path; strided views give bitwise the result of their contiguous copies."""

import numpy as np
import pytest
import torch

import tessera
from conftest import is_numpy_channels_last, numpy_channels_last

CASES_4D = [
    ("nearest", dict(scale_factor=2)),
    ("nearest", dict(size=(5, 12))),  # PyTorch's channels-last nearest kernel differs here
    ("nearest-exact", dict(scale_factor=(1.7, 0.6))),
    ("area", dict(size=(3, 4))),
    ("bilinear", dict(size=(13, 7))),
    ("bilinear", dict(scale_factor=2.5, align_corners=True)),
    ("bilinear", dict(scale_factor=0.4, antialias=True)),
    ("bicubic", dict(size=(13, 7))),
    ("bicubic", dict(size=(3, 20), antialias=True)),
    ("lanczos", dict(scale_factor=0.5, antialias=True)),
    ("cubic", dict(scale_factor=(1.0, 3.0))),
]
CASES_5D = [
    ("nearest", dict(scale_factor=(2, 1, 0.5))),
    ("nearest-exact", dict(size=(3, 5, 7))),
    ("area", dict(size=(2, 3, 2))),
    ("trilinear", dict(size=(5, 2, 9))),
    ("trilinear", dict(scale_factor=0.5, antialias=True)),
    ("cubic", dict(size=(5, 2, 9), align_corners=True)),
]


def _ids(cases):
    return [f"{m}-{k}" for m, k in cases]


def _cases():
    for mode, kw in CASES_4D:
        yield mode, (2, 3, 8, 10), kw
    for mode, kw in CASES_5D:
        yield mode, (2, 3, 4, 6, 5), kw


ALL = list(_cases())
ALL_IDS = [f"{m}-{len(s)}d-{k}" for m, s, k in ALL]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mode,shape,kw", ALL, ids=ALL_IDS)
def test_torch_channels_last(mode, shape, kw, dtype):
    x = torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(0))
    fmt = torch.channels_last if len(shape) == 4 else torch.channels_last_3d
    want = tessera.interpolate(x, mode=mode, **kw)
    assert want.is_contiguous()
    xc = x.contiguous(memory_format=fmt)
    got = tessera.interpolate(xc, mode=mode, **kw)
    assert isinstance(got, torch.Tensor) and got.dtype == dtype
    assert got.is_contiguous(memory_format=fmt), got.stride()
    assert torch.equal(got.contiguous(), want)
    # the input is left alone
    assert torch.equal(xc, x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode,shape,kw", ALL, ids=ALL_IDS)
def test_numpy_nhwc_view(mode, shape, kw, dtype):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    want = tessera.interpolate(x, mode=mode, **kw)
    assert want.flags["C_CONTIGUOUS"]
    xv = numpy_channels_last(x)
    assert not xv.flags["C_CONTIGUOUS"]
    got = tessera.interpolate(xv, mode=mode, **kw)
    assert isinstance(got, np.ndarray) and got.dtype == dtype and got.shape == want.shape
    assert is_numpy_channels_last(got), got.strides
    np.testing.assert_array_equal(got, want)
    # the NHWC array behind the output is what a NHWC user expects
    np.testing.assert_array_equal(np.moveaxis(got, 1, -1), np.moveaxis(want, 1, -1))


@pytest.mark.parametrize("mode,shape,kw", ALL, ids=ALL_IDS)
def test_channels_last_backward(mode, shape, kw):
    out = tessera.output_shape(shape, mode=mode, **kw)
    g = np.random.default_rng(2).standard_normal(out)
    want = tessera.interpolate_backward(g, shape, mode=mode, **kw)
    got = tessera.interpolate_backward(numpy_channels_last(g), shape, mode=mode, **kw)
    np.testing.assert_array_equal(np.asarray(got), want)
    fmt = torch.channels_last if len(shape) == 4 else torch.channels_last_3d
    gt = torch.from_numpy(g).contiguous(memory_format=fmt)
    got_t = tessera.interpolate_backward(gt, shape, mode=mode, **kw)
    assert isinstance(got_t, torch.Tensor)
    np.testing.assert_array_equal(got_t.contiguous().numpy(), want)


def _views(x):
    nd = x.ndim
    yield "step-slices", x[:, ::2, 1::2, ::3] if nd == 4 else x[:, ::2, ..., ::2]
    yield "negative-steps", x[..., ::-1, :] if nd >= 4 else x[..., ::-1]
    if nd >= 4:
        yield "transposed-spatial", np.swapaxes(x, -1, -2)
    yield "batch-channel-swapped", np.swapaxes(x, 0, 1)
    yield "fortran-order", np.asfortranarray(x)
    yield "channel-stride", x[:, ::2]
    yield "offset", x[1:, :, 1:]


VIEW_CASES = [
    ("nearest", (4, 5, 9, 12), dict(size=(7, 17))),
    ("nearest-exact", (4, 5, 9, 12), dict(scale_factor=0.7)),
    ("bilinear", (4, 5, 9, 12), dict(scale_factor=2.3)),
    ("bilinear", (4, 5, 18, 24), dict(size=(5, 7), antialias=True)),
    ("bicubic", (4, 5, 9, 12), dict(size=(4, 30), align_corners=True)),
    ("lanczos", (4, 5, 18, 24), dict(size=(5, 7), antialias=True)),
    ("area", (4, 5, 9, 12), dict(size=(4, 5))),
    ("linear", (4, 5, 13), dict(size=29)),
    ("area", (4, 5, 13), dict(size=6)),
    ("trilinear", (4, 5, 6, 7, 8), dict(scale_factor=(1.5, 0.5, 2))),
    ("cubic", (4, 5, 6, 7, 8), dict(size=(3, 9, 4))),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode,shape,kw", VIEW_CASES, ids=[f"{m}-{s}-{k}" for m, s, k in VIEW_CASES])
def test_strided_views(mode, shape, kw, dtype):
    base = np.random.default_rng(3).standard_normal(shape).astype(dtype)
    for name, view in _views(base):
        copy = np.ascontiguousarray(view)
        want = tessera.interpolate(copy, mode=mode, **kw)
        got = tessera.interpolate(view, mode=mode, **kw)
        assert got.shape == want.shape, name
        np.testing.assert_array_equal(got, want, err_msg=name)
        assert got.flags["C_CONTIGUOUS"], f"{name}: a view that is not channels-last gave strides {got.strides}"
        # the same through torch (a strided tensor)
        t = torch.from_numpy(view) if view.strides and min(view.strides) >= 0 else torch.from_numpy(copy)
        got_t = tessera.interpolate(t, mode=mode, **kw)
        np.testing.assert_array_equal(got_t.contiguous().numpy(), want, err_msg=name + " (torch)")
        # and the backward of a strided grad_output
        g = np.random.default_rng(4).standard_normal((2,) + want.shape).astype(dtype)[0]
        g_view = np.swapaxes(np.ascontiguousarray(np.swapaxes(g, -1, -2)), -1, -2)
        np.testing.assert_array_equal(
            tessera.interpolate_backward(g_view, copy.shape, mode=mode, **kw),
            tessera.interpolate_backward(np.ascontiguousarray(g), copy.shape, mode=mode, **kw),
            err_msg=name + " (backward)")


def test_torch_strided_tensor():
    x = torch.randn(3, 4, 10, 12, dtype=torch.float64)
    view = x[:, 1::2, ::3, 2:].transpose(2, 3)
    want = tessera.interpolate(view.contiguous(), size=(6, 5), mode="bicubic")
    got = tessera.interpolate(view, size=(6, 5), mode="bicubic")
    assert torch.equal(got, want)
    assert got.is_contiguous()


def test_readonly_and_requires_grad_inputs():
    x = np.random.default_rng(6).standard_normal((1, 2, 5, 6))
    x.flags.writeable = False
    y = tessera.interpolate(x, size=(9, 3), mode="bilinear")
    t = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = tessera.interpolate(t, size=(9, 3), mode="bilinear")
    assert isinstance(yt, torch.Tensor)
    np.testing.assert_array_equal(yt.detach().numpy(), y)


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "linear-aa", "area"])
def test_output_never_aliases_input(mode):
    """Even when the output size equals the input size (an identity copy) the output is new memory."""
    kw = dict(antialias=True) if mode.endswith("-aa") else {}
    mode = mode.replace("-aa", "")
    shape = (1, 2, 7) if mode == "linear" else (1, 2, 5, 6)
    x = np.random.default_rng(7).standard_normal(shape)
    keep = x.copy()
    y = tessera.interpolate(x, size=shape[2:], mode=mode, **kw)
    np.testing.assert_array_equal(y, keep)
    assert not np.shares_memory(x, y)
    y[...] = 0
    np.testing.assert_array_equal(x, keep)


@pytest.mark.parametrize("shape", [(2, 1, 5, 6), (2, 3, 1, 1), (1, 3, 4, 1, 1)])
def test_ambiguous_layouts(shape):
    """Shapes where contiguous and channels-last strides coincide: any layout, same values."""
    x = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    fmt = torch.channels_last if len(shape) == 4 else torch.channels_last_3d
    size = (3,) * (len(shape) - 2)
    want = tessera.interpolate(x, size=size, mode="nearest")
    got = tessera.interpolate(x.contiguous(memory_format=fmt), size=size, mode="nearest")
    assert torch.equal(got.contiguous(), want.contiguous())
