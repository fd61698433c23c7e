"""The legacy backfill's workers (issue 11): one item per message from the backfill queue, and its dead letters.

The messages come from the operator's ``python -m chalicelib.cli backfill`` (``services/backfill.py``).
"""

from __future__ import annotations

from chalice.app import Blueprint, SQSEvent

from chalicelib.workers.queues import BACKFILL_DEAD_LETTER_QUEUE, BACKFILL_QUEUE
from chalicelib.workers.sqs_messages import fail_dead_letters, message_fields

bp = Blueprint(__name__)


@bp.on_sqs_message(queue=BACKFILL_QUEUE, batch_size=1)
def handle_backfill(event: SQSEvent) -> None:
    """One ``backfill.release`` or ``backfill.asset`` message → ``BackfillService.handle_message`` (idempotent:
    conditional writes, so a redelivery changes nothing). A malformed message is logged and dropped; a failure raises,
    so SQS retries it and, after five receives, moves it to the dead-letter queue."""
    from chalicelib.container import get_backfill_service
    from chalicelib.logs import get_worker_logger

    log = get_worker_logger()
    service = get_backfill_service()
    for message in event:
        outcome = service.handle_message(message.body)
        log.info("backfill item handled", extra={**message_fields(message), "outcome": outcome})


@bp.on_sqs_message(queue=BACKFILL_DEAD_LETTER_QUEUE, batch_size=1)
def handle_backfill_dead_letter(event: SQSEvent) -> None:
    """A backfill message that failed every retry: counted in the backfill checkpoint (``dead_lettered``, which the
    next ``backfill`` run prints) and logged as an error (the DLQ alarm pages someone). Its item is still legacy, so
    the next pass sends it again. Never raises for a malformed message (logged with ``marked_failed`` false)."""
    from chalicelib.container import get_backfill_service
    from chalicelib.logs import get_worker_logger

    fail_dead_letters(
        event, get_backfill_service().note_dead_letter, get_worker_logger(), "backfill item dead-lettered"
    )
