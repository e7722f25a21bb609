"""PyTorch integration: ``tessera.torch.interpolate`` and ``tessera.torch.Upsample``.

Drop-in replacements for :func:`torch.nn.functional.interpolate` and :class:`torch.nn.Upsample`
whose forward and backward are computed by tessera, so the gradient is bit-for-bit reproducible
(the backward is a gather over the transposed tap table: no atomics, no thread-dependent order).

The operators are registered with :func:`torch.library.custom_op` as ``tessera::interpolate`` and
``tessera::interpolate_backward``, with fake (meta) implementations and an autograd formula, so they
work under ``torch.compile(fullgraph=True)``, ``torch.library.opcheck`` and
``torch.use_deterministic_algorithms(True)``. Tensors cross into the C++ core through DLPack
(zero copy); the result has the input's dtype, device and memory format.

Importing :mod:`tessera` does not import torch; importing :mod:`tessera.torch` does.
"""

import operator
from typing import List, Optional, Sequence, Union

import torch

import tessera as _tessera

try:  # the same rule as ATen's Tensor::suggest_memory_format, usable on fake tensors
    from torch._prims_common import suggest_memory_format as _suggest_memory_format
except ImportError:  # pragma: no cover - older or newer torch without this helper

    def _suggest_memory_format(t: torch.Tensor) -> torch.memory_format:
        if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous():
            return torch.channels_last
        if t.dim() == 5 and t.is_contiguous(memory_format=torch.channels_last_3d) and not t.is_contiguous():
            return torch.channels_last_3d
        return torch.contiguous_format


__all__ = ["interpolate", "Upsample"]

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

_SizeArg = Union[int, Sequence[int], None]
_ScaleArg = Union[float, Sequence[float], None]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _call_kwargs(size, scale_factor, mode, align_corners, recompute_scale_factor, antialias):
    return dict(
        size=None if size is None else list(size),
        scale_factor=None if scale_factor is None else list(scale_factor),
        mode=mode,
        align_corners=align_corners,
        recompute_scale_factor=recompute_scale_factor,
        antialias=antialias,
    )


def _is_concrete(values) -> bool:
    return all(isinstance(v, int) and not isinstance(v, torch.SymInt) for v in values)


def _symbolic_spatial(input_shape, size, scale_factor):
    """Output spatial sizes for symbolic shapes, mirroring ATen's compute_output_size."""
    if size is not None:
        return list(size)
    out = []
    for i, s in enumerate(scale_factor):
        n = input_shape[i + 2]
        if float(s).is_integer():
            out.append(n * int(s))
        else:
            out.append(torch.sym_int(n * s))
    return out


def _output_shape(input_shape, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias):
    input_shape = list(input_shape)
    kwargs = _call_kwargs(size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    if _is_concrete(input_shape) and (size is None or _is_concrete(size)):
        shape = tuple(int(d) for d in _tessera.output_shape(tuple(input_shape), **kwargs))
        if len(shape) == len(input_shape) - 2:  # spatial sizes only
            shape = tuple(input_shape[:2]) + shape
        return list(shape)
    # Symbolic shapes (torch.compile with dynamic shapes): the core cannot see them, so
    # compute the sizes with the formula it implements. The real kernel still validates.
    return input_shape[:2] + _symbolic_spatial(input_shape, size, scale_factor)


def _detached(t: torch.Tensor) -> torch.Tensor:
    # DLPack refuses tensors that require grad; detach() is a view, not a copy.
    return t.detach() if t.requires_grad else t


def _owned(out: torch.Tensor, inp: torch.Tensor, memory_format: torch.memory_format) -> torch.Tensor:
    """A custom op may not return a view of its input, and its layout must match the fake."""
    if not out.is_contiguous(memory_format=memory_format):
        out = out.contiguous(memory_format=memory_format)
    if out.numel() and inp.numel() and out.untyped_storage().data_ptr() == inp.untyped_storage().data_ptr():
        out = out.clone(memory_format=memory_format)
    return out


# --------------------------------------------------------------------------------------------
# custom operators
# --------------------------------------------------------------------------------------------


@torch.library.custom_op("tessera::interpolate", mutates_args=())
def _interpolate_op(
    input: torch.Tensor,
    size: Optional[List[int]],
    scale_factor: Optional[List[float]],
    mode: str,
    align_corners: Optional[bool],
    recompute_scale_factor: Optional[bool],
    antialias: bool,
) -> torch.Tensor:
    kwargs = _call_kwargs(size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    out = _tessera.interpolate(_detached(input), **kwargs)
    return _owned(out, input, _suggest_memory_format(input))


@_interpolate_op.register_fake
def _interpolate_fake(input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias):
    shape = _output_shape(input.shape, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    return torch.empty(
        shape, dtype=input.dtype, device=input.device, memory_format=_suggest_memory_format(input)
    )


@torch.library.custom_op("tessera::interpolate_backward", mutates_args=())
def _interpolate_backward_op(
    grad_output: torch.Tensor,
    input_size: List[int],
    size: Optional[List[int]],
    scale_factor: Optional[List[float]],
    mode: str,
    align_corners: Optional[bool],
    recompute_scale_factor: Optional[bool],
    antialias: bool,
) -> torch.Tensor:
    kwargs = _call_kwargs(size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    grad_input = _tessera.interpolate_backward(_detached(grad_output), tuple(input_size), **kwargs)
    return _owned(grad_input, grad_output, _suggest_memory_format(grad_output))


@_interpolate_backward_op.register_fake
def _interpolate_backward_fake(
    grad_output, input_size, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias
):
    return torch.empty(
        list(input_size),
        dtype=grad_output.dtype,
        device=grad_output.device,
        memory_format=_suggest_memory_format(grad_output),
    )


# --------------------------------------------------------------------------------------------
# autograd
#
# interpolate is linear in its input, so its backward is the adjoint A^T (interpolate_backward)
# and the backward of interpolate_backward with respect to grad_output is A again (interpolate).
# Both formulas are registered, which makes second derivatives (gradgradcheck, create_graph=True)
# work as well; the second derivative with respect to the input itself is zero.
# --------------------------------------------------------------------------------------------


def _setup_forward(ctx, inputs, output):
    input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias = inputs
    ctx.input_size = list(input.shape)
    ctx.memory_format = _suggest_memory_format(input)
    ctx.params = (size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)


def _backward_forward(ctx, grad):
    # Gradients such as the one of out.sum() are expanded (zero strides): give the core a dense
    # tensor in the input's memory format, as ATen's upsample backward kernels do.
    grad = grad.contiguous(memory_format=ctx.memory_format)
    grad_input = torch.ops.tessera.interpolate_backward(grad, ctx.input_size, *ctx.params)
    return grad_input, None, None, None, None, None, None


def _setup_backward(ctx, inputs, output):
    grad_output, input_size, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias = inputs
    ctx.memory_format = _suggest_memory_format(grad_output)
    ctx.params = (size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)


def _backward_backward(ctx, grad):
    grad = grad.contiguous(memory_format=ctx.memory_format)
    grad_grad_output = torch.ops.tessera.interpolate(grad, *ctx.params)
    return grad_grad_output, None, None, None, None, None, None, None


_interpolate_op.register_autograd(_backward_forward, setup_context=_setup_forward)
_interpolate_backward_op.register_autograd(_backward_backward, setup_context=_setup_backward)


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def _expand(value, spatial_dims: int, name: str, symbolic_type, convert, expected: str) -> Optional[list]:
    """A scalar or sequence argument as one value per spatial dim; symbolic values pass through."""
    if value is None:
        return None
    items = list(value) if isinstance(value, (list, tuple)) else [value] * spatial_dims
    out = []
    for v in items:
        if isinstance(v, symbolic_type):
            out.append(v)
            continue
        try:
            out.append(convert(v))
        except (TypeError, ValueError):
            raise TypeError(f"{name}: expected {expected}, got an element of type {type(v).__name__}") from None
    return out


def _normalize_size(size, spatial_dims: int) -> Optional[List[int]]:
    return _expand(size, spatial_dims, "size", torch.SymInt, operator.index, "an int or a sequence of ints")


def _normalize_scale(scale_factor, spatial_dims: int) -> Optional[List[float]]:
    return _expand(scale_factor, spatial_dims, "scale_factor", torch.SymFloat, float,
                   "a float or a sequence of floats")


def interpolate(
    input: torch.Tensor,
    size: _SizeArg = None,
    scale_factor: _ScaleArg = None,
    mode: str = "nearest",
    align_corners: Optional[bool] = None,
    recompute_scale_factor: Optional[bool] = None,
    antialias: bool = False,
) -> torch.Tensor:
    """Drop-in replacement for :func:`torch.nn.functional.interpolate`, computed by tessera.

    Same arguments, same output shape and (within the documented tolerance) same values as
    PyTorch; the forward and the backward give the same bits on every run and for any number of
    threads. Supports autograd (first and second derivatives), ``torch.compile(fullgraph=True)``
    and float32/float64/float16/bfloat16 tensors; the output keeps the input's memory format.

    Modes: ``'nearest'``, ``'nearest-exact'``, ``'linear'``, ``'bilinear'``, ``'bicubic'``,
    ``'trilinear'``, ``'area'``, ``'lanczos'`` (PyTorch's rank rules) and the tessera extension
    ``'cubic'`` (1 to 3 spatial dimensions). ``antialias=True`` is also accepted for ``'linear'``,
    ``'trilinear'`` and ``'cubic'``.
    """
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"input: expected a torch.Tensor, got {type(input).__name__}")
    if input.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"input: expected a float16, bfloat16, float32 or float64 tensor, got dtype {input.dtype}")
    spatial_dims = input.dim() - 2
    return torch.ops.tessera.interpolate(
        input,
        _normalize_size(size, spatial_dims),
        _normalize_scale(scale_factor, spatial_dims),
        str(mode),
        None if align_corners is None else bool(align_corners),
        None if recompute_scale_factor is None else bool(recompute_scale_factor),
        bool(antialias),
    )


class Upsample(torch.nn.Upsample):
    """Drop-in replacement for :class:`torch.nn.Upsample` that calls :func:`tessera.torch.interpolate`.

    Same constructor, attributes and ``repr`` as ``nn.Upsample`` (it is a subclass), so it can
    replace the layer in an existing model, e.g. ``model.up = tessera.torch.Upsample(scale_factor=2)``.
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            recompute_scale_factor=self.recompute_scale_factor,
        )
