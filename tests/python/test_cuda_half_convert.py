"""The device's float16 / bfloat16 conversions (src/cuda/half_convert.cuh) against the CPU's software
conversions (src/core/half_float.hpp) on every input: builds tests/cuda/half_convert_exhaustive.cu with
nvcc and runs it on the GPU (all 2^32 floats into float16 and bfloat16, all 2^16 float16 values into
float; a few seconds each on an H200).

Where nvcc exists the program is built even without a GPU, so a change that breaks the device
conversions fails to compile here too; running it is then skipped, with the reason. Set
TESSERA_REQUIRE_CUDA=1 (GPU machines) to make a missing device or compiler a failure instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "cuda" / "half_convert_exhaustive.cu"
NO_DEVICE = 77  # the program's exit code where no CUDA device is usable


def _required() -> bool:
    return os.environ.get("TESSERA_REQUIRE_CUDA", "") not in ("", "0")


def _skip_or_fail(reason: str):
    if _required():
        pytest.fail(f"TESSERA_REQUIRE_CUDA is set but {reason}", pytrace=False)
    pytest.skip(reason)


def _nvcc() -> str | None:
    found = shutil.which("nvcc")
    if found:
        return found
    for home in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if home and (Path(home) / "bin" / "nvcc").is_file():
            return str(Path(home) / "bin" / "nvcc")
    return None


def _device_arch() -> str:
    """The first GPU's architecture (sm_XY) where nvidia-smi reports one, else sm_90 (the library's
    default target): a check built for sm_90 would not load on an older GPU."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=compute_cap", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30).stdout.split()
        except (OSError, subprocess.TimeoutExpired):
            out = []
        if out and out[0].replace(".", "").isdigit() and "." in out[0]:
            major, minor = out[0].split(".")
            return f"sm_{major}{minor}"
    return "sm_90"


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    nvcc = _nvcc()
    if nvcc is None:
        _skip_or_fail("nvcc was not found (PATH, CUDA_HOME, /usr/local/cuda), so the check cannot be built")
    exe = tmp_path_factory.mktemp("half_convert") / "half_convert_exhaustive"
    # The library's flags (no fused multiply-add), for the GPU that runs the check.
    cmd = [nvcc, "-std=c++20", "-O2", "--fmad=false", f"-arch={_device_arch()}", "-Xcompiler", "-pthread",
           "-I", str(ROOT / "src"), str(SOURCE), "-o", str(exe)]
    built = subprocess.run(cmd, capture_output=True, text=True)
    assert built.returncode == 0, f"{' '.join(cmd)} failed:\n{built.stdout}{built.stderr}"
    return exe


@pytest.mark.parametrize("conversion", ["f16-to-f32", "f32-to-f16", "f32-to-bf16"])
def test_device_conversion_matches_software_on_every_input(program, conversion):
    run = subprocess.run([str(program), conversion], capture_output=True, text=True, timeout=600)
    if run.returncode == NO_DEVICE:
        _skip_or_fail(f"the conversions were built but cannot run here: {run.stdout.strip()}")
    assert run.returncode == 0, f"{conversion}:\n{run.stdout}{run.stderr}"
    print(run.stdout.strip())
