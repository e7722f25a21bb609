"""``tessera demo``: the motivating case, with no input files.

A small feature map (15x15, 3 channels, a smooth pattern plus a few sharp features) is upsampled
x32 to 480x480 by every mode, as a segmentation or detection head does with a coarse feature map.
The backward of such an upsample is where other libraries are slow or non-deterministic: each input
element receives the gradient of 32x32 = 1,024 output elements (x4 taps for bilinear), and a scatter
with atomic additions sums them in an order that changes from run to run. tessera's backward is a
gather over the transposed tap table, so the sums are taken in a fixed order.

For each mode the forward and the backward are run twice, first with one thread and then with
several, and the results are compared bit for bit. When PyTorch is importable the largest
difference to ``torch.nn.functional.interpolate`` (forward and backward, float32) is shown too, for
each mode the installed PyTorch has (lanczos is recent: PyTorch 2.11 has none), and on a CUDA
machine whether PyTorch's own CUDA backward is bitwise reproducible. A PNG panel of the results is
written with Pillow.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
import time
from typing import Dict, List, Optional, TextIO, Tuple

import numpy as np

import tessera

#: (label, mode, extra keyword arguments); every case upsamples by SCALE.
CASES: Tuple[Tuple[str, str, Dict[str, object]], ...] = (
    ("nearest", "nearest", {}),
    ("nearest-exact", "nearest-exact", {}),
    ("bilinear", "bilinear", {}),
    ("bicubic", "bicubic", {}),
    ("area", "area", {}),
    ("bilinear+antialias", "bilinear", {"antialias": True}),
    ("bicubic+antialias", "bicubic", {"antialias": True}),
    ("lanczos+antialias", "lanczos", {"antialias": True}),
)

INPUT_SIZE = 15
SCALE = 32
CHANNELS = 3


@dataclasses.dataclass
class Row:
    label: str
    mode: str
    kwargs: Dict[str, object]
    shape: Tuple[int, ...]
    forward_identical: bool
    backward_identical: bool
    grad_hash: str
    torch_forward_diff: Optional[float] = None
    torch_backward_diff: Optional[float] = None
    backward_error: Optional[float] = None
    torch_backward_error: Optional[float] = None
    torch_cuda_backward_identical: Optional[bool] = None
    torch_skipped: str = ""  # why this row has no comparison with PyTorch, where PyTorch was run


@dataclasses.dataclass
class Report:
    rows: List[Row]
    threads: Tuple[int, int]
    panel: Optional[str]
    seconds: float
    torch_version: Optional[str] = None
    torch_skipped: str = ""

    @property
    def all_identical(self) -> bool:
        return all(r.forward_identical and r.backward_identical for r in self.rows)


def feature_map(size: int = INPUT_SIZE, channels: int = CHANNELS) -> np.ndarray:
    """A deterministic ``(1, channels, size, size)`` float32 map: smooth waves plus sharp features."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) / (size - 1)
    maps = []
    for c in range(channels):
        phase = 2.0 * np.pi * c / max(channels, 1)
        smooth = 0.5 + 0.3 * np.sin(2.0 * np.pi * (1.1 * x + 0.4 * y) + phase) * np.cos(2.0 * np.pi * 0.6 * y - phase)
        maps.append(smooth)
    f = np.stack(maps)
    f[:, 3, 11] = 1.0  # a single bright pixel
    f[0, 2:13, 7] = 0.0  # a one-pixel-wide dark line in the first channel
    f[1, 9:13, 1:5] = (np.indices((4, 4)).sum(axis=0) % 2).astype(np.float64)  # a small checkerboard
    idx = np.arange(size)
    f[2, idx, size - 1 - idx] = 0.95  # an anti-diagonal in the last channel
    return np.ascontiguousarray(f[None], dtype=np.float32)


def grad_output_for(shape: Tuple[int, ...]) -> np.ndarray:
    """A deterministic pseudo-random gradient (mixed signs exercise the summation order)."""
    return np.random.default_rng(2024).standard_normal(shape).astype(np.float32)


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


def _run_case(x, go, mode, kwargs, threads):
    outs, grads = [], []
    for n in threads:
        tessera.set_num_threads(n)
        outs.append(np.asarray(tessera.interpolate(x, scale_factor=SCALE, mode=mode, **kwargs)))
        grads.append(np.asarray(tessera.interpolate_backward(go, x.shape, scale_factor=SCALE, mode=mode, **kwargs)))
    return outs, grads


def _torch_compare(torch, x, go, y, g, mode, kwargs):
    """Differences to PyTorch (float32), and both float32 backwards' errors against float64 PyTorch."""
    import torch.nn.functional as F

    def forward_backward(dtype):
        xt = torch.from_numpy(x.astype(dtype)).requires_grad_()
        yt = F.interpolate(xt, scale_factor=SCALE, mode=mode, **kwargs)
        (gt,) = torch.autograd.grad(yt, xt, torch.from_numpy(go.astype(dtype)))
        return yt.detach().numpy(), gt.numpy()

    y32, g32 = forward_backward(np.float32)
    _, g64 = forward_backward(np.float64)
    return _rel_diff(y, y32), _rel_diff(g, g32), _rel_diff(g, g64), _rel_diff(g32, g64)


def _no_mode(torch, mode: str, error: Exception) -> str:
    message = (str(error) or type(error).__name__).splitlines()[0]
    return f"PyTorch {torch.__version__} has no mode {mode!r}: {message}"


def _rel_diff(ours: np.ndarray, ref: np.ndarray) -> float:
    """max |ours - ref| / max(1, |ref|), the measure the tolerances of the test suite use."""
    ref = ref.astype(np.float64)
    return float(np.max(np.abs(ours.astype(np.float64) - ref) / np.maximum(1.0, np.abs(ref))))


def _torch_cuda_identical(torch, x, go, mode, kwargs) -> Optional[bool]:
    """Is PyTorch's CUDA backward bitwise identical over two runs? None where it cannot run."""
    import torch.nn.functional as F

    try:
        xt = torch.from_numpy(x).cuda()
        gt = torch.from_numpy(go).cuda()
        grads = []
        for _ in range(2):
            xi = xt.clone().requires_grad_()
            (gi,) = torch.autograd.grad(F.interpolate(xi, scale_factor=SCALE, mode=mode, **kwargs), xi, gt)
            grads.append(gi.cpu().numpy())
        return _same_bits(grads[0], grads[1])
    except Exception:  # e.g. a mode PyTorch implements on CPU only (lanczos)
        return None


def _to_rgb8(chw: np.ndarray) -> np.ndarray:
    img = np.clip(np.asarray(chw, dtype=np.float32), 0.0, 1.0) * 255.0
    img = np.rint(img).astype(np.uint8)
    if img.shape[0] == 1:
        img = np.repeat(img, 3, axis=0)
    return np.ascontiguousarray(img[:3].transpose(1, 2, 0))


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap font size
        return ImageFont.load_default()


def write_panel(path: str, tiles: List[Tuple[str, np.ndarray]], columns: int = 3) -> str:
    """Write a labelled grid of ``(label, (C, H, W) array in [0, 1])`` tiles as a PNG."""
    from PIL import Image, ImageDraw

    margin, label_h = 8, 28
    th, tw = tiles[0][1].shape[-2:]
    rows = -(-len(tiles) // columns)
    width = columns * tw + (columns + 1) * margin
    height = rows * (th + label_h) + (rows + 1) * margin
    panel = Image.new("RGB", (width, height), (24, 24, 24))
    draw = ImageDraw.Draw(panel)
    font = _font(18)
    for i, (label, chw) in enumerate(tiles):
        r, c = divmod(i, columns)
        x0 = margin + c * (tw + margin)
        y0 = margin + r * (th + label_h + margin)
        draw.text((x0 + 2, y0 + 4), label, fill=(235, 235, 235), font=font)
        panel.paste(Image.fromarray(_to_rgb8(chw)), (x0, y0 + label_h))
    panel.save(path)
    return path


def _import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _fmt_diff(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.2e}"


def _fmt_bool(v: Optional[bool]) -> str:
    return "-" if v is None else ("yes" if v else "NO")


def format_table(report: Report) -> str:
    head = ["mode", "output shape", "forward identical", "backward identical", "grad sha256"]
    with_torch = any(r.torch_forward_diff is not None for r in report.rows)
    with_cuda = any(r.torch_cuda_backward_identical is not None for r in report.rows)
    if with_torch:
        head += ["fwd vs torch", "bwd vs torch", "bwd error", "torch bwd error"]
    if with_cuda:
        head += ["torch CUDA bwd identical"]
    lines = [head]
    for r in report.rows:
        cells = [r.label, "x".join(str(d) for d in r.shape), _fmt_bool(r.forward_identical),
                 _fmt_bool(r.backward_identical), r.grad_hash]
        if with_torch:
            cells += [_fmt_diff(r.torch_forward_diff), _fmt_diff(r.torch_backward_diff),
                      _fmt_diff(r.backward_error), _fmt_diff(r.torch_backward_error)]
        if with_cuda:
            cells += [_fmt_bool(r.torch_cuda_backward_identical)]
        lines.append(cells)
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    out = []
    for k, row in enumerate(lines):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def run(out: Optional[str] = "tessera-demo.png", compare_torch: bool = True,
        stream: Optional[TextIO] = None) -> Report:
    """Run the demo, print the table to ``stream`` (if given), write the panel to ``out`` (if given)."""
    start = time.perf_counter()
    x = feature_map()
    n, c, h, w = x.shape
    out_shape = (n, c, h * SCALE, w * SCALE)
    go = grad_output_for(out_shape)

    saved_threads = tessera.get_num_threads()
    threads = (1, max(2, saved_threads))
    torch = _import_torch() if compare_torch else None
    cuda = bool(torch is not None and torch.cuda.is_available())

    rows: List[Row] = []
    tiles: List[Tuple[str, np.ndarray]] = [
        (f"input {h}x{w}, {c} channels (blocks of {SCALE}x{SCALE})",
         np.repeat(np.repeat(x[0], SCALE, axis=1), SCALE, axis=2)),
    ]
    try:
        for label, mode, kwargs in CASES:
            outs, grads = _run_case(x, go, mode, kwargs, threads)
            row = Row(label, mode, dict(kwargs), tuple(outs[0].shape), _same_bits(outs[0], outs[1]),
                      _same_bits(grads[0], grads[1]), _digest(grads[0]))
            if torch is not None:
                try:
                    (row.torch_forward_diff, row.torch_backward_diff, row.backward_error,
                     row.torch_backward_error) = _torch_compare(torch, x, go, outs[0], grads[0], mode, kwargs)
                except (ValueError, NotImplementedError) as error:  # how F.interpolate refuses a mode
                    row.torch_skipped = _no_mode(torch, mode, error)
                if cuda:
                    row.torch_cuda_backward_identical = _torch_cuda_identical(torch, x, go, mode, kwargs)
            rows.append(row)
            tiles.append((label, outs[0][0]))
    finally:
        tessera.set_num_threads(saved_threads)

    panel = write_panel(out, tiles) if out else None
    report = Report(rows, threads, panel, time.perf_counter() - start,
                    None if torch is None else str(torch.__version__),
                    "" if torch is not None else ("PyTorch is not installed" if compare_torch else "not requested"))
    if stream is not None:
        print_report(report, stream)
    return report


def print_report(report: Report, stream: TextIO = sys.stdout) -> None:
    r0 = report.rows[0] if report.rows else None
    print(f"tessera {getattr(tessera, '__version__', '')}: a {INPUT_SIZE}x{INPUT_SIZE} feature map upsampled x{SCALE}"
          + (f" to {r0.shape[-2]}x{r0.shape[-1]}" if r0 else "")
          + f"; forward and backward run with {report.threads[0]} and then {report.threads[1]} threads", file=stream)
    print(file=stream)
    print(format_table(report), file=stream)
    print(file=stream)
    if report.torch_version is not None:
        print(f"vs torch: max |tessera - torch| / max(1, |torch|), torch {report.torch_version} F.interpolate and its "
              "autograd backward, float32", file=stream)
        print("bwd error: the float32 gradient's max |g - g64| / max(1, |g64|) against PyTorch's float64 gradient g64 "
              "(tessera's, then PyTorch's own)", file=stream)
        for r in report.rows:
            if r.torch_skipped:
                print(f"{r.label}: not compared with PyTorch ({r.torch_skipped})", file=stream)
    else:
        print(f"comparison with PyTorch skipped ({report.torch_skipped})", file=stream)
    verdict = "all bitwise identical" if report.all_identical else "NOT ALL BITWISE IDENTICAL"
    print(f"{verdict} ({report.seconds:.1f} s)", file=stream)
    if report.panel:
        print(f"panel written to {os.path.abspath(report.panel)}", file=stream)


if __name__ == "__main__":
    run(stream=sys.stdout)
