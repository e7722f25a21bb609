"""The CPU kernels compiled for different vector ISAs give the same bits."""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np

import tessera

_SCRIPT = r"""
import hashlib, itertools, json, numpy as np, tessera
rng = np.random.default_rng(5)
digests = {"target": tessera._core.cpu_target()}
cases = [("bilinear", {}), ("bicubic", {}), ("area", {}), ("nearest", {}), ("bilinear", {"antialias": True}),
         ("lanczos", {"antialias": True})]
for dtype in (np.float32, np.float64, np.float16):
    for layout in ("nchw", "nhwc"):
        for (mode, extra), channels in itertools.product(cases, (5, 3)):
            x = rng.standard_normal((2, channels, 37, 29)).astype(dtype)
            if layout == "nhwc":
                x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
            kw = dict(mode=mode, size=(53, 11), **extra)
            y = tessera.interpolate(x, **kw)
            g = tessera.interpolate_backward(np.ascontiguousarray(y), x.shape, **kw)
            key = f"{np.dtype(dtype).name}-{layout}-{mode}-{extra}-{channels}"
            digests[key] = hashlib.sha256(np.ascontiguousarray(y).tobytes() + np.ascontiguousarray(g).tobytes()).hexdigest()
print(json.dumps(digests))
"""


def _digests(target):
    env = dict(os.environ)
    env.pop("TESSERA_CPU_TARGET", None)
    if target is not None:
        env["TESSERA_CPU_TARGET"] = target
    out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_every_cpu_target_gives_the_same_bits():
    dispatched = _digests(None)
    widest = dispatched.pop("target")
    assert widest in ("baseline", "avx2", "avx512")
    # Each narrower target, forced through TESSERA_CPU_TARGET, against the one the CPU dispatches to.
    targets = ["baseline", "avx2", "avx512"]
    for target in targets[: targets.index(widest)]:
        forced = _digests(target)
        assert forced.pop("target") == target
        assert forced == dispatched, f"CPU target {widest} differs from the {target} kernels"


def test_cpu_target_is_reported():
    assert tessera._core.cpu_target() in ("baseline", "avx2", "avx512")
