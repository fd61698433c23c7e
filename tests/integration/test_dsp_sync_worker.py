"""The DSP sync workers: the schedule's rate from settings, the sync queue's consumer, its dead-letter consumer and the
schedule that queues the releases due for sync.

Handlers run through ``chalice.test.Client``'s Lambda invoke with the events Lambda sends: SQS records built from the
messages really waiting on moto's queues (``chalicelib.local.pump.build_sqs_record``, the shape the embedded stack
delivers) and EventBridge's scheduled event.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from chalice.test import Client
from pydantic import ValidationError

from chalicelib.config import Settings
from chalicelib.local.environment import stage_environment
from chalicelib.local.fake_dsp import FakeDsp, Fault
from chalicelib.services.dsp_sync import SyncRetryError
from tests.conftest import REPO_ROOT
from tests.integration.conftest import Aws, body_of, call, create_release, reloading_queues
from tests.integration.dsp_sync_support import album
from tests.integration.sync_helpers import (
    SYNC_DLQ,
    body_event,
    drain_sync_queue,
    queue_url,
    receive_messages,
    released,
    scheduled_event,
    sqs_event,
    use_fake_dsp,
)

# -- the schedule's rate -----------------------------------------------------------------------------------------------


@pytest.fixture
def reload_queues(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str | None], ModuleType]]:
    """chalicelib.workers.queues as imported with ``SLEEVE_DSP_SYNC_SCHEDULE_MINUTES`` set to a value (None: unset);
    reloaded back afterwards."""

    yield from reloading_queues(monkeypatch, "SLEEVE_DSP_SYNC_SCHEDULE_MINUTES")


def _settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SLEEVE_JWT_SECRET", "a-local-secret")
    monkeypatch.setenv("SLEEVE_BUCKET_NAME", "sleeve-local-media")
    monkeypatch.setenv("SLEEVE_STAGE", "local")
    return Settings()  # type: ignore[call-arg]


@pytest.mark.parametrize(("value", "minutes"), [(None, 60), ("1", 1), ("15", 15), ("1440", 1440)])
def test_the_schedule_rate_and_the_setting_read_the_same_variable(
    value: str | None, minutes: int, monkeypatch: pytest.MonkeyPatch, reload_queues: Callable[[str | None], ModuleType]
) -> None:
    # Given SLEEVE_DSP_SYNC_SCHEDULE_MINUTES set to value (or unset)
    # When the workers' module is imported (Chalice reads the rate then) and Settings are built
    workers = reload_queues(value)
    settings = _settings(monkeypatch)
    # Then both say the same number of minutes, 60 by default
    assert workers.DSP_SYNC_SCHEDULE_MINUTES == settings.dsp_sync_schedule_minutes == minutes


@pytest.mark.parametrize("value", ["0", "-5", "1441", "hourly", "1.5"])
def test_a_bad_schedule_rate_stops_the_import_and_the_settings(
    value: str, monkeypatch: pytest.MonkeyPatch, reload_queues: Callable[[str | None], ModuleType]
) -> None:
    # Given a rate EventBridge cannot take (not a whole number of minutes from 1 to a day)
    # When the workers' module is imported, and when Settings are built, Then both refuse it
    with pytest.raises(ValidationError):
        reload_queues(value)
    monkeypatch.setenv("SLEEVE_DSP_SYNC_SCHEDULE_MINUTES", value)
    with pytest.raises(ValidationError):
        _settings(monkeypatch)


_SCHEDULE_OF_APP = """
from chalice.app import ScheduledEventConfig
from app import app
(source,) = [s for s in app.event_sources if isinstance(s, ScheduledEventConfig) and s.name == "enqueue_due_dsp_syncs"]
print(source.schedule_expression.to_string())
"""


@pytest.mark.parametrize(("stage", "expression"), [("local", "rate(1 minute)"), ("dev", "rate(60 minutes)")])
def test_the_stage_decides_the_schedule_the_app_declares(stage: str, expression: str) -> None:
    # Given the stage's variables from .chalice/config.json (the local stage runs the schedule every minute, so the
    # embedded stack picks due releases up quickly; deployed stages keep the default hour)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLEEVE_")} | stage_environment(REPO_ROOT, stage)
    # When app.py is imported with them (as `chalice package --stage` and Lambda do)
    result = subprocess.run(
        [sys.executable, "-c", _SCHEDULE_OF_APP], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True
    )
    # Then the sync schedule is declared at that rate
    assert result.stdout.strip() == expression


# -- the workers, invoked as Lambda invokes them -----------------------------------------------------------------------

TITLES = ("Hunter", "Jóga", "Unravel", "Bachelorette")


@pytest.fixture
def fake(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> FakeDsp:
    """The fake DSPs listing the album of ``TITLES``, which the container's sync service syncs against."""
    dsp = FakeDsp()
    dsp.add_album(album(TITLES))
    use_fake_dsp(monkeypatch, dsp)
    return dsp


def _released(client: Client) -> str:
    """A released release of the album's titles (no ISRCs, no durations: a clean sync fills them)."""
    return released(client, tracks=tuple((title, None, None) for title in TITLES))


def _logged(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.getMessage() == message]


def _extra(record: logging.LogRecord, name: str) -> Any:
    """A key the worker logged in ``extra``."""
    return record.__dict__.get(name)


def test_the_worker_syncs_what_release_now_queued(
    client: Client, fake: FakeDsp, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a released release and the message release-now put on the sync queue, as SQS hands it over
    release_id = _released(client)
    messages = receive_messages()
    assert [json.loads(m["Body"])["reason"] for m in messages] == ["released"]
    # When Lambda invokes the sync worker with it
    client.lambda_.invoke("handle_dsp_sync", sqs_event(messages))
    # Then the release is synced and locked by the sync, and the outcome is logged with the message's receive count
    release = body_of(call(client, "GET", f"/releases/{release_id}"))
    assert (release["production_status"], release["locked_by_sync"]) == ("locked", True)
    (line,) = _logged(caplog, "dsp sync finished")
    assert (_extra(line, "outcome"), _extra(line, "receive_count")) == ("synced", 1)
    assert _extra(line, "message_id") == messages[0]["MessageId"]


def test_a_second_delivery_of_the_same_message_writes_nothing(
    client: Client, fake: FakeDsp, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a message the worker already handled
    release_id = _released(client)
    event = sqs_event(receive_messages())
    client.lambda_.invoke("handle_dsp_sync", event)
    version = body_of(call(client, "GET", f"/releases/{release_id}"))["version"]
    fake.clear_requests()
    # When SQS delivers it again (at-least-once delivery)
    client.lambda_.invoke("handle_dsp_sync", event)
    # Then the copy is recognised: no DSP is asked, the release is not written again
    assert [_extra(r, "outcome") for r in _logged(caplog, "dsp sync finished")] == ["synced", "duplicate"]
    assert fake.requests == []
    assert body_of(call(client, "GET", f"/releases/{release_id}"))["version"] == version


def _every_dsp_down(fake: FakeDsp) -> None:
    for service in ("spotify", "spotify_accounts", "apple_music", "musicbrainz"):
        fake.inject(Fault(service=service, status=503, times=1000))


def test_a_message_that_keeps_failing_reaches_the_dead_letter_queue_and_ends_failed(
    client: Client, fake: FakeDsp, caplog: pytest.LogCaptureFixture
) -> None:
    # Given every DSP unavailable and the message release-now queued
    _every_dsp_down(fake)
    release_id = _released(client)
    sqs, url = boto3.client("sqs", region_name="us-east-1"), queue_url()
    # When Lambda receives it and the worker fails, five times (the queue's maxReceiveCount), each failure making the
    # message visible again as an expired visibility timeout would
    for attempt in range(1, 6):
        (message,) = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"]
        assert message["Attributes"]["ApproximateReceiveCount"] == str(attempt)
        with pytest.raises(SyncRetryError):
            client.lambda_.invoke("handle_dsp_sync", sqs_event([message]))
        assert _status(client, release_id)["state"] == "queued"
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    # Then SQS moves it to the dead-letter queue, whose consumer ends the sync failed with a reason
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    dead = receive_messages(SYNC_DLQ)
    assert [json.loads(m["Body"])["release_id"] for m in dead] == [release_id]
    client.lambda_.invoke("handle_dsp_sync_dead_letter", sqs_event(dead, SYNC_DLQ))
    status = _status(client, release_id)
    assert status["state"] == "failed"
    assert status["error"]["code"] == "dead_lettered"
    release = body_of(call(client, "GET", f"/releases/{release_id}"))
    assert (release["production_status"], release["lock_status"]) == ("released", "partial_lock")
    retried = _logged(caplog, "dsp sync will be retried")
    assert [(r.levelname, _extra(r, "receive_count")) for r in retried] == [("WARNING", n) for n in range(1, 6)]
    assert _extra(retried[0], "services") == dict.fromkeys(["spotify", "apple_music", "musicbrainz"], "unavailable")
    (line,) = _logged(caplog, "dsp sync dead-lettered")
    assert (line.levelname, _extra(line, "marked_failed")) == ("ERROR", True)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[]",
        '{"type": "dsp_sync"}',
        '{"type": "dsp_sync", "release_id": {"S": "x"}, "owner_id": "alice", "requested_at": "yesterday"}',
    ],
)
def test_malformed_messages_are_dropped_by_both_consumers(
    client: Client, fake: FakeDsp, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    # When the sync worker and its dead-letter consumer get a message that is not a sync request
    client.lambda_.invoke("handle_dsp_sync", body_event(body))
    client.lambda_.invoke("handle_dsp_sync_dead_letter", body_event(body, SYNC_DLQ))
    # Then both return normally (Lambda deletes the message), and say so
    assert [_extra(r, "outcome") for r in _logged(caplog, "dsp sync finished")] == ["malformed"]
    assert [_extra(r, "marked_failed") for r in _logged(caplog, "dsp sync dead-lettered")] == [False]


def test_the_schedule_queues_every_due_release_in_batches_of_ten_without_a_scan(
    client: Client, fake: FakeDsp, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.client

    # Given twelve released releases whose syncs are due (release-now's messages were lost) and a draft
    due = sorted(released(client, tracks=(("Hunter", None, None),), title=f"Single {n}") for n in range(12))
    create_release(client)
    drain_sync_queue()
    calls: list[tuple[str, int]] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation: str, params: Any) -> Any:
        calls.append((operation, len(params.get("Entries", []))))
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    # When EventBridge fires the schedule
    client.lambda_.invoke("enqueue_due_dsp_syncs", scheduled_event())
    # Then one "scheduled" message per due release was sent, ten at most per SendMessageBatch, read by Query alone
    bodies = drain_sync_queue()
    assert sorted(b["release_id"] for b in bodies) == due
    assert {b["reason"] for b in bodies} == {"scheduled"}
    assert [n for op, n in calls if op == "SendMessageBatch"] == [10, 2]
    assert "Query" in {op for op, _ in calls} and "Scan" not in {op for op, _ in calls}
    (line,) = _logged(caplog, "due dsp syncs queued")
    assert _extra(line, "sent") == 12


def _status(client: Client, release_id: str) -> dict[str, Any]:
    response = call(client, "GET", f"/releases/{release_id}/sync/status")
    assert response.status_code == 200, response.body
    return dict(body_of(response))
