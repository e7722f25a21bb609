"""tessera.tiled: streamed interpolate of memory-mapped and zarr arrays, bitwise the in-memory result,
within a memory bound; argument errors; ``tessera resize`` streaming a TIFF larger than --max-memory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import tessera
import tessera.tiled as tiled
from tessera import imageio
from tessera.cli import main as cli_main

CASES = [
    ("bicubic", dict(scale_factor=0.37, antialias=True)),
    ("bilinear", dict(size=(151, 49), align_corners=True)),
    ("area", dict(scale_factor=0.5)),
    ("nearest", dict(size=(40, 300))),
    ("lanczos", dict(size=(33, 70), antialias=True)),
    ("cubic", dict(scale_factor=(1.7, 0.8))),
]
CASE_IDS = [f"{m}-{k}" for m, k in CASES]


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.itemsize]) if a.dtype.kind == "f" else a


def assert_bitwise(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    assert np.array_equal(_bits(got), _bits(want))


def _memmap(path, array, mode="r"):
    array.tofile(path)
    return np.memmap(path, dtype=array.dtype, mode=mode, shape=array.shape)


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).standard_normal((2, 3, 97, 131)).astype(np.float32)


# ---------------------------------------------------------------------------
# bitwise equal to the in-memory result
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode,kw", CASES, ids=CASE_IDS)
def test_memmap_source_many_tiles_several_workers(tmp_path, image, mode, kw):
    src = _memmap(tmp_path / "src.f32", image)
    want = tessera.interpolate(image, mode=mode, **kw)
    dst = np.memmap(tmp_path / "dst.f32", dtype=np.float32, mode="w+", shape=want.shape)
    plan = tiled.plan_tiles(src.shape, src.dtype, dst, mode=mode, max_memory=60_000, num_workers=3, **kw)
    assert plan.num_tiles >= 10, plan
    out = tiled.interpolate(src, dst, mode=mode, max_memory=60_000, num_workers=3, **kw)
    assert out is dst
    assert_bitwise(dst, want)


@pytest.mark.parametrize("mode,kw", CASES[:3], ids=CASE_IDS[:3])
def test_zarr_source_and_destination(tmp_path, image, mode, kw):
    zarr = pytest.importorskip("zarr")
    src = zarr.open_array(tmp_path / "src.zarr", mode="w", shape=image.shape, chunks=(1, 2, 20, 33), dtype="f4")
    src[...] = image
    want = tessera.interpolate(image, mode=mode, **kw)
    dst = zarr.open_array(tmp_path / "dst.zarr", mode="w", shape=want.shape, chunks=(1, 1, 16, 16), dtype="f4")
    plan = tiled.plan_tiles(src.shape, src.dtype, dst, mode=mode, max_memory=80_000, num_workers=2, **kw)
    assert plan.num_tiles >= 8 and plan.aligned, plan
    tiled.interpolate(src, dst, mode=mode, max_memory=80_000, num_workers=2, **kw)
    assert_bitwise(dst[...], want)


def test_zarr_destination_with_tiles_across_chunks_is_serialized(tmp_path, image):
    """Tiles that do not align with the destination's chunks would race on a chunk's read-modify-write;
    their writes are serialized, and the result is still exact."""
    zarr = pytest.importorskip("zarr")
    kw = dict(size=(90, 120), mode="bilinear")
    want = tessera.interpolate(image, **kw)
    dst = zarr.open_array(tmp_path / "dst.zarr", mode="w", shape=want.shape, chunks=(2, 3, 32, 32), dtype="f4")
    plan = tiled.plan_tiles(image.shape, image.dtype, dst, tile=(7, 9), num_workers=2, **kw)
    assert not plan.aligned
    tiled.interpolate(image, dst, tile=(7, 9), num_workers=2, **kw)
    assert_bitwise(dst[...], want)


@pytest.mark.parametrize("mode,kw", [("trilinear", dict(scale_factor=(0.6, 1.5, 0.8))), ("area", dict(size=(5, 9, 4))),
                                     ("cubic", dict(size=(11, 7, 9), antialias=True))])
def test_volumes(tmp_path, mode, kw):
    x = np.random.default_rng(1).standard_normal((1, 2, 13, 17, 11))
    src = _memmap(tmp_path / "v.f64", x)
    want = tessera.interpolate(x, mode=mode, **kw)
    got = tiled.interpolate(src, mode=mode, max_memory=30_000, num_workers=2, **kw)
    assert isinstance(got, np.ndarray) and not isinstance(got, np.memmap)
    assert_bitwise(got, want)


def test_one_spatial_dim(image):
    x = image.reshape(2, 3, -1)
    kw = dict(size=3000, mode="linear", antialias=False)
    assert_bitwise(tiled.interpolate(x, max_memory=20_000, num_workers=2, **kw), tessera.interpolate(x, **kw))


def test_n_and_c_are_split_when_a_plane_is_too_big():
    x = np.random.default_rng(2).standard_normal((3, 5, 300, 280)).astype(np.float32)
    kw = dict(scale_factor=0.5, mode="bilinear", antialias=True)
    plan = tiled.plan_tiles(x.shape, x.dtype, max_memory=1_000_000, num_workers=1, **kw)
    assert plan.tile[0] < 3 or plan.tile[1] < 5, plan
    assert_bitwise(tiled.interpolate(x, max_memory=1_000_000, num_workers=1, **kw), tessera.interpolate(x, **kw))


def test_explicit_tiles_and_channels_last_source(tmp_path):
    """An (H, W, C) memory-mapped image seen as (1, C, H, W) through ImageView (channels-last boxes)."""
    hwc = np.random.default_rng(3).standard_normal((61, 47, 4)).astype(np.float32)
    src = tiled.ImageView(_memmap(tmp_path / "hwc.f32", hwc), "yxc")
    full = imageio.as_nchw(hwc)
    for mode, kw, tiles in [
        ("nearest", dict(size=(5, 12)), [(1, 1), (2, 5), (1, 3, 1, 2)]),
        ("bicubic", dict(scale_factor=1.9), [(7, 11), (1, 4, 9, 5), (64, 64)]),
    ]:
        want = tessera.interpolate(full, mode=mode, **kw)
        for tile in tiles:
            got = tiled.interpolate(src, tile=tile, num_workers=2, mode=mode, **kw)
            assert_bitwise(got, want)


def test_integer_source_is_rounded_like_tessera_resize(tmp_path):
    hwc = np.random.default_rng(4).integers(0, 65536, size=(40, 33, 3), dtype=np.uint16)
    src = tiled.ImageView(_memmap(tmp_path / "u16", hwc), "yxc")
    kw = dict(scale_factor=2.5, mode="bicubic")  # overshoots: clipped to [0, 65535]
    want = imageio.resize_image(hwc, scale=2.5, mode="bicubic")
    out = np.zeros((100, 82, 3), np.uint16)
    tiled.interpolate(src, tiled.ImageView(out, "yxc"), max_memory=50_000, num_workers=2, **kw)
    assert np.array_equal(out, want)
    as_float = tiled.interpolate(src, np.zeros((1, 3, 100, 82), np.float32), **kw)
    assert_bitwise(as_float, tessera.interpolate(imageio.as_nchw(hwc.astype(np.float32)), **kw))
    assert tiled.interpolate(src, **kw).dtype == np.uint16


def test_float16_source():
    x = np.random.default_rng(5).standard_normal((1, 2, 50, 40)).astype(np.float16)
    kw = dict(size=(23, 61), mode="bilinear")
    assert_bitwise(tiled.interpolate(x, max_memory=20_000, **kw), tessera.interpolate(x, **kw))


def test_progress_reports_every_tile(image):
    class Counter:
        total = None

        def __init__(self):
            self.n = 0
            self.lock = threading.Lock()

        def update(self, n):
            with self.lock:
                self.n += n

    counter = Counter()
    kw = dict(scale_factor=0.5, mode="area")
    tiled.interpolate(image, tile=(10, 10), num_workers=2, progress=counter, **kw)
    assert counter.n == counter.total
    assert counter.n == tiled.plan_tiles(image.shape, image.dtype, tile=(10, 10), **kw).num_tiles


def test_tqdm_progress_bar(image, capsys):
    pytest.importorskip("tqdm")
    kw = dict(scale_factor=0.5, mode="area")
    want = tessera.interpolate(image, **kw)
    assert_bitwise(tiled.interpolate(image, tile=(8, 8), progress=True, **kw), want)
    assert "tile" in capsys.readouterr().err


def test_thread_count_is_restored(image):
    before = tessera.get_num_threads()
    tiled.interpolate(image, tile=(9, 9), num_workers=2, size=(30, 30), mode="bilinear")
    assert tessera.get_num_threads() == before


def test_empty_output(image):
    out = tiled.interpolate(image[:0], size=(4, 4), mode="bilinear")
    assert out.shape == (0, 3, 4, 4)


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------


def test_bad_destinations(image):
    kw = dict(size=(20, 30), mode="bilinear")
    with pytest.raises(ValueError, match=r"dst: expected shape \(2, 3, 20, 30\)"):
        tiled.interpolate(image, np.zeros((2, 3, 20, 31), np.float32), **kw)
    with pytest.raises(TypeError, match="dst: expected dtype float32"):
        tiled.interpolate(image, np.zeros((2, 3, 20, 30), np.float64), **kw)
    with pytest.raises(TypeError, match="dst: expected dtype float32"):
        tiled.interpolate(image, np.zeros((2, 3, 20, 30), np.uint8), **kw)
    read_only = np.zeros((2, 3, 20, 30), np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="dst: the array is read-only"):
        tiled.interpolate(image, read_only, **kw)
    with pytest.raises(TypeError, match="dst: expected an array-like"):
        tiled.interpolate(image, [[0.0]], **kw)


def test_bad_sources_and_options(image):
    with pytest.raises(TypeError, match="src: expected an array-like"):
        tiled.interpolate([1.0, 2.0], size=4)
    with pytest.raises(ValueError, match="src: expected an array"):
        tiled.interpolate(np.zeros((4, 4), np.float32), size=4)
    with pytest.raises(TypeError, match="src: expected a float16, float32, float64 or integer array"):
        tiled.interpolate(np.zeros((1, 1, 4), bool), size=4)
    with pytest.raises(ValueError, match="max_memory"):
        tiled.interpolate(image, size=4, max_memory=0)
    with pytest.raises(ValueError, match="max_memory: 8 bytes is too small"):
        tiled.interpolate(image, size=4, mode="bilinear", max_memory=8)
    with pytest.raises(ValueError, match="tile"):
        tiled.interpolate(image, size=4, tile=(0, 3))
    with pytest.raises(ValueError, match="tile"):
        tiled.interpolate(image, size=4, tile=(1, 2, 3))
    with pytest.raises(ValueError, match="num_workers"):
        tiled.interpolate(image, size=4, num_workers=0)
    with pytest.raises(TypeError, match="progress"):
        tiled.interpolate(image, size=4, progress="yes")
    with pytest.raises(ValueError, match="lanczos"):
        tiled.interpolate(image, size=4, mode="lanczos")


def test_an_error_in_a_worker_is_raised(image):
    class Failing:
        shape, dtype = image.shape, image.dtype

        def __getitem__(self, key):
            if key[2].start > 40:
                raise OSError("disk read failed")
            return image[key]

    with pytest.raises(OSError, match="disk read failed"):
        tiled.interpolate(Failing(), tile=(5, 5), num_workers=2, size=(90, 90), mode="bilinear")


# ---------------------------------------------------------------------------
# memory: a 1 GB memory-mapped image resized to a quarter in a child process
# ---------------------------------------------------------------------------

_BIG_CHILD = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    import tessera.tiled

    path, out_path, mode = sys.argv[1:4]
    n = 16000
    src = np.memmap(path, dtype=np.float32, mode="r", shape=(1, 1, n, n))
    dst = np.memmap(out_path, dtype=np.float32, mode="w+", shape=(1, 1, n // 4, n // 4))
    kw = dict(mode="area") if mode == "area" else dict(mode="bilinear", antialias=True)
    tessera.tiled.interpolate(src, dst, size=(n // 4, n // 4), progress=False, **kw)
    dst.flush()
    # The peak RSS of this process in KiB. ru_maxrss of a child also counts the parent's resident set at
    # the fork (Linux keeps the larger of the two across exec), so the peak of this process's own memory
    # is read from VmHWM where /proc has it.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        with open("/proc/self/status") as f:
            peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        pass
    print(peak)
    """
)


def _pattern_rows(r0, r1, n):
    """The big test's image, rows r0:r1: a cheap separable pattern, exact in float32."""
    cols = (np.arange(n, dtype=np.float32) % 251) / 256
    rows = (np.arange(r0, r1) % 13).astype(np.float32)
    return rows[:, None] + cols[None, :]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM and the page release are Linux's")
def test_quarter_of_a_1gb_memmap_in_bounded_memory(tmp_path):
    if shutil.disk_usage(tmp_path).free < 3 * 2**30:
        pytest.skip("needs 3 GB free in the temporary directory")
    n = 16000
    path = tmp_path / "big-16000.f32"
    with open(path, "wb") as f:
        for r0 in range(0, n, 1000):
            _pattern_rows(r0, r0 + 1000, n).tofile(f)
    try:
        for mode in ("area", "bilinear-antialias"):
            _check_quarter(path, tmp_path / f"quarter-{mode}.f32", mode, n)
    finally:
        os.remove(path)


def _check_quarter(path, out_path, mode, n):
    result = subprocess.run([sys.executable, "-c", _BIG_CHILD, str(path), str(out_path), mode], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    peak_mb = int(result.stdout.split()[-1]) / 1024
    assert peak_mb < 300, f"{mode}: peak RSS {peak_mb:.0f} MB"

    out = np.memmap(out_path, dtype=np.float32, mode="r", shape=(1, 1, n // 4, n // 4))
    src = np.memmap(path, dtype=np.float32, mode="r", shape=(1, 1, n, n))
    kw = dict(mode="area") if mode == "area" else dict(mode="bilinear", antialias=True)
    rng = np.random.default_rng(0)
    for _ in range(3):  # spot checks: random output blocks against interpolate_region from the box
        y0, x0 = (int(v) for v in rng.integers(0, n // 4 - 64, size=2))
        region = ((y0, y0 + 64), (x0, x0 + 64))
        box = tessera.required_input_region(src.shape, region, size=(n // 4, n // 4), **kw)
        part = np.array(src[:, :, box[0][0]:box[0][1], box[1][0]:box[1][1]])
        want = tessera.interpolate_region(part, src.shape, (box[0][0], box[1][0]), region, size=(n // 4, n // 4), **kw)
        assert_bitwise(out[:, :, y0:y0 + 64, x0:x0 + 64], want)
    if mode == "area":  # the mean of each 4x4 block of the pattern
        rows = np.asarray(out[0, 0, :8], dtype=np.float64)
        block = _pattern_rows(0, 32, n).astype(np.float64).reshape(8, 4, n // 4, 4).mean(axis=(1, 3))
        np.testing.assert_allclose(rows, block, rtol=1e-6)
    del out, src
    os.remove(out_path)


# ---------------------------------------------------------------------------
# tessera resize --max-memory: a TIFF larger than the budget is streamed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layout,dtype,args",
    [
        ("contig", np.uint16, ["--scale", "0.37", "--mode", "bicubic", "--antialias"]),
        ("planar", np.uint8, ["--size", "150x90", "--mode", "lanczos", "--antialias"]),
        ("compressed", np.float32, ["--scale", "1.5x0.5", "--mode", "bilinear", "--align-corners"]),
        ("gray", np.uint16, ["--size", "61x70", "--mode", "area"]),
    ],
)
def test_resize_streams_a_tiff_larger_than_max_memory(tmp_path, capsys, layout, dtype, args):
    tifffile = pytest.importorskip("tifffile")
    rng = np.random.default_rng(6)
    if dtype == np.float32:
        image = rng.standard_normal((210, 190, 3)).astype(dtype)
    else:
        image = rng.integers(0, np.iinfo(dtype).max, size=(210, 190, 3), endpoint=True, dtype=dtype)
    src = tmp_path / "in.tif"
    if layout == "planar":
        tifffile.imwrite(src, image.transpose(2, 0, 1).copy(), photometric="rgb", planarconfig="separate")
    elif layout == "compressed":
        pytest.importorskip("zarr")
        tifffile.imwrite(src, image, photometric="minisblack", planarconfig="contig", compression="zlib",
                         rowsperstrip=16)
    elif layout == "gray":
        tifffile.imwrite(src, image[:, :, 0], photometric="minisblack")
    else:
        tifffile.imwrite(src, image, photometric="rgb")
    if layout == "compressed":
        try:  # tifffile's zarr store (the lazy reader of compressed TIFFs) needs a recent zarr
            imageio.open_image_lazy(src).close()
        except Exception as exc:
            pytest.skip(f"tifffile cannot read this TIFF through zarr here: {exc}")
    whole, streamed = tmp_path / "whole.tif", tmp_path / "streamed.tif"
    assert cli_main(["resize", str(src), str(whole), *args]) == 0
    assert "tiled" not in capsys.readouterr().out
    assert cli_main(["resize", str(src), str(streamed), *args, "--max-memory", "64k"]) == 0
    assert "tiled" in capsys.readouterr().out
    assert_bitwise(imageio.read_image(streamed), imageio.read_image(whole))
    if layout != "compressed":  # a PNG output is computed in memory from the streamed input
        png = tmp_path / "streamed.png"
        if dtype == np.uint8:
            assert cli_main(["resize", str(src), str(png), *args, "--max-memory", "64k"]) == 0
            assert np.array_equal(imageio.read_image(png), imageio.read_image(whole))


def test_parse_memory():
    from tessera.cli import parse_memory

    assert parse_memory("1G") == 2**30
    assert parse_memory("512MiB") == 512 * 2**20
    assert parse_memory("64k") == 65536
    assert parse_memory("1.5m") == 3 * 2**19
    assert parse_memory("1000") == 1000
    for bad in ("", "x", "-1", "0", "1Q"):
        with pytest.raises(Exception):
            parse_memory(bad)
