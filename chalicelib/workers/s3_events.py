"""S3 event notifications as SQS delivers them: the JSON body → ``ObjectCreated`` records.

Source: S3 docs, "Event message structure" (version 2.1/2.2). Keys arrive URL-encoded with ``+`` for spaces.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote_plus

from chalicelib.services.ingest import ObjectCreated

log = logging.getLogger(__name__)


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
                    sequencer=str(s3["object"]["sequencer"]),
                )
            )
        except (KeyError, TypeError, ValueError):
            log.error("dropping a malformed S3 record")
    return records
