"""Format conversion for downloads: any stored image -> upright sRGB PNG, JPEG or WebP without metadata.

``convert_image`` converts one image to one format; ``derive_formats`` makes, at ingest, every download format of every
stored size in one call (each source decoded once, the encodes spread over the imaging thread pool).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from concurrent.futures import Future

from PIL import Image

from chalicelib.imaging.decode import decode_srgb
from chalicelib.imaging.executor import get_executor
from chalicelib.imaging.results import EncodedImage
from chalicelib.imaging.specs import (
    CONVERT_FORMATS,
    JPEG_QUALITY,
    PNG_COMPRESS_LEVEL,
    WEBP_METHOD,
    WEBP_QUALITY,
)


def convert_image(image: EncodedImage | bytes, fmt: str) -> EncodedImage:
    """Re-encode ``image`` (an ``EncodedImage`` or raw JPEG/PNG/WebP bytes) as ``fmt``: "png" | "jpeg" | "webp".

    The result keeps the pixel size (px) of the upright image: EXIF orientation is applied (``ImageOps.exif_transpose``)
    so downloads are upright everywhere, colours are converted to sRGB through any embedded ICC profile, and the file
    carries no EXIF, GPS, XMP or ICC profile. JPEG flattens alpha onto white (JPEG has no alpha); PNG and WebP keep it.
    Settings: JPEG quality ``JPEG_QUALITY`` (optimised Huffman tables), WebP quality ``WEBP_QUALITY``, PNG zlib level
    ``PNG_COMPRESS_LEVEL``.
    Animated input: the first frame.

    Raises ``ValueError`` for an ``fmt`` outside ``CONVERT_FORMATS`` (a caller bug: validate user input against it),
    and ``ImageRejectedError`` with the same codes as ``process_image`` for bad input bytes.
    """
    _check_formats([fmt])
    return _encode(decode_srgb(image.data if isinstance(image, EncodedImage) else image), fmt)


def derive_formats(
    images: Mapping[str, EncodedImage], formats: Sequence[str] = CONVERT_FORMATS
) -> dict[str, dict[str, EncodedImage]]:
    """Every image of ``images`` (name -> stored image) in every format of ``formats`` other than its own.

    Returns ``{name: {format: EncodedImage}}`` (names and formats in the order given), each made exactly as
    ``convert_image`` makes it, but each source is decoded once and the encodes run on the imaging thread pool.
    Used at ingest so that no download ever converts: for the share page's sizes (the variants made and the original)
    and ``CONVERT_FORMATS``. Raises what ``convert_image`` raises.
    """
    _check_formats(formats)
    executor = get_executor()
    decoded = {name: executor.submit(decode_srgb, image.data) for name, image in images.items()}
    encoding: dict[str, dict[str, Future[EncodedImage]]] = {}
    for name, image in images.items():
        pixels = decoded.pop(name).result()
        targets = [fmt for fmt in formats if fmt != image.format]
        encoding[name] = {fmt: executor.submit(_encode, pixels, fmt) for fmt in targets}
        del pixels  # the futures hold it while they run
    return {name: {fmt: future.result() for fmt, future in futures.items()} for name, futures in encoding.items()}


def _check_formats(formats: Sequence[str]) -> None:
    unknown = [fmt for fmt in formats if fmt not in CONVERT_FORMATS]
    if unknown:
        raise ValueError(f"cannot convert to {unknown[0]!r}; expected one of {', '.join(CONVERT_FORMATS)}")


def _encode(pixels: Image.Image, fmt: str) -> EncodedImage:
    buffer = io.BytesIO()
    if fmt == "jpeg":
        if pixels.mode == "RGBA":
            flat = Image.new("RGB", pixels.size, (255, 255, 255))
            flat.paste(pixels, mask=pixels.getchannel("A"))
            pixels = flat
        pixels.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif fmt == "png":
        pixels.save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    else:
        pixels.save(buffer, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    return EncodedImage(buffer.getvalue(), pixels.width, pixels.height, fmt)
