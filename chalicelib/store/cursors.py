"""Opaque, signed pagination cursors: DynamoDB's LastEvaluatedKey, bound to the list and the partition it came from.

A cursor is ``base64url(payload) "." base64url(HMAC-SHA256(key, payload))`` where ``payload`` is the compact JSON of
``{"v": 1, "list_name": <list name>, "key": <LastEvaluatedKey>}``. The MAC makes a cursor unforgeable (a client cannot
page from a key of its choosing, nor make DynamoDB refuse a malformed one with a 500); the payload model checks the
shape of what was signed; the list name and the partition value tie it to the listing that issued it.

Sources: RFC 2104 / FIPS 198-1 (HMAC), RFC 4648 §5 (base64url, unpadded here), DynamoDB's ``ExclusiveStartKey``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from chalicelib.errors import InvalidError

_VERSION = 1
#: No listing key is longer (a few ids and a timestamp); anything longer is refused before it is decoded.
MAX_CURSOR_LENGTH = 2048
_KEY_ATTRIBUTE = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9]{0,15}$")]


class _String(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    S: Annotated[StrictStr, Field(min_length=1, max_length=1024)]


class _Number(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    N: Annotated[StrictStr, Field(pattern=r"^-?[0-9]{1,38}(\.[0-9]{1,38})?$")]


class CursorPayload(BaseModel):
    """What a cursor signs: its format version, the list's name, and the ``LastEvaluatedKey`` (string and number
    key attributes only: the only kinds Sleeve's table keys use)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    v: Literal[1]
    list_name: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    key: Annotated[dict[_KEY_ATTRIBUTE, _String | _Number], Field(min_length=1, max_length=4)]


def index_of(partition_attr: str) -> str:
    """The index a partition attribute belongs to: ``gsi1pk`` → ``gsi1``; the table's own ``pk`` → ``table``."""
    return "table" if partition_attr == "pk" else partition_attr.removesuffix("pk")


def key_attributes(partition_attr: str) -> frozenset[str]:
    """The attributes of a ``LastEvaluatedKey`` from a Query on that index: the table's ``pk``/``sk``, plus the
    index's own partition and sort attributes (``gsiNpk``/``gsiNsk``) for a GSI."""
    index = index_of(partition_attr)
    return frozenset({"pk", "sk"} if index == "table" else {"pk", "sk", f"{index}pk", f"{index}sk"})


def _index_from_key(key: dict[str, Any]) -> str:
    for attribute in key:
        if attribute.startswith("gsi") and attribute.endswith("pk"):
            return index_of(attribute)
    return "table"


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii"))


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()


def _secret(secret: bytes | None) -> bytes:
    if secret is not None:
        return secret
    from chalicelib.config import get_settings

    return get_settings().cursor_key()


def encode_cursor(
    last_evaluated_key: dict[str, Any] | None, *, list_name: str | None = None, secret: bytes | None = None
) -> str | None:
    """``LastEvaluatedKey`` (a dict of DynamoDB attribute values) → a signed URL-safe cursor, or None at the end.

    ``list_name`` names the listing (default: the index the key comes from, ``table``/``gsi1``/…); ``secret`` is the
    HMAC key (default: the settings' cursor key).
    """
    if not last_evaluated_key:
        return None
    payload = {"v": _VERSION, "list_name": list_name or _index_from_key(last_evaluated_key), "key": last_evaluated_key}
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64encode(raw)}.{_b64encode(_mac(_secret(secret), raw))}"


def decode_cursor(
    cursor: str | None,
    *,
    partition_attr: str,
    partition_value: str,
    list_name: str | None = None,
    secret: bytes | None = None,
) -> dict[str, Any] | None:
    """The ``ExclusiveStartKey`` a cursor stands for (None for no cursor).

    Raises ``InvalidError`` (code ``invalid_cursor``) unless the cursor is one this API signed (HMAC-SHA256, compared
    in constant time), of the payload's shape, issued by the list ``list_name`` (default: the index of
    ``partition_attr``) and for the partition ``partition_value`` with exactly the key attributes of that index. A
    forged, truncated or re-shaped cursor, or one from another owner's or another list's pages, can never page.
    """
    if not cursor:
        return None
    refused = InvalidError("The cursor is not one this list issued.", code="invalid_cursor")
    encoded_payload, dot, encoded_mac = cursor.partition(".")
    if not dot or len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise refused
    try:
        raw, mac = _b64decode(encoded_payload), _b64decode(encoded_mac)
    except (binascii.Error, ValueError) as exc:
        raise refused from exc
    if not hmac.compare_digest(mac, _mac(_secret(secret), raw)):
        raise refused
    try:
        payload = CursorPayload.model_validate_json(raw)
    except ValidationError as exc:
        raise refused from exc
    key = {name: value.model_dump() for name, value in payload.key.items()}
    expected = key_attributes(partition_attr)
    if (
        payload.list_name != (list_name or index_of(partition_attr))
        or set(key) != expected
        or key[partition_attr] != {"S": partition_value}
    ):
        raise refused
    return key
