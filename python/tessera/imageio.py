"""Reading, resizing and writing images for the ``tessera resize`` command.

PNG, JPEG and the other formats Pillow knows go through Pillow; TIFF goes through tifffile
(8/16/32-bit integer and floating-point, grayscale or any number of channels). Images are held as
``(H, W, C)`` NumPy arrays and handed to :func:`tessera.interpolate` as an ``(1, C, H, W)`` view of
that array (channels-last strides, no copy). Integer images are resized in floating point and
rounded and clipped back to their own dtype; floating-point images keep their dtype.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence, Tuple, Union

import numpy as np

import tessera

__all__ = [
    "ImageFormatError",
    "TIFF_EXTENSIONS",
    "is_tiff",
    "read_image",
    "write_image",
    "resize_image",
    "as_nchw",
    "open_image_lazy",
    "create_tiff_memmap",
]

TIFF_EXTENSIONS = (".tif", ".tiff")

#: Pillow modes converted on reading to a mode that can be interpolated channel by channel.
_PIL_CONVERT = {
    "1": "L",
    "P": "RGB",
    "PA": "RGBA",
    "La": "LA",
    "RGBa": "RGBA",
    "RGBX": "RGB",
    "CMYK": "RGB",
    "YCbCr": "RGB",
    "LAB": "RGB",
    "HSV": "RGB",
}

_PIL_MODE_FOR_CHANNELS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


class ImageFormatError(ValueError):
    """An image or a format/dtype combination that cannot be read or written."""


def is_tiff(path: Union[str, os.PathLike]) -> bool:
    return os.fspath(path).lower().endswith(TIFF_EXTENSIONS)


def _as_hwc(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        return array[:, :, None]
    if array.ndim == 3:
        return array
    raise ImageFormatError(f"expected an (H, W) or (H, W, C) image, got an array of shape {array.shape}")


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------


def _read_tiff(path: str) -> np.ndarray:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        axes = series.axes
        array = series.asarray()
    # Drop length-1 axes other than the image plane (e.g. a single page or a single sample).
    keep = [i for i, ax in enumerate(axes) if ax in "YX" or array.shape[i] != 1]
    array = array.reshape([array.shape[i] for i in keep])
    axes = "".join(axes[i] for i in keep)
    if axes == "YX":
        array = array[:, :, None]
    elif len(axes) == 3 and axes.endswith("YX"):
        array = np.moveaxis(array, 0, -1)  # planar (separate) samples: CYX -> YXC
    elif len(axes) == 3 and axes.startswith("YX"):
        pass  # interleaved (contiguous) samples: YXS
    else:
        raise ImageFormatError(
            f"{path}: TIFF with axes {series.axes!r} and shape {series.shape} is not a single 2-D image "
            "(multi-page stacks and volumes are not supported by 'tessera resize')"
        )
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    return np.ascontiguousarray(array.astype(array.dtype.newbyteorder("="), copy=False))


def _tiff_view_axes(axes: str, shape) -> str:
    """The ImageView axes of a TIFF series, by the rule of _read_tiff: length-1 axes other than Y and X
    are dropped ('_'), and the one axis left besides Y and X holds the channels."""
    out = []
    for ax, n in zip(axes, shape):
        if ax in "YX":
            out.append(ax.lower())
        elif n == 1:
            out.append("_")
        else:
            out.append("c")
    kept = "".join(a for a in out if a != "_")
    if kept not in ("yx", "cyx", "yxc"):
        raise ImageFormatError(
            f"TIFF with axes {axes!r} and shape {tuple(shape)} is not a single 2-D image "
            "(multi-page stacks and volumes are not supported)"
        )
    return "".join(out)


def open_image_lazy(path: Union[str, os.PathLike]):
    """A TIFF's image as a lazy ``(1, C, H, W)`` :class:`tessera.tiled.ImageView` that reads only the
    boxes asked for: memory-mapped when the image data is uncompressed and contiguous, else through
    tifffile's zarr store (``imread(..., aszarr=True)``, needs zarr), one strip or tile at a time.
    ``close()`` it (or use ``with``) when done."""
    import tifffile

    from tessera.tiled import ImageView

    path = os.fspath(path)
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        axes = _tiff_view_axes(series.axes, series.shape)
    try:
        array = tifffile.memmap(path, mode="r")
    except ValueError:  # compressed or not contiguous: read it through the zarr store
        import zarr

        store = tifffile.imread(path, aszarr=True)
        try:
            array = zarr.open(store, mode="r")
        except Exception:
            store.close()
            raise
        return ImageView(array, axes, closer=store.close)
    if tuple(array.shape) != tuple(series.shape):
        array = array.reshape(series.shape)
    return ImageView(array, axes)


def create_tiff_memmap(path: Union[str, os.PathLike], height: int, width: int, channels: int, dtype):
    """Creates an uncompressed TIFF for an ``(height, width, channels)`` image, with the photometric
    interpretation ``write_image`` would give it, and returns it as a writable ``(1, C, H, W)``
    :class:`tessera.tiled.ImageView` of a ``numpy.memmap`` (flushed and released by ``close()``)."""
    import tifffile

    from tessera.tiled import ImageView

    dtype = np.dtype(dtype)
    if channels == 1:
        array = tifffile.memmap(os.fspath(path), shape=(height, width), dtype=dtype, photometric="minisblack")
        axes = "yx"
    else:
        photometric = "rgb" if channels in (3, 4) and dtype in (np.uint8, np.uint16) else "minisblack"
        array = tifffile.memmap(
            os.fspath(path), shape=(height, width, channels), dtype=dtype, photometric=photometric,
            planarconfig="contig",
        )
        axes = "yxc"
    return ImageView(array, axes, closer=array.flush)


def _read_pillow(path: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        img.load()
        mode = img.mode
        if mode == "P" and "transparency" in img.info:
            img = img.convert("RGBA")
        elif mode in _PIL_CONVERT:
            img = img.convert(_PIL_CONVERT[mode])
        array = np.asarray(img)
        if img.mode == "I" and img.format == "PNG":
            array = array.astype(np.uint16)  # older Pillow opens 16-bit grayscale PNG as 32-bit "I"
    # 16-bit modes may be big-endian ("I;16B"); work in native byte order.
    array = array.astype(array.dtype.newbyteorder("="), copy=False)
    return np.ascontiguousarray(_as_hwc(array))


def read_image(path: Union[str, os.PathLike]) -> np.ndarray:
    """Read an image file into a C-contiguous ``(H, W, C)`` array of its own dtype."""
    path = os.fspath(path)
    if is_tiff(path):
        return _read_tiff(path)
    return _read_pillow(path)


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------


def _write_tiff(path: str, image: np.ndarray) -> None:
    import tifffile

    channels = image.shape[2]
    if channels == 1:
        tifffile.imwrite(path, image[:, :, 0], photometric="minisblack")
    elif channels in (3, 4) and image.dtype in (np.uint8, np.uint16):
        tifffile.imwrite(path, image, photometric="rgb", planarconfig="contig")
    else:
        tifffile.imwrite(path, image, photometric="minisblack", planarconfig="contig")


def _write_pillow(path: str, image: np.ndarray) -> None:
    from PIL import Image

    channels = image.shape[2]
    ext = os.path.splitext(path)[1].lower()
    if image.dtype == np.uint8 and channels in _PIL_MODE_FOR_CHANNELS:
        pil = Image.fromarray(image[:, :, 0] if channels == 1 else image)
    elif image.dtype == np.uint16 and channels == 1 and ext == ".png":
        pil = Image.fromarray(image[:, :, 0])
    else:
        raise ImageFormatError(
            f"cannot write a {channels}-channel {image.dtype} image as {ext or 'this format'}: "
            "Pillow formats take 8-bit images with 1 to 4 channels (PNG also 16-bit grayscale); "
            "write a .tif file instead"
        )
    if ext in (".jpg", ".jpeg") and pil.mode not in ("L", "RGB"):
        raise ImageFormatError(
            f"JPEG cannot store a {pil.mode} image (an alpha channel); write a .png or .tif file instead"
        )
    kwargs = {"quality": 95} if ext in (".jpg", ".jpeg") else {}
    try:
        pil.save(path, **kwargs)
    except (KeyError, ValueError) as exc:  # unknown extension or unsupported mode for the format
        raise ImageFormatError(f"{path}: cannot write this format with Pillow ({exc})") from None


def write_image(path: Union[str, os.PathLike], image: np.ndarray) -> None:
    """Write an ``(H, W)`` or ``(H, W, C)`` array; the format follows the file extension."""
    path = os.fspath(path)
    image = np.ascontiguousarray(_as_hwc(np.asarray(image)))
    if is_tiff(path):
        _write_tiff(path, image)
    else:
        _write_pillow(path, image)


# --------------------------------------------------------------------------------------------
# resizing
# --------------------------------------------------------------------------------------------


def _work_dtype(dtype: np.dtype) -> np.dtype:
    """The floating-point dtype an image of ``dtype`` is resized in."""
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return np.dtype(np.float64)
    if dtype.kind == "f":
        return np.dtype(np.float32)  # float16 and float32
    if dtype.kind in "ui" and dtype.itemsize <= 2:
        return np.dtype(np.float32)  # exact for every 8- and 16-bit value
    if dtype.kind in "uib":
        return np.dtype(np.float64)  # 32/64-bit integers need more than float32's 24-bit mantissa
    raise ImageFormatError(f"cannot resize an image of dtype {dtype}")


def _from_work(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return array.astype(dtype, copy=False)
    info = np.iinfo(dtype)
    rounded = np.rint(array)
    np.clip(rounded, info.min, info.max, out=rounded)
    return rounded.astype(dtype)


def as_nchw(image: np.ndarray) -> np.ndarray:
    """An ``(1, C, H, W)`` view of a C-contiguous ``(H, W, C)`` array (channels-last strides)."""
    return image[None].transpose(0, 3, 1, 2)


def _pair(value, name: str):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"{name}: expected 2 values (height, width), got {len(value)}")
        return list(value)
    return [value, value]


def resize_image(
    image: np.ndarray,
    size: Optional[Union[int, Sequence[int]]] = None,
    scale: Optional[Union[float, Sequence[float]]] = None,
    mode: str = "bilinear",
    antialias: bool = False,
    align_corners: Optional[bool] = None,
) -> np.ndarray:
    """Resize an ``(H, W)`` or ``(H, W, C)`` image with :func:`tessera.interpolate`.

    ``size`` is ``(height, width)`` (or one int for both), ``scale`` a factor (or one per axis).
    Returns an array of the input's dtype and rank.
    """
    image = np.asarray(image)
    squeeze = image.ndim == 2
    hwc = _as_hwc(image)
    work = np.ascontiguousarray(hwc, dtype=_work_dtype(hwc.dtype))
    out = tessera.interpolate(
        as_nchw(work),
        size=_pair(size, "size"),
        scale_factor=_pair(scale, "scale"),
        mode=mode,
        align_corners=align_corners,
        antialias=antialias,
    )
    out_hwc = np.asarray(out)[0].transpose(1, 2, 0)
    result = _from_work(out_hwc, hwc.dtype)
    return result[:, :, 0] if squeeze else result


def output_size(
    image_shape: Tuple[int, ...],
    size=None,
    scale=None,
    mode: str = "bilinear",
    antialias: bool = False,
    align_corners: Optional[bool] = None,
) -> Tuple[int, int]:
    """The ``(height, width)`` that :func:`resize_image` produces; raises ValueError like it."""
    h, w = image_shape[:2]
    c = image_shape[2] if len(image_shape) > 2 else 1
    shape = tessera.output_shape(
        (1, c, h, w),
        size=_pair(size, "size"),
        scale_factor=_pair(scale, "scale"),
        mode=mode,
        align_corners=align_corners,
        antialias=antialias,
    )
    return tuple(int(d) for d in shape[-2:])
