"""Job routes: the caller's asynchronous jobs (AI upscaling now, generation next): list, read, cancel.

The work happens in ``services/jobs.py`` (``JobService``) and the jobs worker (``workers/jobs.py``); these views parse,
call the service and serialise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint

from chalicelib.api.contract import Answer, Query, Reply, operation
from chalicelib.api.releases import Cursor, Limit
from chalicelib.api.responses import identity_of
from chalicelib.models.jobs import Job, JobKind, JobStatus
from chalicelib.models.views import JobPage

if TYPE_CHECKING:
    from chalicelib.services.jobs import JobService

bp = Blueprint(__name__)

TAG = "jobs"


class ListJobsQuery(Query):
    """``GET /jobs``: optional ``status`` and ``kind`` filters, ``limit`` (1..100, default 20) and ``cursor``."""

    status: JobStatus | None = None
    kind: JobKind | None = None
    limit: Limit = 20
    cursor: Cursor | None = None


def _service() -> JobService:
    """The container's job service, looked up per call (tests swap the container's factory)."""
    from chalicelib import container

    return container.get_job_service()


@operation(
    bp,
    "GET",
    "/jobs",
    tag=TAG,
    query=ListJobsQuery,
    answers=[Answer(200, JobPage)],
    errors=["invalid_cursor"],
)
def list_jobs(query: ListJobsQuery) -> Reply:
    """List the caller's jobs.

    Newest first, optionally only those in one ``status`` and of one ``kind``; follow ``next_cursor`` for the next
    page. A page may hold fewer than ``limit`` jobs when ``kind`` filters some out: only a null ``next_cursor`` ends
    the list.
    """
    page = _service().list(
        identity_of(bp.current_request), status=query.status, kind=query.kind, limit=query.limit, cursor=query.cursor
    )
    return Reply(JobPage(items=page.items, next_cursor=page.next_cursor))


@operation(bp, "GET", "/jobs/{job_id}", tag=TAG, answers=[Answer(200, Job)], errors=["job_not_found"])
def get_job(job_id: str) -> Reply:
    """Read a job.

    Its ``status`` (``queued``, ``running``, ``succeeded``, ``failed`` with ``error``, ``canceled``), the provider and
    model that run it, its attempts, deadline and, once it succeeded, ``result_asset_id``. Only its owner sees it.
    """
    return Reply(_service().get(identity_of(bp.current_request), job_id))


@operation(
    bp,
    "POST",
    "/jobs/{job_id}/cancel",
    tag=TAG,
    answers=[Answer(200, Job)],
    errors=["job_not_found", "job_finished"],
)
def cancel_job(job_id: str) -> Reply:
    """Cancel a job.

    A ``queued`` or ``running`` job ends ``canceled`` (a Replicate prediction is asked to stop, best effort); a result
    that arrives afterwards is not used. A job that has already ended answers 409 ``job_finished``.
    """
    return Reply(_service().cancel(identity_of(bp.current_request), job_id))
