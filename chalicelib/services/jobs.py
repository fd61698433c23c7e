"""The job routes' service: read, list and cancel an owner's jobs (``GET /jobs``, ``GET /jobs/{id}``,
``POST /jobs/{id}/cancel``), and the interfaces the job kinds share: the queue a kind's messages go to and the
``JobDriver`` through which the shared reaper, poller, webhook and jobs worker (``services/enhancement.py``) hand a
kind's jobs (``generate``: ``services/generation.py``) to its service."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.models.domain import Asset, Identity, Page
from chalicelib.models.jobs import JOB_STATUSES, TERMINAL_STATUSES, Job
from chalicelib.providers.base import ProviderFailure
from chalicelib.store.dynamo import utcnow
from chalicelib.store.jobs import JobRepository, StoredJob

log = logging.getLogger(__name__)


def job_not_found(job_id: str) -> NotFoundError:
    """404 ``job_not_found`` (unknown, or another owner's: the same answer)."""
    return NotFoundError("No such job.", code="job_not_found", details={"job_id": job_id})


def cancel_prediction(upscalers: Mapping[str, Any], job: StoredJob) -> None:
    """Ask Replicate (``upscalers["replicate"]``, a ``PredictionClient``) to stop ``job``'s prediction, best effort:
    nothing when there is no Replicate client or prediction; a ``ProviderFailure`` is logged, never raised."""
    client = upscalers.get("replicate")
    if client is None or job.external_id is None:
        return
    try:
        client.cancel_prediction(job.external_id)
    except ProviderFailure as exc:
        log.warning("job %s: the prediction %s could not be canceled: %s", job.id, job.external_id, exc.code)


class JobsQueue(Protocol):
    """The jobs queue (``chalicelib.store.queues.MessageQueue``)."""

    def send(self, message: Mapping[str, Any]) -> str:
        """Send one message; its id. Raises ``QueueSendError``."""
        ...


class JobDriver(Protocol):
    """The service of another job kind (``generate``: ``services.generation.GenerationService``), to which the
    shared reaper, poller, webhook and jobs worker hand that kind's jobs."""

    @property
    def queue(self) -> JobsQueue:
        """The kind's own queue (``job.run`` and ``job.prediction`` of its jobs)."""
        ...

    def handle_message(self, body: str) -> str:
        """One ``job.run``/``job.prediction`` message of the kind; its outcome."""
        ...

    def settle(self, job: StoredJob, result: Asset) -> str:
        """End the job by its result asset's ingest."""
        ...

    def fail(self, job: StoredJob, code: str, message: str) -> str:
        """End the job ``failed`` (discarding a result it made); ``failed`` or ``duplicate``."""
        ...


def no_drivers() -> Mapping[str, JobDriver]:
    """No other job kinds (upscaling only)."""
    return {}


class JobService:
    """An owner's jobs. ``upscalers`` builds the providers (called only to cancel a Replicate prediction, so the
    API's import path never loads httpx otherwise)."""

    def __init__(
        self,
        jobs: JobRepository,
        upscalers: Callable[[], Mapping[str, Any]],
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._jobs = jobs
        self._upscalers = upscalers
        self._now = now

    def _owned(self, identity: Identity, job_id: str) -> StoredJob:
        job = self._jobs.get(job_id)
        if job is None or job.owner_id != identity.subject:
            raise job_not_found(job_id)
        return job

    def get(self, identity: Identity, job_id: str) -> Job:
        """The caller's job; ``NotFoundError`` (``job_not_found``, 404) when unknown or another owner's."""
        return self._owned(identity, job_id).public()

    def list(self, identity: Identity, *, status: str | None, kind: str | None, limit: int, cursor: str | None) -> Page:
        """The caller's jobs, newest first (``JobRepository.list_for_owner``: a Query on gsi2 with ``status``, else
        gsi1; ``kind`` filters that Query). Raises ``InvalidError`` (``invalid_cursor``) for a foreign cursor."""
        chosen = next((s for s in JOB_STATUSES if s == status), None)
        return self._jobs.list_for_owner(identity.subject, status=chosen, kind=kind, limit=limit, cursor=cursor)

    def cancel(self, identity: Identity, job_id: str) -> Job:
        """Cancel the caller's queued or running job (a conditional write): its result, should one still arrive, is
        never ingested nor linked. A Replicate prediction is asked to stop, best effort. Raises ``NotFoundError``
        (``job_not_found``) and ``ConflictError`` (``job_finished``, 409, ``details.status``) for an ended job."""
        job = self._owned(identity, job_id)
        canceled = None if job.status in TERMINAL_STATUSES else self._jobs.cancel(job, now=self._now())
        if canceled is None:
            current = self._jobs.get(job_id) or job
            raise ConflictError(
                "The job has already ended.", code="job_finished", details={"job_id": job_id, "status": current.status}
            )
        if canceled.provider == "replicate" and canceled.external_id:
            cancel_prediction(self._upscalers(), canceled)
        return canceled.public()
