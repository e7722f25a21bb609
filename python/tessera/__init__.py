"""tessera — resampling operators with PyTorch's numbers, bit-for-bit reproducible.

    >>> import numpy as np, tessera
    >>> x = np.random.default_rng(0).standard_normal((1, 3, 15, 15)).astype(np.float32)
    >>> y = tessera.interpolate(x, scale_factor=32, mode="bilinear")
    >>> y.shape
    (1, 3, 480, 480)
    >>> gx = tessera.interpolate_backward(np.ones_like(y), x.shape, scale_factor=32, mode="bilinear")

NumPy in gives NumPy out; PyTorch tensors in give tensors out (``tessera.torch`` adds autograd).
"""

from . import cuda
from ._core import get_num_threads as _get_num_threads
from ._core import set_num_threads as _set_num_threads
from ._interpolate import interpolate, interpolate_backward, output_shape
from ._region import (
    interpolate_backward_region,
    interpolate_region,
    required_grad_output_region,
    required_input_region,
)

__version__ = "0.1.0"

__all__ = [
    "interpolate",
    "interpolate_backward",
    "output_shape",
    "required_input_region",
    "interpolate_region",
    "required_grad_output_region",
    "interpolate_backward_region",
    "set_num_threads",
    "get_num_threads",
    "cuda",
    "__version__",
]


def set_num_threads(n: int) -> None:
    """Sets the number of CPU threads (default: all cores). Results never depend on it."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n: expected an int, got {n!r}")
    if n < 1:
        raise ValueError(f"n: the number of threads must be at least 1, got {n}")
    _set_num_threads(n)


def get_num_threads() -> int:
    """The number of CPU threads tessera's kernels use."""
    return _get_num_threads()
