"""Resampling for upscaling jobs: untrusted bytes -> upright sRGB pixels -> Lanczos-resized PNG. Bytes in, bytes out.

Used by the ``lanczos`` provider (the whole job), by the enhancement service to top a model's output up to the target
size, and by the local Real-ESRGAN worker to decode its input and encode its output the same way.
"""

from __future__ import annotations

import io
import math

from PIL import ExifTags, Image

from chalicelib.errors import ImageRejectedError
from chalicelib.imaging.decode import decode_srgb, open_image
from chalicelib.imaging.specs import DEFAULT_MAX_PIXELS, PNG_COMPRESS_LEVEL

#: EXIF orientations (TIFF 6.0 / Exif 2.32, tag 0x0112) that swap width and height: the 90° and 270° rotations.
_TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})


def encode_png(pixels: Image.Image) -> bytes:
    """``pixels`` as a PNG without metadata (zlib level ``PNG_COMPRESS_LEVEL``); an RGBA image that is fully opaque
    is written as RGB (an alpha plane would only cost bytes)."""
    if pixels.mode == "RGBA" and pixels.getchannel("A").getextrema()[0] == 255:
        pixels = pixels.convert("RGB")
    buffer = io.BytesIO()
    pixels.save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def check_output_size(width: int, height: int, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Refuse an upscale whose result (``width`` x ``height`` px) the ingest of that result would refuse anyway.

    Raises ``ImageRejectedError(code="decompression_bomb")`` with ``details`` ``max_pixels``, ``width``, ``height``,
    ``pixels`` when ``width * height > max_pixels`` (the same limit and code as ``open_image``).
    """
    if width * height > max_pixels:
        raise ImageRejectedError(
            f"The upscaled image would be {width}x{height} px, more than {max_pixels} pixels.",
            code="decompression_bomb",
            details={"max_pixels": max_pixels, "width": width, "height": height, "pixels": width * height},
        )


def resize_lanczos(pixels: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``pixels`` resampled to ``size`` (width, height px) with Pillow's Lanczos filter (a = 3); alpha is resampled
    premultiplied by Pillow, so transparent edges do not bleed colour."""
    return pixels.resize(size, Image.Resampling.LANCZOS)


def resample(data: bytes, *, scale: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[bytes, int, int]:
    """Enlarge ``data`` ``scale`` times on both axes with Lanczos: the ``lanczos`` provider's whole job.

    Returns ``(png, width, height)`` (px, upright, sRGB, RGB or RGBA). Raises ``ValueError`` for ``scale < 1`` (a
    caller bug) and ``ImageRejectedError`` for input ``decode_srgb`` refuses or an output above ``max_pixels``.
    """
    if scale < 1:
        raise ValueError(f"scale must be at least 1, not {scale}")
    pixels = decode_srgb(data, max_pixels=max_pixels)
    size = (pixels.width * scale, pixels.height * scale)
    check_output_size(*size, max_pixels=max_pixels)
    if scale > 1:
        pixels = resize_lanczos(pixels, size)
    return encode_png(pixels), size[0], size[1]


def top_up_size(width: int, height: int, target_px: int) -> tuple[int, int]:
    """The smallest size with the aspect ratio of ``width`` x ``height`` whose short side is at least ``target_px``
    (both px); the size itself when its short side is already there. The long side is rounded, never below 1."""
    short_side = min(width, height)
    if short_side >= target_px:
        return width, height
    ratio = target_px / short_side
    if width <= height:
        return target_px, max(target_px, math.floor(height * ratio + 0.5))
    return max(target_px, math.floor(width * ratio + 0.5)), target_px


def top_up(data: bytes, *, target_px: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[bytes, int, int, bool]:
    """Bring ``data``'s short side up to ``target_px`` (px) with Lanczos, keeping the aspect ratio: what finishes an
    upscale whose model stopped short of the target (a 128 px cover x4 is 512 px; the ``large`` variant is 1400 px).

    Returns ``(image, width, height, resampled)`` (px, upright). The size is read from the header first: when the
    short side is already at least ``target_px``, ``resampled`` is False and ``image`` is ``data`` itself, unchanged
    (any accepted format; a 1800x2400 model output is not decoded and re-encoded for nothing: ingest orients and
    converts it anyway). Otherwise ``image`` is an upright sRGB PNG (``decode_srgb``). Raises ``ValueError`` for
    ``target_px < 1`` and ``ImageRejectedError`` as ``open_image`` (not an accepted image, above ``max_pixels``)
    or ``resample``.
    """
    if target_px < 1:
        raise ValueError(f"target_px must be at least 1, not {target_px}")
    width, height = upright_size(data, max_pixels=max_pixels)
    size = top_up_size(width, height, target_px)
    if size == (width, height):
        return data, width, height, False
    check_output_size(*size, max_pixels=max_pixels)
    pixels = decode_srgb(data, max_pixels=max_pixels)
    return encode_png(resize_lanczos(pixels, size)), size[0], size[1], True


def upright_size(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """``data``'s (width, height) in px once its EXIF orientation is applied, read from the header (no pixels
    decoded). Raises ``ImageRejectedError`` as ``open_image``."""
    source, fmt = open_image(data, max_pixels=max_pixels)
    with source:
        width, height = source.size
        # A PNG's eXIf chunk after the pixels would make Pillow decode them to find it: only one before them counts.
        if fmt == "png" and "exif" not in source.info:
            return width, height
        if source.getexif().get(ExifTags.Base.Orientation, 1) in _TRANSPOSING_ORIENTATIONS:
            return height, width
    return width, height


def reduce_to(data: bytes, *, short_px: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[bytes, int, int, bool]:
    """Shrink ``data`` with Lanczos so its short side is at most ``short_px`` (px), keeping the aspect ratio: what the
    local upscaler does before its model so that a 300-1399 px cover takes a CPU minute, not a quarter of an hour
    (x4plus's time grows with the input's pixels; bench/bench_upscale.py).

    Returns ``(png, width, height, reduced)``; ``reduced`` is False (and the bytes are ``data`` itself) when the short
    side is already at most ``short_px``. Raises ``ValueError`` for ``short_px < 1`` and ``ImageRejectedError`` as
    ``decode_srgb``.
    """
    if short_px < 1:
        raise ValueError(f"short_px must be at least 1, not {short_px}")
    pixels = decode_srgb(data, max_pixels=max_pixels)
    width, height = pixels.size
    if min(width, height) <= short_px:
        return data, width, height, False
    ratio = short_px / min(width, height)
    size = (max(1, math.floor(width * ratio + 0.5)), max(1, math.floor(height * ratio + 0.5)))
    size = (short_px, size[1]) if width <= height else (size[0], short_px)
    return encode_png(resize_lanczos(pixels, size)), size[0], size[1], True
