"""The ingest pipeline: untrusted upload bytes -> stored original, square WebP variants, colours and a placeholder."""

from __future__ import annotations

import io
from concurrent.futures import Future
from typing import Any

from PIL import Image, ImageFile

from chalicelib.errors import ImageRejectedError
from chalicelib.imaging.colour import to_srgb
from chalicelib.imaging.decode import load_image, normalise_mode, open_image
from chalicelib.imaging.executor import get_executor, worker_count
from chalicelib.imaging.metadata import ContainerError, clean_exif, strip_location
from chalicelib.imaging.orient import apply_orientation, oriented_size, read_orientation, stored_box
from chalicelib.imaging.palette import extract_palette
from chalicelib.imaging.placeholder import make_placeholder
from chalicelib.imaging.results import EncodedImage, PipelineResult
from chalicelib.imaging.specs import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_SOURCE_PX,
    DEFAULT_ORIGINAL_MAX_PX,
    JPEG_QUALITY,
    VARIANT_SPECS,
    WEBP_METHOD,
    WEBP_QUALITY,
)
from chalicelib.imaging.variants import centre_square, encode_webp, plan_variants, resize_box, shrink_square

_JPEG_DCT_SCALES = (8, 4, 2, 1)  # libjpeg decodes at 1/8, 1/4, 1/2 or full size (Pillow's Image.draft)


def process_image(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    original_max_px: int = DEFAULT_ORIGINAL_MAX_PX,
    min_source_px: int = DEFAULT_MIN_SOURCE_PX,
) -> PipelineResult:
    """Turn uploaded bytes into everything the ingest worker stores. Bytes in, bytes out; no I/O.

    Steps, in order:

    1. Refusals, before any pixel is decoded: empty -> ``empty_file``; magic bytes not JPEG/PNG/WebP/GIF ->
       ``unsupported_format``; declared width x height > ``max_pixels`` (any sniffable format, GIF included, and
       Pillow's own bomb error/warning pinned to the same limit) -> ``decompression_bomb``; then GIF ->
       ``unsupported_format``. Then, still before decoding, a short side below ``min_source_px`` -> ``too_small``
       (by default the smallest variant's side, so every accepted image makes at least ``tiny``).
    2. One decode of the first frame. JPEG is decoded with libjpeg's DCT scaling (``Image.draft``) at the smallest of
       1/8, 1/4, 1/2, 1/1 that still covers the largest variant and, if needed, the original. Truncated or
       undecodable -> ``corrupt_image``.
    3. Original (``result.original``), same format as the upload. Long side <= ``original_max_px``: the uploaded bytes,
       pixels untouched, with the EXIF GPS IFD, XMP and IPTC removed and the EXIF orientation tag KEPT (the pixels are
       still stored as shot, so the tag is what shows them upright). Longer: resized to ``original_max_px`` on the long
       side, turned upright, re-encoded (JPEG q90 / PNG / WebP q90, 8 bits per channel) with the source ICC profile and
       the cleaned EXIF minus orientation.
    4. Variants: the centred square of the upright image, converted to sRGB through the embedded ICC profile (CMYK
       included; no profile = sRGB), alpha kept, resampled with Lanczos to each ``VARIANT_SPECS`` side not larger
       than the short side, the largest from the decoded pixels and each smaller one from the next larger; WebP at
       the spec's quality. Larger sides are listed in ``missing_variants`` (never upsampled).
    5. Palette and dominant colour from the ``small`` variant (``tiny`` when it is the only one, the unscaled square
       crop when none is made), BlurHash from the smallest of those.

    Animated WebP/PNG: only the first frame is decoded and used for variants, colours and placeholder
    (``animated=True``, ``frame_count`` = frames in the file); the untouched original keeps every frame, a downscaled
    original keeps the first only. No output except the original carries EXIF, XMP or an ICC profile; variants are
    sRGB.

    ``max_pixels``: pixel-count limit (width x height, declared). ``original_max_px``: px, long side.
    ``min_source_px``: px, short side (EXIF orientation does not change it).
    Raises ``ImageRejectedError`` (codes ``empty_file``, ``unsupported_format``, ``decompression_bomb``,
    ``too_small``, ``corrupt_image``).
    """
    image, fmt = open_image(data, max_pixels=max_pixels)
    width, height = image.size
    if min(width, height) < min_source_px:
        image.close()
        raise ImageRejectedError(
            f"The image is {width}x{height} px; its short side must be at least {min_source_px} px.",
            code="too_small",
            details={"width": width, "height": height, "min_px": min_source_px},
        )
    try:
        return _process(image, fmt, data, original_max_px)
    finally:
        image.close()


def _process(image: ImageFile.ImageFile, fmt: str, data: bytes, original_max_px: int) -> PipelineResult:
    frame_count = int(getattr(image, "n_frames", 1))
    animated = bool(getattr(image, "is_animated", False))
    stored_w, stored_h = image.size
    short_side, long_side = min(stored_w, stored_h), max(stored_w, stored_h)
    made, missing = plan_variants(short_side)
    top_side = VARIANT_SPECS[made[-1]][0] if made else short_side
    shrink_original = long_side > original_max_px

    scale = 1.0
    if fmt == "jpeg":
        scale = _draft_jpeg(image, short_side, long_side, top_side, original_max_px if shrink_original else 0)
    load_image(image, fmt)

    orientation = read_orientation(image)
    icc_profile = image.info.get("icc_profile") or None
    exif = image.getexif()
    source_w, source_h = oriented_size((stored_w, stored_h), orientation)
    crop = centre_square(source_w, source_h)
    pixels = normalise_mode(image)

    # Where the largest square is resampled from: the decoded pixels (stored orientation, maybe DCT-scaled), or, when
    # the original must be downscaled anyway and stays big enough, that smaller upright image.
    working: Image.Image = pixels
    working_orientation = orientation
    left, top, right, bottom = stored_box(crop, (stored_w, stored_h), orientation)
    box = (left * scale, top * scale, right * scale, bottom * scale)
    if shrink_original:
        fit = _fit_within((source_w, source_h), original_max_px)
        stored_fit = oriented_size(fit, orientation)  # orientation 5-8 swaps back
        resized = resize_box(pixels, stored_fit, (0, 0, pixels.width, pixels.height), **_pool())
        upright = apply_orientation(resized, orientation)
        del resized
        if min(fit) >= top_side:
            working, working_orientation = upright, 1
            ratio_x, ratio_y = fit[0] / source_w, fit[1] / source_h
            box = (crop[0] * ratio_x, crop[1] * ratio_y, crop[2] * ratio_x, crop[3] * ratio_y)
            image.close()  # drops the decoded pixels early (see below)
        # else: a long, thin image whose downscale's short side is below the largest variant; use the decode.
        original = _encode_original(upright, fmt, icc_profile, clean_exif(exif, keep_orientation=False))
        del upright
    else:
        try:
            kept = strip_location(data, fmt, clean_exif(exif, keep_orientation=True))
        except ContainerError as exc:
            raise ImageRejectedError(
                "The file's structure cannot be read.", code="corrupt_image", details={"format": fmt}
            ) from exc
        original = EncodedImage(kept, source_w, source_h, fmt)
    del pixels

    # The largest square comes from the decoded pixels; colour conversion and the transpose run on it, not on the
    # full image, and every smaller square is resampled from the one above it.
    stored_side = (top_side, top_side)
    square = resize_box(working, stored_side, box, **_pool())
    # Free the decoded pixels before encoding starts: close() drops Pillow's core image even though the caller still
    # holds the file object, and `working` may be a normalised copy.
    del working
    image.close()
    square = to_srgb(apply_orientation(square, working_orientation), icc_profile)
    if square.mode == "RGBA" and square.getchannel("A").getextrema()[0] == 255:
        square = square.convert("RGB")  # opaque: an alpha plane would only cost bytes

    executor = get_executor()
    encoding: dict[str, Future[EncodedImage]] = {}
    squares: dict[str, Image.Image] = {}
    for name in reversed(made):
        side, quality = VARIANT_SPECS[name]
        square = shrink_square(square, side)
        squares[name] = square
        encoding[name] = executor.submit(encode_webp, square, quality)

    colour_source = squares.get("small", square)
    palette = extract_palette(colour_source)
    placeholder = make_placeholder(squares[made[0]] if made else square)
    variants = {name: encoding[name].result() for name in made}

    cropped = (source_w, source_h) != (crop[2] - crop[0], crop[3] - crop[1])
    return PipelineResult(
        source_format=fmt,
        source_width=source_w,
        source_height=source_h,
        original=original,
        variants=variants,
        missing_variants=missing,
        cropped=cropped,
        crop_box=crop if cropped else None,
        dominant_color=palette[0],
        palette=palette,
        placeholder=placeholder,
        animated=animated,
        frame_count=frame_count,
    )


def _pool() -> dict[str, Any]:
    return {"executor": get_executor(), "workers": worker_count()}


def _draft_jpeg(image: ImageFile.ImageFile, short_side: int, long_side: int, need_short: int, need_long: int) -> float:
    """Ask libjpeg for the smallest DCT scale that still covers what we need; return decoded px per stored px."""
    factor = 1
    for factor in _JPEG_DCT_SCALES:
        if short_side // factor >= need_short and long_side // factor >= need_long:
            break
    if factor == 1:
        return 1.0
    stored_width = image.width
    # Pillow picks the scale as min(width // w, height // h) for the requested (w, h); w = width // factor gives it.
    drafted = image.draft(None, (image.width // factor, image.height // factor))
    if drafted is None:
        return 1.0
    _mode, region = drafted  # region: the stored image's extent in decoded px
    return float(region[2]) / stored_width


def _fit_within(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    width, height = size
    ratio = max_side / max(width, height)
    return (max(1, round(width * ratio)), max(1, round(height * ratio)))


def _encode_original(image: Image.Image, fmt: str, icc_profile: bytes | None, exif: bytes | None) -> EncodedImage:
    """Re-encode a downscaled, upright original in the upload's format, keeping its ICC profile and cleaned EXIF."""
    buffer = io.BytesIO()
    extra: dict[str, object] = {}
    if icc_profile:
        extra["icc_profile"] = icc_profile
    if exif:
        extra["exif"] = exif
    if fmt == "jpeg":
        if image.mode in ("LA", "RGBA"):
            image = image.convert(image.mode[:-1])  # unreachable from a JPEG source; kept for safety
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, **extra)
    elif fmt == "png":
        image.save(buffer, "PNG", **extra)
    else:
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.mode else "RGB")
        image.save(buffer, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD, **extra)
    return EncodedImage(buffer.getvalue(), image.width, image.height, fmt)
