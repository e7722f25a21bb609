"""The region API: any region of interpolate (and of its backward), computed from a box of the input,
is bitwise the same region of the whole result; the required box is exact; tilings reassemble.

Every mode and option is covered (PyTorch's modes, 'cubic', the antialias variants), on 1, 2 and 3
spatial dims, float32 and float64, contiguous and channels-last inputs. Cases are random but seeded:
a failure names (kind, nd, dtype, layout, index), which rebuilds it through `_case`.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import tessera

# kind -> (mode, spatial ranks, antialias)
KINDS = {
    "nearest": ("nearest", (1, 2, 3), False),
    "nearest-exact": ("nearest-exact", (1, 2, 3), False),
    "area": ("area", (1, 2, 3), False),
    "linear": ("linear", (1,), False),
    "bilinear": ("bilinear", (2,), False),
    "bicubic": ("bicubic", (2,), False),
    "trilinear": ("trilinear", (3,), False),
    "cubic": ("cubic", (1, 2, 3), False),
    "lanczos": ("lanczos", (2,), True),
    "linear-aa": ("linear", (1,), True),
    "bilinear-aa": ("bilinear", (2,), True),
    "bicubic-aa": ("bicubic", (2,), True),
    "trilinear-aa": ("trilinear", (3,), True),
    "cubic-aa": ("cubic", (1, 2, 3), True),
}
INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear", "cubic")
MAX_IN = {1: 40, 2: 14, 3: 7}
CASES_PER_PARAM = 5

PARAMS = [
    (kind, nd, dtype, layout)
    for kind, (_, ranks, _) in KINDS.items()
    for nd in ranks
    for dtype in ("float32", "float64")
    for layout in (("contiguous", "channels_last") if nd >= 2 else ("contiguous",))
]
PARAM_IDS = [f"{k}-{nd}d-{dt}-{lay}" for k, nd, dt, lay in PARAMS]


# ---------------------------------------------------------------------------
# random cases
# ---------------------------------------------------------------------------


def _seed(*parts) -> list:
    return [sum(ord(ch) * 31**i for i, ch in enumerate(str(p))) % 2**32 for p in parts]


def _factor(rng) -> float:
    if rng.random() < 0.35:
        return float(rng.choice([2.0, 3.0, 0.5, 0.25, 1 / 3, 1.5, 2 / 3, 0.75, 1.0, 4.0]))
    return float(np.exp(rng.uniform(np.log(1 / 5), np.log(5))))


def _layout(x: np.ndarray, layout: str) -> np.ndarray:
    """x with the same values in the requested memory format (channels-last: a NumPy N...C view)."""
    if layout == "contiguous" or x.ndim < 4:
        return x
    last = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    return np.moveaxis(last, -1, 1)


def _case(kind: str, nd: int, dtype: str, layout: str, index: int):
    """(x, kwargs) for the random case; x has the requested dtype and memory format."""
    rng = np.random.default_rng(_seed(kind, nd, dtype, layout, index))
    mode, _, antialias = KINDS[kind]
    kw = dict(mode=mode)
    if antialias:
        kw["antialias"] = True
    if mode in INTERPOLATING:
        kw["align_corners"] = [None, True, False][int(rng.integers(3))]
    elif mode == "lanczos" and rng.random() < 0.5:
        kw["align_corners"] = False
    for _ in range(100):
        ins = [int(rng.integers(1, MAX_IN[nd] + 1)) for _ in range(nd)]
        if rng.random() < 0.5:
            kw.pop("scale_factor", None)
            kw.pop("recompute_scale_factor", None)
            kw["size"] = [max(1, int(round(i * _factor(rng)))) for i in ins]
        else:
            kw.pop("size", None)
            kw["scale_factor"] = [_factor(rng) for _ in ins]
            if rng.random() < 0.3:
                kw["recompute_scale_factor"] = True
        try:
            out = tessera.output_shape((1, 1, *ins), **kw)
        except ValueError:
            continue
        if all(o >= 1 for o in out[2:]) and np.prod(out) <= 4000:
            break
    else:  # pragma: no cover - the loop always finds a case
        raise AssertionError("no valid case")
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *ins)
    x = rng.standard_normal(shape).astype(dtype)
    return _layout(x, layout), kw


def _random_region(rng, extent: int):
    """A random (start, stop) in [0, extent): 1-pixel, touching either border, the full extent, or any."""
    u = rng.random()
    if u < 0.2:
        a = int(rng.integers(extent))
        return a, a + 1
    if u < 0.35:
        return 0, int(rng.integers(1, extent + 1))
    if u < 0.5:
        return int(rng.integers(extent)), extent
    if u < 0.6:
        return 0, extent
    a, b = sorted(rng.choice(extent + 1, size=2, replace=False).tolist())
    return a, b


def _regions(rng, extents, count: int = 8) -> list:
    """The full extent, the two corner pixels, then random regions."""
    regions = [
        tuple((0, e) for e in extents),
        tuple((0, 1) for e in extents),
        tuple((e - 1, e) for e in extents),
    ]
    regions += [tuple(_random_region(rng, e) for e in extents) for _ in range(count - len(regions))]
    return regions


def _index(region) -> tuple:
    return (Ellipsis, *(slice(a, b) for a, b in region))


def _bits(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def assert_bitwise(got, want, context=""):
    assert got.shape == want.shape, f"{context}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{context}: dtype {got.dtype} != {want.dtype}"
    if not np.array_equal(_bits(got), _bits(want)):
        diff = np.argwhere(_bits(got) != _bits(want))
        raise AssertionError(f"{context}: {len(diff)} elements differ, first at {tuple(diff[0])}")


def _check_box(box, extents, context):
    assert len(box) == len(extents), context
    for (a, b), n in zip(box, extents):
        assert 0 <= a <= b <= n, f"{context}: box {box} outside the input {extents}"


def _larger_box(rng, box, extents):
    return tuple(
        (int(rng.integers(0, a + 1)), int(rng.integers(b, n + 1))) for (a, b), n in zip(box, extents)
    )


# ---------------------------------------------------------------------------
# forward
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind,nd,dtype,layout", PARAMS, ids=PARAM_IDS)
def test_forward_regions_are_slices_of_the_whole(kind, nd, dtype, layout):
    for index in range(CASES_PER_PARAM):
        x, kw = _case(kind, nd, dtype, layout, index)
        rng = np.random.default_rng(_seed("regions", kind, nd, dtype, layout, index))
        full = tessera.interpolate(x, **kw)
        in_ext, out_ext = x.shape[2:], full.shape[2:]
        for region in _regions(rng, out_ext):
            context = f"case ({kind!r}, {nd}, {dtype!r}, {layout!r}, {index}) {x.shape} {kw} region {region}"
            box = tessera.required_input_region(x.shape, region, **kw)
            _check_box(box, in_ext, context)
            want = full[_index(region)]
            for part_box in (box, _larger_box(rng, box, in_ext)):
                part = x[_index(part_box)]
                got = tessera.interpolate_region(part, x.shape, [a for a, _ in part_box], region, **kw)
                assert_bitwise(got, want, f"{context} from box {part_box}")


@pytest.mark.parametrize("kind,nd,dtype,layout", PARAMS, ids=PARAM_IDS)
def test_forward_random_tiling_reassembles(kind, nd, dtype, layout):
    x, kw = _case(kind, nd, dtype, layout, 0)
    rng = np.random.default_rng(_seed("tiling", kind, nd, dtype, layout))
    full = tessera.interpolate(x, **kw)
    got = np.full_like(full, np.nan)
    cuts = []
    for extent in full.shape[2:]:
        inner = sorted(set(rng.integers(1, extent, size=min(extent - 1, 3)).tolist())) if extent > 1 else []
        cuts.append([0, *inner, extent])
    for region in itertools.product(*[list(zip(c[:-1], c[1:])) for c in cuts]):
        box = tessera.required_input_region(x.shape, region, **kw)
        got[_index(region)] = tessera.interpolate_region(x[_index(box)], x.shape, [a for a, _ in box], region, **kw)
    assert_bitwise(got, full, f"({kind}, {nd}, {dtype}, {layout}) {x.shape} {kw} tiling {cuts}")


@pytest.mark.parametrize("kind,nd", [(k, nd) for k, (_, ranks, _) in KINDS.items() for nd in ranks])
def test_required_box_is_exact(kind, nd):
    """NaN outside the box never reaches the region in the whole result; NaN on any face of the box does
    (every tap is multiplied, so a NaN on a face the region reads shows up): the box is both sufficient
    and the smallest. The box holds for every dtype, so it is the union of what float32 and float64 read
    (their coordinates can differ by one ulp, e.g. PyTorch computes float32 antialias weights in float)."""
    for index in range(CASES_PER_PARAM):
        x, kw = _case(kind, nd, "float64", "contiguous", index)
        rng = np.random.default_rng(_seed("exact", kind, nd, index))
        out_ext = tessera.output_shape(x.shape, **kw)[2:]
        for region in _regions(rng, out_ext, count=5):
            box = tessera.required_input_region(x.shape, region, **kw)
            context = f"({kind}, {nd}, {index}) {x.shape} {kw} region {region} box {box}"
            for dtype in (np.float32, np.float64):
                outside = np.full(x.shape, np.nan, dtype)
                outside[_index(box)] = x[_index(box)]
                assert not np.isnan(tessera.interpolate(outside, **kw)[_index(region)]).any(), f"{context} {dtype}"
            for d, (a, b) in enumerate(box):
                for face in {a, b - 1}:
                    reached = []
                    for dtype in (np.float32, np.float64):
                        y = x.astype(dtype)
                        plane = list(_index(box))
                        plane[1 + d] = slice(face, face + 1)
                        y[tuple(plane)] = np.nan
                        reached.append(np.isnan(tessera.interpolate(y, **kw)[_index(region)]).any())
                    assert any(reached), f"{context}: input {face} along dim {d} is read by neither dtype"


@pytest.mark.parametrize("kind,nd", [(k, nd) for k, (_, ranks, _) in KINDS.items() for nd in ranks if nd >= 2])
def test_required_box_is_separable(kind, nd):
    """The range a dim needs depends only on the output range along that dim (tessera.tiled and
    tessera.dask compute each dim's ranges once, for every tile along it)."""
    x, kw = _case(kind, nd, "float32", "contiguous", 0)
    rng = np.random.default_rng(_seed("separable", kind, nd))
    out_ext = tessera.output_shape(x.shape, **kw)[2:]
    regions = _regions(rng, out_ext, count=6)
    for region in regions:
        box = tessera.required_input_region(x.shape, region, **kw)
        for other in regions:
            for d in range(nd):
                mixed = tuple(region[e] if e == d else other[e] for e in range(nd))
                assert tessera.required_input_region(x.shape, mixed, **kw)[d] == box[d], (kw, region, other, d)


@pytest.mark.parametrize("kind,nd", [("bilinear", 2), ("bicubic-aa", 2), ("nearest", 1), ("area", 3), ("lanczos", 2)])
def test_too_small_a_box_names_the_missing_range(kind, nd):
    x, kw = _case(kind, nd, "float32", "contiguous", 0)
    full_region = tuple((0, e) for e in tessera.output_shape(x.shape, **kw)[2:])
    box = tessera.required_input_region(x.shape, full_region, **kw)
    for d, (a, b) in enumerate(box):
        if b - a < 2:
            continue
        for short in ((a + 1, b), (a, b - 1)):
            part_box = list(box)
            part_box[d] = short
            with pytest.raises(ValueError, match=rf"\[{a}, {b}\)"):
                tessera.interpolate_region(x[_index(part_box)], x.shape, [s for s, _ in part_box], full_region, **kw)


def test_region_outside_the_output_is_refused():
    x = np.zeros((1, 1, 6, 6), np.float32)
    with pytest.raises(ValueError):
        tessera.required_input_region(x.shape, ((0, 13), (0, 12)), scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError):
        tessera.interpolate_region(x, x.shape, (0, 0), ((0, 1),), scale_factor=2, mode="bilinear")


def test_torch_parts_give_torch_regions():
    torch = pytest.importorskip("torch")
    x = torch.randn(2, 3, 9, 11, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    kw = dict(size=(5, 20), mode="bicubic", align_corners=True)
    full = tessera.interpolate(x, **kw)
    region = ((1, 4), (3, 17))
    box = tessera.required_input_region(tuple(x.shape), region, **kw)
    part = x[:, :, box[0][0]:box[0][1], box[1][0]:box[1][1]]
    got = tessera.interpolate_region(part, tuple(x.shape), (box[0][0], box[1][0]), region, **kw)
    assert isinstance(got, torch.Tensor)
    assert torch.equal(got, full[:, :, 1:4, 3:17])


# ---------------------------------------------------------------------------
# backward
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind,nd,dtype,layout", PARAMS, ids=PARAM_IDS)
def test_backward_regions_are_slices_of_the_whole(kind, nd, dtype, layout):
    for index in range(CASES_PER_PARAM):
        x, kw = _case(kind, nd, dtype, layout, index)
        rng = np.random.default_rng(_seed("backward", kind, nd, dtype, layout, index))
        out_shape = tessera.output_shape(x.shape, **kw)
        g = _layout(rng.standard_normal(out_shape).astype(dtype), layout)
        full = tessera.interpolate_backward(g, x.shape, **kw)
        out_ext = out_shape[2:]
        for region in _regions(rng, x.shape[2:]):
            context = f"case ({kind!r}, {nd}, {dtype!r}, {layout!r}, {index}) {x.shape} {kw} input region {region}"
            box = tessera.required_grad_output_region(x.shape, region, **kw)
            _check_box(box, out_ext, context)
            want = full[_index(region)]
            for part_box in (box, _larger_box(rng, box, out_ext)):
                got = tessera.interpolate_backward_region(
                    g[_index(part_box)], x.shape, [a for a, _ in part_box], region, **kw
                )
                assert_bitwise(got, want, f"{context} from grad_output box {part_box}")


@pytest.mark.parametrize("kind,nd", [("bilinear-aa", 2), ("area", 2), ("trilinear", 3), ("cubic", 1)])
def test_backward_random_tiling_reassembles(kind, nd):
    x, kw = _case(kind, nd, "float32", "contiguous", 1)
    rng = np.random.default_rng(_seed("backward-tiling", kind, nd))
    g = rng.standard_normal(tessera.output_shape(x.shape, **kw)).astype(np.float32)
    full = tessera.interpolate_backward(g, x.shape, **kw)
    got = np.full_like(full, np.nan)
    cuts = [[0, *sorted(set(rng.integers(1, e, size=2).tolist())), e] if e > 1 else [0, 1] for e in x.shape[2:]]
    for region in itertools.product(*[list(zip(c[:-1], c[1:])) for c in cuts]):
        box = tessera.required_grad_output_region(x.shape, region, **kw)
        got[_index(region)] = tessera.interpolate_backward_region(
            g[_index(box)], x.shape, [a for a, _ in box], region, **kw
        )
    assert_bitwise(got, full, f"({kind}, {nd}) {x.shape} {kw} tiling {cuts}")


def test_backward_region_that_no_output_reads_is_zero():
    """Nearest x1/4 reads every fourth input: the others get a zero gradient from an empty box."""
    kw = dict(scale_factor=0.25, mode="nearest")
    shape = (1, 2, 16)
    g = np.arange(8, dtype=np.float32).reshape(1, 2, 4) + 1
    full = tessera.interpolate_backward(g, shape, **kw)
    box = tessera.required_grad_output_region(shape, ((1, 4),), **kw)
    (a, b), = box
    assert a == b
    got = tessera.interpolate_backward_region(g[..., a:b], shape, (a,), ((1, 4),), **kw)
    assert_bitwise(got, full[..., 1:4], "empty box")
    assert not got.any()


@pytest.mark.parametrize("kind,nd", [("bilinear", 2), ("bicubic-aa", 2), ("trilinear", 3)])
def test_backward_too_small_a_box_names_the_missing_range(kind, nd):
    x, kw = _case(kind, nd, "float64", "contiguous", 0)
    out_shape = tessera.output_shape(x.shape, **kw)
    g = np.ones(out_shape)
    region = tuple((0, e) for e in x.shape[2:])
    box = tessera.required_grad_output_region(x.shape, region, **kw)
    for d, (a, b) in enumerate(box):
        if b - a < 2:
            continue
        part_box = list(box)
        part_box[d] = (a + 1, b)
        with pytest.raises(ValueError, match=rf"\[{a}, {b}\)"):
            tessera.interpolate_backward_region(g[_index(part_box)], x.shape, [s for s, _ in part_box], region, **kw)


# ---------------------------------------------------------------------------
# a fully-convolutional chain, tile by tile
# ---------------------------------------------------------------------------

CHAIN = [
    dict(scale_factor=2, mode="bilinear"),
    dict(scale_factor=0.5, mode="area"),
    dict(scale_factor=1 / 1.5, mode="bicubic", antialias=True),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_chain_tile_by_tile_equals_the_whole_run(dtype, layout):
    """Up x2 (bilinear), down /2 (area), bicubic antialias /1.5: each final tile is computed from the
    boxes that a chain of required_input_region calls asks of each stage, and equals the whole run."""
    rng = np.random.default_rng(_seed("chain", dtype, layout))
    x = _layout(rng.standard_normal((2, 3, 23, 17)).astype(dtype), layout)
    stages = [x]
    for kw in CHAIN:
        stages.append(tessera.interpolate(stages[-1], **kw))
    shapes = [s.shape for s in stages]
    final = stages[-1]
    got = np.full_like(final, np.nan)
    cuts = [[0, *sorted(set(rng.integers(1, e, size=3).tolist())), e] for e in final.shape[2:]]
    for region in itertools.product(*[list(zip(c[:-1], c[1:])) for c in cuts]):
        regions = [tuple(region)]  # the region wanted of each stage, last stage first
        for shape, kw in zip(reversed(shapes[:-1]), reversed(CHAIN)):
            regions.append(tessera.required_input_region(shape, regions[-1], **kw))
        regions.reverse()  # regions[k]: the box of stage k that the final tile needs
        part = x[_index(regions[0])]
        for k, kw in enumerate(CHAIN):
            part = tessera.interpolate_region(part, shapes[k], [a for a, _ in regions[k]], regions[k + 1], **kw)
            assert_bitwise(part, stages[k + 1][_index(regions[k + 1])], f"stage {k + 1} of tile {region}")
        got[_index(region)] = part
    assert_bitwise(got, final, f"chain tiling {cuts}")
