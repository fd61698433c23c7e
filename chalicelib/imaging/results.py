"""The value objects the imaging pipeline hands back (no Pillow import, so API modules can type against them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.imaging.specs import CONTENT_TYPES, EXTENSIONS


@dataclass(frozen=True)
class EncodedImage:
    """One encoded image file.

    ``data`` is the file's bytes; ``width`` and ``height`` are its display size in px, i.e. after EXIF orientation
    (for every output except an untouched original, whose pixels may still be stored rotated with an orientation
    tag, this is also the stored pixel size); ``format`` is ``"jpeg"``, ``"png"`` or ``"webp"``.
    """

    data: bytes = field(repr=False)
    width: int
    height: int
    format: str

    @property
    def content_type(self) -> str:
        """MIME type for S3 ``Content-Type`` and HTTP, e.g. ``"image/webp"``."""
        return CONTENT_TYPES[self.format]

    @property
    def extension(self) -> str:
        """File extension without the dot: ``"jpg"``, ``"png"`` or ``"webp"``."""
        return EXTENSIONS[self.format]

    def describe(self) -> dict[str, Any]:
        """``{"width": px, "height": px, "bytes": size in bytes, "format": ...}`` (JSON-serialisable)."""
        return {"width": self.width, "height": self.height, "bytes": len(self.data), "format": self.format}


@dataclass(frozen=True)
class PipelineResult:
    """What ``process_image`` made from one upload.

    - ``source_format``: sniffed from the bytes, ``"jpeg"`` | ``"png"`` | ``"webp"``.
    - ``source_width`` / ``source_height``: px, after EXIF orientation.
    - ``original``: the stored original, same format as the upload (see ``process_image`` for the rules).
    - ``variants``: square WebP images keyed by ``VARIANT_SPECS`` name, smallest first, only the sizes made.
    - ``missing_variants``: names whose side exceeds the source's short side; they are not upsampled here (AI
      upscaling fills them later through the same ingest path).
    - ``cropped`` / ``crop_box``: whether the variants are a centre crop, and the crop as (left, top, right, bottom)
      in oriented source px (``None`` for square sources).
    - ``dominant_color``: ``"#rrggbb"``, the first palette entry.
    - ``palette``: distinct ``"#rrggbb"`` colours, most pixels first; 5 to 8 of them, fewer only when the image itself
      has fewer than 5 distinct colours.
    - ``placeholder``: a BlurHash string (https://blurha.sh, 4x4 components) of the square crop.
    - ``animated`` / ``frame_count``: animated WebP/PNG input; variants and colours use the first frame only.
    """

    source_format: str
    source_width: int
    source_height: int
    original: EncodedImage
    variants: dict[str, EncodedImage]
    missing_variants: list[str]
    cropped: bool
    crop_box: tuple[int, int, int, int] | None
    dominant_color: str
    palette: list[str]
    placeholder: str
    animated: bool
    frame_count: int

    def metadata(self) -> dict[str, Any]:
        """Everything above except the bytes, JSON-serialisable; each image becomes ``EncodedImage.describe()``."""
        return {
            "source_format": self.source_format,
            "source_width": self.source_width,
            "source_height": self.source_height,
            "original": self.original.describe(),
            "variants": {name: image.describe() for name, image in self.variants.items()},
            "missing_variants": list(self.missing_variants),
            "cropped": self.cropped,
            "crop_box": list(self.crop_box) if self.crop_box is not None else None,
            "dominant_color": self.dominant_color,
            "palette": list(self.palette),
            "placeholder": self.placeholder,
            "animated": self.animated,
            "frame_count": self.frame_count,
        }
