"""Out-of-core ``interpolate``: stream an array too large for memory through tessera tile by tile.

    >>> import numpy as np, tessera.tiled
    >>> src = np.memmap("scan.f32", dtype=np.float32, mode="r", shape=(1, 1, 16000, 16000))
    >>> dst = np.memmap("quarter.f32", dtype=np.float32, mode="w+", shape=(1, 1, 4000, 4000))
    >>> tessera.tiled.interpolate(src, dst, size=(4000, 4000), mode="area", max_memory=128 * 2**20)

``src`` is anything with ``shape``, ``dtype`` and NumPy-style slicing (``numpy.memmap``, zarr arrays,
h5py datasets, tifffile's memory-mapped TIFFs); ``dst`` anything that also takes slice assignment. The
output is split into tiles; each tile reads only the input box its values depend on
(:func:`tessera.required_input_region`) and is computed with :func:`tessera.interpolate_region`, so the
result is bitwise the result of :func:`tessera.interpolate` on the whole array, for any tiling, number
of workers and memory bound.

Memory: tiles are chosen so that, for every worker at once, the input box, the output tile and the
intermediates of the separable passes fit in ``max_memory``. A box of a ``numpy.memmap`` source is
copied out slab by slab and the pages of each slab, like those a tile wrote to a ``numpy.memmap``
destination, are handed back to the page cache at once (Linux), so mapped pages do not accumulate in
the resident set of the process.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import math
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple

import numpy as np

import tessera

from ._array_io import ImageView, _dst_chunks, _read_box, _release_pages

__all__ = ["interpolate", "plan_tiles", "TilePlan", "ImageView", "required_ranges", "DEFAULT_MAX_MEMORY"]

#: Default memory bound of :func:`interpolate` (bytes).
DEFAULT_MAX_MEMORY = 256 * 2**20

# Spatial tiles are not made smaller than this (output pixels per side) before N and C are split.
_MIN_SPATIAL_TILE = 256
# Above this many tiles per axis, the worst input box of an axis is estimated from a sample of tiles.
_MAX_PROBES = 48
# Jobs with more tiles than this show a progress bar when stderr is a terminal (progress=None).
_PROGRESS_MIN_TILES = 8


# --------------------------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------------------------


def _work_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype tessera computes in for source elements of ``dtype`` (as ``tessera resize`` does)."""
    if dtype.kind == "f" and dtype.itemsize in (2, 4, 8):
        return dtype.newbyteorder("=")
    if dtype.kind in "ui" and dtype.itemsize <= 8:
        # 32/64-bit integers need more than float32's 24-bit mantissa
        return np.dtype(np.float32) if dtype.itemsize <= 2 else np.dtype(np.float64)
    raise TypeError(f"src: expected a float16, float32, float64 or integer array, got dtype {dtype}")


def _from_work(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Converts a computed tile to the destination dtype: integers are rounded to nearest and clipped
    to the dtype's range (the rule of ``tessera resize``), floats keep their value."""
    if dtype.kind == "f":
        return array.astype(dtype, copy=False)
    info = np.iinfo(dtype)
    rounded = np.rint(array)
    np.clip(rounded, info.min, info.max, out=rounded)
    return rounded.astype(dtype)


def _allowed_dst_dtypes(src_dtype: np.dtype, work: np.dtype) -> Tuple[np.dtype, ...]:
    native = src_dtype.newbyteorder("=")
    if src_dtype.kind == "f":
        return (native,)
    return (native, work)


# --------------------------------------------------------------------------------------------
# planning
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TilePlan:
    """How :func:`interpolate` splits an output: ``tile`` is the tile shape (N, C, *spatial) of all
    tiles but the last along each dim, ``grid`` the number of tiles per dim, ``input_ranges[d][i]`` the
    input range that tile i along spatial dim d needs."""

    input_shape: Tuple[int, ...]
    output_shape: Tuple[int, ...]
    tile: Tuple[int, ...]
    grid: Tuple[int, ...]
    num_workers: int
    threads_per_worker: int
    bytes_per_tile: int
    aligned: bool  # tiles align with the destination's chunks (no two tiles write into one chunk)
    input_ranges: Tuple[Tuple[Tuple[int, int], ...], ...] = field(default=(), repr=False)

    @property
    def num_tiles(self) -> int:
        return math.prod(self.grid)

    def regions(self):
        """The tiles, in order: ``(n_range, c_range, spatial_region, input_box)``, ranges as (start, stop)."""
        axes = [_axis_tiles(size, t) for t, size in zip(self.tile, self.output_shape)]
        for index in itertools.product(*(range(g) for g in self.grid)):
            ranges = [a[i] for a, i in zip(axes, index)]
            box = tuple(r[i] for r, i in zip(self.input_ranges, index[2:]))
            yield ranges[0], ranges[1], tuple(ranges[2:]), box


def _axis_tiles(size: int, t: int):
    return [(i * t, min((i + 1) * t, size)) for i in range(-(-size // t))]


def required_ranges(input_shape, output_ranges, **kwargs):
    """The input range each output range needs, per spatial dim: ``output_ranges[d]`` lists (start, stop)
    ranges along spatial dim d; returns the same nesting with
    ``tessera.required_input_region(...)[d]`` for each. Regions are separable (the range a dim needs
    depends only on the output range along that dim), so this takes max(len(output_ranges[d])) calls,
    not their product: tile i along every dim at once."""
    output_ranges = [list(r) for r in output_ranges]
    result = [[None] * len(r) for r in output_ranges]
    for i in range(max((len(r) for r in output_ranges), default=0)):
        region = tuple(r[min(i, len(r) - 1)] for r in output_ranges)
        box = tessera.required_input_region(tuple(input_shape), region, **kwargs)
        for d, r in enumerate(output_ranges):
            if i < len(r):
                result[d][i] = tuple(box[d])
    return result


def _worst_boxes(input_shape, output_shape, tile, kw, exact: bool = False):
    """(the longest input range any tile needs per spatial dim, the ranges when computed exactly).
    Beyond _MAX_PROBES tiles along a dim, and unless `exact`, a sample of the tiles is probed and two
    elements of slack are added."""
    per_axis = [_axis_tiles(o, t) for o, t in zip(output_shape[2:], tile[2:])]
    count = max(len(a) for a in per_axis)
    if exact or count <= _MAX_PROBES:
        ranges = required_ranges(input_shape, per_axis, **kw)
        return tuple(max(b - a for a, b in r) for r in ranges), ranges
    probes = sorted(set(range(16)) | set(range(count - 16, count)) | set(np.linspace(0, count - 1, 16).astype(int)))
    sampled = [[a[min(i, len(a) - 1)] for i in probes] for a in per_axis]
    ranges = required_ranges(input_shape, sampled, **kw)
    worst = tuple(min(max(b - a for a, b in r) + 2, n) for r, n in zip(ranges, input_shape[2:]))
    return worst, None


def _tile_bytes(tile, boxes, src_dtype: np.dtype, work: np.dtype, dst_dtype: np.dtype) -> int:
    """Bytes one tile holds at its peak: the input box (and its conversion to the work dtype), the
    intermediates of the separable passes (one per pass but the last, each at most the largest box with
    some dims already resampled) and the output tile (and its conversion to the destination dtype)."""
    nc = tile[0] * tile[1]
    spatial = tile[2:]
    nd = len(spatial)
    in_el = nc * math.prod(boxes)
    out_el = nc * math.prod(spatial)
    compute_item = max(work.itemsize, 4)  # float16 is computed in float32
    total = in_el * src_dtype.itemsize + out_el * work.itemsize
    if work != src_dtype or src_dtype.itemsize == 2:
        total += in_el * compute_item
    if work.itemsize == 2:
        total += out_el * compute_item
    if dst_dtype != work:
        total += out_el * dst_dtype.itemsize
    if nd >= 2:
        largest = 0
        for mask in range(1, 2**nd - 1):
            el = math.prod(spatial[d] if mask >> d & 1 else boxes[d] for d in range(nd))
            largest = max(largest, el)
        total += (nd - 1) * nc * largest * compute_item
    return int(total)


def _halve(t: int, chunk: Optional[int]) -> int:
    """A smaller tile extent: half of t, rounded to the chunk size where t spans several chunks."""
    if chunk and t > chunk:
        return max(chunk, (-(-t // 2) // chunk) * chunk)
    return -(-t // 2)


def plan_tiles(
    src_shape: Sequence[int],
    src_dtype=np.float32,
    dst=None,
    *,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners: Optional[bool] = None,
    recompute_scale_factor: Optional[bool] = None,
    antialias: bool = False,
    max_memory: int = DEFAULT_MAX_MEMORY,
    tile: Optional[Sequence[int]] = None,
    num_workers: Optional[int] = None,
    dst_dtype=None,
) -> TilePlan:
    """The tiling :func:`interpolate` uses for these arguments (see there), without running it."""
    src_shape = tuple(int(v) for v in src_shape)
    src_dtype = np.dtype(src_dtype)
    work = _work_dtype(src_dtype)
    kw = dict(
        size=size,
        scale_factor=scale_factor,
        mode=mode,
        align_corners=align_corners,
        recompute_scale_factor=recompute_scale_factor,
        antialias=antialias,
    )
    out_shape = tuple(tessera.output_shape(src_shape, **kw))
    ndim = len(out_shape)
    dst_dtype = np.dtype(dst_dtype) if dst_dtype is not None else np.dtype(getattr(dst, "dtype", src_dtype))
    max_memory = _check_max_memory(max_memory)
    cores = tessera.get_num_threads()  # the thread budget: all cores unless set_num_threads says otherwise
    if num_workers is None:
        workers = cores
    else:
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 1:
            raise ValueError(f"num_workers: expected a positive int or None, got {num_workers!r}")
        workers = int(num_workers)
    chunks = _dst_chunks(dst, ndim) if dst is not None else None

    if any(v == 0 for v in out_shape):
        return TilePlan(src_shape, out_shape, out_shape, (0,) * ndim, 1, cores, 0, True)

    def cost(t, exact=False):
        boxes, ranges = _worst_boxes(src_shape, out_shape, t, kw, exact)
        return _tile_bytes(t, boxes, src_dtype, work, dst_dtype), ranges

    ranges = None
    if tile is not None:
        t = _check_tile(tile, out_shape)
    else:
        t = list(out_shape)
        per_tile, ranges = cost(t)
        spatial = range(2, ndim)
        while per_tile * min(workers, _count(t, out_shape)) > max_memory:
            # Split the outermost spatial dim first (whole rows read from row-major storage in one
            # piece), down to tiles of _MIN_SPATIAL_TILE (or one destination chunk); then N, then C,
            # which need no overlap between tiles; then the spatial dims down to single elements.
            floor = [max(_MIN_SPATIAL_TILE, chunks[d] if chunks else 0) for d in range(ndim)]
            big = [d for d in spatial if t[d] > floor[d]]
            if big:
                d = big[0]
            elif t[0] > 1:
                d = 0
            elif t[1] > 1:
                d = 1
            else:
                rest = [d for d in spatial if t[d] > 1]
                if not rest:
                    if workers > 1:
                        workers -= 1
                        continue
                    raise ValueError(
                        f"max_memory: {max_memory} bytes is too small; a single output element needs "
                        f"{per_tile} bytes with this source"
                    )
                d = max(rest, key=lambda d: (t[d], -d))
            t[d] = _halve(t[d], chunks[d] if chunks else None)
            per_tile, ranges = cost(t)
    t = tuple(t)
    if ranges is None:  # sampled while planning: the exact ranges of the chosen tiling
        per_tile, ranges = cost(t, exact=True)
    grid = tuple(-(-o // s) for o, s in zip(out_shape, t))
    workers = max(1, min(workers, math.prod(grid)))
    aligned = chunks is None or all(g == 1 or s % c == 0 for s, c, g in zip(t, chunks, grid))
    return TilePlan(
        src_shape, out_shape, t, grid, workers, max(1, cores // workers), per_tile, aligned,
        tuple(tuple(r) for r in ranges),
    )


def _count(t, out_shape) -> int:
    return math.prod(-(-o // s) for o, s in zip(out_shape, t))


def _check_max_memory(max_memory) -> int:
    if isinstance(max_memory, bool) or not isinstance(max_memory, (int, np.integer, float)):
        raise TypeError(f"max_memory: expected a number of bytes, got {max_memory!r}")
    if not max_memory > 0 or max_memory != max_memory or max_memory == float("inf"):
        raise ValueError(f"max_memory: expected a positive number of bytes, got {max_memory!r}")
    return int(max_memory)


def _check_tile(tile, out_shape) -> list:
    ndim = len(out_shape)
    if isinstance(tile, (int, np.integer)) and not isinstance(tile, bool):
        tile = (int(tile),) * (ndim - 2)
    if not isinstance(tile, (list, tuple)) or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in tile
    ):
        raise TypeError(f"tile: expected an int or a sequence of ints, got {tile!r}")
    if len(tile) == ndim - 2:
        tile = tuple(out_shape[:2]) + tuple(tile)
    elif len(tile) != ndim:
        raise ValueError(
            f"tile: expected {ndim - 2} spatial extents or {ndim} extents (N, C, *spatial), got {len(tile)}"
        )
    if any(v < 1 for v in tile):
        raise ValueError(f"tile: extents must be positive, got {tuple(tile)}")
    return [min(int(v), max(o, 1)) for v, o in zip(tile, out_shape)]


# --------------------------------------------------------------------------------------------
# the tiled interpolate
# --------------------------------------------------------------------------------------------


def _check_src(src):
    shape = getattr(src, "shape", None)
    dtype = getattr(src, "dtype", None)
    if shape is None or dtype is None or not hasattr(src, "__getitem__"):
        raise TypeError(
            f"src: expected an array-like with shape, dtype and slicing (numpy.memmap, zarr array, ...), "
            f"got {type(src).__name__}"
        )
    try:
        shape = tuple(int(v) for v in shape)
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"src: shape and dtype must be a tuple of ints and a NumPy dtype, got {shape!r}, {dtype!r}"
        ) from None
    if len(shape) < 3:
        raise ValueError(f"src: expected an array (N, C, *spatial) with at least one spatial dim, got shape {shape}")
    return shape, dtype


def _check_dst(dst, out_shape, src_dtype, work):
    if not hasattr(dst, "__setitem__") or getattr(dst, "shape", None) is None or getattr(dst, "dtype", None) is None:
        raise TypeError(f"dst: expected an array-like with shape, dtype and slice assignment, got {type(dst).__name__}")
    shape = tuple(int(v) for v in dst.shape)
    if shape != tuple(out_shape):
        raise ValueError(f"dst: expected shape {tuple(out_shape)} (the output of this interpolate), got {shape}")
    dtype = np.dtype(dst.dtype)
    allowed = _allowed_dst_dtypes(src_dtype, work)
    if dtype.newbyteorder("=") not in allowed:
        names = " or ".join(str(d) for d in allowed)
        raise TypeError(f"dst: expected dtype {names} for a source of dtype {src_dtype}, got {dtype}")
    if isinstance(dst, np.ndarray) and not dst.flags.writeable:
        raise ValueError("dst: the array is read-only")
    return dtype


def interpolate(
    src,
    dst=None,
    *,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners: Optional[bool] = None,
    recompute_scale_factor: Optional[bool] = None,
    antialias: bool = False,
    max_memory: int = DEFAULT_MAX_MEMORY,
    tile: Optional[Sequence[int]] = None,
    num_workers: Optional[int] = None,
    progress=None,
):
    """``tessera.interpolate(src, ...)`` written into ``dst``, tile by tile, within ``max_memory`` bytes.

    src: an array-like (N, C, *spatial) with ``shape``, ``dtype`` and NumPy slicing, read one input box
        at a time. float16/32/64 as :func:`tessera.interpolate`; integer sources are computed in float32
        (float64 for 32/64-bit integers), as ``tessera resize`` does.
    dst: an array-like of shape ``tessera.output_shape(src.shape, ...)`` taking slice assignment, of
        src's dtype (an integer destination gets the values rounded to nearest and clipped) or, for an
        integer source, of the float dtype it is computed in. ``None`` allocates a NumPy array of src's
        dtype. A chunked destination (zarr) gets tiles aligned with its chunks where the memory bound
        allows, else its writes are serialized.
    size, scale_factor, mode, align_corners, recompute_scale_factor, antialias: as ``interpolate``.
    max_memory: bytes that the tiles in flight may hold together (input boxes, intermediates, outputs).
    tile: output tile extents, spatial only or (N, C, *spatial); default: the largest that fit.
    num_workers: threads computing tiles, at most one per tile (default: ``tessera.get_num_threads()``,
        all cores unless set otherwise); tessera's own thread count is set to
        ``get_num_threads() // num_workers`` for the call and restored afterwards.
    progress: show a tqdm progress bar (True/False; None: when there are more than a few tiles and
        stderr is a terminal), or an object with ``update(n)`` (e.g. a tqdm bar) to report tiles to.

    Returns ``dst``. The values are bitwise those of ``tessera.interpolate`` on the whole array.
    """
    shape, src_dtype = _check_src(src)
    work = _work_dtype(src_dtype)
    kw = dict(
        size=size,
        scale_factor=scale_factor,
        mode=mode,
        align_corners=align_corners,
        recompute_scale_factor=recompute_scale_factor,
        antialias=antialias,
    )
    out_shape = tuple(tessera.output_shape(shape, **kw))
    if dst is None:
        dst = np.empty(out_shape, dtype=src_dtype.newbyteorder("="))
    dst_dtype = _check_dst(dst, out_shape, src_dtype, work)
    plan = plan_tiles(
        shape, src_dtype, dst, max_memory=max_memory, tile=tile, num_workers=num_workers, dst_dtype=dst_dtype, **kw
    )
    if plan.num_tiles == 0:
        return dst
    bar, own_bar = _progress_bar(progress, plan.num_tiles)
    write_lock = None if plan.aligned else threading.Lock()
    # A NumPy destination (memmaps included) of the dtype computed in takes each tile straight from the
    # kernels: no tile result is allocated or copied.
    writes_in_place = isinstance(dst, np.ndarray) and dst.dtype == work and dst.flags.writeable

    def run(n_range, c_range, region, box):
        nc = (slice(*n_range), slice(*c_range))
        part = _read_box(src, nc + tuple(slice(a, b) for a, b in box))
        if part.dtype.kind != "f" or not part.dtype.isnative:
            part = part.astype(work)
        part_size = (n_range[1] - n_range[0], c_range[1] - c_range[0]) + shape[2:]
        key = nc + tuple(slice(a, b) for a, b in region)
        if writes_in_place:
            tessera.interpolate_region(part, part_size, tuple(a for a, _ in box), region, **kw, out=dst[key])
        else:
            out = tessera.interpolate_region(part, part_size, tuple(a for a, _ in box), region, **kw)
            del part
            out = _from_work(np.asarray(out), dst_dtype)
            with write_lock or contextlib.nullcontext():
                dst[key] = out
        if isinstance(dst, np.memmap):
            _release_pages(dst[key])
        elif isinstance(dst, ImageView) and isinstance(dst.array, np.memmap):
            _release_pages(dst.array[dst._stored_key(key)])

    threads_before = tessera.get_num_threads()
    tessera.set_num_threads(plan.threads_per_worker)
    try:
        if plan.num_workers == 1:
            for tile_args in plan.regions():
                run(*tile_args)
                if bar is not None:
                    bar.update(1)
        else:
            _run_pool(run, plan, bar)
    finally:
        tessera.set_num_threads(threads_before)
        if own_bar:
            bar.close()
    return dst


def _run_pool(run, plan: TilePlan, bar) -> None:
    """Runs the tiles on plan.num_workers threads, with a short queue of tiles submitted ahead (a tile
    holds memory only while it runs); the first error cancels the tiles not started and is raised."""
    tiles = plan.regions()
    with ThreadPoolExecutor(max_workers=plan.num_workers, thread_name_prefix="tessera-tile") as pool:
        pending = set()
        for args in itertools.islice(tiles, 2 * plan.num_workers):
            pending.add(pool.submit(run, *args))
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    raise error
                if bar is not None:
                    bar.update(1)
            for args in itertools.islice(tiles, len(done)):
                pending.add(pool.submit(run, *args))


def _progress_bar(progress, num_tiles: int):
    """(bar, whether this call owns it) for the `progress` argument."""
    if progress is None:
        progress = num_tiles > _PROGRESS_MIN_TILES and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        progress = progress and importlib.util.find_spec("tqdm") is not None
    if progress is True:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            raise ImportError("progress=True needs tqdm (pip install tqdm)") from None
        return tqdm(total=num_tiles, unit="tile", desc="interpolate", leave=False), True
    if progress is False:
        return None, False
    if hasattr(progress, "update"):
        if getattr(progress, "total", 0) is None:
            progress.total = num_tiles
            if hasattr(progress, "refresh"):
                progress.refresh()
        return progress, False
    raise TypeError(f"progress: expected True, False, None or an object with update(n), got {progress!r}")
