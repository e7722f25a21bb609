"""The ``tessera`` command line: ``tessera resize``, ``tessera pyramid``, ``tessera demo`` and
``tessera --version``.

Runnable as ``tessera ...`` (console script) or ``python -m tessera.cli ...``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Optional, Sequence, Tuple

import numpy as np

import tessera

#: Modes offered by ``tessera resize`` (images are 2-D, so the 2-D names of PyTorch's modes).
RESIZE_MODES = ("nearest", "nearest-exact", "bilinear", "bicubic", "area", "lanczos", "cubic")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

_SIZE_RE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")
_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}

#: Default memory budget of ``tessera resize`` and ``tessera pyramid`` (bytes).
DEFAULT_MAX_MEMORY = 2**30


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


def parse_memory(text: str) -> int:
    """``'1G'``, ``'512M'``, ``'256MiB'``, ``'64k'`` or a number of bytes -> bytes (binary units)."""
    m = _MEMORY_RE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected a size such as 1G, 512M or 1048576, got {text!r}")
    value = int(float(m.group(1)) * _MEMORY_UNITS[m.group(2).lower()])
    if value <= 0:
        raise argparse.ArgumentTypeError(f"the memory budget must be positive, got {text!r}")
    return value


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
    p.add_argument(
        "--max-memory",
        type=parse_memory,
        default=DEFAULT_MAX_MEMORY,
        metavar="SIZE",
        help="memory budget, e.g. 512M or 4G (default: 1G); a TIFF whose resize needs more is streamed "
        "tile by tile (tessera.tiled) instead of read whole",
    )
    p.set_defaults(func=cmd_resize, subparser=p)

    py = sub.add_parser(
        "pyramid",
        help="write a multiscale image pyramid (OME-Zarr)",
        description="Write a multiscale pyramid of an image as an OME-Zarr group (Zarr format 2, OME-NGFF "
        "0.4): level 0 is the image, level k the image resized to floor(size / 2**k) with tessera, in "
        "bounded memory. Arrays are (c, y, x), or (y, x) for grayscale, in the image's dtype. Levels already "
        "complete are skipped when the command is run again.",
    )
    py.add_argument("input", metavar="IN", help="input image (.tif read lazily; .png, .jpg, ...)")
    py.add_argument("output", metavar="OUT", help="output zarr group (a directory, e.g. image.zarr)")
    py.add_argument("--levels", type=parse_threads, required=True, metavar="K", help="number of levels, 0 to K-1")
    py.add_argument("--mode", default="area", choices=RESIZE_MODES, help="interpolation mode (default: area)")
    py.add_argument(
        "--antialias", action="store_true", help="antialias (bilinear, bicubic, cubic; required by lanczos)"
    )
    src = py.add_mutually_exclusive_group()
    src.add_argument(
        "--from-previous", dest="source", action="store_const", const="previous",
        help="compute level k from level k-1 (default)",
    )
    src.add_argument(
        "--from-full", dest="source", action="store_const", const="full",
        help="compute every level from level 0 (the full-resolution image)",
    )
    py.set_defaults(source="previous")
    py.add_argument(
        "--max-memory", type=parse_memory, default=DEFAULT_MAX_MEMORY, metavar="SIZE",
        help="memory budget, e.g. 512M or 4G (default: 1G)",
    )
    py.add_argument("--chunk", type=parse_threads, default=512, metavar="N", help="zarr chunk side (default: 512)")
    py.add_argument("--threads", type=parse_threads, metavar="N", help="number of threads (default: tessera's)")
    py.add_argument("--no-progress", action="store_true", help="no progress bars")
    py.set_defaults(func=cmd_pyramid, subparser=py)

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


def _check_paths_and_threads(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """The input must exist and the output's folder too (exit 2 otherwise); --threads applies."""
    if not os.path.isfile(args.input):
        parser.error(f"input file not found: {args.input}")
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        parser.error(f"output directory does not exist: {out_dir}")
    if args.threads:
        tessera.set_num_threads(args.threads)


def cmd_resize(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from tessera import imageio

    _check_paths_and_threads(args, parser)

    options = dict(
        size=args.size,
        scale=args.scale,
        mode=args.mode,
        antialias=args.antialias,
        align_corners=True if args.align_corners else None,
    )
    if imageio.is_tiff(args.input):
        try:
            view = imageio.open_image_lazy(args.input)
        except imageio.ImageFormatError as exc:
            parser.error(str(exc))
        except Exception:  # unreadable here: read_image below reports it
            view = None
        if view is not None:
            with view:
                _, c, h, w = view.shape
                try:  # options tessera rejects are reported before a large image is read
                    imageio.output_size((h, w, c), **options)
                except (ValueError, TypeError) as exc:
                    parser.error(str(exc))
                if _resize_bytes(view, options) > args.max_memory:
                    return _resize_tiled(args, parser, view, options)

    try:
        image = imageio.read_image(args.input)
    except imageio.ImageFormatError as exc:
        parser.error(str(exc))
    except Exception as exc:  # Pillow/tifffile raise a variety of errors for unreadable files
        _error(f"cannot read {args.input}: {exc}")
        return EXIT_FAILURE

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
    _report_resize(args, h, w, c, image.dtype, out_h, out_w, "")
    return EXIT_OK


def _report_resize(args, h, w, c, dtype, out_h, out_w, how: str) -> None:
    print(f"{args.input} ({h}x{w}, {c} channel{'s' if c != 1 else ''}, {dtype}) -> "
          f"{args.output} ({out_h}x{out_w}, {args.mode}{', antialias' if args.antialias else ''}{how})")


def _resize_bytes(view, options) -> int:
    """What resizing the image in memory would hold: the image, its float copy, the result in float and
    in the image's dtype (a rough upper bound; 0 when the options are invalid, reported later)."""
    from tessera import imageio

    _, c, h, w = view.shape
    dtype = np.dtype(view.dtype)
    try:
        out_h, out_w = imageio.output_size((h, w, c), **options)
        work = imageio._work_dtype(dtype)
    except (ValueError, TypeError):
        return 0
    return h * w * c * (dtype.itemsize + work.itemsize) + out_h * out_w * c * (work.itemsize + dtype.itemsize)


def _resize_tiled(args, parser, view, options) -> int:
    """`tessera resize` of a TIFF larger than --max-memory: read it lazily, write the result tile by tile
    (into a memory-mapped TIFF, or into memory for the other formats), bitwise as the in-memory path."""
    from tessera import imageio, tiled

    _, c, h, w = view.shape
    dtype = np.dtype(view.dtype).newbyteorder("=")
    out_h, out_w = imageio.output_size((h, w, c), **options)
    kw = dict(  # the arguments resize_image gives tessera.interpolate
        size=imageio._pair(options["size"], "size"),
        scale_factor=imageio._pair(options["scale"], "scale"),
        mode=args.mode,
        antialias=args.antialias,
        align_corners=options["align_corners"],
    )
    if imageio.is_tiff(args.output):
        try:
            dst = imageio.create_tiff_memmap(args.output, out_h, out_w, c, dtype)
        except OSError as exc:
            _error(f"cannot write {args.output}: {exc}")
            return EXIT_FAILURE
        with dst:
            tiled.interpolate(view, dst, max_memory=args.max_memory, **kw)
    else:
        result = np.empty((out_h, out_w, c), dtype=dtype)
        tiled.interpolate(view, tiled.ImageView(result, "yxc"), max_memory=args.max_memory, **kw)
        try:
            imageio.write_image(args.output, result)
        except imageio.ImageFormatError as exc:
            parser.error(str(exc))
        except OSError as exc:
            _error(f"cannot write {args.output}: {exc}")
            return EXIT_FAILURE
    _report_resize(args, h, w, c, dtype, out_h, out_w, ", tiled")
    return EXIT_OK


def cmd_pyramid(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from tessera import imageio
    from tessera.pyramid import build_pyramid

    _check_paths_and_threads(args, parser)
    try:
        build_pyramid(
            args.input,
            args.output,
            args.levels,
            mode=args.mode,
            antialias=args.antialias,
            source=args.source,
            max_memory=args.max_memory,
            chunk=args.chunk,
            progress=False if args.no_progress else None,
            log=lambda line: print(f"{args.output}: {line}"),
        )
    except imageio.ImageFormatError as exc:
        parser.error(str(exc))
    except (ValueError, TypeError) as exc:  # too many levels, an option combination tessera rejects
        parser.error(str(exc))
    except OSError as exc:
        _error(f"cannot write {args.output}: {exc}")
        return EXIT_FAILURE
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
