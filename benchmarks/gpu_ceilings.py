#!/usr/bin/env python3
"""Whether gpu.py's floor is a fair bar for the byte mixes of its cases.

gpu.py's floor is (input + output bytes) at the copy bandwidth, where reads and writes are equal. Its
resizing cases are not: an x2 upsample writes 4x what it reads, its backward reads 4x what it writes.
This script times, in one run, a pure write (fill_), a pure read (sum) and the copy of 2 GiB, and, for
comparison, plain PyTorch kernels that read and write each case's bytes once (nearest upsampling by a
broadcast copy for the forward, a sum over each output's block for the backward):

    python3 benchmarks/gpu_ceilings.py [--repeats 20] [--out ceilings.md]

Each line: the op, its bytes, median ms, GB/s and the time as % of gpu.py's floor for those bytes
(above 100% where the op moves its bytes faster than that floor says).
"""

from __future__ import annotations

import argparse
import datetime

from gpu import free_memory, time_cuda


def gbs(nbytes: int, ms: float) -> float:
    return nbytes / (ms * 1e-3) / 1e9


def main(argv=None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("gpu_ceilings.py needs a CUDA device")
    r = args.repeats
    lines = [f"- GPU: {torch.cuda.get_device_name()}; {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
             f"- median of {r} calls (CUDA events) after 3 warm-up calls", ""]
    n = 1 << 29  # 2 GiB of float32
    a = torch.empty(n, device="cuda").normal_()
    b = torch.empty_like(a)
    copy_ms, _ = time_cuda(lambda: b.copy_(a), r, 3)
    copy_gbs = gbs(8 * n, copy_ms)
    fill_ms, _ = time_cuda(lambda: b.fill_(1.5), r, 3)
    sum_ms, _ = time_cuda(lambda: a.sum(), r, 3)
    del a, b
    free_memory()

    rows = [("copy_, 2 GiB float32 (read + write)", 8 * n, copy_ms),
            ("fill_, 2 GiB float32 (write only)", 4 * n, fill_ms),
            ("sum, 2 GiB float32 (read only)", 4 * n, sum_ms)]

    def same_bytes(title, small_shape, factors, dtype):
        """Nearest upsampling by `factors` as a broadcast copy (reads small, writes big), and the sum of
        each big block into the small array (reads big, writes small)."""
        x = torch.empty(small_shape, device="cuda", dtype=dtype).normal_()
        spatial = small_shape[2:]
        view = list(small_shape[:2])
        for s, f in zip(spatial, factors):
            view += [s, f]
        expand_src = x.reshape([*small_shape[:2], *[v for s in spatial for v in (s, 1)]])
        big = torch.empty(view, device="cuda", dtype=dtype)
        nbytes = (x.numel() + big.numel()) * x.element_size()
        up_ms, _ = time_cuda(lambda: big.copy_(expand_src.expand(view)), r, 3)
        block_dims = tuple(3 + 2 * i for i in range(len(spatial)))
        down_ms, _ = time_cuda(lambda: torch.sum(big, dim=block_dims, out=x), r, 3)
        rows.append((f"{title}: nearest upsample as a broadcast copy", nbytes, up_ms))
        rows.append((f"{title}: block sum (the backward's bytes)", nbytes, down_ms))
        del x, big, expand_src
        free_memory()

    same_bytes("x2, 32x64x256x256 float32", (32, 64, 256, 256), (2, 2), torch.float32)
    same_bytes("x2, 32x64x256x256 bfloat16", (32, 64, 256, 256), (2, 2), torch.bfloat16)
    same_bytes("x2, 4x32x32x128x128 float32", (4, 32, 32, 128, 128), (2, 2, 2), torch.float32)
    same_bytes("x32, 8x256x15x15 float32", (8, 256, 15, 15), (32, 32), torch.float32)

    lines += ["| op | MB moved | ms | GB/s | % of gpu.py's floor |", "|---|---|---|---|---|"]
    for title, nbytes, ms in rows:
        floor_ms = nbytes / (copy_gbs * 1e9) * 1e3
        lines.append(f"| {title} | {nbytes / 1e6:,.0f} | {ms:.3f} | {gbs(nbytes, ms):,.0f} | {100 * floor_ms / ms:.0f}% |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
