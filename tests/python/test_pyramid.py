"""``tessera pyramid``: OME-Zarr multiscale pyramids whose levels are bitwise tessera.interpolate of the
full image (--from-full) or of the previous level (--from-previous); metadata; resuming."""

from __future__ import annotations

import os

import numpy as np
import pytest

import tessera
from tessera import imageio, tiled
from tessera.cli import main as cli_main

zarr = pytest.importorskip("zarr")
tifffile = pytest.importorskip("tifffile")


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view({4: np.uint32, 8: np.uint64}[a.itemsize]) if a.dtype.kind == "f" else a


def assert_bitwise(got, want, context=""):
    assert got.shape == want.shape and got.dtype == want.dtype, (context, got.shape, got.dtype, want.shape, want.dtype)
    assert np.array_equal(_bits(got), _bits(want)), context


@pytest.fixture(scope="module")
def rgb_float(tmp_path_factory):
    """A 1500x1300 3-channel float32 TIFF (interleaved) and its pixels as (1, 3, H, W)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:1500, 0:1300].astype(np.float32)
    image = np.stack([np.sin(x / 37.0) * np.cos(y / 23.0), (x + y) / 2800.0, np.zeros_like(x)], axis=-1)
    image += rng.standard_normal(image.shape).astype(np.float32) * 0.05
    path = tmp_path_factory.mktemp("pyramid") / "rgb.tif"
    tifffile.imwrite(path, image, photometric="rgb")
    return path, np.ascontiguousarray(image.transpose(2, 0, 1))[None]


def _levels(out):
    group = zarr.open_group(str(out), mode="r")
    return group, [group[d["path"]][...] for d in group.attrs["multiscales"][0]["datasets"]]


def check_multiscales(group, shapes, has_channels: bool):
    """The OME-NGFF 0.4 multiscales layout, checked key by key."""
    multiscales = group.attrs["multiscales"]
    assert isinstance(multiscales, list) and len(multiscales) == 1
    ms = multiscales[0]
    assert ms["version"] == "0.4"
    axes = ms["axes"]
    names = [a["name"] for a in axes]
    assert names == (["c", "y", "x"] if has_channels else ["y", "x"])
    for a in axes:
        assert a["type"] == ("channel" if a["name"] == "c" else "space")
    datasets = ms["datasets"]
    assert [d["path"] for d in datasets] == [str(k) for k in range(len(shapes))]
    previous = None
    for k, d in enumerate(datasets):
        transforms = d["coordinateTransformations"]
        assert transforms[0]["type"] == "scale"  # exactly one scale, first; at most one translation after it
        assert len(transforms) <= 2 and all(t["type"] == "translation" for t in transforms[1:])
        scale = transforms[0]["scale"]
        assert len(scale) == len(axes) and all(isinstance(v, float) and v > 0 for v in scale)
        if has_channels:
            assert scale[0] == 1.0
        if len(transforms) == 2:
            assert len(transforms[1]["translation"]) == len(axes)
        if previous is not None:
            assert all(s > p for s, p in zip(scale[-2:], previous[-2:])), "scales must increase with the level"
        previous = scale
        array = group[d["path"]]
        assert array.shape == ((3,) if has_channels else ()) + shapes[k]
        assert array.attrs["tessera"]["complete"] is True
    assert datasets[0]["coordinateTransformations"][0]["scale"] == [1.0] * len(axes)
    # Zarr format 2 with '/' chunk keys, as OME-NGFF 0.4 requires
    root = group.store.root if hasattr(group.store, "root") else None
    if root is not None:
        import json

        zarray = json.loads((root / "0" / ".zarray").read_text())
        assert zarray["zarr_format"] == 2 and zarray["dimension_separator"] == "/"
        assert json.loads((root / ".zgroup").read_text())["zarr_format"] == 2


def test_from_full_levels_are_interpolate_of_the_full_image(tmp_path, rgb_float, capsys):
    path, full = rgb_float
    out = tmp_path / "full.zarr"
    args = ["pyramid", str(path), str(out), "--levels", "4", "--mode", "area", "--from-full", "--max-memory", "8M",
            "--chunk", "256"]
    assert cli_main(args) == 0
    assert "level 3: 187x162 computed" in capsys.readouterr().out
    group, levels = _levels(out)
    shapes = [(1500 >> k, 1300 >> k) for k in range(4)]
    check_multiscales(group, shapes, has_channels=True)
    assert_bitwise(levels[0], full[0], "level 0")
    for k in range(1, 4):
        want = tessera.interpolate(full, size=shapes[k], mode="area")[0]
        assert_bitwise(levels[k], want, f"level {k}")


def test_from_previous_levels_are_interpolate_of_the_previous_level(tmp_path, rgb_float):
    path, full = rgb_float
    out = tmp_path / "previous.zarr"
    args = ["pyramid", str(path), str(out), "--levels", "5", "--mode", "bilinear", "--antialias",
            "--from-previous", "--max-memory", "6M"]
    assert cli_main(args) == 0
    group, levels = _levels(out)
    check_multiscales(group, [(1500 >> k, 1300 >> k) for k in range(5)], has_channels=True)
    assert group.attrs["multiscales"][0]["metadata"]["source"] == "previous"
    for k in range(1, 5):
        want = tessera.interpolate(levels[k - 1][None], size=levels[k].shape[1:], mode="bilinear", antialias=True)[0]
        assert_bitwise(levels[k], want, f"level {k}")


def test_uint16_levels_are_rounded_like_tessera_resize(tmp_path):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 65536, size=(301, 257, 3), dtype=np.uint16)
    path = tmp_path / "u16.tif"
    tifffile.imwrite(path, image.transpose(2, 0, 1).copy(), photometric="rgb", planarconfig="separate")
    out = tmp_path / "u16.zarr"
    assert cli_main(["pyramid", str(path), str(out), "--levels", "3", "--mode", "bicubic", "--max-memory", "1M"]) == 0
    group, levels = _levels(out)
    assert all(level.dtype == np.uint16 for level in levels)
    assert np.array_equal(levels[0], image.transpose(2, 0, 1))
    for k in range(1, 3):  # bicubic overshoots: rounded and clipped to [0, 65535] as `tessera resize` does
        previous = levels[k - 1].transpose(1, 2, 0)
        want = imageio.resize_image(previous, size=levels[k].shape[1:], mode="bicubic").transpose(2, 0, 1)
        assert np.array_equal(levels[k], want), f"level {k}"


def test_grayscale_image_gets_y_x_axes(tmp_path):
    from PIL import Image

    gray = np.random.default_rng(2).integers(0, 256, size=(90, 71), dtype=np.uint8)
    path = tmp_path / "gray.png"
    Image.fromarray(gray).save(path)
    out = tmp_path / "gray.zarr"
    assert cli_main(["pyramid", str(path), str(out), "--levels", "3", "--mode", "area"]) == 0
    group, levels = _levels(out)
    check_multiscales(group, [(90, 71), (45, 35), (22, 17)], has_channels=False)
    assert np.array_equal(levels[0], gray)
    want = imageio.resize_image(gray, size=(45, 35), mode="area")
    assert np.array_equal(levels[1], want)


def _mtimes(out):
    return {p: os.stat(os.path.join(d, p)).st_mtime_ns for d, _, files in os.walk(out) for p in files
            if not p.startswith(".")}


def test_rerun_skips_complete_levels(tmp_path, rgb_float, capsys, monkeypatch):
    path, full = rgb_float
    out = tmp_path / "resume.zarr"
    args = ["pyramid", str(path), str(out), "--levels", "4", "--max-memory", "16M"]
    calls = []
    real = tiled.interpolate

    def failing_at_level_2(src, dst, **kw):
        calls.append(kw["size"])
        if kw["size"] == [375, 325]:
            raise RuntimeError("interrupted")
        return real(src, dst, **kw)

    monkeypatch.setattr(tiled, "interpolate", failing_at_level_2)
    with pytest.raises(RuntimeError, match="interrupted"):
        cli_main(args)
    assert "multiscales" not in zarr.open_group(str(out), mode="r").attrs  # not a pyramid yet
    monkeypatch.setattr(tiled, "interpolate", real)
    capsys.readouterr()

    assert cli_main(args) == 0  # levels 0 and 1 were complete: skipped; 2 and 3 computed
    text = capsys.readouterr().out
    assert "level 0: 1500x1300 complete, skipped" in text and "level 1: 750x650 complete, skipped" in text
    assert "level 2: 375x325 computed" in text and "level 3: 187x162 computed" in text
    group, levels = _levels(out)
    check_multiscales(group, [(1500 >> k, 1300 >> k) for k in range(4)], has_channels=True)
    for k in range(1, 4):
        want = tessera.interpolate(levels[k - 1][None], size=levels[k].shape[1:], mode="area")[0]
        assert_bitwise(levels[k], want, f"level {k}")

    before = _mtimes(out)
    assert cli_main(args) == 0  # everything complete: nothing rewritten
    assert capsys.readouterr().out.count("complete, skipped") == 4
    assert _mtimes(out) == before

    # other parameters: the levels they change are recomputed (level 0, the image, is kept), and the
    # group is no pyramid while they are
    seen = []

    def watching(src, dst, **kw):
        seen.append("multiscales" in zarr.open_group(str(out), mode="r").attrs)
        return real(src, dst, **kw)

    monkeypatch.setattr(tiled, "interpolate", watching)
    assert cli_main(args[:-2] + ["--mode", "bicubic"]) == 0
    assert seen == [False] * 3
    text = capsys.readouterr().out
    assert "level 0: 1500x1300 complete, skipped" in text and text.count("computed") == 3
    _, levels = _levels(out)
    want = tessera.interpolate(full, size=(750, 650), mode="bicubic")[0]
    assert_bitwise(levels[1], want, "level 1 after a change of mode")


def test_errors(tmp_path, capsys):
    path = tmp_path / "small.tif"
    tifffile.imwrite(path, np.zeros((20, 12), np.float32))
    assert cli_main(["pyramid", str(path), str(tmp_path / "a.zarr"), "--levels", "5"]) == 2
    assert "at most 4 levels fit" in capsys.readouterr().err
    assert cli_main(["pyramid", str(path), str(tmp_path / "b.zarr"), "--levels", "2", "--mode", "lanczos"]) == 2
    assert "antialias" in capsys.readouterr().err
    assert cli_main(["pyramid", str(tmp_path / "nope.tif"), str(tmp_path / "c.zarr"), "--levels", "2"]) == 2
    assert "input file not found" in capsys.readouterr().err
    assert cli_main(["pyramid", str(path), str(tmp_path / "d.zarr"), "--levels", "0"]) == 2
    assert cli_main(["pyramid", str(path), str(tmp_path / "e.zarr"), "--levels", "2", "--from-full",
                     "--from-previous"]) == 2


def test_build_pyramid_on_an_array(tmp_path):
    from tessera.pyramid import build_pyramid

    image = np.random.default_rng(3).standard_normal((3, 64, 50))
    report = build_pyramid(image, tmp_path / "a.zarr", 3, axes="cyx", mode="bilinear", antialias=True,
                           source="full", progress=False)
    assert report == ["computed"] * 3
    group, levels = _levels(tmp_path / "a.zarr")
    want = tessera.interpolate(image[None], size=(16, 12), mode="bilinear", antialias=True)[0]
    assert_bitwise(levels[2], want)
    assert build_pyramid(image, tmp_path / "a.zarr", 3, axes="cyx", mode="bilinear", antialias=True,
                         source="full") == ["skipped"] * 3


def test_a_changed_input_is_recomputed(tmp_path, capsys):
    path, out = tmp_path / "img.tif", tmp_path / "img.zarr"
    rng = np.random.default_rng(4)
    first, second = (rng.standard_normal((40, 30)).astype(np.float32) for _ in range(2))
    tifffile.imwrite(path, first)
    assert cli_main(["pyramid", str(path), str(out), "--levels", "2"]) == 0
    tifffile.imwrite(path, second)
    os.utime(path, ns=(1, 1))  # a different modification time even on coarse clocks
    capsys.readouterr()
    assert cli_main(["pyramid", str(path), str(out), "--levels", "2"]) == 0
    assert capsys.readouterr().out.count("computed") == 2
    _, levels = _levels(out)
    assert_bitwise(levels[0], second)
    assert_bitwise(levels[1], tessera.interpolate(second[None, None], size=(20, 15), mode="area")[0, 0])
