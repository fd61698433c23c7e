"""MessageQueue.send_batch: SendMessageBatch in tens on moto's SQS; refused entries (which moto never refuses: the
SQS answer is given by botocore's own Stubber, validated against the SQS model) raise QueueSendError."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.store.queues import MessageQueue, QueueSendError
from chalicelib.workers.queues import SYNC_QUEUE
from tests.integration.conftest import Aws


def test_messages_are_sent_in_batches_of_ten_and_all_arrive(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given 25 messages
    queue = MessageQueue(aws.sqs, SYNC_QUEUE)
    sizes: list[int] = []
    original = aws.sqs.send_message_batch

    def counting(**kwargs: Any) -> Any:
        sizes.append(len(kwargs["Entries"]))
        return original(**kwargs)

    monkeypatch.setattr(aws.sqs, "send_message_batch", counting)
    # When they are sent as a batch
    sent = queue.send_batch([{"n": n} for n in range(25)])
    # Then three requests of at most ten carried them, and every one arrives once
    assert (sent, sizes) == (25, [10, 10, 5])
    url = aws.sqs.get_queue_url(QueueName=SYNC_QUEUE)["QueueUrl"]
    bodies: list[int] = []
    while batch := aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            bodies.append(json.loads(message["Body"])["n"])
    assert sorted(bodies) == list(range(25))
    assert queue.send_batch([]) == 0


def test_refused_entries_raise_with_their_positions_and_what_was_sent() -> None:
    # Given SQS accepting the first batch and refusing one entry of the second
    client = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/q"
    stubber = Stubber(client)
    stubber.add_response("get_queue_url", {"QueueUrl": url}, {"QueueName": "q"})
    ok = [{"Id": str(i), "MessageId": f"m{i}", "MD5OfMessageBody": "x"} for i in range(10)]
    stubber.add_response("send_message_batch", {"Successful": ok, "Failed": []})
    stubber.add_response(
        "send_message_batch",
        {
            "Successful": [{"Id": "10", "MessageId": "m10", "MD5OfMessageBody": "x"}],
            "Failed": [{"Id": "11", "SenderFault": False, "Code": "InternalError"}],
        },
    )
    queue = MessageQueue(client, "q")
    # When 12 messages are sent
    with stubber, pytest.raises(QueueSendError) as refused:
        queue.send_batch([{"n": n} for n in range(12)])
    # Then the error names the refused message by position and says how many were sent
    assert refused.value.status == 503 and refused.value.code == "queue_unavailable"
    assert refused.value.details["failed"] == [{"index": 11, "code": "InternalError"}]
    assert refused.value.details["sent"] == 11


def test_an_unknown_queue_raises_queue_send_error(aws: Aws) -> None:
    with pytest.raises(QueueSendError) as refused:
        MessageQueue(aws.sqs, "no-such-queue").send_batch([{"n": 1}])
    assert refused.value.details["queue"] == "no-such-queue"
