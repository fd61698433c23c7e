"""imaging.upscale: Lanczos resampling and the top-up to the target size, on the real test images; the lanczos
provider built on it."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest

from chalicelib.errors import ImageRejectedError
from chalicelib.imaging.sniff import sniff_format
from chalicelib.imaging.upscale import reduce_to, resample, top_up, top_up_size
from chalicelib.providers.lanczos import LanczosUpscaler
from chalicelib.providers.upscaling import UpscaleFailedError, UpscaleRequest
from tests.unit.provider_support import provider_settings


@pytest.mark.parametrize(
    ("name", "scale", "size"),
    [
        ("lowres-128.jpg", 4, (512, 512)),
        ("portrait-450x600.jpg", 2, (900, 1200)),
        # Stored 450x600 with EXIF orientation 6: upright it is 600x450, and so is the result.
        ("exif-orientation-6.jpg", 2, (1200, 900)),
        ("cmyk-with-icc.jpg", 3, (1500, 999)),
    ],
)
def test_resample_enlarges_the_upright_image_by_the_scale_as_an_srgb_png(
    name: str, scale: int, size: tuple[int, int], image_bytes: Callable[[str], bytes], checks: SimpleNamespace
) -> None:
    # Given a real image (RGB, EXIF-rotated, CMYK with an ICC profile)
    # When it is resampled
    data, width, height = resample(image_bytes(name), scale=scale)
    # Then the PNG is exactly scale times larger, upright, and RGB (CMYK converted, no profile carried)
    decoded = checks.decode(data)
    assert sniff_format(data) == "png"
    assert decoded.size == (width, height) == size
    assert decoded.mode == "RGB"
    assert "icc_profile" not in decoded.info and "exif" not in decoded.info


def test_resample_keeps_the_picture(image_bytes: Callable[[str], bytes], checks: SimpleNamespace) -> None:
    # Given the 128 px cover enlarged x4
    source = checks.decode(image_bytes("lowres-128.jpg"))
    data, _width, _height = resample(image_bytes("lowres-128.jpg"), scale=4)
    # When it is brought back to 128 px
    back = checks.decode(data).resize(source.size)
    # Then it is the same picture (a resampling, not noise or a shifted crop)
    assert checks.psnr(back, source) > 30


@pytest.mark.parametrize("name", ["palette-transparency.png", "grey-alpha-16bit.png"])
def test_transparency_is_kept_as_rgba(name: str, image_bytes: Callable[[str], bytes], checks: SimpleNamespace) -> None:
    # Given images with transparency in awkward modes (1-bit with tRNS, 16-bit grey + alpha)
    # When they are resampled
    data, width, height = resample(image_bytes(name), scale=4)
    # Then the result is RGBA with some transparent pixels still transparent
    decoded = checks.decode(data)
    assert decoded.mode == "RGBA"
    assert decoded.getchannel("A").getextrema()[0] < 255
    assert decoded.size == (width, height)


@pytest.mark.parametrize(
    ("name", "target", "size"),
    [
        ("lowres-128.jpg", 1400, (1400, 1400)),
        ("portrait-450x600.jpg", 1400, (1400, 1867)),
        ("photo-1024x772.webp", 1400, (1857, 1400)),
    ],
)
def test_top_up_brings_the_short_side_to_the_target_and_keeps_the_aspect(
    name: str, target: int, size: tuple[int, int], image_bytes: Callable[[str], bytes], checks: SimpleNamespace
) -> None:
    # Given an image whose short side is below the target
    # When it is topped up
    data, width, height, resampled = top_up(image_bytes(name), target_px=target)
    # Then the short side is the target, the long side follows the aspect ratio, and it says it resampled
    assert resampled is True
    assert checks.decode(data).size == (width, height) == size
    assert min(width, height) == target


def test_top_up_leaves_an_image_already_big_enough_alone(
    image_bytes: Callable[[str], bytes], checks: SimpleNamespace
) -> None:
    # Given a 1000 px image and a 1000 px target
    # When it is topped up
    data, width, height, resampled = top_up(image_bytes("gradients-1000.png"), target_px=1000)
    # Then nothing was resampled and the pixels are the source's
    assert resampled is False
    assert (width, height) == (1000, 1000)
    assert checks.rms(checks.decode(data), checks.decode(image_bytes("gradients-1000.png"))) == 0


@pytest.mark.parametrize(
    ("name", "target", "size"),
    [
        ("gradients-1000.png", 1000, (1000, 1000)),
        ("portrait-450x600.jpg", 450, (450, 600)),
        # Stored 450x600 with EXIF orientation 6: its upright size is 600x450.
        ("exif-orientation-6.jpg", 400, (600, 450)),
    ],
)
def test_top_up_hands_back_the_very_bytes_when_the_short_side_is_there(
    name: str, target: int, size: tuple[int, int], image_bytes: Callable[[str], bytes]
) -> None:
    # Given an image (PNG or JPEG) whose short side is already at least the target
    data = image_bytes(name)
    # When it is topped up
    topped, width, height, resampled = top_up(data, target_px=target)
    # Then the bytes are the input's, neither decoded nor re-encoded, with its upright size and no resampling
    assert topped == data
    assert (width, height, resampled) == (*size, False)


def test_top_up_refuses_a_bomb_even_when_no_resampling_is_needed(image_bytes: Callable[[str], bytes]) -> None:
    # Given a PNG declaring 65536x65536 px (its short side is far past any target)
    # When it is topped up
    # Then it is refused from its header, as ingest would refuse it
    with pytest.raises(ImageRejectedError) as refused:
        top_up(image_bytes("bomb-65536x65536.png"), target_px=1400)
    assert refused.value.code == "decompression_bomb"


@pytest.mark.parametrize(
    ("size", "target", "expected"),
    [((128, 128), 1400, (1400, 1400)), ((3, 1000), 10, (10, 3333)), ((1000, 3), 10, (3333, 10)), ((5, 7), 5, (5, 7))],
)
def test_top_up_size_rounds_the_long_side(size: tuple[int, int], target: int, expected: tuple[int, int]) -> None:
    assert top_up_size(*size, target) == expected


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("not-allowed.svg", "unsupported_format"),
        ("truncated.jpg", "corrupt_image"),
        ("animated.gif", "unsupported_format"),
    ],
)
def test_a_file_that_is_not_an_accepted_image_is_refused(
    name: str, code: str, image_bytes: Callable[[str], bytes]
) -> None:
    # Given bytes the ingest pipeline refuses
    # When they are resampled or topped up
    # Then they are refused with the pipeline's code
    with pytest.raises(ImageRejectedError) as resampled:
        resample(image_bytes(name), scale=4)
    with pytest.raises(ImageRejectedError) as topped:
        top_up(image_bytes(name), target_px=1400)
    assert resampled.value.code == topped.value.code == code


def test_a_bomb_is_refused_before_decoding(image_bytes: Callable[[str], bytes]) -> None:
    with pytest.raises(ImageRejectedError) as refused:
        resample(image_bytes("bomb-65536x65536.png"), scale=4)
    assert refused.value.code == "decompression_bomb"


def test_a_result_above_the_pixel_limit_is_refused(image_bytes: Callable[[str], bytes]) -> None:
    # Given a 128x128 px input (16 384 px) and a 200 000 px limit
    # When it is enlarged x4 (262 144 px) or topped up to 1400 px (1.96 MP)
    # Then both are refused with the limit's code and the size they would have had
    with pytest.raises(ImageRejectedError) as resampled:
        resample(image_bytes("lowres-128.jpg"), scale=4, max_pixels=200_000)
    with pytest.raises(ImageRejectedError) as topped:
        top_up(image_bytes("lowres-128.jpg"), target_px=1400, max_pixels=200_000)
    assert resampled.value.code == topped.value.code == "decompression_bomb"
    assert resampled.value.details == {"max_pixels": 200_000, "width": 512, "height": 512, "pixels": 262_144}


def test_a_scale_or_target_below_one_is_a_caller_bug(image_bytes: Callable[[str], bytes]) -> None:
    with pytest.raises(ValueError, match="scale"):
        resample(image_bytes("lowres-128.jpg"), scale=0)
    with pytest.raises(ValueError, match="target_px"):
        top_up(image_bytes("lowres-128.jpg"), target_px=0)


def _request(image: bytes, scale: int = 4) -> UpscaleRequest:
    return UpscaleRequest(job_id="j1", image=image, image_url="https://example.test/x", width=0, height=0, scale=scale)


def test_the_lanczos_provider_is_always_available_and_says_it_is_not_ai(
    image_bytes: Callable[[str], bytes], checks: SimpleNamespace
) -> None:
    # Given the lanczos provider
    upscaler = LanczosUpscaler(provider_settings())
    # When it upscales the 128 px cover
    result = upscaler.start(_request(image_bytes("lowres-128.jpg")))
    # Then it is available, the result is 512 px, and it is labelled lanczos, not AI
    assert upscaler.unavailable_reason() is None
    assert (upscaler.name, upscaler.model) == ("lanczos", "lanczos")
    assert (result.width, result.height, result.model, result.ai) == (512, 512, "lanczos", False)
    assert checks.decode(result.data).size == (512, 512)


def test_the_lanczos_provider_reports_refused_input_as_a_failed_upscale(image_bytes: Callable[[str], bytes]) -> None:
    # Given an input whose x4 result passes the settings' pixel limit
    upscaler = LanczosUpscaler(provider_settings(max_pixels=100_000))
    # When it is upscaled
    with pytest.raises(UpscaleFailedError) as failed:
        upscaler.start(_request(image_bytes("lowres-128.jpg")))
    # Then the job fails with the imaging code, not an ImageRejectedError the service does not expect
    assert failed.value.code == "decompression_bomb"
    assert failed.value.details["service"] == "lanczos"


def test_reduce_to_shrinks_the_short_side_and_keeps_the_aspect_ratio(
    image_bytes: Callable[[str], bytes], checks: SimpleNamespace
) -> None:
    # Given a real 450x600 portrait
    data = image_bytes("portrait-450x600.jpg")
    # When it is reduced to a 350 px short side (what the local upscaler does before its model)
    png, width, height, reduced = reduce_to(data, short_px=350)
    # Then the short side is 350, the long side follows the ratio, and the PNG decodes to that size
    assert (width, height, reduced) == (350, 467, True)
    assert checks.decode(png).size == (350, 467)


def test_reduce_to_leaves_a_small_image_alone(image_bytes: Callable[[str], bytes]) -> None:
    # Given the 128 px cover
    data = image_bytes("lowres-128.jpg")
    # When it is reduced to 350 px
    png, width, height, reduced = reduce_to(data, short_px=350)
    # Then nothing changes: the very bytes come back
    assert (width, height, reduced) == (128, 128, False)
    assert png is data
