"""What the workers read from an SQS record besides its body: its message id and receive count, for their logs and
for the dead-letter handlers (the record shape: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.logging import Logger


def message_id(message: Any) -> str | None:
    """The record's ``messageId``; None when absent."""
    value = message.to_dict().get("messageId")
    return str(value) if value is not None else None


def receive_count(message: Any) -> int | None:
    """The record's ``attributes.ApproximateReceiveCount`` (1 on the first delivery); None when absent or not a
    whole number."""
    value = message.to_dict().get("attributes", {}).get("ApproximateReceiveCount")
    return int(value) if value is not None and str(value).isdecimal() else None


def message_fields(message: Any) -> dict[str, Any]:
    """``{"message_id", "receive_count"}``, the log fields every SQS worker writes."""
    return {"message_id": message_id(message), "receive_count": receive_count(message)}


def message_text(message: Any) -> str:
    """The record's body, or "" when it is not text (a dead-letter handler then logs it as malformed)."""
    return message.body if isinstance(message.body, str) else ""


def fail_dead_letters(messages: Iterable[Any], fail: Callable[[str], bool], log: Logger, what: str) -> None:
    """A dead-letter queue's consumer: each message's text body handed to ``fail`` (the service's
    ``fail_dead_letter``: True when it marked something failed, False for a malformed message, which is dropped), and
    logged as an error ``what`` with ``message_fields`` and ``marked_failed`` (the dead-letter alarm pages someone)."""
    for message in messages:
        marked = fail(message_text(message))
        log.error(what, extra={**message_fields(message), "marked_failed": marked})
