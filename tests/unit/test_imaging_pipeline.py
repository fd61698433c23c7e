"""process_image on every real test image: the expected outcome table, then one behaviour per test."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import blurhash
import pytest
from PIL import ExifTags, Image, ImageCms, ImageOps, ImageStat

from chalicelib.errors import ImageRejectedError
from chalicelib.imaging import VARIANT_SPECS, PipelineResult, process_image, sniff_format

ALL = list(VARIANT_SPECS)

# file -> ("ok", upright (width, height), variants made) | ("error", code). Every file in ../shared/images is listed.
EXPECTED: dict[str, tuple] = {
    "animated.gif": ("error", "unsupported_format"),
    "animated.webp": ("ok", (370, 285), ["tiny"]),
    "bomb-280-megapixel.jpg": ("error", "decompression_bomb"),
    "bomb-65536x65536.png": ("error", "decompression_bomb"),
    "bomb-extents.gif": ("error", "decompression_bomb"),
    "cmyk-with-icc.jpg": ("ok", (500, 333), ["tiny", "small"]),
    "exif-gps.jpg": ("error", "too_small"),  # 8x8: below the tiny variant's 64 px
    "exif-orientation-6.jpg": ("ok", (600, 450), ["tiny", "small"]),
    "exif-orientation-8.jpg": ("ok", (600, 450), ["tiny", "small"]),
    "gradients-1000.png": ("ok", (1000, 1000), ["tiny", "small", "medium"]),
    "grey-alpha-16bit.png": ("ok", (109, 96), ["tiny"]),
    "icc-profile-big.jpg": ("ok", (425, 250), ["tiny"]),
    "lowres-128.jpg": ("ok", (128, 128), ["tiny"]),
    "not-allowed.svg": ("error", "unsupported_format"),
    "palette-transparency.png": ("ok", (64, 64), ["tiny"]),
    "photo-1024x772.webp": ("ok", (1024, 772), ["tiny", "small", "medium"]),
    "photo-2725x2225.jpg": ("ok", (2725, 2225), ALL),
    "portrait-450x600.jpg": ("ok", (450, 600), ["tiny", "small"]),
    "rgba-2048x1536.png": ("ok", (2048, 1536), ALL),
    "truncated.jpg": ("error", "corrupt_image"),
}
ACCEPTED = [name for name, outcome in EXPECTED.items() if outcome[0] == "ok"]
REFUSED = [name for name, outcome in EXPECTED.items() if outcome[0] == "error"]


@pytest.fixture(scope="module")
def processed(image_bytes: Callable[[str], bytes]) -> Callable[[str], PipelineResult]:
    """``processed(name)`` -> the (cached) ``PipelineResult`` of a real image with default settings."""
    return cache(lambda name: process_image(image_bytes(name)))


def test_table_lists_every_shared_image(images_dir: Path) -> None:
    on_disk = {path.name for path in images_dir.iterdir() if path.name != "README.md"}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", REFUSED)
def test_refused_images_raise_the_expected_code(name: str, image_bytes: Callable[[str], bytes]) -> None:
    with pytest.raises(ImageRejectedError) as caught:
        process_image(image_bytes(name))
    assert caught.value.code == EXPECTED[name][1]
    assert caught.value.to_body()["error"]["code"] == EXPECTED[name][1]


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_images_give_the_expected_variant_set(
    name: str, processed: Callable[[str], PipelineResult], checks: SimpleNamespace
) -> None:
    _, (width, height), made = EXPECTED[name]
    result = processed(name)
    assert (result.source_width, result.source_height) == (width, height)
    assert result.source_format == sniff_format((Path(__file__).parents[3] / "shared" / "images" / name).read_bytes())
    assert list(result.variants) == made
    assert result.missing_variants == [variant for variant in ALL if variant not in made]
    for variant, encoded in result.variants.items():
        side = VARIANT_SPECS[variant][0]
        assert (encoded.width, encoded.height, encoded.format) == (side, side, "webp")
        assert sniff_format(encoded.data) == "webp"
        assert checks.decode(encoded.data).size == (side, side)
    assert result.original.format == result.source_format
    assert (result.original.width, result.original.height) == (width, height)


@pytest.mark.parametrize("name", ACCEPTED)
def test_crop_box_is_the_centred_square(name: str, processed: Callable[[str], PipelineResult]) -> None:
    result = processed(name)
    width, height = result.source_width, result.source_height
    if width == height:
        assert (result.cropped, result.crop_box) == (False, None)
        return
    assert result.cropped
    assert result.crop_box is not None
    left, top, right, bottom = result.crop_box
    side = min(width, height)
    assert (right - left, bottom - top) == (side, side)
    assert abs(left - (width - right)) <= 1 and abs(top - (height - bottom)) <= 1


@pytest.mark.parametrize("name", ACCEPTED)
def test_metadata_is_json_with_every_field(name: str, processed: Callable[[str], PipelineResult]) -> None:
    result = processed(name)
    meta = json.loads(json.dumps(result.metadata()))
    assert set(meta) == {
        "source_format", "source_width", "source_height", "original", "variants", "missing_variants",
        "cropped", "crop_box", "dominant_color", "palette", "placeholder", "animated", "frame_count",
    }  # fmt: skip
    assert meta["original"] == {
        "width": result.original.width,
        "height": result.original.height,
        "bytes": len(result.original.data),
        "format": result.original.format,
    }
    assert list(meta["variants"]) == list(result.variants)
    assert meta["dominant_color"] == meta["palette"][0]


def test_orientation_6_and_8_come_out_upright(
    processed: Callable[[str], PipelineResult], images_dir: Path, checks: SimpleNamespace
) -> None:
    for name in ("exif-orientation-6.jpg", "exif-orientation-8.jpg"):
        result = processed(name)
        small = checks.decode(result.variants["small"].data)
        with Image.open(images_dir / name) as source:
            icc = source.info["icc_profile"]
            upright = ImageOps.exif_transpose(source)
            stored = source.convert("RGB")
        srgb = ImageCms.profileToProfile(
            upright, ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB"), outputMode="RGB"
        )
        reference = srgb.resize((300, 300), Image.Resampling.LANCZOS, box=result.crop_box)
        not_rotated = stored.resize((300, 300), Image.Resampling.LANCZOS, box=(0, 75, 450, 525))
        assert checks.rms(small, reference) < 8  # WebP q85 noise only
        assert checks.rms(small, not_rotated) > 50
    # Both files hold the same scene stored rotated in opposite directions (each its own lossy JPEG, hence ~10).
    six, eight = (
        checks.decode(processed(name).variants["small"].data)
        for name in ("exif-orientation-6.jpg", "exif-orientation-8.jpg")
    )
    assert checks.rms(six, eight) < 15
    assert checks.rms(six, eight.rotate(180)) > 60


def test_cmyk_is_converted_to_srgb_through_its_profile(
    processed: Callable[[str], PipelineResult], images_dir: Path, checks: SimpleNamespace
) -> None:
    result = processed("cmyk-with-icc.jpg")
    small = checks.decode(result.variants["small"].data)
    assert small.mode == "RGB"
    assert "icc_profile" not in small.info
    with Image.open(images_dir / "cmyk-with-icc.jpg") as source:
        assert source.mode == "CMYK"
        profile = ImageCms.ImageCmsProfile(io.BytesIO(source.info["icc_profile"]))
        managed = ImageCms.profileToProfile(source, profile, ImageCms.createProfile("sRGB"), outputMode="RGB")
        naive = source.convert("RGB")
    box = result.crop_box
    reference = managed.resize((300, 300), Image.Resampling.LANCZOS, box=box)
    naive_reference = naive.resize((300, 300), Image.Resampling.LANCZOS, box=box)
    assert checks.rms(small, reference) < 8
    assert checks.rms(small, naive_reference) > 2 * checks.rms(small, reference)
    mean, expected_mean = ImageStat.Stat(small).mean, ImageStat.Stat(reference).mean
    assert all(abs(a - b) < 2 for a, b in zip(mean, expected_mean, strict=True))


def test_alpha_is_kept_in_webp_variants_and_dropped_when_opaque(
    processed: Callable[[str], PipelineResult], checks: SimpleNamespace
) -> None:
    for name in ("rgba-2048x1536.png", "palette-transparency.png", "grey-alpha-16bit.png"):
        tiny = checks.decode(processed(name).variants["tiny"].data)
        assert tiny.mode == "RGBA", name
        assert tiny.getchannel("A").getextrema()[0] < 255, name
    assert checks.decode(processed("gradients-1000.png").variants["tiny"].data).mode == "RGB"


def test_palette_transparency_keeps_its_two_tone_look(
    processed: Callable[[str], PipelineResult], checks: SimpleNamespace
) -> None:
    tiny = checks.decode(processed("palette-transparency.png").variants["tiny"].data)
    colours = {pixel[:3] for pixel in tiny.get_flattened_data() if pixel[3] > 200}
    assert colours and all(max(colour) < 40 for colour in colours)  # opaque pixels are the black ones
    assert processed("palette-transparency.png").palette == ["#000000"]


def test_low_resolution_source_makes_only_tiny(processed: Callable[[str], PipelineResult]) -> None:
    result = processed("lowres-128.jpg")
    assert list(result.variants) == ["tiny"]
    assert result.missing_variants == ["small", "medium", "large"]


def test_square_source_of_exact_size_is_not_cropped_or_upsampled(processed: Callable[[str], PipelineResult]) -> None:
    result = processed("gradients-1000.png")
    assert list(result.variants) == ["tiny", "small", "medium"]
    assert result.missing_variants == ["large"]
    assert result.cropped is False


@pytest.mark.parametrize(
    "name",
    ["photo-2725x2225.jpg", "photo-1024x772.webp", "portrait-450x600.jpg", "cmyk-with-icc.jpg", "lowres-128.jpg"],
)
def test_palette_has_at_least_five_distinct_colours(name: str, processed: Callable[[str], PipelineResult]) -> None:
    palette = processed(name).palette
    assert 5 <= len(palette) <= 8
    assert len(set(palette)) == len(palette)
    assert all(len(colour) == 7 and colour[0] == "#" and int(colour[1:], 16) >= 0 for colour in palette)


def test_dominant_colour_is_the_most_common_colour(processed: Callable[[str], PipelineResult]) -> None:
    result = processed("photo-1024x772.webp")  # sky and sea: blue dominates
    red, blue = (int(result.dominant_color[i : i + 2], 16) for i in (1, 5))
    assert blue > red + 40


@pytest.mark.parametrize(
    "name", ["photo-2725x2225.jpg", "cmyk-with-icc.jpg", "rgba-2048x1536.png", "portrait-450x600.jpg"]
)
def test_placeholder_is_a_blurhash_of_the_image(
    name: str, processed: Callable[[str], PipelineResult], checks: SimpleNamespace
) -> None:
    result = processed(name)
    assert blurhash.is_valid_blurhash(result.placeholder)
    preview = blurhash.decode(result.placeholder, 32, 32)
    assert preview.size == (32, 32)
    if "tiny" in result.variants and name != "rgba-2048x1536.png":
        tiny = checks.decode(result.variants["tiny"].data).convert("RGB")
        preview_mean, tiny_mean = ImageStat.Stat(preview).mean, ImageStat.Stat(tiny).mean
        assert all(abs(a - b) < 20 for a, b in zip(preview_mean, tiny_mean, strict=True))


def test_below_the_default_minimum_an_image_makes_no_variant_but_colours_and_a_placeholder(
    image_bytes: Callable[[str], bytes],
) -> None:
    # Given the 8x8 exif-gps.jpg and a minimum short side lowered below it
    result = process_image(image_bytes("exif-gps.jpg"), min_source_px=8)
    # Then no variant is made, and colours and the placeholder come from the unscaled square crop
    assert result.variants == {} and result.missing_variants == ALL
    assert blurhash.is_valid_blurhash(result.placeholder) and result.palette


def test_animated_webp_uses_the_first_frame_and_keeps_all_frames_in_the_original(
    processed: Callable[[str], PipelineResult], images_dir: Path, checks: SimpleNamespace
) -> None:
    result = processed("animated.webp")
    assert (result.animated, result.frame_count) == (True, 10)
    tiny = checks.decode(result.variants["tiny"].data)
    with Image.open(images_dir / "animated.webp") as source:
        frames = []
        for index in (0, 5):
            source.seek(index)
            frame = source.convert("RGBA").resize((64, 64), Image.Resampling.LANCZOS, box=result.crop_box)
            flat = Image.new("RGB", frame.size, "white")
            flat.paste(frame, mask=frame.getchannel("A"))
            frames.append(flat)
    tiny_flat = Image.new("RGB", tiny.size, "white")
    tiny_flat.paste(tiny, mask=tiny.getchannel("A") if tiny.mode == "RGBA" else None)
    assert checks.rms(tiny_flat, frames[0]) < checks.rms(tiny_flat, frames[1])
    with Image.open(io.BytesIO(result.original.data)) as original:
        assert original.n_frames == 10
    assert processed("photo-2725x2225.jpg").animated is False
    assert processed("photo-2725x2225.jpg").frame_count == 1


def test_untouched_original_is_the_upload_when_there_is_nothing_to_remove(
    processed: Callable[[str], PipelineResult], image_bytes: Callable[[str], bytes]
) -> None:
    assert processed("photo-2725x2225.jpg").original.data == image_bytes("photo-2725x2225.jpg")
    assert processed("gradients-1000.png").original.data == image_bytes("gradients-1000.png")


def test_untouched_original_keeps_pixels_and_orientation_tag(
    processed: Callable[[str], PipelineResult], image_bytes: Callable[[str], bytes], checks: SimpleNamespace
) -> None:
    original = processed("exif-orientation-6.jpg").original
    stored = checks.decode(original.data)
    assert stored.size == (450, 600)  # pixels still stored as shot ...
    assert stored.getexif()[ExifTags.Base.Orientation] == 6  # ... so the tag that shows them upright stays
    assert checks.rms(stored, checks.decode(image_bytes("exif-orientation-6.jpg"))) == 0
    assert stored.info["icc_profile"]


@pytest.mark.parametrize(
    ("name", "limit", "size", "mode"),
    [
        ("photo-2725x2225.jpg", 1000, (1000, 817), "RGB"),
        ("exif-orientation-6.jpg", 500, (500, 375), "RGB"),
        ("exif-orientation-6.jpg", 280, (280, 210), "RGB"),
        ("cmyk-with-icc.jpg", 400, (400, 266), "CMYK"),
        ("rgba-2048x1536.png", 1000, (1000, 750), "RGBA"),
        ("photo-1024x772.webp", 512, (512, 386), "RGB"),
    ],
)
def test_original_above_the_limit_is_downscaled_upright_in_the_same_format(
    name: str,
    limit: int,
    size: tuple[int, int],
    mode: str,
    image_bytes: Callable[[str], bytes],
    processed: Callable[[str], PipelineResult],
    checks: SimpleNamespace,
) -> None:
    result = process_image(image_bytes(name), original_max_px=limit)
    original = checks.decode(result.original.data)
    assert sniff_format(result.original.data) == result.source_format
    assert (result.original.width, result.original.height) == size == original.size
    assert original.mode == mode
    assert original.getexif().get(ExifTags.Base.Orientation, 1) == 1
    assert (result.source_width, result.source_height) == (processed(name).source_width, processed(name).source_height)
    # Variants never come from a downscale smaller than themselves, and match the default run's.
    assert list(result.variants) == list(processed(name).variants)
    default_small = checks.decode(processed(name).variants["small"].data)
    assert checks.rms(checks.decode(result.variants["small"].data), default_small) < 6
