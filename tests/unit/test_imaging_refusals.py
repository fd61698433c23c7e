"""Refusals happen before decoding and carry the right code; Pillow's global state is neither trusted nor changed."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import pytest
from PIL import Image, ImageFile

from chalicelib.errors import ImageRejectedError
from chalicelib.imaging import convert_image, process_image
from chalicelib.imaging.specs import DEFAULT_MAX_PIXELS

BOMBS = ["bomb-280-megapixel.jpg", "bomb-65536x65536.png", "bomb-extents.gif"]


@pytest.fixture
def load_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every ImageFile.load() (the pixel decode); Image.open only reads headers."""
    calls: list[str] = []
    real_load = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile) -> object:
        calls.append(type(self).__name__)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return calls


def png_of_size(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("name", BOMBS)
def test_bombs_are_refused_before_any_pixel_is_decoded(
    name: str, image_bytes: Callable[[str], bytes], load_calls: list[str]
) -> None:
    data = image_bytes(name)
    start = time.perf_counter()
    with pytest.raises(ImageRejectedError) as caught:
        process_image(data)
    elapsed = time.perf_counter() - start
    assert caught.value.code == "decompression_bomb"
    assert caught.value.details["max_pixels"] == DEFAULT_MAX_PIXELS
    assert load_calls == []  # the decoder never ran
    assert elapsed < 0.5  # decoding 280 MP or 4 GP would take seconds and gigabytes


@pytest.mark.parametrize("name", BOMBS)
def test_bombs_are_refused_even_when_the_caller_disabled_pillows_limit(
    name: str, image_bytes: Callable[[str], bytes], monkeypatch: pytest.MonkeyPatch, load_calls: list[str]
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(ImageRejectedError) as caught:
        process_image(image_bytes(name))
    assert caught.value.code == "decompression_bomb"
    assert load_calls == []
    assert Image.MAX_IMAGE_PIXELS is None  # restored to the caller's value


def test_a_lower_global_pillow_limit_does_not_refuse_a_normal_image(
    image_bytes: Callable[[str], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    result = process_image(image_bytes("photo-1024x772.webp"))
    assert list(result.variants) == ["tiny", "small", "medium"]
    assert Image.MAX_IMAGE_PIXELS == 1000


@pytest.mark.parametrize(
    ("size", "refused"),
    [
        ((40, 25), False),  # exactly max_pixels: allowed
        ((41, 25), True),  # just above: Pillow would only warn here, we refuse
        ((60, 40), True),  # above twice the limit: Pillow's own error
    ],
)
def test_declared_pixel_count_is_compared_with_max_pixels(size: tuple[int, int], refused: bool) -> None:
    data = png_of_size(*size)
    if refused:
        with pytest.raises(ImageRejectedError) as caught:
            process_image(data, max_pixels=1000, min_source_px=1)
        assert caught.value.code == "decompression_bomb"
    else:
        assert process_image(data, max_pixels=1000, min_source_px=1).source_width == size[0]


@pytest.mark.parametrize(("size", "refused"), [((63, 500), True), ((500, 63), True), ((64, 64), False)])
def test_an_image_too_small_for_the_smallest_variant_is_refused_before_decoding(
    size: tuple[int, int], refused: bool, load_calls: list[str]
) -> None:
    # Given an image whose short side is just below, or exactly, the tiny variant's 64 px
    data = png_of_size(*size)
    if refused:
        # Then it is refused too_small, with its size, before any pixel is decoded
        with pytest.raises(ImageRejectedError) as caught:
            process_image(data)
        assert caught.value.code == "too_small"
        assert caught.value.details == {"width": size[0], "height": size[1], "min_px": 64}
        assert load_calls == []
    else:
        # Then the smallest accepted image makes the tiny variant
        assert list(process_image(data).variants) == ["tiny"]


def test_the_minimum_short_side_is_a_parameter() -> None:
    # Given a 100 px image and a minimum of 128 px, then of 8 px
    with pytest.raises(ImageRejectedError) as caught:
        process_image(png_of_size(100, 100), min_source_px=128)
    assert caught.value.code == "too_small"
    # Below the tiny variant's side the image is accepted with no variant at all
    assert process_image(png_of_size(40, 40), min_source_px=8).variants == {}


def test_truncated_jpeg_is_corrupt_and_the_truncation_switch_stays_off(image_bytes: Callable[[str], bytes]) -> None:
    with pytest.raises(ImageRejectedError) as caught:
        process_image(image_bytes("truncated.jpg"))
    assert caught.value.code == "corrupt_image"
    assert "truncated" in caught.value.details["reason"]
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_truncated_png_is_corrupt(image_bytes: Callable[[str], bytes]) -> None:
    data = image_bytes("gradients-1000.png")
    with pytest.raises(ImageRejectedError) as caught:
        process_image(data[: len(data) // 2])
    assert caught.value.code == "corrupt_image"


@pytest.mark.parametrize(
    "data",
    [b"\xff\xd8\xff\xe0" + b"\x00" * 40, b"\x89PNG\r\n\x1a\n" + b"garbage" * 5, b"RIFF\x10\x00\x00\x00WEBPVP8 junk"],
)
def test_right_magic_with_a_broken_header_is_corrupt(data: bytes) -> None:
    with pytest.raises(ImageRejectedError) as caught:
        process_image(data)
    assert caught.value.code == "corrupt_image"


def test_empty_file() -> None:
    with pytest.raises(ImageRejectedError) as caught:
        process_image(b"")
    assert caught.value.code == "empty_file"


@pytest.mark.parametrize("name", ["not-allowed.svg", "animated.gif"])
def test_svg_and_gif_are_unsupported(name: str, image_bytes: Callable[[str], bytes], load_calls: list[str]) -> None:
    with pytest.raises(ImageRejectedError) as caught:
        process_image(image_bytes(name))
    assert caught.value.code == "unsupported_format"
    assert caught.value.details["accepted"] == ["jpeg", "png", "webp"]
    assert load_calls == []


def test_a_declared_type_is_never_trusted(image_bytes: Callable[[str], bytes]) -> None:
    # An SVG renamed .png is still an SVG; a PNG is processed whatever it is called.
    with pytest.raises(ImageRejectedError):
        process_image(b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>")
    assert process_image(image_bytes("palette-transparency.png")).source_format == "png"


def test_convert_applies_the_same_refusals(image_bytes: Callable[[str], bytes]) -> None:
    for name, code in [("bomb-65536x65536.png", "decompression_bomb"), ("not-allowed.svg", "unsupported_format")]:
        with pytest.raises(ImageRejectedError) as caught:
            convert_image(image_bytes(name), "png")
        assert caught.value.code == code
