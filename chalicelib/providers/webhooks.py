"""Standard Webhooks verification, as Replicate signs its webhooks (https://replicate.com/docs/topics/webhooks/
verify-webhook; the scheme is https://www.standardwebhooks.com, "Verifying webhook authenticity").

Each delivery carries ``webhook-id`` (unique per message, the same when Replicate retries it), ``webhook-timestamp``
(seconds since the epoch) and ``webhook-signature`` (space-separated ``v1,<base64>`` entries: several during a key
rotation, any one may match). The signature is HMAC-SHA256, keyed with the base64-decoded part of the ``whsec_…``
secret after its prefix, over ``{webhook-id}.{webhook-timestamp}.{raw body}``.

Why not the ``standardwebhooks`` package (1.1.0, MIT, no dependencies, ~100 lines): its ``Webhook.verify`` fixes the
tolerance at 5 minutes against the real clock (``settings.webhook_tolerance_s`` and a test's ``now`` cannot be
given), raises one exception class whose cause is only in its message, lets malformed input escape as ``ValueError``
/ ``binascii.Error`` / ``UnicodeDecodeError`` (a ``webhook-signature: v1`` or a non-UTF-8 body would be a 500, not a
401), and needs the body as text. The scheme itself is the few lines below, checked in tests/unit/test_webhooks.py
against the reference vector that library produces.

Replays (a ``webhook-id`` seen before) are not detected here: the webhook receipts of ``store/webhook_receipts.py``
are (``EnhancementService.accept_webhook``); the timestamp tolerance bounds how long a captured delivery can be
replayed at all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Literal

from chalicelib.errors import AppError

#: Why a webhook was refused (``details.reason`` of the 401).
type RejectionReason = Literal["not_configured", "missing_headers", "bad_signature", "stale_timestamp"]

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
#: Standard Webhooks' recommended tolerance, both ways (settings ``webhook_tolerance_s``).
DEFAULT_TOLERANCE_S = 300


class WebhookRejectedError(AppError):
    """A webhook that did not prove it comes from Replicate (401 ``invalid_webhook_signature``).

    ``details.reason``: ``not_configured`` (no usable ``SLEEVE_REPLICATE_WEBHOOK_SECRET``: every webhook is refused
    and the poller completes jobs), ``missing_headers`` (a ``webhook-*`` header absent or malformed),
    ``bad_signature`` (no ``v1`` entry matches), ``stale_timestamp`` (signed, but further than the tolerance from
    now, either way). Messages never hold the secret, the signatures or the body.
    """

    status = 401
    default_code = "invalid_webhook_signature"

    def __init__(self, reason: RejectionReason, message: str) -> None:
        super().__init__(message, details={"reason": reason})
        self.reason: RejectionReason = reason


def signing_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix is optional, padding may be left off, as the
    Standard Webhooks libraries accept). Raises ``WebhookRejectedError`` ``not_configured`` for an empty or
    undecodable secret."""
    encoded = secret.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookRejectedError("not_configured", "the webhook secret is not a whsec_ base64 key") from None
    if not key:
        raise WebhookRejectedError("not_configured", "the webhook secret is empty")
    return key


def sign_webhook(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value (``v1,<base64 HMAC-SHA256>``) of one delivery: what Replicate sends, and what
    the fake Replicate server signs with."""
    digest = _digest(signing_key(secret), webhook_id, str(timestamp), body)
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def verify_webhook(
    headers: Mapping[str, str], body: bytes, *, secret: str | None, tolerance_s: int = DEFAULT_TOLERANCE_S, now: float
) -> str:
    """Check one delivery and return its ``webhook-id`` (for the caller's replay check).

    ``headers``: the request's headers, any case (API Gateway lower-cases them, a test may not); ``body``: the raw
    bytes as received (any re-encoding breaks the signature); ``secret``: the ``whsec_…`` secret, None or blank when
    not configured; ``tolerance_s``: the most seconds ``webhook-timestamp`` may be from ``now`` (epoch seconds),
    before or after. The signatures are compared in constant time (``hmac.compare_digest``).

    Raises ``WebhookRejectedError`` with ``reason`` ``not_configured``, ``missing_headers``, ``bad_signature`` or
    ``stale_timestamp`` (checked after the signature, so that reason only ever names a genuinely signed delivery).
    """
    if secret is None or not secret.strip():
        raise WebhookRejectedError("not_configured", "webhooks are not accepted: no webhook secret is configured")
    key = signing_key(secret)
    lowered = {name.lower(): value for name, value in headers.items()}
    webhook_id = lowered.get("webhook-id", "").strip()
    timestamp = lowered.get("webhook-timestamp", "").strip()
    signatures = lowered.get("webhook-signature", "").strip()
    if not (webhook_id and timestamp and signatures):
        raise WebhookRejectedError(
            "missing_headers", "webhook-id, webhook-timestamp and webhook-signature are required"
        )
    if not timestamp.isascii() or not timestamp.isdigit():
        raise WebhookRejectedError("missing_headers", "webhook-timestamp is not a number of seconds")
    expected = _digest(key, webhook_id, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in _v1_signatures(signatures)):
        raise WebhookRejectedError("bad_signature", "no webhook-signature entry matches")
    if abs(now - int(timestamp)) > tolerance_s:
        raise WebhookRejectedError(
            "stale_timestamp", f"webhook-timestamp is more than {tolerance_s} s away from the current time"
        )
    return webhook_id


def _digest(key: bytes, webhook_id: str, timestamp: str, body: bytes) -> bytes:
    signed = webhook_id.encode() + b"." + timestamp.encode() + b"." + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def _v1_signatures(header: str) -> list[bytes]:
    """The decoded ``v1`` signatures of a ``webhook-signature`` header; other versions and malformed entries are
    skipped (a sender may add schemes this receiver does not know)."""
    found: list[bytes] = []
    for entry in header.split():
        version, _, encoded = entry.partition(",")
        if version != SIGNATURE_VERSION or not encoded:
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    return found
