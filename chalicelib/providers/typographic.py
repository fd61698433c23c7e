"""The local typographic cover: the prompt's words set over a gradient from a palette derived from the prompt, drawn
with Pillow in the call. It is a program, not a model, and says so: ``generated_by`` ``sleeve-typographic``,
``generation_strategy`` ``typographic``. It needs no credentials, so the embedded stack generates without Replicate.

The palette: every word of the prompt that is a CSS colour name (Pillow's ``ImageColor`` table: ``crimson``,
``gold``, ``navy``…) gives a colour, in the order written; the rest of the palette comes from a random generator seeded
with ``seed`` (or, without one, with the SHA-256 of the prompt), so the same prompt and seed make the same bytes.
The text colour is black or white, whichever has the higher WCAG 2.x contrast ratio against the gradient's mean
(https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio).
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import random
import re
import textwrap
import time
from dataclasses import dataclass

from chalicelib.providers.generation import TYPOGRAPHIC_GENERATOR, GeneratedImage, GenerateRequest

#: The long side of a typographic cover (px); the short side follows the aspect ratio.
LONG_SIDE_PX = 1024
#: Characters per line when the words are wrapped, and the most lines drawn (a long prompt is cut with an ellipsis).
WRAP_CHARS = 18
MAX_LINES = 8
STRATEGY = "typographic"
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)

type Rgb = tuple[int, int, int]


def canvas_size(aspect_ratio: str) -> tuple[int, int]:
    """``(width, height)`` px of a cover of ``aspect_ratio`` (``"16:9"``): the long side ``LONG_SIDE_PX``. Raises
    ValueError for a ratio that is not ``W:H`` with positive integers."""
    left, sep, right = aspect_ratio.partition(":")
    if not sep or not left.isdigit() or not right.isdigit() or int(left) < 1 or int(right) < 1:
        raise ValueError(f"aspect ratio {aspect_ratio!r} is not W:H")
    w, h = int(left), int(right)
    if w >= h:
        return LONG_SIDE_PX, round(LONG_SIDE_PX * h / w)
    return round(LONG_SIDE_PX * w / h), LONG_SIDE_PX


def words_of(prompt: str) -> list[str]:
    """The prompt's words in order (letters and digits, with inner apostrophes and hyphens), punctuation dropped."""
    return _WORD.findall(prompt)


def seed_of(prompt: str, seed: int | None) -> int:
    """The seed drawn with: ``seed`` when given, else the first 8 bytes of the SHA-256 of the prompt (UTF-8)."""
    if seed is not None:
        return seed
    return int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:8], "big")


def palette(prompt: str, seed: int | None, size: int = 3) -> list[Rgb]:
    """``size`` colours: the CSS colour names among the prompt's words first (at most ``size``, each once), then
    colours of evenly spread hues from a generator seeded by ``seed_of``. Deterministic."""
    from PIL import ImageColor

    colours: list[Rgb] = []
    for word in words_of(prompt.casefold()):
        try:
            rgb = ImageColor.getrgb(word)
        except ValueError:
            continue
        colour = (rgb[0], rgb[1], rgb[2])
        if colour not in colours:
            colours.append(colour)
        if len(colours) == size:
            return colours
    rng = random.Random(seed_of(prompt, seed))
    hue = rng.random()
    while len(colours) < size:
        lightness = rng.uniform(0.25, 0.6)
        saturation = rng.uniform(0.45, 0.85)
        r, g, b = colorsys.hls_to_rgb(hue % 1.0, lightness, saturation)
        colours.append((round(r * 255), round(g * 255), round(b * 255)))
        hue += rng.uniform(0.12, 0.3)
    return colours


def relative_luminance(colour: Rgb) -> float:
    """WCAG 2.x relative luminance of an sRGB colour (0 black .. 1 white)."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: Rgb, b: Rgb) -> float:
    """WCAG 2.x contrast ratio of two colours (1 .. 21)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_colour(background: Rgb) -> Rgb:
    """Black or white, whichever contrasts more with ``background``."""
    black, white = (0, 0, 0), (255, 255, 255)
    return white if contrast_ratio(white, background) >= contrast_ratio(black, background) else black


def lines_of(prompt: str) -> list[str]:
    """The words as drawn: upper-cased, wrapped at ``WRAP_CHARS``, at most ``MAX_LINES`` lines (the last one ends
    with ``…`` when words were left out). An empty list for a prompt without words."""
    text = " ".join(words_of(prompt)).upper()
    lines = textwrap.wrap(text, width=WRAP_CHARS, break_long_words=True)
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES]
        lines[-1] = lines[-1][: WRAP_CHARS - 1].rstrip() + "…"
    return lines


@dataclass(frozen=True)
class Cover:
    """A drawn cover: PNG ``data``, ``width``/``height`` px, the ``palette`` used and the ``lines`` drawn."""

    data: bytes
    width: int
    height: int
    palette: list[Rgb]
    lines: list[str]


def draw_cover(prompt: str, *, aspect_ratio: str = "1:1", seed: int | None = None) -> Cover:
    """Draw the typographic cover of ``prompt`` (see the module docstring): a diagonal gradient between the first two
    palette colours, a band of the third behind the words, the words centred in Pillow's bundled scalable font.
    Deterministic for (prompt, aspect_ratio, seed). Raises ValueError for a bad ``aspect_ratio``."""
    from PIL import Image, ImageChops, ImageDraw, ImageFont

    width, height = canvas_size(aspect_ratio)
    colours = palette(prompt, seed)
    start, end, accent = colours[0], colours[1], colours[2]
    # A diagonal ramp, 0 at the top left to 255 at the bottom right: the mean of a vertical and a horizontal one.
    vertical = Image.linear_gradient("L").resize((width, height), Image.Resampling.BILINEAR)
    horizontal = Image.linear_gradient("L").transpose(Image.Transpose.TRANSPOSE)
    ramp = ImageChops.add(vertical, horizontal.resize((width, height), Image.Resampling.BILINEAR), scale=2.0)
    image = Image.composite(Image.new("RGB", (width, height), end), Image.new("RGB", (width, height), start), ramp)
    lines = lines_of(prompt)
    draw = ImageDraw.Draw(image)
    if lines:
        font_px = max(16, min(width // (WRAP_CHARS // 2 + 2), height // (len(lines) * 2 + 2)))
        font = ImageFont.load_default(size=font_px)
        spacing = font_px // 4
        block = "\n".join(lines)
        left, top, right, bottom = draw.multiline_textbbox((0, 0), block, font=font, spacing=spacing, align="center")
        x = (width - (right - left)) / 2 - left
        y = (height - (bottom - top)) / 2 - top
        pad = font_px // 2
        band = (0, round(y + top - pad), width, round(y + bottom + pad))
        draw.rectangle(band, fill=accent)
        mean = tuple(round(v) for v in image.crop(band).resize((1, 1), Image.Resampling.BOX).getpixel((0, 0)))  # type: ignore[union-attr]
        ink = text_colour((mean[0], mean[1], mean[2]))
        draw.multiline_text((x, y), block, font=font, fill=ink, spacing=spacing, align="center")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return Cover(data=out.getvalue(), width=width, height=height, palette=colours, lines=lines)


class TypographicGenerator:
    """Implements ``ImageGenerator``: ``start`` draws the cover in the call (``draw_cover``) and returns a
    ``GeneratedImage`` (PNG) with ``generated_by`` ``sleeve-typographic``. Always available (Pillow is a runtime
    dependency); ``negative_prompt`` and ``num_inference_steps`` mean nothing to it and are ignored."""

    name = "typographic"
    model = TYPOGRAPHIC_GENERATOR

    def unavailable_reason(self) -> str | None:
        """Always None."""
        return None

    def start(self, request: GenerateRequest) -> GeneratedImage:
        """The cover of ``request.prompt`` at ``request.aspect_ratio`` with ``request.seed``; ``processing_time_ms``
        measured around the drawing. Raises ValueError for an aspect ratio that is not ``W:H`` (the request model
        allows only ``ASPECT_RATIOS``)."""
        started = time.perf_counter()
        cover = draw_cover(request.prompt, aspect_ratio=request.aspect_ratio, seed=request.seed)
        elapsed_ms = round((time.perf_counter() - started) * 1000)
        return GeneratedImage(
            data=cover.data,
            content_type="image/png",
            width=cover.width,
            height=cover.height,
            generated_by=TYPOGRAPHIC_GENERATOR,
            generation_strategy=STRATEGY,
            processing_time_ms=elapsed_ms,
        )

    def close(self) -> None:
        """Nothing to release."""
