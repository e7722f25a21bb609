"""Independent float64 NumPy reference for the separable resampling modes.

Every mode handled here is separable: along each spatial axis it is a dense
(out x in) weight matrix, built directly from the formulas of PyTorch's CPU
kernels (aten/src/ATen/native/UpSample.h and cpu/UpSampleKernel.cpp), and the
matrices are applied axis by axis in float64.  The code is deliberately plain
(loops over output indices, no vectorised cleverness) so that it is easy to
audit against the formulas; it is validated against PyTorch for every mode
PyTorch has (see test_oracle_forward.py::test_reference_matches_torch), which
makes it trustworthy for the extension modes PyTorch lacks ('cubic' on 1-D and
3-D, antialias for 'linear', 'trilinear' and 'cubic').

Supported modes: 'linear', 'bilinear', 'trilinear' (all: linear along each
axis), 'bicubic', 'cubic' (A = -0.75 without antialias, Pillow's A = -0.5 with
it), 'lanczos' (Lanczos-3, antialias only), 'area' (adaptive average pooling).
"""

from __future__ import annotations

import math

import numpy as np

LINEAR_MODES = ("linear", "bilinear", "trilinear")
CUBIC_MODES = ("bicubic", "cubic")


# ---------------------------------------------------------------------------
# Output size and scales (torch/nn/functional.py + UpSample.h)
# ---------------------------------------------------------------------------


def _as_list(v, nd):
    if isinstance(v, (list, tuple)):
        return list(v)
    return [v] * nd


def output_size_and_scales(in_spatial, size=None, scale_factor=None, mode="nearest",
                           recompute_scale_factor=None):
    """Return (out_spatial, scales) as PyTorch computes them.

    ``scales[d]`` is the user scale passed to the kernel for axis d, or None
    when the kernel derives the scale from the sizes.
    """
    nd = len(in_spatial)
    if size is not None:
        return [int(s) for s in _as_list(size, nd)], [None] * nd
    sf = [float(s) for s in _as_list(scale_factor, nd)]
    out = [int(math.floor(float(i) * s)) for i, s in zip(in_spatial, sf)]
    if mode == "area" or recompute_scale_factor:
        return out, [None] * nd
    return out, sf


def area_pixel_compute_scale(in_size, out_size, align_corners, scale):
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    if scale is not None and scale > 0:
        return 1.0 / scale
    return in_size / out_size


# ---------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------


def cubic_conv1(x, a):
    return ((a + 2) * x - (a + 3)) * x * x + 1


def cubic_conv2(x, a):
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a


def cubic_coefficients(t, a=-0.75):
    return [cubic_conv2(t + 1.0, a), cubic_conv1(t, a),
            cubic_conv1(1.0 - t, a), cubic_conv2(2.0 - t, a)]


def triangle_filter(x):
    x = abs(x)
    return 1.0 - x if x < 1.0 else 0.0


def pillow_cubic_filter(x, a=-0.5):
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    if x < 2.0:
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return 0.0


def _sinc(x):
    if x == 0.0:
        return 1.0
    x = x * math.pi
    return math.sin(x) / x


def lanczos3_filter(x):
    if -3.0 <= x < 3.0:
        return _sinc(x) * _sinc(x / 3.0)
    return 0.0


# ---------------------------------------------------------------------------
# Per-axis dense weight matrices
# ---------------------------------------------------------------------------


def linear_matrix(in_size, out_size, align_corners, scale):
    m = np.zeros((out_size, in_size))
    if out_size == in_size:
        # PyTorch copies when the sizes agree, whatever the scale.
        m[np.arange(out_size), np.arange(out_size)] = 1.0
        return m
    r = area_pixel_compute_scale(in_size, out_size, align_corners, scale)
    for i in range(out_size):
        if align_corners:
            src = r * i
        else:
            src = max(r * (i + 0.5) - 0.5, 0.0)
        i0 = min(int(math.floor(src)), in_size - 1)
        lam = min(max(src - i0, 0.0), 1.0)
        i1 = i0 + (1 if i0 < in_size - 1 else 0)
        m[i, i0] += 1.0 - lam
        m[i, i1] += lam
    return m


def cubic_matrix(in_size, out_size, align_corners, scale):
    m = np.zeros((out_size, in_size))
    r = area_pixel_compute_scale(in_size, out_size, align_corners, scale)
    for i in range(out_size):
        src = r * i if align_corners else r * (i + 0.5) - 0.5
        i0 = min(int(math.floor(src)), in_size - 1)
        lam = min(max(src - i0, 0.0), 1.0)
        for j, w in enumerate(cubic_coefficients(lam)):
            m[i, min(max(i0 - 1 + j, 0), in_size - 1)] += w
    return m


def aa_matrix(in_size, out_size, align_corners, scale, interp_size, filt):
    """Pillow-style antialiased resampling as in PyTorch's
    HelperInterpBase::_compute_indices_min_size_weights_aa."""
    m = np.zeros((out_size, in_size))
    r = area_pixel_compute_scale(in_size, out_size, align_corners, scale)
    support = (interp_size * 0.5) * r if r >= 1.0 else interp_size * 0.5
    max_interp_size = int(math.ceil(support)) * 2 + 1
    invscale = 1.0 / r if r >= 1.0 else 1.0
    for i in range(out_size):
        center = r * (i + 0.5)
        xmin = max(int(center - support + 0.5), 0)  # int(): truncation, as static_cast
        xsize = min(int(center + support + 0.5), in_size) - xmin
        xsize = min(max(xsize, 0), max_interp_size)
        ws = [filt((j + xmin - center + 0.5) * invscale) for j in range(xsize)]
        total = sum(ws)
        for j, w in enumerate(ws):
            m[i, xmin + j] = w / total if total != 0.0 else w
    return m


def area_matrix(in_size, out_size):
    m = np.zeros((out_size, in_size))
    for i in range(out_size):
        start = (i * in_size) // out_size
        end = -((-(i + 1) * in_size) // out_size)
        m[i, start:end] = 1.0 / (end - start)
    return m


def axis_matrix(mode, in_size, out_size, align_corners=False, scale=None, antialias=False):
    align_corners = bool(align_corners)
    if (antialias or mode == "lanczos") and out_size == in_size:
        # PyTorch's separable antialias kernel skips an axis whose size does not change,
        # whatever the scale (the non-antialiased linear kernel does the same, below).
        return np.eye(out_size)
    if mode == "area":
        return area_matrix(in_size, out_size)
    if mode == "lanczos":
        return aa_matrix(in_size, out_size, align_corners, scale, 6, lanczos3_filter)
    if mode in LINEAR_MODES:
        if antialias:
            return aa_matrix(in_size, out_size, align_corners, scale, 2, triangle_filter)
        return linear_matrix(in_size, out_size, align_corners, scale)
    if mode in CUBIC_MODES:
        if antialias:
            return aa_matrix(in_size, out_size, align_corners, scale, 4, pillow_cubic_filter)
        return cubic_matrix(in_size, out_size, align_corners, scale)
    raise ValueError(f"reference has no mode {mode!r}")


def matrices(in_shape, size=None, scale_factor=None, mode="linear", align_corners=None,
             recompute_scale_factor=None, antialias=False):
    in_spatial = list(in_shape[2:])
    out, scales = output_size_and_scales(in_spatial, size, scale_factor, mode,
                                         recompute_scale_factor)
    return [axis_matrix(mode, i, o, align_corners, s, antialias)
            for i, o, s in zip(in_spatial, out, scales)]


def apply_matrices(x, mats):
    """Apply per-axis matrices to the spatial axes (2, 3, ...) of x in float64."""
    y = np.asarray(x, dtype=np.float64)
    for d, m in enumerate(mats):
        y = np.moveaxis(np.tensordot(m, y, axes=([1], [2 + d])), 0, 2 + d)
    return np.ascontiguousarray(y)


def apply_transposed(g, mats):
    return apply_matrices(g, [m.T for m in mats])


def interpolate(x, size=None, scale_factor=None, mode="linear", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """float64 reference forward."""
    x = np.asarray(x)
    mats = matrices(x.shape, size, scale_factor, mode, align_corners,
                    recompute_scale_factor, antialias)
    return apply_matrices(x, mats)


def interpolate_backward(grad_output, input_size, size=None, scale_factor=None, mode="linear",
                         align_corners=None, recompute_scale_factor=None, antialias=False):
    """float64 reference backward: the transposed matrices applied to grad_output."""
    mats = matrices(tuple(input_size), size, scale_factor, mode, align_corners,
                    recompute_scale_factor, antialias)
    return apply_transposed(grad_output, mats)
