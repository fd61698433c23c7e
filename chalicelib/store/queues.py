"""The SQS queue client: JSON messages sent to a queue known by name (its URL is looked up once)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import AppError

#: SQS SendMessageBatch takes at most ten entries (Amazon SQS API reference, *SendMessageBatch*).
SQS_BATCH_SIZE = 10


class QueueSendError(AppError):
    """A message could not be handed to SQS (503 ``queue_unavailable``): the queue is unknown, access was denied, the
    body too large, or the endpoint unreachable. ``details``: ``queue`` and the SQS ``error`` code (or the botocore
    exception's name). The original botocore error is the ``__cause__``.
    """

    status = 503
    default_code = "queue_unavailable"


class MessageQueue:
    """One queue, by ``queue_name``, through an injected boto3 SQS client (moto's endpoint locally and in tests).

    The URL is resolved with GetQueueUrl on the first :meth:`send` and cached, so building a ``MessageQueue`` makes no
    call (cold starts that never send pay nothing) and settings carry a name, not an account-specific URL.
    """

    def __init__(self, sqs_client: Any, queue_name: str) -> None:
        self._sqs = sqs_client
        self.queue_name = queue_name
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The queue URL, looked up on first use.

        Raises ``botocore.exceptions.ClientError`` (code ``AWS.SimpleQueueService.NonExistentQueue``) when no queue has
        that name (``send`` maps it to ``QueueSendError``); a failed lookup is not cached.
        """
        if self._url is None:
            self._url = str(self._sqs.get_queue_url(QueueName=self.queue_name)["QueueUrl"])
        return self._url

    def send(self, message: Mapping[str, Any], *, group: str | None = None) -> str:
        """Send ``message`` as compact JSON (sorted keys; dates, UUIDs and other non-JSON values as ``str``).

        ``group`` becomes the ``MessageGroupId``: required by FIFO queues, and on standard queues the tenant key of
        SQS fair queues. Returns the ``MessageId`` SQS assigned. The body must stay within the queue's maximum message
        size (256 KiB by default).

        Raises ``QueueSendError`` for every botocore failure of the URL lookup or the send (``ClientError``: unknown
        queue, message too large, access denied; ``BotoCoreError``: endpoint unreachable, timeouts), mapped here once.
        """
        body = json.dumps(message, separators=(",", ":"), sort_keys=True, default=str)
        try:
            kwargs: dict[str, Any] = {"QueueUrl": self.url, "MessageBody": body}
            if group is not None:
                kwargs["MessageGroupId"] = group
            response = self._sqs.send_message(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
            raise QueueSendError(
                f"Could not send to the {self.queue_name} queue.", details={"queue": self.queue_name, "error": code}
            ) from exc
        except BotoCoreError as exc:
            raise QueueSendError(
                f"Could not reach the {self.queue_name} queue.",
                details={"queue": self.queue_name, "error": type(exc).__name__},
            ) from exc
        return str(response["MessageId"])

    def send_batch(self, messages: Sequence[Mapping[str, Any]]) -> int:
        """Send ``messages`` (JSON, as :meth:`send` encodes them) with SendMessageBatch, ten per request (SQS's limit
        per batch); returns how many SQS accepted.

        Raises ``QueueSendError`` when a request fails (as :meth:`send`) or when SQS refuses entries of a batch
        (``details``: ``queue``, ``failed`` ``[{"index", "code"}]`` by position in ``messages``, ``sent`` so far);
        the batches before it were sent, the ones after it are not.
        """
        sent = 0
        for start in range(0, len(messages), SQS_BATCH_SIZE):
            batch = messages[start : start + SQS_BATCH_SIZE]
            entries = [
                {"Id": str(start + i), "MessageBody": json.dumps(m, separators=(",", ":"), sort_keys=True, default=str)}
                for i, m in enumerate(batch)
            ]
            try:
                response = self._sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
                raise QueueSendError(
                    f"Could not send to the {self.queue_name} queue.",
                    details={"queue": self.queue_name, "error": code, "sent": sent},
                ) from exc
            except BotoCoreError as exc:
                raise QueueSendError(
                    f"Could not reach the {self.queue_name} queue.",
                    details={"queue": self.queue_name, "error": type(exc).__name__, "sent": sent},
                ) from exc
            sent += len(response.get("Successful", []))
            failed = response.get("Failed", [])
            if failed:
                raise QueueSendError(
                    f"The {self.queue_name} queue refused {len(failed)} of a batch of {len(batch)} messages.",
                    details={
                        "queue": self.queue_name,
                        "failed": [{"index": int(f["Id"]), "code": str(f.get("Code", ""))} for f in failed],
                        "sent": sent,
                    },
                )
        return sent
