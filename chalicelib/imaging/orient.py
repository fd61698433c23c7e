"""EXIF orientation: reading the tag, and mapping sizes, crop boxes and pixels between stored and upright."""

from __future__ import annotations

from PIL import ExifTags, Image

# EXIF 2.32 (CIPA DC-008) tag 0x0112 value -> the transpose that shows the stored pixels upright. The same table as
# ImageOps.exif_transpose; we apply it ourselves so the (cheap) transpose runs on a small variant instead of the full
# decoded image. tests/unit/test_imaging_orient.py checks it against exif_transpose.
_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def read_orientation(image: Image.Image) -> int:
    """The EXIF orientation of ``image``, 1..8; 1 when absent or out of range.

    Pillow's ``getexif`` reads the JPEG APP1 Exif segment, PNG ``eXIf`` / ImageMagick raw profiles, the WebP ``EXIF``
    chunk, and falls back to XMP ``tiff:Orientation``. Call it after ``load()``: a PNG may carry ``eXIf`` after IDAT.
    """
    value = image.getexif().get(ExifTags.Base.Orientation, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def oriented_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """The upright (width, height) in px of a stored ``size``: orientations 5-8 swap the axes."""
    width, height = size
    return (height, width) if orientation >= 5 else (width, height)


def stored_box(
    box: tuple[float, float, float, float], stored_size: tuple[int, int], orientation: int
) -> tuple[float, float, float, float]:
    """Map ``box`` (left, top, right, bottom) in upright px to the same region in stored px.

    ``stored_size`` is the (width, height) of the stored pixels. Exact for every orientation, so cropping the stored
    image with the result and then transposing equals transposing first and cropping with ``box``.
    """
    left, top, right, bottom = box
    width, height = stored_size
    if orientation == 2:
        return (width - right, top, width - left, bottom)
    if orientation == 3:
        return (width - right, height - bottom, width - left, height - top)
    if orientation == 4:
        return (left, height - bottom, right, height - top)
    if orientation == 5:
        return (top, left, bottom, right)
    if orientation == 6:
        return (top, height - right, bottom, height - left)
    if orientation == 7:
        return (width - bottom, height - right, width - top, height - left)
    if orientation == 8:
        return (width - bottom, left, width - top, right)
    return box


def apply_orientation(image: Image.Image, orientation: int) -> Image.Image:
    """Return ``image`` transposed upright for ``orientation`` (``image`` itself for 1)."""
    method = _TRANSPOSE.get(orientation)
    return image if method is None else image.transpose(method)
