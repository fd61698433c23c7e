"""The jobs workers: the jobs queue (``job.run``, ``job.prediction``), its dead-letter queue, the reaper and the
prediction poller.

Each handler unwraps its event and calls ``EnhancementService`` (``services/enhancement.py``); the service, the
upscalers and their httpx clients are imported inside the handlers, so the API's cold start never loads them.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Rate, SQSEvent

from chalicelib.workers.queues import JOBS_DEAD_LETTER_QUEUE, JOBS_QUEUE, JOBS_SCHEDULE_MINUTES
from chalicelib.workers.sqs_messages import fail_dead_letters, message_fields

bp = Blueprint(__name__)


@bp.on_sqs_message(queue=JOBS_QUEUE, batch_size=1)
def handle_job(event: SQSEvent) -> None:
    """One jobs message (``{"type": "job.run", "job_id"}`` from a request, an ingest or the reaper;
    ``{"type": "job.prediction", "job_id", "prediction"}`` from the webhook or the poller) → one step of the job.

    The outcome is logged. A transient provider failure (the job was put back to ``queued``) and AWS failures raise,
    so SQS delivers the message again after the queue's visibility timeout and, after five receives, moves it to the
    dead-letter queue, whose consumer ends the job ``failed``.
    """
    from chalicelib.container import get_enhancement_service
    from chalicelib.logs import get_worker_logger
    from chalicelib.providers.base import ProviderFailure

    log = get_worker_logger()
    service = get_enhancement_service()
    for message in event:
        where = message_fields(message)
        try:
            outcome = service.handle_message(message.body)
        except ProviderFailure as exc:
            # Raised on purpose: SQS delivers the message again; the receive count says how close the DLQ is.
            log.warning("job step will be retried", extra={**where, "code": exc.code, "service": exc.service})
            raise
        log.info("job step finished", extra={**where, "outcome": outcome})


@bp.on_sqs_message(queue=JOBS_DEAD_LETTER_QUEUE, batch_size=1)
def handle_job_dead_letter(event: SQSEvent) -> None:
    """A jobs message that failed every retry: its job ends ``failed`` (``dead_lettered``). Logged as an error (the
    dead-letter alarm pages someone); a malformed message is logged and dropped."""
    from chalicelib.container import get_enhancement_service
    from chalicelib.logs import get_worker_logger

    service = get_enhancement_service()
    fail_dead_letters(event, service.fail_dead_letter, get_worker_logger(), "job message dead-lettered")


@bp.schedule(Rate(JOBS_SCHEDULE_MINUTES, unit=Rate.MINUTES))
def reap_jobs(event: Any) -> None:
    """Every ``JOBS_SCHEDULE_MINUTES`` minutes (``SLEEVE_JOBS_SCHEDULE_MINUTES``, default 5): end or re-queue the
    open jobs past their deadline (Query on the sparse gsi3, never a Scan), so nothing stays queued or running."""
    from chalicelib.container import get_enhancement_service
    from chalicelib.logs import get_worker_logger
    from chalicelib.store.dynamo import utcnow

    handled = get_enhancement_service().reap(utcnow())
    get_worker_logger().info("jobs past their deadline handled", extra={"handled": handled})


@bp.schedule(Rate(JOBS_SCHEDULE_MINUTES, unit=Rate.MINUTES))
def poll_predictions(event: Any) -> None:
    """Every ``JOBS_SCHEDULE_MINUTES`` minutes: ask Replicate about running predictions whose webhook has not come
    for ``replicate_poll_after_s``; finished ones are queued as ``job.prediction``."""
    from chalicelib.container import get_enhancement_service
    from chalicelib.logs import get_worker_logger
    from chalicelib.store.dynamo import utcnow

    asked = get_enhancement_service().poll(utcnow())
    get_worker_logger().info("running predictions asked", extra={"asked": asked})
