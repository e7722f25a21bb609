"""CUDA backend status."""

from . import _core


def is_available() -> bool:
    """True when tessera was built with its CUDA backend and a CUDA device is present."""
    return bool(getattr(_core, "built_with_cuda", False)) and bool(getattr(_core, "cuda_device_count", lambda: 0)())
