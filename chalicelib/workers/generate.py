"""The generate workers: the generate queue (``job.run``, ``job.prediction`` of ``generate`` jobs) and its dead-letter
queue. The reaper and the prediction poller are the jobs workers' (``workers/jobs.py``), which hand generate jobs to
the same service.

Each handler unwraps its event and calls ``GenerationService`` (``services/generation.py``); the service, the
generators, Pillow and httpx are imported inside the handlers, so the API's cold start never loads them.
"""

from __future__ import annotations

from chalice.app import Blueprint, SQSEvent

from chalicelib.workers.queues import GENERATE_DEAD_LETTER_QUEUE, GENERATE_QUEUE
from chalicelib.workers.sqs_messages import fail_dead_letters, message_fields

bp = Blueprint(__name__)


@bp.on_sqs_message(queue=GENERATE_QUEUE, batch_size=1)
def handle_generate(event: SQSEvent) -> None:
    """One generate message (``{"type": "job.run", "job_id"}`` from ``POST /media/generate`` or the reaper;
    ``{"type": "job.prediction", "job_id", "prediction"}`` from the Replicate webhook or the poller) → one step of
    the job.

    The outcome is logged. A transient provider failure (the job was put back to ``queued``) and AWS failures raise,
    so SQS delivers the message again after the queue's visibility timeout and, after five receives, moves it to the
    dead-letter queue, whose consumer ends the job ``failed``.
    """
    from chalicelib.container import get_generation_service
    from chalicelib.logs import get_worker_logger
    from chalicelib.providers.base import ProviderFailure

    log = get_worker_logger()
    service = get_generation_service()
    for message in event:
        where = message_fields(message)
        try:
            outcome = service.handle_message(message.body)
        except ProviderFailure as exc:
            # Raised on purpose: SQS delivers the message again; the receive count says how close the DLQ is.
            log.warning("generate step will be retried", extra={**where, "code": exc.code, "service": exc.service})
            raise
        log.info("generate step finished", extra={**where, "outcome": outcome})


@bp.on_sqs_message(queue=GENERATE_DEAD_LETTER_QUEUE, batch_size=1)
def handle_generate_dead_letter(event: SQSEvent) -> None:
    """A generate message that failed every retry: its job ends ``failed`` (``dead_lettered``) and a result it made
    is discarded. Logged as an error (the dead-letter alarm pages someone); a malformed message is logged and
    dropped."""
    from chalicelib.container import get_generation_service
    from chalicelib.logs import get_worker_logger

    service = get_generation_service()
    fail_dead_letters(event, service.fail_dead_letter, get_worker_logger(), "generate message dead-lettered")
