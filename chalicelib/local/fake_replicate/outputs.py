"""What the fake Replicate produces: the output PNG (the input resized ×scale with Pillow's LANCZOS, so an e2e result
is a real, larger image), the faulty outputs, prediction ids, and signed webhook deliveries."""

from __future__ import annotations

import base64
import io
import json
import secrets
from datetime import UTC, datetime
from typing import Any

import httpx
from PIL import Image

from chalicelib.providers.webhooks import sign_webhook

#: The largest output the fake makes (px): real-esrgan on Replicate fails on inputs too large for its GPU too.
MAX_OUTPUT_PIXELS = 6000 * 6000
#: How far a ``stale_timestamp`` fault moves ``webhook-timestamp`` into the past (s): twice the 5-minute tolerance.
STALE_BY_S = 600
#: A signing key the fake uses for ``bad_signature`` deliveries (never the configured one).
WRONG_SECRET = "whsec_" + base64.b64encode(b"not-the-configured-signing-key!!").decode()
NOT_AN_IMAGE = b"<html><body>upstream error: this is not an image</body></html>\n"


def iso(seconds: float | None) -> str | None:
    """Epoch seconds as Replicate writes times (``2022-04-26T22:13:06.224088Z``); None stays None."""
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """An error answer in Replicate's shape: ``{"title", "detail", "status"}`` (problem+json)."""
    body = {"title": title, "detail": detail, "status": status}
    return httpx.Response(status, json=body, headers={"Content-Type": "application/problem+json", **(headers or {})})


class OutputError(Exception):
    """The input could not be upscaled; the prediction fails with this message (Replicate's ``error``)."""


def prediction_id() -> str:
    """A new id in Replicate's format: 26 lower-case base32 characters (``gm3qorzdhgbfurvjtvhg6dckhu``)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()[:26]


def webhook_id() -> str:
    """A Standard Webhooks message id (``msg_…``)."""
    return "msg_" + secrets.token_urlsafe(18)


def upscale_png(data: bytes, scale: int) -> bytes:
    """``data`` (any image Pillow reads) resized ×``scale`` with LANCZOS, as PNG (RGB, or RGBA when it has alpha).
    Raises ``OutputError`` for bytes that are not an image or an output over ``MAX_OUTPUT_PIXELS``."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            width, height = image.size
            if width * height * scale * scale > MAX_OUTPUT_PIXELS:
                raise OutputError(f"input {width}x{height} is too large to upscale x{scale}")
            mode = "RGBA" if "A" in image.getbands() else "RGB"
            resized = image.convert(mode).resize((width * scale, height * scale), Image.Resampling.LANCZOS)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise OutputError(f"cannot identify image file ({type(exc).__name__})") from None
    out = io.BytesIO()
    resized.save(out, format="PNG")
    return out.getvalue()


def padded(data: bytes, size: int) -> bytes:
    """``data`` padded with zero bytes to ``size`` bytes (an ``output_too_large`` body that starts as a PNG)."""
    return data + b"\0" * max(size - len(data), 0)


def fetch_url(url: str) -> bytes:
    """The default input fetch of the loopback server: one GET (in e2e a presigned moto URL), 10 s."""
    try:
        response = httpx.get(url, timeout=10.0, follow_redirects=False)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise OutputError(f"could not download the input image ({type(exc).__name__})") from None
    return response.content


def signed_delivery(
    url: str, prediction: dict[str, Any], *, secret: str, message_id: str, timestamp: int, bad_signature: bool
) -> httpx.Request:
    """The webhook POST Replicate sends: the prediction as the JSON body and the Standard Webhooks headers, signed
    with ``secret`` (with ``bad_signature``, with another key)."""
    body = json.dumps(prediction).encode()
    signature = sign_webhook(WRONG_SECRET if bad_signature else secret, message_id, timestamp, body)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Replicate-Webhooks/fake",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }
    return httpx.Request("POST", url, headers=headers, content=body)
