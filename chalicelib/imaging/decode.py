"""Opening untrusted bytes: header-only bomb check, format policy, one guarded decode, mode normalisation, and the
upright sRGB pixels that conversion and upscaling start from."""

from __future__ import annotations

import io
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, ImageFile, ImageOps

from chalicelib.errors import ImageRejectedError
from chalicelib.imaging.colour import to_srgb
from chalicelib.imaging.sniff import sniff_format
from chalicelib.imaging.specs import ACCEPTED_FORMATS, DEFAULT_MAX_PIXELS

# What Pillow raises on malformed input: Image.open documents UnidentifiedImageError (an OSError), ValueError and
# TypeError; plugins also leak SyntaxError, struct.error, EOFError, IndexError and zlib.error on broken streams.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    EOFError,
    IndexError,
    struct.error,
    zlib.error,
)

_PILLOW_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}

# Image.MAX_IMAGE_PIXELS is module state that any caller may change; we pin it to our own limit while Pillow parses a
# header, and the lock keeps two concurrent opens from restoring each other's value.
_PIXEL_LIMIT_LOCK = threading.Lock()

_NORMAL_MODES = ("L", "LA", "RGB", "RGBA", "CMYK")


@contextmanager
def _pillow_pixel_limit(max_pixels: int) -> Iterator[None]:
    with _PIXEL_LIMIT_LOCK:
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            with warnings.catch_warnings():
                # Pillow only *warns* between 1x and 2x its limit; a warning must refuse too.
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                yield
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def _bomb(max_pixels: int, width: int | None = None, height: int | None = None) -> ImageRejectedError:
    details: dict[str, int] = {"max_pixels": max_pixels}
    if width is not None and height is not None:
        details.update(width=width, height=height, pixels=width * height)
    return ImageRejectedError(
        f"The image declares more than {max_pixels} pixels and was refused before decoding.",
        code="decompression_bomb",
        details=details,
    )


def open_image(data: bytes, *, max_pixels: int) -> tuple[ImageFile.ImageFile, str]:
    """Open ``data`` lazily (header only, no pixels decoded) and apply the refusal rules in order.

    Returns ``(image, format)`` with ``format`` in ``ACCEPTED_FORMATS``; the caller owns ``image`` and must close it.

    Raises ``ImageRejectedError`` with code ``empty_file`` (no bytes), ``unsupported_format`` (magic bytes are not
    JPEG/PNG/WebP/GIF, or a GIF), ``decompression_bomb`` (declared width x height above ``max_pixels``, checked for
    every sniffable format, GIF included, before any decoding) or ``corrupt_image`` (the header cannot be parsed).
    """
    if not data:
        raise ImageRejectedError("The file is empty.", code="empty_file", details={"bytes": 0})
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageRejectedError(
            "The file is not a JPEG, PNG or WebP image.",
            code="unsupported_format",
            details={"accepted": list(ACCEPTED_FORMATS)},
        )
    try:
        with _pillow_pixel_limit(max_pixels):
            # formats= keeps Pillow to the sniffed plugin: bytes are never reinterpreted as another format.
            image = Image.open(io.BytesIO(data), formats=[_PILLOW_NAMES[fmt]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb(max_pixels) from exc
    except DECODE_ERRORS as exc:
        raise ImageRejectedError(
            f"The {fmt.upper()} header cannot be read.", code="corrupt_image", details={"format": fmt}
        ) from exc
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise _bomb(max_pixels, width, height)
    if fmt not in ACCEPTED_FORMATS:
        image.close()
        raise ImageRejectedError(
            f"{fmt.upper()} images are not accepted; upload a JPEG, PNG or WebP.",
            code="unsupported_format",
            details={"format": fmt, "accepted": list(ACCEPTED_FORMATS)},
        )
    return image, fmt


def load_image(image: ImageFile.ImageFile, fmt: str) -> None:
    """Decode the pixels of the current (first) frame, once.

    Truncated files raise; ``ImageFile.LOAD_TRUNCATED_IMAGES`` is never switched on because a half-grey cover is worse
    than a clear refusal. Raises ``ImageRejectedError(code="corrupt_image")``.
    """
    try:
        image.load()
    except DECODE_ERRORS as exc:
        raise ImageRejectedError(
            f"The {fmt.upper()} data is truncated or cannot be decoded.",
            code="corrupt_image",
            details={"format": fmt, "reason": str(exc)[:200]},
        ) from exc


def normalise_mode(image: Image.Image) -> Image.Image:
    """Return ``image`` in one of L, LA, RGB, RGBA or CMYK, the modes that resize, reduce and ImageCms all handle.

    Palette and 1-bit images become RGB(A)/L(A) (Pillow resizes P and 1 with NEAREST only), tRNS transparency becomes
    an alpha channel, and 16-bit grey is scaled (not clipped, as ``convert("L")`` would) to 8 bits. May return
    ``image`` itself.
    """
    mode = image.mode
    has_trns = image.info.get("transparency") is not None
    if mode in _NORMAL_MODES:
        if has_trns and mode in ("L", "RGB"):
            return image.convert(mode + "A")
        return image
    if mode == "1":
        return image.convert("LA" if has_trns else "L")
    if mode in ("P", "PA"):
        return image.convert("RGBA" if has_trns or mode == "PA" else "RGB")
    if mode.startswith("I"):
        # 16-bit samples: 65535 / 257 = 255, so the full range maps onto 8 bits.
        wide = image if mode == "I" else image.convert("I")
        return wide.point(lambda value: value * (1 / 257) + 0.5, "L")
    if mode.endswith(("A", "a")):
        return image.convert("RGBA")
    return image.convert("RGB")


def decode_srgb(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode ``data`` (JPEG/PNG/WebP, first frame) into upright 8-bit sRGB pixels, mode RGB or RGBA.

    The same rules as the ingest pipeline's variants: refusals before decoding (``open_image``), EXIF orientation
    applied, colours converted through the embedded ICC profile (none = sRGB), alpha kept. Raises
    ``ImageRejectedError`` (``empty_file``, ``unsupported_format``, ``decompression_bomb`` above ``max_pixels``
    declared pixels, ``corrupt_image``).
    """
    source, fmt = open_image(data, max_pixels=max_pixels)
    try:
        load_image(source, fmt)
        icc_profile = source.info.get("icc_profile") or None
        ImageOps.exif_transpose(source, in_place=True)
        pixels = to_srgb(normalise_mode(source), icc_profile)
        # to_srgb may hand back `source` itself, whose pixels close() would free.
        return pixels.copy() if pixels is source else pixels
    finally:
        source.close()
