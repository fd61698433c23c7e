"""Jobs in the single table: ``JOB#{id}`` / ``JOB`` items whose status only moves by conditional updates.

``queued → running → succeeded | failed | canceled`` (``models.jobs``). Every transition is one UpdateItem conditioned
on the status (and, where two workers may race, the attempt or deadline) that was read, and it rewrites the gsi2 key
(``OWNER#{owner}#JOBS#{status}``) in the same update; the sparse gsi3 key (``JOBS_OPEN`` / ``{deadline}#{id}``)
exists only while a job is open, so the reaper's Query sees exactly the open jobs. Success is one transaction with the
original asset's ``enhancement``, conditioned on the job still running: a canceled job stays canceled and its result
is never linked. Raw PynamoDB failures become return values or AppErrors here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.models.domain import AssetEnhancement, Page
from chalicelib.models.jobs import Job, JobError, JobStatus
from chalicelib.store.catalogue_records import sortable_time
from chalicelib.store.cursors import decode_cursor, encode_cursor
from chalicelib.store.dynamo import get_item, update_if
from chalicelib.store.records import AssetRecord, JobRecord, JobsByOwnerIndex, JobsByStatusIndex
from chalicelib.store.transactions import (
    RETRYABLE_ERRORS,
    RETRYABLE_REASONS,
    TransactionFailedError,
    TransientTransactionError,
    connection_to,
)

#: The gsi3 partition of every open (queued or running) job.
OPEN_JOBS = "JOBS_OPEN"
JOB_SK = "JOB"

type SuccessOutcome = Literal["succeeded", "not_running", "original_missing"]


class StoredJob(Job):
    """A job as stored: the public ``Job`` plus the bookkeeping the workers use (``updated_at``, the output claim,
    the output's model label and AI flag while it is ingested, the reaper's re-sends of a queued job)."""

    updated_at: datetime
    output_claimed_at: datetime | None = None
    result_model: str | None = None
    result_ai: bool | None = None
    resends: int = 0

    def public(self) -> Job:
        """The job as the API shows it."""
        return Job.model_validate(self.model_dump(include=set(Job.model_fields)))


def job_partition(job_id: str) -> str:
    """The partition key of a job: ``JOB#{id}``."""
    return f"JOB#{job_id}"


def owner_partition(owner_id: str) -> str:
    """gsi1: every job of an owner."""
    return f"OWNER#{owner_id}#JOBS"


def status_partition(owner_id: str, status: str) -> str:
    """gsi2: an owner's jobs in one status."""
    return f"OWNER#{owner_id}#JOBS#{status}"


def open_key(deadline: datetime, job_id: str) -> str:
    """gsi3 sort key of an open job: its deadline as a sortable UTC string, then its id."""
    return f"{sortable_time(deadline)}#{job_id}"


def _stored(record: JobRecord) -> StoredJob:
    values: dict[str, Any] = dict(record.attribute_values)
    for name in ("input", "error"):
        if values.get(name) is not None:
            values[name] = values[name].as_dict()
    if values.get("input") is None:
        values["input"] = {}
    return StoredJob.model_validate({**values, "id": record.job_id})


def _record(job_id: str) -> JobRecord:
    return JobRecord(pk=job_partition(job_id), sk=JOB_SK)


def _move(job: Job, status: JobStatus, now: datetime) -> list[Any]:
    """The actions every status change makes: the status, its gsi2 partition, ``updated_at``."""
    return [
        JobRecord.status.set(status),
        JobRecord.gsi2pk.set(status_partition(job.owner_id, status)),
        JobRecord.updated_at.set(now),
    ]


def _update(job_id: str, actions: list[Any], condition: Any) -> StoredJob | None:
    """Apply ``actions`` if ``condition`` holds; the job as updated (ALL_NEW), or None when the condition failed."""
    record = _record(job_id)
    if not update_if(record, actions, condition):
        return None
    return _stored(record)


def _transact(build: Callable[[TransactWrite], None]) -> list[str | None] | None:
    """Send one transaction; None when written, else each item's cancellation reason code (None: no failure) in the
    order PynamoDB sends them (puts before updates). Raises ``TransientTransactionError`` for conflicts and
    throttling, ``TransactionFailedError`` for anything but condition failures."""
    meta = JobRecord.Meta
    try:
        with TransactWrite(connection=connection_to(meta.region, meta.host)) as transaction:
            build(transaction)
    except TransactWriteError as exc:
        code = exc.cause_response_code or ""
        if code in RETRYABLE_ERRORS:
            raise TransientTransactionError([code]) from exc
        if code != "TransactionCanceledException":
            raise TransactionFailedError("The job could not be written.", details={"error": code}) from exc
        reasons = [None if r is None or r.code in (None, "None") else r.code for r in exc.cancellation_reasons]
        if any(r in RETRYABLE_REASONS for r in reasons):
            raise TransientTransactionError([r for r in reasons if r]) from exc
        unexpected = sorted({r for r in reasons if r not in (None, "ConditionalCheckFailed")})
        if unexpected:
            raise TransactionFailedError(
                "The job could not be written.", details={"error": code, "reasons": unexpected}
            ) from exc
        return reasons
    return None


class JobRepository:
    """Jobs: GetItem, Queries on gsi1/gsi2/gsi3, and conditional updates (see the module docstring)."""

    # -- create and read ----------------------------------------------------------------------------------------------

    def create(self, job: Job, *, original_asset_id: str | None = None, replaces_job_id: str | None = None) -> bool:
        """Put a new ``queued`` job (open in gsi3 until ``job.deadline_at``).

        With ``original_asset_id``: in the same transaction the original asset's ``enhancement_job_id`` becomes this
        job, conditioned on it being absent or ``replaces_job_id`` (the ended job the caller read), so an original has
        one open enhancement at a time. Returns False (nothing written) when that condition failed.
        """
        now = job.created_at
        created = sortable_time(job.created_at)
        deadline = job.deadline_at or now
        record = JobRecord(
            pk=job_partition(job.id),
            sk=JOB_SK,
            gsi1pk=owner_partition(job.owner_id),
            gsi1sk=f"{created}#{job.id}",
            gsi2pk=status_partition(job.owner_id, job.status),
            gsi2sk=f"{created}#{job.id}",
            gsi3pk=OPEN_JOBS,
            gsi3sk=open_key(deadline, job.id),
            job_id=job.id,
            updated_at=now,
            error=job.error.model_dump() if job.error else None,
            **job.model_dump(include=set(Job.model_fields) - {"id", "error"}),
        )
        if original_asset_id is None:
            record.save(condition=JobRecord.pk.does_not_exist())
            return True
        holder = AssetRecord.enhancement_job_id
        free = (
            holder.does_not_exist()
            if replaces_job_id is None
            else holder.does_not_exist() | (holder == replaces_job_id)
        )

        def build(transaction: TransactWrite) -> None:
            transaction.save(record, condition=JobRecord.pk.does_not_exist())
            transaction.update(
                AssetRecord(pk=f"ASSET#{original_asset_id}", sk="ASSET"),
                actions=[holder.set(job.id), AssetRecord.updated_at.set(now)],
                condition=AssetRecord.pk.exists() & free,
            )

        reasons = _transact(build)
        if reasons is None:
            return True
        if reasons[0] is not None:
            raise TransactionFailedError("A job with this id exists.", details={"job_id": job.id})
        return False

    def get(self, job_id: str) -> StoredJob | None:
        """The job (strongly consistent GetItem), or None."""
        record = get_item(JobRecord, job_partition(job_id), JOB_SK)
        return _stored(record) if record else None

    def list_for_owner(
        self, owner_id: str, *, status: JobStatus | None, kind: str | None, limit: int, cursor: str | None
    ) -> Page:
        """An owner's jobs, newest first, as public ``Job`` items: a Query on gsi2 (``status`` given) or gsi1.

        ``kind`` is a FilterExpression on that Query: DynamoDB applies it after ``limit`` items are read, so a page
        may hold fewer than ``limit`` (even none) with a ``next_cursor``. Raises ``InvalidError`` (``invalid_cursor``)
        for a cursor this list did not issue.
        """
        index: JobsByOwnerIndex | JobsByStatusIndex
        if status is None:
            partition, attr, index = owner_partition(owner_id), "gsi1pk", JobRecord.by_owner
        else:
            partition, attr, index = status_partition(owner_id, status), "gsi2pk", JobRecord.by_status
        list_name = f"jobs-{attr.removesuffix('pk')}-{kind or 'all'}"
        start = decode_cursor(cursor, partition_attr=attr, partition_value=partition, list_name=list_name)
        result = index.query(
            partition,
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=start,
            filter_condition=(JobRecord.kind == kind) if kind else None,
        )
        items = [_stored(record).public() for record in result]
        return Page(items=items, next_cursor=encode_cursor(result.last_evaluated_key, list_name=list_name))

    # -- transitions --------------------------------------------------------------------------------------------------

    def start(self, job: Job, *, now: datetime, deadline: datetime) -> StoredJob | None:
        """``queued → running``: ``attempts`` + 1, ``started_at`` ``now``, the new ``deadline`` (gsi3 moves with it);
        a previous run's output claim and prediction id are cleared. None when the job is not queued."""
        actions = [
            *_move(job, "running", now),
            JobRecord.attempts.add(1),
            JobRecord.started_at.set(now),
            JobRecord.deadline_at.set(deadline),
            JobRecord.gsi3sk.set(open_key(deadline, job.id)),
            JobRecord.external_id.remove(),
            JobRecord.output_claimed_at.remove(),
            JobRecord.result_model.remove(),
            JobRecord.result_ai.remove(),
        ]
        return _update(job.id, actions, JobRecord.status == "queued")

    def set_external(self, job: StoredJob, *, external_id: str, model: str, now: datetime) -> bool:
        """Record the provider's prediction id and the model it runs, while the run that started it (``attempts``)
        is still the job's running one."""
        condition = (JobRecord.status == "running") & (JobRecord.attempts == job.attempts)
        actions = [
            JobRecord.external_id.set(external_id),
            JobRecord.model.set(model),
            JobRecord.updated_at.set(now),
        ]
        return update_if(_record(job.id), actions, condition)

    def claim_output(self, job: Job, *, now: datetime, lease: timedelta, external_id: str | None = None) -> bool:
        """Claim the job's output for ingest, once: True for the first report while the job runs (and, with
        ``external_id``, still names that prediction); a later report gets False unless ``lease`` passed since the
        claim (the worker that claimed it died)."""
        condition = (JobRecord.status == "running") & (
            JobRecord.output_claimed_at.does_not_exist() | (JobRecord.output_claimed_at < now - lease)
        )
        if external_id is not None:
            condition = condition & (JobRecord.external_id == external_id)
        actions = [JobRecord.output_claimed_at.set(now), JobRecord.updated_at.set(now)]
        return update_if(_record(job.id), actions, condition)

    def release_output(self, job: Job, *, now: datetime) -> bool:
        """Give a claim back (its download failed for a passing reason; the retry claims it again)."""
        actions = [JobRecord.output_claimed_at.remove(), JobRecord.updated_at.set(now)]
        return update_if(_record(job.id), actions, JobRecord.status == "running")

    def note_output(self, job: Job, *, model: str, ai: bool, now: datetime) -> bool:
        """Record the label (``real-esrgan-x4plus+lanczos``…) and AI flag of the output about to be ingested."""
        actions = [JobRecord.result_model.set(model), JobRecord.result_ai.set(ai), JobRecord.updated_at.set(now)]
        return update_if(_record(job.id), actions, JobRecord.status == "running")

    def succeed(self, job: Job, *, enhancement: AssetEnhancement, original_asset_id: str) -> SuccessOutcome:
        """``running → succeeded`` with ``result_asset_id`` and ``finished_at`` (``enhancement.enhanced_at``), and the
        original asset's ``enhancement`` set, in ONE transaction conditioned on the job running.

        ``not_running``: the job had ended (canceled, failed, or this is a duplicate report): nothing written.
        ``original_missing``: the original asset is gone (its release was deleted): nothing written.
        """
        now = enhancement.enhanced_at
        job_actions = [
            *_move(job, "succeeded", now),
            JobRecord.result_asset_id.set(enhancement.asset_id),
            JobRecord.finished_at.set(now),
            JobRecord.gsi3pk.remove(),
            JobRecord.gsi3sk.remove(),
        ]

        def build(transaction: TransactWrite) -> None:
            transaction.update(_record(job.id), actions=job_actions, condition=JobRecord.status == "running")
            transaction.update(
                AssetRecord(pk=f"ASSET#{original_asset_id}", sk="ASSET"),
                actions=[
                    AssetRecord.enhancement.set(enhancement.model_dump(mode="json")),
                    AssetRecord.updated_at.set(now),
                ],
                condition=AssetRecord.pk.exists(),
            )

        reasons = _transact(build)
        if reasons is None:
            return "succeeded"
        return "not_running" if reasons[0] is not None else "original_missing"

    def succeed_alone(self, job: Job, *, now: datetime) -> StoredJob | None:
        """``running → succeeded`` with ``finished_at`` (gsi3 removed) for a job with no original to link (a
        generation: its ``result_asset_id`` was chosen when it was created); None when it was not running."""
        return self._end(job, "succeeded", now, ("running",), [])

    def fail(
        self, job: Job, *, error: JobError, now: datetime, only_if: tuple[JobStatus, ...] = ("queued", "running")
    ) -> StoredJob | None:
        """``queued | running → failed`` with ``error`` and ``finished_at`` (gsi3 removed); None when the job was
        not in ``only_if`` any more (it ended meanwhile)."""
        return self._end(job, "failed", now, only_if, [JobRecord.error.set(error.model_dump())])

    def cancel(self, job: Job, *, now: datetime) -> StoredJob | None:
        """``queued | running → canceled`` (gsi3 removed); None when it had ended already."""
        return self._end(job, "canceled", now, ("queued", "running"), [])

    def _end(
        self, job: Job, status: JobStatus, now: datetime, only_if: tuple[JobStatus, ...], extra: list[Any]
    ) -> StoredJob | None:
        actions = [
            *_move(job, status, now),
            JobRecord.finished_at.set(now),
            JobRecord.gsi3pk.remove(),
            JobRecord.gsi3sk.remove(),
            *extra,
        ]
        return _update(job.id, actions, JobRecord.status.is_in(*only_if))

    def requeue(self, job: StoredJob, *, now: datetime, deadline: datetime) -> StoredJob | None:
        """Back to ``queued`` with a new ``deadline`` (a running job whose run died or whose provider failed for a
        passing reason; a queued job whose message the reaper sends again, counted in ``resends``). Conditioned on
        the status, attempts and deadline read, so of two reapers only one acts; None for the other."""
        condition = (JobRecord.status == job.status) & (JobRecord.attempts == job.attempts)
        if job.deadline_at is not None:
            condition = condition & (JobRecord.deadline_at == job.deadline_at)
        actions = [
            *_move(job, "queued", now),
            JobRecord.deadline_at.set(deadline),
            JobRecord.gsi3sk.set(open_key(deadline, job.id)),
            JobRecord.output_claimed_at.remove(),
        ]
        if job.status == "queued":
            actions.append(JobRecord.resends.add(1))
        return _update(job.id, actions, condition)

    # -- the reaper and the poller ------------------------------------------------------------------------------------

    def open_past_deadline(self, now: datetime, *, limit: int, cursor: str | None) -> Page:
        """One page (at most ``limit``) of the open jobs whose deadline is at or before ``now``, earliest first: a
        Query on the sparse gsi3 (``gsi3pk = JOBS_OPEN AND gsi3sk <= {now}#~``), never a Scan. Items are
        ``StoredJob``."""
        start = decode_cursor(cursor, partition_attr="gsi3pk", partition_value=OPEN_JOBS, list_name="jobs-open")
        result = JobRecord.open_jobs.query(
            OPEN_JOBS, JobRecord.gsi3sk <= f"{sortable_time(now)}#~", limit=limit, last_evaluated_key=start
        )
        items = [_stored(record) for record in result]
        return Page(items=items, next_cursor=encode_cursor(result.last_evaluated_key, list_name="jobs-open"))

    def running_replicate_jobs(self, started_before: datetime, *, limit: int) -> list[StoredJob]:
        """Running Replicate jobs with a prediction id and no output claimed yet, started at or before
        ``started_before`` (the poller): the open jobs of gsi3 read page by page with a FilterExpression, at most
        ``limit`` returned."""
        condition = (
            (JobRecord.status == "running")
            & (JobRecord.provider == "replicate")
            & JobRecord.external_id.exists()
            & JobRecord.output_claimed_at.does_not_exist()
            & (JobRecord.started_at <= started_before)
        )
        found: list[StoredJob] = []
        for record in JobRecord.open_jobs.query(OPEN_JOBS, filter_condition=condition):
            found.append(_stored(record))
            if len(found) >= limit:
                break
        return found
