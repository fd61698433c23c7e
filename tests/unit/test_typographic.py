"""The typographic cover (chalicelib/providers/typographic.py): a valid PNG of the asked aspect ratio, the same bytes
for the same prompt and seed, a palette taken from the prompt (its colour words first, the rest from the seed), the
prompt's words drawn in a colour that contrasts with what is behind them, and honest metadata."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from chalicelib.imaging.sniff import sniff_format
from chalicelib.providers.generation import ASPECT_RATIOS, TYPOGRAPHIC_GENERATOR, GenerateRequest
from chalicelib.providers.typographic import (
    LONG_SIDE_PX,
    MAX_LINES,
    TypographicGenerator,
    canvas_size,
    contrast_ratio,
    draw_cover,
    lines_of,
    palette,
    text_colour,
)

PROMPT = "A lighthouse in a storm, album cover, bold type"


@pytest.mark.parametrize("ratio", ASPECT_RATIOS)
def test_the_cover_is_a_png_of_the_asked_aspect_ratio(ratio: str) -> None:
    # Given a prompt and each aspect ratio a request may ask for
    # When the cover is drawn
    cover = draw_cover(PROMPT, aspect_ratio=ratio, seed=7)

    # Then it is a PNG that Pillow reads at the size it claims, long side 1024 px, at that ratio within a pixel
    assert sniff_format(cover.data) == "png"
    with Image.open(io.BytesIO(cover.data)) as image:
        image.load()
        assert image.size == (cover.width, cover.height)
    w, h = (int(part) for part in ratio.split(":"))
    assert max(cover.width, cover.height) == LONG_SIDE_PX
    assert abs(cover.width * h - cover.height * w) <= max(w, h)


def test_the_same_prompt_and_seed_make_the_same_bytes_and_another_seed_another_palette() -> None:
    # Given one prompt without colour words
    # When it is drawn twice with seed 7 and once with seed 8
    first, again, other = (draw_cover(PROMPT, seed=s) for s in (7, 7, 8))

    # Then the two seed-7 covers are byte for byte the same, and seed 8 draws with other colours
    assert first.data == again.data
    assert other.palette != first.palette and other.data != first.data


def test_without_a_seed_the_prompt_itself_seeds_the_palette() -> None:
    # Given no seed
    # When the same prompt is drawn twice and another prompt once
    # Then the same prompt makes the same cover and another prompt other colours
    assert draw_cover(PROMPT).data == draw_cover(PROMPT).data
    assert palette(PROMPT, None) != palette("Neon rain over a night market", None)


def test_colour_words_of_the_prompt_lead_the_palette() -> None:
    # Given a prompt naming crimson and gold
    # When its palette is derived
    colours = palette("Crimson tide under a gold moon", 1)

    # Then those colours come first, in the prompt's order (CSS colour values), whatever the seed
    assert colours[:2] == [(220, 20, 60), (255, 215, 0)]
    assert palette("Crimson tide under a gold moon", 2)[:2] == colours[:2]

    # And the cover's top-left corner is the gradient's start colour (crimson)
    cover = draw_cover("Crimson tide under a gold moon", seed=1)
    with Image.open(io.BytesIO(cover.data)) as image:
        r, g, b = image.convert("RGB").getpixel((0, 0))  # type: ignore[misc]
    assert max(abs(r - 220), abs(g - 20), abs(b - 60)) <= 12


def test_the_prompts_words_are_what_is_drawn() -> None:
    # Given a prompt with punctuation
    # When its lines are laid out
    lines = lines_of(PROMPT)

    # Then every word is drawn, upper-cased, in order, punctuation dropped
    assert " ".join(lines).split() == ["A", "LIGHTHOUSE", "IN", "A", "STORM", "ALBUM", "COVER", "BOLD", "TYPE"]

    # And a very long prompt is cut to MAX_LINES lines ending with an ellipsis
    long_lines = lines_of("word " * 200)
    assert len(long_lines) == MAX_LINES and long_lines[-1].endswith("…")


def test_the_words_are_drawn_in_ink_that_contrasts_with_the_band() -> None:
    # Given a cover
    cover = draw_cover(PROMPT, seed=3)
    ink = text_colour(cover.palette[2])

    # When its middle row is read (the band behind the words)
    with Image.open(io.BytesIO(cover.data)) as image:
        rgb = image.convert("RGB")
        row = [rgb.getpixel((x, cover.height // 2)) for x in range(cover.width)]

    # Then pixels of the ink colour are there (the words), and the ink contrasts at least 3:1 (WCAG large text)
    assert sum(1 for pixel in row if pixel == ink) > 20
    assert contrast_ratio(ink, cover.palette[2]) >= 3.0


def test_canvas_size_refuses_what_is_not_a_ratio() -> None:
    # Given ratios that are not W:H
    # When their size is asked
    # Then ValueError
    for bad in ("", "1", "1:0", "a:b", "-1:2"):
        with pytest.raises(ValueError):
            canvas_size(bad)


def test_the_generator_says_honestly_what_it_is() -> None:
    # Given the typographic generator
    generator = TypographicGenerator()

    # When it generates
    image = generator.start(GenerateRequest(job_id="j", prompt=PROMPT, aspect_ratio="16:9", seed=1))

    # Then it is a program, not a model, and says so; the image is the 16:9 PNG
    assert generator.unavailable_reason() is None
    assert (generator.name, generator.model) == ("typographic", TYPOGRAPHIC_GENERATOR)
    assert (image.generated_by, image.generation_strategy) == ("sleeve-typographic", "typographic")
    assert (image.width, image.height, image.content_type) == (1024, 576, "image/png")
    assert image.processing_time_ms >= 0
