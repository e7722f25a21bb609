"""``interpolate`` on Dask arrays, chunk by chunk, with bitwise the result of the in-memory call.

    >>> import dask.array as da, tessera.dask
    >>> x = da.random.standard_normal((1, 3, 4096, 4096), chunks=(1, 3, 1000, 1000)).astype("float32")
    >>> y = tessera.dask.interpolate(x, scale_factor=0.5, mode="bicubic", antialias=True)
    >>> y.chunks[2]
    (500, 500, 500, 500, 48)

The graph is built explicitly: for each output chunk, :func:`tessera.required_input_region` gives the
input box its values depend on, the task gathers only the input chunks that overlap that box (no
rechunking to one chunk, no ``map_overlap`` with a guessed depth) and :func:`tessera.interpolate_region`
computes the chunk from them. Every chunk is bitwise the same slice of ``tessera.interpolate`` on the
whole array, for any input chunking, scheduler or cluster (``dask.distributed`` included: the tasks are
plain functions of this module).
"""

from __future__ import annotations

import bisect
import functools
from typing import Optional

import numpy as np

import tessera
from tessera.tiled import required_ranges

__all__ = ["interpolate", "output_chunks"]

_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _bounds(chunks) -> list:
    return [0, *np.cumsum(chunks).tolist()]


def _scaled_chunks(in_chunks, in_size: int, out_size: int) -> tuple:
    """Output chunks along one spatial dim: the input chunk boundaries scaled by out/in, rounded down, with
    empty chunks dropped (an upsample keeps the number of chunks, a downsample may merge some)."""
    if out_size == 0:
        return (0,)
    if in_size == 0:
        return (out_size,)
    edges = sorted({b * out_size // in_size for b in _bounds(in_chunks)} | {0, out_size})
    return tuple(b - a for a, b in zip(edges[:-1], edges[1:]))


def output_chunks(input_chunks, input_shape, output_shape) -> tuple:
    """The default chunks of :func:`interpolate`'s result: N and C chunks kept, spatial chunks scaled."""
    chunks = [tuple(input_chunks[0]), tuple(input_chunks[1])]
    for c, i, o in zip(input_chunks[2:], input_shape[2:], output_shape[2:]):
        chunks.append(_scaled_chunks(c, i, o))
    return tuple(chunks)


def _overlapping_blocks(bounds, start: int, stop: int) -> range:
    """Indices of the chunks (boundaries `bounds`) that overlap [start, stop), stop > start."""
    first = bisect.bisect_right(bounds, start) - 1
    last = bisect.bisect_left(bounds, stop) - 1
    return range(first, last + 1)


def _compute_block(blocks, *, offsets, required, input_size, region, kwargs):
    """One output chunk: concatenate the gathered input chunks, crop them to the required box, run
    interpolate_region. `offsets`: where the concatenation starts in the input, per dim."""
    from dask.array.core import concatenate3

    part = concatenate3(blocks)
    crop = tuple(slice(a - o, b - o) for (a, b), o in zip(required, offsets))
    part = part[crop]
    starts = [a for a, _ in required[2:]]
    return tessera.interpolate_region(part, input_size, starts, region, **kwargs)


def _nested(keys_per_dim, name, prefix=()):
    if not keys_per_dim:
        return (name, *prefix)
    return [_nested(keys_per_dim[1:], name, prefix + (i,)) for i in keys_per_dim[0]]


def interpolate(
    darray,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners: Optional[bool] = None,
    recompute_scale_factor: Optional[bool] = None,
    antialias: bool = False,
    *,
    chunks=None,
):
    """``tessera.interpolate`` of a Dask array (N, C, *spatial), as a lazy Dask array.

    The arguments are those of :func:`tessera.interpolate`. ``chunks``: the output chunks (anything
    ``dask.array.core.normalize_chunks`` takes); by default N and C keep the input's chunks and each
    spatial dim gets the input's chunk boundaries scaled by the resize factor. Each output chunk depends
    only on the input chunks overlapping its required input box. float16, float32 and float64.
    """
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    if not isinstance(darray, da.Array):
        raise TypeError(f"darray: expected a dask.array.Array, got {type(darray).__name__}")
    dtype = np.dtype(darray.dtype)
    if dtype not in _FLOATS:
        raise TypeError(f"darray: expected a float16, float32 or float64 array, got dtype {dtype}")
    if any(np.isnan(c) for cs in darray.chunks for c in cs):
        raise ValueError("darray: chunk sizes are unknown; call darray.compute_chunk_sizes() first")
    in_shape = tuple(int(v) for v in darray.shape)
    if len(in_shape) < 3:
        raise ValueError(
            f"darray: expected an array (N, C, *spatial) with at least one spatial dim, got shape {in_shape}"
        )
    kwargs = dict(
        size=size,
        scale_factor=scale_factor,
        mode=mode,
        align_corners=align_corners,
        recompute_scale_factor=recompute_scale_factor,
        antialias=antialias,
    )
    out_shape = tuple(tessera.output_shape(in_shape, **kwargs))
    if chunks is None:
        out_chunks = output_chunks(darray.chunks, in_shape, out_shape)
    else:
        out_chunks = da.core.normalize_chunks(chunks, out_shape, dtype=dtype)

    name = "tessera-interpolate-" + tokenize(darray.name, out_chunks, sorted(kwargs.items(), key=str))
    in_bounds = [_bounds(c) for c in darray.chunks]
    out_bounds = [_bounds(c) for c in out_chunks]
    # Regions are separable: the input range of every chunk along each spatial dim, in a few calls.
    spatial_ranges = [[(b[i], b[i + 1]) for i in range(len(b) - 1)] for b in out_bounds[2:]]
    nonempty = [[r for r in axis if r[1] > r[0]] for axis in spatial_ranges]
    lookup = []  # per spatial dim: output range -> required input range
    if all(nonempty):
        required_per_axis = required_ranges(in_shape, nonempty, **kwargs)
        lookup = [dict(zip(ranges, req)) for ranges, req in zip(nonempty, required_per_axis)]
    graph = {}
    for index in np.ndindex(*(len(c) for c in out_chunks)):
        ranges = [(b[i], b[i + 1]) for b, i in zip(out_bounds, index)]
        if any(b <= a for a, b in ranges):  # an empty chunk
            graph[(name, *index)] = np.empty(tuple(b - a for a, b in ranges), dtype=dtype)
            continue
        region = tuple(ranges[2:])
        required = tuple(ranges[:2]) + tuple(table[r] for table, r in zip(lookup, region))
        blocks = [_overlapping_blocks(bounds, a, b) for bounds, (a, b) in zip(in_bounds, required)]
        task = functools.partial(
            _compute_block,
            offsets=tuple(bounds[r[0]] for bounds, r in zip(in_bounds, blocks)),
            required=required,
            input_size=(ranges[0][1] - ranges[0][0], ranges[1][1] - ranges[1][0]) + in_shape[2:],
            region=region,
            kwargs=kwargs,
        )
        graph[(name, *index)] = (task, _nested(blocks, darray.name))
    hlg = HighLevelGraph.from_collections(name, graph, dependencies=[darray])
    meta = np.empty((0,) * len(out_shape), dtype=dtype)
    return da.Array(hlg, name, chunks=out_chunks, dtype=dtype, meta=meta)
