"""S3 event notifications as SQS delivers them: the JSON body → ``ObjectCreated`` records.

Source: S3 docs, "Event message structure" (version 2.1/2.2). Keys arrive URL-encoded with ``+`` for spaces.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from chalicelib.services.ingest import ObjectCreated

log = logging.getLogger(__name__)


def _sequencer(record: dict[str, Any]) -> str:
    """The object's ``sequencer``; without one (moto's notifications have none), ``eventTime`` in ms as hex.

    Real S3 always sends a sequencer for ObjectCreated events, so the two kinds are never compared with each other.
    """
    sequencer = record["s3"]["object"].get("sequencer")
    if sequencer:
        return str(sequencer)
    event_time = datetime.fromisoformat(str(record["eventTime"]).replace("Z", "+00:00"))
    return f"{int(event_time.timestamp() * 1000):X}"


def object_created_records(body: str) -> list[ObjectCreated]:
    """The ``ObjectCreated`` records of one message body.

    ``s3:TestEvent`` (sent when a notification is configured), other event types and malformed bodies give ``[]``
    (logged): a message that can never succeed is not retried.
    """
    try:
        message: Any = json.loads(body)
    except ValueError:
        log.error("dropping a message that is not JSON")
        return []
    if not isinstance(message, dict):
        log.error("dropping a message that is not a JSON object")
        return []
    if message.get("Event") == "s3:TestEvent":
        log.info("ignoring s3:TestEvent")
        return []
    records: list[ObjectCreated] = []
    for record in message.get("Records") or []:
        try:
            if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
                continue
            s3 = record["s3"]
            records.append(
                ObjectCreated(
                    bucket=s3["bucket"]["name"],
                    key=unquote_plus(s3["object"]["key"]),
                    size=int(s3["object"].get("size", 0)),
                    etag=str(s3["object"].get("eTag", "")).strip('"'),
                    sequencer=_sequencer(record),
                )
            )
        except (KeyError, TypeError, ValueError):
            log.error("dropping a malformed S3 record")
    return records
