"""tessera.dask: chunked interpolate, bitwise the in-memory result for any chunking; each output chunk
depends only on the input chunks its region needs; runs on a dask.distributed cluster."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import tessera

da = pytest.importorskip("dask.array")
from dask.core import get_dependencies  # noqa: E402

import tessera.dask as tdask  # noqa: E402

CASES = [
    ("nearest", dict(size=(23, 7))),
    ("nearest-exact", dict(scale_factor=1.7)),
    ("area", dict(scale_factor=(0.5, 0.3))),
    ("bilinear", dict(scale_factor=2.3, align_corners=True)),
    ("bilinear", dict(size=(9, 14), antialias=True)),
    ("bicubic", dict(size=(40, 13))),
    ("bicubic", dict(scale_factor=0.4, antialias=True)),
    ("lanczos", dict(scale_factor=0.45, antialias=True)),
    ("cubic", dict(scale_factor=(3.0, 0.7), antialias=True)),
]
CASE_IDS = [f"{m}-{k}" for m, k in CASES]


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view({4: np.uint32, 8: np.uint64}[a.itemsize])


def assert_bitwise(got, want):
    assert got.shape == want.shape and got.dtype == want.dtype
    assert np.array_equal(_bits(got), _bits(want))


def _random_chunks(rng, n: int, small: bool) -> tuple:
    """Uneven chunks summing to n; `small` makes them 1 to 3 long (below most filters' support)."""
    chunks = []
    while sum(chunks) < n:
        chunks.append(int(rng.integers(1, 4)) if small else int(rng.integers(1, max(2, n // 2) + 1)))
    chunks[-1] -= sum(chunks) - n
    return tuple(c for c in chunks if c)


@pytest.mark.parametrize("mode,kw", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_chunkings_bitwise(mode, kw, dtype):
    rng = np.random.default_rng(zlib.crc32(f"{mode} {kw} {np.dtype(dtype).name}".encode()))
    x = rng.standard_normal((2, 3, 19, 26)).astype(dtype)
    want = tessera.interpolate(x, mode=mode, **kw)
    for trial in range(4):
        small = trial % 2 == 0
        chunks = (_random_chunks(rng, 2, False), _random_chunks(rng, 3, False),
                  _random_chunks(rng, 19, small), _random_chunks(rng, 26, small))
        y = tdask.interpolate(da.from_array(x, chunks=chunks), mode=mode, **kw)
        assert y.shape == want.shape and y.dtype == want.dtype
        assert y.chunks[:2] == chunks[:2]
        assert_bitwise(y.compute(scheduler="threads"), want)
    # output chunks chosen by the caller, N and C included
    y = tdask.interpolate(da.from_array(x, chunks=(1, 2, 5, 7)), mode=mode, chunks=(2, 1, 3, 4), **kw)
    assert y.chunks[1] == (1, 1, 1)
    assert_bitwise(y.compute(scheduler="sync"), want)


@pytest.mark.parametrize("mode,kw", [("trilinear", dict(scale_factor=(1.5, 0.5, 2))), ("area", dict(size=(3, 4, 5))),
                                     ("nearest", dict(scale_factor=0.6)), ("cubic", dict(size=(9, 2, 7)))])
def test_volumes_and_lines(mode, kw):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 2, 7, 6, 9))
    chunks = (1, 1, (2, 5), (1, 1, 1, 3), (4, 2, 3))
    assert_bitwise(tdask.interpolate(da.from_array(x, chunks=chunks), mode=mode, **kw).compute(),
                   tessera.interpolate(x, mode=mode, **kw))
    line = x[:, :, 0, 0]
    assert_bitwise(tdask.interpolate(da.from_array(line, chunks=(1, 1, 2)), size=20, mode="linear").compute(),
                   tessera.interpolate(line, size=20, mode="linear"))


def test_default_output_chunks_follow_the_input():
    x = da.zeros((2, 3, 100, 60), chunks=(1, 3, 25, 30), dtype=np.float32)
    y = tdask.interpolate(x, scale_factor=2, mode="bilinear")
    assert y.chunks == ((1, 1), (3,), (50,) * 4, (60, 60))
    y = tdask.interpolate(x, size=(10, 60), mode="area")
    assert y.chunks == ((1, 1), (3,), (2, 3, 2, 3), (30, 30))
    y = tdask.interpolate(x, size=(2, 1), mode="area")  # a downsample merges chunks
    assert y.chunks == ((1, 1), (3,), (1, 1), (1,))


def test_an_output_chunk_depends_only_on_the_input_chunks_it_needs():
    x = da.from_array(np.zeros((1, 1, 64, 64), np.float32), chunks=(1, 1, 8, 8))
    y = tdask.interpolate(x, scale_factor=0.5, mode="bicubic", antialias=True)
    graph = dict(y.__dask_graph__())
    input_keys = {k for k in graph if isinstance(k, tuple) and k[0] == x.name}
    assert len(input_keys) == 64
    for key in [(y.name, 0, 0, 0, 0), (y.name, 0, 0, 3, 5), (y.name, 0, 0, 7, 7)]:
        deps = get_dependencies(graph, key)
        assert deps and deps <= input_keys
        assert len(deps) < len(input_keys)
        # exactly the chunks overlapping the required box
        region = tuple((key[3 + d] * 4, key[3 + d] * 4 + 4) for d in range(2))
        box = tessera.required_input_region(x.shape, region, scale_factor=0.5, mode="bicubic", antialias=True)
        expected = {(x.name, 0, 0, i, j)
                    for i in range(box[0][0] // 8, (box[0][1] - 1) // 8 + 1)
                    for j in range(box[1][0] // 8, (box[1][1] - 1) // 8 + 1)}
        assert deps == expected


def test_errors():
    x = da.zeros((1, 1, 8, 8), chunks=4, dtype=np.float32)
    with pytest.raises(TypeError, match="darray: expected a dask.array.Array"):
        tdask.interpolate(np.zeros((1, 1, 8, 8), np.float32), size=4)
    with pytest.raises(TypeError, match="dtype int64"):
        tdask.interpolate(da.zeros((1, 1, 8, 8), chunks=4, dtype=np.int64), size=4)
    with pytest.raises(ValueError, match="at least one spatial dim"):
        tdask.interpolate(da.zeros((8, 8), chunks=4, dtype=np.float32), size=4)
    with pytest.raises(ValueError, match="lanczos"):
        tdask.interpolate(x, size=4, mode="lanczos")
    with pytest.raises(ValueError, match="unknown"):  # a boolean mask leaves the chunk sizes unknown
        tdask.interpolate(da.zeros((1, 1, 8, 8), chunks=4, dtype=np.float32)[:, :, da.arange(8) > 3], size=2)


def test_distributed_local_cluster():
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 30, 41)).astype(np.float32)
    kw = dict(scale_factor=0.6, mode="bicubic", antialias=True)
    y = tdask.interpolate(da.from_array(x, chunks=(1, 1, 7, (3, 20, 18))), **kw)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        got = client.compute(y).result(timeout=120)
    assert_bitwise(got, tessera.interpolate(x, **kw))
