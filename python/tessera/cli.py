"""The ``tessera`` command line: ``tessera resize``, ``tessera demo`` and ``tessera --version``.

Runnable as ``tessera ...`` (console script) or ``python -m tessera.cli ...``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import List, Optional, Sequence, Tuple

import tessera

#: Modes offered by ``tessera resize`` (images are 2-D, so the 2-D names of PyTorch's modes).
RESIZE_MODES = ("nearest", "nearest-exact", "bilinear", "bicubic", "area", "lanczos", "cubic")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

_SIZE_RE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def version() -> str:
    v = getattr(tessera, "__version__", None)
    if v:
        return str(v)
    try:
        from importlib.metadata import version as _dist_version

        return _dist_version("tessera")
    except Exception:  # not installed as a distribution
        return "unknown"


# --------------------------------------------------------------------------------------------
# argument types
# --------------------------------------------------------------------------------------------


def parse_size(text: str) -> Tuple[int, int]:
    """``'HxW'`` -> ``(H, W)``, both positive integers."""
    m = _SIZE_RE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH such as 480x640, got {text!r}")
    h, w = int(m.group(1)), int(m.group(2))
    if h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"height and width must be positive, got {text!r}")
    return h, w


def parse_scale(text: str):
    """``'S'`` -> ``S`` or ``'SHxSW'`` -> ``(SH, SW)``, positive finite factors."""
    problem = f"expected a factor such as 2 or 0.5, or HxW factors such as 2x1.5, got {text!r}"
    parts = re.split(r"[xX]", text.strip())
    if len(parts) not in (1, 2):
        raise argparse.ArgumentTypeError(problem)
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(problem) from None
    if not all(v > 0 and v != float("inf") for v in values):
        raise argparse.ArgumentTypeError(f"scale factors must be positive and finite, got {text!r}")
    return values[0] if len(values) == 1 else tuple(values)


def parse_threads(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


# --------------------------------------------------------------------------------------------
# parser
# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tessera",
        description="Bit-for-bit reproducible resampling (PyTorch-compatible interpolate).",
    )
    parser.add_argument("--version", action="version", version=f"tessera {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "resize",
        help="resize a PNG, JPEG or TIFF image",
        description="Resize an image with tessera.interpolate. PNG/JPEG through Pillow, TIFF "
        "(8/16-bit integer or float, any number of channels) through tifffile. Integer images are "
        "resized in floating point, then rounded and clipped back to their dtype.",
    )
    p.add_argument("input", metavar="IN", help="input image (.png, .jpg, .tif, ...)")
    p.add_argument("output", metavar="OUT", help="output image; the format follows the extension")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--size", type=parse_size, metavar="HxW", help="output size, e.g. 480x640")
    group.add_argument(
        "--scale", type=parse_scale, metavar="S", help="scale factor, e.g. 2 or 0.25, or per axis HxW, e.g. 2x1.5"
    )
    p.add_argument("--mode", default="bilinear", choices=RESIZE_MODES, help="interpolation mode (default: bilinear)")
    p.add_argument("--antialias", action="store_true", help="antialias when downsampling (required by lanczos)")
    p.add_argument(
        "--align-corners",
        action="store_true",
        help="align_corners=True (bilinear, bicubic and cubic only)",
    )
    p.add_argument("--threads", type=parse_threads, metavar="N", help="number of threads (default: tessera's)")
    p.set_defaults(func=cmd_resize, subparser=p)

    d = sub.add_parser(
        "demo",
        help="upsample a 15x15 feature map x32 by every mode and show the bits are reproducible",
        description="Upsample a synthetic 15x15 feature map x32 (to 480x480) by every mode, run forward "
        "and backward twice (one thread, then several) and check the results are bitwise identical; "
        "compare with PyTorch when it is installed; write a PNG panel of the results.",
    )
    d.add_argument(
        "--out", default="tessera-demo.png", metavar="PATH", help="PNG panel to write (default: %(default)s)"
    )
    d.add_argument("--no-torch", action="store_true", help="skip the comparison with PyTorch")
    d.set_defaults(func=cmd_demo, subparser=d)
    return parser


# --------------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------------


def _error(message: str) -> None:
    print(f"tessera: error: {message}", file=sys.stderr)


def cmd_resize(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from tessera import imageio

    if not os.path.isfile(args.input):
        parser.error(f"input file not found: {args.input}")
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        parser.error(f"output directory does not exist: {out_dir}")
    if args.threads:
        tessera.set_num_threads(args.threads)

    try:
        image = imageio.read_image(args.input)
    except imageio.ImageFormatError as exc:
        parser.error(str(exc))
    except Exception as exc:  # Pillow/tifffile raise a variety of errors for unreadable files
        _error(f"cannot read {args.input}: {exc}")
        return EXIT_FAILURE

    options = dict(
        size=args.size,
        scale=args.scale,
        mode=args.mode,
        antialias=args.antialias,
        align_corners=True if args.align_corners else None,
    )
    try:
        out_h, out_w = imageio.output_size(image.shape, **options)
    except (ValueError, TypeError) as exc:  # an option combination tessera rejects
        parser.error(str(exc))

    resized = imageio.resize_image(image, **options)
    try:
        imageio.write_image(args.output, resized)
    except imageio.ImageFormatError as exc:
        parser.error(str(exc))
    except OSError as exc:
        _error(f"cannot write {args.output}: {exc}")
        return EXIT_FAILURE

    h, w, c = image.shape
    print(f"{args.input} ({h}x{w}, {c} channel{'s' if c != 1 else ''}, {image.dtype}) -> "
          f"{args.output} ({out_h}x{out_w}, {args.mode}{', antialias' if args.antialias else ''})")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from tessera import demo

    report = demo.run(out=args.out, compare_torch=not args.no_torch, stream=sys.stdout)
    return EXIT_OK if report.all_identical else EXIT_FAILURE


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``tessera`` command; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
        if not getattr(args, "command", None):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return int(args.func(args, args.subparser))
    except SystemExit as exc:  # argparse: --help/--version (0) and usage errors (2)
        code = exc.code
        if code is None:
            return EXIT_OK
        return code if isinstance(code, int) else EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
