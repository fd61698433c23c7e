"""Colour management: pixels in any accepted mode and embedded ICC profile -> 8-bit sRGB (RGB or RGBA)."""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageCms

# ICC.1:2010 profile header "data colour space" signature -> the Pillow mode the profile's transform reads.
_PROFILE_MODES = {"RGB ": "RGB", "GRAY": "L", "CMYK": "CMYK"}


@lru_cache(maxsize=1)
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@lru_cache(maxsize=8)
def _transform_from(icc_profile: bytes) -> tuple[str, ImageCms.ImageCmsTransform] | None:
    # Cached because building a transform from a big LUT profile (e.g. the 557 KB SWOP CMYK one) costs far more than
    # applying it to a 1400 px square, and the same camera/app profiles recur across uploads.
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        mode = _PROFILE_MODES.get(source.profile.xcolor_space)
        if mode is None:
            return None
        transform = ImageCms.buildTransform(
            source, _srgb_profile(), mode, "RGB", renderingIntent=ImageCms.Intent.PERCEPTUAL
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
    return mode, transform


def to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """Convert ``image`` (mode L, LA, RGB, RGBA or CMYK) to sRGB through its embedded ICC profile.

    Returns a new RGB image, or RGBA when ``image`` has alpha (alpha is carried over unchanged). Rules:
    no profile -> the pixels are taken as sRGB already (CSS Color 4 / browsers do the same); a profile that cannot be
    parsed, or whose colour space does not fit the pixels (e.g. an RGB profile on CMYK data) -> Pillow's plain mode
    conversion. Grey pixels with an RGB profile, and RGB pixels with a grey profile (Pillow expands 16-bit grey+alpha
    PNGs to RGBA), are converted to the profile's mode first. Intent: perceptual (ICC.1:2010 section 6.2).
    May return ``image`` itself (RGB without a profile), with its ``info`` cleared so no metadata rides along.
    """
    alpha = image.getchannel("A") if image.mode in ("LA", "RGBA") else None
    colour = image.convert(image.mode[:-1]) if alpha is not None else image
    found = _transform_from(bytes(icc_profile)) if icc_profile else None
    converted: Image.Image | None = None
    if found is not None:
        profile_mode, transform = found
        if colour.mode != profile_mode and {colour.mode, profile_mode} <= {"L", "RGB"}:
            colour = colour.convert(profile_mode)
        if colour.mode == profile_mode:
            converted = ImageCms.applyTransform(colour, transform)
    if converted is None:
        converted = colour if colour.mode == "RGB" else colour.convert("RGB")
    if alpha is not None:
        converted.putalpha(alpha)
    converted.info = {}
    return converted
