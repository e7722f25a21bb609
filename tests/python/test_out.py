"""`out=`: results written into an existing array are the bits of a new result, only the target's
elements change, and every target that cannot be written safely raises an error naming `out`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tessera

CASES = [
    ((2, 3, 9, 14), dict(scale_factor=2.5, mode="bilinear", align_corners=False)),
    ((1, 4, 20, 17), dict(size=(7, 6), mode="bicubic", antialias=True, align_corners=False)),
    ((2, 2, 16, 12), dict(scale_factor=0.25, mode="area")),
    ((1, 3, 5, 6, 7), dict(scale_factor=2, mode="trilinear", align_corners=True)),
    ((2, 5, 11), dict(size=23, mode="nearest-exact")),
]
DTYPES = [np.float32, np.float64, np.float16]
SENTINEL = 7.25  # a value no result of these inputs takes


def _input(shape, dtype, channels_last):
    x = np.random.default_rng(len(shape) * 31 + shape[-1]).standard_normal(shape).astype(dtype)
    if channels_last and len(shape) in (4, 5):
        x = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
    return x


def _target_in_frame(shape, dtype, layout):
    """(frame, target): a target of `shape` inside a larger frame filled with SENTINEL, in a layout
    other than the input's: a strided window, a channels-last window or a reversed last axis."""
    frame_shape = tuple(n + 3 for n in shape)
    frame = np.full(frame_shape, SENTINEL, dtype=dtype)
    window = tuple(slice(1, 1 + n) for n in shape)
    if layout == "window":
        return frame, frame[window]
    if layout == "channels_last":
        moved = np.full(frame_shape[:1] + frame_shape[2:] + frame_shape[1:2], SENTINEL, dtype=dtype)
        return moved, np.moveaxis(moved, -1, 1)[window]
    return frame, frame[window][..., ::-1]


@pytest.mark.parametrize("shape,kw", CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("layout", ["window", "channels_last", "reversed"])
def test_forward_and_backward_into_out_equal_new_results(shape, kw, dtype, channels_last, layout):
    x = _input(shape, dtype, channels_last)
    expected = tessera.interpolate(x, **kw)
    frame, target = _target_in_frame(expected.shape, dtype, layout)
    returned = tessera.interpolate(x, **kw, out=target)
    assert returned is target
    assert np.array_equal(target, expected)
    assert np.count_nonzero(frame != SENTINEL) <= expected.size  # nothing outside the target changed
    assert np.count_nonzero(frame == SENTINEL) == frame.size - expected.size + np.count_nonzero(expected == SENTINEL)

    g = _input(expected.shape, dtype, channels_last)
    expected_grad = tessera.interpolate_backward(g, x.shape, **kw)
    frame, target = _target_in_frame(x.shape, dtype, layout)
    assert tessera.interpolate_backward(g, x.shape, **kw, out=target) is target
    assert np.array_equal(target, expected_grad)
    assert np.count_nonzero(frame == SENTINEL) == frame.size - x.size + np.count_nonzero(expected_grad == SENTINEL)


@pytest.mark.parametrize("backward", [False, True])
def test_region_into_a_slice_of_the_whole_result(backward):
    kw = dict(scale_factor=3, mode="bicubic", align_corners=False)
    x = _input((1, 2, 12, 10), np.float32, False)
    whole = np.full((1, 2, 36, 30), SENTINEL, np.float32)
    if backward:
        g = _input((1, 2, 36, 30), np.float32, False)
        expected = tessera.interpolate_backward(g, x.shape, **kw)
        whole = np.full(x.shape, SENTINEL, np.float32)
        regions = [((0, 5), (0, 10)), ((5, 12), (0, 4)), ((5, 12), (4, 10))]
        for region in regions:
            box = tessera.required_grad_output_region(x.shape, region, **kw)
            part = g[:, :, box[0][0]:box[0][1], box[1][0]:box[1][1]]
            target = whole[:, :, region[0][0]:region[0][1], region[1][0]:region[1][1]]
            assert tessera.interpolate_backward_region(part, x.shape, (box[0][0], box[1][0]), region, **kw,
                                                       out=target) is target
    else:
        expected = tessera.interpolate(x, **kw)
        for region in [((0, 20), (0, 30)), ((20, 36), (0, 11)), ((20, 36), (11, 30))]:
            box = tessera.required_input_region(x.shape, region, **kw)
            part = x[:, :, box[0][0]:box[0][1], box[1][0]:box[1][1]]
            target = whole[:, :, region[0][0]:region[0][1], region[1][0]:region[1][1]]
            assert tessera.interpolate_region(part, x.shape, (box[0][0], box[1][0]), region, **kw,
                                              out=target) is target
    assert np.array_equal(whole, expected)


def test_torch_tensors_into_out():
    x = torch.from_numpy(_input((2, 3, 9, 14), np.float32, False))
    kw = CASES[0][1]
    target = torch.full((2, 3, 22, 35), SENTINEL).to(memory_format=torch.channels_last)
    assert tessera.interpolate(x, **kw, out=target) is target
    assert torch.equal(target, tessera.interpolate(x, **kw))
    grad = torch.empty(2, 3, 9, 14)
    assert tessera.interpolate_backward(target, x.shape, **kw, out=grad) is grad
    assert torch.equal(grad, tessera.interpolate_backward(target, x.shape, **kw))


@pytest.mark.skipif(not tessera.cuda.is_available(), reason="no CUDA device or no CUDA backend in this build")
def test_cuda_tensors_into_out_equal_the_cpu():
    x = torch.from_numpy(_input((2, 3, 9, 14), np.float32, True))
    kw = CASES[0][1]
    frame = torch.full((2, 3, 30, 40), SENTINEL, device="cuda")
    target = frame[:, :, 4:26, 2:37]
    assert tessera.interpolate(x.cuda(), **kw, out=target) is target
    assert torch.equal(target.cpu(), tessera.interpolate(x, **kw))
    assert int((frame != SENTINEL).sum()) <= target.numel()
    with pytest.raises(ValueError, match=r"^out: expected a tensor on cuda"):
        tessera.interpolate(x.cuda(), **kw, out=torch.empty(2, 3, 22, 35))


def _x():
    return _input((2, 3, 9, 14), np.float32, False)


KW = CASES[0][1]


@pytest.mark.parametrize(
    "make_out,error,message",
    [
        (lambda: np.empty((2, 3, 22, 36), np.float32), ValueError, r"^out: expected shape \(2, 3, 22, 35\)"),
        (lambda: np.empty((2, 3, 22, 35), np.float64), TypeError, r"^out: expected dtype float32"),
        (lambda: torch.empty(2, 3, 22, 35), TypeError, r"^out: expected a NumPy array"),
        (lambda: [0.0] * 10, TypeError, r"^out: expected a NumPy array"),
        (lambda: np.broadcast_to(np.empty((2, 3, 22, 1), np.float32), (2, 3, 22, 35)), ValueError,
         r"^out: the array is read-only"),
        (lambda: np.lib.stride_tricks.as_strided(np.empty((2, 3, 22, 1), np.float32), (2, 3, 22, 35),
                                                 (264, 88, 4, 0)), ValueError, r"^out: has elements that share memory"),
        # rows of 35 floats 34 floats apart: each row's last element is the next row's first
        (lambda: np.lib.stride_tricks.as_strided(np.empty(6 * 22 * 35, np.float32), (2, 3, 22, 35),
                                                 (3 * 22 * 34 * 4, 22 * 34 * 4, 34 * 4, 4)), ValueError,
         r"^out: has elements that share memory"),
    ],
)
def test_bad_out_raises_naming_out(make_out, error, message):
    x = _x()
    with pytest.raises(error, match=message):
        tessera.interpolate(x, **KW, out=make_out())


def test_out_sharing_memory_with_the_input_raises():
    buffer = np.zeros((2, 3, 22, 35), np.float32)
    with pytest.raises(ValueError, match=r"^out: must not share memory with x"):
        tessera.interpolate(buffer[:, :, :9, :14], **KW, out=buffer)
    g = np.zeros((2, 3, 22, 35), np.float32)
    with pytest.raises(ValueError, match=r"^out: must not share memory with grad_output"):
        tessera.interpolate_backward(g, (2, 3, 9, 14), **KW, out=g[:, :, :9, :14])
    region = ((0, 4), (0, 5))
    with pytest.raises(ValueError, match=r"^out: must not share memory with x_part"):
        tessera.interpolate_region(buffer[:, :, :9, :14], (2, 3, 9, 14), (0, 0), region, **KW,
                                   out=buffer[:, :, 10:14, 20:25])


def test_torch_out_that_requires_grad_raises():
    x = torch.from_numpy(_x())
    with pytest.raises(ValueError, match=r"^out: must not require grad"):
        tessera.interpolate(x, **KW, out=torch.empty(2, 3, 22, 35, requires_grad=True))
    with pytest.raises(ValueError, match=r"^out: has elements that share memory"):
        tessera.interpolate(x, **KW, out=torch.empty(2, 3, 22, 1).expand(2, 3, 22, 35))


def test_failed_call_leaves_out_untouched():
    x = _x()
    target = np.full((2, 3, 22, 35), SENTINEL, np.float32)
    with pytest.raises(ValueError, match=r"^mode"):
        tessera.interpolate(x, scale_factor=2.5, mode="bilinearr", out=target)
    assert np.all(target == SENTINEL)


@pytest.mark.parametrize("channels_last", [False, True])
def test_large_mapped_out_equals_a_new_result(channels_last):
    # 32 MiB and more, every page mapped (filled first): the kernels write such outputs with streaming stores
    x = _input((1, 8, 512, 512), np.float32, channels_last)
    for kw in (dict(scale_factor=2, mode="bilinear"), dict(scale_factor=2, mode="bicubic", antialias=True)):
        expected = tessera.interpolate(x, **kw)
        target = np.full_like(expected, SENTINEL)
        assert tessera.interpolate(x, **kw, out=target) is target
        assert np.array_equal(target, expected)
    kw = dict(scale_factor=0.5, mode="area")
    expected = tessera.interpolate_backward(x, (1, 8, 1024, 1024), **kw)
    target = np.full_like(expected, SENTINEL)
    assert tessera.interpolate_backward(x, (1, 8, 1024, 1024), **kw, out=target) is target
    assert np.array_equal(target, expected)
