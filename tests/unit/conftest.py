"""Unit-test fixtures: the real test images in ../shared/images (see its README) and image-checking helpers."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import ExifTags, Image, ImageChops, ImageStat

IMAGES_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "images"

# Byte patterns of an XMP packet in any container (JPEG APP1 namespace, the packet itself, PNG iTXt keyword).
XMP_MARKERS = (b"http://ns.adobe.com/xap/1.0/", b"x:xmpmeta", b"XML:com.adobe.xmp")


@pytest.fixture(scope="session")
def images_dir() -> Path:
    """``../shared/images`` beside the checkout; tests using it are skipped with a clear message when it is absent."""
    if not IMAGES_DIR.is_dir():
        pytest.skip(f"real test images not found at {IMAGES_DIR} (expected ../shared/images beside the checkout)")
    return IMAGES_DIR


@pytest.fixture(scope="session")
def image_bytes(images_dir: Path) -> Callable[[str], bytes]:
    """``image_bytes("photo-2725x2225.jpg")`` -> the file's bytes."""
    return lambda name: (images_dir / name).read_bytes()


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _rms(first: Image.Image, second: Image.Image) -> float:
    """Root-mean-square difference over RGB, 0..255."""
    stat = ImageStat.Stat(ImageChops.difference(first.convert("RGB"), second.convert("RGB")))
    return math.sqrt(sum(value**2 for value in stat.rms) / 3)


def _psnr(first: Image.Image, second: Image.Image) -> float:
    mse = _rms(first, second) ** 2
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def _has_location(data: bytes) -> bool:
    """True when an encoded image carries a GPS IFD pointer, a non-empty GPS IFD, or any XMP packet."""
    exif = Image.open(io.BytesIO(data)).getexif()
    if ExifTags.IFD.GPSInfo in exif or exif.get_ifd(ExifTags.IFD.GPSInfo):
        return True
    return any(marker in data for marker in XMP_MARKERS)


@pytest.fixture(scope="session")
def checks() -> SimpleNamespace:
    """Helpers: ``decode(bytes)``, ``rms(a, b)``, ``psnr(a, b)``, ``has_location(bytes)``."""
    return SimpleNamespace(decode=_decode, rms=_rms, psnr=_psnr, has_location=_has_location)
