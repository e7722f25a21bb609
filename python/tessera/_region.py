"""Regions: any piece of an interpolate result (or of its backward), computed from a box of the input
alone, equals the same piece of the whole result bit for bit."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

from . import _arrays, _core
from ._interpolate import Scale, Size, _destination, _is_int, _normalize

Region = Tuple[Tuple[int, int], ...]


def _shape_argument(value, name: str) -> tuple:
    if not isinstance(value, (list, tuple)) or not all(_is_int(v) for v in value):
        raise TypeError(f"{name}: expected a sequence of ints, got {value!r}")
    return tuple(int(v) for v in value)


def _region_argument(value, name: str) -> list:
    """((start, stop), ...) -> list of int pairs; slices with unit step are accepted too."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name}: expected a sequence of (start, stop) pairs, got {value!r}")
    pairs = []
    for item in value:
        if isinstance(item, slice) and item.step in (None, 1) and _is_int(item.start) and _is_int(item.stop):
            pairs.append((int(item.start), int(item.stop)))
        elif isinstance(item, (list, tuple)) and len(item) == 2 and all(_is_int(v) for v in item):
            pairs.append((int(item[0]), int(item[1])))
        else:
            raise TypeError(f"{name}: expected (start, stop) pairs of ints, got {item!r}")
    return pairs


def _options(input_size, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias):
    return _normalize(len(input_size), size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)


def required_input_region(
    input_size: Sequence[int],
    output_region,
    size: Size = None,
    scale_factor: Scale = None,
    mode: str = "nearest",
    align_corners: Optional[bool] = None,
    recompute_scale_factor: Optional[bool] = None,
    antialias: bool = False,
) -> Region:
    """The smallest input box ``((start, stop), ...)`` per spatial dim that determines ``output_region``
    (``((start, stop), ...)`` in whole-output coordinates) of ``interpolate(x, **kw)`` for x of shape
    ``input_size`` (N, C, *spatial). It holds for every dtype and memory format."""
    input_size = _shape_argument(input_size, "input_size")
    region = _region_argument(output_region, "output_region")
    opts = _options(input_size, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    return tuple(tuple(r) for r in _core.required_region(list(input_size), region, *opts, backward=False))


def required_grad_output_region(
    input_size: Sequence[int],
    input_region,
    size: Size = None,
    scale_factor: Scale = None,
    mode: str = "nearest",
    align_corners: Optional[bool] = None,
    recompute_scale_factor: Optional[bool] = None,
    antialias: bool = False,
) -> Region:
    """The smallest box of grad_output that determines ``input_region`` of the input gradient."""
    input_size = _shape_argument(input_size, "input_size")
    region = _region_argument(input_region, "input_region")
    opts = _options(input_size, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    return tuple(tuple(r) for r in _core.required_region(list(input_size), region, *opts, backward=True))


def _run_region(part, part_name, input_size, part_start, region, region_name, kwargs, backward, out):
    part = _arrays.check_array(part, part_name)
    input_size = _shape_argument(input_size, "input_size")
    part_start = _shape_argument(part_start, "part_start")
    pairs = _region_argument(region, region_name)
    opts = _options(input_size, *kwargs)
    shape, strides = _arrays.shape_and_strides(part)
    out_shape = (shape[0], shape[1], *(stop - start for start, stop in pairs)) if len(shape) >= 2 else ()
    if len(pairs) != len(input_size) - 2 or any(stop <= start for start, stop in pairs):
        raise ValueError(f"{region_name}: expected {len(input_size) - 2} non-empty (start, stop) ranges, got {pairs}")
    out, target = _destination(part, part_name, out_shape, _arrays.is_channels_last(shape, strides), out)
    _core.interpolate_region(part, target, list(input_size), list(part_start), pairs, *opts, backward=backward,
                             stream=_arrays.cuda_stream(part))
    return _arrays.to_kind_of(part, out)


def interpolate_region(
    x_part,
    input_size: Sequence[int],
    part_start: Sequence[int],
    output_region,
    size: Size = None,
    scale_factor: Scale = None,
    mode: str = "nearest",
    align_corners: Optional[bool] = None,
    recompute_scale_factor: Optional[bool] = None,
    antialias: bool = False,
    *,
    out=None,
):
    """``interpolate(x, **kw)[..., output_region]``, bitwise, computed from ``x_part``: the box of x
    (N, C, *box) that starts at ``part_start`` (one index per spatial dim). The box must contain
    ``required_input_region(input_size, output_region, **kw)``; a smaller one raises ValueError naming
    the missing range. ``out``: an existing array (N, C, *region lengths) that receives the result, for
    example the region's slice of the whole result."""
    kwargs = (size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    return _run_region(x_part, "x_part", input_size, part_start, output_region, "output_region", kwargs, False, out)


def interpolate_backward_region(
    grad_output_part,
    input_size: Sequence[int],
    part_start: Sequence[int],
    input_region,
    size: Size = None,
    scale_factor: Scale = None,
    mode: str = "nearest",
    align_corners: Optional[bool] = None,
    recompute_scale_factor: Optional[bool] = None,
    antialias: bool = False,
    *,
    out=None,
):
    """``interpolate_backward(grad_output, input_size, **kw)[..., input_region]``, bitwise, from the box
    of grad_output that starts at ``part_start`` and contains
    ``required_grad_output_region(input_size, input_region, **kw)``. ``out`` as in
    ``interpolate_region``."""
    kwargs = (size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    return _run_region(grad_output_part, "grad_output_part", input_size, part_start, input_region, "input_region",
                       kwargs, True, out)
