"""tessera.torch: drop-in equality with F.interpolate, autograd, torch.compile, opcheck, layouts."""

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import tessera  # noqa: E402
import tessera.torch as tt  # noqa: E402

TOL = {torch.float64: 1e-10, torch.float32: 2e-5}

# (mode, input shape, interpolate keyword arguments)
CASES = [
    ("nearest", (2, 3, 7), dict(scale_factor=2.5)),
    ("nearest", (2, 3, 9, 7), dict(size=(4, 13))),
    ("nearest", (1, 2, 4, 5, 6), dict(scale_factor=(1.5, 0.7, 2.0))),
    ("nearest", (2, 3, 9, 7), dict(scale_factor=0.6, recompute_scale_factor=True)),
    ("nearest-exact", (2, 3, 7), dict(size=12)),
    ("nearest-exact", (2, 3, 9, 7), dict(scale_factor=(1.7, 0.45))),
    ("nearest-exact", (1, 2, 4, 5, 6), dict(size=(7, 3, 9))),
    ("linear", (2, 3, 7), dict(scale_factor=2.3, align_corners=False)),
    ("linear", (2, 3, 17), dict(size=5, align_corners=True)),
    ("bilinear", (2, 3, 9, 7), dict(size=(15, 4))),
    ("bilinear", (2, 3, 9, 7), dict(scale_factor=1.6, align_corners=True)),
    ("bilinear", (2, 3, 19, 17), dict(size=(6, 5), antialias=True)),
    ("bilinear", (1, 2, 8, 8), dict(scale_factor=32)),
    ("trilinear", (1, 2, 4, 5, 6), dict(scale_factor=(2.0, 1.5, 0.5))),
    ("trilinear", (1, 2, 4, 5, 6), dict(size=(3, 7, 9), align_corners=True)),
    ("bicubic", (2, 3, 9, 7), dict(size=(16, 11))),
    ("bicubic", (2, 3, 9, 7), dict(scale_factor=0.7, align_corners=True)),
    ("bicubic", (2, 3, 19, 17), dict(size=(7, 6), antialias=True)),
    ("area", (2, 3, 10), dict(size=4)),
    ("area", (2, 3, 11, 13), dict(size=(4, 5))),
    ("area", (2, 3, 11, 13), dict(scale_factor=0.45)),
    ("area", (1, 2, 6, 7, 5), dict(size=(3, 10, 2))),
    ("lanczos", (2, 3, 19, 17), dict(size=(7, 6), antialias=True)),
    ("lanczos", (2, 3, 9, 7), dict(scale_factor=2.5, antialias=True)),
]


def _ids(cases):
    return [f"{m}-{'x'.join(map(str, s))}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for m, s, kw in cases]


def assert_matches(out, ref):
    """|out - ref| <= tol * max(1, |ref|) with tol by dtype (float64 1e-10, float32 2e-5)."""
    assert out.shape == ref.shape
    assert out.dtype == ref.dtype
    tol = TOL[ref.dtype]
    err = (out.double() - ref.double()).abs()
    bound = tol * ref.double().abs().clamp_min(1.0)
    worst = (err - bound).max().item() if err.numel() else -1.0
    assert worst <= 0, f"max abs error {err.max().item():.3e} exceeds the tolerance {tol:g} relative to max(1,|ref|)"


def _input(shape, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=dtype)


@pytest.fixture
def restore_threads():
    n = tessera.get_num_threads()
    yield
    tessera.set_num_threads(n)


def test_importing_tessera_does_not_import_torch():
    code = "import sys, tessera; assert 'torch' not in sys.modules, 'tessera imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


def _skip_unless_torch_has(mode):
    """Skips a lanczos comparison where the installed PyTorch lacks that mode (it is recent; the GPU
    machines may carry an older PyTorch than the CPU oracle, torch==2.13.0). Every other mode runs."""
    if mode != "lanczos":
        return
    try:
        F.interpolate(torch.ones(1, 1, 4, 4), size=(2, 2), mode=mode, antialias=True)
    except (ValueError, NotImplementedError, RuntimeError) as error:
        pytest.skip(f"PyTorch {torch.__version__} has no mode {mode!r}: {error}")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("mode,shape,kwargs", CASES, ids=_ids(CASES))
def test_forward_matches_torch(mode, shape, kwargs, dtype):
    _skip_unless_torch_has(mode)
    x = _input(shape, dtype)
    assert_matches(tt.interpolate(x, mode=mode, **kwargs), F.interpolate(x, mode=mode, **kwargs))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("mode,shape,kwargs", CASES, ids=_ids(CASES))
def test_backward_matches_torch(mode, shape, kwargs, dtype):
    _skip_unless_torch_has(mode)
    x = _input(shape, dtype).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    y = tt.interpolate(x, mode=mode, **kwargs)
    y_ref = F.interpolate(x_ref, mode=mode, **kwargs)
    go = _input(y_ref.shape, dtype, seed=1)
    y.backward(go)
    y_ref.backward(go)
    assert_matches(x.grad, x_ref.grad)


GRADCHECK_CASES = [
    ("nearest", (1, 2, 5, 4), dict(size=(7, 3))),
    ("nearest-exact", (1, 2, 5, 4), dict(scale_factor=1.6)),
    ("linear", (1, 2, 6), dict(size=9, align_corners=True)),
    ("bilinear", (1, 2, 5, 4), dict(size=(7, 3))),
    ("bilinear", (1, 2, 9, 8), dict(size=(4, 3), antialias=True)),
    ("trilinear", (1, 1, 3, 4, 3), dict(size=(5, 2, 4))),
    ("bicubic", (1, 2, 5, 4), dict(size=(7, 6), align_corners=True)),
    ("bicubic", (1, 2, 9, 8), dict(size=(4, 3), antialias=True)),
    ("area", (1, 2, 7, 6), dict(size=(3, 4))),
    ("lanczos", (1, 2, 9, 8), dict(size=(4, 5), antialias=True)),
    ("cubic", (1, 2, 7), dict(size=11)),
    ("cubic", (1, 2, 5, 4), dict(size=(8, 3))),
    ("cubic", (1, 2, 9, 8), dict(size=(4, 3), antialias=True)),
]


@pytest.mark.parametrize("mode,shape,kwargs", GRADCHECK_CASES, ids=_ids(GRADCHECK_CASES))
def test_gradcheck(mode, shape, kwargs):
    x = _input(shape).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: tt.interpolate(t, mode=mode, **kwargs), (x,))


@pytest.mark.parametrize("mode,shape,kwargs", GRADCHECK_CASES, ids=_ids(GRADCHECK_CASES))
def test_gradgradcheck(mode, shape, kwargs):
    # interpolate is linear: the backward of its backward is interpolate again.
    x = _input(shape).requires_grad_()
    assert torch.autograd.gradgradcheck(lambda t: tt.interpolate(t, mode=mode, **kwargs), (x,))


OPCHECK_CASES = [
    ((2, 3, 9, 7), [4, 13], None, "nearest", None, None, False),
    ((2, 3, 9, 7), None, [1.7, 0.45], "nearest-exact", None, None, False),
    ((2, 3, 7), [12], None, "linear", True, None, False),
    ((2, 3, 9, 7), None, [2.5, 2.5], "bilinear", False, None, False),
    ((2, 3, 19, 17), [6, 5], None, "bicubic", None, None, True),
    ((1, 2, 4, 5, 6), None, [2.0, 1.5, 0.5], "trilinear", None, None, False),
    ((2, 3, 11, 13), None, [0.45, 0.45], "area", None, None, False),
    ((2, 3, 19, 17), [7, 6], None, "lanczos", None, None, True),
    ((2, 3, 9, 7), None, [0.6, 0.6], "nearest", None, True, False),
]


@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
@pytest.mark.parametrize("case", OPCHECK_CASES, ids=[c[3] for c in OPCHECK_CASES])
def test_opcheck(case, channels_last):
    shape, *args = case
    x = _input(shape).requires_grad_()
    if channels_last:
        if x.dim() == 3:
            pytest.skip("no channels-last format for 3-D tensors")
        fmt = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
        x = x.detach().contiguous(memory_format=fmt).requires_grad_()
    torch.library.opcheck(torch.ops.tessera.interpolate.default, (x, *args))


def test_opcheck_backward_op():
    go = _input((2, 3, 15, 4))
    args = (go, [2, 3, 9, 7], [15, 4], None, "bilinear", False, None, False)
    torch.library.opcheck(torch.ops.tessera.interpolate_backward.default, args)


def _compiled_step(fn):
    def step(x):
        return (fn(x) * torch.linspace(-1, 1, 8, dtype=x.dtype)).sin().sum()

    return step


def test_compile_fullgraph_forward_backward():
    fn = lambda t: tt.interpolate(t, size=(6, 8), mode="bilinear", antialias=True)  # noqa: E731
    ref_fn = lambda t: F.interpolate(t, size=(6, 8), mode="bilinear", antialias=True)  # noqa: E731
    compiled = torch.compile(_compiled_step(fn), backend="aot_eager", fullgraph=True)
    for shape in [(2, 3, 11, 13), (1, 2, 9, 12), (3, 1, 20, 5)]:  # later shapes recompile with dynamic shapes
        x = _input(shape, torch.float32).requires_grad_()
        x_ref = x.detach().clone().requires_grad_()
        loss = compiled(x)
        loss.backward()
        loss_ref = _compiled_step(ref_fn)(x_ref)
        loss_ref.backward()
        assert abs(loss.item() - loss_ref.item()) <= 1e-4 * max(1.0, abs(loss_ref.item()))
        assert_matches(x.grad, x_ref.grad)


def test_compile_scale_factor_dynamic_shapes():
    fn = torch.compile(lambda t: tt.interpolate(t, scale_factor=2.5, mode="bicubic"), backend="aot_eager",
                       fullgraph=True, dynamic=True)
    for shape in [(1, 2, 6, 7), (2, 3, 9, 4)]:
        x = _input(shape, torch.float32)
        assert_matches(fn(x), F.interpolate(x, scale_factor=2.5, mode="bicubic"))


def test_no_graph_breaks():
    explanation = torch._dynamo.explain(lambda t: tt.interpolate(t, scale_factor=2, mode="nearest") + 1)(
        _input((1, 2, 4, 4), torch.float32)
    )
    assert explanation.graph_break_count == 0
    assert explanation.graph_count == 1


def test_torch_export():
    class Head(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.up = tt.Upsample(scale_factor=2, mode="bicubic")

        def forward(self, x):
            return self.up(x) * 2

    x = _input((1, 2, 5, 5), torch.float32)
    exported = torch.export.export(Head(), (x,))
    targets = [n.target for n in exported.graph.nodes if n.op == "call_function"]
    assert torch.ops.tessera.interpolate.default in targets
    assert torch.equal(exported.module()(x), Head()(x))


def test_meta_tensors():
    x = torch.empty(2, 3, 5, 5, device="meta").contiguous(memory_format=torch.channels_last)
    y = tt.interpolate(x, scale_factor=2.5, mode="bilinear")
    assert y.device.type == "meta" and y.shape == (2, 3, 12, 12)
    assert y.is_contiguous(memory_format=torch.channels_last)


def test_deterministic_algorithms_mode():
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        grads = []
        for _ in range(2):
            x = _input((1, 3, 15, 15), torch.float32).requires_grad_()
            y = tt.interpolate(x, scale_factor=32, mode="bilinear")
            y.backward(_input(y.shape, torch.float32, seed=3))
            grads.append(x.grad)
        assert torch.equal(grads[0], grads[1])
    finally:
        torch.use_deterministic_algorithms(previous)


def test_bitwise_identical_for_any_thread_count(restore_threads):
    x0 = _input((2, 4, 15, 15), torch.float32)
    go = _input((2, 4, 480, 480), torch.float32, seed=5)
    results = []
    for n in (1, 2, 3, 8):
        tessera.set_num_threads(n)
        x = x0.clone().requires_grad_()
        y = tt.interpolate(x, scale_factor=32, mode="bicubic")
        y.backward(go)
        results.append((y.detach(), x.grad))
    for y, g in results[1:]:
        assert torch.equal(y, results[0][0])
        assert torch.equal(g, results[0][1])


@pytest.mark.parametrize("dim,fmt", [(4, torch.channels_last), (5, torch.channels_last_3d)])
def test_memory_format_preserved(dim, fmt):
    shape = (2, 3, 6, 7) if dim == 4 else (2, 3, 4, 5, 6)
    x = _input(shape).contiguous(memory_format=fmt).requires_grad_()
    mode = "bilinear" if dim == 4 else "trilinear"
    y = tt.interpolate(x, scale_factor=2, mode=mode)
    assert y.is_contiguous(memory_format=fmt) and not y.is_contiguous()
    ref = F.interpolate(x, scale_factor=2, mode=mode)
    assert_matches(y, ref)
    y.sum().backward()  # an expanded (zero-stride) gradient
    assert x.grad.is_contiguous(memory_format=fmt)
    x_ref = x.detach().clone().requires_grad_()
    F.interpolate(x_ref, scale_factor=2, mode=mode).sum().backward()
    assert_matches(x.grad, x_ref.grad)


def _significant_strides(t):
    return [st for sz, st in zip(t.shape, t.stride()) if sz > 1]


@pytest.mark.parametrize("shape", [(2, 3, 1, 1), (2, 1, 4, 5), (1, 3, 1, 5), (2, 3, 4, 1), (2, 3, 1, 1, 1)])
@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
def test_layout_matches_torch_in_ambiguous_cases(shape, channels_last):
    x = _input(shape)
    if channels_last:
        x = x.to(memory_format=torch.channels_last if x.dim() == 4 else torch.channels_last_3d)
    size = (4, 6) if x.dim() == 4 else (2, 4, 6)
    y, ref = tt.interpolate(x, size=size), F.interpolate(x, size=size)
    assert _significant_strides(y) == _significant_strides(ref)


def test_contiguous_stays_contiguous():
    x = _input((2, 3, 6, 7))
    assert tt.interpolate(x, scale_factor=2, mode="bicubic").is_contiguous()


def test_non_contiguous_input():
    x = _input((2, 3, 12, 14))[:, :, ::2, 1::2]
    assert_matches(tt.interpolate(x, size=(9, 5), mode="bilinear"), F.interpolate(x, size=(9, 5), mode="bilinear"))


def test_output_does_not_alias_input():
    x = _input((1, 2, 5, 5))
    y = tt.interpolate(x, size=(5, 5), mode="nearest")
    assert torch.equal(y, x)
    y.add_(1.0)
    assert not torch.equal(y, x)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("mode,kwargs", [("nearest", {}), ("bilinear", {}), ("bicubic", {"antialias": True}),
                                          ("area", {})])
def test_half_precision_accepted(dtype, mode, kwargs):
    x = _input((2, 3, 9, 7), torch.float32).to(dtype).requires_grad_()
    size = (13, 5)
    y = tt.interpolate(x, size=size, mode=mode, **kwargs)
    assert y.dtype == dtype and y.shape == (2, 3, 13, 5)
    ref = F.interpolate(x.detach().double(), size=size, mode=mode, **kwargs)
    eps = torch.finfo(dtype).eps
    assert ((y.double() - ref).abs() <= 4 * eps * ref.abs().clamp_min(1.0)).all()
    y.backward(torch.ones_like(y))
    assert x.grad.dtype == dtype and x.grad.shape == x.shape


def test_upsample_module_matches_nn_upsample():
    cases = [
        dict(scale_factor=2, mode="nearest"),
        dict(size=(9, 11), mode="bilinear", align_corners=True),
        dict(scale_factor=(1.5, 2.5), mode="bicubic"),
        dict(scale_factor=0.5, mode="bilinear", recompute_scale_factor=True),
    ]
    x = _input((2, 3, 6, 7))
    for kw in cases:
        ours, ref = tt.Upsample(**kw), torch.nn.Upsample(**kw)
        assert isinstance(ours, torch.nn.Upsample)
        assert repr(ours) == repr(ref)
        assert ours.extra_repr() == ref.extra_repr()
        assert_matches(ours(x), ref(x))


def test_upsample_in_a_model_trains():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), tt.Upsample(scale_factor=2, mode="bilinear"))
    x = _input((2, 3, 5, 5), torch.float32)
    loss = model(x).square().mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_scalar_and_sequence_arguments_are_equivalent():
    x = _input((1, 2, 5, 6))
    a = tt.interpolate(x, size=8, mode="bilinear")
    b = tt.interpolate(x, size=[8, 8], mode="bilinear")
    c = tt.interpolate(x, size=torch.Size([8, 8]), mode="bilinear")
    assert torch.equal(a, b) and torch.equal(a, c)
    d = tt.interpolate(x, scale_factor=2, mode="bilinear")
    e = tt.interpolate(x, scale_factor=(2.0, 2.0), mode="bilinear")
    assert torch.equal(d, e)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(size=4, scale_factor=2.0),  # both
        dict(),  # neither
        dict(size=(4, 4, 4)),  # wrong number of spatial sizes
        dict(size=4, mode="bogus"),
        dict(size=4, mode="nearest", align_corners=True),
        dict(size=4, mode="lanczos"),  # lanczos requires antialias
    ],
)
def test_invalid_arguments_raise(kwargs):
    with pytest.raises((ValueError, TypeError)):
        tt.interpolate(_input((1, 2, 5, 6)), **kwargs)


def test_non_tensor_input_raises_type_error():
    with pytest.raises(TypeError, match="input"):
        tt.interpolate([[1.0]], size=2)


@pytest.mark.parametrize("dtype", [torch.int32, torch.uint8, torch.complex64, torch.bool])
def test_non_float_tensor_raises_type_error_naming_input(dtype):
    with pytest.raises(TypeError, match="^input: "):
        tt.interpolate(torch.zeros((1, 2, 5, 6), dtype=dtype), size=2)


def test_float_size_raises_type_error():
    with pytest.raises(TypeError, match="size"):
        tt.interpolate(_input((1, 2, 5, 6)), size=(2.5, 3))


_CUDA = torch.cuda.is_available() and tessera.cuda.is_available()
_CUDA_REASON = (
    "needs a CUDA device visible to PyTorch and tessera built with CUDA "
    f"(torch.cuda.is_available()={torch.cuda.is_available()}, "
    f"tessera.cuda.is_available()={tessera.cuda.is_available()})"
)


@pytest.mark.skipif(not _CUDA, reason=_CUDA_REASON)
class TestCUDA:
    @pytest.mark.parametrize("mode,shape,kwargs", CASES, ids=_ids(CASES))
    def test_forward_backward_match_torch(self, mode, shape, kwargs):
        if mode == "lanczos":
            pytest.skip("PyTorch implements lanczos on CPU only")
        x = _input(shape, torch.float32).cuda().requires_grad_()
        x_ref = x.detach().clone().requires_grad_()
        y = tt.interpolate(x, mode=mode, **kwargs)
        y_ref = F.interpolate(x_ref, mode=mode, **kwargs)
        assert y.is_cuda
        assert_matches(y, y_ref)
        # PyTorch's float32 CUDA backward adds with atomics in no fixed order; with many products per
        # input (4096 for x32) its own error passes the tolerance, so the gradient is checked against
        # PyTorch's float64 backward on the same device.
        go = _input(y_ref.shape, torch.float32, seed=1).cuda()
        x_exact = x.detach().double().requires_grad_()
        F.interpolate(x_exact, mode=mode, **kwargs).backward(go.double())
        y.backward(go)
        assert_matches(x.grad, x_exact.grad.float())

    def test_cuda_backward_bitwise_reproducible_and_equal_to_cpu(self):
        x_cpu = _input((2, 4, 15, 15), torch.float32)
        go_cpu = _input((2, 4, 480, 480), torch.float32, seed=5)
        grads = []
        for device in ("cuda", "cuda", "cpu"):
            x = x_cpu.to(device).requires_grad_()
            tt.interpolate(x, scale_factor=32, mode="bilinear").backward(go_cpu.to(device))
            grads.append(x.grad.cpu())
        assert torch.equal(grads[0], grads[1])
        assert torch.equal(grads[0], grads[2])

    def test_channels_last_cuda(self):
        x = _input((2, 3, 6, 7), torch.float32).cuda().contiguous(memory_format=torch.channels_last)
        y = tt.interpolate(x, scale_factor=2, mode="bilinear")
        assert y.is_cuda and y.is_contiguous(memory_format=torch.channels_last)
        assert_matches(y, F.interpolate(x, scale_factor=2, mode="bilinear"))

    def test_compile_cuda(self):
        fn = torch.compile(lambda t: tt.interpolate(t, scale_factor=2, mode="bicubic"), backend="aot_eager",
                           fullgraph=True)
        x = _input((1, 2, 6, 7), torch.float32).cuda()
        assert_matches(fn(x), F.interpolate(x, scale_factor=2, mode="bicubic"))
