"""Square variants: which sizes to make, the centre crop, fast resizing and WebP encoding."""

from __future__ import annotations

import io
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

from chalicelib.imaging.results import EncodedImage
from chalicelib.imaging.specs import REDUCING_GAP, VARIANT_SPECS, WEBP_METHOD

# Below this many output px the thread hand-off costs more than splitting the resize saves.
_STRIP_MIN_OUTPUT_PX = 512 * 512
_STRIPS_PER_WORKER = 4


def plan_variants(short_side: int) -> tuple[list[str], list[str]]:
    """Split ``VARIANT_SPECS`` names into (made, missing) for a source whose short side is ``short_side`` px.

    A variant is made when its side <= the short side (equal is fine: no upsampling happens); the others are missing,
    left to AI upscaling. Both lists keep ``VARIANT_SPECS`` order, smallest first.
    """
    made = [name for name, (side, _) in VARIANT_SPECS.items() if side <= short_side]
    missing = [name for name in VARIANT_SPECS if name not in made]
    return made, missing


def centre_square(width: int, height: int) -> tuple[int, int, int, int]:
    """The largest centred square in a ``width`` x ``height`` px image, as (left, top, right, bottom) px."""
    side = min(width, height)
    left = (width - side) // 2
    top = (height - side) // 2
    return (left, top, left + side, top + side)


def resize_box(
    image: Image.Image,
    size: tuple[int, int],
    box: tuple[float, float, float, float],
    *,
    executor: ThreadPoolExecutor | None = None,
    workers: int = 1,
) -> Image.Image:
    """Lanczos-resample region ``box`` (float px of ``image``) to ``size`` px, in horizontal strips across threads.

    Pillow's resample takes each filter window from the whole image, not only from ``box``, so strips cut at any row
    give the pixels of a single ``resize`` (to +-1 from floating-point box arithmetic; tested) while using ``workers``
    cores and keeping the horizontal pass's temporary buffer per strip instead of for the whole box. Alpha is
    premultiplied once for the whole image (``Image.resize`` would do it again for every strip).
    ``reducing_gap`` = ``REDUCING_GAP``.
    """
    width, height = size
    premultiplied = image.mode in ("LA", "RGBA")
    source = image.convert(image.mode[:-1] + "a") if premultiplied else image
    strips = workers * _STRIPS_PER_WORKER if executor is not None and workers > 1 else 1
    if width * height < _STRIP_MIN_OUTPUT_PX or strips == 1 or height < strips:
        result = source.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=REDUCING_GAP)
    else:
        assert executor is not None
        left, top, right, bottom = box
        scale = (bottom - top) / height
        result = Image.new(source.mode, size)
        rows = [(height * i // strips, height * (i + 1) // strips) for i in range(strips)]
        futures = [
            executor.submit(
                source.resize,
                (width, y1 - y0),
                Image.Resampling.LANCZOS,
                (left, top + y0 * scale, right, top + y1 * scale),
                REDUCING_GAP,
            )
            for y0, y1 in rows
        ]
        pending = deque(zip(rows, futures, strict=True))
        del futures
        while pending:  # popping drops each strip as soon as it is pasted, not when the function returns
            (y0, _), future = pending.popleft()
            result.paste(future.result(), (0, y0))
    if premultiplied:
        result = result.convert(image.mode)
    result.info = {}
    return result


def shrink_square(image: Image.Image, side: int) -> Image.Image:
    """Lanczos-resample a square ``image`` to ``side`` x ``side`` px (used to cascade each variant from the next)."""
    if image.size == (side, side):
        return image
    result = image.resize((side, side), Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
    result.info = {}
    return result


def encode_webp(image: Image.Image, quality: int) -> EncodedImage:
    """Encode an RGB or RGBA ``image`` as WebP (lossy, ``quality`` 0-100, ``WEBP_METHOD``), with no EXIF, XMP or ICC.

    Alpha is kept (lossless alpha plane, Pillow's default ``alpha_quality=100``).
    """
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=quality, method=WEBP_METHOD)
    return EncodedImage(buffer.getvalue(), image.width, image.height, "webp")
