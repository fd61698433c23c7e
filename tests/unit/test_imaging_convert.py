"""convert_image: download formats keep the upright pixel size and carry no metadata."""

from __future__ import annotations

import io
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from PIL import Image

from chalicelib.imaging import (
    EncodedImage,
    PipelineResult,
    convert_image,
    derive_formats,
    process_image,
    sniff_format,
)


@pytest.fixture(scope="module")
def results(image_bytes: Callable[[str], bytes]) -> dict[str, PipelineResult]:
    names = ["photo-1024x772.webp", "exif-orientation-6.jpg", "rgba-2048x1536.png", "cmyk-with-icc.jpg"]
    return {name: process_image(image_bytes(name)) for name in names}


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
@pytest.mark.parametrize("source", ["original", "medium"])
def test_roundtrip_keeps_size_and_gives_the_asked_format(
    fmt: str, source: str, results: dict[str, PipelineResult], checks: SimpleNamespace
) -> None:
    result = results["photo-1024x772.webp"]
    image = result.original if source == "original" else result.variants["medium"]
    converted = convert_image(image, fmt)
    assert converted.format == fmt == sniff_format(converted.data)
    assert converted.content_type == f"image/{fmt}"
    assert converted.extension == {"png": "png", "jpeg": "jpg", "webp": "webp"}[fmt]
    decoded = checks.decode(converted.data)
    assert decoded.size == (converted.width, converted.height) == (image.width, image.height)
    assert not decoded.getexif()
    assert "icc_profile" not in decoded.info
    assert checks.rms(decoded, checks.decode(image.data)) < 6


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_downloads_of_a_rotated_original_are_upright(
    fmt: str, results: dict[str, PipelineResult], checks: SimpleNamespace
) -> None:
    result = results["exif-orientation-6.jpg"]
    converted = convert_image(result.original, fmt)
    decoded = checks.decode(converted.data)
    assert decoded.size == (600, 450)
    small = decoded.resize((300, 300), Image.Resampling.LANCZOS, box=result.crop_box)
    assert checks.rms(small, checks.decode(result.variants["small"].data)) < 8


def test_jpeg_flattens_alpha_on_white_and_png_keeps_it(
    results: dict[str, PipelineResult], checks: SimpleNamespace
) -> None:
    tiny = results["rgba-2048x1536.png"].variants["tiny"]
    source = checks.decode(tiny.data)
    transparent = next((x, y) for y in range(64) for x in range(64) if source.getpixel((x, y))[3] == 0)
    as_jpeg = checks.decode(convert_image(tiny, "jpeg").data)
    assert as_jpeg.mode == "RGB"
    assert all(channel > 240 for channel in as_jpeg.getpixel(transparent))
    as_png = checks.decode(convert_image(tiny, "png").data)
    assert as_png.mode == "RGBA" and as_png.getpixel(transparent)[3] == 0


def test_cmyk_original_downloads_as_srgb(results: dict[str, PipelineResult], checks: SimpleNamespace) -> None:
    result = results["cmyk-with-icc.jpg"]
    converted = checks.decode(convert_image(result.original, "png").data)
    assert converted.mode == "RGB"
    small = converted.resize((300, 300), Image.Resampling.LANCZOS, box=result.crop_box)
    assert checks.rms(small, checks.decode(result.variants["small"].data)) < 6


def test_bytes_are_accepted_and_unknown_formats_are_a_value_error(image_bytes: Callable[[str], bytes]) -> None:
    converted = convert_image(image_bytes("lowres-128.jpg"), "png")
    assert isinstance(converted, EncodedImage) and (converted.width, converted.height) == (128, 128)
    with pytest.raises(ValueError, match="gif"):
        convert_image(image_bytes("lowres-128.jpg"), "gif")
    with Image.open(io.BytesIO(converted.data)) as reopened:
        assert reopened.format == "PNG"


@pytest.mark.parametrize("name", ["exif-orientation-6.jpg", "rgba-2048x1536.png", "cmyk-with-icc.jpg"])
def test_derive_formats_makes_every_other_format_of_every_size_as_convert_image_does(
    name: str, results: dict[str, PipelineResult]
) -> None:
    # Given the stored images of an upload (its variants and its original)
    result = results[name]
    sizes = {**result.variants, "original": result.original}
    # When the download formats are derived in one call
    derived = derive_formats(sizes)
    # Then every size has every format but its stored one, byte for byte what convert_image makes of it
    assert list(derived) == list(sizes)
    for size, image in sizes.items():
        assert list(derived[size]) == [fmt for fmt in ("png", "jpeg", "webp") if fmt != image.format]
        for fmt, converted in derived[size].items():
            assert converted.data == convert_image(image, fmt).data, (size, fmt)


def test_derive_formats_refuses_an_unknown_format(results: dict[str, PipelineResult]) -> None:
    with pytest.raises(ValueError, match="gif"):
        derive_formats({"original": results["cmyk-with-icc.jpg"].original}, ["png", "gif"])
