"""Multiscale image pyramids in the OME-Zarr layout (``tessera pyramid``), in bounded memory.

    >>> from tessera.pyramid import build_pyramid
    >>> build_pyramid("scan.tif", "scan.zarr", levels=5, mode="area")

writes a zarr group (Zarr format 2, OME-NGFF 0.4) with one array per level, ``"0"`` (the image itself)
to ``"K-1"``: level k is the image resized to ``floor(size / 2**k)`` along y and x, with an explicit
``size`` (no scale factor, so no rounding drift between levels), computed with
:func:`tessera.tiled.interpolate` from level 0 (``source="full"``) or from level k-1
(``source="previous"``, the default). Arrays are ``(c, y, x)``, or ``(y, x)`` for a grayscale image, in
the image's dtype (integer images are resized in floating point, then rounded and clipped, as
``tessera resize`` does).

Resumable: a level that finished carries the attribute ``tessera`` with ``"complete": true`` and the
parameters it was made with; run again with the same parameters, the complete levels are skipped and the
others recomputed (with ``source="previous"``, every level after a recomputed one is recomputed too).
The group's ``multiscales`` metadata is written once every level is complete.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Callable, List, Optional

import numpy as np

import tessera
from tessera import tiled

__all__ = ["build_pyramid", "level_shapes", "multiscales_metadata", "PYRAMID_SOURCES"]

PYRAMID_SOURCES = ("previous", "full")
_DEFAULT_CHUNK = 512


def level_shapes(height: int, width: int, levels: int) -> List[tuple]:
    """(height, width) of each level: floor(size / 2**k)."""
    return [(height >> k, width >> k) for k in range(levels)]


def _open_source(src, axes: Optional[str]):
    """src -> (ImageView (1, C, H, W), whether the image has a channel axis, a name for the metadata)."""
    from tessera import imageio

    if isinstance(src, (str, os.PathLike)):
        path = os.fspath(src)
        name = os.path.splitext(os.path.basename(path))[0]
        if imageio.is_tiff(path):
            view = imageio.open_image_lazy(path)
        else:
            image = imageio.read_image(path)
            view = tiled.ImageView(image[:, :, 0], "yx") if image.shape[2] == 1 else tiled.ImageView(image, "yxc")
        return view, "c" in view.axes.replace("_", ""), name
    if isinstance(src, tiled.ImageView):
        return src, "c" in src.axes, "image"
    if axes is None:
        ndim = len(src.shape)
        if ndim not in (2, 3):
            raise ValueError(f"src: expected an (H, W) or (H, W, C) image, got shape {tuple(src.shape)}; pass axes=")
        axes = "yx" if ndim == 2 else "yxc"
    view = tiled.ImageView(src, axes)
    if view.ndim != 4:
        raise ValueError(f"src: expected a 2-D image (two spatial axes), got axes {axes!r}")
    return view, "c" in axes, "image"


def _open_group(path):
    import zarr

    try:
        return zarr.open_group(os.fspath(path), mode="a", zarr_format=2)
    except TypeError:  # zarr 2 has no zarr_format argument (and writes format 2)
        return zarr.open_group(os.fspath(path), mode="a")


def _create_level(group, name: str, shape, chunks, dtype):
    if hasattr(group, "create_array"):  # zarr 3
        return group.create_array(
            name, shape=shape, chunks=chunks, dtype=dtype, overwrite=True,
            chunk_key_encoding={"name": "v2", "separator": "/"},
        )
    return group.create_dataset(name, shape=shape, chunks=chunks, dtype=dtype, overwrite=True, dimension_separator="/")


def _level_array(group, name: str):
    try:
        return group[name]
    except KeyError:
        return None


def _translation_offset(mode: str, scale: float) -> float:
    """Where pixel 0 of a level sits in level-0 pixel coordinates: with half-pixel centres (every mode
    but 'nearest', which reads input floor(i * scale)) a pixel of size `scale` is centred at
    (scale - 1) / 2."""
    return 0.0 if mode == "nearest" else (scale - 1.0) / 2.0


def multiscales_metadata(shapes, has_channels: bool, mode: str, antialias: bool, source: str, name: str = "image"):
    """The OME-NGFF 0.4 ``multiscales`` attribute for levels of `shapes` ((height, width) per level):
    level k's scale is level 0's size over its size (2**k for even sizes), with the translation that puts
    its pixel centres where the resampling put them."""
    axes = [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
    if has_channels:
        axes.insert(0, {"name": "c", "type": "channel"})
    h0, w0 = shapes[0]
    datasets = []
    for k, (h, w) in enumerate(shapes):
        scale = [h0 / h, w0 / w]
        transforms = [{"type": "scale", "scale": ([1.0] if has_channels else []) + scale}]
        if k > 0:
            offset = [_translation_offset(mode, s) for s in scale]
            transforms.append({"type": "translation", "translation": ([0.0] if has_channels else []) + offset})
        datasets.append({"path": str(k), "coordinateTransformations": transforms})
    return [
        {
            "version": "0.4",
            "name": name,
            "axes": axes,
            "datasets": datasets,
            "type": mode + ("-antialias" if antialias else ""),
            "metadata": {
                "description": "tessera.interpolate with size=floor(level-0 size / 2**k)",
                "method": "tessera.tiled.interpolate",
                "version": tessera.__version__,
                "kwargs": {"mode": mode, "antialias": antialias},
                "source": source,
            },
        }
    ]


def build_pyramid(
    src,
    out,
    levels: int,
    *,
    mode: str = "area",
    antialias: bool = False,
    source: str = "previous",
    max_memory: int = tiled.DEFAULT_MAX_MEMORY,
    chunk: int = _DEFAULT_CHUNK,
    num_workers: Optional[int] = None,
    progress=None,
    axes: Optional[str] = None,
    log: Optional[Callable[[str], None]] = None,
) -> List[str]:
    """Writes the pyramid of `src` into the zarr group `out` (a path); returns what each level did:
    ``"computed"`` or ``"skipped"`` (already complete).

    src: an image path (TIFF is read lazily, memory-mapped or strip by strip; PNG/JPEG are read whole),
        or an array-like image with ``axes`` (default ``'yx'`` or ``'yxc'`` by its rank), or an ImageView.
    levels: K >= 1 levels, "0" to "K-1"; floor(size / 2**(K-1)) must be at least 1.
    mode, antialias: the resampling (any mode of ``tessera.interpolate`` on 2-D images; ``area`` is the
        mean of each 2x2 block when the size is even).
    source: ``"previous"`` (level k from level k-1) or ``"full"`` (every level from level 0).
    max_memory, num_workers: as :func:`tessera.tiled.interpolate`; chunk: the zarr chunk side.
    progress: a progress bar per level (True/False; None: when stderr is a terminal).
    log: called with one line per level (e.g. ``print``).
    """
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 1:
        raise ValueError(f"levels: expected a positive int, got {levels!r}")
    if source not in PYRAMID_SOURCES:
        raise ValueError(f"source: expected one of {PYRAMID_SOURCES}, got {source!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise ValueError(f"chunk: expected a positive int, got {chunk!r}")
    view, has_channels, name = _open_source(src, axes)
    identity = {}
    if isinstance(src, (str, os.PathLike)):  # a changed file makes every level stale
        stat = os.stat(src)
        identity = {"file_size": stat.st_size, "file_mtime_ns": stat.st_mtime_ns}
    try:
        return _build(view, has_channels, name, identity, out, int(levels), mode, bool(antialias), source,
                      max_memory, int(chunk), num_workers, progress, log)
    finally:
        if view is not src:
            view.close()


def _build(view, has_channels, name, identity, out, levels, mode, antialias, source, max_memory, chunk, num_workers,
           progress, log) -> List[str]:
    _, channels, height, width = view.shape
    dtype = np.dtype(view.dtype).newbyteorder("=")
    tiled._work_dtype(dtype)  # raises TypeError for dtypes tessera cannot resize
    shapes = level_shapes(height, width, levels)
    if min(shapes[-1]) < 1:
        raise ValueError(
            f"levels: {levels} levels of a {height}x{width} image would make level {levels - 1} "
            f"{shapes[-1][0]}x{shapes[-1][1]}; at most {min(height, width).bit_length()} levels fit"
        )
    # Validate the mode and options once, on the first level's shape, before writing anything.
    kw = dict(mode=mode, antialias=antialias)
    if levels > 1:
        tessera.output_shape((1, channels, height, width), size=list(shapes[1]), **kw)
    group = _open_group(out)
    group_axes = "cyx" if has_channels else "yx"
    params = {"mode": mode, "antialias": antialias, "source": source,
              "image": dict(identity, shape=[channels, height, width], dtype=dtype.str)}
    report = []
    recomputed = []  # levels computed by this run: their descendants are stale
    for k, (h, w) in enumerate(shapes):
        marker = dict(params, complete=True, level=k, shape=[h, w])
        if k == 0:
            marker.update(mode=None, antialias=None, source="image")
        existing = _level_array(group, str(k))
        done = existing is not None and dict(existing.attrs).get("tessera") == marker
        stale = 0 in recomputed or (source == "previous" and k - 1 in recomputed)
        if done and not stale:
            report.append("skipped")
            if log:
                log(f"level {k}: {h}x{w} complete, skipped")
            continue
        if not recomputed and "multiscales" in group.attrs:
            del group.attrs["multiscales"]  # not a valid pyramid again until every level is complete
        recomputed.append(k)
        shape = (channels, h, w) if has_channels else (h, w)
        chunks = (1, min(chunk, h), min(chunk, w)) if has_channels else (min(chunk, h), min(chunk, w))
        array = _create_level(group, str(k), shape, chunks, dtype)
        dst = tiled.ImageView(array, group_axes)
        if k == 0:
            _copy(view, dst, max_memory, progress, f"level 0 ({h}x{w})")
        else:
            parent = tiled.ImageView(group["0" if source == "full" else str(k - 1)], group_axes)
            bar, own = _bar(progress, f"level {k} ({h}x{w})")
            try:
                tiled.interpolate(parent, dst, size=[h, w], max_memory=max_memory, num_workers=num_workers,
                                  progress=bar if bar is not None else False, **kw)
            finally:
                if own:
                    bar.close()
        array.attrs["tessera"] = marker  # written last: the level is complete
        report.append("computed")
        if log:
            log(f"level {k}: {h}x{w} computed")
    group.attrs["multiscales"] = multiscales_metadata(shapes, has_channels, mode, antialias, source, name)
    return report


def _bar(progress, desc: str):
    if progress is None:
        progress = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        progress = progress and importlib.util.find_spec("tqdm") is not None
    if not progress:
        return None, False
    from tqdm.auto import tqdm

    return tqdm(total=None, unit="tile", desc=desc, leave=True), True


def _copy(view, dst, max_memory: int, progress, desc: str) -> None:
    """Level 0: the image copied into the pyramid in bands of whole chunk rows, within max_memory."""
    _, channels, height, width = view.shape
    chunk_rows = dst.chunks[2] if dst.chunks else 1
    row_bytes = max(1, channels * width * np.dtype(view.dtype).itemsize)
    rows = max(chunk_rows, (max(1, max_memory // 2) // row_bytes) // chunk_rows * chunk_rows)
    bar, own = _bar(progress, desc)
    if bar is not None:
        bar.total = -(-height // rows)
        bar.refresh()
    try:
        for y0 in range(0, height, rows):
            key = (slice(0, 1), slice(0, channels), slice(y0, min(y0 + rows, height)), slice(0, width))
            band = tiled._read_box(view, key)
            if not band.dtype.isnative:
                band = band.astype(band.dtype.newbyteorder("="))
            dst[key] = band
            if bar is not None:
                bar.update(1)
    finally:
        if own:
            bar.close()
