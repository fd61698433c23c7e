"""AI enhancement of release covers: the request and the owner's preferences (routes), the automatic start after
ingest, the webhook hand-off, the jobs worker, its dead-letter consumer, the reaper and the poller.

The flow (/work/notes/issue10/SPEC.md, README "Jobs"): a request or an ingest of a cover under
``auto_enhance_below_px`` creates a ``queued`` job, sets the original's ``enhancement_job_id`` in the same
transaction (one open enhancement per original) and sends ``job.run``; the worker runs it (``enhancement_run``);
its result goes through the one ingest path and ``after_ingest`` ends the job. The policy is ``enhancement_policy``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import ValidationError

from chalicelib.config import Settings
from chalicelib.errors import AppError, ConflictError
from chalicelib.models.domain import Asset, Identity
from chalicelib.models.jobs import OPEN_STATUSES, ArtworkPreferences, Job, JobError
from chalicelib.providers.base import ProviderFailure
from chalicelib.providers.upscaling import PredictionState, Upscaler
from chalicelib.services.catalogue import not_found
from chalicelib.services.enhancement_policy import (
    MESSAGE,
    UPSCALE_SCALE,
    RunMessage,
    choose_provider,
    prediction_message,
    refusal,
    run_message,
    short_side,
    starts_automatically,
)
from chalicelib.services.enhancement_run import JobRunner
from chalicelib.services.jobs import JobDriver as JobDriver
from chalicelib.services.jobs import JobsQueue as JobsQueue
from chalicelib.services.jobs import no_drivers
from chalicelib.services.lifecycle import artwork_editable
from chalicelib.store.assets import AssetRepository
from chalicelib.store.attachments import AttachmentRepository
from chalicelib.store.catalogue import CatalogueRepository
from chalicelib.store.dynamo import utcnow
from chalicelib.store.jobs import JobRepository, StoredJob
from chalicelib.store.objects import ObjectStore
from chalicelib.store.preferences import PreferencesRepository
from chalicelib.store.queues import QueueSendError
from chalicelib.store.webhook_receipts import WebhookReceiptRepository

log = logging.getLogger(__name__)

COVER_ROLE = "cover"
#: Open jobs read per gsi3 page by the reaper, and the most it handles per run.
REAP_PAGE_SIZE = 100
REAP_MAX_PER_RUN = 1000
#: Running Replicate jobs the poller asks about per run.
POLL_MAX_PER_RUN = 100


def in_progress(job_id: str | None) -> ConflictError:
    """409 ``enhancement_in_progress``: the original has an open enhancement job (``details.job_id``)."""
    return ConflictError(
        "This cover is being enhanced already.", code="enhancement_in_progress", details={"job_id": job_id}
    )


class EnhancementService:
    """Enhancement jobs of release covers (see the module docstring). ``upscalers`` builds the providers by name;
    it is called when a job is created (to choose one) and by the worker."""

    def __init__(
        self,
        *,
        settings: Settings,
        catalogue: CatalogueRepository,
        jobs: JobRepository,
        preferences: PreferencesRepository,
        receipts: WebhookReceiptRepository,
        assets: AssetRepository,
        attachments: AttachmentRepository,
        objects: ObjectStore,
        queue: JobsQueue,
        upscalers: Callable[[], Mapping[str, Upscaler]],
        now: Callable[[], datetime] = utcnow,
        drivers: Callable[[], Mapping[str, JobDriver]] = no_drivers,
    ) -> None:
        self._settings = settings
        self._catalogue = catalogue
        self._jobs = jobs
        self._preferences = preferences
        self._receipts = receipts
        self._assets = assets
        self._attachments = attachments
        self._queue = queue
        self._upscalers = upscalers
        self._now = now
        self._drivers = drivers
        self.runner = JobRunner(
            settings=settings,
            catalogue=catalogue,
            jobs=jobs,
            assets=assets,
            objects=objects,
            upscalers=upscalers,
            now=now,
        )

    # -- the routes ---------------------------------------------------------------------------------------------------

    def request(self, identity: Identity, release_id: str) -> Job:
        """Start enhancing the caller's release cover (``POST /releases/{id}/artwork/enhance``); the queued job.

        Raises ``NotFoundError`` (404): ``release_not_found``; ``ConflictError`` (409): ``cover_not_ready`` (no ready
        cover: the release exists, its cover is what is missing), ``release_locked``, ``ai_not_allowed`` (the owner's
        preference), ``not_needed`` (short side >= ``enhance_not_needed_px``), ``enhancement_in_progress``
        (``details.job_id``); ``QueueSendError`` (503 ``queue_unavailable``) when ``job.run`` could not be sent: the
        job is then ``failed``, not left queued.
        """
        release = self._catalogue.get(release_id)
        if release is None or release.owner_id != identity.subject:
            raise not_found(release_id)
        if not artwork_editable(release.lock_status):
            raise ConflictError(
                "The artwork of a locked release cannot change.",
                code="release_locked",
                details={"lock_status": release.lock_status},
            )
        cover_id, _ = self._attachments.get(f"RELEASE#{release.id}", COVER_ROLE)
        cover = self._assets.get(cover_id) if cover_id else None
        side = short_side(cover) if cover else None
        if cover is None or side is None:
            raise ConflictError(
                "The release has no ready cover to enhance yet (none uploaded, or still processing).",
                code="cover_not_ready",
            )
        refused = refusal(side, self._preferences.get(release.owner_id), self._settings)
        if refused is not None:
            raise refused
        return self._start(cover, release.id, auto=False).public()

    def get_preferences(self, identity: Identity) -> ArtworkPreferences:
        """The caller's artwork preferences (defaults when never set)."""
        return self._preferences.get(identity.subject)

    def put_preferences(self, identity: Identity, preferences: ArtworkPreferences) -> ArtworkPreferences:
        """Replace the caller's artwork preferences; what was stored."""
        return self._preferences.put(identity.subject, preferences)

    def accept_webhook(
        self, job_id: str | None, webhook_id: str, body: bytes
    ) -> Literal["queued", "duplicate", "ignored"]:
        """A Replicate webhook whose signature the route verified: ``ignored`` (no or unknown job, a body that is
        not a prediction; logged), ``duplicate`` (its ``webhook-id`` was seen: a replay), else ``queued`` (a
        ``job.prediction`` message). Raises ``QueueSendError`` (503) when it could not be queued (the receipt is
        forgotten, so Replicate's retry is not taken for a replay)."""
        from chalicelib.providers.replicate import parse_prediction

        job = self._jobs.get(job_id) if job_id else None
        if job is None:
            log.warning("webhook %s ignored: no job %r", webhook_id, job_id)
            return "ignored"
        try:
            state = parse_prediction(json.loads(body))
        except (ValueError, ProviderFailure) as exc:
            log.warning("webhook %s ignored: not a prediction (%s)", webhook_id, type(exc).__name__)
            return "ignored"
        keep = timedelta(seconds=2 * self._settings.webhook_tolerance_s)
        if not self._receipts.record_first(webhook_id, now=self._now(), keep_for=keep):
            return "duplicate"
        try:
            self._queue_of(job).send(prediction_message(job.id, state))
        except QueueSendError:
            self._receipts.forget(webhook_id)
            raise
        return "queued"

    # -- other job kinds ----------------------------------------------------------------------------------------------

    def _driver(self, job: StoredJob) -> JobDriver | None:
        """The service of ``job``'s kind when it is not an upscale (``generate``), else None."""
        return None if job.kind == "upscale" else self._drivers().get(job.kind)

    def _queue_of(self, job: StoredJob) -> JobsQueue:
        """Where ``job``'s messages go: its kind's own queue, the jobs queue for upscales."""
        driver = self._driver(job)
        return driver.queue if driver is not None else self._queue

    def _settle(self, job: StoredJob, result: Asset) -> str:
        driver = self._driver(job)
        return driver.settle(job, result) if driver is not None else self.runner.settle(job, result)

    def _fail(self, job: StoredJob, code: str, message: str) -> str:
        driver = self._driver(job)
        return driver.fail(job, code, message) if driver is not None else self.runner.fail(job, code, message)

    def enhancement_of(self, asset: Asset) -> tuple[Job | None, Asset | None]:
        """For the artwork view of an original: its running or last enhancement job, and its ready enhanced asset."""
        job = self._jobs.get(asset.enhancement_job_id) if asset.enhancement_job_id else None
        enhanced = self._assets.get(asset.enhancement.asset_id) if asset.enhancement else None
        return (job.public() if job else None), (enhanced if enhanced and enhanced.status == "ready" else None)

    # -- starting a job -----------------------------------------------------------------------------------------------

    def _start(self, original: Asset, release_id: str, *, auto: bool) -> StoredJob:
        previous = None
        if original.enhancement_job_id:
            last = self._jobs.get(original.enhancement_job_id)
            if last is not None and last.status in OPEN_STATUSES:
                raise in_progress(last.id)
            previous = original.enhancement_job_id
        upscalers = self._upscalers()
        provider = choose_provider(self._settings, upscalers)
        upscaler = upscalers.get(provider)
        now = self._now()
        assert original.media is not None, "short_side checked it is ready"
        job = StoredJob(
            id=uuid.uuid4().hex,
            owner_id=original.owner_id,
            kind="upscale",
            provider=provider,
            model=upscaler.model if upscaler is not None else provider,
            status="queued",
            attempts=0,
            input={
                "release_id": release_id,
                "asset_id": original.id,
                "width": original.media.original.width,
                "height": original.media.original.height,
                "scale": UPSCALE_SCALE,
                "target_px": self._settings.enhance_target_px,
                "auto": auto,
            },
            created_at=now,
            deadline_at=now + timedelta(seconds=self._settings.job_queued_deadline_s),
            result_asset_id=uuid.uuid4().hex,
            updated_at=now,
        )
        if not self._jobs.create(job, original_asset_id=original.id, replaces_job_id=previous):
            current = self._assets.get(original.id)
            raise in_progress(current.enhancement_job_id if current else None)
        try:
            self._queue.send(run_message(job.id))
        except QueueSendError as exc:
            if auto:
                # Left queued: the reaper sends job.run again once the queued deadline passes.
                log.warning("job %s: job.run not sent (%s); the reaper will send it", job.id, exc.code)
                return job
            error = JobError(code=exc.code, message="The job could not be queued; try again.")
            self._jobs.fail(job, error=error, now=self._now())
            raise
        log.info("job %s queued (%s, auto=%s) for asset %s", job.id, provider, auto, original.id)
        return job

    # -- after every ingest -------------------------------------------------------------------------------------------

    def after_ingest(self, asset_id: str) -> str:
        """Called by the ingest worker after every outcome of an asset's ingest; idempotent.

        A job's result: its job ends (``succeeded``, ``failed``, ``duplicate``; ``waiting`` while not ingested).
        An uploaded cover, ready, still the release's cover, under ``auto_enhance_below_px`` with the owner's
        ``auto_enhance_low_res`` and ``allow_ai_enhancement`` on and no enhancement yet: ``started``. Otherwise a
        word for the log (``ignored``, ``not_ready``, ``not_cover``, ``has_job``, ``not_auto``). Raises only what a
        write raises (``TransientTransactionError``, AWS errors), so SQS retries the (idempotent) ingest.
        """
        asset = self._assets.get(asset_id)
        if asset is None:
            return "ignored"
        if asset.source == "ai_upscaled":
            job = self._jobs.get(asset.job_id) if asset.job_id else None
            if job is None or job.result_asset_id != asset.id:
                return "ignored"
            return self.runner.settle(job, asset)
        side = short_side(asset)
        if side is None:
            return "not_ready"
        if side >= self._settings.auto_enhance_below_px:
            return "not_auto"  # most covers: decided without reading the owner's preferences
        target, _, role = (asset.attach_to or "").rpartition("#")
        if role != COVER_ROLE or not target.startswith("RELEASE#"):
            return "not_cover"
        if asset.enhancement_job_id:
            return "has_job"
        if not starts_automatically(side, self._preferences.get(asset.owner_id), self._settings):
            return "not_auto"
        release = self._catalogue.get(target.removeprefix("RELEASE#"))
        if release is None or not artwork_editable(release.lock_status):
            return "not_auto"
        if self._attachments.get(target, COVER_ROLE)[0] != asset.id:
            return "not_cover"
        try:
            self._start(asset, release.id, auto=True)
        except ConflictError:
            return "has_job"
        return "started"

    # -- the worker, its dead letters, the reaper and the poller ----------------------------------------------------

    def handle_message(self, body: str) -> str:
        """One jobs-queue message: ``job.run`` (``JobRunner.run``) or ``job.prediction``
        (``JobRunner.complete_prediction``); their outcome, or ``malformed`` (logged, dropped). Raises a transient
        ``ProviderFailure`` or a write's error so SQS retries."""
        try:
            message = MESSAGE.validate_json(body)
        except ValidationError as exc:
            log.warning("malformed job message dropped: %s", exc.errors(include_input=False, include_url=False))
            return "malformed"
        job = self._jobs.get(message.job_id)
        driver = self._driver(job) if job is not None else None
        if driver is not None:
            return driver.handle_message(body)  # another kind's message on the jobs queue: its service runs it
        if isinstance(message, RunMessage):
            return self.runner.run(message.job_id)
        return self.runner.complete_prediction(message.job_id, message.prediction.state())

    def fail_dead_letter(self, body: str) -> bool:
        """A message that failed every retry: its job ends ``failed`` (``dead_lettered``) unless it had ended. False
        for a malformed message or an ended job; never raises on a malformed body."""
        try:
            message = MESSAGE.validate_json(body)
        except ValidationError:
            log.warning("malformed dead-lettered job message dropped")
            return False
        job = self._jobs.get(message.job_id)
        if job is None:
            return False
        message_text = "The job's message failed every retry and was given up."
        driver = self._driver(job)
        if driver is not None:
            return driver.fail(job, "dead_lettered", message_text) == "failed"
        return (
            self._jobs.fail(job, error=JobError(code="dead_lettered", message=message_text), now=self._now())
            is not None
        )

    def reap(self, now: datetime) -> int:
        """End or re-queue every open job past its deadline at ``now`` (Query pages of the sparse gsi3); how many.

        Tries are the runs started plus the re-sends of a job that never started: while they are below
        ``job_max_attempts`` the job is queued again with ``job.run`` sent, else it ends ``failed``
        (``deadline_exceeded``). Running: a result already ingested settles it; a Replicate job's prediction is asked
        once (finished: reported to the queue; else canceled), then re-queued or failed like a local one.
        """
        handled, cursor = 0, None
        while handled < REAP_MAX_PER_RUN:
            page = self._jobs.open_past_deadline(now, limit=REAP_PAGE_SIZE, cursor=cursor)
            jobs: Sequence[StoredJob] = page.items
            for job in jobs:
                handled += self._reap_one(job, now)
            cursor = page.next_cursor
            if cursor is None:
                break
        return handled

    def _reap_one(self, job: StoredJob, now: datetime) -> int:
        if job.status == "running":
            result = self._assets.get(job.result_asset_id) if job.output_claimed_at and job.result_asset_id else None
            if result is not None and result.status in ("ready", "failed"):
                return int(self._settle(job, result) != "duplicate")
            if job.provider == "replicate" and job.external_id:
                state = self.runner.prediction_of(job)
                if state is not None and state.terminal:
                    return int(self._report(job, state))
                self.runner.cancel_prediction(job)
        runs = job.attempts + job.resends
        if runs >= self._settings.job_max_attempts:
            what = "queued" if job.status == "queued" else "running"
            message = f"The job was still {what} at its deadline after {runs} tries."
            return int(self._fail(job, "deadline_exceeded", message) == "failed")
        deadline = now + timedelta(seconds=self._settings.job_queued_deadline_s)
        if self._jobs.requeue(job, now=now, deadline=deadline) is None:
            return 0
        try:
            self._queue_of(job).send(run_message(job.id))
        except AppError as exc:
            log.warning("job %s: job.run not sent again (%s); the next reaper run tries", job.id, exc.code)
        return 1

    def poll(self, now: datetime) -> int:
        """Ask Replicate about running jobs whose prediction started ``replicate_poll_after_s`` ago without a report
        (a webhook that never came); a finished one is queued as ``job.prediction``. How many were asked."""
        started_before = now - timedelta(seconds=self._settings.replicate_poll_after_s)
        asked = 0
        for job in self._jobs.running_replicate_jobs(started_before, limit=POLL_MAX_PER_RUN):
            asked += 1
            state = self.runner.prediction_of(job)
            if state is not None and state.terminal:
                self._report(job, state)
        return asked

    def _report(self, job: StoredJob, state: PredictionState) -> bool:
        """Queue a finished prediction as ``job.prediction``; False (logged) when the queue refused it: the next
        schedule run asks again."""
        try:
            self._queue_of(job).send(prediction_message(job.id, state))
        except AppError as exc:
            log.warning("job %s: the prediction's report was not queued (%s)", job.id, exc.code)
            return False
        return True
