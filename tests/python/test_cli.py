"""The ``tessera`` command line: resize (PNG, JPEG, TIFF), demo, --version, errors."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
tifffile = pytest.importorskip("tifffile")
from PIL import Image  # noqa: E402

import tessera  # noqa: E402
from tessera import cli, imageio  # noqa: E402


def _rng(seed=0):
    return np.random.default_rng(seed)


def _rgb8(h=12, w=10, seed=0):
    return _rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _expected(image, size=None, scale=None, mode="bilinear", antialias=False, align_corners=None):
    """The reference result: a contiguous NCHW float copy through tessera.interpolate, rounded back."""
    hwc = image if image.ndim == 3 else image[:, :, None]
    work = np.float64 if image.dtype == np.float64 else np.float32
    nchw = np.ascontiguousarray(hwc.transpose(2, 0, 1)[None], dtype=work)
    pair = lambda v: None if v is None else (list(v) if isinstance(v, (tuple, list)) else [v, v])  # noqa: E731
    out = tessera.interpolate(nchw, size=pair(size), scale_factor=pair(scale), mode=mode, antialias=antialias,
                              align_corners=align_corners)
    out = np.asarray(out)[0].transpose(1, 2, 0)
    if image.dtype.kind in "ui":
        info = np.iinfo(image.dtype)
        out = np.clip(np.rint(out), info.min, info.max).astype(image.dtype)
    else:
        out = out.astype(image.dtype)
    return out if image.ndim == 3 else out[:, :, 0]


def run_cli(*argv):
    return cli.main([str(a) for a in argv])


# --------------------------------------------------------------------------------------------
# resize: formats
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pil_mode,channels", [("RGB", 3), ("RGBA", 4), ("L", 1), ("LA", 2)])
def test_png_8bit_round_trip(tmp_path, pil_mode, channels):
    data = _rng(1).integers(0, 256, size=(12, 10, channels), dtype=np.uint8)
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(data[:, :, 0] if channels == 1 else data).save(src)
    assert run_cli("resize", src, dst, "--size", "17x23", "--mode", "bicubic") == 0
    with Image.open(dst) as img:
        assert img.mode == pil_mode and img.size == (23, 17)
        out = np.asarray(img)
    ref = _expected(data[:, :, 0] if channels == 1 else data, size=(17, 23), mode="bicubic")
    np.testing.assert_array_equal(out, ref)


def test_png_16bit_grayscale_round_trip(tmp_path):
    data = _rng(2).integers(0, 65536, size=(9, 14), dtype=np.uint16)
    src, dst = tmp_path / "in16.png", tmp_path / "out16.png"
    Image.fromarray(data).save(src)
    assert run_cli("resize", src, dst, "--scale", "1.5", "--mode", "bilinear") == 0
    out = imageio.read_image(dst)
    assert out.dtype == np.uint16 and out.shape == (13, 21, 1)
    np.testing.assert_array_equal(out[:, :, 0], _expected(data, scale=1.5))


def test_jpeg_round_trip(tmp_path):
    data = np.zeros((32, 40, 3), dtype=np.uint8)
    data[..., 0] = np.linspace(0, 255, 40, dtype=np.uint8)[None, :]
    data[..., 1] = np.linspace(0, 255, 32, dtype=np.uint8)[:, None]
    data[..., 2] = 128
    src, dst = tmp_path / "in.jpg", tmp_path / "out.jpeg"
    Image.fromarray(data).save(src, quality=98)
    assert run_cli("resize", src, dst, "--size", "16x20", "--mode", "area") == 0
    with Image.open(dst) as img:
        assert img.format == "JPEG" and img.mode == "RGB" and img.size == (20, 16)
        out = np.asarray(img).astype(np.int32)
    ref = _expected(imageio.read_image(src), size=(16, 20), mode="area").astype(np.int32)
    assert np.abs(out - ref).mean() < 3.0  # JPEG is lossy


def test_tiff_8bit_rgb_round_trip(tmp_path):
    data = _rgb8(11, 13, seed=3)
    src, dst = tmp_path / "in.tif", tmp_path / "out.tiff"
    tifffile.imwrite(src, data, photometric="rgb")
    assert run_cli("resize", src, dst, "--size", "5x6", "--mode", "bilinear", "--antialias") == 0
    out = tifffile.imread(dst)
    assert out.dtype == np.uint8 and out.shape == (5, 6, 3)
    np.testing.assert_array_equal(out, _expected(data, size=(5, 6), antialias=True))


@pytest.mark.parametrize("channels", [1, 3, 5])
def test_tiff_16bit_round_trip(tmp_path, channels):
    data = _rng(4).integers(0, 65536, size=(10, 9, channels), dtype=np.uint16)
    src, dst = tmp_path / "in16.tif", tmp_path / "out16.tif"
    tifffile.imwrite(src, data[:, :, 0] if channels == 1 else data,
                     photometric="rgb" if channels == 3 else "minisblack",
                     planarconfig=None if channels == 1 else "contig")
    assert run_cli("resize", src, dst, "--scale", "2x0.5", "--mode", "bicubic") == 0
    out = imageio.read_image(dst)
    assert out.dtype == np.uint16 and out.shape == (20, 4, channels)
    np.testing.assert_array_equal(out, _expected(data, scale=(2.0, 0.5), mode="bicubic"))


def test_16bit_overshoot_is_clipped(tmp_path):
    data = np.zeros((8, 8), dtype=np.uint16)
    data[:, 4:] = 65535  # a step: bicubic overshoots on both sides
    src, dst = tmp_path / "step.tif", tmp_path / "step_up.tif"
    tifffile.imwrite(src, data)
    assert run_cli("resize", src, dst, "--scale", "4", "--mode", "bicubic") == 0
    out = tifffile.imread(dst)
    assert out.dtype == np.uint16 and out.min() == 0 and out.max() == 65535
    raw = tessera.interpolate(data.astype(np.float32)[None, None], scale_factor=4, mode="bicubic")
    assert raw.max() > 65535 and raw.min() < 0  # so the clipping was needed


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [1, 2, 4])
def test_float_tiff_stays_float(tmp_path, dtype, channels):
    data = _rng(5).standard_normal((9, 11, channels)).astype(dtype)
    src, dst = tmp_path / "f.tif", tmp_path / "f_out.tif"
    tifffile.imwrite(src, data[:, :, 0] if channels == 1 else data, photometric="minisblack",
                     planarconfig=None if channels == 1 else "contig")
    assert run_cli("resize", src, dst, "--size", "20x7", "--mode", "bicubic", "--align-corners") == 0
    out = imageio.read_image(dst)
    assert out.dtype == dtype and out.shape == (20, 7, channels)
    np.testing.assert_array_equal(out, _expected(data, size=(20, 7), mode="bicubic", align_corners=True))


def test_planar_tiff_is_read_as_hwc(tmp_path):
    data = _rng(6).standard_normal((3, 8, 9)).astype(np.float32)  # C, H, W
    src = tmp_path / "planar.tif"
    tifffile.imwrite(src, data, photometric="minisblack", planarconfig="separate")
    np.testing.assert_array_equal(imageio.read_image(src), data.transpose(1, 2, 0))


def test_multipage_tiff_is_rejected(tmp_path, capsys):
    src = tmp_path / "stack.tif"
    tifffile.imwrite(src, np.zeros((4, 8, 9, 2), dtype=np.uint8), photometric="minisblack", planarconfig="contig")
    assert run_cli("resize", src, tmp_path / "o.tif", "--scale", "2") == 2
    assert "not a single 2-D image" in capsys.readouterr().err


def test_nearest_integer_scale_repeats_pixels(tmp_path):
    data = _rgb8(6, 7, seed=7)
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(data).save(src)
    assert run_cli("resize", src, dst, "--scale", "3", "--mode", "nearest") == 0
    out = np.asarray(Image.open(dst))
    np.testing.assert_array_equal(out, np.repeat(np.repeat(data, 3, axis=0), 3, axis=1))


def test_same_size_bilinear_is_identity(tmp_path):
    data = _rgb8(9, 8, seed=8)
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(data).save(src)
    assert run_cli("resize", src, dst, "--size", "9x8") == 0
    np.testing.assert_array_equal(np.asarray(Image.open(dst)), data)


def test_palette_png_is_converted_to_rgb(tmp_path):
    src, dst = tmp_path / "p.png", tmp_path / "p_out.png"
    Image.fromarray(_rgb8(8, 8, seed=9)).convert("P").save(src)
    assert run_cli("resize", src, dst, "--size", "4x4", "--mode", "area") == 0
    assert Image.open(dst).mode == "RGB"


def test_lanczos_with_antialias(tmp_path):
    data = _rgb8(20, 24, seed=10)
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(data).save(src)
    assert run_cli("resize", src, dst, "--size", "10x12", "--mode", "lanczos", "--antialias", "--threads", "2") == 0
    np.testing.assert_array_equal(np.asarray(Image.open(dst)), _expected(data, size=(10, 12), mode="lanczos",
                                                                          antialias=True))


def test_resize_reports_what_it_did(tmp_path, capsys):
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(_rgb8()).save(src)
    assert run_cli("resize", src, dst, "--size", "6x5", "--mode", "area") == 0
    assert "(12x10, 3 channels, uint8)" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# imageio helpers
# --------------------------------------------------------------------------------------------


def test_channels_last_view_equals_contiguous_bitwise():
    hwc = _rng(11).standard_normal((13, 17, 3)).astype(np.float32)
    view = imageio.as_nchw(hwc)
    assert view.shape == (1, 3, 13, 17) and np.shares_memory(view, hwc)
    a = np.asarray(tessera.interpolate(view, size=[29, 8], mode="bicubic"))
    b = np.asarray(tessera.interpolate(np.ascontiguousarray(view), size=[29, 8], mode="bicubic"))
    assert a[0].transpose(1, 2, 0).flags["C_CONTIGUOUS"]  # channels-last in, channels-last out
    np.testing.assert_array_equal(a, b)


def test_resize_image_keeps_rank_and_dtype():
    gray = _rng(12).integers(0, 256, size=(10, 12), dtype=np.uint8)
    out = imageio.resize_image(gray, size=(5, 6), mode="area")
    assert out.shape == (5, 6) and out.dtype == np.uint8


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


@pytest.fixture
def png(tmp_path):
    path = tmp_path / "in.png"
    Image.fromarray(_rgb8()).save(path)
    return path


@pytest.mark.parametrize(
    "args,message",
    [
        (["--size", "12by4"], "HEIGHTxWIDTH"),
        (["--size", "0x4"], "positive"),
        (["--size", "12x"], "HEIGHTxWIDTH"),
        (["--scale", "two"], "factor"),
        (["--scale", "-1"], "positive"),
        (["--size", "4x4", "--scale", "2"], "not allowed with"),
        ([], "one of the arguments --size --scale is required"),
        (["--scale", "2", "--mode", "bogus"], "invalid choice"),
        (["--scale", "2", "--mode", "nearest", "--align-corners"], "align_corners"),
        (["--scale", "2", "--mode", "lanczos"], "antialias"),
        (["--scale", "2", "--threads", "0"], "positive"),
    ],
)
def test_usage_errors_exit_2(png, tmp_path, capsys, args, message):
    assert run_cli("resize", png, tmp_path / "out.png", *args) == 2
    err = capsys.readouterr().err
    assert "usage:" in err and message in err


def test_missing_input_exits_2(tmp_path, capsys):
    assert run_cli("resize", tmp_path / "nope.png", tmp_path / "out.png", "--scale", "2") == 2
    assert "input file not found" in capsys.readouterr().err


def test_missing_output_directory_exits_2(png, tmp_path, capsys):
    assert run_cli("resize", png, tmp_path / "no" / "such" / "out.png", "--scale", "2") == 2
    assert "output directory does not exist" in capsys.readouterr().err


def test_unreadable_input_exits_1(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not an image")
    assert run_cli("resize", bad, tmp_path / "out.png", "--scale", "2") == 1
    assert "cannot read" in capsys.readouterr().err


def test_float_image_to_png_exits_2(tmp_path, capsys):
    src = tmp_path / "f.tif"
    tifffile.imwrite(src, np.zeros((4, 4), dtype=np.float32))
    assert run_cli("resize", src, tmp_path / "out.png", "--scale", "2") == 2
    assert "write a .tif file instead" in capsys.readouterr().err


def test_alpha_to_jpeg_exits_2(tmp_path, capsys):
    src = tmp_path / "rgba.png"
    Image.fromarray(_rng(0).integers(0, 256, size=(4, 4, 4), dtype=np.uint8)).save(src)
    assert run_cli("resize", src, tmp_path / "out.jpg", "--scale", "2") == 2
    assert "JPEG" in capsys.readouterr().err


def test_no_command_exits_2(capsys):
    assert cli.main([]) == 2
    assert "usage:" in capsys.readouterr().err


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"tessera {tessera.__version__}"


def test_runnable_as_module():
    result = subprocess.run([sys.executable, "-m", "tessera.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("tessera ")
    result = subprocess.run([sys.executable, "-m", "tessera.cli", "resize", "a.png", "b.png"], capture_output=True,
                            text=True)
    assert result.returncode == 2


@pytest.mark.skipif(shutil.which("tessera") is None, reason="the 'tessera' console script is not installed")
def test_console_script():
    result = subprocess.run(["tessera", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("tessera ")


# --------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------


def test_demo_writes_panel_and_reports_identical_runs(tmp_path, capsys):
    out = tmp_path / "panel.png"
    assert cli.main(["demo", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "all bitwise identical" in text
    assert os.path.abspath(out) in text
    for label in ("nearest-exact", "bicubic+antialias", "lanczos+antialias"):
        assert label in text
    with Image.open(out) as img:
        assert img.format == "PNG" and img.mode == "RGB"
        assert img.width >= 3 * 480 and img.height >= 3 * 480


def test_demo_reports_a_mode_the_installed_torch_lacks(tmp_path, capsys, monkeypatch):
    """An older PyTorch (2.11 has no lanczos) refuses a mode: that row is not compared, the others are."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    interpolate = F.interpolate

    def without_lanczos(*args, mode="nearest", **kwargs):
        if mode == "lanczos":  # PyTorch 2.11's error for it
            raise ValueError("Anti-alias option is restricted to bilinear and bicubic modes and requires a 4-D "
                             "tensor as input")
        return interpolate(*args, mode=mode, **kwargs)

    monkeypatch.setattr(F, "interpolate", without_lanczos)
    assert cli.main(["demo", "--out", str(tmp_path / "panel.png")]) == 0
    text = capsys.readouterr().out
    assert "all bitwise identical" in text and "fwd vs torch" in text
    assert f"lanczos+antialias: not compared with PyTorch (PyTorch {torch.__version__} has no mode 'lanczos'" in text


def test_demo_report():
    from tessera import demo

    report = demo.run(out=None, compare_torch=False)
    assert report.panel is None and report.all_identical
    assert [r.label for r in report.rows] == [c[0] for c in demo.CASES]
    for row in report.rows:
        assert row.shape == (1, demo.CHANNELS, 480, 480)
        assert row.forward_identical and row.backward_identical and len(row.grad_hash) == 16
    # the same gradient bits as a second, independent run
    again = demo.run(out=None, compare_torch=False)
    assert [r.grad_hash for r in again.rows] == [r.grad_hash for r in report.rows]
