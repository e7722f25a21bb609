"""Array kinds at the boundary: NumPy, PyTorch and other DLPack arrays, and output allocation.

Arrays cross into the C++ core as DLPack views (no copy). The output is allocated here by the
library the input came from, in the input's memory format, so NumPy in gives NumPy out and a
PyTorch tensor in gives a PyTorch tensor out.
"""

from __future__ import annotations

import sys

import numpy as np

from . import _core

_FLOAT_NAMES = ("float16", "bfloat16", "float32", "float64")


def _torch_module():
    return sys.modules.get("torch")


def is_torch_tensor(x) -> bool:
    torch = _torch_module()
    return torch is not None and isinstance(x, torch.Tensor)


def check_array(x, name: str):
    """Returns x as something the core accepts (numpy array, torch tensor, or DLPack-capable)."""
    if isinstance(x, np.ndarray):
        if x.dtype.name not in _FLOAT_NAMES:
            raise TypeError(f"{name}: expected a float16, float32 or float64 array, got dtype {x.dtype}")
        return x
    if is_torch_tensor(x):
        dtype_name = str(x.dtype).replace("torch.", "")
        if dtype_name not in _FLOAT_NAMES:
            raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
        return x.detach()
    if hasattr(x, "__dlpack__"):
        return x
    raise TypeError(f"{name}: expected a NumPy array, a PyTorch tensor or a DLPack array, got {type(x).__name__}")


def _numpy_strides(a: np.ndarray) -> tuple:
    """Element strides; a length-1 dim that NumPy gave stride 0 (e.g. from `x[None]`) gets the stride
    PyTorch's unsqueeze would give it (the array's full extent), so layout detection agrees."""
    strides = [s // a.itemsize for s in a.strides]
    extent = max([abs(st) * n for st, n in zip(strides, a.shape)] + [1])
    return tuple(extent if (n == 1 and st == 0) else st for st, n in zip(strides, a.shape))


def shape_and_strides(x):
    if isinstance(x, np.ndarray):
        return tuple(x.shape), _numpy_strides(x)
    if is_torch_tensor(x):
        return tuple(x.shape), tuple(x.stride())
    a = np.from_dlpack(x)
    return tuple(a.shape), _numpy_strides(a)


def is_channels_last(shape, strides) -> bool:
    """PyTorch's rule for "strides like channels_last" (4-D) or "channels_last_3d" (5-D); the core
    applies the same rule, so the output layout and the computation agree with PyTorch's choice."""
    return _core.is_channels_last(list(shape), list(strides))


def empty_like_layout(x, shape, channels_last: bool):
    """An uninitialised array of `shape` of x's kind, dtype and device, in the requested layout."""
    if isinstance(x, np.ndarray):
        if channels_last:
            nhwc = np.empty((shape[0], *shape[2:], shape[1]), dtype=x.dtype)
            return nhwc.transpose(0, len(shape) - 1, *range(1, len(shape) - 1))
        return np.empty(shape, dtype=x.dtype)
    torch = _torch_module()
    if is_torch_tensor(x):
        memory_format = torch.contiguous_format
        if channels_last:
            memory_format = torch.channels_last if len(shape) == 4 else torch.channels_last_3d
        return torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=memory_format)
    return empty_like_layout(np.from_dlpack(x), shape, channels_last)


def check_out(out, like, shape, name: str, like_name: str):
    """Checks that `out` can take the result of shape `shape` computed from `like` (named `like_name`):
    the same kind (NumPy or PyTorch), device and dtype as `like`, that shape, writable, with no two
    elements at one address and no memory shared with `like`. Returns the view the core writes to."""
    if isinstance(like, np.ndarray):
        if not isinstance(out, np.ndarray):
            raise TypeError(f"{name}: expected a NumPy array (as {like_name} is one), got {type(out).__name__}")
        if not out.flags.writeable:
            raise ValueError(f"{name}: the array is read-only")
        view = out
    elif is_torch_tensor(like):
        if not is_torch_tensor(out):
            raise TypeError(f"{name}: expected a PyTorch tensor (as {like_name} is one), got {type(out).__name__}")
        if out.requires_grad:
            raise ValueError(f"{name}: must not require grad (autograd cannot track a write into it)")
        if out.device != like.device:
            raise ValueError(f"{name}: expected a tensor on {like.device} (where {like_name} is), got {out.device}")
        view = out.detach()
    else:
        raise TypeError(f"{name}: is supported for NumPy and PyTorch inputs; {like_name} is a {type(like).__name__}")
    if out.dtype != like.dtype:
        raise TypeError(f"{name}: expected dtype {like.dtype} ({like_name}'s), got {out.dtype}")
    if tuple(out.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(out.shape)}")
    _core.check_output(view, name, like, like_name)
    return view


def cuda_stream(x) -> int:
    """The CUDA stream handle to run on for x: PyTorch's current stream for CUDA tensors, else 0."""
    if is_torch_tensor(x) and x.device.type == "cuda":
        return _torch_module().cuda.current_stream(x.device).cuda_stream
    return 0


def to_kind_of(x, result):
    """Returns a NumPy `result` as the array kind of x (for DLPack inputs other than NumPy/torch)."""
    if isinstance(x, np.ndarray) or is_torch_tensor(x):
        return result
    namespace = getattr(x, "__array_namespace__", None)
    if namespace is not None:
        return namespace().from_dlpack(result)
    return result
