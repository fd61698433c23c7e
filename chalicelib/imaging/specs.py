"""The fixed numbers of the imaging pipeline: variant sizes, encoder settings, accepted formats (no Pillow here)."""

from __future__ import annotations

from typing import Final

#: Variant name -> (square side in px, WebP quality 0-100), smallest first. DESIGN.md "Storage keys" names them.
VARIANT_SPECS: dict[str, tuple[int, int]] = {
    "tiny": (64, 80),
    "small": (300, 85),
    "medium": (640, 85),
    "large": (1400, 90),
}

#: Formats accepted as uploads, by sniffed magic bytes. GIF is sniffed (so a GIF bomb is still reported as a bomb) but
#: refused: the upload form only allows image/jpeg, image/png and image/webp.
ACCEPTED_FORMATS: Final[tuple[str, ...]] = ("jpeg", "png", "webp")

#: Formats ``convert_image`` can produce for downloads.
CONVERT_FORMATS: Final[tuple[str, ...]] = ("png", "jpeg", "webp")

#: Declared pixel count (width x height) above which an image is refused before decoding.
DEFAULT_MAX_PIXELS: Final[int] = 64_000_000

#: Short side (px) below which an upload is refused (``too_small``): the side of the smallest variant (``tiny``), so
#: every accepted image makes at least one variant.
DEFAULT_MIN_SOURCE_PX: Final[int] = min(side for side, _quality in VARIANT_SPECS.values())

#: Long side (px) above which the stored original is a downscaled re-encode instead of the uploaded bytes.
DEFAULT_ORIGINAL_MAX_PX: Final[int] = 4000

#: libwebp effort 0 (fast) .. 6 (slow). Against the default 4, method 2 encodes the photo's variants in about half the
#: CPU time for +0.8 % (1400 px) to +2.5 % (640 px) bytes and about -0.4 dB PSNR (bench/README.md); Lambda bills time.
WEBP_METHOD: Final[int] = 2

#: JPEG quality of re-encoded originals (only above DEFAULT_ORIGINAL_MAX_PX) and of JPEG downloads.
JPEG_QUALITY: Final[int] = 90

#: zlib level of PNG downloads (0-9). On the photo's 2725x2225 original, level 3 encodes in about half the time of
#: Pillow's default 6 for about 9 % more bytes (bench/README.md): every PNG is made at ingest, so the worker pays it.
PNG_COMPRESS_LEVEL: Final[int] = 3

#: WebP quality of re-encoded WebP originals and of WebP downloads.
WEBP_QUALITY: Final[int] = 90

#: Pillow's ``reducing_gap``: resize first reduces by an integer factor while the remaining scale stays >= this. 3.0
#: is, per Pillow's docs, indistinguishable from a full Lanczos resample in most cases, and much faster on big inputs.
REDUCING_GAP: Final[float] = 3.0

#: Side (px) of the image the BlurHash is computed from, and its components (square variants: same count both ways).
PLACEHOLDER_SIDE: Final[int] = 32
PLACEHOLDER_COMPONENTS: Final[tuple[int, int]] = (4, 4)

#: How many colours the palette is quantised to; the answer lists the distinct ones, most pixels first.
PALETTE_COLOURS: Final[int] = 8

CONTENT_TYPES: Final[dict[str, str]] = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
EXTENSIONS: Final[dict[str, str]] = {"jpeg": "jpg", "png": "png", "webp": "webp"}
