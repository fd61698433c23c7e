"""Variant planning, the centre crop, strip-parallel resizing, JPEG DCT scaling and the palette."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from PIL import Image, ImageChops, JpegImagePlugin

from chalicelib.imaging import process_image
from chalicelib.imaging.executor import get_executor
from chalicelib.imaging.palette import extract_palette
from chalicelib.imaging.variants import centre_square, plan_variants, resize_box


@pytest.mark.parametrize(
    ("short_side", "made"),
    [
        (63, []),
        (64, ["tiny"]),
        (299, ["tiny"]),
        (300, ["tiny", "small"]),
        (1399, ["tiny", "small", "medium"]),
        (1400, ["tiny", "small", "medium", "large"]),
    ],
)
def test_plan_variants_never_upsamples(short_side: int, made: list[str]) -> None:
    planned, missing = plan_variants(short_side)
    assert planned == made
    assert planned + missing == ["tiny", "small", "medium", "large"]


def test_centre_square() -> None:
    assert centre_square(2725, 2225) == (250, 0, 2475, 2225)
    assert centre_square(450, 601) == (0, 75, 450, 525)
    assert centre_square(10, 10) == (0, 0, 10, 10)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "CMYK"])
def test_strip_resize_matches_one_resize(mode: str) -> None:
    # Random noise is the worst case: every filter tap matters.
    image = Image.frombytes(mode, (1300, 1100), os.urandom(1300 * 1100 * len(mode)))
    box = (150.0, 0.0, 1250.0, 1100.0)
    whole = resize_box(image, (700, 700), box)
    strips = resize_box(image, (700, 700), box, executor=get_executor(), workers=2)
    single = image.resize((700, 700), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
    assert strips.mode == whole.mode == single.mode == mode
    assert ImageChops.difference(whole, single).getbbox() is None
    tolerance = 1
    if mode == "RGBA":  # colour under near-zero alpha is amplified by un-premultiplying; compare what shows
        strips, whole, tolerance = strips.convert("RGBa"), whole.convert("RGBa"), 2
    differences = ImageChops.difference(strips, whole)
    assert max(band.getextrema()[1] for band in differences.split()) <= tolerance


def test_large_jpeg_is_decoded_with_dct_scaling(
    image_bytes: Callable[[str], bytes], monkeypatch: pytest.MonkeyPatch, checks: SimpleNamespace
) -> None:
    with Image.open(io.BytesIO(image_bytes("photo-2725x2225.jpg"))) as photo:
        big = photo.resize((3000, 3000), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=90)
    drafts: list[tuple[int, int]] = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, mode: str | None, size: tuple[int, int] | None) -> object:
        answer = real_draft(self, mode, size)
        drafts.append(self.size)
        return answer

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    result = process_image(buffer.getvalue())
    assert drafts == [(1500, 1500)]  # half size still covers the 1400 px variant
    reference = big.resize((1400, 1400), Image.Resampling.LANCZOS)
    assert checks.psnr(checks.decode(result.variants["large"].data), reference) > 35


def test_small_jpeg_is_not_drafted_below_what_the_variants_need(
    image_bytes: Callable[[str], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", lambda self, mode, size: calls.append(size))
    process_image(image_bytes("photo-2725x2225.jpg"))  # short side 2225 // 2 < 1400
    assert calls == []


def test_palette_ranks_by_pixel_count_and_ignores_transparent_pixels() -> None:
    image = Image.new("RGBA", (100, 100), (255, 0, 0, 255))
    image.paste((0, 0, 255, 255), (0, 0, 100, 45))  # 45 % blue
    image.paste((0, 255, 0, 0), (0, 45, 100, 80))  # 35 % green but fully transparent, leaving 20 % red
    palette = extract_palette(image)
    assert palette[:2] == ["#0000ff", "#ff0000"]
    assert "#00ff00" not in palette
    solid = extract_palette(Image.new("RGB", (50, 50), (12, 34, 56)))
    assert solid == ["#0c2238"]
