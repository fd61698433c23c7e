"""The DSP sync workers: the sync queue, its dead-letter queue, and the schedule that queues the releases due for sync.

Each handler unwraps its event and calls ``DspSyncService`` (``services/dsp_sync.py``); the service, the providers
and their httpx clients are imported inside the handlers, so the API's cold start never loads them.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Rate, SQSEvent

from chalicelib.workers.queues import DSP_SYNC_SCHEDULE_MINUTES, SYNC_DEAD_LETTER_QUEUE, SYNC_QUEUE
from chalicelib.workers.sqs_messages import fail_dead_letters, message_fields

bp = Blueprint(__name__)


@bp.on_sqs_message(queue=SYNC_QUEUE, batch_size=1)
def handle_dsp_sync(event: SQSEvent) -> None:
    """One ``dsp_sync`` message (``{"type": "dsp_sync", "release_id", "owner_id", "reason", "requested_at"}``, sent
    by release-now, ``POST /releases/{id}/sync`` and the schedule) → one sync of the release with the DSPs.

    The outcome (``synced``, ``conflicts``, ``duplicate``, ``gone``, ``not_released``, ``malformed``,
    ``no_providers``) is logged. ``SyncRetryError`` (every configured provider failed for a transient reason) and AWS
    failures raise, so SQS makes the message visible again after the queue's visibility timeout and, after five
    receives, moves it to the dead-letter queue (infra/template.json).
    """
    from chalicelib.container import get_dsp_sync_service
    from chalicelib.logs import get_worker_logger
    from chalicelib.services.dsp_sync import SyncRetryError

    log = get_worker_logger()
    service = get_dsp_sync_service()
    for message in event:
        where = message_fields(message)
        try:
            outcome = service.handle_message(message.body)
        except SyncRetryError as exc:
            # Raised on purpose: SQS delivers the message again; the receive count says how close the DLQ is.
            log.warning("dsp sync will be retried", extra={**where, "services": exc.details.get("services")})
            raise
        log.info("dsp sync finished", extra={**where, "outcome": outcome})


@bp.on_sqs_message(queue=SYNC_DEAD_LETTER_QUEUE, batch_size=1)
def handle_dsp_sync_dead_letter(event: SQSEvent) -> None:
    """A sync message that failed every retry: the release's sync state ends ``failed`` (``dead_lettered``) and it is
    due again after ``dsp_retry_interval_s``. Logged as an error (the dead-letter alarm pages someone); a malformed
    message is logged and dropped (the service returns False, never raises on it)."""
    from chalicelib.container import get_dsp_sync_service
    from chalicelib.logs import get_worker_logger

    fail_dead_letters(event, get_dsp_sync_service().fail_dead_letter, get_worker_logger(), "dsp sync dead-lettered")


@bp.schedule(Rate(DSP_SYNC_SCHEDULE_MINUTES, unit=Rate.MINUTES))
def enqueue_due_dsp_syncs(event: Any) -> None:
    """Every ``DSP_SYNC_SCHEDULE_MINUTES`` minutes (``SLEEVE_DSP_SYNC_SCHEDULE_MINUTES``, default 60): queue one sync
    message per release whose sync is due (Query on the sparse gsi3 index, never a Scan; sent in SQS batches of 10,
    at most ``dsp_schedule_max_per_run`` a run). A release whose message is lost stays due and is picked up again."""
    from chalicelib.container import get_dsp_sync_service
    from chalicelib.logs import get_worker_logger
    from chalicelib.store.dynamo import utcnow

    sent = get_dsp_sync_service().enqueue_due(utcnow())
    get_worker_logger().info("due dsp syncs queued", extra={"sent": sent})
