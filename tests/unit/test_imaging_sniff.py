"""sniff_format reads magic bytes only."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chalicelib.imaging import sniff_format


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "webp"),
        (b"GIF89a\x01\x00", "gif"),
        (b"GIF87a\x01\x00", "gif"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),  # RIFF but audio
        (b"<svg xmlns='http://www.w3.org/2000/svg'>", None),
        (b"\x00\x00\x00\x18ftypheic", None),
        (b"\xff\xd8", None),  # too short to be sure
        (b"", None),
    ],
)
def test_sniff_format_from_magic_bytes(data: bytes, expected: str | None) -> None:
    assert sniff_format(data) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("photo-2725x2225.jpg", "jpeg"),
        ("photo-1024x772.webp", "webp"),
        ("gradients-1000.png", "png"),
        ("animated.gif", "gif"),
        ("bomb-extents.gif", "gif"),
        ("not-allowed.svg", None),
        ("README.md", None),
    ],
)
def test_sniff_format_on_real_files(name: str, expected: str | None, image_bytes: Callable[[str], bytes]) -> None:
    assert sniff_format(image_bytes(name)) == expected
