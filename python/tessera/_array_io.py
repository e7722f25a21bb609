"""Reading and writing boxes of large arrays: memory-mapped sources copied out slab by slab with their
pages released (Linux), and :class:`ImageView`, an (N, C, *spatial) view of image arrays stored in
another axis order (e.g. a TIFF's (H, W, C) or a zarr level's (C, Y, X))."""

from __future__ import annotations

import ctypes
import mmap
import sys
from typing import Tuple

import numpy as np

# --------------------------------------------------------------------------------------------
# memory-mapped pages
# --------------------------------------------------------------------------------------------

_MADV_DONTNEED = 4
_libc = None
# A box of a memory-mapped source is copied out slab by slab, each slab spanning at most this many bytes
# of the mapping, and each slab's pages are released once copied.
_SLAB_BYTES = 8 * 2**20


def _byte_span(a: np.ndarray) -> Tuple[int, int]:
    lo = hi = a.__array_interface__["data"][0]
    for n, s in zip(a.shape, a.strides):
        if s < 0:
            lo += (n - 1) * s
        else:
            hi += (n - 1) * s
    return lo, hi + a.itemsize


def _is_shared_mapping(a) -> bool:
    """A view of a numpy.memmap whose pages can be released: shared with the file (not mode 'c')."""
    return (
        sys.platform.startswith("linux")
        and isinstance(a, np.memmap)
        and getattr(a, "_mmap", None) is not None
        and getattr(a, "mode", "c") in ("r", "r+", "w+")
    )


def _release_pages(a) -> None:
    """Drops the pages under a ``numpy.memmap`` view from this process's resident set (Linux).

    The mapping is shared with the file, so the data stays in the page cache (written pages included)
    and is faulted back in if touched again; copy-on-write mappings (mode 'c') are left alone, since
    dropping their pages would drop the private changes.
    """
    global _libc
    if not _is_shared_mapping(a) or a.size == 0:
        return
    lo, hi = _byte_span(a)
    page = mmap.PAGESIZE
    lo -= lo % page  # the mapping starts on a page boundary, so this stays inside it
    hi += -hi % page
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    _libc.madvise(lo, hi - lo, _MADV_DONTNEED)


def _copy_released(out: np.ndarray, view: np.ndarray) -> None:
    """out[...] = view, slab by slab along view's outermost axis in memory, releasing each slab's pages.

    Reading a mapped box faults in whole runs of pages around it (the kernel maps up to 64 KiB around each
    fault), so a box of a few columns of a wide image would otherwise keep every row it crosses resident.
    """
    lo, hi = _byte_span(view)
    if hi - lo <= _SLAB_BYTES or view.ndim == 0:
        np.copyto(out, view)
        _release_pages(view)
        return
    axes = [d for d in range(view.ndim) if view.shape[d] > 1]
    axis = max(axes, key=lambda d: abs(view.strides[d]))
    step = max(1, _SLAB_BYTES // abs(view.strides[axis]))
    for start in range(0, view.shape[axis], step):
        index = (slice(None),) * axis + (slice(start, start + step),)
        _copy_released(out[index], view[index])


def _read_box(src, key) -> np.ndarray:
    """src[key] as an ndarray in memory; a memory-mapped box is copied out (same memory format) with its
    pages released, so the box costs its own size and no more."""
    raw = src[key]
    if _is_shared_mapping(raw):
        box = np.empty_like(raw, order="K", subok=False)
        _copy_released(box, raw)
        return box
    return raw if isinstance(raw, np.ndarray) else np.asarray(raw)


# --------------------------------------------------------------------------------------------
# views
# --------------------------------------------------------------------------------------------


class ImageView:
    """A lazy ``(1, C, *spatial)`` view of an array-like stored with other axes, e.g. an ``(H, W, C)``
    TIFF or a ``(C, H, W)`` zarr array: slicing reads (assignment writes) only the box asked for.

    ``axes`` names the stored axes in order: ``'c'`` for channels, ``'_'`` for a length-1 dim to drop,
    any other letters (``'z'``, ``'y'``, ``'x'``) for the spatial dims, which keep their stored order:
    e.g. ``'yxc'``, ``'cyx'``, ``'yx'``. Without a ``'c'`` the view has one channel. ``close()`` (or a
    ``with`` block) calls ``closer``, e.g. to close the file the array reads from.
    """

    def __init__(self, array, axes: str, closer=None):
        shape = tuple(int(v) for v in array.shape)
        if not isinstance(axes, str) or len(axes) != len(shape):
            raise ValueError(f"axes: expected {len(shape)} letters, one per stored dim, got {axes!r}")
        named = axes.replace("_", "")
        if len(set(named)) != len(named) or "n" in named:
            raise ValueError(f"axes: expected distinct letters (at most one 'c', no 'n'), got {axes!r}")
        if any(a == "_" and n != 1 for a, n in zip(axes, shape)):
            raise ValueError(f"axes: a '_' dim must have length 1; axes {axes!r}, shape {shape}")
        self.array = array
        self.axes = axes
        self.closer = closer
        self._kept = [i for i, a in enumerate(axes) if a != "_"]
        reduced = [axes[i] for i in self._kept]  # the axes left once the '_' dims are indexed away
        spatial = [j for j, a in enumerate(reduced) if a != "c"]
        if not spatial:
            raise ValueError(f"axes: expected at least one spatial dim, got {axes!r}")
        self._channel = reduced.index("c") if "c" in reduced else None
        self._spatial = spatial
        channels = shape[self._kept[self._channel]] if self._channel is not None else 1
        self.shape = (1, channels) + tuple(shape[self._kept[j]] for j in spatial)
        self.dtype = np.dtype(array.dtype)
        self.ndim = len(self.shape)
        self._to_view = ([self._channel] if self._channel is not None else []) + spatial
        self._to_stored = [int(v) for v in np.argsort(self._to_view)]

    @property
    def chunks(self):
        """The stored chunks (or zarr shards) in view order, or None."""
        chunks = _dst_chunks(self.array, len(self.array.shape))
        if chunks is None:
            return None
        reduced = [chunks[i] for i in self._kept]
        c = reduced[self._channel] if self._channel is not None else 1
        return (1, c) + tuple(reduced[j] for j in self._spatial)

    def close(self) -> None:
        if self.closer is not None:
            self.closer()
            self.closer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __array__(self, dtype=None, copy=None):
        whole = self[tuple(slice(None) for _ in self.shape)]
        return np.asarray(whole, dtype=dtype)

    def __repr__(self) -> str:
        return f"ImageView({type(self.array).__name__} of shape {tuple(self.array.shape)}, axes={self.axes!r})"

    def _stored_key(self, key):
        if not isinstance(key, tuple):
            key = (key,)
        if len(key) != self.ndim or not all(isinstance(k, slice) for k in key):
            raise IndexError(f"ImageView takes {self.ndim} slices, got {key!r}")
        if len(range(1)[key[0]]) != 1:
            raise IndexError("ImageView: the N dim has length 1; slice it as 0:1")
        reduced = [None] * len(self._kept)
        if self._channel is not None:
            reduced[self._channel] = key[1]
        elif len(range(1)[key[1]]) != 1:
            raise IndexError("ImageView: the C dim has length 1; slice it as 0:1")
        for j, k in zip(self._spatial, key[2:]):
            reduced[j] = k
        stored = [0] * len(self.axes)
        for i, k in zip(self._kept, reduced):
            stored[i] = k
        return tuple(stored)

    def __getitem__(self, key):
        part = self.array[self._stored_key(key)]
        if not isinstance(part, np.ndarray):
            part = np.asarray(part)
        part = part.transpose(self._to_view)
        return part[None] if self._channel is not None else part[None, None]

    def __setitem__(self, key, value):
        value = np.asarray(value)
        stored = self._stored_key(key)
        if value.ndim != self.ndim:
            raise ValueError(f"ImageView: expected a {self.ndim}-d value, got shape {value.shape}")
        value = value[0] if self._channel is not None else value[0, 0]
        self.array[stored] = value.transpose(self._to_stored)


def _dst_chunks(dst, ndim: int):
    """The write unit of a chunked destination (zarr shards or chunks, h5py chunks), or None."""
    for name in ("shards", "chunks"):
        chunks = getattr(dst, name, None)
        if isinstance(chunks, tuple) and len(chunks) == ndim and all(isinstance(c, (int, np.integer)) for c in chunks):
            return tuple(int(c) for c in chunks)
    return None
