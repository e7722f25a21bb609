"""CUDA backend status."""

from . import _core


def is_available() -> bool:
    """True when tessera was built with its CUDA backend and a CUDA device is present."""
    return bool(_core.built_with_cuda) and _core.cuda_device_count() > 0


def device_count() -> int:
    """Number of CUDA devices tessera can use (0 without the CUDA backend, a driver or a device)."""
    return _core.cuda_device_count() if _core.built_with_cuda else 0
