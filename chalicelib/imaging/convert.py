"""Format conversion for downloads: any stored image -> upright sRGB PNG, JPEG or WebP without metadata."""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from chalicelib.imaging.colour import to_srgb
from chalicelib.imaging.decode import load_image, normalise_mode, open_image
from chalicelib.imaging.results import EncodedImage
from chalicelib.imaging.specs import CONVERT_FORMATS, DEFAULT_MAX_PIXELS, JPEG_QUALITY, WEBP_METHOD, WEBP_QUALITY


def convert_image(image: EncodedImage | bytes, fmt: str) -> EncodedImage:
    """Re-encode ``image`` (an ``EncodedImage`` or raw JPEG/PNG/WebP bytes) as ``fmt``: "png" | "jpeg" | "webp".

    The result keeps the pixel size (px) of the upright image: EXIF orientation is applied (``ImageOps.exif_transpose``)
    so downloads are upright everywhere, colours are converted to sRGB through any embedded ICC profile, and the file
    carries no EXIF, GPS, XMP or ICC profile. JPEG flattens alpha onto white (JPEG has no alpha); PNG and WebP keep it.
    Settings: JPEG quality ``JPEG_QUALITY`` (optimised Huffman tables), WebP quality ``WEBP_QUALITY``, PNG zlib level 6.
    Animated input: the first frame.

    Raises ``ValueError`` for an ``fmt`` outside ``CONVERT_FORMATS`` (a caller bug: validate user input against it),
    and ``ImageRejectedError`` with the same codes as ``process_image`` for bad input bytes.
    """
    if fmt not in CONVERT_FORMATS:
        raise ValueError(f"cannot convert to {fmt!r}; expected one of {', '.join(CONVERT_FORMATS)}")
    data = image.data if isinstance(image, EncodedImage) else image
    source, source_fmt = open_image(data, max_pixels=DEFAULT_MAX_PIXELS)
    try:
        load_image(source, source_fmt)
        icc_profile = source.info.get("icc_profile") or None
        ImageOps.exif_transpose(source, in_place=True)
        # to_srgb may hand back `source` itself, so encode before the file is closed.
        return _encode(to_srgb(normalise_mode(source), icc_profile), fmt)
    finally:
        source.close()


def _encode(pixels: Image.Image, fmt: str) -> EncodedImage:
    buffer = io.BytesIO()
    if fmt == "jpeg":
        if pixels.mode == "RGBA":
            flat = Image.new("RGB", pixels.size, (255, 255, 255))
            flat.paste(pixels, mask=pixels.getchannel("A"))
            pixels = flat
        pixels.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif fmt == "png":
        pixels.save(buffer, "PNG", compress_level=6)
    else:
        pixels.save(buffer, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    return EncodedImage(buffer.getvalue(), pixels.width, pixels.height, fmt)
