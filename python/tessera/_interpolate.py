"""`interpolate` and `interpolate_backward`: argument checks, then the C++ core."""

from __future__ import annotations

import math
import numbers
from typing import Optional, Sequence, Union

import numpy as np

from . import _arrays, _core

Size = Union[int, Sequence[int], None]
Scale = Union[float, Sequence[float], None]


def _is_int(v) -> bool:
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v) -> bool:
    return isinstance(v, (numbers.Real, np.floating, np.integer)) and not isinstance(v, (bool, np.bool_))


def _optional_bool(value, name: str):
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    raise TypeError(f"{name}: expected True, False or None, got {value!r}")


def _normalize(ndim: int, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias):
    """Checks argument types (TypeError) and expands scalars to one value per spatial dim."""
    spatial = max(ndim - 2, 1)
    if not isinstance(mode, str):
        raise TypeError(f"mode: expected a string such as 'bilinear', got {mode!r}")
    if size is not None:
        if _is_int(size):
            size = [int(size)] * spatial
        elif isinstance(size, (list, tuple)) and all(_is_int(v) for v in size):
            size = [int(v) for v in size]
        else:
            raise TypeError(f"size: expected an int or a sequence of ints, got {size!r}")
    if scale_factor is not None:
        if _is_real(scale_factor):
            scale_factor = [float(scale_factor)] * spatial
        elif isinstance(scale_factor, (list, tuple)) and all(_is_real(v) for v in scale_factor):
            scale_factor = [float(v) for v in scale_factor]
        else:
            raise TypeError(f"scale_factor: expected a number or a sequence of numbers, got {scale_factor!r}")
    align_corners = _optional_bool(align_corners, "align_corners")
    recompute_scale_factor = _optional_bool(recompute_scale_factor, "recompute_scale_factor")
    if not isinstance(antialias, (bool, np.bool_)):
        raise TypeError(f"antialias: expected True or False, got {antialias!r}")
    return size, scale_factor, mode, align_corners, recompute_scale_factor, bool(antialias)


def output_shape(
    input_shape: Sequence[int],
    size: Size = None,
    scale_factor: Scale = None,
    mode: str = "nearest",
    align_corners: Optional[bool] = None,
    recompute_scale_factor: Optional[bool] = None,
    antialias: bool = False,
) -> tuple:
    """The shape `interpolate` returns for an input of `input_shape`, validating every option."""
    if not isinstance(input_shape, (list, tuple)) or not all(_is_int(v) for v in input_shape):
        raise TypeError(f"input_shape: expected a sequence of ints, got {input_shape!r}")
    opts = _normalize(len(input_shape), size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    return tuple(_core.output_shape(list(input_shape), *opts, input_name="input_shape"))


def interpolate(
    x,
    size: Size = None,
    scale_factor: Scale = None,
    mode: str = "nearest",
    align_corners: Optional[bool] = None,
    recompute_scale_factor: Optional[bool] = None,
    antialias: bool = False,
    *,
    out=None,
):
    """Resamples x (N, C, *spatial) exactly as ``torch.nn.functional.interpolate`` does.

    NumPy in gives NumPy out, a PyTorch tensor gives a tensor (not tracked by autograd: use
    ``tessera.torch.interpolate`` for that). The output has x's dtype and memory format
    (channels-last in, channels-last out). The result is bitwise the same for any thread count.

    ``out``: an existing array of the result's shape and x's kind, dtype and device, with any strides
    (e.g. a slice of a larger array), that receives the result and is returned. It must not share
    memory with x. Writing into memory that is already mapped skips the cost of a new result's pages.
    """
    x = _arrays.check_array(x, "x")
    shape, strides = _arrays.shape_and_strides(x)
    opts = _normalize(len(shape), size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    out_shape = tuple(_core.output_shape(list(shape), *opts, input_name="x"))
    out, target = _destination(x, "x", out_shape, _arrays.is_channels_last(shape, strides), out)
    _core.interpolate(x, target, *opts, stream=_arrays.cuda_stream(x))
    return _arrays.to_kind_of(x, out)


def interpolate_backward(
    grad_output,
    input_size: Sequence[int],
    size: Size = None,
    scale_factor: Scale = None,
    mode: str = "nearest",
    align_corners: Optional[bool] = None,
    recompute_scale_factor: Optional[bool] = None,
    antialias: bool = False,
    *,
    out=None,
):
    """Gradient of ``interpolate`` w.r.t. its input, given the gradient of its output.

    ``input_size`` is the forward input's full shape (N, C, *spatial); the keywords are the forward
    call's. Computed as a gather in a fixed order: bitwise identical on every run and thread count.
    ``out`` as in ``interpolate``: an existing array of shape ``input_size`` that receives the result.
    """
    grad_output = _arrays.check_array(grad_output, "grad_output")
    if not isinstance(input_size, (list, tuple)) or not all(_is_int(v) for v in input_size):
        raise TypeError(f"input_size: expected a sequence of ints (N, C, *spatial), got {input_size!r}")
    input_size = tuple(int(v) for v in input_size)
    if any(v < 0 for v in input_size):
        raise ValueError(f"input_size: dimensions must be non-negative, got {input_size}")
    shape, strides = _arrays.shape_and_strides(grad_output)
    opts = _normalize(len(input_size), size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    expected = tuple(_core.output_shape(list(input_size), *opts, input_name="input_size"))
    if tuple(shape) != expected:
        raise ValueError(
            f"grad_output: expected shape {expected} (the forward output for input_size {input_size}), got {tuple(shape)}"
        )
    out, target = _destination(grad_output, "grad_output", input_size, _arrays.is_channels_last(shape, strides), out)
    _core.interpolate_backward(grad_output, target, *opts, stream=_arrays.cuda_stream(grad_output))
    return _arrays.to_kind_of(grad_output, out)


def _destination(like, like_name: str, shape, channels_last: bool, out):
    """(result, the view the core writes): a new array in the requested layout, or `out` once checked."""
    if out is None:
        result = _allocate(like, shape, channels_last)
        return result, result
    return out, _arrays.check_out(out, like, shape, "out", like_name)


def _allocate(like, shape, channels_last: bool):
    count = math.prod(shape)
    if count >= 2**63:
        raise MemoryError(f"the result of shape {shape} would have more than 2**63 elements")
    try:
        return _arrays.empty_like_layout(like, shape, channels_last)
    except (MemoryError, RuntimeError) as error:
        if isinstance(error, RuntimeError) and "memory" not in str(error).lower():
            raise
        raise MemoryError(f"not enough memory for a result of shape {shape}") from error
