"""The fake Replicate's text-to-image: the input check of ``POST /v1/models/{owner}/{name}/predictions`` for
``black-forest-labs/flux-schnell`` (its documented input schema) and the output it makes, a real image of the asked
aspect ratio and format (a gradient between two colours taken from the prompt's hash: no model runs here)."""

from __future__ import annotations

import hashlib
import io
from typing import Any

from PIL import Image

#: The official text-to-image models the fake runs by name.
GENERATE_MODELS = frozenset({"black-forest-labs/flux-schnell"})
#: flux-schnell's aspect ratios and output formats (its API schema).
ASPECT_RATIOS = frozenset({"1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"})
OUTPUT_FORMATS = {"webp": ("WEBP", "image/webp"), "jpg": ("JPEG", "image/jpeg"), "png": ("PNG", "image/png")}
#: The long side of the fake's outputs (px). flux-schnell makes about one megapixel (1024x1024 at 1:1); the fake
#: makes smaller images so tests stay quick, still above ingest's minimum size.
LONG_SIDE_PX = 768


def invalid_input(body: dict[str, Any]) -> str | None:
    """Why a create body is refused (422 ``Input validation failed`` with this detail), or None."""
    if "version" in body:
        return "- version: an official model is run without a version"
    data = body.get("input")
    if not isinstance(data, dict) or not isinstance(data.get("prompt"), str) or not data["prompt"]:
        return "- input: prompt is required"
    if data.get("aspect_ratio", "1:1") not in ASPECT_RATIOS:
        return "- input.aspect_ratio: must be one of " + ", ".join(sorted(ASPECT_RATIOS))
    for name, low, high in (("num_outputs", 1, 4), ("num_inference_steps", 1, 4), ("output_quality", 0, 100)):
        value = data.get(name, low)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            return f"- input.{name}: must be an integer from {low} to {high}"
    if data.get("output_format", "webp") not in OUTPUT_FORMATS:
        return "- input.output_format: must be one of webp, jpg, png"
    seed = data.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        return "- input.seed: must be an integer"
    return None


def generated_image(data: dict[str, Any]) -> tuple[bytes, str, str]:
    """The image a (valid) ``input`` makes: ``(bytes, content_type, extension)``, at its ``aspect_ratio`` and in its
    ``output_format``; the same prompt and seed give the same colours."""
    w, _, h = str(data.get("aspect_ratio", "1:1")).partition(":")
    ratio = int(w) / int(h)
    size = (LONG_SIDE_PX, round(LONG_SIDE_PX / ratio)) if ratio >= 1 else (round(LONG_SIDE_PX * ratio), LONG_SIDE_PX)
    digest = hashlib.sha256(f"{data['prompt']}#{data.get('seed')}".encode()).digest()
    ramp = Image.linear_gradient("L").resize(size)
    image = Image.composite(Image.new("RGB", size, tuple(digest[3:6])), Image.new("RGB", size, tuple(digest[:3])), ramp)
    fmt = str(data.get("output_format", "webp"))
    pillow_format, content_type = OUTPUT_FORMATS[fmt]
    out = io.BytesIO()
    image.save(out, format=pillow_format, quality=int(data.get("output_quality", 80)))
    return out.getvalue(), content_type, fmt
