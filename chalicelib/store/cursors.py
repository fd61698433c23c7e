"""Opaque pagination cursors: DynamoDB's LastEvaluatedKey as base64url JSON, bound to the partition it came from."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chalicelib.errors import InvalidError


def encode_cursor(last_evaluated_key: dict[str, Any] | None) -> str | None:
    """``LastEvaluatedKey`` (a dict of attribute values) → an opaque URL-safe string, or None at the end."""
    if not last_evaluated_key:
        return None
    raw = json.dumps(last_evaluated_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, partition_attr: str, partition_value: str) -> dict[str, Any] | None:
    """The ``ExclusiveStartKey`` a cursor stands for.

    Raises ``InvalidError`` (code ``invalid_cursor``) when the cursor is malformed or was issued for another partition
    (another owner's listing), so a cursor can never page through someone else's items.
    """
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidError("The cursor is not one this API issued.", code="invalid_cursor") from exc
    if not isinstance(key, dict) or key.get(partition_attr, {}).get("S") != partition_value:
        raise InvalidError("The cursor is not one this API issued.", code="invalid_cursor")
    return key
