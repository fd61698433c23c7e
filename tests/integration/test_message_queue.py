"""MessageQueue against moto's SQS, on the DSP sync queue that infra/template.json declares."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.store.queues import MessageQueue, QueueSendError
from chalicelib.workers.queues import SYNC_QUEUE
from tests.integration.conftest import Aws


def _receive(aws: Aws, queue_name: str) -> list[dict[str, Any]]:
    url = aws.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    messages: list[dict[str, Any]] = []
    while batch := aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        messages += batch
    return messages


def test_a_sent_message_is_received_as_the_same_json(aws: Aws) -> None:
    # Given
    queue = MessageQueue(aws.sqs, SYNC_QUEUE)
    release_id = uuid.UUID("0190c1a2-7b3c-7def-8123-456789abcdef")
    due_at = dt.datetime(2025, 3, 7, 9, 30, tzinfo=dt.UTC)

    # When
    message_id = queue.send({"release_id": release_id, "due_at": due_at, "dsps": ["spotify", "apple_music"]})

    # Then
    (message,) = _receive(aws, SYNC_QUEUE)
    assert message["MessageId"] == message_id
    # Compact, sorted keys, non-JSON values as str: the same message always has the same body
    assert message["Body"] == (
        '{"dsps":["spotify","apple_music"],"due_at":"2025-03-07 09:30:00+00:00",'
        '"release_id":"0190c1a2-7b3c-7def-8123-456789abcdef"}'
    )
    assert json.loads(message["Body"]) == {
        "release_id": str(release_id),
        "due_at": str(due_at),
        "dsps": ["spotify", "apple_music"],
    }


def test_the_queue_url_is_looked_up_once(aws: Aws) -> None:
    # Given
    lookups: list[dict[str, Any]] = []
    aws.sqs.meta.events.register("before-call.sqs.GetQueueUrl", lambda params, **_: lookups.append(params))
    queue = MessageQueue(aws.sqs, SYNC_QUEUE)
    assert lookups == []  # building it makes no call

    # When
    queue.send({"release_id": "r1"})
    queue.send({"release_id": "r2"}, group="alice")

    # Then
    assert len(lookups) == 1
    assert queue.url == aws.sqs.get_queue_url(QueueName=SYNC_QUEUE)["QueueUrl"]
    bodies = sorted(json.loads(m["Body"])["release_id"] for m in _receive(aws, SYNC_QUEUE))
    assert bodies == ["r1", "r2"]


def test_an_unknown_queue_raises_queue_send_error_on_send(aws: Aws) -> None:
    # Given
    queue = MessageQueue(aws.sqs, "sleeve-no-such-queue")

    # When / Then: nothing happens until the first send, which raises one error of Sleeve's tree, caused by SQS's
    with pytest.raises(QueueSendError) as raised:
        queue.send({"release_id": "r1"})
    codes = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
    assert (raised.value.status, raised.value.code) == (503, "queue_unavailable")
    assert raised.value.details["queue"] == "sleeve-no-such-queue"
    assert raised.value.details["error"] in codes
    assert isinstance(raised.value.__cause__, ClientError)


def test_a_queue_deleted_after_its_url_was_cached_raises_queue_send_error(aws: Aws) -> None:
    # Given a queue whose URL the client already looked up
    aws.sqs.create_queue(QueueName="sleeve-short-lived")
    queue = MessageQueue(aws.sqs, "sleeve-short-lived")
    queue.send({"n": 1})

    # When the queue is gone
    aws.sqs.delete_queue(QueueUrl=queue.url)

    # Then the send fails with the same mapped error
    with pytest.raises(QueueSendError) as raised:
        queue.send({"n": 2})
    assert raised.value.details["queue"] == "sleeve-short-lived"
