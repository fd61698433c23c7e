"""Download filenames and Content-Disposition (RFC 6266 / RFC 8187)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from chalicelib.services.filenames import ascii_fallback, clean_filename, content_disposition, download_filename


def test_the_filename_pattern():
    assert (
        download_filename(artist="Björk", title="Homogenic", size="large", extension="png")
        == "Björk - Homogenic (large).png"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('AC/DC - "Back" in Black', "AC DC - Back in Black"),
        ("..\\..\\etc\\passwd", "etc passwd"),
        ("line\r\nbreak\tand\x00nul", "line break and nul"),
        ("   ", "download"),
        ("a:b*c?d<e>f|g;h", "a b c d e f g h"),
    ],
)
def test_unsafe_characters_are_removed(raw, expected):
    assert clean_filename(raw) == expected


def test_long_names_keep_their_extension():
    name = clean_filename("x" * 400 + ".webp")
    assert len(name) == 180 and name.endswith(".webp")


def test_disposition_has_an_ascii_filename_and_a_utf8_filename_star():
    header = content_disposition("Sigur Rós - Ágætis byrjun (large).png")
    plain = header.split('filename="', 1)[1].split('"', 1)[0]
    assert plain == "Sigur Ros - Ag_tis byrjun (large).png"  # accents dropped, æ has no ASCII decomposition
    star = header.split("filename*=UTF-8''", 1)[1]
    assert unquote(star) == "Sigur Rós - Ágætis byrjun (large).png"
    assert " " not in star and "'" not in star


def test_non_latin_names_fall_back_to_underscores():
    assert ascii_fallback("坂本龍一") == "____"
    assert content_disposition("坂本龍一.png").startswith(
        "attachment; filename=\"____.png\"; filename*=UTF-8''%E5%9D%82"
    )


@pytest.mark.parametrize(
    "hidden",
    [
        "\u202e",
        "\u202a",
        "\u202b",
        "\u202c",
        "\u202d",
        "\u2066",
        "\u2067",
        "\u2068",
        "\u2069",
        "\u200e",
        "\u200f",
        "\u061c",
        "\x85",
        "\x9b",
        "\x7f",
        "\x1b",
    ],
)
def test_no_control_or_bidi_character_reaches_filename_star(hidden):
    # Given a stored title from before text fields refused them, with a bidi override or a control character
    title = f"cover{hidden}gpj.exe"
    # When it becomes a download's Content-Disposition
    header = content_disposition(download_filename(artist="A", title=title, size="large", extension="png"))
    # Then neither filename nor filename* carries it, encoded or not
    star = unquote(header.split("filename*=UTF-8''", 1)[1])
    assert hidden not in header and hidden not in star
    assert star.startswith("A - cover") and star.endswith("(large).png")
