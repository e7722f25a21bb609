"""Bit-for-bit reproducibility: forward and backward give the same bytes for every thread count and
on repeated calls, on cases large enough that the work is really split between threads."""

import numpy as np
import pytest
import torch

import tessera

THREADS = [1, 2, 3, 8]

CASES = [
    # (mode, shape, kwargs)
    ("nearest", (2, 3, 64, 64), dict(scale_factor=3)),
    ("nearest-exact", (2, 3, 64, 64), dict(scale_factor=3)),
    ("bilinear", (2, 3, 64, 64), dict(scale_factor=3)),
    ("bilinear", (2, 3, 64, 64), dict(scale_factor=3, align_corners=True)),
    ("bicubic", (2, 3, 64, 64), dict(scale_factor=3)),
    ("bilinear", (2, 3, 192, 160), dict(scale_factor=0.3, antialias=True)),
    ("bicubic", (2, 3, 192, 160), dict(size=(37, 101), antialias=True)),
    ("lanczos", (2, 3, 192, 160), dict(scale_factor=0.25, antialias=True)),
    ("area", (2, 3, 192, 160), dict(size=(50, 33))),
    ("linear", (4, 8, 4096), dict(scale_factor=3.3)),
    ("trilinear", (2, 3, 16, 24, 20), dict(scale_factor=2.5)),
    ("cubic", (2, 3, 16, 24, 20), dict(scale_factor=(2, 0.5, 3))),
    ("trilinear", (1, 2, 40, 40, 40), dict(scale_factor=0.3, antialias=True)),
    ("area", (1, 2, 40, 40, 40), dict(size=(7, 13, 40))),
]


def _bits(a) -> bytes:
    if isinstance(a, torch.Tensor):
        a = a.detach().numpy()
    return np.ascontiguousarray(a).tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode,shape,kw", CASES, ids=[f"{m}-{s}-{k}" for m, s, k in CASES])
def test_same_bits_for_every_thread_count(mode, shape, kw, dtype):
    rng = np.random.default_rng(1234)
    x = rng.standard_normal(shape).astype(dtype)
    out_shape = tessera.output_shape(shape, mode=mode, **kw)
    g = rng.standard_normal(out_shape).astype(dtype)
    fwd, bwd = set(), set()
    for n in THREADS + [THREADS[-1], THREADS[0]]:
        tessera.set_num_threads(n)
        assert tessera.get_num_threads() == n
        for _ in range(2):
            y = tessera.interpolate(x, mode=mode, **kw)
            gx = tessera.interpolate_backward(g, shape, mode=mode, **kw)
            fwd.add(_bits(y))
            bwd.add(_bits(gx))
    assert len(fwd) == 1, f"forward differs between thread counts / runs ({len(fwd)} distinct results)"
    assert len(bwd) == 1, f"backward differs between thread counts / runs ({len(bwd)} distinct results)"


@pytest.mark.parametrize("mode,kw", [("bilinear", dict(scale_factor=3)), ("bicubic", dict(size=(50, 70), antialias=True)),
                                     ("nearest", dict(scale_factor=2.5))])
def test_same_bits_for_channels_last_and_torch(mode, kw):
    """The layout and array kind do not change the bits either, whatever the thread count."""
    x = np.random.default_rng(5).standard_normal((2, 3, 64, 64)).astype(np.float32)
    results = set()
    for n in THREADS:
        tessera.set_num_threads(n)
        results.add(_bits(tessera.interpolate(x, mode=mode, **kw)))
        t = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
        results.add(_bits(tessera.interpolate(t, mode=mode, **kw).contiguous()))
        nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
        results.add(_bits(tessera.interpolate(nhwc, mode=mode, **kw)))
    assert len(results) == 1


def test_thread_count_roundtrip():
    tessera.set_num_threads(3)
    assert tessera.get_num_threads() == 3
    tessera.set_num_threads(1)
    assert tessera.get_num_threads() == 1
