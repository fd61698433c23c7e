"""Malformed SQS messages reach the ingest workers in Lambda's real SQS event shape: logged and dropped, never raised
(a raise would be retried five times, then dead-lettered, and the dead-letter consumer must not raise on it either)."""

from __future__ import annotations

import json
import logging

import pytest

from tests.integration.conftest import BUCKET, invoke_with_body
from tests.unit.test_events_and_keys import MALFORMED_BODIES

S3_EVENTS_LOGGER = "chalicelib.workers.s3_events"


@pytest.mark.parametrize("function", ["handle_ingest", "handle_ingest_dead_letter"])
def test_malformed_messages_are_dropped_by_both_ingest_workers(client, function, caplog):
    for name, body in MALFORMED_BODIES.items():
        caplog.clear()
        # Given a message of the wrong shape on the worker's queue
        # When the worker is invoked with it, as Lambda would
        with caplog.at_level(logging.INFO, logger=S3_EVENTS_LOGGER):
            invoke_with_body(client, body, function=function)
        # Then it returns (the message is deleted, not retried) and a line says it was dropped
        dropped = [r for r in caplog.records if r.name == S3_EVENTS_LOGGER and "dropping" in r.getMessage()]
        assert dropped, f"{name}: nothing logged"


def test_a_well_formed_record_beside_a_malformed_one_is_still_handled(client, caplog):
    # Given one message with a junk record and a record for an object nobody uploaded
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Post",
        "eventTime": "2026-11-21T00:14:17.610Z",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": "uploads/alice/nobody", "size": 3, "eTag": "e"}},
    }
    body = json.dumps({"Records": [["junk"], record]})
    # When both workers get it
    with caplog.at_level(logging.INFO):
        invoke_with_body(client, body, function="handle_ingest")
        invoke_with_body(client, body, function="handle_ingest_dead_letter")
    # Then the junk is dropped and logged, the well-formed record is handled (nothing to do for an unknown upload)
    assert any("dropping malformed S3 record 0" in r.getMessage() for r in caplog.records)
