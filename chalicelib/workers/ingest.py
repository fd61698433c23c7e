"""The ingest workers: S3 → SQS notifications of uploads, and their dead-letter queue.

After an upload's ingest ends (``ready``, ``failed``, or ``skipped`` for a replay), the ingest hooks run
(``container.get_ingest_hooks()``: ``EnhancementService.after_ingest`` ends the job whose result the asset is, or starts
one for a low-resolution cover; the library's hooks end a generation job, link an imported album art…). Each is
idempotent, and so is the ingest: when a hook raises (a transient write failure), SQS delivers the event again, the
ingest answers ``skipped`` and the hooks run again.
"""

from __future__ import annotations

from chalice.app import Blueprint, SQSEvent

from chalicelib.services.storage_keys import parse_upload_key
from chalicelib.workers.queues import INGEST_DEAD_LETTER_QUEUE, INGEST_QUEUE
from chalicelib.workers.s3_events import object_created_records
from chalicelib.workers.sqs_messages import receive_count

#: Ingest outcomes after which the asset's enhancement hook runs (the asset is ours and its ingest has ended).
HOOKED_OUTCOMES = frozenset({"ready", "failed", "skipped"})

bp = Blueprint(__name__)


@bp.on_sqs_message(queue=INGEST_QUEUE, batch_size=1)
def handle_ingest(event: SQSEvent) -> None:
    """One upload notification → the ingest path, then the ingest hooks. Unexpected failures raise, so SQS
    retries, then dead-letters."""
    from chalicelib.container import get_ingest_hooks, get_ingest_service
    from chalicelib.logs import get_worker_logger

    log = get_worker_logger()
    service = get_ingest_service()
    for message in event:
        for record in object_created_records(message.body):
            outcome = service.handle_object_created(record)
            log.info("ingest finished", extra={"key": record.key, "sequencer": record.sequencer, "outcome": outcome})
            parsed = parse_upload_key(record.key)
            if outcome in HOOKED_OUTCOMES and parsed is not None:
                for hook in get_ingest_hooks():
                    hooked = hook.after_ingest(parsed[1])
                    log.info(
                        "ingest hook", extra={"asset_id": parsed[1], "hook": type(hook).__name__, "outcome": hooked}
                    )


@bp.on_sqs_message(queue=INGEST_DEAD_LETTER_QUEUE, batch_size=1)
def handle_ingest_dead_letter(event: SQSEvent) -> None:
    """A notification that failed every retry: its upload ends ``failed`` (``processing_failed``); bytes are kept.
    The ingest hooks run after it (a job whose result this was ends ``failed``, ``result_rejected``)."""
    from chalicelib.container import get_ingest_hooks, get_ingest_service
    from chalicelib.logs import get_worker_logger

    log = get_worker_logger()
    service = get_ingest_service()
    for message in event:
        for record in object_created_records(message.body):
            marked = service.handle_dead_letter(record, receive_count=receive_count(message))
            log.warning("upload dead-lettered", extra={"key": record.key, "marked_failed": marked})
            parsed = parse_upload_key(record.key)
            if marked and parsed is not None:
                # A job's result that failed every ingest ends its job now rather than at the reaper.
                for hook in get_ingest_hooks():
                    hook.after_ingest(parsed[1])
