"""The URL-import workers: the imports queue (``import.run``) and its dead-letter queue.

Each handler unwraps its event and calls ``ImportService`` (``services/imports.py``); the service, the SSRF guard
(httpx) and the sniffing are imported inside the handlers, so the API's cold start never loads them.
"""

from __future__ import annotations

from chalice.app import Blueprint, SQSEvent

from chalicelib.workers.queues import IMPORTS_DEAD_LETTER_QUEUE, IMPORTS_QUEUE
from chalicelib.workers.sqs_messages import fail_dead_letters, message_fields, message_text

bp = Blueprint(__name__)


@bp.on_sqs_message(queue=IMPORTS_QUEUE, batch_size=1)
def handle_import(event: SQSEvent) -> None:
    """One imports message (``{"type": "import.run", "asset_id"}`` from ``POST /media/imports``, ``POST /media``'s
    album art or the backfill) → the URL fetched through the guard and its bytes PUT at the asset's upload key (the
    ingest worker takes it from there), or the asset failed with the refusal's code.

    The outcome is logged. AWS failures raise, so SQS delivers the message again after the queue's visibility timeout
    and, after five receives, moves it to the dead-letter queue, whose consumer fails the asset ``dead_lettered``.
    """
    from chalicelib.container import get_import_service
    from chalicelib.logs import get_worker_logger

    log = get_worker_logger()
    service = get_import_service()
    for message in event:
        outcome = service.handle_message(message_text(message))
        log.info("import step finished", extra={**message_fields(message), "outcome": outcome})


@bp.on_sqs_message(queue=IMPORTS_DEAD_LETTER_QUEUE, batch_size=1)
def handle_import_dead_letter(event: SQSEvent) -> None:
    """An imports message that failed every retry: its asset ends ``failed`` (``dead_lettered``). Logged as an error
    (the dead-letter alarm pages someone); a malformed message is logged and dropped."""
    from chalicelib.container import get_import_service
    from chalicelib.logs import get_worker_logger

    service = get_import_service()
    fail_dead_letters(event, service.fail_dead_letter, get_worker_logger(), "import message dead-lettered")
