"""Running an upscaling job: start it, complete its prediction, and hand its result to the one ingest path.

Every step is a conditional write on the job (``store/jobs.py``): a duplicate message or a late report finds the job
moved on and changes nothing. A result is claimed once (with a lease, so a worker that died does not hold it for
ever), topped up with Lanczos to ``enhance_target_px``, recorded as a pending asset (the id the job chose when it was
created) and PUT at that asset's upload key: the S3 event brings it to the same ingest worker as an upload, and
``settle`` ends the job when that ingest ends.

Nothing is left behind by a delete: a job whose release (or original asset) was deleted while it ran ends ``failed``
(``release_not_found``, ``source_missing``) before its provider is called, before its result asset is created, right
after the result is PUT, and when the result's ingest ends; a result asset created meanwhile is discarded (record and
every object under its prefixes). The release cleanup ends the release's open jobs too (``services/cleanup.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from pynamodb.exceptions import PutError

from chalicelib.config import Settings
from chalicelib.errors import ImageRejectedError, NotFoundError
from chalicelib.models.domain import Asset, AssetEnhancement
from chalicelib.models.jobs import MODEL_REAL_ESRGAN_X4PLUS, JobError
from chalicelib.providers.base import ProviderFailure
from chalicelib.providers.upscaling import (
    PredictionClient,
    PredictionStarted,
    PredictionState,
    UpscaledImage,
    UpscaleFailedError,
    Upscaler,
    UpscaleRequest,
)
from chalicelib.services.enhancement_policy import UPSCALE_SCALE, result_label, webhook_url
from chalicelib.services.jobs import cancel_prediction
from chalicelib.services.storage_keys import asset_prefixes, upload_key
from chalicelib.store.assets import AssetRepository
from chalicelib.store.catalogue import CatalogueRepository
from chalicelib.store.dynamo import is_condition_failure
from chalicelib.store.jobs import JobRepository, StoredJob
from chalicelib.store.objects import ObjectStore

log = logging.getLogger(__name__)

#: How long a claim of a job's output holds before another report may take it over (the claimer died).
OUTPUT_CLAIM_LEASE = timedelta(minutes=10)
#: Lifetime of the presigned GET a remote provider reads the original from (s).
SOURCE_URL_TTL_S = 3600
#: The error of a job whose release was deleted while it was queued or running.
RELEASE_DELETED = ("release_not_found", "The release was deleted while the job ran; its result was not kept.")


class JobRunner:
    """The worker's steps of an upscaling job (``EnhancementService`` routes messages, the reaper and the poller
    here). ``upscalers`` builds the providers by name (``replicate``, ``local``, ``lanczos``)."""

    def __init__(
        self,
        *,
        settings: Settings,
        catalogue: CatalogueRepository,
        jobs: JobRepository,
        assets: AssetRepository,
        objects: ObjectStore,
        upscalers: Callable[[], Mapping[str, Upscaler]],
        now: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._catalogue = catalogue
        self._jobs = jobs
        self._assets = assets
        self._objects = objects
        self._upscalers = upscalers
        self._now = now

    # -- ending a job -------------------------------------------------------------------------------------------------

    def fail(self, job: StoredJob, code: str, message: str) -> str:
        """End the job ``failed`` with ``{code, message}``; ``failed``, or ``duplicate`` when it had ended already."""
        log.info("job %s failed: %s (%s)", job.id, code, message)
        ended = self._jobs.fail(job, error=JobError(code=code, message=message), now=self._now())
        return "failed" if ended is not None else "duplicate"

    def settle(self, job: StoredJob, result: Asset) -> str:
        """End the job by its result asset's ingest: ``ready`` → ``succeeded`` and the original's ``enhancement``
        set (one transaction, only while the job runs); ``failed`` → the job ``failed`` (``result_rejected`` with the
        ingest's reason); otherwise ``waiting``. ``duplicate`` when the job had ended (canceled: nothing linked).

        When the release or the original asset is gone, whatever the job's status, the result is discarded (its
        record and objects) and the job ends ``failed`` (``release_not_found`` or ``source_missing``)."""
        gone = self._gone(job)
        if gone is not None:
            return self._discard(job, *gone)
        if result.status == "failed":
            reason = f"{result.error.code}: {result.error.message}" if result.error else "the ingest refused it"
            return self.fail(job, "result_rejected", f"The enhanced image was refused by ingest ({reason}).")
        if result.status != "ready":
            return "waiting"
        enhancement = AssetEnhancement(
            asset_id=result.id,
            model=job.result_model or result_label(MODEL_REAL_ESRGAN_X4PLUS, provider=job.provider, resampled=False),
            ai=job.result_ai if job.result_ai is not None else job.provider != "lanczos",
            enhanced_at=self._now(),
            job_id=job.id,
        )
        outcome = self._jobs.succeed(job, enhancement=enhancement, original_asset_id=str(job.input.get("asset_id")))
        if outcome == "original_missing":
            # Deleted between the check above and the transaction.
            code, message = self._gone(job) or ("source_missing", "The original image is gone.")
            return self._discard(job, code, message)
        return "succeeded" if outcome == "succeeded" else "duplicate"

    # -- job.run ------------------------------------------------------------------------------------------------------

    def run(self, job_id: str) -> str:
        """Run a queued job: ``queued → running`` (conditional), then its provider. ``started`` (a remote prediction
        will report later), ``ingesting`` (the result was handed to ingest), ``failed``, ``duplicate`` (the job was
        not queued: another copy of the message ran it), ``gone``. Raises the provider's transient ``ProviderFailure``
        after putting the job back to ``queued``, so SQS delivers the message again."""
        job = self._jobs.get(job_id)
        if job is None:
            return "gone"
        if job.status != "queued":
            return "duplicate"
        now = self._now()
        running = self._jobs.start(
            job, now=now, deadline=now + timedelta(seconds=self._settings.job_running_deadline_s)
        )
        if running is None:
            return "duplicate"
        source = self._source(running)
        if isinstance(source, str):
            return source
        original, data = source
        upscaler = self._upscalers().get(running.provider)
        reason = "unknown provider" if upscaler is None else upscaler.unavailable_reason()
        if upscaler is None or reason is not None:
            return self.fail(running, "upscaler_unavailable", f"The {running.provider} upscaler is off: {reason}.")
        request = UpscaleRequest(
            job_id=running.id,
            image=data,
            image_url=self._objects.presign_get(original.media.original.key, expires_in=SOURCE_URL_TTL_S)
            if original.media
            else "",
            width=int(running.input.get("width", 0)),
            height=int(running.input.get("height", 0)),
            scale=int(running.input.get("scale", UPSCALE_SCALE)),
            webhook_url=webhook_url(self._settings, running.id) if running.provider == "replicate" else None,
        )
        try:
            result = upscaler.start(request)
        except ProviderFailure as exc:
            return self._provider_failed(running, exc)
        if isinstance(result, PredictionStarted):
            if self._jobs.set_external(running, external_id=result.external_id, model=result.model, now=self._now()):
                return "started"
            # Canceled (or ended) while the prediction was being created: stop it too.
            self.cancel_prediction(running.model_copy(update={"external_id": result.external_id}))
            return "duplicate"
        if not self._jobs.claim_output(running, now=self._now(), lease=OUTPUT_CLAIM_LEASE):
            return "duplicate"
        return self.finish(running, result)

    def _source(self, job: StoredJob) -> tuple[Asset, bytes] | str:
        """The original asset and its stored bytes, or the outcome of failing the job ``release_not_found`` (its
        release was deleted) or ``source_missing``."""
        if self._release_deleted(job):
            return self._discard(job, *RELEASE_DELETED)  # a re-run may find an earlier run's result
        asset_id = job.input.get("asset_id")
        original = self._assets.get(str(asset_id)) if asset_id else None
        if original is None or original.status != "ready" or original.media is None:
            return self.fail(job, "source_missing", "The original image is gone or not ready.")
        try:
            return original, self._objects.get_bytes(original.media.original.key)
        except NotFoundError:
            return self.fail(job, "source_missing", "The original image's file is gone.")

    def _provider_failed(self, job: StoredJob, exc: ProviderFailure) -> str:
        if exc.transient and job.attempts + job.resends < self._settings.job_max_attempts:
            now = self._now()
            deadline = now + timedelta(seconds=self._settings.job_queued_deadline_s)
            self._jobs.requeue(job, now=now, deadline=deadline)
            log.warning("job %s: %s failed for a passing reason (%s); retried", job.id, job.provider, exc.code)
            raise exc
        code = exc.code if isinstance(exc, UpscaleFailedError) else "provider_failed"
        return self.fail(job, code, f"{job.provider}: {exc.message}")

    # -- job.prediction -----------------------------------------------------------------------------------------------

    def complete_prediction(self, job_id: str, state: PredictionState) -> str:
        """A prediction reported by the webhook or the poller. ``pending`` (not finished), ``ignored`` (not this
        job's current prediction), ``duplicate`` (the output was claimed by another report, or the job ended),
        ``failed`` (the prediction failed or was canceled: ``provider_failed``; its output refused:
        ``output_too_large``, ``output_url_refused``, ``output_not_image``), ``ingesting``. Raises a transient
        ``ProviderFailure`` of the download (the claim given back first) so SQS retries."""
        job = self._jobs.get(job_id)
        if job is None:
            return "gone"
        if job.status != "running":
            return "duplicate"
        if job.provider != "replicate" or job.external_id != state.external_id:
            log.info("job %s: ignoring a report of prediction %s", job.id, state.external_id)
            return "ignored"
        if not state.terminal:
            return "pending"
        if state.status != "succeeded":
            return self.fail(job, "provider_failed", state.error or f"The prediction ended {state.status}.")
        if not self._jobs.claim_output(job, now=self._now(), lease=OUTPUT_CLAIM_LEASE, external_id=state.external_id):
            return "duplicate"
        if not state.output_urls:
            return self.fail(job, "provider_failed", "The prediction succeeded without an output file.")
        client = cast(PredictionClient, self._upscalers()["replicate"])
        try:
            data = client.download_output(state.output_urls[0])
        except ProviderFailure as exc:
            if exc.transient:
                self._jobs.release_output(job, now=self._now())
                raise
            code = exc.code if isinstance(exc, UpscaleFailedError) else "provider_failed"
            return self.fail(job, code, exc.message)
        return self.finish(job, UpscaledImage(data=data, width=0, height=0, model=MODEL_REAL_ESRGAN_X4PLUS, ai=True))

    # -- the result ---------------------------------------------------------------------------------------------------

    def finish(self, job: StoredJob, image: UpscaledImage) -> str:
        """Hand a claimed output to ingest: check it is an image (``output_not_image``), top it up with Lanczos to
        the job's ``target_px``, refuse it above ``upload_max_bytes`` (``output_too_large``), record its label, create
        the result asset and PUT the bytes at its upload key. ``ingesting``; ``settle``'s outcome when the result
        asset had already been ingested (a retry)."""
        from chalicelib.imaging.decode import DECODE_ERRORS
        from chalicelib.imaging.sniff import sniff_format
        from chalicelib.imaging.upscale import top_up

        if sniff_format(image.data) is None:
            return self.fail(job, "output_not_image", "The upscaler's output is not a JPEG, PNG or WebP image.")
        target = int(job.input.get("target_px") or self._settings.enhance_target_px)
        try:
            data, _width, _height, resampled = top_up(
                image.data, target_px=target, max_pixels=self._settings.max_pixels
            )
        except ImageRejectedError as exc:
            return self.fail(job, "output_not_image", f"The upscaler's output was refused: {exc.message}")
        except DECODE_ERRORS as exc:
            return self.fail(job, "output_not_image", f"The upscaler's output does not decode ({type(exc).__name__}).")
        if len(data) > self._settings.upload_max_bytes:
            return self.fail(
                job,
                "output_too_large",
                f"The enhanced image holds {len(data)} bytes; at most {self._settings.upload_max_bytes} are ingested.",
            )
        gone = self._gone(job)
        if gone is not None:
            return self._discard(job, *gone)  # before this run writes a result (an earlier run's goes)
        label = result_label(image.model, provider=job.provider, resampled=resampled)
        if not self._jobs.note_output(job, model=label, ai=image.ai and job.provider != "lanczos", now=self._now()):
            return "duplicate"
        content_type = f"image/{sniff_format(data) or 'png'}"
        result = self._result_asset(job, data, content_type)
        if result.status in ("ready", "failed"):
            return self.settle(job, result)
        if result.status == "pending":
            self._objects.put_bytes(result.upload_key, data, content_type=content_type)
            # The release may have been deleted (and cleaned up, this record with it) since the check above: the
            # cleanup started after the release went, so a check after the PUT sees it and nothing stays behind.
            gone = self._gone(job)
            if gone is not None:
                return self._discard(job, *gone)
        return "ingesting"

    def _release_deleted(self, job: StoredJob) -> bool:
        """Whether the release the job's input names no longer exists (a job without one has none to lose)."""
        release_id = job.input.get("release_id")
        return bool(release_id) and self._catalogue.get(str(release_id)) is None

    def _gone(self, job: StoredJob) -> tuple[str, str] | None:
        """Why the job's result has nowhere to go: ``(code, message)`` when its release was deleted
        (``release_not_found``) or its original asset is gone (``source_missing``); None while both exist."""
        if self._release_deleted(job):
            return RELEASE_DELETED
        asset_id = job.input.get("asset_id")
        if asset_id and self._assets.get(str(asset_id)) is None:
            return "source_missing", "The original image was deleted while the job ran."
        return None

    def _discard(self, job: StoredJob, code: str, message: str) -> str:
        """Delete the job's result asset if there is one (every object under its prefixes, then its record) and end
        the job ``failed`` with ``code``; ``fail``'s outcome. Bytes, record, bytes again: an ingest run that wrote
        after the first pass cannot finish without the record (its claim fails and it deletes its own run's
        objects), and the second pass removes what it wrote before the record went."""
        if job.result_asset_id is None:
            return self.fail(job, code, message)
        asset_id = job.result_asset_id
        prefixes = asset_prefixes(job.owner_id, asset_id)
        deleted = self._objects.delete_prefixes(prefixes)
        self._assets.delete(asset_id)
        deleted += self._objects.delete_prefixes(prefixes)
        log.info("job %s: result %s discarded (%s), %d objects deleted", job.id, asset_id, code, len(deleted))
        return self.fail(job, code, message)

    def _result_asset(self, job: StoredJob, data: bytes, content_type: str) -> Asset:
        """The job's result asset, created ``pending`` (or as an earlier run of the same job created it)."""
        asset_id = str(job.result_asset_id)
        fmt_bytes = max(len(data), 1)
        try:
            return self._assets.create_pending(
                asset_id=asset_id,
                owner_id=job.owner_id,
                upload_key=upload_key(job.owner_id, asset_id),
                declared_content_type=content_type,
                declared_bytes=fmt_bytes,
                max_bytes=max(self._settings.upload_max_bytes, fmt_bytes),
                filename=None,
                attach_to=None,
                filed_under=f"RELEASE#{job.input.get('release_id')}",
                source="ai_upscaled",
                original_asset_id=str(job.input.get("asset_id")),
                job_id=job.id,
            )
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
        existing = self._assets.get(asset_id)
        assert existing is not None, "the put failed because the asset exists"
        return existing

    # -- the reaper's and the poller's questions ------------------------------------------------------------------

    def prediction_of(self, job: StoredJob) -> PredictionState | None:
        """The job's prediction as Replicate reports it now, None when it cannot be asked (logged)."""
        client: Any = self._upscalers().get("replicate")
        if client is None or job.external_id is None:
            return None
        try:
            return cast(PredictionState, client.get_prediction(job.external_id))
        except ProviderFailure as exc:
            log.warning("job %s: prediction %s could not be read: %s", job.id, job.external_id, exc.code)
            return None

    def cancel_prediction(self, job: StoredJob) -> None:
        """Ask Replicate to stop the job's prediction, best effort (``services.jobs.cancel_prediction``)."""
        cancel_prediction(self._upscalers(), job)
