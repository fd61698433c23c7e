"""The local stack's pump and API server, proved with a tiny Chalice app of the test's own (not Sleeve's app.py).

The stack runs in this process (``start_stack(app=...)``) on free ports, provisioned from the real infra/template.json;
the app's handlers record what Lambda would have handed them.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest
from chalice.app import Chalice, CloudWatchEvent, Cron, Rate, SQSEvent

from chalicelib.config import stage_resource_name
from chalicelib.local.pump import build_sqs_record, failed_message_ids, parse_rate
from chalicelib.local.stack import Stack, start_stack

# The template's queues as the local stack provisions them (Stage=local).
INGEST_QUEUE = stage_resource_name("local", "ingest")
INGEST_DLQ = stage_resource_name("local", "ingest-dlq")

MAX_RECEIVE_COUNT = 5  # infra/template.json, IngestQueue.RedrivePolicy


@dataclass
class Call:
    kind: str
    event: dict[str, Any]
    function_name: str
    remaining_ms: float


@dataclass
class Recorder:
    """What the handlers were called with; thread-safe (the pump calls from its own threads)."""

    calls: list[Call] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def add(self, call: Call) -> None:
        with self.changed:
            self.calls.append(call)
            self.changed.notify_all()

    def wait_until(self, predicate: Callable[[list[Call]], bool], timeout_s: float = 15.0) -> list[Call]:
        with self.changed:
            if not self.changed.wait_for(lambda: predicate(self.calls), timeout=timeout_s):
                raise AssertionError(f"timed out; calls so far: {[c.kind for c in self.calls]}")
            return list(self.calls)

    def records(self) -> list[dict[str, Any]]:
        with self.changed:
            return [record for call in self.calls if call.kind == "sqs" for record in call.event["Records"]]


def make_app(recorder: Recorder) -> Chalice:
    """A Chalice app with a route, an SQS consumer on the template's ingest queue and two schedules."""
    app = Chalice(app_name="pumptest")

    @app.route("/ping")
    def ping() -> dict[str, Any]:
        request = app.current_request
        assert request is not None
        return {"pong": True, "path": request.path}

    @app.on_sqs_message(queue=INGEST_QUEUE, batch_size=10)
    def consume(event: SQSEvent) -> dict[str, Any]:
        context: Any = event.context  # the pump's Lambda context object
        recorder.add(Call("sqs", event.to_dict(), context.function_name, context.get_remaining_time_in_millis()))
        failures = []
        for record in event:
            behaviour = json.loads(record.body).get("behaviour") if record.body.startswith("{") else None
            if behaviour == "raise":
                raise RuntimeError("the test told this handler to fail")
            if behaviour == "report":
                failures.append({"itemIdentifier": record.to_dict()["messageId"]})  # SQSRecord has no message_id
        return {"batchItemFailures": failures}

    @app.schedule(Rate(1, unit=Rate.MINUTES))
    def tick(event: CloudWatchEvent) -> None:
        context: Any = event.context
        recorder.add(Call("schedule", event.to_dict(), context.function_name, context.get_remaining_time_in_millis()))

    @app.schedule(Cron(0, 12, "*", "*", "?", "*"))
    def noon(event: CloudWatchEvent) -> None:  # cron() is not run locally: never called
        recorder.add(Call("cron", event.to_dict(), "", 0))

    return app


@dataclass
class Running:
    stack: Stack
    recorder: Recorder
    s3: Any
    sqs: Any
    ingest_url: str
    dlq_url: str


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    recorder = Recorder()
    # retry_delay_s=0: a failed message is visible again at once, so five attempts and the DLQ take well under 1 s.
    with start_stack(app=make_app(recorder), retry_delay_s=0, schedule_time_scale=0.01) as stack:
        sqs = stack.boto3_client("sqs")
        urls = stack.resources["queue_urls"]
        # Configuring the bucket notification sent an s3:TestEvent; wait for it so tests start from a quiet queue.
        recorder.wait_until(lambda calls: any("s3:TestEvent" in r["body"] for r in recorder.records()))
        yield Running(stack, recorder, stack.boto3_client("s3"), sqs, urls[INGEST_QUEUE], urls[INGEST_DLQ])


def _records_with(running: Running, marker: str) -> list[dict[str, Any]]:
    return [record for record in running.recorder.records() if marker in record["body"]]


def _dead_letters(running: Running, marker: str, expected: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for _ in range(30):
        messages = running.sqs.receive_message(
            QueueUrl=running.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        found += [m for m in messages if marker in m["Body"]]
        if len(found) >= expected:
            return found
    raise AssertionError(f"{expected} dead letter(s) with {marker} expected, found {len(found)}")


def test_routes_are_served_by_chalice_local(running: Running) -> None:
    # When
    response = httpx.get(f"{running.stack.api_url}/ping")
    unknown = httpx.get(f"{running.stack.api_url}/nope")

    # Then: the route answers, and an unknown path gets API Gateway's answer, as with `chalice local`
    assert response.status_code == 200
    assert response.json() == {"pong": True, "path": "/ping"}
    assert unknown.status_code == 403
    assert unknown.json() == {"message": "Missing Authentication Token"}


def test_sqs_message_reaches_the_handler_in_the_lambda_event_shape(running: Running) -> None:
    # Given
    marker = f"shape-{uuid.uuid4()}"
    sent = running.sqs.send_message(
        QueueUrl=running.ingest_url,
        MessageBody=json.dumps({"marker": marker}),
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "test"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )

    # When
    running.recorder.wait_until(lambda calls: bool(_records_with(running, marker)))

    # Then: the record is exactly what Lambda sends for a standard queue
    (record,) = _records_with(running, marker)
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["messageId"] == sent["MessageId"]
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == f"arn:aws:sqs:us-east-1:123456789012:{INGEST_QUEUE}"
    assert record["awsRegion"] == "us-east-1"
    assert set(record["attributes"]) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "test",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["messageAttributes"]["blob"]["binaryValue"] == base64.b64encode(b"\x00\x01").decode()
    call = next(c for c in running.recorder.calls if c.kind == "sqs" and marker in json.dumps(c.event))
    assert call.function_name == "pumptest-local-consume"
    # .chalice/config.json: lambda_timeout 30 s for functions without their own setting
    assert 0 < call.remaining_ms <= 30_000
    # And the message was deleted after success
    assert not running.sqs.receive_message(QueueUrl=running.ingest_url, WaitTimeSeconds=0).get("Messages")


def test_upload_under_the_prefix_is_notified_through_sqs(running: Running) -> None:
    # Given: one object outside the notification's prefix filter, then one inside it
    owner = f"owner-{uuid.uuid4().hex[:8]}"
    running.s3.put_object(Bucket=running.stack.bucket_name, Key=f"media/{owner}/ignored", Body=b"x")
    running.s3.put_object(Bucket=running.stack.bucket_name, Key=f"uploads/{owner}/u 1", Body=b"hello")

    # When
    running.recorder.wait_until(lambda calls: bool(_records_with(running, owner)))

    # Then: only the upload produced an S3 event, and its (URL-encoded) key decodes to the object's
    (record,) = _records_with(running, owner)
    (s3_record,) = json.loads(record["body"])["Records"]
    assert s3_record["eventSource"] == "aws:s3"
    assert s3_record["eventName"].startswith("ObjectCreated:")
    assert s3_record["s3"]["bucket"]["name"] == running.stack.bucket_name
    assert unquote_plus(s3_record["s3"]["object"]["key"]) == f"uploads/{owner}/u 1"
    assert s3_record["s3"]["object"]["size"] == 5


def test_a_failing_message_is_retried_then_moved_to_the_dead_letter_queue(running: Running) -> None:
    # Given
    marker = f"raise-{uuid.uuid4()}"
    running.sqs.send_message(QueueUrl=running.ingest_url, MessageBody=json.dumps({"behaviour": "raise", "m": marker}))

    # When
    (dead,) = _dead_letters(running, marker, expected=1)

    # Then: the handler saw it maxReceiveCount times, with a growing receive count, and then moto redrove it
    counts = [r["attributes"]["ApproximateReceiveCount"] for r in _records_with(running, marker)]
    assert counts == [str(n) for n in range(1, MAX_RECEIVE_COUNT + 1)]
    assert json.loads(dead["Body"])["m"] == marker


def test_partial_batch_response_retries_only_the_reported_messages(running: Running) -> None:
    # Given: three messages in one batch, the handler reports the middle one as failed
    marker = uuid.uuid4().hex
    bodies = [{"m": f"ok1-{marker}"}, {"m": f"report-{marker}", "behaviour": "report"}, {"m": f"ok2-{marker}"}]
    running.sqs.send_message_batch(
        QueueUrl=running.ingest_url,
        Entries=[{"Id": str(i), "MessageBody": json.dumps(body)} for i, body in enumerate(bodies)],
    )

    # When
    (dead,) = _dead_letters(running, f"report-{marker}", expected=1)

    # Then: the successes were deleted after their first delivery; only the reported one was retried
    assert len(_records_with(running, f"ok1-{marker}")) == 1
    assert len(_records_with(running, f"ok2-{marker}")) == 1
    assert len(_records_with(running, f"report-{marker}")) == MAX_RECEIVE_COUNT
    assert json.loads(dead["Body"])["behaviour"] == "report"


def test_rate_schedule_fires_with_the_scheduled_event_shape(running: Running) -> None:
    # When: rate(1 minute) at a time scale of 0.01 fires every 0.6 s
    calls = running.recorder.wait_until(lambda calls: sum(c.kind == "schedule" for c in calls) >= 2)

    # Then
    event = next(c for c in calls if c.kind == "schedule").event
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["account"] == "123456789012"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/pumptest-local-tick-event"]
    assert event["detail"] == {}
    assert not any(c.kind == "cron" for c in calls)
    assert "schedule every 0.6 s → tick" in running.stack.pump.sources
    assert running.stack.pump.trigger_schedule("tick") == (True, None)


def test_start_stack_sets_and_restores_the_app_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    # Given: a developer shell with a real-looking profile and an override
    monkeypatch.setenv("AWS_PROFILE", "someone-real")
    monkeypatch.setenv("SLEEVE_UPLOAD_MAX_BYTES", "1234")
    monkeypatch.setenv("SLEEVE_AWS_ENDPOINT_URL", "http://elsewhere")
    app = Chalice(app_name="empty")  # (Chalice() itself appends to AWS_EXECUTION_ENV)
    before = dict(os.environ)

    # When
    with start_stack(app=app) as stack:
        during = dict(os.environ)

    # Then: config.json's local stage, the shell's SLEEVE_* overrides, the stack's own endpoint; restored afterwards
    assert during["SLEEVE_STAGE"] == "local"
    assert during["SLEEVE_AWS_ENDPOINT_URL"] == stack.moto_url
    assert during["AWS_ENDPOINT_URL"] == stack.moto_url
    assert during["SLEEVE_BUCKET_NAME"] == "sleeve-local-media-123456789012-us-east-1"
    assert during["SLEEVE_UPLOAD_MAX_BYTES"] == "1234"
    assert during["AWS_ACCESS_KEY_ID"] == "testing"
    assert "AWS_PROFILE" not in during
    assert dict(os.environ) == before


@pytest.mark.parametrize("taken_port", ["api_port", "moto_port"])
def test_start_stack_raises_and_cleans_up_when_a_port_is_taken(taken_port: str) -> None:
    import os
    import socket

    app = Chalice(app_name="empty")
    before = dict(os.environ)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            start_stack(app=app, **{taken_port: taken.getsockname()[1]})
    assert dict(os.environ) == before


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        # An unknown, empty or missing identifier makes Lambda retry the whole batch.
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b", "c"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b", "c"}),
        ({"batchItemFailures": [{"id": "a"}]}, {"a", "b", "c"}),
    ],
)
def test_failed_message_ids_follow_lambdas_partial_batch_rules(result: Any, expected: set[str]) -> None:
    assert failed_message_ids(result, ["a", "b", "c"]) == expected


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        (Rate(3, unit=Rate.MINUTES), 180),
        ("cron(0 12 * * ? *)", None),
    ],
)
def test_parse_rate(expression: Any, seconds: int | None) -> None:
    assert parse_rate(expression) == seconds


def test_build_sqs_record_without_message_attributes_has_no_md5_of_them() -> None:
    message = {
        "MessageId": "m",
        "ReceiptHandle": "r",
        "Body": "b",
        "MD5OfBody": "92eb5ffee6ae2fec3ad71c777531578f",
        "Attributes": {
            "ApproximateReceiveCount": "2",
            "SentTimestamp": "1",
            "SenderId": "s",
            "ApproximateFirstReceiveTimestamp": "2",
            "SomethingMotoAdds": "x",
        },
    }
    record = build_sqs_record(message, queue_arn="arn:aws:sqs:us-east-1:123456789012:q", region="us-east-1")
    assert "md5OfMessageAttributes" not in record
    assert record["messageAttributes"] == {}
    assert set(record["attributes"]) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
