"""Invalid arguments raise ValueError / TypeError (never crash), and the message names the argument."""

import math
import time

import numpy as np
import pytest
import torch

import tessera

X3 = np.zeros((1, 2, 5), dtype=np.float32)
X4 = np.zeros((1, 2, 5, 6), dtype=np.float32)
X5 = np.zeros((1, 2, 3, 4, 5), dtype=np.float32)
INPUT_NAME = r"(\bx\b|input)"


def raises(exc, *names):
    """pytest.raises(exc) whose message must name every one of `names` (regexes)."""
    pattern = "".join(f"(?=[\\s\\S]*{n})" for n in names)
    return pytest.raises(exc, match=pattern)


# --- size / scale_factor -----------------------------------------------------------------


def test_both_size_and_scale_factor():
    with raises(ValueError, "size", "scale_factor"):
        tessera.interpolate(X4, size=3, scale_factor=2.0)


def test_neither_size_nor_scale_factor():
    with raises(ValueError, "size", "scale_factor"):
        tessera.interpolate(X4, mode="bilinear")


@pytest.mark.parametrize("x,size", [(X4, (3, 4, 5)), (X4, (3,)), (X3, (3, 4)), (X5, (2, 2)), (X4, [])])
def test_size_length_mismatch(x, size):
    with raises(ValueError, "size"):
        tessera.interpolate(x, size=size)


@pytest.mark.parametrize("x,sf", [(X4, (2.0, 2.0, 2.0)), (X3, (2.0, 2.0)), (X5, (2.0,))])
def test_scale_factor_length_mismatch(x, sf):
    with raises(ValueError, "scale_factor"):
        tessera.interpolate(x, scale_factor=sf)


@pytest.mark.parametrize("size", [0, -1, (0, 4), (4, -3)])
def test_size_not_positive(size):
    with raises(ValueError, "size"):
        tessera.interpolate(X4, size=size, mode="bilinear")


@pytest.mark.parametrize("sf", [math.nan, math.inf, -math.inf, 0.0, -2.0, (2.0, math.nan), (1.0, 0.0),
                                (-1.0, 2.0)])
def test_scale_factor_not_finite_or_not_positive(sf):
    with raises(ValueError, "scale_factor"):
        tessera.interpolate(X4, scale_factor=sf, mode="bilinear")


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "area"])
@pytest.mark.parametrize("rc", [None, True, False])
def test_scale_too_small_gives_empty_output(mode, rc):
    with raises(ValueError, "scale_factor"):
        tessera.interpolate(X4, scale_factor=0.1, mode=mode, recompute_scale_factor=rc)
    with raises(ValueError, "scale_factor"):
        tessera.interpolate(X4, scale_factor=(1.0, 0.16), mode=mode, recompute_scale_factor=rc)


@pytest.mark.parametrize("size", [2.5, "a", (2.5, 3), (3, "4"), (3, None), {3, 4}])
def test_size_wrong_type(size):
    with raises(TypeError, "size"):
        tessera.interpolate(X4, size=size)


@pytest.mark.parametrize("sf", ["a", (2.0, "b"), (2.0, None)])
def test_scale_factor_wrong_type(sf):
    with raises(TypeError, "scale_factor"):
        tessera.interpolate(X4, scale_factor=sf)


def test_recompute_scale_factor_with_size():
    with raises(ValueError, "recompute_scale_factor"):
        tessera.interpolate(X4, size=3, recompute_scale_factor=True)
    # False and None are fine with a size, as in PyTorch
    assert tessera.interpolate(X4, size=3, recompute_scale_factor=False).shape == (1, 2, 3, 3)


# --- mode / align_corners / antialias ------------------------------------------------------


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "area"])
@pytest.mark.parametrize("ac", [True, False])
def test_align_corners_with_non_interpolating_mode(mode, ac):
    with raises(ValueError, "align_corners"):
        tessera.interpolate(X4, size=3, mode=mode, align_corners=ac)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "area"])
def test_antialias_with_unsupported_mode(mode):
    with raises(ValueError, "antialias"):
        tessera.interpolate(X4, size=3, mode=mode, antialias=True)


def test_lanczos_rules():
    with raises(ValueError, "antialias"):
        tessera.interpolate(X4, size=3, mode="lanczos")
    with raises(ValueError, "align_corners"):
        tessera.interpolate(X4, size=3, mode="lanczos", antialias=True, align_corners=True)


@pytest.mark.parametrize("x,mode", [
    (X3, "bilinear"), (X5, "bilinear"), (X4, "linear"), (X5, "linear"), (X3, "trilinear"),
    (X4, "trilinear"), (X3, "bicubic"), (X5, "bicubic"), (X3, "lanczos"), (X5, "lanczos"),
])
def test_mode_does_not_fit_rank(x, mode):
    kwargs = dict(antialias=True) if mode == "lanczos" else {}
    with raises(ValueError, "mode"):
        tessera.interpolate(x, size=3, mode=mode, **kwargs)


@pytest.mark.parametrize("mode", ["foo", "Bilinear", "BILINEAR", "nearest_exact", "", "cubic "])
def test_unknown_mode(mode):
    with raises(ValueError, "mode"):
        tessera.interpolate(X4, size=3, mode=mode)


@pytest.mark.parametrize("mode", [3, None, b"bilinear"])
def test_mode_wrong_type(mode):
    with raises(TypeError, "mode"):
        tessera.interpolate(X4, size=3, mode=mode)


# --- the input -------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 6), (2,), (), (1, 2, 3, 4, 5, 6), (1, 1, 1, 1, 1, 1, 1)])
def test_input_rank(shape):
    with raises(ValueError, INPUT_NAME):
        tessera.interpolate(np.zeros(shape, dtype=np.float32), size=2)


@pytest.mark.parametrize("x", [
    np.zeros((1, 2, 5, 6), dtype=np.int32), np.zeros((1, 2, 5, 6), dtype=np.int64),
    np.zeros((1, 2, 5, 6), dtype=np.uint8), np.zeros((1, 2, 5, 6), dtype=bool),
    torch.zeros((1, 2, 5, 6), dtype=torch.int64), torch.zeros((1, 2, 5, 6), dtype=torch.uint8),
], ids=["np-int32", "np-int64", "np-uint8", "np-bool", "torch-int64", "torch-uint8"])
def test_integer_input(x):
    with raises(TypeError, INPUT_NAME):
        tessera.interpolate(x, size=3, mode="nearest")


@pytest.mark.parametrize("x", [[[[1.0, 2.0]]], "abc", None, 3.0], ids=["list", "str", "None", "float"])
def test_input_not_an_array(x):
    with pytest.raises(TypeError):
        tessera.interpolate(x, size=3)


@pytest.mark.parametrize("shape", [(1, 2, 0, 6), (1, 2, 5, 0), (1, 0, 5, 6)])
def test_empty_input_dims(shape):
    """A zero spatial (or channel) extent is rejected cleanly rather than crashing."""
    try:
        y = tessera.interpolate(np.zeros(shape, dtype=np.float32), size=3)
    except ValueError:
        return
    # PyTorch accepts an empty channel dim; an empty result is fine too
    assert shape[1] == 0 and y.shape == (1, 0, 3, 3)


# --- output too large ------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    dict(size=(2**40, 2**40)),
    dict(size=(2**62, 2**62)),
    dict(size=(2**63 - 1, 3)),
    dict(scale_factor=1e30),
    dict(scale_factor=1e300),
    dict(scale_factor=(2.0**40, 2.0**40)),
])
def test_output_too_large(kwargs):
    start = time.perf_counter()
    with pytest.raises((ValueError, MemoryError, OverflowError)):
        tessera.interpolate(X4, mode="bilinear", **kwargs)
    assert time.perf_counter() - start < 2.0


def test_backward_output_too_large():
    start = time.perf_counter()
    with pytest.raises((ValueError, MemoryError, OverflowError)):
        tessera.interpolate_backward(X4, (1, 2, 2**40, 2**40), size=(5, 6), mode="bilinear")
    assert time.perf_counter() - start < 2.0


# --- backward-specific ------------------------------------------------------------------------


@pytest.mark.parametrize("g_shape", [(1, 2, 10, 11), (1, 2, 10), (2, 2, 10, 12), (1, 3, 10, 12), (1, 2, 12, 10)])
def test_grad_output_shape_mismatch(g_shape):
    g = np.zeros(g_shape, dtype=np.float32)
    with raises(ValueError, "grad_output"):
        tessera.interpolate_backward(g, (1, 2, 5, 6), size=(10, 12), mode="bilinear")


@pytest.mark.parametrize("input_size", [(1, 2), (1, 2, 5, 6, 7, 8), (1, 2, 0, 6), (1, 2, -5, 6), (0, 2, 5, 6),
                                        (1, -2, 5, 6)])
def test_bad_input_size(input_size):
    g = np.zeros((1, 2, 10, 12), dtype=np.float32)
    with raises(ValueError, "input_size"):
        tessera.interpolate_backward(g, input_size, size=(10, 12), mode="bilinear")


@pytest.mark.parametrize("input_size", [5, (1, 2, 5.0, 6), "abc", None])
def test_input_size_wrong_type(input_size):
    g = np.zeros((1, 2, 10, 12), dtype=np.float32)
    with raises(TypeError, "input_size"):
        tessera.interpolate_backward(g, input_size, size=(10, 12), mode="bilinear")


def test_backward_checks_the_forward_options_too():
    g = np.zeros((1, 2, 10, 12), dtype=np.float32)
    with raises(ValueError, "align_corners"):
        tessera.interpolate_backward(g, (1, 2, 5, 6), size=(10, 12), mode="nearest", align_corners=True)
    with raises(ValueError, "mode"):
        tessera.interpolate_backward(g, (1, 2, 5, 6), size=(10, 12), mode="trilinear")
    with raises(TypeError, "grad_output"):
        tessera.interpolate_backward(g.astype(np.int32), (1, 2, 5, 6), size=(10, 12), mode="bilinear")


# --- threads and output_shape ----------------------------------------------------------------


@pytest.mark.parametrize("n", [0, -1])
def test_set_num_threads_not_positive(n):
    with raises(ValueError, "n|thread"):
        tessera.set_num_threads(n)


def test_set_num_threads_wrong_type():
    with pytest.raises(TypeError):
        tessera.set_num_threads(2.5)


def test_output_shape_validates_like_interpolate():
    with raises(ValueError, "size", "scale_factor"):
        tessera.output_shape((1, 2, 5, 6), size=3, scale_factor=2.0)
    with raises(ValueError, "mode"):
        tessera.output_shape((1, 2, 5), size=3, mode="bilinear")
    with raises(ValueError, "align_corners"):
        tessera.output_shape((1, 2, 5, 6), size=3, mode="area", align_corners=False)
    with raises(ValueError, "scale_factor"):
        tessera.output_shape((1, 2, 5, 6), scale_factor=math.nan)
    with pytest.raises((ValueError, MemoryError, OverflowError)):
        tessera.output_shape((1, 2, 5, 6), scale_factor=1e300)
