"""The release cleanup workers: the cleanup queue, its dead-letter queue, and the sweep that re-sends lost cleanups."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Rate, SQSEvent

from chalicelib.workers.queues import CLEANUP_DEAD_LETTER_QUEUE, CLEANUP_QUEUE
from chalicelib.workers.sqs_messages import message_id, message_text, receive_count

bp = Blueprint(__name__)


@bp.on_sqs_message(queue=CLEANUP_QUEUE, batch_size=1)
def handle_cleanup(event: SQSEvent) -> None:
    """One ``release_cleanup`` message → everything of the deleted release removed (``CleanupService``).

    A malformed message or one naming a release that still exists is logged and dropped; an AWS failure raises, so
    SQS retries the message and finally moves it to the dead-letter queue.
    """
    from chalicelib.container import get_cleanup_service
    from chalicelib.logs import get_worker_logger

    log = get_worker_logger()
    service = get_cleanup_service()
    for message in event:
        outcome = service.handle_message(message.body)
        log.info("release cleanup finished", extra={"message_id": message_id(message), "outcome": outcome})


@bp.on_sqs_message(queue=CLEANUP_DEAD_LETTER_QUEUE, batch_size=1)
def handle_cleanup_dead_letter(event: SQSEvent) -> None:
    """A cleanup that failed every retry: logged as an error (the DLQ alarm pages someone). Never raises, whatever the
    message holds: its marker stays, so the sweep sends the cleanup again once the cause is fixed."""
    from chalicelib.logs import get_worker_logger
    from chalicelib.services.cleanup import parse_cleanup_message

    log = get_worker_logger()
    for message in event:
        parsed = parse_cleanup_message(message_text(message))
        log.error(
            "release cleanup dead-lettered",
            extra={
                "message_id": message_id(message),
                "release_id": parsed.release_id if parsed else None,
                "malformed": parsed is None,
                "receive_count": receive_count(message),
            },
        )


@bp.schedule(Rate(15, unit=Rate.MINUTES))
def resend_pending_cleanups(event: Any) -> None:
    """Every 15 minutes: send again the cleanup of every release deleted more than 15 minutes ago whose marker is
    still there (its message was lost, or dead-lettered and the cause since fixed)."""
    from chalicelib.container import get_cleanup_service
    from chalicelib.logs import get_worker_logger
    from chalicelib.store.dynamo import utcnow

    sent = get_cleanup_service().resend_pending(utcnow())
    get_worker_logger().info("pending release cleanups re-sent", extra={"sent": sent})
