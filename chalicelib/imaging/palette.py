"""Dominant colour and palette of a variant, by quantising it and counting pixels per palette entry."""

from __future__ import annotations

from PIL import Image

from chalicelib.imaging.specs import PALETTE_COLOURS

_OPAQUE = 128  # palette entries at least half opaque count as visible colour


def extract_palette(image: Image.Image, colours: int = PALETTE_COLOURS) -> list[str]:
    """Return up to ``colours`` distinct ``"#rrggbb"`` strings, most visible pixels first, for an RGB/RGBA ``image``.

    Fast octree quantisation (Pillow ``Quantize.FASTOCTREE``, libimagequant-free and ~100x faster than median cut on
    a 300 px square, with a similar palette) on the colour channels; pixels are then counted per
    palette entry with ``Image.histogram(mask=...)``, so for RGBA only pixels at least half opaque count and entries
    that only transparent pixels use are dropped (RGBA is quantised to 4x ``colours`` entries for that reason). An
    image with fewer distinct visible colours gives fewer entries; one with no visible pixel is read without its
    alpha. Always at least one entry.
    """
    mask = None
    if image.mode == "RGBA":
        mask = image.getchannel("A").point(lambda alpha: 255 if alpha >= _OPAQUE else 0)
        if mask.getextrema()[1] == 0:
            mask = None
    rgb = image.convert("RGB") if image.mode != "RGB" else image
    quantised = rgb.quantize(colours * 4 if mask is not None else colours, method=Image.Quantize.FASTOCTREE)
    counts = quantised.histogram(mask=mask)
    entries = quantised.getpalette("RGB") or []
    ranked = sorted((count, index) for index, count in enumerate(counts[: len(entries) // 3]) if count)
    result: list[str] = []
    for _count, index in reversed(ranked):
        colour = "#{:02x}{:02x}{:02x}".format(*entries[index * 3 : index * 3 + 3])
        if colour not in result:
            result.append(colour)
        if len(result) == colours:
            break
    return result
