"""Location metadata (EXIF GPS IFD, XMP, IPTC) never reaches any output; the rest of EXIF and the pixels survive."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from PIL import ExifTags, Image, PngImagePlugin

from chalicelib.imaging import CONVERT_FORMATS, convert_image, process_image
from chalicelib.imaging.metadata import clean_exif, strip_location

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="51,30.0N"/>'
    b"</rdf:RDF></x:xmpmeta>"
)


@pytest.fixture(scope="module")
def gps_exif(image_bytes: Callable[[str], bytes]) -> Image.Exif:
    """The EXIF of exif-gps.jpg (a real GPS IFD), with orientation 6 added."""
    with Image.open(io.BytesIO(image_bytes("exif-gps.jpg"))) as source:
        exif = source.getexif()
    assert exif.get_ifd(ExifTags.IFD.GPSInfo)  # the fixture really has GPS
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Artist] = "Sleeve test"
    return exif


@pytest.fixture(scope="module")
def photo(image_bytes: Callable[[str], bytes]) -> Image.Image:
    with Image.open(io.BytesIO(image_bytes("photo-2725x2225.jpg"))) as source:
        return source.resize((400, 320), Image.Resampling.LANCZOS)


def all_outputs(data: bytes) -> dict[str, bytes]:
    result = process_image(data, min_source_px=1)  # exif-gps.jpg is 8x8: below the upload minimum, kept for its GPS
    outputs = {"original": result.original.data}
    outputs.update({name: image.data for name, image in result.variants.items()})
    for fmt in CONVERT_FORMATS:
        outputs[f"converted-{fmt}"] = convert_image(result.original, fmt).data
    return outputs


def test_exif_gps_jpg_has_no_location_in_any_output(
    image_bytes: Callable[[str], bytes], checks: SimpleNamespace
) -> None:
    data = image_bytes("exif-gps.jpg")
    assert checks.has_location(data)
    outputs = all_outputs(data)
    assert set(outputs) >= {"original", "converted-png", "converted-jpeg", "converted-webp"}
    for name, output in outputs.items():
        assert not checks.has_location(output), name
    kept = Image.open(io.BytesIO(outputs["original"])).getexif()
    assert kept[ExifTags.Base.Make] == "Make"  # the rest of EXIF is kept
    assert checks.rms(checks.decode(outputs["original"]), checks.decode(data)) == 0  # pixels untouched


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_gps_and_xmp_are_removed_from_every_format_and_orientation_kept(
    fmt: str, photo: Image.Image, gps_exif: Image.Exif, checks: SimpleNamespace
) -> None:
    buffer = io.BytesIO()
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", XMP.decode())
        photo.save(buffer, fmt, exif=gps_exif, pnginfo=info)
    else:
        photo.save(buffer, fmt, exif=gps_exif, xmp=XMP)
    data = buffer.getvalue()
    assert checks.has_location(data)

    outputs = all_outputs(data)
    assert {"tiny", "small"} <= set(outputs)
    for name, output in outputs.items():
        assert not checks.has_location(output), (fmt, name)
        if name != "original":
            assert not Image.open(io.BytesIO(output)).getexif(), (fmt, name)  # no EXIF at all
    original = checks.decode(outputs["original"])
    exif = original.getexif()
    assert exif[ExifTags.Base.Orientation] == 6  # pixels are still stored rotated
    assert exif[ExifTags.Base.Artist] == "Sleeve test"
    assert checks.rms(original, checks.decode(data)) == 0
    assert checks.decode(outputs["converted-png"]).size == (320, 400)  # downloads are upright


def test_jpeg_trailer_images_and_iptc_are_dropped(photo: Image.Image, gps_exif: Image.Exif) -> None:
    first, second = io.BytesIO(), io.BytesIO()
    photo.save(first, "JPEG")
    photo.resize((40, 32)).save(second, "JPEG", exif=gps_exif)  # an MPO-style second image carrying GPS
    iptc = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0a\x1c\x02\x5a\x00\x05Paris"
    segment = b"\xff\xed" + struct.pack(">H", len(iptc) + 2) + iptc
    data = first.getvalue()[:2] + segment + first.getvalue()[2:] + second.getvalue()
    stripped = strip_location(data, "jpeg", None)
    assert b"Paris" not in stripped and b"8BIM" not in stripped
    assert stripped.endswith(b"\xff\xd9") and len(stripped) == len(first.getvalue())
    assert stripped == first.getvalue()


def test_clean_exif_drops_gps_and_optionally_orientation(gps_exif: Image.Exif) -> None:
    for keep in (True, False):
        data = clean_exif(gps_exif, keep_orientation=keep)
        assert data is not None and data.startswith(b"Exif\x00\x00")
        parsed = Image.Exif()
        parsed.load(data)
        assert ExifTags.IFD.GPSInfo not in parsed
        assert (ExifTags.Base.Orientation in parsed) is keep
    only_gps = Image.Exif()
    only_gps[ExifTags.IFD.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N"}
    assert clean_exif(only_gps, keep_orientation=True) is None


def test_webp_flags_match_the_chunks_after_rewriting(photo: Image.Image, gps_exif: Image.Exif) -> None:
    buffer = io.BytesIO()
    photo.save(buffer, "WEBP", exif=gps_exif, xmp=XMP)
    stripped = strip_location(buffer.getvalue(), "webp", clean_exif(gps_exif, keep_orientation=True))
    flags = stripped[20]
    assert stripped[12:16] == b"VP8X"
    assert flags & 0x08 and not flags & 0x04  # EXIF announced, XMP not
    assert b"XMP " not in stripped and b"EXIF" in stripped
    assert struct.unpack("<I", stripped[4:8])[0] == len(stripped) - 8
