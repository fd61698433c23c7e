"""The orientation table and box mapping agree with Pillow's ImageOps.exif_transpose (EXIF 2.32 tag 0x0112)."""

from __future__ import annotations

import io
import os

import pytest
from PIL import ExifTags, Image, ImageChops, ImageOps

from chalicelib.imaging.orient import apply_orientation, oriented_size, read_orientation, stored_box


def tagged(orientation: int) -> Image.Image:
    """A 7x5 random-pixel PNG carrying the given EXIF orientation, reopened from bytes."""
    image = Image.frombytes("RGB", (7, 5), os.urandom(7 * 5 * 3))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "PNG", exif=exif)
    reopened = Image.open(io.BytesIO(buffer.getvalue()))
    reopened.load()
    return reopened


@pytest.mark.parametrize("orientation", range(1, 9))
def test_table_and_box_mapping_match_exif_transpose(orientation: int) -> None:
    image = tagged(orientation)
    assert read_orientation(image) == orientation
    reference = ImageOps.exif_transpose(image)
    ours = apply_orientation(image, orientation)
    assert ours.size == reference.size == oriented_size(image.size, orientation)
    assert ImageChops.difference(ours.convert("RGB"), reference.convert("RGB")).getbbox() is None

    width, height = reference.size
    box = (1, 1, width - 2, height - 1)  # deliberately off-centre
    region = tuple(int(value) for value in stored_box(box, image.size, orientation))
    cropped_then_turned = apply_orientation(image.crop(region), orientation)
    expected = reference.crop(box).convert("RGB")
    assert ImageChops.difference(cropped_then_turned.convert("RGB"), expected).getbbox() is None


def test_missing_or_invalid_orientation_reads_as_1() -> None:
    assert read_orientation(Image.new("RGB", (2, 2))) == 1
    assert read_orientation(tagged(9)) == 1
