"""S3 event notifications as SQS delivers them: the JSON body → ``ObjectCreated`` records.

Source: S3 docs, "Event message structure" (version 2.1/2.2). Keys arrive URL-encoded with ``+`` for spaces. Only the
fields Sleeve reads are modelled (pydantic); anything else in a record is ignored, as S3 adds fields over time.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from chalicelib.services.ingest import ObjectCreated

log = logging.getLogger(__name__)
#: S3's longest object key, in bytes of UTF-8 (S3 docs, "Naming Amazon S3 objects").
MAX_KEY_BYTES = 1024


class _Notification(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class S3Object(_Notification):
    """``s3.object``: the URL-encoded ``key``, ``size`` in bytes, ``eTag`` and the hex ``sequencer``."""

    key: Annotated[StrictStr, Field(min_length=1, max_length=3 * MAX_KEY_BYTES)]
    size: Annotated[int, Field(ge=0)] = 0
    eTag: StrictStr = ""
    sequencer: Annotated[StrictStr, Field(pattern=r"^[0-9A-Fa-f]{1,64}$")] | None = None


class S3Bucket(_Notification):
    """``s3.bucket``: its ``name``."""

    name: Annotated[StrictStr, Field(min_length=1, max_length=63)]


class S3Entity(_Notification):
    """``s3``: the bucket and the object of a record."""

    bucket: S3Bucket
    object: S3Object


class S3EventRecord(_Notification):
    """One ``ObjectCreated:*`` record: its ``eventName``, ``eventTime`` and ``s3`` entity."""

    eventName: StrictStr
    eventTime: datetime | None = None
    s3: S3Entity


def _sequencer(record: S3EventRecord) -> str:
    """The object's ``sequencer``; without one (moto's notifications have none), ``eventTime`` in ms as hex.

    Real S3 always sends a sequencer for ObjectCreated events, so the two kinds are never compared with each other.
    Raises ``ValueError`` when the record has neither.
    """
    if record.s3.object.sequencer:
        return record.s3.object.sequencer
    if record.eventTime is None:
        raise ValueError("a record without a sequencer or an eventTime")
    return f"{int(record.eventTime.timestamp() * 1000):X}"


def _object_created(record: Any) -> ObjectCreated | None:
    """The ``ObjectCreated`` of one raw record; None for another event type. Raises ``ValueError`` (pydantic's
    ``ValidationError`` included) for a record of the wrong shape."""
    if not isinstance(record, dict):
        raise ValueError(f"a record that is a JSON {type(record).__name__}, not an object")
    event_name = record.get("eventName")
    if not isinstance(event_name, str) or not event_name.startswith("ObjectCreated:"):
        return None
    parsed = S3EventRecord.model_validate(record)
    key = unquote_plus(parsed.s3.object.key)
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise ValueError("a key longer than S3 allows")
    return ObjectCreated(
        bucket=parsed.s3.bucket.name,
        key=key,
        size=parsed.s3.object.size,
        etag=parsed.s3.object.eTag.strip('"'),
        sequencer=_sequencer(parsed),
    )


def _reason(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return str(exc)


def object_created_records(body: str) -> list[ObjectCreated]:
    """The ``ObjectCreated`` records of one message body. Never raises.

    ``s3:TestEvent`` (sent when a notification is configured) and other event types give nothing. So does a message
    that can never succeed, whatever its shape (not JSON, not an object, ``Records`` not a list, a record that is not
    an object or lacks the fields above): it is logged with the reason and dropped, not retried. Well-formed records
    of a message are kept when another record of it is malformed.
    """
    try:
        message: Any = json.loads(body)
    except (ValueError, RecursionError):
        log.error("dropping a message that is not JSON")
        return []
    if not isinstance(message, dict):
        log.error("dropping a message that is not a JSON object")
        return []
    if message.get("Event") == "s3:TestEvent":
        log.info("ignoring s3:TestEvent")
        return []
    raw_records = message.get("Records")
    if not isinstance(raw_records, list):
        log.error("dropping a message whose Records is not a list")
        return []
    records: list[ObjectCreated] = []
    for position, raw in enumerate(raw_records):
        try:
            record = _object_created(raw)
        except ValueError as exc:  # pydantic's ValidationError is one
            log.error("dropping malformed S3 record %d: %s", position, _reason(exc))
            continue
        if record is not None:
            records.append(record)
    return records
